#!/usr/bin/env bash
# routing.rules beyond inboundTag, as V2Ray users write them: a socks inbound whose rules send
# a domain and a port to a blackhole (http response) and everything else to freedom.
#   - curl through socks to the page: served by freedom (sha256 match);
#   - a "full:" domain rule and a port rule: V2Ray's 403 from the blackhole instead.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
head -c 50000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
WANT=$(sha256_file "$E2E_TMP/page.txt")
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT
start_tool http2 http_server.py --page "$E2E_TMP/page.txt"
HTTP2=$TOOL_PORT
read -r SOCKS < <(ports 1)
cat >"$E2E_TMP/routing.json" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $SOCKS, "protocol": "socks",
     "settings": {"auth": "noauth"}}
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "blocked", "protocol": "blackhole", "settings": {"response": {"type": "http"}}}
  ],
  "routing": {
    "domainStrategy": "AsIs",
    "rules": [
      {"type": "field", "domain": ["full:blocked.localhost"], "outboundTag": "blocked"},
      {"type": "field", "port": "$HTTP2", "network": "tcp", "outboundTag": "blocked"}
    ]
  }
}
JSON
start_evproxy evproxy "$E2E_TMP/routing.json" "$SOCKS"

fetch() { curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 10 --socks5-hostname "127.0.0.1:$SOCKS" "$1"; }

code=$(fetch "http://localhost:$HTTP/")
if [ "$code" = 200 ] && [ "$(sha256_file "$E2E_TMP/body")" = "$WANT" ]; then
    pass "no rule matches: freedom serves the page (sha256 match)"
else
    soft_fail "unrouted request: HTTP $code"
fi
code=$(fetch "http://blocked.localhost:$HTTP/")
if [ "$code" = 403 ]; then
    pass "domain full:blocked.localhost -> blackhole: HTTP 403"
else
    soft_fail "domain rule: HTTP $code, want 403 from the blackhole"
fi
code=$(fetch "http://127.0.0.1:$HTTP2/")
if [ "$code" = 403 ]; then
    pass "port $HTTP2 rule -> blackhole: HTTP 403"
else
    soft_fail "port rule: HTTP $code, want 403 from the blackhole"
fi
if grep -q "blocked \[socks-in -> blocked\]" "$E2E_TMP/evproxy.log"; then
    pass "the log names the blackhole for the routed requests"
else
    soft_fail "no 'blocked [socks-in -> blocked]' line in the log"
fi
finish
