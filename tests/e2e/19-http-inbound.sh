#!/usr/bin/env bash
# The built-in http inbound (V2Ray 4.34's "http" settings), tried as a client config uses it:
#   - curl -x http://127.0.0.1:P (absolute URI, forwarded in origin form) and curl -p -x
#     (CONNECT) through http -> freedom fetch a local page (sha256 match);
#   - an inbound with accounts answers 407 with Proxy-Authenticate to no or wrong
#     credentials and serves the page with the right ones;
#   - an origin-form request (no allowTransparent) gets 400;
#   - http inbound -> vmess outbound -> the real V2Ray 4.34 server -> freedom: both forms fetch
#     the page;
#   - the access log names the user of the accounts (V2Ray's email for it).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
head -c 100000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
WANT=$(sha256_file "$E2E_TMP/page.txt")
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT
read -r H_OPEN H_AUTH H_VM V2 < <(ports 4 | tr '\n' ' ')

cat >"$E2E_TMP/http.json" <<JSON
{
  "log": {"loglevel": "info", "access": "$E2E_TMP/access.log"},
  "inbounds": [
    {"tag": "http-open", "listen": "127.0.0.1", "port": $H_OPEN, "protocol": "http",
     "settings": {"timeout": 300, "allowTransparent": false, "userLevel": 0}},
    {"tag": "http-auth", "listen": "127.0.0.1", "port": $H_AUTH, "protocol": "http",
     "settings": {"accounts": [{"user": "alice", "pass": "s3cret"}]}},
    {"tag": "http-vmess", "listen": "127.0.0.1", "port": $H_VM, "protocol": "http",
     "settings": {}}
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "proxy", "protocol": "vmess", "settings": {"vnext": [{"address": "127.0.0.1",
     "port": $V2, "users": [{"id": "$UUID_GOOD", "alterId": 0, "security": "aes-128-gcm"}]}]}}
  ],
  "routing": {"rules": [
    {"type": "field", "inboundTag": ["http-vmess"], "outboundTag": "proxy"}
  ]}
}
JSON
cfg_vmess_server "$E2E_TMP/v2.json" "$V2" "$UUID_GOOD" 0
start_v2ray v2ray "$E2E_TMP/v2.json" "$V2"
start_evproxy evproxy "$E2E_TMP/http.json" "$H_OPEN" "$H_AUTH" "$H_VM"

URL="http://127.0.0.1:$HTTP/page"
# fetch WHAT CURL_ARGS...: the page came through.
fetch() {
    local what=$1 code
    shift
    code=$(curl -s --max-time 10 -o "$E2E_TMP/body" -w '%{http_code}' "$@" "$URL")
    if [ "$code" = 200 ] && [ "$(sha256_file "$E2E_TMP/body")" = "$WANT" ]; then
        pass "$what: page sha256 match"
    else
        show_log evproxy
        soft_fail "$what: HTTP $code, or not the page"
    fi
}
fetch "curl -x (absolute URI, forwarded)" -x "http://127.0.0.1:$H_OPEN"
fetch "curl -p -x (CONNECT)" -p -x "http://127.0.0.1:$H_OPEN"
fetch "accounts, right credentials (forwarded)" -x "http://alice:s3cret@127.0.0.1:$H_AUTH"
fetch "accounts, right credentials (CONNECT)" -p -x "http://alice:s3cret@127.0.0.1:$H_AUTH"
fetch "http -> vmess -> V2Ray 4.34 (forwarded)" -x "http://127.0.0.1:$H_VM"
fetch "http -> vmess -> V2Ray 4.34 (CONNECT)" -p -x "http://127.0.0.1:$H_VM"

# answered CODE WHAT CURL_ARGS...: the proxy answered CODE (headers kept in $E2E_TMP/head).
answered() {
    local want=$1 what=$2 code
    shift 2
    code=$(curl -s --max-time 10 -o /dev/null -D "$E2E_TMP/head" -w '%{http_code}' "$@")
    if [ "$code" = "$want" ]; then
        pass "$what: HTTP $want"
    else
        soft_fail "$what: HTTP $code, want $want"
    fi
}
answered 407 "accounts, no credentials" -x "http://127.0.0.1:$H_AUTH" "$URL"
if grep -qi '^Proxy-Authenticate: Basic realm="proxy"' "$E2E_TMP/head"; then
    pass "the 407 carries Proxy-Authenticate: Basic"
else
    soft_fail "no Proxy-Authenticate in the 407: $(tr -d '\r' <"$E2E_TMP/head")"
fi
answered 407 "accounts, wrong password" -x "http://alice:nope@127.0.0.1:$H_AUTH" "$URL"
answered 400 "origin-form request, allowTransparent off" "http://127.0.0.1:$H_OPEN/page"
# V2Ray 4.34's access line (the default form): the outbound and the proxy user.
if grep -q 'accepted tcp:127.0.0.1:[0-9]* \[direct\] email: alice$' "$E2E_TMP/access.log"; then
    pass "the access log names the outbound and the proxy user, as V2Ray's does"
else
    sed 's/^/  | /' "$E2E_TMP/access.log"
    soft_fail "no access line \"accepted tcp:... [direct] email: alice\""
fi
finish
