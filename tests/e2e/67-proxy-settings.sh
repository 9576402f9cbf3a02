#!/usr/bin/env bash
# Outbound proxySettings (issue 14): a vmess outbound whose server is reached through another
# outbound, never directly. The chain, all on loopback:
#   client socks -> vmess outbound (proxySettings.tag "hop") -> shadowsocks outbound "hop"
#   -> middle: evproxy shadowsocks inbound (its access log counts the connections) -> freedom
#   -> vmess server (V2Ray 4.34) -> freedom -> echo / UDP responder
# (evproxy has no socks outbound: the upstream hop is shadowsocks, which V2Ray 4.34 and evproxy
# both speak.) With the evproxy client:
#   - 8 echo transfers of 1 MiB, sha256 checked: the middle saw exactly 8 connections, each to
#     the vmess server;
#   - UDP (dokodemo-door udp -> vmess UDP over the chain): answered, through one more;
#   - the same with "mux" on the vmess outbound: the transfers share 1..2 connections (one per
#     worker at most) through the middle;
#   - a freedom outbound with proxySettings: its targets are dialled through the hop; its UDP
#     (datagrams, which a hop does not carry) is refused with a reason in the log;
#   - the hop keeps its session's policy level (a level-1 connIdle outlives level 0's);
#   - ws + tls in the vmess outbound's streamSettings: only tls goes over the hop, as V2Ray
#     4.34 does (a V2Ray tcp + tls server; V2Ray's client with the same config too), and with
#     "transportLayer": true (V2Ray 4.35+) ws + tls both do (a V2Ray ws + tls server);
# then V2Ray 4.34 as the client with the same config shape, reaching an evproxy vmess server
# through the same middle: the shapes agree. Last, -t refuses an unknown tag and a loop,
# naming the path, where V2Ray 4.34's -test accepts both (it would dial the server directly,
# or never end).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
METHOD=aes-128-gcm
PW=e2e-chain-pw

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT
read -r VP EP MP < <(ports 3 | tr '\n' ' ')

# --- the far end: V2Ray's vmess server, and evproxy's for V2Ray's client -----------------------
cfg_vmess_server "$E2E_TMP/v2server.json" "$VP" "$UUID_GOOD" 0
start_v2ray v2server "$E2E_TMP/v2server.json" "$VP"
cfg_vmess_server "$E2E_TMP/evserver.json" "$EP" "$UUID_GOOD" 0
start_evproxy evserver "$E2E_TMP/evserver.json" "$EP"

