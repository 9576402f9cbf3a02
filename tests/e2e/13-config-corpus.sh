#!/usr/bin/env bash
# tests/data/v2ray-configs: configs shaped as tutorials and clients write them (server and
# client, modern and legacy forms, -confdir dirs). Each runs through the real `v2ray -test`
# (4.34, with a geoip.dat/geosite.dat made by tests/tools/geodata.py) and `evproxy -test`
# (the same files; -config FILE, or -confdir DIR for a dir-*): both accept or both refuse, except the configs
# refused-on-purpose.txt lists, which V2Ray must accept and evproxy refuse with the listed
# text. @CERTDIR@ and @LOGDIR@ are filled in with a certificate and a directory made here.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| compares evproxy with V2Ray itself: skipped under EVP_IMPL=$EVP_IMPL"
    finish
fi
need_evproxy
CORPUS=$E2E_ROOT/tests/data/v2ray-configs
ALLOW=$CORPUS/refused-on-purpose.txt
C=$E2E_TMP/corpus
cp -r "$CORPUS" "$C"
mkdir -p "$E2E_TMP/certs" "$E2E_TMP/logs" "$E2E_TMP/assets"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=v2.example.com -keyout "$E2E_TMP/certs/v2ray.key" \
    -out "$E2E_TMP/certs/v2ray.crt" >/dev/null 2>&1 || fail "openssl could not make a certificate"
"$PY" "$TOOLS/geodata.py" "$E2E_TMP/assets" || fail "geodata.py failed"
find "$C" -name '*.json' -exec sed -i -e "s|@CERTDIR@|$E2E_TMP/certs|g" \
    -e "s|@LOGDIR@|$E2E_TMP/logs|g" {} +

# allowed NAME: the text evproxy's refusal must hold, when NAME is refused on purpose.
allowed() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$ALLOW"; }

n=0
for f in "$C"/*.json "$C"/dir-*; do
    name=$(basename "$f" .json)
    if [ -d "$f" ]; then args=(-confdir "$f"); else args=(-config "$f"); fi
    V2RAY_LOCATION_ASSET=$E2E_TMP/assets timeout 20 "$V2RAY" -test "${args[@]}" \
        >"$E2E_TMP/$name.v2.log" 2>&1
    vrc=$?
    V2RAY_LOCATION_ASSET=$E2E_TMP/assets timeout 20 "$EVP_BIN" -test "${args[@]}" \
        >"$E2E_TMP/$name.evp.log" 2>&1
    erc=$?
    n=$((n + 1))
    v=accept e=accept
    [ "$vrc" = 0 ] || v=refuse
    [ "$erc" = 0 ] || e=refuse
    want=$(allowed "$name")
    if [ -n "$want" ]; then
        if [ "$v" = accept ] && [ "$e" = refuse ] && grep -qF -- "$want" "$E2E_TMP/$name.evp.log"
        then
            pass "$name: V2Ray accepts, evproxy refuses on purpose ($want)"
        else
            tail -3 "$E2E_TMP/$name.v2.log" "$E2E_TMP/$name.evp.log" | sed 's/^/  | /'
            soft_fail "$name: listed as refused on purpose, but V2Ray ${v}s and evproxy ${e}s" \
                "(or evproxy's error lacks \"$want\")"
        fi
    elif [ "$v" = "$e" ]; then
        pass "$name: both $v"
    else
        tail -3 "$E2E_TMP/$name.v2.log" "$E2E_TMP/$name.evp.log" | sed 's/^/  | /'
        soft_fail "$name: V2Ray ${v}s, evproxy ${e}s"
    fi
done
[ "$n" -ge 30 ] || soft_fail "only $n configs in the corpus, want at least 30"
while IFS=$'\t' read -r name _; do
    case $name in '#'* | '') continue ;; esac
    [ -e "$C/$name.json" ] || [ -d "$C/$name" ] || soft_fail "$ALLOW names $name: no such config"
done <"$ALLOW"
finish
