#!/usr/bin/env bash
# The control socket stays out of the way of proxying, rewrites the clients file safely and
# owns its path carefully. One evproxy with a socks inbound (-> freedom -> echo), a vmess
# inbound reading a clientsFile, and a control socket:
#   1. An idle control connection and one dripping a byte every 0.5 s: a 1 MiB transfer
#      through the daemon still completes (bound 10 s; it measures and prints the time),
#      and the daemon ends both control connections with an error line.
#   2. 100 control connections at once: extra ones get a one-line "busy" error; a transfer
#      completes meanwhile, and `ctl stats` answers once they are gone. Its "memory" shows
#      the vmess plugin's bytes > 0, with more blocks while a vmess connection is open and
#      as many as before once it has closed.
#   3. A request line over 64 KiB: an error reply, then the connection is closed.
#   4. add-user on a clients file with mode 0640 (and, as root, owned by nobody:nogroup):
#      mode and owner survive; a symlink and a file planted at the old predictable temp path
#      (FILE.tmp.PID) are neither followed nor clobbered; no temp file is left behind.
#   5. Control path: a regular file or a directory there -> the daemon refuses to start,
#      names the path and leaves it alone; a second daemon on a live daemon's path -> refused,
#      the first still answers; a stale socket -> replaced, the daemon starts; on exit the
#      daemon removes only the socket it created; `evproxy ctl` gives up on a silent socket.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "control socket tests need evproxy itself: skipped"
    finish
fi
need_evproxy

