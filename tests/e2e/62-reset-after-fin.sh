#!/usr/bin/env bash
# A target that resets after the client has ended its side must reach the client as a reset,
# never as a clean end: otherwise a cut stream looks complete to the application.
#
# One evproxy server (vmess + socks inbounds -> freedom) and an evproxy client (socks -> vmess)
# in front of it. A client sends a few bytes, half-closes, and reads to the end from:
#   - a target that reads to EOF, sends 256 KiB, then resets (SO_LINGER 0): the client must see
#     a reset, through the server's socks port and through VMess, and what it read must be a
#     prefix of the target's stream;
#   - the same target ending with a FIN (the control): a clean end with all 256 KiB.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
FAULT=("$PY" "$TOOLS/fault_client.py")

start_tool rst fault_target.py reset --after-fin --bytes 256K --seed 7
RST=$TOOL_PORT
start_tool fin fault_target.py reset --after-fin --end fin --bytes 256K --seed 7
FIN=$TOOL_PORT

read -r SP KP CP < <(ports 3 | tr '\n' ' ')
cat >"$E2E_TMP/server.json" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [
    {"tag": "vmess-in", "listen": "127.0.0.1", "port": $SP, "protocol": "vmess",
     "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0}]}},
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $KP, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": false}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
JSON
start_evproxy server "$E2E_TMP/server.json" "$SP" "$KP"
S_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/client.json" "$CP" "$SP" "$UUID_GOOD" 0 aes-128-gcm
start_evproxy client "$E2E_TMP/client.json" "$CP"
C_PID=$LAST_PID

# case NAME VIA_PORT TARGET_PORT EXPECT [EXTRA_CHECK]: one half-closed session.
case_() {
    local name=$1 via=$2 target=$3 expect=$4 out
    out=$(timeout 30 "${FAULT[@]}" halfclose --socks "127.0.0.1:$via" \
        --target "127.0.0.1:$target" --seed 7 --expect "$expect" --within 20)
    local rc=$?
    echo "| $name: $out"
    if [ "$rc" != 0 ]; then
        soft_fail "$name: want $expect: $out"
    elif [ "$expect" = eof ] && ! grep -q '"read": 262144' <<<"$out"; then
        soft_fail "$name: clean end without all 256 KiB: $out"
    else
        pass "$name"
    fi
}

case_ "socks, target resets after the client's FIN" "$KP" "$RST" reset
case_ "vmess, target resets after the client's FIN" "$CP" "$RST" reset
case_ "socks, target ends with FIN (control)" "$KP" "$FIN" eof
case_ "vmess, target ends with FIN (control)" "$CP" "$FIN" eof
alive "$S_PID" && alive "$C_PID" && pass "server and client alive" ||
    soft_fail "a daemon died"
finish
