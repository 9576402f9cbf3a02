#!/usr/bin/env bash
# `make run`'s main job: evproxy --default-config holds socks 127.0.0.1:1080 -> VMess out ->
# VMess in 127.0.0.1:10086 -> freedom, and prints the settings a V2Ray client needs.
#   - curl --socks5-hostname through 127.0.0.1:1080 fetches a local page (sha256 match), and
#     the log shows that one session went socks-in -> vmess-out and then came out of the
#     VMess inbound (vmess-in -> direct): the page really crossed VMess;
#   - a real V2Ray client configured with the printed id reaches the VMess port and fetches
#     the same page, so the printed settings are the working ones (one more vmess-in session).
# The ports are fixed by the product (1080, 10086): runs of this script take turns (a lock),
# and the test fails, naming the port, when something else already holds one.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
# The fixed ports are the machine's, not this run's: a run of this script in another tree (a
# parallel make check) wants them too (it got half the other's connections while evproxy let
# a second daemon share a port; now it cannot start). One run at a time: a lock on a file
# every run shares, held until this script and what it started (they inherit it) are gone.
exec {PORTS_LOCK}>>"$E2E_PORTS_USED.default-config.lock"
flock -w 300 "$PORTS_LOCK" || fail "another run held 1080/10086 (the lock) for 300 s"
for p in 1080 10086; do
    if ss -ltnH "sport = :$p" | grep -q .; then
        fail "127.0.0.1:$p is already in use; the default config needs it"
    fi
done
head -c 100000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
WANT=$(sha256_file "$E2E_TMP/page.txt")
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT

start_bg default "$EVP_BIN" --default-config
DEF_PID=$LAST_PID
wait_listening default "$DEF_PID" 1080 10086

got=$(curl -s --max-time 10 --socks5-hostname 127.0.0.1:1080 "http://localhost:$HTTP/" |
    sha256sum | cut -d' ' -f1)
if [ "$got" = "$WANT" ]; then
    pass "curl --socks5-hostname 127.0.0.1:1080 through the default config: page sha256 match"
else
    soft_fail "curl through the default config: got sha256 $got, want $WANT"
fi
# sessions IN OUT: how many sessions to the page's server the log shows from IN to OUT.
sessions() {
    grep -cF "tcp:localhost:$HTTP accepted [$1 -> $2]" "$E2E_TMP/default.log"
}
# legs WANT_SOCKS WANT_VMESS WHAT: the log must count these sessions to the page's server.
legs() {
    local socks vmess
    socks=$(sessions socks-in vmess-out) vmess=$(sessions vmess-in direct)
    if [ "$socks" = "$1" ] && [ "$vmess" = "$2" ]; then
        pass "$3: the log shows $socks socks-in -> vmess-out and $vmess vmess-in -> direct"
    else
        show_log default
        soft_fail "$3: the log shows $socks socks-in -> vmess-out and $vmess vmess-in ->" \
            "direct sessions, want $1 and $2"
    fi
}
legs 1 1 "curl through 127.0.0.1:1080 crossed VMess"

ID=$(grep -oE 'id [0-9a-f-]{36}' "$E2E_TMP/default.log" | head -1 | cut -d' ' -f2)
if [ -z "$ID" ]; then
    show_log default
    fail "the default config printed no id for V2Ray clients"
fi
read -r VS < <(ports 1)
cfg_vmess_client "$E2E_TMP/v2client.json" "$VS" 10086 "$ID" 0 auto
start_v2ray v2client "$E2E_TMP/v2client.json" "$VS"
got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$VS" "http://localhost:$HTTP/" |
    sha256sum | cut -d' ' -f1)
if [ "$got" = "$WANT" ]; then
    pass "a V2Ray client with the printed id reaches 127.0.0.1:10086: page sha256 match"
else
    soft_fail "V2Ray client with the printed id: got sha256 $got, want $WANT"
fi
legs 1 2 "the V2Ray client came in through the VMess inbound"
alive "$DEF_PID" || fail "evproxy --default-config died ($(death_note "$DEF_PID"))"
finish
