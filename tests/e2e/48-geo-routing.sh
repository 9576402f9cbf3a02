#!/usr/bin/env bash
# Routing data files: one geoip.dat, geosite.dat and ext file (written by
# tests/tools/geodata.py from a spec), one config, run by the real V2Ray 4.34 and by evproxy,
# each behind its own socks inbound. Sample targets go to a blackhole (its HTTP 403) or to
# freedom (an HTTP server on 127.0.0.1, or a name that does not resolve): both must decide
# the same for every sample, and as the lists say:
#   - ip: geoip:TAG, ext:FILE:TAG; domain: geosite:LIST (Domain, Full, Regex, Plain entries),
#     geosite:LIST@ATTR (only the entries with the attribute), ext-domain:FILE:LIST;
#   - evproxy re-reads the files on SIGHUP (a list changed: routing follows; a file gone:
#     the reload is refused naming it, the running routing kept);
#   - domainStrategy IPIfNonMatch: "localhost" matches no domain rule, then its address
#     meets a geoip rule (both block it);
#   - balancers: 40 sessions through a rule's balancerTag spread over both selected
#     outbounds (counted in the access log, not timed), none to the other;
#   - a missing tag, a missing list and a missing ext file: `-test` refuses in both, and
#     evproxy's error names the tag or the file.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| compares evproxy with V2Ray itself: skipped under EVP_IMPL=$EVP_IMPL"
    finish
fi
need_evproxy
ASSETS=$E2E_TMP/assets
cat >"$E2E_TMP/spec.json" <<'JSON'
{
  "geoip.dat": {"BLOCKME": ["127.0.0.2/32", "10.9.0.0/16"], "LOCALNET": ["127.0.0.0/8", "::1/128"]},
  "extra.dat": {"EXTRA": ["127.0.0.3/32"]},
  "geosite.dat": {
    "BLOCKSITE": [["domain", "blocked.test"], ["full", "exact.test"],
                  ["regex", "^rx[0-9]+\\.test$"], ["plain", "keyword"]],
    "ADS": [["domain", "ads.test", "ads"], ["domain", "noattr.test"]]
  },
  "sites.dat": {"MORE": [["full", "more.test"]]}
}
JSON
"$PY" "$TOOLS/geodata.py" "$ASSETS" --spec "$E2E_TMP/spec.json" || fail "geodata.py failed"
# Both look here first (V2Ray's v2ctl reads the config's data files too).
export V2RAY_LOCATION_ASSET=$ASSETS

echo hello >"$E2E_TMP/page.txt"
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT

# config FILE PORT STRATEGY RULES [BALANCERS]: socks in -> direct (default) | block (403).
config() {
    cat >"$1" <<JSON
{
  "log": {"loglevel": "warning", "access": "$1.access"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth"}}],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "block", "protocol": "blackhole", "settings": {"response": {"type": "http"}}},
    {"tag": "lb-a", "protocol": "freedom", "settings": {}},
    {"tag": "lb-b", "protocol": "freedom", "settings": {}}
  ],
  "routing": {"domainStrategy": "$3", "rules": [$4], "balancers": [${5:-}]}
}
JSON
}

RULES='{"type": "field", "domain": ["geosite:blocksite", "geosite:ads@ads",
          "ext-domain:sites.dat:more"], "outboundTag": "block"},
       {"type": "field", "ip": ["geoip:blockme", "ext:extra.dat:extra"], "outboundTag": "block"}'
read -r P_V2 P_EVP P_V2S P_EVPS P_V2B P_EVPB < <(ports 6 | tr '\n' ' ')
config "$E2E_TMP/v2.json" "$P_V2" AsIs "$RULES"
config "$E2E_TMP/evp.json" "$P_EVP" AsIs "$RULES"
start_v2ray v2ray "$E2E_TMP/v2.json" "$P_V2"
start_evproxy evproxy "$E2E_TMP/evp.json" "$P_EVP"
EVP_PID=$LAST_PID

