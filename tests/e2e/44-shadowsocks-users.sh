#!/usr/bin/env bash
# Users of a shadowsocks inbound through the control socket, under load: the inbound's users
# come from a clientsFile (main@e2e, chacha20-ietf-poly1305); while ss-local (main's key)
# runs batches of sessions, `evproxy ctl` adds then removes an aes-256-gcm user again and
# again. Checked: every session echoes; list-users shows the users without passwords; the
# added user's ss-local is served while it is there and refused (and the target not reached)
# once it is removed; the clientsFile follows; `ctl stats` counts main@e2e's sessions.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "users through the control socket need evproxy itself: skipped"
    finish
fi
need_evproxy

CTL=$E2E_TMP/ctl.sock
CF=$E2E_TMP/clients.json
read -r SP MAIN_CP ADD_CP < <(ports 3 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

printf '{"clients": [{"password": "main-secret", "email": "main@e2e"}]}\n' >"$CF"
cat >"$E2E_TMP/server.json" <<EOF
{
  "log": {"loglevel": "info"},
  "control": {"path": "$CTL"},
  "inbounds": [{"tag": "ss-in", "listen": "127.0.0.1", "port": $SP, "protocol": "shadowsocks",
    "clientsFile": "$CF", "settings": {"method": "chacha20-ietf-poly1305", "clients": []}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
start_evproxy server "$E2E_TMP/server.json" "$SP"
S_PID=$LAST_PID
start_bg main.local ss-local -s 127.0.0.1 -p "$SP" -k main-secret -m chacha20-ietf-poly1305 \
    -b 127.0.0.1 -l "$MAIN_CP"
wait_listening main.local "$LAST_PID" "$MAIN_CP"
start_bg added.local ss-local -s 127.0.0.1 -p "$SP" -k added-secret -m aes-256-gcm \
    -b 127.0.0.1 -l "$ADD_CP"
wait_listening added.local "$LAST_PID" "$ADD_CP"

ctl() { timeout 20 "$EVP_BIN" ctl -s "$CTL" "$@" >"$E2E_TMP/ctl.out" 2>&1; }
add() { ctl add-user ss-in added-secret added@e2e aes-256-gcm; }
remove() { ctl remove-user ss-in added@e2e; }

# --- 1. sessions while the table is replaced --------------------------------------------
: >"$E2E_TMP/churn.txt"
: >"$E2E_TMP/batches.txt"
rounds=0
for b in 1 2 3 4; do
    rm -f "$E2E_TMP/batch.done"
    (
        socks_stream "$MAIN_CP" "127.0.0.1:$ECHO" --sessions 20 --bytes 8k --rate 16k --quiet \
            --seed "$b" >"$E2E_TMP/batch$b.json" 2>&1 ||
            echo "batch $b: $(why_of "$E2E_TMP/batch$b.json")" >>"$E2E_TMP/batches.txt"
        touch "$E2E_TMP/batch.done"
    ) &
    load=$!
    n=0
    while [ ! -e "$E2E_TMP/batch.done" ] && [ "$n" -lt 10 ]; do
        n=$((n + 1)) rounds=$((rounds + 1))
        add || echo "add $rounds: $(cat "$E2E_TMP/ctl.out")" >>"$E2E_TMP/churn.txt"
        remove || echo "remove $rounds: $(cat "$E2E_TMP/ctl.out")" >>"$E2E_TMP/churn.txt"
    done
    wait "$load"
done
if [ -s "$E2E_TMP/batches.txt" ]; then
    soft_fail "sessions during user churn: $(head -c 300 "$E2E_TMP/batches.txt")"
else
    pass "80 shadowsocks sessions echoed while a user was added and removed $rounds times"
fi
if [ -s "$E2E_TMP/churn.txt" ]; then
    soft_fail "control changes: $(head -c 300 "$E2E_TMP/churn.txt")"
else
    pass "$rounds add-user and $rounds remove-user answered"
fi

# --- 2. the added user is served, listed without its password, and refused once removed ---
add || fail "add-user: $(cat "$E2E_TMP/ctl.out")"
ctl list-users ss-in || fail "list-users: $(cat "$E2E_TMP/ctl.out")"
if grep -q added@e2e "$E2E_TMP/ctl.out" && ! grep -q secret "$E2E_TMP/ctl.out"; then
    pass "list-users shows added@e2e and no password"
else
    soft_fail "list-users: $(head -c 300 "$E2E_TMP/ctl.out")"
fi
if grep -q added-secret "$CF"; then
    pass "the clientsFile holds the added user"
else
    soft_fail "the clientsFile misses the added user: $(head -c 300 "$CF")"
fi
if socks_stream "$ADD_CP" "127.0.0.1:$ECHO" --bytes 64k --seed 7 --timeout 20 \
    >"$E2E_TMP/added.json" 2>&1; then
    pass "the added user is served"
else
    soft_fail "the added user: $(why_of "$E2E_TMP/added.json")"
fi
remove || fail "remove-user: $(cat "$E2E_TMP/ctl.out")"
before=$(accepted_count echo)
if socks_stream "$ADD_CP" "127.0.0.1:$ECHO" --bytes 1k --seed 8 --timeout 5 \
    >"$E2E_TMP/removed.json" 2>&1; then
    soft_fail "a removed user was served"
elif [ "$(accepted_count echo)" != "$before" ]; then
    soft_fail "a removed user's session reached the target"
elif ! grep -q "no user's key" "$E2E_TMP/server.log"; then
    soft_fail "the removed user's refusal is not logged as such"
else
    pass "the removed user is refused and reaches nothing"
fi

# --- 3. the counters kept main@e2e's sessions --------------------------------------------
if ctl stats && [ "$(user_sessions "$E2E_TMP/ctl.out" main@e2e)" = 80 ]; then
    pass "ctl stats counts the 80 sessions of main@e2e"
else
    soft_fail "ctl stats: $(head -c 300 "$E2E_TMP/ctl.out")"
fi
alive "$S_PID" || fail "the server died ($(death_note "$S_PID"))"
finish
