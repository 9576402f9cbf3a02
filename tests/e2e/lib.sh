# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are used by the scripts that source this
# Shared helpers of the end-to-end scripts. Source it first: `. "$(dirname "$0")/lib.sh"`.
#
# Every script runs alone (EVP_BUILD=build tests/e2e/20-vmess-interop.sh) or under
# tests/run-e2e.sh. Everything it starts goes through start_bg, is recorded by PID and is
# stopped (and checked gone) on EXIT. Only 127.0.0.1 and ::1 are ever used.
#
# Environment:
#   EVP_BUILD   build dir holding evproxy and plugins/ (default: build)
#   EVP_IMPL    "evproxy" (default) or "v2ray": run V2Ray wherever evproxy would run, to
#               check the harness itself against a known-good peer
#   E2E_KEEP=1  keep the temp dir (logs, configs) even when the script passes
#   E2E_PIDFILE file that also gets every PID started (run-e2e.sh checks none survive)
#   EVPROXY_WORKERS  event loops per daemon (default here: 2, so every script runs the
#               daemon with two workers on any machine)

set -u -o pipefail
# LeakSanitizer's stop-the-world tracer crashed at exit ("Tracer caught signal 11", addr 0xe8)
# in 2 of 2 CI runs of 90-soak's evproxy client once vmess.so (dlopen'd) linked GnuTLS, while
# it scanned thread-local storage; with use_tls=0 it passes. TLS is then not a root: that can
# only add leak reports, never hide one.
export LSAN_OPTIONS=${LSAN_OPTIONS:-use_tls=0}

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$E2E_ROOT" || exit 1
EVP_BUILD=${EVP_BUILD:-build}
case $EVP_BUILD in /*) ;; *) EVP_BUILD=$E2E_ROOT/$EVP_BUILD ;; esac
EVP_BIN=$EVP_BUILD/evproxy
EVP_IMPL=${EVP_IMPL:-evproxy}
TOOLS=$E2E_ROOT/tests/tools
PY=${PYTHON:-python3}
V2RAY=${V2RAY:-v2ray}
E2E_NAME=$(basename "$0" .sh)
E2E_TMP=$(mktemp -d "/tmp/evp-e2e-$E2E_NAME.XXXXXX")
# Shared by all runs on the machine, so that parallel runs do not pick the same ports.
E2E_PORTS_USED=${E2E_PORTS_USED:-/tmp/evp-e2e-ports.used}
E2E_FAILS=0
E2E_PIDS=()
# UUIDs used by the tests (fixed so that logs can be compared between runs).
UUID_GOOD=27848739-7e62-4138-9fd3-098a63964b6b
UUID_WRONG=9a1c1f3e-54d2-4b8e-8d7b-0c6b51a0e2f4

export PYTHONDONTWRITEBYTECODE=1
export EVPROXY_WORKERS=${EVPROXY_WORKERS:-2}

# --- reporting ----------------------------------------------------------------------

# Prints a progress line on stderr.
info() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%T)" "$*" >&2; }

# Ends the script as failed with a one-line reason (the EXIT trap cleans up).
fail() {
    printf 'FAIL: %s\n' "$*"
    E2E_FAILS=$((E2E_FAILS + 1))
    exit 1
}

# Records a failed check and carries on; finish() turns any into exit 1.
soft_fail() {
    printf 'FAIL: %s\n' "$*"
    E2E_FAILS=$((E2E_FAILS + 1))
}

# Records a passed check.
pass() { printf 'ok: %s\n' "$*"; }

# Ends the script: exit 0 when no check failed.
finish() {
    if [ "$E2E_FAILS" -gt 0 ]; then
        printf 'FAIL: %d check(s) failed\n' "$E2E_FAILS"
        exit 1
    fi
    printf 'PASS\n'
    exit 0
}

# --- processes ----------------------------------------------------------------------

# start_bg NAME CMD...: runs CMD in the background with its output in $E2E_TMP/NAME.log.
# Sets LAST_PID. The process is stopped on EXIT at the latest.
start_bg() {
    local name=$1
    shift
    "$@" >"$E2E_TMP/$name.log" 2>&1 </dev/null &
    LAST_PID=$!
    E2E_PIDS+=("$LAST_PID")
    # The start time tells our process from a later one that reuses the PID.
    local st
    st=$(pid_start "$LAST_PID") || st=-
    printf '%s %s %s\n' "$LAST_PID" "$st" "$name" >>"$E2E_TMP/pids"
    if [ -n "${E2E_PIDFILE:-}" ]; then printf '%s %s\n' "$LAST_PID" "$st" >>"$E2E_PIDFILE"; fi
}

# pid_start PID: the process's start time in clock ticks (field 22 of /proc/PID/stat).
pid_start() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $s
    echo "${20}"
}

# True while PID is running (and not a zombie).
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$st" != Z ]
}

# death_note PID: how a process that is no longer alive ended ("exit 1", "signal 11 SEGV").
# Only for children of this shell (start_bg in the same shell or subshell).
death_note() {
    local rc
    wait "$1" 2>/dev/null
    rc=$?
    if [ "$rc" -gt 128 ] && [ "$rc" -le 192 ]; then
        echo "signal $((rc - 128)) $(kill -l $((rc - 128)) 2>/dev/null)"
    else
        echo "exit $rc"
    fi
}

# exit_note VAR PID: death_note PID into the variable VAR, reaped by this shell. Use it where
# the exit status is asserted: `$(death_note PID)` waits in a subshell, which is not PID's
# parent, so if this shell has not reaped PID yet the note is wrong (90-soak read "exit -1"
# for a server that exited 0).
exit_note() {
    death_note "$2" >"$E2E_TMP/exit-note.$2"
    printf -v "$1" '%s' "$(<"$E2E_TMP/exit-note.$2")"
}

# stop_pid PID: SIGTERM, up to 3 s grace, then SIGKILL; returns 1 if it is still there.
stop_pid() {
    local pid=$1
    alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    fi
    wait "$pid" 2>/dev/null
    ! alive "$pid"
}

e2e_cleanup() {
    local rc=$? pid st left=0 san_logs
    trap - EXIT INT TERM
    if [ -f "$E2E_TMP/pids" ]; then
        # Includes processes started by background subshells (their own arrays are gone).
        while read -r pid st _; do
            # A PID whose start time changed is someone else's now: ours is gone.
            [ "$st" = - ] || [ "$(pid_start "$pid")" = "$st" ] || continue
            stop_pid "$pid" || { echo "WARNING: pid $pid survived SIGKILL" >&2; left=1; }
        done <"$E2E_TMP/pids"
    fi
    # A sanitizer report (SANITIZE=1 or thread build) or a Go runtime panic (V2Ray) in any log
    # fails the script, even one whose checks passed. (TSan's reports are WARNINGs.)
    local san_re='(ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|runtime error:'
    mapfile -t san_logs < <(grep -l -E "$san_re" "$E2E_TMP"/*.log 2>/dev/null | head -3)
    if [ "${#san_logs[@]}" -gt 0 ]; then
        echo "FAIL: sanitizer or runtime error in $(basename -a "${san_logs[@]}" | tr '\n' ' ')"
        grep -h -m3 -E "$san_re" "${san_logs[@]}" | sed 's/^/  | /'
        rc=1
    fi
    if [ "$rc" -ne 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "logs and configs kept in $E2E_TMP" >&2
    else
        rm -rf "$E2E_TMP"
    fi
    [ "$left" -eq 0 ] || rc=1
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

# expect_ok LOG WHAT CMD...: runs CMD (at most 90 s); a pass showing its output when it exits
# 0, else a failure showing its output and the tail of $E2E_TMP/LOG.log.
expect_ok() {
    local log=$1 what=$2 out
    shift 2
    if out=$(timeout -k 5 90 "$@" 2>&1); then
        pass "$what: $out"
    else
        soft_fail "$what: $out"
        show_log "$log"
    fi
}

# Shows the last lines of a log under a failure, indented.
show_log() {
    local f=$E2E_TMP/$1.log
    [ -f "$f" ] || return 0
    echo "  --- tail of $1.log ---"
    tail -n "${2:-15}" "$f" | sed 's/^/  | /'
}

# --- ports --------------------------------------------------------------------------

# ports N: prints N distinct free loopback ports (not handed out to anyone in the last 30 min).
ports() { "$PY" "$TOOLS/free_ports.py" "$1" --used "$E2E_PORTS_USED"; }
# port_run N: N consecutive free ports (for a port range), one per line.
port_run() { "$PY" "$TOOLS/free_ports.py" "$1" --consecutive --used "$E2E_PORTS_USED"; }

# wait_port PORT [SECONDS] [tcp|udp] [PID]: polls until something listens there; gives up
# early when PID (the process meant to listen) is gone. Uses `ss`, so nothing connects to
# the port (a probe would look like a bad handshake).
wait_port() {
    local port=$1 secs=${2:-10} proto=${3:-tcp} pid=${4:-} opt=-ltnH end
    [ "$proto" = udp ] && opt=-lunH
    end=$((SECONDS + secs))
    while [ "$SECONDS" -le "$end" ]; do
        if ss $opt "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        if [ -n "$pid" ] && ! alive "$pid"; then
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# wait_file FILE [SECONDS]: polls until FILE exists (a tool's --ready-file).
wait_file() {
    local f=$1 end=$((SECONDS + ${2:-10}))
    while [ "$SECONDS" -le "$end" ]; do
        [ -s "$f" ] && return 0
        sleep 0.05
    done
    return 1
}

# log_has FILE REGEX [SECONDS]: polls FILE (a log written as sessions end, maybe after the
# client saw the end) for a grep -E match, for up to SECONDS (default 10).
log_has() {
    local end=$((SECONDS + ${3:-10}))
    while [ "$SECONDS" -le "$end" ]; do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- hashes -------------------------------------------------------------------------

# sha256 of a file / of a string, hex only.
sha256_file() { sha256sum "$1" | awk '{print $1}'; }
sha256_str() { printf '%s' "$1" | sha256sum | awk '{print $1}'; }

# --- local servers (python tools) ----------------------------------------------------

# start_tool NAME TOOL.py ARGS...: starts a tools/ server with a ready file and a stats file
# ($E2E_TMP/NAME.stats) and waits for it. Sets TOOL_PORT and LAST_PID.
start_tool() {
    local name=$1 tool=$2
    shift 2
    start_bg "$name" "$PY" "$TOOLS/$tool" --ready-file "$E2E_TMP/$name.ready" \
        --stats "$E2E_TMP/$name.stats" --lifetime "${E2E_TOOL_LIFE:-600}" "$@"
    wait_file "$E2E_TMP/$name.ready" 10 || { show_log "$name"; fail "$name did not start"; }
    TOOL_PORT=$(cat "$E2E_TMP/$name.ready")
}

# Number of connections a tool server has accepted so far.
accepted_count() { grep -c '^accept' "$E2E_TMP/$1.stats" 2>/dev/null || true; }

# --- proxies ------------------------------------------------------------------------

# evp_sanitizer: "address" (SANITIZE=1 build), "thread" (SANITIZE=thread) or nothing. A plugin
# a script builds for the daemon needs the same one (for thread, the same compiler, clang):
# TSan cannot see the atomics of code built without it, and reports the frees they order.
evp_sanitizer() {
    case "$(nm -D "$EVP_BIN" 2>/dev/null; nm "$EVP_BIN" 2>/dev/null)" in
    *__asan_init*) echo address ;;
    *__tsan_init*) echo thread ;;
    esac
}

# need_evproxy: fails the script when the daemon under test is not built.
need_evproxy() {
    if [ "$EVP_IMPL" = evproxy ] && [ ! -x "$EVP_BIN" ]; then
        fail "$EVP_BIN not built (run make, or EVP_IMPL=v2ray to check the harness)"
    fi
}

# start_v2ray NAME CONFIG PORT...: checks CONFIG with `v2ray -test`, runs the real V2Ray
# on it and waits until every PORT listens (suffix /udp for a UDP port). Sets LAST_PID.
start_v2ray() {
    local name=$1 cfg=$2
    shift 2
    if ! timeout 20 "$V2RAY" -test -config "$cfg" >"$E2E_TMP/$name.test.log" 2>&1; then
        sed 's/^/  | /' "$E2E_TMP/$name.test.log" | tail -5
        fail "v2ray -test rejected $cfg"
    fi
    # shellcheck disable=SC2086 # V2RAY_ENV is a list of VAR=value words
    start_bg "$name" env ${V2RAY_ENV:-} "$V2RAY" -config "$cfg"
    wait_listening "$name" "$LAST_PID" "$@"
}

# start_evproxy NAME CONFIG PORT...: runs the daemon under test (or V2Ray when
# EVP_IMPL=v2ray) and waits for its ports. EVP_WRAP (e.g. "env FAKETIME=-300") and
# EVP_ENV (extra VAR=value words) go in front of the command. Sets LAST_PID.
start_evproxy() {
    local name=$1 cfg=$2
    shift 2
    if [ "$EVP_IMPL" = v2ray ]; then
        start_v2ray "$name" "$cfg" "$@"
        return
    fi
    need_evproxy
    # shellcheck disable=SC2086 # word splitting of the wrappers is intended
    start_bg "$name" env ${EVP_ENV:-} ${EVP_WRAP:-} "$EVP_BIN" -c "$cfg"
    wait_listening "$name" "$LAST_PID" "$@"
}

wait_listening() {
    local name=$1 pid=$2 p
    shift 2
    for p in "$@"; do
        case $p in
        */udp) wait_port "${p%/udp}" 10 udp "$pid" ;;
        *) wait_port "$p" 10 tcp "$pid" ;;
        esac || {
            show_log "$name"
            alive "$pid" || died_at_start "$name" "$pid"
            fail "$name: port $p not listening after 10 s"
        }
    done
    alive "$pid" || { show_log "$name"; died_at_start "$name" "$pid"; }
}

