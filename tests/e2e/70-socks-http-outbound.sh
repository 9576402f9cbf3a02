#!/usr/bin/env bash
# socks and http outbounds (issue 14), all on loopback:
#   client -> evproxy socks inbound -> socks outbound (users[0]: password auth) -> upstream
#   socks inbound with accounts (evproxy's, then V2Ray 4.34's) -> freedom -> echo
# 4 x 1 MiB echoed, sha256 checked both ways, each connection seen by the upstream; a wrong
# password is refused with the reason in the log, and so is the upstream's failure reply to a
# closed port. Then the http outbound to V2Ray 4.34's http
# inbound with accounts (and a wrong password: 407, logged), and a vmess outbound whose
# proxySettings.tag names a socks outbound: vmess -> socks -> upstream (counts) -> V2Ray
# vmess server -> echo.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
USER=e2e-user
PASS=e2e-pass

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r UP V2UP V2HTTP VP < <(ports 4 | tr '\n' ' ')

# --- the upstreams: evproxy socks with accounts (access log counts), V2Ray socks and http ---
UP_ACCESS=$E2E_TMP/upstream.access.log
cat >"$E2E_TMP/upstream.json" <<EOF
{
  "log": {"loglevel": "info", "access": "$UP_ACCESS"},
  "inbounds": [{"tag": "socks-up", "listen": "127.0.0.1", "port": $UP, "protocol": "socks",
    "settings": {"auth": "password", "accounts": [{"user": "$USER", "pass": "$PASS"}]}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
start_evproxy upstream "$E2E_TMP/upstream.json" "$UP"
cat >"$E2E_TMP/v2up.json" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [{"listen": "127.0.0.1", "port": $V2UP, "protocol": "socks",
    "settings": {"auth": "password", "accounts": [{"user": "$USER", "pass": "$PASS"}]}},
    {"listen": "127.0.0.1", "port": $V2HTTP, "protocol": "http",
    "settings": {"accounts": [{"user": "$USER", "pass": "$PASS"}]}}],
  "outbounds": [{"protocol": "freedom", "settings": {}}]
}
EOF
start_v2ray v2up "$E2E_TMP/v2up.json" "$V2UP" "$V2HTTP"
cfg_vmess_server "$E2E_TMP/v2server.json" "$VP" "$UUID_GOOD" 0
start_v2ray v2server "$E2E_TMP/v2server.json" "$VP"

# start_client NAME PROTOCOL PORT PASS [VMESS]: evproxy, socks inbound -> PROTOCOL outbound
# to 127.0.0.1:PORT as USER/PASS; with VMESS, a vmess outbound to the V2Ray server first,
# its proxySettings.tag naming that outbound. Sets SOCKS.
start_client() {
    read -r SOCKS < <(ports 1)
    "$PY" - "$E2E_TMP/$1.json" "$SOCKS" "$2" "$3" "$USER" "$4" "${5:-}" "$VP" "$UUID_GOOD" <<'EOF'
import json, sys
path, socks, proto, port, user, pw, vmess, vp, uuid = sys.argv[1:]
hop = {"tag": "hop", "protocol": proto,
       "settings": {"servers": [{"address": "127.0.0.1", "port": int(port),
                                 "users": [{"user": user, "pass": pw}]}]}}
outs = [hop]
if vmess:
    outs.insert(0, {"tag": "proxy", "protocol": "vmess", "proxySettings": {"tag": "hop"},
                    "settings": {"vnext": [{"address": "127.0.0.1", "port": int(vp),
                                            "users": [{"id": uuid, "alterId": 0}]}]}})
cfg = {"log": {"loglevel": "info"},
       "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": int(socks),
                     "protocol": "socks", "settings": {"auth": "noauth"}}],
       "outbounds": outs}
json.dump(cfg, open(path, "w"), indent=2)
EOF
    start_evproxy "$1" "$E2E_TMP/$1.json" "$SOCKS"
}

# transfers NAME N SEED: N concurrent 1 MiB echo transfers, sha256 checked.
transfers() {
    local out=$E2E_TMP/$1.tcp.json
    socks_stream "$SOCKS" "127.0.0.1:$ECHO" --mode echo --bytes 1M --sessions "$2" \
        --seed "$3" --timeout 90 --quiet >"$out" 2>&1 ||
        { show_log "$1" 8; show_log upstream 4; fail "$1: $2 x 1 MiB: $(why_of "$out")"; }
}

# refused NAME WANT [TARGET_PORT]: one transfer (to the echo, or TARGET_PORT) fails, and
# NAME's log has WANT (an extended regexp).
refused() {
    if socks_stream "$SOCKS" "127.0.0.1:${3:-$ECHO}" --mode echo --bytes 1K --sessions 1 \
        --seed 9 --timeout 20 --quiet >"$E2E_TMP/$1.tcp.json" 2>&1; then
        fail "$1: echoed, want refused"
    fi
    log_has "$E2E_TMP/$1.log" "$2" ||
        { show_log "$1" 6; fail "$1: refused, but the log lacks \"$2\""; }
}

start_client socks socks "$UP" "$PASS"
transfers socks 4 71
N=$(wait_access "$UP_ACCESS" "$ECHO" 4)
[ "$N" = 4 ] || fail "socks outbound: the upstream passed $N connections to the echo, want 4"
pass "socks outbound -> evproxy socks (password): 4 x 1 MiB echoed intact, 4 via the upstream"
# A target nobody listens on: the upstream answers 0x04, and the log names the code.
read -r CLOSED < <(ports 1)
refused socks "the server refused CONNECT: reply 4 \\(host unreachable\\)" "$CLOSED"
pass "socks outbound: the upstream's failure reply ends the session, the log naming code 4"

start_client socks-bad socks "$UP" wrong-pass
refused socks-bad "refused the username/password \\(status 1\\)"
pass "socks outbound with a wrong password: refused, the log naming it"

start_client v2socks socks "$V2UP" "$PASS"
transfers v2socks 4 72
pass "socks outbound -> V2Ray 4.34 socks inbound (password): 4 x 1 MiB echoed intact"

start_client http http "$V2HTTP" "$PASS"
transfers http 4 73
pass "http outbound -> V2Ray 4.34 http inbound (accounts): 4 x 1 MiB echoed intact"
start_client http-bad http "$V2HTTP" wrong-pass
refused http-bad 'the proxy refused CONNECT: "HTTP/1.1 407'
pass "http outbound with a wrong password: 407, the session ended with the status logged"

BEFORE=$(access_count "$UP_ACCESS" "$VP")
start_client vmess socks "$UP" "$PASS" vmess
transfers vmess 4 74
N=$(($(wait_access "$UP_ACCESS" "$VP" $((BEFORE + 4))) - BEFORE))
[ "$N" = 4 ] || fail "vmess via socks: the upstream passed $N connections to vmess, want 4"
pass "vmess with proxySettings.tag -> socks outbound: 4 x 1 MiB echoed, 4 via the upstream"

finish
