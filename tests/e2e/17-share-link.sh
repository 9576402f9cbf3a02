#!/usr/bin/env bash
# evproxy link (README "Share links"): links printed for a tcp inbound and a ws + tls inbound
# are parsed (tests/tools/share_link_client.py, as a client app imports them) into V2Ray 4.34
# client configs, and each client carries E2E_LINK_BYTES (1 MiB) each way, sha256 checked,
# to the evproxy server the links came from:
#   a: tcp, v2rayN form            b: tcp, URI form    a2: tcp, v2rayN form, alterId 4 user
#   c: ws + tls, v2rayN form       d: ws + tls, URI form (the client trusts the certificate)
#   e: --png decodes (zbarimg) to the very link printed; so does --qr's text, drawn to an image
#   f: --format uri refuses a user with alterId > 0, naming why, and prints the others
#   g: a listen address of 0.0.0.0 is warned about (the link carries it); --address replaces it
#   h: a PNG that cannot be written (to /dev/full, through a symlink) is an error naming the
#      file, and what is not a regular file is not removed (the symlink is still there)
#   i: --inbound naming a socks inbound (no share links) or no inbound at all is an error
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
[ "$EVP_IMPL" = evproxy ] || { echo "| needs evproxy link: skipped"; exit 0; }
for p in ws tls vmess; do
    [ -f "$EVP_BUILD/plugins/$p.so" ] || fail "$EVP_BUILD/plugins/$p.so not built"
done
command -v zbarimg >/dev/null || fail "zbarimg is not installed (contrib/install-deps.sh test)"
SIZE=${E2E_LINK_BYTES:-1M}
UUID_LEGACY=9a1c1f3e-54d2-4b8e-8d7b-0c6b51a0e2f4

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=example.com -addext subjectAltName=DNS:example.com \
    -keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" >"$E2E_TMP/openssl.log" 2>&1 ||
    fail "openssl could not make a certificate"

read -r P_TCP P_WS S_A S_A2 S_B S_C S_D < <(ports 7 | tr '\n' ' ')
# server_cfg FILE LISTEN: the two inbounds, one AEAD user each plus a legacy one on tcp.
server_cfg() {
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "inbounds": [
    {"tag": "tcp-in", "listen": "$2", "port": $P_TCP, "protocol": "vmess",
     "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0, "email": "ana@example.org"},
                              {"id": "$UUID_LEGACY", "alterId": 4, "email": "old@example.org"}]}},
    {"tag": "ws-tls-in", "listen": "$2", "port": $P_WS, "protocol": "vmess",
     "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0, "email": "ben@example.org"}]},
     "streamSettings": {"network": "ws",
       "wsSettings": {"path": "/share?ed=0", "headers": {"Host": "example.com"}},
       "security": "tls",
       "tlsSettings": {"serverName": "example.com", "certificates": [
         {"certificateFile": "$E2E_TMP/cert.pem", "keyFile": "$E2E_TMP/key.pem"}]}}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF2
}
server_cfg "$E2E_TMP/server.json" 127.0.0.1
start_evproxy server "$E2E_TMP/server.json" "$P_TCP" "$P_WS"
SRV_PID=$LAST_PID

# link NAME ARGS...: `evproxy link -c server.json ARGS`, stdout in NAME.out, stderr in
# NAME.err; its exit status.
link() {
    local name=$1
    shift
    timeout -k 5 60 "$EVP_BIN" link -c "$E2E_TMP/server.json" "$@" >"$E2E_TMP/$name.out" \
        2>"$E2E_TMP/$name.err"
}

# through LETTER SOCKS WHAT LINK: a V2Ray client made from LINK carries SIZE each way.
through() {
    local cfg=$E2E_TMP/$1.client.json out=$E2E_TMP/$1.result.json
    if ! "$PY" "$TOOLS/share_link_client.py" "$4" --socks "$2" --ca "$E2E_TMP/cert.pem" \
        >"$cfg" 2>"$E2E_TMP/$1.parse.err"; then
        soft_fail "$1: $3: the link does not parse: $(cat "$E2E_TMP/$1.parse.err")"
        return
    fi
    start_v2ray "$1.client" "$cfg" "$2"
    if socks_stream "$2" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 17 >"$out" 2>&1; then
        pass "$1: $3: a V2Ray 4.34 client from the link carried $SIZE each way, sha256 match"
    else
        soft_fail "$1: $3: $(why_of "$out")"
    fi
    stop_pid "$LAST_PID"
}

# one_link NAME ARGS...: the single link `evproxy link ARGS` prints, or a failure.
one_link() {
    local name=$1
    shift
    if ! link "$name" "$@" || [ "$(grep -c '^vmess://' "$E2E_TMP/$name.out")" != 1 ]; then
        soft_fail "$name: evproxy link $* did not print one link: $(head -c 300 \
            "$E2E_TMP/$name.err")"
        return 1
    fi
    grep '^vmess://' "$E2E_TMP/$name.out"
}

LINK_A=$(one_link a --inbound tcp-in --user ana@example.org) &&
    through a "$S_A" "tcp inbound, v2rayN link" "$LINK_A"
LINK_A2=$(one_link a2 --inbound tcp-in --user old@example.org) &&
    through a2 "$S_A2" "tcp inbound, v2rayN link of an alterId 4 user" "$LINK_A2"
LINK_B=$(one_link b --inbound tcp-in --user ana@example.org --format uri) &&
    through b "$S_B" "tcp inbound, URI link $LINK_B" "$LINK_B"
LINK_C=$(one_link c --inbound ws-tls-in) &&
    through c "$S_C" "ws + tls inbound, v2rayN link" "$LINK_C"
