#!/usr/bin/env bash
# Inbound sniffing (issue 14), evproxy and V2Ray 4.34 on the same config, each asked the same
# things. A socks inbound with sniffing (http, tls), one without, and a vmess inbound with
# sniffing (destOverride as V2Ray's comma string); routing: domain:example.test -> "hit" (a
# freedom redirected to a local echo server), port BANNER -> "direct", anything else -> the
# first outbound, a blackhole. Every probe names an IP target (127.0.0.9:9), so only a
# sniffed domain can reach "hit":
#   - HTTP with Host: example.test (and EXAMPLE.test:8080) echoes; Host: other.test is closed;
#     three of V2Ray's quirks give V2Ray's answers;
#   - real ClientHellos (openssl s_client -servername, gnutls-cli --sni-hostname, captured
#     and replayed) with SNI example.test echo; SNI other.test or none are closed;
#   - the same through the inbound without sniffing: closed;
#   - a target that speaks first (64 bytes, then close) and gets nothing from the client
#     still answers: the sniff gives up after its two reads;
#   - through V2Ray 4.34 VMess clients (one plain, one Mux.Cool) to the vmess inbound: the
#     same decisions (a decoded first payload; Mux sub-streams are sniffed too).
# V2Ray's lines must equal evproxy's, case by case.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool hit echo_server.py
HIT=$TOOL_PORT
start_tool banner send_close_server.py --bytes 64
BANNER=$TOOL_PORT
read -r ES EN EV VS VN VV CE CEM CV CVM CAP < <(ports 11 | tr '\n' ' ')

# The payloads: HTTP requests and captured ClientHellos.
P=$E2E_TMP/payload
mkdir -p "$P"
printf 'GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: e2e\r\n\r\n' >"$P/http"
printf 'POST /x HTTP/1.1\r\nhost: EXAMPLE.test:8080\r\nContent-Length: 0\r\n\r\n' >"$P/http_port"
printf 'GET / HTTP/1.1\r\nHost: other.test\r\n\r\n' >"$P/http_other"
# V2Ray's reading, quirks included: a port in Go's base-0 syntax; lines split at '\n' only,
# so a "Host:" after the CRLF blank line still counts; a port that does not parse fails it.
printf 'GET / HTTP/1.1\r\nHost: example.test:0x50\r\n\r\n' >"$P/http_hexport"
printf 'GET / HTTP/1.1\r\n\r\nHost: example.test\r\n' >"$P/http_bodyline"
printf 'GET / HTTP/1.1\r\nHost: example.test:http\r\n\r\n' >"$P/http_badport"
: >"$P/none"
# capture NAME CLIENT...: the first TLS record CLIENT sends to a capture port, as P/NAME.
capture() {
    local name=$1
    shift
    rm -f "$E2E_TMP/cap.ready"
    start_bg "cap-$name" "$PY" "$TOOLS/sniff_probe.py" capture --ready-file "$E2E_TMP/cap.ready" \
        --out "$P/$name"
    wait_file "$E2E_TMP/cap.ready" 10 || fail "capture server did not start"
    local port
    port=$(cat "$E2E_TMP/cap.ready")
    # shellcheck disable=SC2001 # the port goes into the client's arguments
    timeout 10 "$@" "$port" </dev/null >"$E2E_TMP/cap-$name.client.log" 2>&1
    wait_file "$P/$name" 10 || fail "no ClientHello captured from $1"
}
capture tls_openssl sh -c 'exec openssl s_client -connect 127.0.0.1:$0 -servername example.test'
capture tls_gnutls sh -c 'exec gnutls-cli --insecure --sni-hostname example.test -p $0 127.0.0.1'
capture tls_other sh -c 'exec openssl s_client -connect 127.0.0.1:$0 -servername other.test'
capture tls_nosni sh -c 'exec openssl s_client -connect 127.0.0.1:$0 -noservername'
grep -q example.test "$P/tls_openssl" && grep -q example.test "$P/tls_gnutls" ||
    fail "the captured ClientHellos do not name example.test"

# server.json PORT_SNIFF PORT_PLAIN PORT_VMESS
server_cfg() {
    "$PY" - "$@" "$HIT" "$BANNER" "$UUID_GOOD" <<'PYEOF'
import json, sys
out, sniff, plain, vmess, hit, banner, uuid = sys.argv[1:]
sniffing = {"enabled": True, "destOverride": ["http", "tls"]}
cfg = {
    "log": {"loglevel": "info"},
    "inbounds": [
        {"tag": "sniff", "listen": "127.0.0.1", "port": int(sniff), "protocol": "socks",
         "settings": {"auth": "noauth"}, "sniffing": sniffing},
        {"tag": "plain", "listen": "127.0.0.1", "port": int(plain), "protocol": "socks",
         "settings": {"auth": "noauth"}},
        {"tag": "vmess", "listen": "127.0.0.1", "port": int(vmess), "protocol": "vmess",
         "settings": {"clients": [{"id": uuid, "alterId": 0}]},
         "sniffing": {"enabled": True, "destOverride": "http,tls"}},
    ],
    "outbounds": [
        {"tag": "block", "protocol": "blackhole"},
        {"tag": "hit", "protocol": "freedom", "settings": {"redirect": "127.0.0.1:" + hit}},
        {"tag": "direct", "protocol": "freedom"},
    ],
    "routing": {"rules": [
        {"type": "field", "domain": ["domain:example.test"], "outboundTag": "hit"},
        {"type": "field", "port": banner, "outboundTag": "direct"},
    ]},
}
json.dump(cfg, open(out, "w"), indent=2)
PYEOF
}
server_cfg "$E2E_TMP/evp.json" "$ES" "$EN" "$EV"
server_cfg "$E2E_TMP/v2.json" "$VS" "$VN" "$VV"
# mux_client FILE SOCKS SERVER: a V2Ray VMess client with Mux.Cool on.
mux_client() {
    cfg_vmess_client "$1" "$2" "$3" "$UUID_GOOD" 0 aes-128-gcm
    "$PY" - "$1" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["outbounds"][0]["mux"] = {"enabled": True, "concurrency": 4}
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PYEOF
}
cfg_vmess_client "$E2E_TMP/ce.json" "$CE" "$EV" "$UUID_GOOD" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/cv.json" "$CV" "$VV" "$UUID_GOOD" 0 aes-128-gcm
mux_client "$E2E_TMP/cem.json" "$CEM" "$EV"
mux_client "$E2E_TMP/cvm.json" "$CVM" "$VV"