# --- the middle: shadowsocks in -> freedom, one access line per connection -------------------
MID_ACCESS=$E2E_TMP/middle.access.log
cat >"$E2E_TMP/middle.json" <<EOF
{
  "log": {"loglevel": "info", "access": "$MID_ACCESS"},
  "inbounds": [{"tag": "ss-in", "listen": "127.0.0.1", "port": $MP, "protocol": "shadowsocks",
    "settings": {"method": "$METHOD", "password": "$PW", "network": "tcp"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
start_evproxy middle "$E2E_TMP/middle.json" "$MP"

middle_count() { access_count "$MID_ACCESS" "$1"; }
wait_middle() { wait_access "$MID_ACCESS" "$1" "$2"; }

# cfg_chain FILE SOCKS UDP SERVER_PORT [MUX_CONCURRENCY]: the client, as a user writes it.
cfg_chain() {
    "$PY" - "$@" "$MP" "$UUID_GOOD" "$DNS" "$METHOD" "$PW" <<'EOF'
import json, sys
path, socks, udp, server, mux, mp, uuid, dns, method, pw = (sys.argv[1:6] + sys.argv[6:])
vmess = {"tag": "proxy", "protocol": "vmess",
         "settings": {"vnext": [{"address": "127.0.0.1", "port": int(server),
                                 "users": [{"id": uuid, "alterId": 0,
                                            "security": "aes-128-gcm"}]}]},
         "proxySettings": {"tag": "hop"}}
if mux != "0":
    vmess["mux"] = {"enabled": True, "concurrency": int(mux)}
cfg = {"log": {"loglevel": "info"},
       "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": int(socks),
                     "protocol": "socks", "settings": {"auth": "noauth"}},
                    {"tag": "udp-in", "listen": "127.0.0.1", "port": int(udp),
                     "protocol": "dokodemo-door",
                     "settings": {"address": "127.0.0.1", "port": int(dns), "network": "udp"}}],
       "outbounds": [vmess,
                     {"tag": "hop", "protocol": "shadowsocks",
                      "settings": {"servers": [{"address": "127.0.0.1", "port": int(mp),
                                                "method": method, "password": pw}]}}]}
json.dump(cfg, open(path, "w"), indent=2)
EOF
}

# transfers NAME SOCKS SEED: 8 concurrent 1 MiB echo transfers, sha256 checked.
transfers() {
    local out=$E2E_TMP/$1.tcp.json
    socks_stream "$2" "127.0.0.1:$ECHO" --mode echo --bytes 1M --sessions 8 --seed "$3" \
        --timeout 90 --quiet >"$out" 2>&1 ||
        { show_log "$1" 8; show_log middle 4; fail "$1: 8 x 1 MiB: $(why_of "$out")"; }
}

udp_queries() {
    timeout -k 5 40 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$2" --count 20 \
        --size 100 --seed "$3" --timeout 30 >"$E2E_TMP/$1.udp.out" 2>&1 ||
        { show_log "$1" 8; fail "$1: UDP: $(tail -1 "$E2E_TMP/$1.udp.out")"; }
}

# through NAME PORT BEFORE N: the middle passed exactly N connections to PORT since it had
# BEFORE.
through() {
    local n
    n=$(($(wait_middle "$2" $(($3 + $4))) - $3))
    [ "$n" = "$4" ] || fail "$1: the middle passed $n connections to 127.0.0.1:$2, want $4"
}

# start_chain NAME RUNNER SERVER_PORT MUX [EDIT]: a client by cfg_chain (EDIT: python on
# cfg, the config) run by RUNNER (start_evproxy or start_v2ray); sets SOCKS and UDP.
start_chain() {
    read -r SOCKS UDP < <(ports 2 | tr '\n' ' ')
    cfg_chain "$E2E_TMP/$1.json" "$SOCKS" "$UDP" "$3" "$4"
    "$PY" - "$E2E_TMP/$1.json" "${5:-}" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
EOF
    "$2" "$1" "$E2E_TMP/$1.json" "$SOCKS" "$UDP/udp"
}

# --- evproxy's client ---------------------------------------------------------------------------
start_chain client start_evproxy "$VP" 0
transfers client "$SOCKS" 61
through "evproxy client" "$VP" 0 8
pass "evproxy client: 8 x 1 MiB echoed intact, each through the middle (8 connections to it)"
udp_queries client "$UDP" 62
through "evproxy client, UDP" "$VP" 8 1
pass "evproxy client: vmess UDP answered over the chain (one more connection through it)"

start_chain mux start_evproxy "$VP" 8
BEFORE=$(middle_count "$VP")
transfers mux "$SOCKS" 63
N=$(($(wait_middle "$VP" $((BEFORE + 1))) - BEFORE))
{ [ "$N" -ge 1 ] && [ "$N" -le 2 ]; } ||
    fail "mux: $N connections through the middle for 8 transfers, want 1..2 (one per worker)"
pass "mux: 8 x 1 MiB echoed intact as sub-streams of $N connection(s) through the middle"

# A freedom outbound with proxySettings dials its target through the hop, as V2Ray's does.
start_chain freedom start_evproxy "$VP" 0 \
    'cfg["outbounds"][0] = {"tag": "proxy", "protocol": "freedom", "proxySettings": {"tag": "hop"}}'
BEFORE=$(middle_count "$ECHO")
socks_stream "$SOCKS" "127.0.0.1:$ECHO" --mode echo --bytes 256K --sessions 4 --seed 65 \
    --timeout 60 --quiet >"$E2E_TMP/freedom.tcp.json" 2>&1 ||
    fail "freedom through the hop: $(why_of "$E2E_TMP/freedom.tcp.json")"
through "freedom through the hop" "$ECHO" "$BEFORE" 4
pass "freedom with proxySettings: 4 x 256 KiB echoed, each through the middle"
# Its UDP would go as datagrams, which a hop does not carry: refused, and the log says why.
if timeout -k 5 30 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$UDP" --count 1 --tries 1 \
    --wait 1 --give-up 1 --timeout 20 >"$E2E_TMP/freedom.udp.out" 2>&1; then
    soft_fail "freedom with proxySettings: UDP answered, past the hop"
elif ! grep -q 'UDP from \[proxy\] cannot go through \[hop\]' "$E2E_TMP/freedom.log"; then
    soft_fail "freedom with proxySettings: UDP unanswered, but the log does not say why"
    show_log freedom 4
else
    pass "freedom with proxySettings: UDP refused, the log saying why"
fi

# The hop takes its session's policy level: with level 0's connIdle at 2 s and the socks
# inbound's userLevel 1 (connIdle 300), a connection idle 5 s through the chain still echoes;
# one at level 0 (another socks inbound) is closed, so the short timeout was live.
read -r LEVEL0_PORT < <(ports 1)
export LEVEL0_PORT
start_chain level start_evproxy "$VP" 0 'import os
cfg["policy"] = {"levels": {"0": {"connIdle": 2}, "1": {"connIdle": 300}}}
cfg["inbounds"][0]["settings"]["userLevel"] = 1
cfg["inbounds"].append({"tag": "socks0", "listen": "127.0.0.1", "protocol": "socks",
                        "port": int(os.environ["LEVEL0_PORT"]), "settings": {"auth": "noauth"}})'
wait_port "$LEVEL0_PORT" 10 tcp "$LAST_PID" || fail "level: port $LEVEL0_PORT not listening"
"$PY" "$TOOLS/idle_echo.py" --socks "127.0.0.1:$SOCKS" --target "127.0.0.1:$ECHO" --idle 5 \
    >"$E2E_TMP/level1.out" 2>&1 &
L1=$!
"$PY" "$TOOLS/idle_echo.py" --socks "127.0.0.1:$LEVEL0_PORT" --target "127.0.0.1:$ECHO" \
    --idle 5 >"$E2E_TMP/level0.out" 2>&1
wait "$L1"
[ "$(cat "$E2E_TMP/level0.out")" = closed ] ||
    fail "level 0 (connIdle 2 s): after 5 s idle: $(cat "$E2E_TMP/level0.out"), want closed"
[ "$(cat "$E2E_TMP/level1.out")" = open ] ||
    { show_log level 6; fail "level 1 through the chain: after 5 s idle:" \
        "$(cat "$E2E_TMP/level1.out"), want open (the hop took level 0's connIdle?)"; }
pass "policy level through the hop: level 1's connection echoes after 5 s idle, level 0's closed"

# --- V2Ray 4.34's client, the same shape, to evproxy's server ---------------------------------
start_chain v2client start_v2ray "$EP" 0
transfers v2client "$SOCKS" 64
through "V2Ray client" "$EP" 0 8
pass "V2Ray 4.34 client, same config shape: 8 x 1 MiB echoed intact through the middle (8)"

# --- tls over the proxied stream: V2Ray 4.34's rule, and transportLayer -------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=example.test -keyout "$E2E_TMP/tls.key" -out "$E2E_TMP/tls.crt" >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
CERT="\"certificates\": [{\"certificateFile\": \"$E2E_TMP/tls.crt\",
    \"keyFile\": \"$E2E_TMP/tls.key\"}]"
read -r TP WP < <(ports 2 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/tls-server.json" "$TP" "$UUID_GOOD" 0
with_stream "$E2E_TMP/tls-server.json" "{\"security\": \"tls\", \"tlsSettings\": {$CERT}}"
start_v2ray tls-server "$E2E_TMP/tls-server.json" "$TP"
cfg_vmess_server "$E2E_TMP/ws-server.json" "$WP" "$UUID_GOOD" 0
with_stream "$E2E_TMP/ws-server.json" "{\"network\": \"ws\", \"security\": \"tls\",
    \"wsSettings\": {\"path\": \"/chain\"}, \"tlsSettings\": {$CERT}}"
start_v2ray ws-server "$E2E_TMP/ws-server.json" "$WP"
# The client's streamSettings: ws + tls, trusting any certificate.
export CHAIN_WS_TLS='{"network": "ws", "security": "tls", "wsSettings": {"path": "/chain"},
    "tlsSettings": {"serverName": "example.test", "allowInsecure": true}}'
WITH_WS_TLS='import os
cfg["outbounds"][0]["streamSettings"] = json.loads(os.environ["CHAIN_WS_TLS"])'

# tls_case NAME RUNNER SERVER_PORT EDIT SEED WHAT: 2 echo transfers through that client, each
# through the middle.
tls_case() {
    start_chain "$1" "$2" "$3" 0 "$4"
    local before
    before=$(middle_count "$3")
    socks_stream "$SOCKS" "127.0.0.1:$ECHO" --mode echo --bytes 512K --sessions 2 --seed "$5" \
        --timeout 60 --quiet >"$E2E_TMP/$1.tcp.json" 2>&1 ||
        { show_log "$1" 6; fail "$6: $(why_of "$E2E_TMP/$1.tcp.json")"; }
    through "$6" "$3" "$before" 2
    pass "$6: 2 x 512 KiB echoed intact, each through the middle"
}
# Without transportLayer V2Ray 4.34 keeps only tls over the proxied stream: ws + tls in the
# config reaches a tcp + tls server, from evproxy's client and from V2Ray's.
tls_case tls-evp start_evproxy "$TP" "$WITH_WS_TLS" 66 \
    "evproxy client, ws + tls without transportLayer: only tls over the hop (V2Ray 4.34's rule)"
tls_case tls-v2 start_v2ray "$TP" "$WITH_WS_TLS" 67 \
    "V2Ray 4.34 client, the same config: only tls over the hop too"
grep -q 'wsSettings: ignored through proxySettings' "$E2E_TMP/tls-evp.log" ||
    soft_fail "evproxy client: no warning that wsSettings is ignored through proxySettings"
# With transportLayer (V2Ray 4.35+) the whole stack goes over the hop: ws + tls server.
tls_case ws-evp start_evproxy "$WP" "$WITH_WS_TLS
cfg['outbounds'][0]['proxySettings']['transportLayer'] = True" 68 \
    "evproxy client, ws + tls with transportLayer: the whole stack over the hop"

# --- -t: what V2Ray would dial past the chain, or never end, is refused -------------------------
refused() { # NAME PYTHON-EDIT WANT
    "$PY" - "$E2E_TMP/client.json" "$E2E_TMP/$1.json" "$2" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
outs = cfg["outbounds"]
exec(sys.argv[3])
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
EOF
    local out rc
    out=$("$EVP_BIN" -t -c "$E2E_TMP/$1.json" 2>&1)
    rc=$?
    if [ "$rc" != 0 ] && grep -qF -- "$3" <<<"$out"; then
        pass "$1: -t refuses: $(grep -F -m1 -- "$3" <<<"$out" | cut -c1-140)"
    else
        soft_fail "$1: -t exit $rc, want \"$3\" in: $(head -c 300 <<<"$out")"
    fi
    timeout 20 "$V2RAY" -test -config "$E2E_TMP/$1.json" >"$E2E_TMP/$1.v2.log" 2>&1 ||
        soft_fail "$1: V2Ray 4.34's -test refuses it too: $(tail -1 "$E2E_TMP/$1.v2.log")"
}
refused unknown-tag 'outs[0]["proxySettings"]["tag"] = "nope"' \
    'outbounds[0].proxySettings.tag: no outbound is tagged "nope"'
refused loop 'outs[1]["proxySettings"] = {"tag": "proxy"}' \
    'outbounds[0].proxySettings.tag: the chain loops ("proxy" -> "hop" -> "proxy")'
finish
