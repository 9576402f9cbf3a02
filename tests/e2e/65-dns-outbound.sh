#!/usr/bin/env bash
# The dns outbound (issue 14), the same v2rayN-shaped config run by V2Ray 4.34 and by evproxy:
# socks (UDP on) -> routing `port: 53` -> {"protocol": "dns", "settings": {"address":
# 127.0.0.1, "port": R}}, with dns.hosts mapping mapped.test and dns.servers a local DNS
# server (dns_server.py: *.test -> 127.0.0.1, nx* -> NXDOMAIN). R is a local responder
# (dns_query.py serve) that answers TXT. No query leaves the machine.
# Over SOCKS UDP and over a SOCKS CONNECT (DNS over TCP, 2-byte framed), both must give:
#   A mapped.test -> 10.1.2.3 (dns.hosts), TTL 600, the query's id; A real.test -> 127.0.0.1
#   (dns.servers); A nxname.test -> NXDOMAIN; AAAA mapped.test -> no answers, NOERROR;
#   TXT some.test -> the responder's record, relayed unchanged (TTL 77);
# the two replies must be the same JSON; and the responder must see the TXT queries only
# (A/AAAA are answered by the proxy's own resolver).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool names dns_server.py --host 127.0.0.1
NAMES=$TOOL_PORT
start_tool resp dns_query.py serve
RESP=$TOOL_PORT
read -r PV PE < <(ports 2 | tr '\n' ' ')

config() { # config FILE SOCKS_PORT
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "dns": {
    "hosts": {"mapped.test": "10.1.2.3"},
    "servers": [{"address": "127.0.0.1", "port": $NAMES}]
  },
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth", "udp": true, "ip": "127.0.0.1"}}],
  "outbounds": [
    {"tag": "proxy", "protocol": "freedom"},
    {"tag": "dns-out", "protocol": "dns",
     "settings": {"address": "127.0.0.1", "port": $RESP}}
  ],
  "routing": {"rules": [{"type": "field", "port": 53, "outboundTag": "dns-out"}]}
}
EOF2
}

config "$E2E_TMP/v2ray.json" "$PV"
config "$E2E_TMP/evproxy.json" "$PE"
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$PV" "$PV/udp"
start_evproxy evproxy "$E2E_TMP/evproxy.json" "$PE" "$PE/udp"

# ask IMPL PORT NAME TYPE [--tcp]: the reply's JSON in $E2E_TMP/IMPL.NAME.TYPE[.tcp].json
ask() {
    local out=$E2E_TMP/$1.$3.$4${5:+.tcp}.json
    "$PY" "$TOOLS/dns_query.py" ask --socks "127.0.0.1:$2" --target 127.0.0.1:53 \
        --name "$3" --type "$4" ${5:+"$5"} >"$out" 2>&1 ||
        fail "$1: $4 $3${5:+ over TCP}: $(why_of "$out")"
    cat "$out"
}

# expect IMPL JSON PYTHON-CONDITION TEXT: the condition on the reply r must hold.
expect() {
    "$PY" -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$2" "$3" || fail "$1: $4: got $2"
    pass "$1: $4"
}

for via in "" --tcp; do
    how=${via:+TCP}
    how=${how:-UDP}
    for impl in v2ray:$PV evproxy:$PE; do
        name=${impl%%:*} port=${impl##*:}
        r=$(ask "$name" "$port" mapped.test A "$via")
        expect "$name" "$r" 'r["id"] == 0x1234 and r["qr"] == 1 and r["rcode"] == 0 and r["answers"] == [{"type": 1, "ttl": 600, "data": "10.1.2.3"}]' \
            "$how: A mapped.test answered from dns.hosts (TTL 600, the query's id)"
        r=$(ask "$name" "$port" real.test A "$via")
        expect "$name" "$r" 'r["rcode"] == 0 and [a["data"] for a in r["answers"]] == ["127.0.0.1"]' \
            "$how: A real.test answered through dns.servers"
        r=$(ask "$name" "$port" nxname.test A "$via")
        expect "$name" "$r" 'r["rcode"] == 3 and r["answers"] == []' \
            "$how: A nxname.test is NXDOMAIN"
        r=$(ask "$name" "$port" mapped.test AAAA "$via")
        expect "$name" "$r" 'r["rcode"] == 0 and r["answers"] == []' \
            "$how: AAAA of an IPv4-only name: NOERROR, no answers"
        r=$(ask "$name" "$port" some.test TXT "$via")
        expect "$name" "$r" 'r["rcode"] == 0 and r["answers"] == [{"type": 16, "ttl": 77, "data": "txt-for:some.test"}]' \
            "$how: TXT some.test forwarded to the override address and relayed"
    done
    for q in mapped.test.A real.test.A nxname.test.A mapped.test.AAAA some.test.TXT; do
        f=$q${via:+.tcp}.json
        cmp -s "$E2E_TMP/v2ray.$f" "$E2E_TMP/evproxy.$f" ||
            fail "$how: $q: V2Ray said $(cat "$E2E_TMP/v2ray.$f"), evproxy $(cat "$E2E_TMP/evproxy.$f")"
    done
    pass "$how: V2Ray and evproxy give the same replies"
done

# The responder saw each TXT query (UDP then TCP, from each proxy) and nothing else.
seen=$(sort "$E2E_TMP/resp.stats" | uniq -c | awk '{print $1, $2, $3, $4}' | tr '\n' ';')
[ "$seen" = "2 tcp 16 some.test;2 udp 16 some.test;" ] ||
    fail "the responder saw other queries than the TXT ones: $seen"
pass "only the TXT queries reached the responder (over UDP and over TCP, as the client sent)"
finish
