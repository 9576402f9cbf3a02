#!/usr/bin/env bash
# The core stands alone (issue 10): a copy of the tree without plugin/ builds evproxy, and
# that evproxy
#   - relays a few KiB through socks -> freedom to a loopback echo server (sha256 match);
#   - refuses a vmess server config and a vmess client config under `-t` (exit 1), naming
#     the config path, the protocol and the plugin file it looked for;
#   - still runs `--default-config` (as socks -> freedom), saying the vmess plugin is missing.
# Run from `make unit`; SANITIZE=1 reaches the inner make through MAKEFLAGS.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/e2e/lib.sh"

# 1. The copy: every file git knows of (committed or not), minus plugin/.
TREE=$E2E_TMP/tree
mkdir -p "$TREE"
git ls-files -z -co --exclude-standard >"$E2E_TMP/files" ||
    fail "git ls-files failed: run this from a git checkout"
while IFS= read -r -d '' f; do
    case $f in plugin/*) continue ;; esac
    [ -e "$f" ] && printf '%s\0' "$f"
done <"$E2E_TMP/files" | tar -cf - --null -T - | tar -xf - -C "$TREE" ||
    fail "copying the tree to $TREE failed"
[ ! -e "$TREE/plugin" ] || fail "the copy still has plugin/"

# 2. The build: only `all` (the test binaries link the vmess objects).
jobs=-j2
case ${MAKEFLAGS:-} in *jobserver*) jobs= ;; esac
# shellcheck disable=SC2086 # $jobs is empty or one word
if ! make -C "$TREE" $jobs BUILD="$TREE/build" all >"$E2E_TMP/make.log" 2>&1; then
    show_log make 30
    fail "evproxy does not build without plugin/"
fi
EVP_BIN=$TREE/build/evproxy
PLUGINS=$TREE/build/plugins
[ -x "$EVP_BIN" ] || fail "the build made no $EVP_BIN"
[ -d "$PLUGINS" ] || fail "the build made no $PLUGINS (evproxy would look elsewhere)"
left=$(ls -A "$PLUGINS")
[ -z "$left" ] || fail "plugins built without plugin/: $left"
pass "evproxy builds from a tree without plugin/ ($(grep -c ' -c ' "$E2E_TMP/make.log") files)"
unset EVPROXY_PLUGIN_DIR EVPROXY_SCHEMA_DIR

# 3. socks -> freedom serves.
read -r SOCKS < <(ports 1)
start_tool echo echo_server.py --host 127.0.0.1
cfg_socks_freedom "$E2E_TMP/socks.json" "$SOCKS"
start_evproxy evproxy "$E2E_TMP/socks.json" "$SOCKS"
out=$E2E_TMP/stream.json
if socks_stream "$SOCKS" "127.0.0.1:$TOOL_PORT" --bytes 16k --seed 10 --timeout 60 \
    >"$out" 2>&1; then
    pass "16 KiB each way through socks -> freedom -> echo, sha256 match"
else
    show_log evproxy
    soft_fail "socks -> freedom without plugins: $(why_of "$out")"
fi

# 4. -t on vmess configs: exit 1, the plugin named. t_refused NAME PATH_IN_CONFIG.
t_refused() {
    local log=$E2E_TMP/t-$1.log rc
    local want="$2: unknown protocol \"vmess\" (no built-in, and no plugin $PLUGINS/vmess.so)"
    timeout 10 "$EVP_BIN" -t -c "$E2E_TMP/$1.json" >"$log" 2>&1
    rc=$?
    if [ "$rc" != 1 ]; then
        soft_fail "-t on $1.json without the plugin: exit $rc, want 1: $(head -c 300 "$log")"
    elif ! grep -qF -- "$want" "$log"; then
        soft_fail "-t on $1.json: message does not say '$want': $(head -c 300 "$log")"
    else
        pass "-t on $1.json: exit 1, $(head -1 "$log")"
    fi
}
read -r P1 P2 < <(ports 2 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/vmess-server.json" "$P1" "$UUID_GOOD" 0
t_refused vmess-server "inbounds[0].protocol"
cfg_vmess_client "$E2E_TMP/vmess-client.json" "$P2" "$P1" "$UUID_GOOD" 0 auto
t_refused vmess-client "outbounds[0].protocol"

# 5. --default-config falls back to socks -> freedom (-t: the fixed port 1080 may be taken).
log=$E2E_TMP/default.log
timeout 10 "$EVP_BIN" --default-config -t >"$log" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -qF "no VMess: $PLUGINS/vmess.so is missing" "$log"; then
    pass "--default-config -t without the plugin: exit 0, $(head -1 "$log")"
else
    soft_fail "--default-config -t without the plugin: exit $rc: $(head -c 300 "$log")"
fi

alive "$LAST_PID" || soft_fail "evproxy died: $(death_note "$LAST_PID")"
finish
