#!/usr/bin/env bash
# Users added and removed while two workers end VMess sessions of users with emails.
# A session's email (for stats and the access log) lives in the users table that the control
# socket's changes replace; under SANITIZE=thread this is where a cross-thread use after free
# would show (lib.sh fails the script on any sanitizer report in a log).
#   1. 6 batches of 20 sessions (user main@e2e, 8 KiB each way, paced at 16 KiB/s): during
#      the odd ones the control socket adds then removes a user (at most 10 times a batch),
#      so that workers free tables; after each, once more, so that after an even batch the
#      main thread frees the table whose emails the workers read. Every session must echo.
#   2. `ctl stats` afterwards counts 120 sessions for main@e2e.
# E2E_VMESS_SO (default: the build's vmess.so) is the plugin the server loads, to try one
# built without the daemon's sanitizer (its atomics are then hidden from TSan).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "user churn needs evproxy itself (control socket): skipped"
    finish
fi
need_evproxy

CTL=$E2E_TMP/ctl.sock
CF=$E2E_TMP/clients.json
UMAIN=3b1f6a0e-2c4d-4e8f-9a1b-5c6d7e8f9a0b
UX=7e2d1c0b-9a8f-4e6d-b5c4-a3b2c1d0e9f8
read -r SOCKS VMESS < <(ports 2 | tr '\n' ' ')
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

printf '{"clients": [{"id": "%s", "alterId": 0, "email": "main@e2e"}]}\n' "$UMAIN" >"$CF"
cat >"$E2E_TMP/server.json" <<EOF
{
  "log": {"loglevel": "info", "access": "$E2E_TMP/access.txt"},
  "control": {"path": "$CTL"},
  "inbounds": [
    {"tag": "vmess-in", "listen": "127.0.0.1", "port": $VMESS, "protocol": "vmess",
     "clientsFile": "$CF", "settings": {"clients": []}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
  "routing": {"rules": [{"type": "field", "inboundTag": ["vmess-in"], "outboundTag": "direct"}]}
}
EOF
cfg_vmess_client "$E2E_TMP/client.json" "$SOCKS" "$VMESS" "$UMAIN" 0 aes-128-gcm
PLUGDIR=$E2E_TMP/plugins
mkdir -p "$PLUGDIR"
cp "${E2E_VMESS_SO:-$EVP_BUILD/plugins/vmess.so}" "$PLUGDIR/vmess.so"
start_bg server "$EVP_BIN" --plugin-dir "$PLUGDIR" -c "$E2E_TMP/server.json"
wait_listening server "$LAST_PID" "$VMESS"
start_evproxy client "$E2E_TMP/client.json" "$SOCKS"

ctl() { timeout 20 "$EVP_BIN" ctl -s "$CTL" "$@" >"$E2E_TMP/ctl.out" 2>&1; }

# --- 1. sessions end while the table is replaced ---------------------------------------------
# change N: adds then removes the churn user; a failure is noted in churn.txt.
change() {
    ctl add-user vmess-in "$UX" "churn$1@e2e" ||
        echo "add-user $1: $(cat "$E2E_TMP/ctl.out")" >>"$E2E_TMP/churn.txt"
    ctl remove-user vmess-in "$UX" ||
        echo "remove-user $1: $(cat "$E2E_TMP/ctl.out")" >>"$E2E_TMP/churn.txt"
}
: >"$E2E_TMP/churn.txt" >"$E2E_TMP/batches.txt"
rounds=0
for b in 1 2 3 4 5 6; do
    rm -f "$E2E_TMP/batch.done"
    (
        socks_stream "$SOCKS" "127.0.0.1:$ECHO" --sessions 20 --bytes 8k --rate 16k --quiet \
            --seed "$b" >"$E2E_TMP/batch$b.json" 2>&1 ||
            echo "batch $b: $(why_of "$E2E_TMP/batch$b.json")" >>"$E2E_TMP/batches.txt"
        touch "$E2E_TMP/batch.done"
    ) &
    load=$!
    n=$((b % 2 ? 0 : 10)) # even batches run with no change: they keep the table they found
    while [ ! -e "$E2E_TMP/batch.done" ] && [ "$n" -lt 10 ]; do
        n=$((n + 1)) rounds=$((rounds + 1))
        change "$rounds"
    done
    wait "$load"
    # Every session of the batch is gone: after an even batch, the table they used is freed
    # by this change, on the main thread, after the workers read its emails.
    rounds=$((rounds + 1))
    change "$rounds"
done
if [ ! -s "$E2E_TMP/batches.txt" ]; then
    pass "120 VMess sessions echoed while a user was added and removed $rounds times"
else
    soft_fail "sessions during user churn: $(head -c 300 "$E2E_TMP/batches.txt")"
fi
if [ -s "$E2E_TMP/churn.txt" ]; then
    soft_fail "control changes: $(head -c 300 "$E2E_TMP/churn.txt")"
else
    pass "$rounds add-user and $rounds remove-user answered"
fi

# --- 2. the email survived in the counters ----------------------------------------------------
if ctl stats && [ "$(user_sessions "$E2E_TMP/ctl.out" main@e2e)" = 120 ]; then
    pass "ctl stats counts the 120 sessions of main@e2e after the churn"
else
    soft_fail "ctl stats after the churn: $(head -c 300 "$E2E_TMP/ctl.out")"
fi
finish
