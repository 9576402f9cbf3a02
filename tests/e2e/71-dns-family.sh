#!/usr/bin/env bash
# Family-aware name resolution, the same config run by V2Ray 4.34 and by evproxy. A local DNS
# server (dns_server.py) answers dual.test with A 127.0.0.1 and AAAA ::1, and pair.test with
# A 127.0.0.2 and 127.0.0.3. Echo servers listen on 127.0.0.1 only (port E4) and on ::1 only
# (port E6), on reserved ports nothing else listens on in the other family.
#   socks v4-in -> freedom "UseIPv4": dual.test:E4 echoes, dual.test:E6 does not (the A
#     address only is dialled: 127.0.0.1:E6 is closed);
#   socks v6-in -> freedom "UseIPv6": the reverse; and (evproxy only: V2Ray hands the name to
#     Go's system resolver, which knows no .test) v4only.test, with no AAAA record, is dialled
#     as is: its A address (127.0.0.1:E4) echoes.
#   socks UDP -> routing port 53 -> dns outbound: A pair.test answered with both addresses
#     (compared as a set: V2Ray may order them differently), AAAA dual.test with ::1 only,
#     A dual.test with 127.0.0.1 only.
# Every address set has one address per family where a dial depends on it, so V2Ray's random
# pick among them cannot change an outcome.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
read -r E4 E6 PV4 PV6 PE4 PE6 < <(ports 6 | tr '\n' ' ')
start_tool names dns_server.py --set dual.test=127.0.0.1,::1 --set pair.test=127.0.0.2,127.0.0.3 \
    --set v4only.test=127.0.0.1
NAMES=$TOOL_PORT
start_tool echo4 echo_server.py --host 127.0.0.1 --port "$E4"
start_tool echo6 echo_server.py --host ::1 --port "$E6"

config() { # config FILE V4_SOCKS_PORT V6_SOCKS_PORT
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "dns": {"servers": [{"address": "127.0.0.1", "port": $NAMES}]},
  "inbounds": [
    {"tag": "v4-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}},
    {"tag": "v6-in", "listen": "127.0.0.1", "port": $3, "protocol": "socks",
     "settings": {"auth": "noauth"}}
  ],
  "outbounds": [
    {"tag": "direct4", "protocol": "freedom", "settings": {"domainStrategy": "UseIPv4"}},
    {"tag": "direct6", "protocol": "freedom", "settings": {"domainStrategy": "UseIPv6"}},
    {"tag": "dns-out", "protocol": "dns"}
  ],
  "routing": {"rules": [
    {"type": "field", "port": 53, "outboundTag": "dns-out"},
    {"type": "field", "inboundTag": ["v6-in"], "outboundTag": "direct6"}
  ]}
}
EOF2
}

config "$E2E_TMP/v2ray.json" "$PV4" "$PV6"
config "$E2E_TMP/evproxy.json" "$PE4" "$PE6"
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$PV4" "$PV6" "$PV4/udp"
start_evproxy evproxy "$E2E_TMP/evproxy.json" "$PE4" "$PE6" "$PE4/udp"

# reaches IMPL SOCKS_PORT TARGET: 0 when 4 KiB echo back through the proxy.
reaches() {
    E2E_CLIENT_TIMEOUT=30 socks_stream "$2" "$3" --mode echo --bytes 4K --seed 7 \
        >"$E2E_TMP/$1.$2.$3.json" 2>&1
}

# only_via IMPL SOCKS_PORT STRATEGY GOOD_PORT BAD_PORT: dual.test:GOOD_PORT echoes through the
# freedom with STRATEGY, dual.test:BAD_PORT (a server of the other family) does not.
only_via() {
    local name=$1 port=$2 strategy=$3 good=$4 bad=$5
    reaches "$name" "$port" "dual.test:$good" ||
        fail "$name: $strategy did not reach dual.test:$good: $(why_of "$E2E_TMP/$name.$port.dual.test:$good.json")"
    pass "$name: $strategy dials dual.test's address of that family"
    if reaches "$name" "$port" "dual.test:$bad"; then
        fail "$name: $strategy reached the echo server of the other family (port $bad)"
    fi
    pass "$name: $strategy never dials dual.test's address of the other family"
}

for impl in v2ray:$PV4:$PV6 evproxy:$PE4:$PE6; do
    IFS=: read -r name p4 p6 <<<"$impl"
    only_via "$name" "$p4" UseIPv4 "$E4" "$E6"
    only_via "$name" "$p6" UseIPv6 "$E6" "$E4"
done

reaches evproxy "$PE6" "v4only.test:$E4" ||
    fail "evproxy: UseIPv6 to a name with no AAAA record did not fall back to the name as is: $(why_of "$E2E_TMP/evproxy.$PE6.v4only.test:$E4.json")"
pass "evproxy: UseIPv6 with no AAAA record dials the name as is (its A address)"

# ask IMPL PORT NAME TYPE: the reply's answers as a sorted "type ttl data" list, one per line.
ask() {
    local out=$E2E_TMP/$1.$3.$4.json
    "$PY" "$TOOLS/dns_query.py" ask --socks "127.0.0.1:$2" --target 127.0.0.1:53 \
        --name "$3" --type "$4" >"$out" 2>&1 || fail "$1: $4 $3: $(why_of "$out")"
    "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("rcode", r["rcode"], "id", r["id"])
for a in sorted((a["type"], a["ttl"], a["data"]) for a in r["answers"]):
    print(*a)' "$out"
}

for q in "pair.test A" "dual.test AAAA" "dual.test A"; do
    read -r qname qtype <<<"$q"
    got_v2=$(ask v2ray "$PV4" "$qname" "$qtype")
    got_evp=$(ask evproxy "$PE4" "$qname" "$qtype")
    case $q in
    "pair.test A") want=$'rcode 0 id 4660\n1 600 127.0.0.2\n1 600 127.0.0.3' ;;
    "dual.test AAAA") want=$'rcode 0 id 4660\n28 600 ::1' ;;
    "dual.test A") want=$'rcode 0 id 4660\n1 600 127.0.0.1' ;;
    esac
    [ "$got_v2" = "$want" ] || fail "v2ray: $q: got $(tr '\n' ';' <<<"$got_v2") (test expects $(tr '\n' ';' <<<"$want"))"
    [ "$got_evp" = "$got_v2" ] ||
        fail "dns outbound: $q: V2Ray answered $(tr '\n' ';' <<<"$got_v2"), evproxy $(tr '\n' ';' <<<"$got_evp")"
    pass "dns outbound: $q answered with every address of that family, as V2Ray does"
done
finish