died_at_start() {
    fail "$1 exited at start-up ($(death_note "$2")): $(grep -m1 . "$E2E_TMP/$1.log" |
        cut -c1-160)"
}

# --- V2Ray-shaped configs -----------------------------------------------------------
# Written as a V2Ray user would write them; both V2Ray and evproxy run them unchanged.

# cfg_vmess_server FILE PORT UUID ALTERID [DISABLE_INSECURE(true|false)]
# vmess inbound on 127.0.0.1:PORT -> freedom.
cfg_vmess_server() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [
    {
      "tag": "vmess-in",
      "listen": "127.0.0.1",
      "port": $2,
      "protocol": "vmess",
      "settings": {
        "clients": [
          {"id": "$3", "alterId": $4, "level": 0, "email": "e2e@example.org"}
        ],
        "disableInsecureEncryption": ${5:-false}
      }
    }
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}}
  ],
  "routing": {
    "rules": [
      {"type": "field", "inboundTag": ["vmess-in"], "outboundTag": "direct"}
    ]
  }
}
EOF
}

# cfg_detour_server FILE PORT_A PORT_B TO AID [B_PROTOCOL] [B_EXTRA]: vmess-in on A (detour
# to TO, user e@x), an inbound tagged "dyn" on B (vmess with default alterId AID, or
# B_PROTOCOL; B may be a range "\"from-to\""; B_EXTRA: more members of it, e.g. an
# allocate). Sessions from "dyn" leave by their own freedom outbound "via-dyn", so the access
# log of either server (V2Ray 4.34 names only the outbound) tells which inbound took each
# session. Logs at info, the access log beside FILE.
cfg_detour_server() {
    local f=$1 a=$2 b=$3 to=$4 aid=$5 bproto=${6:-vmess} extra=${7:-} bset
    bset="{\"clients\": [], \"default\": {\"alterId\": $aid, \"level\": 0}}"
    [ "$bproto" = socks ] && bset='{"auth": "noauth", "udp": false}'
    cat >"$f" <<EOF
{
  "log": {"loglevel": "info", "access": "${f%.json}.access.log"},
  "inbounds": [
    {
      "tag": "vmess-in",
      "listen": "127.0.0.1",
      "port": $a,
      "protocol": "vmess",
      "settings": {
        "clients": [
          {"id": "$UUID_GOOD", "alterId": 0, "level": 0, "email": "e@x"}
        ],
        "detour": {"to": "$to"}
      }
    },
    {
      "tag": "dyn",
      "listen": "127.0.0.1",
      "port": $b,$extra
      "protocol": "$bproto",
      "settings": $bset
    }
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}},
    {"tag": "via-dyn", "protocol": "freedom", "settings": {}}
  ],
  "routing": {
    "rules": [
      {"type": "field", "inboundTag": ["vmess-in"], "outboundTag": "direct"},
      {"type": "field", "inboundTag": ["dyn"], "outboundTag": "via-dyn"}
    ]
  }
}
EOF
}