CTL=$E2E_TMP/ctl.sock
CF=$E2E_TMP/clients.json
CC=$TOOLS/control_clients.py
read -r SOCKS VMESS < <(ports 2 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# write_cfg FILE SOCKS_PORT CONTROL_PATH [VMESS_PORT]: socks (and vmess with $CF) -> freedom.
write_cfg() {
    local vmess='' tags='"socks-in"'
    if [ -n "${4:-}" ]; then
        vmess=",
    {\"tag\": \"vmess-in\", \"listen\": \"127.0.0.1\", \"port\": $4, \"protocol\": \"vmess\",
     \"clientsFile\": \"$CF\", \"settings\": {\"clients\": []}}"
        tags='"socks-in", "vmess-in"'
    fi
    cat >"$1" <<EOF
{
  "log": {"loglevel": "info"},
  "control": {"path": "$3"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": false}}$vmess
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
  "routing": {"rules": [{"type": "field", "inboundTag": [$tags], "outboundTag": "direct"}]}
}
EOF
}

# ctl ARGS...: the control client on $CTL; output in $E2E_TMP/ctl.out, status returned.
ctl() { timeout 10 "$EVP_BIN" ctl -s "$CTL" "$@" >"$E2E_TMP/ctl.out" 2>&1; }
ctl_why() { tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-160; }

# wait_socket PATH PID: until a socket is at PATH (gives up when PID is gone, or after 10 s).
wait_socket() {
    for _ in $(seq 200); do
        [ -S "$1" ] && return 0
        alive "$2" || return 1
        sleep 0.05
    done
    return 1
}

# wait_gone PID SECONDS: until PID has exited.
wait_gone() {
    local end=$((SECONDS + $2))
    while [ "$SECONDS" -le "$end" ]; do
        alive "$1" || return 0
        sleep 0.1
    done
    return 1
}

printf '{"clients": [{"id": "%s", "alterId": 0, "email": "first@e2e"}]}\n' "$UUID_GOOD" >"$CF"
write_cfg "$E2E_TMP/main.json" "$SOCKS" "$CTL" "$VMESS"
start_evproxy main "$E2E_TMP/main.json" "$SOCKS" "$VMESS"
MAIN=$LAST_PID
wait_socket "$CTL" "$MAIN" || { show_log main; fail "no control socket at $CTL"; }
# error_replies FILE [TEXT]: how many connections in a control_clients.py output the daemon
# ended after an {"ok": false} reply (whose error contains TEXT).
error_replies() {
    "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    try:
        reply = json.loads(r.get("reply") or "null")
    except ValueError:
        continue
    if r.get("closed") and isinstance(reply, dict) and reply.get("ok") is False and \
            sys.argv[2] in reply.get("error", ""):
        n += 1
print(n)' "$1" "${2:-}"
}
still_up() {
    alive "$MAIN" && return 0
    show_log main
    fail "evproxy died during: $1 ($(death_note "$MAIN"))"
}

# transfer NAME: 1 MiB each way through the socks inbound, at most 10 s; prints the time.
transfer() {
    local out=$E2E_TMP/$1.json t0 rc
    t0=$(date +%s.%N)
    socks_stream "$SOCKS" "127.0.0.1:$ECHO" --bytes 1M --seed 7 --timeout 10 >"$out" 2>&1
    rc=$?
    TOOK=$(echo "$(date +%s.%N) - $t0" | bc)
    info "transfer $1: exit $rc after ${TOOK}s"
    [ "$rc" = 0 ] || TRANSFER_WHY=$(why_of "$out")
    return "$rc"
}

# --- 1. idle and dripping control connections ------------------------------------------
start_bg hold "$PY" "$CC" hold "$CTL" --idle 1 --drip 1 --max-secs 30 --ready "$E2E_TMP/hold.ready"
HOLD=$LAST_PID
wait_file "$E2E_TMP/hold.ready" 10 || { show_log hold; fail "control holders did not connect"; }
if transfer with-holders; then
    pass "a 1 MiB transfer completed in ${TOOK}s while an idle and a dripping control" \
        "connection were open"
else
    soft_fail "transfer with an idle and a dripping control connection open: $TRANSFER_WHY" \
        "(${TOOK}s)"
fi
wait_gone "$HOLD" 40 || soft_fail "the control holders did not end"
still_up "idle and dripping control connections"
# Both were ended by the daemon (not by their own 30 s bound), each with an error line.
n=$(error_replies "$E2E_TMP/hold.log")
if [ "$n" = 2 ]; then
    pass "the daemon ended the idle and the dripping control connection with an error line" \
        "($(grep -o '"secs": [0-9.]*' "$E2E_TMP/hold.log" | tr '\n' ' '))"
else
    soft_fail "idle/dripping control connections not ended with an error: $(head -c 400 \
        "$E2E_TMP/hold.log")"
fi

# --- 2. 100 control connections at once ------------------------------------------------
start_bg many "$PY" "$CC" many "$CTL" --count 100 --max-secs 30 --ready "$E2E_TMP/many.ready"
MANY=$LAST_PID
if wait_file "$E2E_TMP/many.ready" 15; then
    if transfer with-many; then
        pass "a 1 MiB transfer completed in ${TOOK}s with 100 control connections open"
    else
        soft_fail "transfer with 100 control connections: $TRANSFER_WHY (${TOOK}s)"
    fi
else
    soft_fail "100 control connections could not all connect within 15 s"
fi
wait_gone "$MANY" 40 || soft_fail "the 100 control connections did not end"
busy=$(error_replies "$E2E_TMP/many.log" "too many control connections")
if grep -qF '"summary": true, "count": 100, "closed": 100' "$E2E_TMP/many.log" &&
    [ "$busy" -ge 1 ]; then
    pass "100 control connections: all ended by the daemon, $busy with a busy error"
else
    soft_fail "100 control connections: $busy busy errors; $(tail -1 "$E2E_TMP/many.log")"
fi
still_up "100 control connections"
if ctl stats; then
    pass "ctl stats answers after the 100 control connections"
else
    soft_fail "ctl stats after the 100 control connections: $(ctl_why)"
fi

# vmess_memory: "BYTES BLOCKS" the vmess plugin holds, from `ctl stats`; nothing on failure.
vmess_memory() {
    ctl stats && "$PY" -c 'import json, sys
m = json.load(open(sys.argv[1]))["memory"]["vmess"]
print(m["bytes"], m["blocks"])' "$E2E_TMP/ctl.out" 2>/dev/null
}
# blocks_until CMP N: polls (at most 5 s) until the vmess plugin's blocks CMP N; prints them.
blocks_until() {
    local b='' k=''
    for _ in $(seq 50); do
        read -r b k < <(vmess_memory) || true
        [ -n "$k" ] && [ "$k" "$1" "$2" ] && break
        sleep 0.1
    done
    echo "$b $k"
}
read -r IDLE_BYTES IDLE_BLOCKS < <(vmess_memory) || true
exec 3<>"/dev/tcp/127.0.0.1/$VMESS" # a vmess session: accepted, no handshake yet
OPEN=$(blocks_until -gt "${IDLE_BLOCKS:-0}")
exec 3>&-
CLOSED=$(blocks_until -eq "${IDLE_BLOCKS:-0}")
if [ "${IDLE_BYTES:-0}" -gt 0 ] && [ "${OPEN#* }" -gt "$IDLE_BLOCKS" ] &&
    [ "${CLOSED#* }" -eq "$IDLE_BLOCKS" ]; then
    pass "ctl stats: vmess memory $IDLE_BYTES bytes idle, $OPEN (bytes blocks) with a" \
        "session open, $CLOSED after it closed"
else
    soft_fail "ctl stats memory: idle '${IDLE_BYTES:-} ${IDLE_BLOCKS:-}', open '$OPEN'," \
        "closed '$CLOSED'; $(ctl_why)"
fi

# --- 3. an over-long request -------------------------------------------------------------
"$PY" "$CC" long "$CTL" --bytes 100000 --max-secs 20 >"$E2E_TMP/long.log" 2>&1
if [ "$(error_replies "$E2E_TMP/long.log" "longer than 65536")" = 1 ]; then
    pass "a request over 64 KiB: error reply, connection closed"
else
    soft_fail "a request over 64 KiB: $(head -c 300 "$E2E_TMP/long.log")"
fi
still_up "an over-long request"

# --- 4. clients file rewrite ---------------------------------------------------------------
chmod 0640 "$CF"
want_owner=$(stat -c '%U:%G' "$CF")
if [ "$(id -u)" = 0 ]; then
    chown nobody:nogroup "$CF"
    want_owner=nobody:nogroup
fi
U2=9d6b6e3c-8a57-4c2e-b1f6-3c2b8a5e7d10
U3=4f0e2b1a-6c3d-4e5f-8a9b-0c1d2e3f4a5b
U4=0b7c2d4e-1f3a-4b5c-9d6e-7f8a9b0c1d2e
# mode_kept USER: $CF is still a regular file with mode 0640, $want_owner, and holds USER.
mode_kept() {
    local got
    got="$(stat -c '%a %U:%G %F' "$CF")"
    if [ "$got" = "640 $want_owner regular file" ] && grep -qF "$1" "$CF"; then
        pass "clients file rewritten with its mode and owner kept ($got)"
    else
        soft_fail "clients file after add-user: $got (want 640 $want_owner regular file)," \
            "$(grep -c "$1" "$CF") mention(s) of the new user"
    fi
}
if ctl add-user vmess-in "$U2" second@e2e; then
    pass "add-user on a 0640 clients file"
else
    soft_fail "add-user: $(ctl_why)"
fi
mode_kept "$U2"
# The old code wrote FILE.tmp.PID: plant a symlink there (pointing at a victim file).
echo victim >"$E2E_TMP/victim"
ln -s "$E2E_TMP/victim" "$CF.tmp.$MAIN"
ctl add-user vmess-in "$U3" third@e2e || soft_fail "add-user (symlink planted): $(ctl_why)"
if [ "$(cat "$E2E_TMP/victim")" = victim ] && [ -L "$CF.tmp.$MAIN" ] &&
    [ "$(readlink "$CF.tmp.$MAIN")" = "$E2E_TMP/victim" ]; then
    pass "a symlink at the old temp path was neither followed nor replaced"
else
    soft_fail "the symlink at $CF.tmp.$MAIN: victim now '$(head -c 80 "$E2E_TMP/victim")'," \
        "link $(readlink "$CF.tmp.$MAIN" || echo gone)"
fi
mode_kept "$U3"
rm -f "$CF.tmp.$MAIN"
echo keep >"$CF.tmp.$MAIN"
if ctl add-user vmess-in "$U4" fourth@e2e && [ "$(cat "$CF.tmp.$MAIN")" = keep ] &&
    grep -qF "$U4" "$CF"; then
    pass "a file at the old temp path was left alone"
else
    soft_fail "add-user / the file at the old temp path: $(ctl_why);" \
        "$(head -c 80 "$CF.tmp.$MAIN" 2>/dev/null || echo gone)"
fi
rm -f "$CF.tmp.$MAIN"
left=$(find "$E2E_TMP" -maxdepth 1 -name '*clients*' ! -name clients.json | head -3)
[ -z "$left" ] || soft_fail "temp files left behind: $left"
still_up "clients file rewrites"

# --- 5. the control path -------------------------------------------------------------------
# refused NAME PATH WANT_TEXT: a daemon with control path PATH exits non-zero within 10 s,
# naming WANT_TEXT.
refused() {
    local name=$1 path=$2 want=$3 port pid
    port=$(ports 1)
    write_cfg "$E2E_TMP/$name.json" "$port" "$path"
    start_bg "$name" "$EVP_BIN" -c "$E2E_TMP/$name.json"
    pid=$LAST_PID
    if ! wait_gone "$pid" 10; then
        REFUSED_WHY="it started anyway"
        stop_pid "$pid"
        return 1
    fi
    local note
    exit_note note "$pid"
    if [ "$note" = "exit 0" ]; then
        REFUSED_WHY="it exited 0"
        return 1
    fi
    if ! grep -qF -- "$want" "$E2E_TMP/$name.log"; then
        REFUSED_WHY="$note, but the log does not say '$want': $(head -c 200 "$E2E_TMP/$name.log")"
        return 1
    fi
    return 0
}

echo precious >"$E2E_TMP/file.sock"
if refused on-file "$E2E_TMP/file.sock" "$E2E_TMP/file.sock"; then
    pass "a regular file at the control path: refused to start ($(head -1 \
        "$E2E_TMP/on-file.log" | cut -c1-120))"
else
    soft_fail "a regular file at the control path: $REFUSED_WHY"
fi
if [ "$(cat "$E2E_TMP/file.sock" 2>/dev/null)" = precious ]; then
    pass "the file is intact"
else
    soft_fail "the regular file at the control path was changed or removed"
fi

mkdir "$E2E_TMP/dir.sock"
touch "$E2E_TMP/dir.sock/inside"
if refused on-dir "$E2E_TMP/dir.sock" "$E2E_TMP/dir.sock"; then
    pass "a directory at the control path: refused to start"
else
    soft_fail "a directory at the control path: $REFUSED_WHY"
fi
[ -f "$E2E_TMP/dir.sock/inside" ] || soft_fail "the directory at the control path was changed"

if refused second "$CTL" "another evproxy is listening on $CTL"; then
    pass "a second daemon on a live control path: refused"
else
    soft_fail "a second daemon on a live control path: $REFUSED_WHY"
fi
if ctl stats; then
    pass "the first daemon still answers on $CTL"
else
    soft_fail "the first daemon no longer answers on its control path: $(ctl_why)"
fi

"$PY" "$CC" stale "$E2E_TMP/stale.sock" || fail "could not make a stale socket"
port=$(ports 1)
write_cfg "$E2E_TMP/stale.json" "$port" "$E2E_TMP/stale.sock"
start_evproxy stale "$E2E_TMP/stale.json" "$port"
STALE=$LAST_PID
if timeout 10 "$EVP_BIN" ctl -s "$E2E_TMP/stale.sock" stats >"$E2E_TMP/ctl.out" 2>&1; then
    pass "a stale socket at the control path: replaced, the daemon answers on it"
else
    soft_fail "a stale socket at the control path: $(ctl_why)"
fi
# On exit the daemon removes its own socket, not one that took the path meanwhile.
rm -f "$E2E_TMP/stale.sock"
start_bg other "$PY" "$CC" listen "$E2E_TMP/stale.sock" --max-secs 60 \
    --ready "$E2E_TMP/other.ready"
wait_file "$E2E_TMP/other.ready" 10 || fail "the other listener did not start"
stop_pid "$STALE"
if [ -S "$E2E_TMP/stale.sock" ]; then
    pass "on exit the daemon left alone a socket it did not create"
else
    soft_fail "on exit the daemon removed another program's socket at its control path"
fi

# evproxy ctl against a socket that never answers gives up by itself (exit 2, a message).
start_bg silent "$PY" "$CC" listen "$E2E_TMP/silent.sock" --max-secs 60 \
    --ready "$E2E_TMP/silent.ready"
wait_file "$E2E_TMP/silent.ready" 10 || fail "the silent listener did not start"
rc=0
timeout 40 "$EVP_BIN" ctl -s "$E2E_TMP/silent.sock" stats >"$E2E_TMP/ctl.out" 2>&1 || rc=$?
if [ "$rc" = 2 ] && grep -q 'no reply from' "$E2E_TMP/ctl.out"; then
    pass "evproxy ctl gives up on a socket that never answers ($(ctl_why))"
else
    soft_fail "evproxy ctl on a socket that never answers: exit $rc: $(ctl_why)"
fi

still_up "the control path checks"
stop_pid "$MAIN"
[ -e "$CTL" ] && soft_fail "the daemon left its control socket behind on exit"
finish
