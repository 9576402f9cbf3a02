#!/usr/bin/env bash
# V2Ray 4.34's command line, as a systemd unit written for `v2ray` runs it:
#   - `evproxy -config base.json -config direct.json`: base.json's only outbound is a
#     blackhole; direct.json's lone freedom outbound is prepended (the default), so a curl
#     through the socks inbound fetches the page (sha256 match);
#   - `evproxy -confdir D`: the same files plus a *tail* file whose outbound is appended (the
#     default stays freedom) serve the page; a file added to D and SIGHUP re-read the dir:
#     its lone blackhole outbound is prepended, so the next fetch gets nothing;
#   - `-test`: the good merge is "Configuration OK." (0), a merge with an unknown protocol
#     exits 23; the real `v2ray -test` on the same files (and on -confdir D) agrees on each.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| V2Ray's command line is evproxy's to mimic: skipped under EVP_IMPL=$EVP_IMPL"
    finish
fi
need_evproxy
head -c 100000 /dev/urandom | base64 >"$E2E_TMP/page.txt"
WANT=$(sha256_file "$E2E_TMP/page.txt")
start_tool http http_server.py --page "$E2E_TMP/page.txt"
HTTP=$TOOL_PORT
read -r S1 S2 < <(ports 2 | tr '\n' ' ')

# base FILE PORT: a socks inbound whose only outbound drops everything.
base() {
    cat >"$1" <<JSON
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
                "settings": {"auth": "noauth", "udp": false}}],
  "outbounds": [{"tag": "block", "protocol": "blackhole", "settings": {}}]
}
JSON
}
# lone_outbound FILE TAG PROTOCOL
lone_outbound() {
    printf '{"outbounds": [{"tag": "%s", "protocol": "%s", "settings": {}}]}\n' "$2" "$3" >"$1"
}
# fetch PORT: the page's sha256 through the socks port (empty input's when nothing came).
fetch() {
    curl -s --max-time 10 --socks5-hostname "127.0.0.1:$1" "http://localhost:$HTTP/" |
        sha256sum | cut -d' ' -f1
}
# served PORT WHAT: the page came through PORT.
served() {
    local got
    got=$(fetch "$1")
    if [ "$got" = "$WANT" ]; then
        pass "$2: page sha256 match"
    else
        show_log "$3"
        soft_fail "$2: got sha256 $got, want $WANT"
    fi
}

base "$E2E_TMP/base.json" "$S1"
lone_outbound "$E2E_TMP/direct.json" direct freedom
start_bg files "$EVP_BIN" -config "$E2E_TMP/base.json" -config="$E2E_TMP/direct.json"
FILES_PID=$LAST_PID
wait_listening files "$FILES_PID" "$S1"
served "$S1" "-config base.json -config=direct.json (freedom prepended)" files

D=$E2E_TMP/confdir
mkdir -p "$D"
base "$D/00-base.json" "$S2"
lone_outbound "$D/10-direct.json" direct freedom
lone_outbound "$D/20-sink-tail.json" sink blackhole
echo 'not json: only *.json is read' >"$D/05-notes.txt"
start_bg dir "$EVP_BIN" -confdir "$D"
DIR_PID=$LAST_PID
wait_listening dir "$DIR_PID" "$S2"
served "$S2" "-confdir D (a tail file's outbound appended, freedom stays the default)" dir

lone_outbound "$D/30-block.json" late-block blackhole
kill -HUP "$DIR_PID"
for _ in $(seq 100); do
    grep -q 'reload applied' "$E2E_TMP/dir.log" && break
    sleep 0.1
done
grep -q 'reload applied' "$E2E_TMP/dir.log" || { show_log dir; fail "SIGHUP: no reload applied"; }
got=$(fetch "$S2")
if [ "$got" != "$WANT" ]; then
    pass "SIGHUP re-read D: 30-block.json's blackhole is now the default, the fetch got nothing"
else
    soft_fail "SIGHUP did not re-read D: the page still came through"
fi

lone_outbound "$E2E_TMP/bad.json" odd nosuchprotocol
# agree WANT_RC FILE...: evproxy -test and v2ray -test give WANT_RC on the same -config files.
agree() {
    local want=$1 args=() f erc vrc
    shift
    for f in "$@"; do args+=(-config "$f"); done
    "$EVP_BIN" -test "${args[@]}" >"$E2E_TMP/evp-test.log" 2>&1
    erc=$?
    timeout 20 "$V2RAY" -test "${args[@]}" >"$E2E_TMP/v2-test.log" 2>&1
    vrc=$?
    if [ "$erc" = "$want" ] && [ "$vrc" = "$want" ]; then
        pass "-test on $(basename -a "$@" | tr '\n' ' ')exits $want in evproxy and in V2Ray"
    else
        sed 's/^/  | /' "$E2E_TMP/evp-test.log" "$E2E_TMP/v2-test.log" | tail -8
        soft_fail "-test on $*: evproxy exits $erc, V2Ray $vrc, want $want"
    fi
}
agree 0 "$E2E_TMP/base.json" "$E2E_TMP/direct.json"
agree 23 "$E2E_TMP/base.json" "$E2E_TMP/bad.json"
if grep -qx 'Configuration OK.' <("$EVP_BIN" -test -confdir "$D") &&
    timeout 20 "$V2RAY" -test -confdir "$D" >"$E2E_TMP/v2-dir.log" 2>&1; then
    pass "-test -confdir D: Configuration OK. in evproxy and in V2Ray"
else
    soft_fail "-test -confdir D: evproxy and V2Ray do not both accept it"
fi

alive "$FILES_PID" || fail "evproxy -config ... died ($(death_note "$FILES_PID"))"
alive "$DIR_PID" || fail "evproxy -confdir died ($(death_note "$DIR_PID"))"
finish
