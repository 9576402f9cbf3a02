#!/usr/bin/env bash
# UDP sessions that die during their own handshake must leave their owner's table:
#   socks: one UDP ASSOCIATE sends, round after round, datagrams to 255.255.255.255 (connect
#          refused), to a target a rule routes to blackhole and to one whose outbound cannot
#          dial, each followed by a query to a responder that must be answered; then the
#          association is closed and a new one must still be served;
#   doko:  the same through dokodemo-door udp inbounds whose fixed targets are those three.
# The daemon must keep serving, and under SANITIZE=1 no use-after-free or double close shows.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT
read -r SOCKS DB DH DR DG < <(ports 5 | tr '\n' ' ')
BLOCKED=127.0.0.2:9   # routed to blackhole by an ip rule
UNDIALED=127.0.0.3:9  # routed to a vmess outbound whose server cannot be dialled

doko() { # doko TAG PORT HOST:PORT
    printf '{"tag": "%s", "listen": "127.0.0.1", "port": %s, "protocol": "dokodemo-door",
     "settings": {"address": "%s", "port": %s, "network": "udp"}}' "$1" "$2" "${3%:*}" "${3##*:}"
}

cat >"$E2E_TMP/faults.json" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $SOCKS, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}},
    $(doko doko-bcast "$DB" 255.255.255.255:9),
    $(doko doko-blocked "$DH" "$BLOCKED"),
    $(doko doko-undialed "$DR" "$UNDIALED"),
    $(doko doko-good "$DG" "127.0.0.1:$DNS")
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "block", "protocol": "blackhole", "settings": {}},
    {"tag": "nowhere", "protocol": "vmess", "settings": {"vnext": [{"address":
     "255.255.255.255", "port": 1, "users": [{"id": "$UUID_GOOD", "alterId": 0}]}]}}
  ],
  "routing": {"rules": [
    {"type": "field", "ip": ["${BLOCKED%:*}"], "outboundTag": "block"},
    {"type": "field", "ip": ["${UNDIALED%:*}"], "outboundTag": "nowhere"}
  ]}
}
JSON
FAULTS=("$PY" "$TOOLS/udp_faults.py")

# expect_log LOG PATTERN: the fault path was taken (the test would prove nothing otherwise).
expect_log() {
    [ "$EVP_IMPL" = evproxy ] || return 0 # evproxy's own log lines
    if grep -q "$2" "$E2E_TMP/$1.log"; then
        pass "$1 log shows the doomed sessions: $2"
    else
        soft_fail "no \"$2\" in $1.log: the fault path was not exercised"
    fi
}

# still_up LOG PID: the daemon survived; then stop it.
still_up() {
    if alive "$2"; then
        pass "$1 is still running"
    else
        soft_fail "$1 died: $(death_note "$2")"
        show_log "$1" 30
    fi
    stop_pid "$2"
}

PORTS=("$SOCKS" "$DB/udp" "$DH/udp" "$DR/udp" "$DG/udp")
BAD=(--bad 255.255.255.255:9 --bad "$BLOCKED" --bad "$UNDIALED")
start_evproxy socks "$E2E_TMP/faults.json" "${PORTS[@]}"
expect_ok socks "socks udp: doomed datagrams, then answers on the same association" \
    "${FAULTS[@]}" socks --socks "127.0.0.1:$SOCKS" "${BAD[@]}" --good "127.0.0.1:$DNS" --rounds 5
expect_ok socks "socks udp: a new association after the first was closed" \
    "${FAULTS[@]}" socks --socks "127.0.0.1:$SOCKS" "${BAD[@]}" --good "127.0.0.1:$DNS" --rounds 2
expect_log socks "udp:255.255.255.255:9: connect failed"
expect_log socks "udp:127.0.0.3:9: connect failed"
expect_log socks "blocked \[socks-in -> block\]"
still_up socks "$LAST_PID"

start_evproxy doko "$E2E_TMP/faults.json" "${PORTS[@]}"
expect_ok doko "dokodemo-door udp: doomed datagrams from one peer, then answers" \
    "${FAULTS[@]}" doko --bad "$DB" --bad "$DH" --bad "$DR" --good "$DG" --rounds 5
expect_log doko "udp:255.255.255.255:9: connect failed"
expect_log doko "udp:127.0.0.3:9: connect failed"
expect_log doko "blocked \[doko-blocked -> block\]"
still_up doko "$LAST_PID"
finish
