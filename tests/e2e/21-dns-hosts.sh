#!/usr/bin/env bash
# dns.hosts (issue 14), the same config run by V2Ray 4.34 and by evproxy: socks -> freedom
# (domainStrategy UseIP, so V2Ray resolves through its DNS, hosts first) with
#   "echo.test": 127.0.0.1 (a bare name: that name only), "domain:alias.test": "echo.test"
#   (a name followed through the hosts), and dns.servers a closed loopback port, so a name
#   the hosts do not map cannot leave the machine.
# Both carry 256 KiB (sha256) to echo.test and to www.alias.test; both fail sub.echo.test
# (a bare key is no suffix); and evproxy -t names a bad key. The echo server listens on
# 127.0.0.1 and ::1: V2Ray 4.34 adds ::1 to a host mapped to exactly 127.0.0.1
# (app/dns/hosts.go) and its freedom dials one of the two at random.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool echo echo_server.py --host 127.0.0.1 --host ::1
ECHO=$TOOL_PORT
read -r CLOSED PV PE < <(ports 3 | tr '\n' ' ')

config() { # config FILE SOCKS_PORT
    cat >"$1" <<EOF2
{
  "log": {"loglevel": "warning"},
  "dns": {
    "hosts": {"echo.test": "127.0.0.1", "domain:alias.test": "echo.test"},
    "servers": [{"address": "127.0.0.1", "port": $CLOSED}]
  },
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom",
                 "settings": {"domainStrategy": "UseIP"}}]
}
EOF2
}

config "$E2E_TMP/v2ray.json" "$PV"
config "$E2E_TMP/evproxy.json" "$PE"
start_v2ray v2ray "$E2E_TMP/v2ray.json" "$PV"
start_evproxy evproxy "$E2E_TMP/evproxy.json" "$PE"

for impl in v2ray:$PV evproxy:$PE; do
    name=${impl%%:*} port=${impl##*:}
    for host in echo.test www.alias.test; do
        out=$E2E_TMP/$name.$host.json
        E2E_CLIENT_TIMEOUT=30 socks_stream "$port" "$host:$ECHO" --mode echo --bytes 256K \
            --seed 5 >"$out" 2>&1 || fail "$name: $host through dns.hosts: $(why_of "$out")"
        pass "$name: $host reaches 127.0.0.1 through dns.hosts"
    done
    out=$E2E_TMP/$name.sub.json
    if E2E_CLIENT_TIMEOUT=30 socks_stream "$port" "sub.echo.test:$ECHO" --mode echo \
        --bytes 1K --seed 5 >"$out" 2>&1; then
        fail "$name: sub.echo.test was mapped by the bare key echo.test"
    fi
    pass "$name: sub.echo.test is not mapped (a bare key matches its name only)"
done

cat >"$E2E_TMP/bad.json" <<EOF
{"dns": {"hosts": {"regexp:(": "127.0.0.1"}},
 "inbounds": [{"port": $PE, "listen": "127.0.0.1", "protocol": "socks"}],
 "outbounds": [{"protocol": "freedom"}]}
EOF
if "$EVP_BIN" -t -c "$E2E_TMP/bad.json" >"$E2E_TMP/bad.out" 2>&1; then
    fail "evproxy -t took a bad dns.hosts key"
fi
grep -q 'dns.hosts\["regexp:("\]' "$E2E_TMP/bad.out" ||
    fail "-t did not name the bad key: $(cat "$E2E_TMP/bad.out")"
pass "evproxy -t names a bad dns.hosts key"
finish
