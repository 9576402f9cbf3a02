#!/usr/bin/env bash
# Hostile clients against an evproxy VMess server and a SOCKS inbound: each is cut off, the
# daemon stays up and the next good client is served.
#   - a client dripping one byte every 0.5 s: closed by the handshake deadline (4 s from the
#     accept, as V2Ray), so well within 10 s;
#   - 64 KiB of random bytes: no byte of answer (no distinguishing reply), closed after the
#     drain;
#   - 100 idle connections that never speak: all closed by the handshake deadline;
#   - random bytes to the SOCKS port: closed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r SP CP SOCKS < <(ports 3 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/server.json" "$SP" "$UUID_GOOD" 0
start_evproxy server "$E2E_TMP/server.json" "$SP"
S_PID=$LAST_PID
cfg_socks_freedom "$E2E_TMP/socks.json" "$SOCKS"
start_evproxy socks "$E2E_TMP/socks.json" "$SOCKS"
K_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/client.json" "$CP" "$SP" "$UUID_GOOD" 0 aes-128-gcm
start_evproxy client "$E2E_TMP/client.json" "$CP"

# hostile NAME WHAT ARGS...: runs one hostile client in the background; the verdict goes to
# $E2E_TMP/NAME.verdict and is read by the script itself (a subshell cannot count a failure).
hostile() {
    local name=$1 what=$2 out
    shift 2
    if out=$("$PY" "$TOOLS/hostile.py" "$@" 2>&1); then
        echo "ok $what: $out" >"$E2E_TMP/$name.verdict"
    else
        echo "FAIL $what: $out" >"$E2E_TMP/$name.verdict"
    fi
}

# The slow ones run side by side to keep the script short.
hostile drip "vmess port, one byte every 0.5 s" drip --port "$SP" --within 10 &
h1=$!
hostile idle "vmess port, 100 idle connections" idle --port "$SP" --count 100 --within 10 &
h2=$!
hostile junk "vmess port, 64 KiB of random bytes" garbage --port "$SP" --bytes 65536 \
    --within 10 &
h3=$!
hostile sjunk "socks port, 4 KiB of random bytes" garbage --port "$SOCKS" --bytes 4096 \
    --within 10 &
h4=$!
wait "$h1" "$h2" "$h3" "$h4"
for name in drip idle junk sjunk; do
    verdict=$(cat "$E2E_TMP/$name.verdict" 2>/dev/null)
    case $verdict in
    ok\ *) pass "${verdict#ok }" ;;
    *) soft_fail "${verdict#FAIL }" ;;
    esac
done

alive "$S_PID" || fail "the VMess server died ($(death_note "$S_PID"))"
alive "$K_PID" || fail "the SOCKS daemon died ($(death_note "$K_PID"))"
out=$E2E_TMP/good.json
if socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 1M --seed 5 >"$out" 2>&1; then
    pass "a good client is served afterwards (1 MiB each way, sha256)"
else
    soft_fail "good client after the hostile ones: $(why_of "$out")"
fi
finish
