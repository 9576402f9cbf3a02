# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are used by the scripts that source this
# Shared by the SIP003 end-to-end scripts (40-sip003, 41-sip003-transport), sourced after
# lib.sh: ss-libev hosts running vmess-plugin from $PLUGDIR, waiting for the plugin, echo
# streams and page fetches, refused options, and the results table (row, sip003_report).

SS_PASS=e2e-sip003-password
SS_METHOD=chacha20-ietf-poly1305
TABLE=$E2E_TMP/table
: >"$TABLE"

# ss-libev runs the plugin by execvp(name) with its own cwd first in PATH (sip003.md §2).
PLUGDIR=$E2E_TMP/bin
mkdir -p "$PLUGDIR"
ln -s "$EVP_BIN" "$PLUGDIR/vmess-plugin"

# row SECTION CASE DETAIL VERDICT: one line of the results table; FAIL... also counts.
row() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$TABLE"
    case $4 in FAIL*) soft_fail "$1 $2: ${4#FAIL }" ;; esac
}

# ss_host NAME BIN ARGS...: runs an ss-libev host from $PLUGDIR, with the VAR=VALUE words
# of the array SS_ENV in its (and so its plugin's) environment; sets LAST_PID.
SS_ENV=()
ss_host() {
    local name=$1 bin=$2
    shift 2
    start_bg "$name" env -C "$PLUGDIR" "${SS_ENV[@]}" "$bin" -t 30 -k "$SS_PASS" \
        -m "$SS_METHOD" "$@"
}

# children PID: the PIDs whose parent is PID.
children() { pgrep -P "$1" 2>/dev/null | tr '\n' ' '; }

# listens PID: true when PID has a listening TCP socket.
listens() { ss -ltnpH 2>/dev/null | grep -q "pid=$1,"; }

# wait_plugin HOST_PID [SECONDS]: waits until the host's plugin child (and the plugin the
# plugin chains, if any) listens: the host does not wait for its plugin (sip003.md §2).
# Sets PLUGIN_PID and CHAINED_PID (empty when nothing is chained).
wait_plugin() {
    local host=$1 end=$((SECONDS + ${2:-5})) c
    PLUGIN_PID='' CHAINED_PID=''
    while [ "$SECONDS" -le "$end" ]; do
        alive "$host" || return 1
        PLUGIN_PID=$(pgrep -P "$host" | head -1)
        if [ -n "$PLUGIN_PID" ] && listens "$PLUGIN_PID"; then
            CHAINED_PID=$(pgrep -P "$PLUGIN_PID" | head -1)
            c=${CHAINED_PID:-$PLUGIN_PID}
            # The chain is forked once vmess-plugin listens: wait for it when one is due.
            if [ -z "$CHAINED_PID" ] && [ "${EXPECT_CHAIN:-0}" = 1 ]; then
                c=''
            fi
            [ -n "$c" ] && listens "$c" && return 0
        fi
        sleep 0.05
    done
    return 1
}

# host_state PID: "running" or how it ended.
host_state() {
    if alive "$1"; then echo running; else death_note "$1"; fi
}

# start_ss NAME BIN PORT_TO_WAIT ARGS...: ss_host, then waits for its port and its plugin.
start_ss() {
    local name=$1 bin=$2 port=$3
    shift 3
    ss_host "$name" "$bin" "$@"
    SS_PID=$LAST_PID
    if ! wait_port "$port" 10 tcp "$SS_PID"; then
        echo "  $name: port $port not listening (host $(host_state "$SS_PID"))"
    elif ! wait_plugin "$SS_PID" 10; then
        echo "  $name: plugin not listening (plugin ${PLUGIN_PID:-none}," \
            "chained ${CHAINED_PID:-none}, host $(host_state "$SS_PID"))"
    else
        return 0
    fi
    show_log "$name"
    return 1
}

# start_servers: the http server of a random page (HTTP, PAGE_SHA) and the echo server (ECHO)
# that fetch and stream reach through the hosts.
start_servers() {
    head -c 300000 /dev/urandom >"$E2E_TMP/page"
    PAGE_SHA=$(sha256_file "$E2E_TMP/page")
    start_tool http http_server.py --page "$E2E_TMP/page"
    HTTP=$TOOL_PORT
    start_tool echo echo_server.py
    ECHO=$TOOL_PORT
}

# fetch SOCKS_PORT OUT: curl of the test page through a socks5 proxy; true on sha256 match.
fetch() {
    curl -sS --max-time "${2:-15}" --socks5-hostname "127.0.0.1:$1" \
        -o "$E2E_TMP/fetched" "http://127.0.0.1:$HTTP/page" >>"$E2E_TMP/curl.log" 2>&1 &&
        [ "$(sha256_file "$E2E_TMP/fetched")" = "$PAGE_SHA" ]
}

