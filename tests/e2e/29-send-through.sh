#!/usr/bin/env bash
# Outbound sendThrough (issue 14): the outbound's sockets leave from that address. One client
# daemon, a socks inbound per case, each routed to its own outbound; a target that answers
# with the peer address it sees (tools/peer_addr.py):
#   freedom sendThrough 127.0.0.2        the target sees 127.0.0.2
#   freedom without sendThrough          127.0.0.1 (the kernel's choice)
#   freedom sendThrough "0.0.0.0"        127.0.0.1: V2Ray's default, nothing bound
#   freedom sendThrough "::1"            an IPv4 target cannot be reached: refused, and the
#                                        log says why
#   vmess sendThrough 127.0.0.3          the vmess server's access log has the client as
#                                        127.0.0.3 (a page fetched through it)
# and `-t` refuses a name as sendThrough (V2Ray 4.34 takes only an IP). EVP_IMPL=v2ray runs
# the same client config on V2Ray 4.34: the same answers.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool peer peer_addr.py
PEER=$TOOL_PORT
read -r A B C D E VP < <(ports 6 | tr '\n' ' ')

# --- the vmess server, with an access log ---------------------------------------------------
cfg_vmess_server "$E2E_TMP/server.json" "$VP" "$UUID_GOOD" 0
"$PY" - "$E2E_TMP/server.json" "$E2E_TMP/access.log" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["log"]["access"] = sys.argv[2]
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
EOF
start_evproxy server "$E2E_TMP/server.json" "$VP"

# --- the client: inbound i -> outbound i ------------------------------------------------------
"$PY" - "$E2E_TMP/client.json" "$A" "$B" "$C" "$D" "$E" "$VP" "$UUID_GOOD" <<'EOF'
import json, sys
path, a, b, c, d, e, vp, uuid = sys.argv[1:]
cases = [(a, "via2", {"protocol": "freedom", "sendThrough": "127.0.0.2"}),
         (b, "plain", {"protocol": "freedom"}),
         (c, "zero", {"protocol": "freedom", "sendThrough": "0.0.0.0"}),
         (d, "v6", {"protocol": "freedom", "sendThrough": "::1"}),
         (e, "vm", {"protocol": "vmess", "sendThrough": "127.0.0.3", "settings": {"vnext": [
             {"address": "127.0.0.1", "port": int(vp),
              "users": [{"id": uuid, "alterId": 0, "security": "aes-128-gcm"}]}]}})]
cfg = {"log": {"loglevel": "info"}, "inbounds": [], "outbounds": [],
       "routing": {"rules": []}}
for port, tag, out in cases:
    cfg["inbounds"].append({"tag": "in-" + tag, "listen": "127.0.0.1", "port": int(port),
                            "protocol": "socks", "settings": {"auth": "noauth"}})
    out.setdefault("settings", {})
    cfg["outbounds"].append(dict(out, tag=tag))
    cfg["routing"]["rules"].append({"type": "field", "inboundTag": ["in-" + tag],
                                    "outboundTag": tag})
json.dump(cfg, open(path, "w"), indent=2)
EOF
start_evproxy client "$E2E_TMP/client.json" "$A" "$B" "$C" "$D" "$E"

# ask SOCKS_PORT: what the target saw as the source, through that inbound ("error: ...").
ask() { "$PY" "$TOOLS/peer_addr.py" --socks "127.0.0.1:$1" --target "127.0.0.1:$PEER"; }

expect_peer() { # CASE SOCKS_PORT WANT
    local got
    got=$(ask "$2")
    if [ "$got" = "$3" ]; then pass "$1: the target sees $got"
    else soft_fail "$1: the target sees '$got', want $3"; fi
}
expect_peer "sendThrough 127.0.0.2" "$A" 127.0.0.2
expect_peer "no sendThrough" "$B" 127.0.0.1
expect_peer "sendThrough 0.0.0.0" "$C" 127.0.0.1

GOT=$(ask "$D")
if [ "${GOT#error}" = "$GOT" ]; then
    soft_fail "sendThrough ::1 to an IPv4 target: served, the target saw '$GOT'"
elif [ "$EVP_IMPL" = evproxy ] && ! log_has "$E2E_TMP/client.log" \
    'sendThrough ::1 cannot reach an IPv4'; then
    soft_fail "sendThrough ::1 to an IPv4 target: refused, but the log does not say why"
    show_log client 5
else
    pass "sendThrough ::1 to an IPv4 target: refused ($GOT)"
fi

# The vmess outbound's own connection leaves from 127.0.0.3: the server's access log says.
GOT=$(ask "$E")
if [ "$GOT" != 127.0.0.1 ]; then
    soft_fail "vmess sendThrough 127.0.0.3: through the server got '$GOT', want 127.0.0.1"
elif ! log_has "$E2E_TMP/access.log" " 127\.0\.0\.3:[0-9]+ accepted tcp:127\.0\.0\.1:$PEER "; then
    soft_fail "vmess sendThrough 127.0.0.3: the server's access log has no 127.0.0.3 client:" \
        "$(tail -2 "$E2E_TMP/access.log")"
else
    pass "vmess sendThrough 127.0.0.3: the server's access log has the client as 127.0.0.3"
fi

# --- -t: a name is not an address to send through -------------------------------------------
"$PY" - "$E2E_TMP/client.json" "$E2E_TMP/named.json" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["outbounds"][0]["sendThrough"] = "localhost"
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
EOF
if [ "$EVP_IMPL" = evproxy ]; then
    OUT=$("$EVP_BIN" -t -c "$E2E_TMP/named.json" 2>&1)
else
    OUT=$("$V2RAY" -test -config "$E2E_TMP/named.json" 2>&1)
fi
RC=$?
SAYS='sendThrough|send through' # evproxy's message | V2Ray's
if [ "$RC" != 0 ] && grep -Eq "$SAYS" <<<"$OUT"; then
    pass "sendThrough \"localhost\" refused by -t: $(grep -Em1 "$SAYS" <<<"$OUT" | cut -c1-120)"
else
    soft_fail "sendThrough \"localhost\": -t exit $RC: $(head -c 200 <<<"$OUT")"
fi

finish