LINK_D=$(one_link d --inbound ws-tls-in --format uri) &&
    through d "$S_D" "ws + tls inbound, URI link $LINK_D" "$LINK_D"
case ${LINK_D:-} in
*'type=ws'*'security=tls'*'path=%2Fshare%3Fed%3D0'*'host=example.com'*'sni=example.com'*)
    pass "d: the URI names ws, tls, the path (escaped), the Host and the SNI" ;;
*) soft_fail "d: the URI lacks a transport field: ${LINK_D:-none}" ;;
esac

# e: the PNG and the terminal's QR code hold the link printed beside them.
zbar() { zbarimg -q --raw "$1" 2>/dev/null | tr -d '\n'; }
if LINK_E=$(one_link e --user ben@example.org --png "$E2E_TMP/ben.png" --qr); then
    got=$(zbar "$E2E_TMP/ben.png")
    if [ -n "$got" ] && [ "$got" = "$LINK_E" ]; then
        pass "e: zbarimg reads the PNG as the link printed"
    else
        soft_fail "e: the PNG reads as \"$got\", the link is $LINK_E"
    fi
    "$PY" "$TOOLS/qr_text_to_pgm.py" <"$E2E_TMP/e.out" >"$E2E_TMP/qr.pgm" ||
        soft_fail "e: no QR code in the --qr output"
    got=$(zbar "$E2E_TMP/qr.pgm")
    if [ -n "$got" ] && [ "$got" = "$LINK_E" ]; then
        pass "e: --qr's UTF-8 code, drawn to an image, reads as the link printed"
    else
        soft_fail "e: --qr's code reads as \"$got\", the link is $LINK_E"
    fi
fi

# f: the URI form is AEAD only.
if link f --inbound tcp-in --format uri; then
    soft_fail "f: --format uri with an alterId 4 user exited 0"
elif grep -q 'user 2: alterId 4: the URI form carries VMess AEAD users only' "$E2E_TMP/f.err" &&
    [ "$(grep -c '^vmess://' "$E2E_TMP/f.out")" = 1 ] &&
    ! grep -q "$UUID_LEGACY" "$E2E_TMP/f.out"; then
    pass "f: alterId 4 refused in the URI form ($(grep -m1 alterId "$E2E_TMP/f.err" |
        cut -c1-100)...), the AEAD user's link printed"
else
    soft_fail "f: $(cat "$E2E_TMP/f.err") / $(cat "$E2E_TMP/f.out")"
fi

# g: 0.0.0.0 is no address to dial (the config is only read here, never run).
server_cfg "$E2E_TMP/any.json" 0.0.0.0
"$EVP_BIN" link -c "$E2E_TMP/any.json" --inbound tcp-in --user ana@example.org \
    >"$E2E_TMP/g.out" 2>"$E2E_TMP/g.err"
if grep -q 'warning: inbound "tcp-in" listens on 0.0.0.0' "$E2E_TMP/g.err"; then
    pass "g: listen 0.0.0.0 is warned about: $(cut -c1-120 "$E2E_TMP/g.err")"
else
    soft_fail "g: no warning about 0.0.0.0: $(cat "$E2E_TMP/g.err")"
fi
"$EVP_BIN" link -c "$E2E_TMP/any.json" --inbound tcp-in --user ana@example.org \
    --address proxy.example.net --format uri >"$E2E_TMP/g2.out" 2>"$E2E_TMP/g2.err"
if ! grep -q warning "$E2E_TMP/g2.err" && grep -q "^vmess://$UUID_GOOD@proxy.example.net:$P_TCP?" \
    "$E2E_TMP/g2.out"; then
    pass "g: --address proxy.example.net is in the link, with no warning"
else
    soft_fail "g: --address: $(cat "$E2E_TMP/g2.out" "$E2E_TMP/g2.err")"
fi

# h: a write error (ENOSPC from /dev/full) and no unlink of what the path names.
ln -s /dev/full "$E2E_TMP/full.png"
if link h --user ana@example.org --png "$E2E_TMP/full.png"; then
    soft_fail "h: a PNG written to /dev/full exited 0"
elif grep -q "full.png: the PNG could not be written" "$E2E_TMP/h.err" &&
    [ -L "$E2E_TMP/full.png" ] && [ -c /dev/full ]; then
    pass "h: $(grep -m1 'could not' "$E2E_TMP/h.err" | sed "s|$E2E_TMP/||"), the path kept"
else
    soft_fail "h: $(cat "$E2E_TMP/h.err"); symlink kept: $([ -L "$E2E_TMP/full.png" ] &&
        echo yes || echo no)"
fi

# i: refusals that name the inbound.
cat >"$E2E_TMP/socks.json" <<EOF2
{"inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $P_TCP, "protocol": "socks",
               "settings": {"auth": "noauth"}}],
 "outbounds": [{"protocol": "freedom"}]}
EOF2
for args in "socks-in|makes no share links" "nope|no inbound is tagged \"nope\""; do
    if "$EVP_BIN" link -c "$E2E_TMP/socks.json" --inbound "${args%%|*}" >"$E2E_TMP/i.out" \
        2>"$E2E_TMP/i.err"; then
        soft_fail "i: --inbound ${args%%|*} exited 0"
    elif grep -q "${args#*|}" "$E2E_TMP/i.err" && [ ! -s "$E2E_TMP/i.out" ]; then
        pass "i: --inbound ${args%%|*}: $(grep -m1 . "$E2E_TMP/i.err")"
    else
        soft_fail "i: --inbound ${args%%|*}: $(cat "$E2E_TMP/i.err" "$E2E_TMP/i.out")"
    fi
done

alive "$SRV_PID" || fail "the evproxy server died: $(death_note "$SRV_PID")"
finish
