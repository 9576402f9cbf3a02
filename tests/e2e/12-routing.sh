#!/usr/bin/env bash
# routing.rules beyond inboundTag, as V2Ray users write them: a socks inbound whose rules send
# a domain and a port to a blackhole (http response) and everything else to freedom.
#   - curl through socks to the page: served by freedom (sha256 match);
#   - a "full:" domain rule and a port rule: V2Ray's 403 from the blackhole instead.
# Then a second instance with {"ip": ["geoip:private"]} -> blackhole and a freedom default,
# and a loopback echo server (127.0.0.1 and ::1):
#   - each spelling of a loopback address sent as a SOCKS domain ("127.1", "2130706433",
#     "0x7f.1", "::ffff:127.0.0.1", "[::1]", ...) is refused and the echo server sees no
#     connection; through the first instance (no ip rule) the same spelling reaches it;
#   - "localhost" (resolved by c-ares from /etc/hosts) is refused at dial time with a log
#     line naming the name, the address and the rule; through the first instance it connects;
#   - a SOCKS domain with a newline in it ("x\n[fake] accepted") is escaped in the error
#     log and the access log: no forged line.
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

# --- ip rules see every spelling of an address, and what a name resolves to -----------
start_tool echo echo_server.py --host 127.0.0.1 --host ::1
ECHO=$TOOL_PORT
read -r GUARD < <(ports 1)
cat >"$E2E_TMP/guarded.json" <<JSON
{
  "log": {"loglevel": "info", "access": "$E2E_TMP/access.log"},
  "inbounds": [
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $GUARD, "protocol": "socks",
     "settings": {"auth": "noauth"}}
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "block", "protocol": "blackhole", "settings": {}},
    {"tag": "to-echo", "protocol": "freedom", "settings": {"redirect": "127.0.0.1:$ECHO"}}
  ],
  "routing": {
    "rules": [
      {"type": "field", "ip": ["geoip:private"], "outboundTag": "block"},
      {"type": "field", "domain": ["[fake]"], "outboundTag": "to-echo"}
    ]
  }
}
JSON
start_evproxy guarded "$E2E_TMP/guarded.json" "$GUARD"

# via SOCKS_PORT NAME: echoes 4 KiB to the echo server with NAME sent as the SOCKS domain.
via() {
    socks_stream "$1" "127.0.0.1:$ECHO" --domain "$2" --bytes 4k --timeout 20 \
        >"$E2E_TMP/last-client.json" 2>&1
}

for name in 127.0.0.1 127.1 127.0.1 2130706433 0x7f.1 0x7f000001 ::ffff:127.0.0.1 \
    '[::ffff:127.0.0.1]' '[::1]' ::1 0:0:0:0:0:0:0:1 '[127.0.0.1]'; do
    if ! via "$SOCKS" "$name"; then
        soft_fail "\"$name\" as a domain without an ip rule: $(why_of "$E2E_TMP/last-client.json")"
        continue
    fi
    before=$(accepted_count echo)
    if via "$GUARD" "$name"; then
        soft_fail "\"$name\" as a domain got past ip geoip:private -> blackhole"
    elif [ "$(accepted_count echo)" != "$before" ]; then
        soft_fail "\"$name\" as a domain: the echo server saw a connection"
    else
        pass "\"$name\" as a domain: reaches the echo server, refused by the ip rule"
    fi
done

if ! via "$SOCKS" localhost; then
    soft_fail "localhost without an ip rule: $(why_of "$E2E_TMP/last-client.json")"
fi
before=$(accepted_count echo)
if via "$GUARD" localhost || [ "$(accepted_count echo)" != "$before" ]; then
    soft_fail "localhost (resolves to loopback) got past ip geoip:private -> blackhole"
else
    pass "localhost: connects without the ip rule, refused with it"
fi
want="tcp:localhost:$ECHO: refused: localhost resolved to 127.0.0.1, which routing.rules[0]"
want+=" sends to blackhole [block]"
if grep -qF "$want" "$E2E_TMP/guarded.log"; then
    pass "the refusal is logged with the name, the address and the rule"
else
    soft_fail "no '$want' line in the log"
    show_log guarded
fi

# --- names from the network cannot forge log lines -------------------------------------
if via "$GUARD" $'x\n[fake] accepted'; then
    pass "a domain with a newline is relayed (rule keyword \"[fake]\" -> redirect)"
else
    soft_fail "domain with a newline: $(why_of "$E2E_TMP/last-client.json")"
fi
forged=$(cat "$E2E_TMP/guarded.log" "$E2E_TMP/access.log" 2>/dev/null | grep -c '^\[fake\]')
if [ "$forged" = 0 ] && grep -qF 'tcp:x\x0a[fake] accepted:' "$E2E_TMP/guarded.log" &&
    grep -qF 'accepted tcp:x\x0a[fake] accepted:' "$E2E_TMP/access.log"; then
    pass "the newline is escaped as \\x0a in the error and access logs: no forged line"
else
    soft_fail "$forged forged line(s); the logs:"
    show_log guarded
    sed 's/^/  | /' "$E2E_TMP/access.log" 2>/dev/null | tail -5
fi
finish
