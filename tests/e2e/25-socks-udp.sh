#!/usr/bin/env bash
# SOCKS5 UDP ASSOCIATE carried as VMess UDP, both ways, and straight to freedom:
#   direct: python SOCKS5 UDP client -> evproxy socks (udp) -> freedom -> DNS-style responder
#   b: ... -> evproxy socks (udp) -> vmess out -> V2Ray vmess inbound -> freedom -> responder
#   a: ... -> V2Ray socks (udp) -> vmess out -> evproxy vmess inbound -> freedom -> responder
# Each query's answer must be the responder's answer to it, behind a SOCKS header naming
# the responder as the source.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT

# socks_udp_config FILE PORT OUTBOUND_JSON: a socks inbound with UDP on, to that outbound.
socks_udp_config() {
    local f=$1 port=$2 outbound=$3
    cat >"$f" <<JSON
{
  "log": {"loglevel": "warning"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $port, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}}
  ],
  "outbounds": [$outbound]
}
JSON
}

vmess_out() {
    printf '{"tag": "vmess-out", "protocol": "vmess", "settings": {"vnext": [{"address": "127.0.0.1", "port": %s, "users": [{"id": "%s", "alterId": %s, "security": "%s"}]}]}}' "$1" "$UUID_GOOD" "$2" "$3"
}

check_udp() {
    local what=$1 port=$2 out
    out=$("$PY" "$TOOLS/socks5_udp.py" --socks "127.0.0.1:$port" --target "127.0.0.1:$DNS" \
        --count 10 --timeout 10 2>&1)
    if [ $? -eq 0 ]; then
        pass "$what: 10 DNS-style queries through SOCKS5 UDP ASSOCIATE answered"
        echo "| $what PASS" >>"$E2E_TMP/table"
    else
        soft_fail "$what: $out"
        echo "| $what FAIL" >>"$E2E_TMP/table"
    fi
}

read -r P1 P2 P3 P4 P5 < <(ports 5 | tr '\n' ' ')

socks_udp_config "$E2E_TMP/direct.json" "$P1" '{"tag": "direct", "protocol": "freedom"}'
start_evproxy direct "$E2E_TMP/direct.json" "$P1"
check_udp "evproxy socks udp -> freedom" "$P1"

for aid in 0 4; do
    cfg_vmess_server "$E2E_TMP/v2s-$aid.json" "$P2" "$UUID_GOOD" "$aid"
    start_v2ray "v2s-$aid" "$E2E_TMP/v2s-$aid.json" "$P2"
    v2s=$LAST_PID
    socks_udp_config "$E2E_TMP/evc-$aid.json" "$P3" "$(vmess_out "$P2" "$aid" aes-128-gcm)"
    start_evproxy "evc-$aid" "$E2E_TMP/evc-$aid.json" "$P3"
    evc=$LAST_PID
    check_udp "evproxy socks udp -> vmess (alterId $aid) -> v2ray" "$P3"
    stop_pid "$evc"
    stop_pid "$v2s"

    cfg_vmess_server "$E2E_TMP/evs-$aid.json" "$P4" "$UUID_GOOD" "$aid"
    start_evproxy "evs-$aid" "$E2E_TMP/evs-$aid.json" "$P4"
    evs=$LAST_PID
    socks_udp_config "$E2E_TMP/v2c-$aid.json" "$P5" "$(vmess_out "$P4" "$aid" aes-128-gcm)"
    start_v2ray "v2c-$aid" "$E2E_TMP/v2c-$aid.json" "$P5"
    v2c=$LAST_PID
    check_udp "v2ray socks udp -> vmess (alterId $aid) -> evproxy" "$P5"
    stop_pid "$v2c"
    stop_pid "$evs"
done

cat "$E2E_TMP/table"
finish