# decision SOCKS_PORT HOST: "block" when the blackhole answered (403), else "direct".
decision() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        --socks5-hostname "127.0.0.1:$1" "http://$2:$HTTP/")
    if [ "$code" = 403 ]; then echo block; else echo "direct($code)"; fi
}

# compare V2_PORT EVP_PORT HOST WANT: both decide WANT for HOST.
compare() {
    local v e
    v=$(decision "$1" "$3")
    e=$(decision "$2" "$3")
    if [ "${v%%(*}" = "$4" ] && [ "${e%%(*}" = "$4" ]; then
        pass "$3: $4 in both (V2Ray $v, evproxy $e)"
    else
        soft_fail "$3: want $4; V2Ray $v, evproxy $e"
    fi
}

compare "$P_V2" "$P_EVP" 127.0.0.1 direct
compare "$P_V2" "$P_EVP" 127.0.0.2 block     # geoip:blockme
compare "$P_V2" "$P_EVP" 127.0.0.3 block     # ext:extra.dat:extra
compare "$P_V2" "$P_EVP" 127.0.0.4 direct
compare "$P_V2" "$P_EVP" 10.9.1.1 block
compare "$P_V2" "$P_EVP" www.blocked.test block  # Domain
compare "$P_V2" "$P_EVP" blocked.test block
compare "$P_V2" "$P_EVP" notblocked.test direct  # not at a label boundary
compare "$P_V2" "$P_EVP" exact.test block        # Full
compare "$P_V2" "$P_EVP" www.exact.test direct
compare "$P_V2" "$P_EVP" rx42.test block         # Regex
compare "$P_V2" "$P_EVP" rx.test direct
compare "$P_V2" "$P_EVP" my-keyword-site.test block  # Plain
compare "$P_V2" "$P_EVP" cdn.ads.test block      # @ads: has the attribute
compare "$P_V2" "$P_EVP" noattr.test direct      # in the list, without the attribute
compare "$P_V2" "$P_EVP" more.test block         # ext-domain:
compare "$P_V2" "$P_EVP" localhost direct        # AsIs: a name meets no ip rule

# --- a reload reads the data files again ----------------------------------------------
# reload_refused: SIGHUP, then wait (bounded) for one more "reload refused" log line.
reload_refused() {
    local before
    before=$(grep -c "reload refused" "$E2E_TMP/evproxy.log")
    kill -HUP "$EVP_PID"
    for _ in $(seq 150); do
        [ "$(grep -c "reload refused" "$E2E_TMP/evproxy.log")" -gt "$before" ] && return 0
        sleep 0.2
    done
    return 1
}
sed -i 's/"more.test"/"reload.test"/' "$E2E_TMP/spec.json"
"$PY" "$TOOLS/geodata.py" "$ASSETS" --spec "$E2E_TMP/spec.json" || fail "geodata.py failed"
kill -HUP "$EVP_PID"
# The reload is applied between sessions: poll its effect (bounded).
for _ in $(seq 150); do
    [ "$(decision "$P_EVP" reload.test)" = block ] && break
    sleep 0.2
done
if [ "$(decision "$P_EVP" reload.test)" = block ] && [ "$(decision "$P_EVP" more.test)" != block ]
then
    pass "SIGHUP re-read sites.dat: reload.test now blocked, more.test no longer"
else
    soft_fail "after SIGHUP with a new sites.dat: reload.test $(decision "$P_EVP" reload.test)"
fi
rm "$ASSETS/sites.dat"
if reload_refused && grep -q "sites.dat" "$E2E_TMP/evproxy.log" &&
    [ "$(decision "$P_EVP" reload.test)" = block ]; then
    pass "SIGHUP without sites.dat: refused naming it, the running routing kept"
else
    soft_fail "reload without sites.dat: not refused naming it, or the routing changed"
fi

# --- IPIfNonMatch: a name no domain rule takes is routed by its address --------------------
STRAT_RULES='{"type": "field", "domain": ["geosite:blocksite"], "outboundTag": "direct"},
             {"type": "field", "ip": ["geoip:localnet"], "outboundTag": "block"}'
