#!/usr/bin/env bash
# Workers: N event loops on SO_REUSEPORT sockets, one daemon.
#   1. EVPROXY_WORKERS=2: two threads; 40 SOCKS sessions held open at once are spread over
#      both workers (`ctl stats` "workers": each accepted some, the sessions add up to 40;
#      all on one worker would be a 1 in 2^39 chance).
#   2. UDP: 8 clients, 10 datagrams each, through a dokodemo-door udp inbound; every answer
#      right, and exactly 8 UDP sessions between the workers: the kernel picks a worker's
#      socket by 4-tuple, so one client's datagrams never land on two workers.
#   3. The count: the config's "workers": 3 runs 3 (EVPROXY_WORKERS unset); EVPROXY_WORKERS=1
#      runs one; EVPROXY_WORKERS=abc is refused at start with a message naming it.
# Reload and plugin swap under load with two workers are 50-reload and 90-soak (every script
# runs its daemons with EVPROXY_WORKERS=2, lib.sh); the caps across workers are 28-limits.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "worker tests need evproxy itself: skipped"
    finish
fi
need_evproxy

CTL=$E2E_TMP/ctl.sock
read -r SOCKS DOKO < <(ports 2 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT

# write_cfg FILE [WORKERS_KEY]: socks -> freedom -> echo, dokodemo udp -> responder.
write_cfg() {
    cat >"$1" <<EOF
{
  ${2:-}
  "log": {"loglevel": "info"},
  "control": {"path": "$CTL"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $SOCKS, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": false}},
    {"tag": "doko-in", "listen": "127.0.0.1", "port": $DOKO, "protocol": "dokodemo-door",
     "settings": {"address": "127.0.0.1", "port": $DNS, "network": "udp"}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
}

ctl() { timeout 10 "$EVP_BIN" ctl -s "$CTL" "$@" >"$E2E_TMP/ctl.out" 2>&1; }
# workers_field EXPR: EXPR over the "workers" rows of the last `ctl stats` (w: the list).
workers_field() {
    "$PY" -c 'import json,sys; w=json.load(open(sys.argv[1]))["workers"]; print(eval(sys.argv[2]))' \
        "$E2E_TMP/ctl.out" "$1" 2>/dev/null || echo '?'
}

# --- 1. two workers share the TCP connections ------------------------------------------------
write_cfg "$E2E_TMP/two.json"
EVPROXY_WORKERS=2 start_evproxy two "$E2E_TMP/two.json" "$SOCKS" "$DOKO/udp"
EVP=$LAST_PID
threads=$(ls "/proc/$EVP/task" | wc -l)
if [ "$threads" -ge 2 ]; then pass "EVPROXY_WORKERS=2: $threads threads"; else
    soft_fail "EVPROXY_WORKERS=2: $threads thread(s)"; fi

# The holder opens 40 sessions one after the other, checks each with an echo, says so in
# its ready file and keeps them until it is stopped.
HOLDER='
import socket, struct, sys, time
socks, echo, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for i in range(40):
    c = socket.create_connection(("127.0.0.1", socks), timeout=10)
    c.sendall(b"\x05\x01\x00")
    assert c.recv(2) == b"\x05\x00"
    c.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo))
    assert c.recv(10)[1] == 0
    c.sendall(b"ping%d" % i)
    assert c.recv(16) == b"ping%d" % i
    held.append(c)
open(ready, "w").write("40")
time.sleep(120)
'
start_bg holder "$PY" -c "$HOLDER" "$SOCKS" "$ECHO" "$E2E_TMP/holder.ready"
HOLDER_PID=$LAST_PID
if wait_file "$E2E_TMP/holder.ready" 30 && ctl stats; then
    rows=$(workers_field 'len(w)')
    busy=$(workers_field 'sum(1 for r in w if r["accepted"] > 0)')
    total=$(workers_field 'sum(r["sessions"] for r in w)')
    spread=$(workers_field '" ".join("%d:%d" % (r["worker"], r["sessions"]) for r in w)')
    if [ "$rows" = 2 ] && [ "$busy" = 2 ] && [ "$total" = 40 ]; then
        pass "40 held sessions spread over both workers (worker:sessions $spread)"
    else
        soft_fail "spread: $rows worker rows, $busy accepted any, $total sessions ($spread)"
        cat "$E2E_TMP/ctl.out" >&2
    fi
else
    show_log holder
    soft_fail "40 sessions through the socks inbound were not all echoed"
fi
stop_pid "$HOLDER_PID"

# --- 2. one UDP client stays on one worker ---------------------------------------------------
udp_ok=1
for seed in 1 2 3 4 5 6 7 8; do
    "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$DOKO" --count 10 --seed "$seed" \
        >"$E2E_TMP/udp$seed.log" 2>&1 || { udp_ok=0; cat "$E2E_TMP/udp$seed.log" >&2; }
done
# The TCP sessions above are closing: wait (bounded) until only the UDP ones are left.
for _ in $(seq 100); do
    ctl stats && [ "$(workers_field 'sum(r["sessions"] for r in w)')" -le 8 ] 2>/dev/null && break
    sleep 0.1
done
total=$(workers_field 'sum(r["sessions"] for r in w)')
spread=$(workers_field '" ".join("%d:%d" % (r["worker"], r["sessions"]) for r in w)')
if [ "$udp_ok" = 1 ] && [ "$total" = 8 ]; then
    pass "8 UDP clients x 10 datagrams answered, 8 UDP sessions (worker:sessions $spread)"
else
    soft_fail "UDP: clients ok=$udp_ok, $total sessions for 8 clients ($spread)"
fi
stop_pid "$EVP"

# --- 3. how many workers -----------------------------------------------------------------------
write_cfg "$E2E_TMP/three.json" '"workers": 3,'
EVPROXY_WORKERS='' start_evproxy three "$E2E_TMP/three.json" "$SOCKS"
if ctl stats && [ "$(workers_field 'len(w)')" = 3 ]; then
    pass "\"workers\": 3 in the config: 3 workers"
else
    soft_fail "\"workers\": 3 in the config: $(workers_field 'len(w)') workers"
fi
stop_pid "$LAST_PID"

EVPROXY_WORKERS=1 start_evproxy one "$E2E_TMP/two.json" "$SOCKS"
if ctl stats && [ "$(workers_field 'len(w)')" = 1 ]; then
    pass "EVPROXY_WORKERS=1: 1 worker"
else
    soft_fail "EVPROXY_WORKERS=1: $(workers_field 'len(w)') workers"
fi
stop_pid "$LAST_PID"

rc=0
EVPROXY_WORKERS=abc timeout 10 "$EVP_BIN" -c "$E2E_TMP/two.json" >"$E2E_TMP/abc.log" 2>&1 || rc=$?
if [ "$rc" = 1 ] && grep -q 'EVPROXY_WORKERS: "abc" is not a number from 1 to 64' \
    "$E2E_TMP/abc.log"; then
    pass "EVPROXY_WORKERS=abc: refused at start, named"
else
    soft_fail "EVPROXY_WORKERS=abc: exit $rc, $(head -c 200 "$E2E_TMP/abc.log")"
fi
finish
