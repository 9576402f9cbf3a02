#!/usr/bin/env bash
# A routing rule naming an outbound tag that does not exist, as V2Ray 4.34 treats it: the
# config passes -test, and what the rule matches goes to the default outbound (4.34's
# dispatcher: "non existing tag", then the default handler); the rule still ends the search.
# The same config (socks in; freedom first, a blackhole "block"; rule 0 sends the page's port
# to "nosuch", rule 1 sends it to "block") runs under evproxy and under V2Ray:
#   - both -test it OK; evproxy warns naming routing.rules[0] and the tag;
#   - curl through each fetches the page (freedom): neither dropped nor sent on to rule 1.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| compares evproxy with V2Ray itself: skipped under EVP_IMPL=$EVP_IMPL"
    finish
fi
need_evproxy
head -c 20000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
WANT=$(sha256_file "$E2E_TMP/page.txt")
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT
read -r S_EVP S_V2 < <(ports 2 | tr '\n' ' ')

# config FILE PORT
config() {
    cat >"$1" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}},
                {"tag": "block", "protocol": "blackhole", "settings": {}}],
  "routing": {"rules": [
    {"type": "field", "port": "$HTTP", "outboundTag": "nosuch"},
    {"type": "field", "port": "$HTTP", "outboundTag": "block"}
  ]}
}
JSON
}
config "$E2E_TMP/evp.json" "$S_EVP"
config "$E2E_TMP/v2.json" "$S_V2"

"$EVP_BIN" -test -config "$E2E_TMP/evp.json" >"$E2E_TMP/evp-test.log" 2>&1 ||
    { cat "$E2E_TMP/evp-test.log"; fail "evproxy -test refuses a rule with an unknown tag"; }
timeout 20 "$V2RAY" -test -config "$E2E_TMP/v2.json" >"$E2E_TMP/v2-test.log" 2>&1 ||
    { cat "$E2E_TMP/v2-test.log"; fail "v2ray -test refuses it: this test's premise is wrong"; }
pass "evproxy -test and v2ray -test accept a rule naming no outbound"
if grep -q 'routing.rules\[0\].outboundTag: no outbound tagged "nosuch"' "$E2E_TMP/evp-test.log"
then
    pass "evproxy warns, naming the rule and the tag"
else
    soft_fail "no warning naming routing.rules[0] and \"nosuch\""
fi

start_evproxy evproxy "$E2E_TMP/evp.json" "$S_EVP"
start_v2ray v2ray "$E2E_TMP/v2.json" "$S_V2"

# served NAME PORT: the page came through the socks port NAME listens on.
served() {
    local got
    got=$(curl -s --max-time 10 --socks5-hostname "127.0.0.1:$2" "http://127.0.0.1:$HTTP/" |
        sha256sum | cut -d' ' -f1)
    if [ "$got" = "$WANT" ]; then
        pass "$1: the rule's traffic went to the default outbound (freedom): sha256 match"
    else
        show_log "$1"
        soft_fail "$1: got sha256 $got, want the page's (dropped, or sent on to rule 1?)"
    fi
}
served v2ray "$S_V2"
served evproxy "$S_EVP"
finish