config "$E2E_TMP/v2s.json" "$P_V2S" IPIfNonMatch "$STRAT_RULES"
config "$E2E_TMP/evps.json" "$P_EVPS" IPIfNonMatch "$STRAT_RULES"
start_v2ray v2ray-s "$E2E_TMP/v2s.json" "$P_V2S"
start_evproxy evproxy-s "$E2E_TMP/evps.json" "$P_EVPS"
compare "$P_V2S" "$P_EVPS" localhost block          # resolved: 127.0.0.1 or ::1
compare "$P_V2S" "$P_EVPS" blocked.test direct      # a domain rule took it first
compare "$P_V2S" "$P_EVPS" nosuch.invalid direct    # does not resolve: no ip to match

# --- balancers: sessions spread over the selected outbounds, counted --------------------
BAL_RULES='{"type": "field", "port": "'"$HTTP"'", "balancerTag": "lb"}'
BALANCER='{"tag": "lb", "selector": ["lb-"]}'
config "$E2E_TMP/v2b.json" "$P_V2B" AsIs "$BAL_RULES" "$BALANCER"
config "$E2E_TMP/evpb.json" "$P_EVPB" AsIs "$BAL_RULES" "$BALANCER"
start_v2ray v2ray-b "$E2E_TMP/v2b.json" "$P_V2B"
start_evproxy evproxy-b "$E2E_TMP/evpb.json" "$P_EVPB"
for impl in v2b evpb; do
    port=$P_V2B
    [ $impl = evpb ] && port=$P_EVPB
    for _ in $(seq 40); do decision "$port" 127.0.0.1 >/dev/null; done
    log=$E2E_TMP/$impl.json.access
    # The access log is written as sessions end: wait (bounded) for all 40 lines.
    for _ in $(seq 50); do
        [ "$(grep -c "accepted tcp:127.0.0.1:$HTTP" "$log" 2>/dev/null)" -ge 40 ] && break
        sleep 0.2
    done
    a=$(grep -c '\[lb-a\]' "$log" 2>/dev/null)
    b=$(grep -c '\[lb-b\]' "$log" 2>/dev/null)
    other=$(grep -c '\[direct\]\|\[block\]' "$log" 2>/dev/null)
    if [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) -eq 40 ] && [ "$other" = 0 ]; then
        pass "$impl: balancer lb spread 40 sessions: lb-a $a, lb-b $b"
    else
        soft_fail "$impl: balancer lb: lb-a ${a:-?}, lb-b ${b:-?}, others ${other:-?} (want both > 0, sum 40)"
    fi
done

# --- missing data: both refuse at -test, evproxy names what is missing -------------------
for bad in '"ip": ["geoip:nosuch"]|nosuch' '"domain": ["geosite:absent"]|absent' \
    '"domain": ["ext:missing.dat:x"]|missing.dat'; do
    rule=${bad%|*} want=${bad#*|}
    config "$E2E_TMP/bad.json" "$P_V2" AsIs "{\"type\": \"field\", $rule, \"outboundTag\": \"block\"}"
    timeout 20 "$V2RAY" -test -config "$E2E_TMP/bad.json" >"$E2E_TMP/bad.v2.log" 2>&1
    vrc=$?
    timeout 20 "$EVP_BIN" -test -config "$E2E_TMP/bad.json" >"$E2E_TMP/bad.evp.log" 2>&1
    erc=$?
    if [ $vrc != 0 ] && [ $erc != 0 ] && grep -q "$want" "$E2E_TMP/bad.evp.log"; then
        pass "$rule: refused by both; evproxy: $(grep -m1 "$want" "$E2E_TMP/bad.evp.log" | cut -c1-120)"
    else
        sed 's/^/  | /' "$E2E_TMP/bad.v2.log" "$E2E_TMP/bad.evp.log" | tail -4
        soft_fail "$rule: V2Ray rc $vrc, evproxy rc $erc (want both non-zero, evproxy naming $want)"
    fi
done
finish