# cfg_vmess_client FILE SOCKS_PORT SERVER_PORT UUID ALTERID SECURITY [UDP_PORT UDP_TARGET]
# socks inbound on 127.0.0.1:SOCKS_PORT (plus, with UDP_PORT, a dokodemo-door UDP inbound
# forwarding to UDP_TARGET=HOST:PORT) -> vmess outbound to 127.0.0.1:SERVER_PORT.
cfg_vmess_client() {
    local f=$1 socks=$2 server=$3 uuid=$4 aid=$5 sec=$6 udp=${7:-} target=${8:-}
    local doko='' tags='"socks-in"'
    if [ -n "$udp" ]; then
        doko=$(
            cat <<EOF
,
    {
      "tag": "dns-in",
      "listen": "127.0.0.1",
      "port": $udp,
      "protocol": "dokodemo-door",
      "settings": {"address": "${target%:*}", "port": ${target##*:}, "network": "udp"}
    }
EOF
        )
        tags='"socks-in", "dns-in"'
    fi
    cat >"$f" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [
    {
      "tag": "socks-in",
      "listen": "127.0.0.1",
      "port": $socks,
      "protocol": "socks",
      "settings": {"auth": "noauth", "udp": false}
    }$doko
  ],
  "outbounds": [
    {
      "tag": "vmess-out",
      "protocol": "vmess",
      "settings": {
        "vnext": [
          {
            "address": "127.0.0.1",
            "port": $server,
            "users": [{"id": "$uuid", "alterId": $aid, "security": "$sec", "level": 0}]
          }
        ]
      }
    }
  ],
  "routing": {
    "rules": [
      {"type": "field", "inboundTag": [$tags], "outboundTag": "vmess-out"}
    ]
  }
}
EOF
}

# cfg_socks_freedom FILE SOCKS_PORT: socks inbound -> freedom, one process.
cfg_socks_freedom() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [
    {
      "tag": "socks-in",
      "listen": "127.0.0.1",
      "port": $2,
      "protocol": "socks",
      "settings": {"auth": "noauth", "udp": false}
    }
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}}
  ],
  "routing": {
    "rules": [
      {"type": "field", "inboundTag": ["socks-in"], "outboundTag": "direct"}
    ]
  }
}
EOF
}