# stream PORT BYTES SEED: echo stream through a tunnel port; true when both sha256 match.
stream() {
    timeout -k 5 120 "$PY" "$TOOLS/tcp_stream.py" --connect "127.0.0.1:$1" --bytes "$2" \
        --seed "$3" --timeout 90 --quiet >"$E2E_TMP/stream.out" 2>&1
}

# gone PID... : true when every PID has ended within 3 s.
gone() {
    local p end=$((SECONDS + 3))
    [ $# -gt 0 ] || return 0
    while [ "$SECONDS" -le "$end" ]; do
        for p in "$@"; do alive "$p" && break; done
        alive "$p" || return 0
        sleep 0.1
    done
    return 1
}

# bad_opts CASE WANT_STDERR_REGEX ENV...: vmess-plugin run directly must exit non-zero
# within 5 s with a message matching the regex.
bad_opts() {
    local case=$1 want=$2 out rc
    shift 2
    out=$(cd "$E2E_TMP" && env SS_REMOTE_HOST=127.0.0.1 SS_REMOTE_PORT="$BAD_RP" \
        SS_LOCAL_HOST=127.0.0.1 SS_LOCAL_PORT="$BAD_LP" env "$@" timeout -k 1 5 \
        "$PLUGDIR/vmess-plugin" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        row options "$case" "" "FAIL exit $rc (want non-zero, prompt)"
    elif ! grep -Eq "$want" <<<"$out"; then
        row options "$case" "" "FAIL exit $rc, stderr '${out:0:80}'"
    else
        out=${out%%$'\n'*} # its first line (LSan may add a suppressions note)
        row options "$case" "exit $rc: ${out:0:60}" PASS
    fi
}

# host_refuses CASE OPTS WANT_LOG_REGEX: ss-local whose vmess-plugin refuses OPTS must stop
# too, within 3 s, with rc 255 and a line matching the grep -E regex in its log. ss-libev
# 3.3.5 starts the plugin before it watches SIGCHLD, so a plugin that exits at once could go
# unnoticed; vmess-plugin lingers 300 ms before a start-up failure exit so the host sees it.
host_refuses() {
    local case=$1 opts=$2 want=$3 sp lp host rc name
    name=refused-$(tr -c 'a-z0-9\n' - <<<"$case" | tr -d '\n')
    read -r sp lp < <(ports 2 | tr '\n' ' ')
    ss_host "$name" ss-local -s 127.0.0.1 -p "$sp" -l "$lp" -b 127.0.0.1 \
        --plugin vmess-plugin --plugin-opts "$opts"
    host=$LAST_PID
    if ! gone "$host"; then
        row options "$case" "" "FAIL host still running after 3 s"
        stop_pid "$host"
        return
    fi
    exit_note rc "$host"
    if [ "$rc" = "exit 255" ] && grep -Eq "$want" "$E2E_TMP/$name.log"; then
        row options "$case" "host exit 255, message in its log" PASS
    else
        row options "$case" "" "FAIL host $rc; log: $(tail -1 "$E2E_TMP/$name.log" | cut -c1-60)"
    fi
}

# sip003_report: scans every log for sanitizer reports (plugins write their stderr into the
# host's log), then prints the results table.
sip003_report() {
    local san_re hits s c d v
    san_re='(ERROR|WARNING): (Address|Leak|Thread)Sanitizer|runtime error:' # TSan: WARNING
    hits=$(grep -lE "$san_re" "$E2E_TMP"/*.log 2>/dev/null |
        xargs -r -n1 basename | tr '\n' ' ')
    if [ -n "$hits" ]; then
        row sanitizer "logs" "" "FAIL reports in $hits"
    else
        row sanitizer "logs" "no ASan/UBSan/TSan report in any log" PASS
    fi
    # Lines starting with "| " are shown by run-e2e.sh even when the script passes.
    printf '| %-10s %-42s %-52s %s\n' section case detail result
    while IFS=$'\t' read -r s c d v; do
        printf '| %-10s %-42s %-52s %s\n' "$s" "${c:0:42}" "${d:0:52}" "${v%% *}"
    done <"$TABLE"
    echo
}

# make_certs DIR: a CA (ca.pem) and a certificate for example.test it signed (srv.pem,
# srv.key), with certtool.
make_certs() {
    local d=$1
    mkdir -p "$d"
    printf 'cn = "evproxy e2e CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.tmpl"
    printf 'cn = "example.test"\ndns_name = "example.test"\ntls_www_server\nsigning_key\n%s\n' \
        'expiration_days = 2' >"$d/srv.tmpl"
    certtool --generate-privkey --key-type ecdsa --outfile "$d/ca.key" &&
        certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
            --outfile "$d/ca.pem" &&
        certtool --generate-privkey --key-type ecdsa --outfile "$d/srv.key" &&
        certtool --generate-certificate --load-privkey "$d/srv.key" \
            --load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca.key" \
            --template "$d/srv.tmpl" --outfile "$d/srv.pem"
}
