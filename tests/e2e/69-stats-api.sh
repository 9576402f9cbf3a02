#!/usr/bin/env bash
# V2Ray's StatsService (issue 14): a server config in the shape V2Ray's docs give it (`stats`,
# `api` with StatsService, a dokodemo-door tagged "api" routed to the api outbound, policy
# switches on), two users each behind a V2Ray 4.34 client. The real `v2ctl api` reads the
# counters: the users' and the freedom outbound's bytes are exactly the payload echoed; the
# vmess inbound's are the payload plus VMess's overhead (README "Stats API"); GetStats names
# one, an unknown name is V2Ray's error, reset zeroes; and V2Ray 4.34 as the server, with
# the same config and traffic, has the same counter names and the same user/outbound values.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
command -v v2ctl >/dev/null || fail "v2ctl (V2Ray 4.34's control tool) is not installed"
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
U1=4a6b0a2c-2d2f-4a63-8a48-6f1c2b3d4e5f
N0=300000 # user a's payload, each way
N1=70000  # user b's
STATS="$PY $TOOLS/v2_stats.py"

# server_cfg FILE VMESS_PORT API_PORT
server_cfg() {
    "$PY" - "$@" "$UUID_GOOD" "$U1" <<'PYEOF'
import json, sys
path, sp, ap, u0, u1 = sys.argv[1:]
cfg = {
  "log": {"loglevel": "info"},
  "stats": {},
  "api": {"tag": "api", "services": ["StatsService"]},
  "policy": {
    "levels": {"0": {"statsUserUplink": True, "statsUserDownlink": True}},
    "system": {"statsInboundUplink": True, "statsInboundDownlink": True,
               "statsOutboundUplink": True, "statsOutboundDownlink": True}},
  "inbounds": [
    {"tag": "vmess-in", "listen": "127.0.0.1", "port": int(sp), "protocol": "vmess",
     "settings": {"clients": [{"id": u0, "alterId": 0, "level": 0, "email": "a@example.org"},
                              {"id": u1, "alterId": 0, "level": 0, "email": "b@example.org"}]}},
    {"tag": "api", "listen": "127.0.0.1", "port": int(ap), "protocol": "dokodemo-door",
     "settings": {"address": "127.0.0.1"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
  "routing": {"rules": [{"type": "field", "inboundTag": ["api"], "outboundTag": "api"}]}}
json.dump(cfg, open(path, "w"), indent=2)
PYEOF
}

# run_server IMPL: the server (evproxy, or v2ray), two clients, the traffic; leaves the
# counters after the traffic in $E2E_TMP/IMPL.after.json and the API port in API.
run_server() {
    local impl=$1 sp c0 c1
    read -r sp API c0 c1 < <(ports 4 | tr '\n' ' ')
    C0=$c0
    VMESS=$sp
    server_cfg "$E2E_TMP/$impl.json" "$sp" "$API"
    cfg_vmess_client "$E2E_TMP/$impl.c0.json" "$c0" "$sp" "$UUID_GOOD" 0 aes-128-gcm
    cfg_vmess_client "$E2E_TMP/$impl.c1.json" "$c1" "$sp" "$U1" 0 aes-128-gcm
    if [ "$impl" = v2ray ]; then
        start_v2ray "$impl" "$E2E_TMP/$impl.json" "$sp" "$API"
    else
        start_evproxy "$impl" "$E2E_TMP/$impl.json" "$sp" "$API"
    fi
    SERVER_PID=$LAST_PID
    start_v2ray "$impl.c0" "$E2E_TMP/$impl.c0.json" "$c0"
    start_v2ray "$impl.c1" "$E2E_TMP/$impl.c1.json" "$c1"
    $STATS traffic "$c0" "$ECHO" "$N0" >/dev/null || fail "$impl: user a's echo failed"
    $STATS traffic "$c1" "$ECHO" "$N1" >/dev/null || fail "$impl: user b's echo failed"
    # The last bytes count when a session ends: wait (bounded) until both sessions ended.
    $STATS settle "$API" "user>>>a@example.org>>>traffic>>>downlink" "$N0" >/dev/null
    $STATS settle "$API" "user>>>b@example.org>>>traffic>>>downlink" "$N1" \
        >"$E2E_TMP/$impl.after.json" || fail "$impl: QueryStats failed"
}

# probe_counts IMPL: a refused handshake's 64 bytes count on the inbound (V2Ray counts the
# connection, not only what it relayed).
probe_counts() {
    local name="inbound>>>vmess-in>>>traffic>>>uplink" before now
    before=$($STATS get "$API" "$name")
    "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes(range(64)))
s.close()' "$VMESS"
    for _ in $(seq 40); do
        now=$($STATS get "$API" "$name")
        [ "$now" != "$before" ] && break
        sleep 0.25
    done
    [ "$now" = $((before + 64)) ] || fail "$1: 64 bytes refused by vmess-in counted $before -> $now"
    pass "$1: a refused handshake's 64 bytes count on the inbound"
}

# live_counts IMPL: a session still open shows its bytes (a Mux connection may live for hours:
# counting only at the end showed nothing meanwhile). V2Ray adds as bytes pass; evproxy from
# the session's timer, every 2 s or so while it relays.
live_counts() {
    local out
    out=$($STATS live "$API" "$C0" "$ECHO" 40000 "user>>>a@example.org>>>traffic>>>uplink" 2>&1) ||
        fail "$1: $out"
    pass "$1: $out"
}

# value FILE NAME: the counter NAME in the JSON snapshot FILE ("absent" when missing).
value() {
    "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "absent"))' \
        "$1" "$2"
}

run_server evproxy
A=$E2E_TMP/evproxy.after.json
for dir in uplink downlink; do
    got=$(value "$A" "user>>>a@example.org>>>traffic>>>$dir")
    [ "$got" = "$N0" ] || fail "user a's $dir is $got, not the $N0 bytes echoed: $(cat "$A")"
    got=$(value "$A" "user>>>b@example.org>>>traffic>>>$dir")
    [ "$got" = "$N1" ] || fail "user b's $dir is $got, not the $N1 bytes echoed: $(cat "$A")"
    got=$(value "$A" "outbound>>>direct>>>traffic>>>$dir")
    [ "$got" = $((N0 + N1)) ] ||
        fail "outbound direct's $dir is $got, not $((N0 + N1)) (freedom adds nothing): $(cat "$A")"
done
pass "QueryStats: users' and the freedom outbound's bytes are exactly the payload echoed"
# The vmess inbound's bytes are the connection's: payload plus VMess's header and chunk
# overhead (README "Stats API": at most 1 KiB per connection plus 4 % of the payload).
for dir in uplink downlink; do
    got=$(value "$A" "inbound>>>vmess-in>>>traffic>>>$dir")
    max=$((N0 + N1 + 2 * 1024 + (N0 + N1) * 4 / 100))
    { [ "$got" != absent ] && [ "$got" -gt $((N0 + N1)) ] && [ "$got" -le "$max" ]; } ||
        fail "inbound vmess-in's $dir is $got, not in ($((N0 + N1)), $max]: $(cat "$A")"
    info "inbound vmess-in $dir: $got for $((N0 + N1)) payload bytes"
done
pass "QueryStats: the vmess inbound's bytes are the payload plus VMess's overhead"

got=$($STATS get "$API" "user>>>a@example.org>>>traffic>>>uplink")
[ "$got" = "$N0" ] || fail "GetStats user a's uplink: $got"
NOT_FOUND="code = Unknown desc = v2ray.com/core/app/stats/command: user>>>nobody>>>traffic>>>\
uplink not found."
# not_found IMPL: GetStats of a name no counter has is V2Ray's error.
not_found() {
    local got
    got=$($STATS get "$API" "user>>>nobody>>>traffic>>>uplink")
    case $got in
    *"rpc error: $NOT_FOUND"*) ;;
    *) fail "$1: GetStats of an unknown name: $got" ;;
    esac
}
not_found evproxy
pass "GetStats: a counter's value; an unknown name is V2Ray's error (Unknown, not found)"

got=$($STATS get "$API" "user>>>b@example.org>>>traffic>>>uplink" --reset)
[ "$got" = "$N1" ] || fail "GetStats reset returned $got, not the value before ($N1)"
got=$($STATS get "$API" "user>>>b@example.org>>>traffic>>>uplink")
[ "$got" = 0 ] || fail "after GetStats reset the counter is $got"
$STATS query "$API" --reset --pattern "user>>>" >/dev/null || fail "QueryStats reset failed"
$STATS query "$API" --pattern "user>>>" >"$E2E_TMP/reset.json"
"$PY" - "$E2E_TMP/reset.json" <<'PYEOF' ||
import json, sys
snap = json.load(open(sys.argv[1]))
assert len(snap) == 4 and all(v == 0 for v in snap.values()), snap
PYEOF
    fail "QueryStats reset left: $(cat "$E2E_TMP/reset.json")"

got=$(value "$A" "outbound>>>direct>>>traffic>>>uplink")
now=$($STATS get "$API" "outbound>>>direct>>>traffic>>>uplink")
[ "$now" = "$got" ] || fail "a reset of pattern user>>> changed outbound direct: $got -> $now"
pass "reset: GetStats and QueryStats zero what they name, and only that"

probe_counts evproxy
live_counts evproxy

sys=$(v2ctl api --server=127.0.0.1:"$API" StatsService.GetSysStats '' 2>&1) ||
    fail "GetSysStats: $sys"
# (Alloc is malloc's bytes in use: 0, so not printed, under ASan, whose malloc is its own.)
case $sys in *NumGoroutine:*Sys:*) ;; *) fail "GetSysStats lacks NumGoroutine/Sys: $sys" ;; esac
pass "GetSysStats answers (threads as NumGoroutine, the resident set as Sys)"
stop_pid "$SERVER_PID"

run_server v2ray
probe_counts v2ray
live_counts v2ray
not_found v2ray
"$PY" - "$A" "$E2E_TMP/v2ray.after.json" <<'PYEOF' >"$E2E_TMP/compare.out" 2>&1 ||
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:])
if set(ours) != set(theirs):
    sys.exit("names differ: only evproxy %s, only V2Ray %s" %
             (sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))))
for name in ours:
    same_bytes = name.startswith("user>>>") or name.startswith("outbound>>>")
    if same_bytes and ours[name] != theirs[name]:
        sys.exit("%s: evproxy %d, V2Ray %d" % (name, ours[name], theirs[name]))
print(sorted(ours))
PYEOF
    fail "evproxy and V2Ray 4.34 disagree: $(cat "$E2E_TMP/compare.out")"
pass "V2Ray 4.34 as the server: the same counter names, the same user and outbound bytes"
finish