# with_stream FILE JSON [PROTOCOL]: sets streamSettings on every PROTOCOL (default vmess)
# inbound and outbound in FILE.
with_stream() {
    "$PY" - "$1" "$2" "${3:-vmess}" <<'EOF'
import json, sys
path, stream, protocol = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
cfg = json.load(open(path))
for b in cfg.get("inbounds", []) + cfg.get("outbounds", []):
    if b["protocol"] == protocol:
        b["streamSettings"] = stream
json.dump(cfg, open(path, "w"), indent=2)
EOF
}

# --- nginx ----------------------------------------------------------------------------

# nginx_ws_location PATH PORT: an nginx location upgrading PATH to plain ws on 127.0.0.1:PORT,
# Host kept and the peer's address appended to X-Forwarded-For.
nginx_ws_location() {
    cat <<EOF
    location $1 {
      proxy_pass http://127.0.0.1:$2; proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection "upgrade";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
EOF
}

# start_nginx DIR PORT LOG_FORMAT SERVER_LINES: Debian's nginx (http) run from DIR with one
# server block (SERVER_LINES, its listen line included), access lines in DIR/access.log in
# LOG_FORMAT; waits until PORT listens.
start_nginx() {
    local dir=$1
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
error_log $dir/error.log;
pid $dir/nginx.pid;
events {}
http {
  log_format front '$3';
  access_log $dir/access.log front;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  server {
$4
  }
}
EOF
    start_bg nginx nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
    wait_port "$2" 10 tcp "$LAST_PID" || { show_log nginx; fail "nginx did not listen"; }
}

# --- clients ------------------------------------------------------------------------

# socks_stream SOCKS_PORT TARGET ARGS...: socks5_client.py with its JSON in $E2E_TMP/
# last-client.json; returns its exit status (0 = every session verified).
socks_stream() {
    local socks=$1 target=$2
    shift 2
    timeout -k 5 "${E2E_CLIENT_TIMEOUT:-120}" "$PY" "$TOOLS/socks5_client.py" \
        --socks "127.0.0.1:$socks" --target "$target" "$@"
}

# First failure reason in a client's JSON output (for FAIL lines).
why_of() { grep -o '"why": "[^"]*[^"]' "$1" | head -1 | sed 's/"why": "//'; }

# access_count LOG PORT: connections an evproxy with access log LOG passed on to
# 127.0.0.1:PORT so far (a line as each is accepted).
access_count() { grep -c "accepted tcp:127\.0\.0\.1:$2 " "$1" 2>/dev/null || true; }
# wait_access LOG PORT N: polls (300 times, about 30 s) until LOG has N connections to PORT;
# prints the count it got.
wait_access() {
    local n
    for _ in $(seq 300); do
        n=$(access_count "$1" "$2")
        [ "$n" -ge "$3" ] && break
        sleep 0.1
    done
    echo "$n"
}

# user_sessions FILE EMAIL: the sessions `evproxy ctl stats` (its JSON in FILE) counts for EMAIL.
user_sessions() {
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(u["sessions"] for u in d["users"] if u.get("email") == sys.argv[2]))' "$1" "$2"
}