start_evproxy evproxy "$E2E_TMP/evp.json" "$ES" "$EN" "$EV"
start_v2ray v2ray "$E2E_TMP/v2.json" "$VS" "$VN" "$VV"
start_v2ray ce "$E2E_TMP/ce.json" "$CE"
start_v2ray cv "$E2E_TMP/cv.json" "$CV"
start_v2ray cem "$E2E_TMP/cem.json" "$CEM"
start_v2ray cvm "$E2E_TMP/cvm.json" "$CVM"

CASES=(http="$P/http" http_port="$P/http_port" http_other="$P/http_other"
    http_hexport="$P/http_hexport" http_bodyline="$P/http_bodyline"
    http_badport="$P/http_badport"
    tls_openssl="$P/tls_openssl" tls_gnutls="$P/tls_gnutls" tls_other="$P/tls_other"
    tls_nosni="$P/tls_nosni")
# probe_all SNIFF PLAIN VMESS_CLIENT MUX_CLIENT: one line per case and way in.
probe_all() {
    local sniff=$1 plain=$2 viavmess=$3 viamux=$4 c
    "$PY" "$TOOLS/sniff_probe.py" probe --socks "127.0.0.1:$sniff" --target 127.0.0.9:9 \
        "${CASES[@]}" | sed 's/^/socks /'
    "$PY" "$TOOLS/sniff_probe.py" probe --socks "127.0.0.1:$sniff" --target "127.0.0.1:$BANNER" \
        speaks_first="$P/none" | sed 's/^/socks /'
    "$PY" "$TOOLS/sniff_probe.py" probe --socks "127.0.0.1:$plain" --target 127.0.0.9:9 \
        http="$P/http" tls_openssl="$P/tls_openssl" | sed 's/^/nosniff /'
    for c in vmess:"$viavmess" mux:"$viamux"; do
        "$PY" "$TOOLS/sniff_probe.py" probe --socks "127.0.0.1:${c#*:}" --target 127.0.0.9:9 \
            http="$P/http" http_other="$P/http_other" tls_openssl="$P/tls_openssl" \
            tls_nosni="$P/tls_nosni" | sed "s/^/${c%%:*} /"
        "$PY" "$TOOLS/sniff_probe.py" probe --socks "127.0.0.1:${c#*:}" \
            --target "127.0.0.1:$BANNER" speaks_first="$P/none" | sed "s/^/${c%%:*} /"
    done
}
probe_all "$ES" "$EN" "$CE" "$CEM" >"$E2E_TMP/evproxy.out" 2>&1
probe_all "$VS" "$VN" "$CV" "$CVM" >"$E2E_TMP/v2ray.out" 2>&1

cat >"$E2E_TMP/expected" <<EOF
socks http echo
socks http_port echo
socks http_other closed
socks http_hexport echo
socks http_bodyline echo
socks http_badport closed
socks tls_openssl echo
socks tls_gnutls echo
socks tls_other closed
socks tls_nosni closed
socks speaks_first got:64
nosniff http closed
nosniff tls_openssl closed
vmess http echo
vmess http_other closed
vmess tls_openssl echo
vmess tls_nosni closed
vmess speaks_first got:64
mux http echo
mux http_other closed
mux tls_openssl echo
mux tls_nosni closed
mux speaks_first got:64
EOF
if ! diff -u "$E2E_TMP/expected" "$E2E_TMP/evproxy.out" >"$E2E_TMP/evproxy.diff"; then
    sed 's/^/  | /' "$E2E_TMP/evproxy.diff"
    show_log evproxy 12
    fail "evproxy's sniffing decisions differ from the expected ones"
fi
pass "evproxy: $(wc -l <"$E2E_TMP/expected") decisions as expected (Host, SNI, none, speaks first, vmess, mux)"
if ! diff -u "$E2E_TMP/evproxy.out" "$E2E_TMP/v2ray.out" >"$E2E_TMP/v2ray.diff"; then
    sed 's/^/  | /' "$E2E_TMP/v2ray.diff"
    fail "V2Ray 4.34 decided otherwise on the same config"
fi
pass "V2Ray 4.34 makes the same decisions"

# The log names the sniffed domain; the access log keeps the target the client named.
grep -q 'tcp:127.0.0.9:9 sniffed http1: routed and dialled as tcp:example.test:9' \
    "$E2E_TMP/evproxy.log" || { show_log evproxy 12; fail "no 'sniffed http1' line"; }
grep -q 'tcp:127.0.0.9:9 sniffed tls: routed and dialled as tcp:example.test:9' \
    "$E2E_TMP/evproxy.log" || { show_log evproxy 12; fail "no 'sniffed tls' line"; }
pass "the log names the sniffed protocol and domain"
finish
