#!/usr/bin/env bash
# dns.servers with domains and expectIPs (issue 14), the same config run by V2Ray 4.34 and by
# evproxy: socks -> freedom (domainStrategy UseIP). Two DNS servers on 127.0.0.1 answer every
# name, one with 127.0.0.2 (DNS2), the other with 127.0.0.3 (DNS3); an echo server listens
# on 127.0.0.2 and one on 127.0.0.3, on the same port. The servers, in order:
#   0: DNS2, plain;
#   1: DNS3, domains domain:three.test and keyword:trio, expectIPs 127.0.0.3 (its answer kept);
#   2: DNS3, domains domain:expect.test, expectIPs 127.0.0.2 (its answer dropped: next).
# So www.three.test and trio.other.test reach 127.0.0.3 (the domains server, listed second,
# asked first), www.other.test reaches 127.0.0.2 (config order), www.expect.test reaches
# 127.0.0.2 (server 2's answer is not in its expectIPs, server 0 is asked next). Both
# implementations must pick the same echo server for every name. Then evproxy reloads a
# config where www.other.test is one of server 1's domains, and reaches 127.0.0.3; and
# evproxy -t names a bad domain rule and a bad expectIPs entry by path.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool dns2 dns_server.py --answer 127.0.0.2
DNS2=$TOOL_PORT
start_tool dns3 dns_server.py --answer 127.0.0.3
DNS3=$TOOL_PORT
read -r ECHO PV PE < <(ports 3 | tr '\n' ' ')
start_tool echo2 echo_server.py --host 127.0.0.2 --port "$ECHO"
start_tool echo3 echo_server.py --host 127.0.0.3 --port "$ECHO"

config() { # config FILE SOCKS_PORT SERVER1_DOMAINS
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "info"},
  "dns": {
    "servers": [
      {"address": "127.0.0.1", "port": $DNS2},
      {"address": "127.0.0.1", "port": $DNS3, "domains": [$3],
       "expectIPs": ["127.0.0.3"]},
      {"address": "127.0.0.1", "port": $DNS3, "domains": ["domain:expect.test"],
       "expectIPs": ["127.0.0.2/32"]}
    ]
  },
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom",
                 "settings": {"domainStrategy": "UseIP"}}]
}
EOF2
}

# reached IMPL PORT NAME: sets REACHED to the echo server (2 or 3) a 64 KiB echo to NAME
# through the socks port reached; fails the script when it did not come through or reached
# none or both.
reached() {
    local impl=$1 port=$2 host=$3 b2 b3 a2 a3 out=$E2E_TMP/$1.$3.json
    b2=$(accepted_count echo2) b3=$(accepted_count echo3)
    E2E_CLIENT_TIMEOUT=30 socks_stream "$port" "$host:$ECHO" --mode echo --bytes 64K \
        --seed 6 >"$out" 2>&1 || fail "$impl: $host: $(why_of "$out")"
    a2=$(accepted_count echo2) a3=$(accepted_count echo3)
    case "$((a2 - b2))$((a3 - b3))" in
    10) REACHED=2 ;;
    01) REACHED=3 ;;
    *) fail "$impl: $host reached echo2 $((a2 - b2)) and echo3 $((a3 - b3)) times" ;;
    esac
}

DOMAINS='"domain:three.test", "keyword:trio"'
config "$E2E_TMP/v2ray.json" "$PV" "$DOMAINS"
config "$E2E_TMP/evproxy.json" "$PE" "$DOMAINS"
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$PV"
start_evproxy evproxy "$E2E_TMP/evproxy.json" "$PE"
S_PID=$LAST_PID

for case in www.three.test:3 trio.other.test:3 www.other.test:2 www.expect.test:2; do
    host=${case%%:*} want=${case##*:}
    reached v2ray "$PV" "$host"
    got_v=$REACHED
    reached evproxy "$PE" "$host"
    got_e=$REACHED
    [ "$got_v" = "$want" ] || fail "v2ray: $host reached 127.0.0.$got_v, the test wants $want"
    [ "$got_e" = "$got_v" ] ||
        fail "evproxy: $host reached 127.0.0.$got_e, V2Ray reached 127.0.0.$got_v"
    pass "$host reaches 127.0.0.$want in V2Ray and in evproxy"
done

# A reload re-reads dns.servers: www.other.test becomes one of server 1's domains.
applied=$(grep -c 'reload applied' "$E2E_TMP/evproxy.log")
config "$E2E_TMP/evproxy.json" "$PE" '"domain:three.test", "full:www.other.test"'
kill -HUP "$S_PID"
for _ in $(seq 1 300); do
    [ "$(grep -c 'reload applied' "$E2E_TMP/evproxy.log")" -gt "$applied" ] && break
    sleep 0.1
done
[ "$(grep -c 'reload applied' "$E2E_TMP/evproxy.log")" -gt "$applied" ] ||
    fail "evproxy did not apply the reload in 30 s"
reached evproxy "$PE" www.other.test
[ "$REACHED" = 3 ] || fail "after the reload www.other.test reached 127.0.0.$REACHED, not .3"
pass "after a reload naming it in server 1's domains, www.other.test reaches 127.0.0.3"

for bad in '"domains": ["regexp:("]' '"expectIPs": ["10.0.0.0/40"]'; do
    cat >"$E2E_TMP/bad.json" <<EOF
{"dns": {"servers": ["127.0.0.1", {"address": "127.0.0.1", "port": $DNS3, $bad}]},
 "inbounds": [{"port": $PE, "listen": "127.0.0.1", "protocol": "socks"}],
 "outbounds": [{"protocol": "freedom"}]}
EOF
    key=${bad%%\":*}
    key=${key#\"}
    if "$EVP_BIN" -t -c "$E2E_TMP/bad.json" >"$E2E_TMP/bad.out" 2>&1; then
        fail "evproxy -t took a bad $key"
    fi
    grep -qF "dns.servers[1].$key" "$E2E_TMP/bad.out" ||
        fail "-t did not name dns.servers[1].$key: $(cat "$E2E_TMP/bad.out")"
    pass "evproxy -t names a bad dns.servers[1].$key"
done
finish
