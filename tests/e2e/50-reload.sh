#!/usr/bin/env bash
# Hot reload under load, bad reloads, plugin hot swap and the control socket.
#
# One evproxy VMess server (run with a private --plugin-dir) has two vmess inbounds:
#   vmess-file: its users in a clientsFile (polled by the daemon)
#   vmess-cfg:  its users inline in the config (changed by SIGHUP)
# both -> freedom -> a loopback echo server. Load clients: a real V2Ray and an evproxy client,
# each with one socks inbound per server inbound. A third evproxy process ("probe") has one
# socks inbound per probe user, so that "is user U accepted now?" is one short echo.
#   1. 50 paced transfers (8 MiB each way) run while the server is reloaded 20 times
#      (SIGHUP with an edited config, and clients-file edits, alternately), each reload adding
#      one probe user and removing another; after each, the added one is served and the
#      removed one refused. Every transfer must end with a sha256 match.
#   2. Bad reloads (unreadable config and clients file, invalid JSON, a bad uuid, a vmess.so
#      that is not a plugin) are refused and logged with their path or rule; the old config
#      keeps running and serving.
#   3. Plugin swap: a rebuilt vmess.so with another version is swapped in under a running
#      session; that session completes on the old module, a new one runs the new version,
#      `ctl modules` shows both and then only the new one. A header captured (by a relay)
#      on the old module and replayed after the swap is refused as a replay by the new one.
#   4. Control socket: mode 0600, list-users, add-user, remove-user, stats; a user the
#      schema refuses must not be written to the clients file.
# Prints a results table ("| " lines).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| reload tests need evproxy itself (control socket, clientsFile, plugin swap): skipped"
    finish
fi
need_evproxy

SIZE=${E2E_RELOAD_BYTES:-8M}
LOAD_SECS=${E2E_RELOAD_LOAD_SECS:-20} # pacing: most of each transfer is spread over this
RELOADS=${E2E_RELOADS:-20}
SAN_KIND=$(evp_sanitizer)
SLOW=1 # multiplier for waits under the sanitizers
[ -z "$SAN_KIND" ] || SLOW=3
RESULTS=$E2E_TMP/results.txt
: >"$RESULTS"
CTL=$E2E_TMP/ctl.sock
CF=$E2E_TMP/clients.json
SCFG=$E2E_TMP/server.json
PLUGDIR=$E2E_TMP/plugins
SLOG=$E2E_TMP/server.log

# row TEST CHECK RESULT: one line of the final table (and a pass/soft_fail now).
row() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"
    if [ "$3" = PASS ]; then pass "$1: $2"; else soft_fail "$1: $2: $3"; fi
}

# uuid_of NAME: a fixed UUID per test user (uuid5, so logs compare between runs).
uuid_of() {
    "$PY" -c 'import sys, uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, sys.argv[1] + ".e2e"))' "$1"
}

# The paced client: like socks5_client.py --mode echo, but sends all but the last block at a
# steady pace over --secs, then holds the last block until --hold exists, so that sessions
# stay open (and busy) for as long as the reloads go on. --ready is written once every
# session has had its first bytes echoed.
cat >"$E2E_TMP/paced.py" <<'EOF'
import argparse, hashlib, json, os, sys, threading, time
sys.path.insert(0, os.environ["E2E_TOOLS"])
import detdata
from socks5_client import socks5_connect

ap = argparse.ArgumentParser()
ap.add_argument("--socks", required=True)
ap.add_argument("--target", required=True)
ap.add_argument("--bytes", default="8M")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--sessions", type=int, default=1)
ap.add_argument("--secs", type=float, default=10.0)
ap.add_argument("--hold", required=True)
ap.add_argument("--ready", required=True)
ap.add_argument("--timeout", type=float, default=120.0)
a = ap.parse_args()
nbytes = detdata.parse_size(a.bytes)
deadline = time.monotonic() + a.timeout
proxy = detdata.parse_hostport(a.socks)
host, port = detdata.parse_hostport(a.target)
results = [None] * a.sessions
lock = threading.Lock()
started = [0]


def sender(sock, seed, st):
    try:
        t0 = time.monotonic()
        paced = max(1, nbytes - detdata.BLOCK)
        for blk in detdata.blocks(seed, nbytes):
            if st["sent"] + len(blk) >= nbytes:
                while not os.path.exists(a.hold) and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                ahead = t0 + a.secs * st["sent"] / paced - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            sock.sendall(blk)
            st["sent"] += len(blk)
    except OSError as e:
        st["send_error"] = str(e)


def one(i):
    seed = a.seed + i
    st = {"seed": seed, "sent": 0, "recv": 0}
    results[i] = st
    try:
        sock = socks5_connect(proxy, host, port, 20.0)
    except (OSError, ValueError) as e:
        st["why"] = "connect: %s" % e
        return
    t = threading.Thread(target=sender, args=(sock, seed, st), daemon=True)
    t.start()
    h = hashlib.sha256()
    end = "complete"
    try:
        while st["recv"] < nbytes:
            left = deadline - time.monotonic()
            if left <= 0:
                end = "timeout"
                break
            sock.settimeout(min(left, 5.0))
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                end = "eof"
                break
            if st["recv"] == 0:
                with lock:
                    started[0] += 1
                    if started[0] == a.sessions:
                        with open(a.ready + ".tmp", "w") as f:
                            f.write("ready\n")
                        os.rename(a.ready + ".tmp", a.ready)
            h.update(data)
            st["recv"] += len(data)
    except OSError as e:
        end = "error: %s" % e
    t.join(5)
    sock.close()
    exp = detdata.stream_sha256(seed, nbytes)
    st["ok"] = st["recv"] == nbytes and h.hexdigest() == exp
    st["why"] = "" if st["ok"] else "echo: got %d/%d bytes, sha %s (%s)" % (
        st["recv"], nbytes, "match" if h.hexdigest() == exp else "MISMATCH", end)


threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(a.sessions)]
for t in threads:
    t.start()
for t in threads:
    t.join(max(0.0, deadline + 10 - time.monotonic()))
good = 0
for i, r in enumerate(results):
    r = r if r and "ok" in r else {"seed": a.seed + i, "ok": False,
                                   "why": (r or {}).get("why") or "session hung"}
    good += bool(r["ok"])
    print(json.dumps(r), flush=True)
print(json.dumps({"summary": True, "sessions": a.sessions, "ok": good}), flush=True)
sys.exit(0 if good == a.sessions else 1)
EOF
export E2E_TOOLS=$TOOLS

# --- users and ports -------------------------------------------------------------------

# name -> uuid, alterId. T1/T2 carry the transfers and are never removed; F* are probe
# users of vmess-file, C* of vmess-cfg; X/Y are added over the control socket; B only ever
# appears in refused configs.
declare -A UID_OF AID_OF PORT_OF
for u in T1 T2 F1 F2 F3 C1 C2 C3 X Y B; do
    UID_OF[$u]=$(uuid_of "$u")
    AID_OF[$u]=0
done
AID_OF[T2]=4
AID_OF[C2]=4
read -r SP1 SP2 LV1 LV2 LE1 LE2 < <(ports 6 | tr '\n' ' ')
for u in F1 F2 F3 C1 C2 C3 X Y B; do
    PORT_OF[$u]=$(ports 1)
done

# client_json NAME: one VMess client entry of the server's user lists.
client_json() {
    printf '{"id": "%s", "alterId": %d, "level": 0, "email": "%s@e2e"}' \
        "${UID_OF[$1]}" "${AID_OF[$1]}" "$(echo "$1" | tr '[:upper:]' '[:lower:]')"
}
# clients_array NAME...: a JSON array of client entries.
clients_array() {
    local sep='' u
    printf '['
    for u in "$@"; do
        printf '%s\n      %s' "$sep" "$(client_json "$u")"
        sep=,
    done
    printf '\n    ]'
}

# write_server_cfg FILE CFG_CLIENTS_ARRAY [EXTRA_CLIENT_TEXT]: the server config.
write_server_cfg() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "info"},
  "control": {"path": "$CTL"},
  "inbounds": [
    {
      "tag": "vmess-file",
      "listen": "127.0.0.1",
      "port": $SP1,
      "protocol": "vmess",
      "clientsFile": "$CF",
      "settings": {"clients": []}
    },
    {
      "tag": "vmess-cfg",
      "listen": "127.0.0.1",
      "port": $SP2,
      "protocol": "vmess",
      "settings": {
        "clients": $2
      }
    }
  ],
  "outbounds": [
    {"tag": "direct", "protocol": "freedom", "settings": {}}
  ],
  "routing": {
    "rules": [
      {"type": "field", "inboundTag": ["vmess-file", "vmess-cfg"], "outboundTag": "direct"}
    ]
  }
}
EOF
}

# write_multi_client FILE SOCKS:SERVERPORT:USER...: one socks inbound per entry, each routed
# to its own vmess outbound (aes-128-gcm) with that user.
write_multi_client() {
    local f=$1 e socks sport u ins='' outs='' rules='' sep=''
    shift
    for e in "$@"; do
        IFS=: read -r socks sport u <<<"$e"
        ins+="$sep
    {\"tag\": \"in-$u-$socks\", \"listen\": \"127.0.0.1\", \"port\": $socks,
     \"protocol\": \"socks\", \"settings\": {\"auth\": \"noauth\", \"udp\": false}}"
        outs+="$sep
    {\"tag\": \"out-$u-$socks\", \"protocol\": \"vmess\", \"settings\": {\"vnext\": [
      {\"address\": \"127.0.0.1\", \"port\": $sport, \"users\": [{\"id\": \"${UID_OF[$u]}\",
       \"alterId\": ${AID_OF[$u]}, \"security\": \"aes-128-gcm\", \"level\": 0}]}]}}"
        rules+="$sep
      {\"type\": \"field\", \"inboundTag\": [\"in-$u-$socks\"], \"outboundTag\": \"out-$u-$socks\"}"
        sep=,
    done
    cat >"$f" <<EOF
{
  "log": {"loglevel": "warning"},
  "inbounds": [$ins
  ],
  "outbounds": [$outs
  ],
  "routing": {"rules": [$rules
  ]}
}
EOF
}

# write_clients_file MODE NAME...: the clients file, replaced by rename or rewritten in place
# as an editor does it: truncated, then written 0.15 s later (the daemon must wait for the
# file to settle rather than reload the empty file in between and refuse it).
write_clients_file() {
    local mode=$1
    shift
    local text
    text=$(printf '{\n  "clients": %s\n}\n' "$(clients_array "$@")")
    if [ "$mode" = rename ]; then
        printf '%s' "$text" >"$CF.new" && mv -f "$CF.new" "$CF"
    else
        : >"$CF"
        sleep 0.15
        printf '%s' "$text" >"$CF"
    fi
}

# --- the server and its log ----------------------------------------------------------------

count_in_log() { grep -c -- "$1" "$SLOG" 2>/dev/null || true; }

# wait_log_count PATTERN OLD [SECONDS]: waits until PATTERN occurs more than OLD times.
wait_log_count() {
    local end=$((SECONDS + ${3:-10} * SLOW))
    while [ "$SECONDS" -le "$end" ]; do
        [ "$(count_in_log "$1")" -gt "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# A reload has been applied / refused since the counts were taken by mark_reloads.
mark_reloads() {
    APPLIED0=$(count_in_log 'reload applied')
    REFUSED0=$(count_in_log 'reload refused')
}
wait_applied() { wait_log_count 'reload applied' "$APPLIED0" "${1:-10}"; }
wait_refused() { wait_log_count 'reload refused' "$REFUSED0" "${1:-10}"; }

# ctl ARGS...: the control client; output in $E2E_TMP/ctl.out, status returned.
ctl() { timeout 10 "$EVP_BIN" ctl -s "$CTL" "$@" >"$E2E_TMP/ctl.out" 2>&1; }

server_alive() { alive "$S_PID"; }

# --- probes --------------------------------------------------------------------------------

N=0
# served SOCKS_PORT: a 64 KiB echo through SOCKS_PORT verifies.
served() {
    local out=$E2E_TMP/probe-$N.json
    N=$((N + 1))
    socks_stream "$1" "127.0.0.1:$ECHO" --bytes 64k --seed $((1000 + N)) \
        --timeout $((15 * SLOW)) >"$out" 2>&1 && return 0
    PROBE_WHY=$(why_of "$out")
    return 1
}
# refused SOCKS_PORT: the session fails, the server logs a rejected handshake and the echo
# server sees no new connection.
refused() {
    local out=$E2E_TMP/probe-$N.json rej acc
    N=$((N + 1))
    rej=$(count_in_log 'rejected a handshake')
    acc=$(accepted_count echo)
    if socks_stream "$1" "127.0.0.1:$ECHO" --bytes 64k --seed $((1000 + N)) \
        --timeout $((8 * SLOW)) >"$out" 2>&1; then
        PROBE_WHY="data went through"
        return 1
    fi
    if ! wait_log_count 'rejected a handshake' "$rej" 5; then
        PROBE_WHY="no 'rejected a handshake' in the server log ($(why_of "$out"))"
        return 1
    fi
    if [ "$(accepted_count echo)" != "$acc" ]; then
        PROBE_WHY="the echo server got a connection"
        return 1
    fi
    return 0
}

# --- start everything ----------------------------------------------------------------------

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# Build the swap-in plugin early (in the background): the same sources and flags as the
# Makefile, another version string, sanitizers when the daemon has them.
NEWVER="0.1.1-reload-$$"
# shellcheck disable=SC2317 # run by a child bash (declare -f)
build_new_plugin() {
    local san='' cc=cc f objs=() pkg_cflags pkg_libs
    pkg_cflags=$(pkg-config --cflags libsodium nettle gnutls jansson)
    pkg_libs=$(pkg-config --libs libsodium nettle gnutls jansson)
    case $SAN_KIND in
    address) san="-fsanitize=address,undefined -fno-omit-frame-pointer" ;;
    thread) san="-fsanitize=thread -fno-omit-frame-pointer" cc=clang ;;
    esac
    mkdir -p "$E2E_TMP/newplug"
    for f in plugin/vmess/*.c; do
        # shellcheck disable=SC2086 # $san and pkg-config output are word lists
        "$cc" -O2 -g -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $san -Icore/include -Icore \
            $pkg_cflags \
            -DVMESS_PLUGIN_VERSION="\"$NEWVER\"" -c "$f" \
            -o "$E2E_TMP/newplug/$(basename "$f" .c).o" || return 1
        objs+=("$E2E_TMP/newplug/$(basename "$f" .c).o")
    done
    # shellcheck disable=SC2086
    "$cc" -shared $san "${objs[@]}" -o "$E2E_TMP/newplug/vmess.so" \
        $pkg_libs
}
# Through start_bg, so that the cleanup stops it if the script ends early.
export SAN_KIND E2E_TMP NEWVER
start_bg newplug "$BASH" -c "$(declare -f build_new_plugin); cd '$E2E_ROOT' && build_new_plugin"
BUILD_PID=$LAST_PID

mkdir -p "$PLUGDIR"
cp "$EVP_BUILD/plugins/vmess.so" "$PLUGDIR/vmess.so"
FILE_SET=(F1 F2)
CFG_SET=(C1 C2)
write_clients_file rename T1 "${FILE_SET[@]}"
write_server_cfg "$SCFG" "$(clients_array T2 "${CFG_SET[@]}")"
start_bg server "$EVP_BIN" --plugin-dir "$PLUGDIR" -c "$SCFG"
S_PID=$LAST_PID
wait_listening server "$S_PID" "$SP1" "$SP2"
for _ in $(seq 100); do [ -S "$CTL" ] && break; sleep 0.05; done
[ -S "$CTL" ] || fail "no control socket at $CTL"

PROBE_ENTRIES=()
for u in F1 F2 F3 X; do PROBE_ENTRIES+=("${PORT_OF[$u]}:$SP1:$u"); done
for u in C1 C2 C3 Y B; do PROBE_ENTRIES+=("${PORT_OF[$u]}:$SP2:$u"); done
write_multi_client "$E2E_TMP/probe.json" "${PROBE_ENTRIES[@]}"
start_bg probe "$EVP_BIN" -c "$E2E_TMP/probe.json"
PROBE_PID=$LAST_PID
for u in F1 F2 F3 X C1 C2 C3 Y B; do
    wait_listening probe "$PROBE_PID" "${PORT_OF[$u]}"
done
write_multi_client "$E2E_TMP/load-v2ray.json" "$LV1:$SP1:T1" "$LV2:$SP2:T2"
start_v2ray load-v2ray "$E2E_TMP/load-v2ray.json" "$LV1" "$LV2"
write_multi_client "$E2E_TMP/load-evp.json" "$LE1:$SP1:T1" "$LE2:$SP2:T2"
start_evproxy load-evp "$E2E_TMP/load-evp.json" "$LE1" "$LE2"
info "server $SP1 (clientsFile) $SP2 (inline), echo $ECHO, plugin dir $PLUGDIR"

# --- 1. reload under load ----------------------------------------------------------------

t1_start=$SECONDS
HOLD1=$E2E_TMP/hold1
LOADS=("v2ray-file $LV1 13" "v2ray-cfg $LV2 12" "evp-file $LE1 13" "evp-cfg $LE2 12")
LOAD_PIDS=()
seed=100
for l in "${LOADS[@]}"; do
    read -r name port n <<<"$l"
    start_bg "load-$name" timeout -k 5 $((LOAD_SECS * SLOW + 150)) "$PY" "$E2E_TMP/paced.py" \
        --socks "127.0.0.1:$port" --target "127.0.0.1:$ECHO" --bytes "$SIZE" --seed "$seed" \
        --sessions "$n" --secs "$LOAD_SECS" --hold "$HOLD1" --ready "$E2E_TMP/$name.ready" \
        --timeout $((LOAD_SECS * SLOW + 140))
    LOAD_PIDS+=("$LAST_PID")
    seed=$((seed + 100))
done
for l in "${LOADS[@]}"; do
    read -r name _ _ <<<"$l"
    wait_file "$E2E_TMP/$name.ready" $((20 * SLOW)) || {
        show_log "load-$name"
        show_log server
        fail "transfers through $name did not all start"
    }
done
info "50 transfers running; $RELOADS reloads"

# rotate SET_NAME POOL...: rotates a 2-user set: adds the first pool user not in it and
# removes its oldest; sets ADDED and REMOVED.
rotate() {
    local -n set=$1
    shift
    local u
    for u in "$@"; do
        if [[ " ${set[*]} " != *" $u "* ]]; then
            ADDED=$u
            break
        fi
    done
    REMOVED=${set[0]}
    set=("${set[@]:1}" "$ADDED")
}

ok_added=0
ok_removed=0
reload_fail=''
for i in $(seq 1 "$RELOADS"); do
    mark_reloads
    if [ $((i % 2)) = 1 ]; then
        kind=sighup
        rotate CFG_SET C1 C2 C3
        # The edited config replaces the file by rename half the time, in place otherwise.
        if [ $((i % 4)) = 1 ]; then
            write_server_cfg "$SCFG.new" "$(clients_array T2 "${CFG_SET[@]}")"
            mv -f "$SCFG.new" "$SCFG"
        else
            write_server_cfg "$SCFG" "$(clients_array T2 "${CFG_SET[@]}")"
        fi
        kill -HUP "$S_PID"
    else
        rotate FILE_SET F1 F2 F3
        if [ $((i % 4)) = 2 ]; then kind=file-rename; else kind=file-inplace; fi
        write_clients_file "${kind#file-}" T1 "${FILE_SET[@]}"
    fi
    if ! wait_applied 10; then
        reload_fail+="reload $i ($kind): not applied; "
        show_log server 10
        continue
    fi
    if served "${PORT_OF[$ADDED]}"; then
        ok_added=$((ok_added + 1))
    else
        reload_fail+="reload $i ($kind): added $ADDED not served: $PROBE_WHY; "
    fi
    if refused "${PORT_OF[$REMOVED]}"; then
        ok_removed=$((ok_removed + 1))
    else
        reload_fail+="reload $i ($kind): removed $REMOVED not refused: $PROBE_WHY; "
    fi
done
still=0
for p in "${LOAD_PIDS[@]}"; do alive "$p" && still=$((still + 1)); done
touch "$HOLD1"
info "reloads done in $((SECONDS - t1_start)) s; releasing the transfers"
loads_ok=0
loads_why=''
for k in "${!LOADS[@]}"; do
    read -r name _ n <<<"${LOADS[$k]}"
    wait "${LOAD_PIDS[$k]}"
    okn=$(grep -o '"summary": true, "sessions": [0-9]*, "ok": [0-9]*' "$E2E_TMP/load-$name.log" |
        awk '{print $NF}')
    loads_ok=$((loads_ok + ${okn:-0}))
    if [ "${okn:-0}" != "$n" ]; then
        loads_why+="$name: $(why_of "$E2E_TMP/load-$name.log"); "
    fi
done
T1="1 reload under load"
row "$T1" "all 4 load clients still running after the last reload" \
    "$([ "$still" = 4 ] && echo PASS || echo "FAIL only $still running")"
row "$T1" "$RELOADS reloads applied, added user served each time" \
    "$([ "$ok_added" = "$RELOADS" ] && echo PASS || echo "FAIL $ok_added/$RELOADS: $reload_fail")"
row "$T1" "removed user refused each time" \
    "$([ "$ok_removed" = "$RELOADS" ] && echo PASS || echo "FAIL $ok_removed/$RELOADS")"
row "$T1" "50 transfers ($SIZE each way) sha256 match" \
    "$([ "$loads_ok" = 50 ] && echo PASS || echo "FAIL $loads_ok/50: $loads_why")"
row "$T1" "no reload refused, server alive" \
    "$([ "$(count_in_log 'reload refused')" = 0 ] && server_alive && echo PASS ||
        echo FAIL)"

# --- 2. bad reloads --------------------------------------------------------------------------

T2="2 bad reloads"
cp "$SCFG" "$E2E_TMP/good.json"
cp "$CF" "$E2E_TMP/good-clients.json"

# refusal_text: the first refusal since mark_reloads, with the lines of its reasons.
refusal_text() {
    awk -v n="$((REFUSED0 + 1))" '/reload refused/ { k++ } k == n && left-- > 0' left=4 "$SLOG"
}

# after_refusal WHAT PATTERN [NEW_USER]: the refusal was logged with PATTERN (a path or a
# rule), the daemon is alive, a good client is served, and NEW_USER (in the refused change)
# is not.
after_refusal() {
    local what=$1 pat=$2 newu=${3:-} res=PASS
    if ! wait_refused 10; then
        res="FAIL no 'reload refused' logged"
    elif ! refusal_text | grep -qF -- "$pat"; then
        res="FAIL the refusal does not name '$pat'"
    elif ! server_alive; then
        res="FAIL server died ($(death_note "$S_PID"))"
    elif ! served "$LE1" || ! served "$LV2"; then
        res="FAIL a good client is not served: $PROBE_WHY"
    elif [ -n "$newu" ] && ! refused "${PORT_OF[$newu]}"; then
        res="FAIL the refused config's new user: $PROBE_WHY"
    fi
    [ "$res" = PASS ] || show_log server 12
    row "$T2" "$what" "$res"
}

# a. the config is unreadable (root reads any mode, so a directory takes its place)
mark_reloads
mv "$SCFG" "$SCFG.away" && mkdir "$SCFG"
kill -HUP "$S_PID"
after_refusal "unreadable config (a directory)" "$SCFG"
rmdir "$SCFG" && mv "$SCFG.away" "$SCFG"

# b. the clients file is unreadable (the poller sees it)
mark_reloads
mv "$CF" "$CF.away" && mkdir "$CF"
after_refusal "unreadable clients file (a directory)" "$CF"
mark_reloads
rmdir "$CF" && mv "$CF.away" "$CF"
wait_applied 10 || row "$T2" "clients file restored: reload applied" "FAIL not applied"

# c. invalid JSON in the config: the path and the line are named
mark_reloads
sed '4s/$/ ,,/' "$E2E_TMP/good.json" >"$SCFG"
kill -HUP "$S_PID"
after_refusal "invalid JSON config" "$SCFG:4:"
cp "$E2E_TMP/good.json" "$SCFG"

# d. invalid JSON in the clients file
mark_reloads
printf '{"clients": [ {"id": ]}\n' >"$CF"
after_refusal "invalid JSON clients file" "$CF:1:"
mark_reloads
cp "$E2E_TMP/good-clients.json" "$CF.new" && mv -f "$CF.new" "$CF"
wait_applied 10 || row "$T2" "clients file restored: reload applied" "FAIL not applied"

# e. schema failure: a bad uuid next to a good new user B
mark_reloads
write_server_cfg "$SCFG" "$(clients_array T2 "${CFG_SET[@]}" B | sed 's/\]$//'),
      {\"id\": \"27848739-7e62-4138-9fd3-nonsense\", \"email\": \"bad@e2e\"}
    ]"
kill -HUP "$S_PID"
after_refusal "schema failure (bad uuid), new user B not applied" \
    "inbounds[1].settings.clients[$((${#CFG_SET[@]} + 2))].id" B

# f. a vmess.so that is not a plugin, with B added in the same config
mark_reloads
write_server_cfg "$SCFG" "$(clients_array T2 "${CFG_SET[@]}" B)"
printf 'this is not a shared object\n' >"$PLUGDIR/vmess.so.new"
mv -f "$PLUGDIR/vmess.so.new" "$PLUGDIR/vmess.so"
kill -HUP "$S_PID"
after_refusal "plugin that will not load, new user B not applied" "$PLUGDIR/vmess.so" B

# Good again: the good config, then the original plugin (a new copy).
mark_reloads
cp "$E2E_TMP/good.json" "$SCFG"
cp "$EVP_BUILD/plugins/vmess.so" "$PLUGDIR/vmess.so.new"
mv -f "$PLUGDIR/vmess.so.new" "$PLUGDIR/vmess.so"
kill -HUP "$S_PID"
res=PASS
if ! wait_applied 10; then
    res="FAIL not applied"
elif ! served "$LE2" || ! served "$LV1"; then
    res="FAIL not served: $PROBE_WHY"
fi
row "$T2" "good config and plugin restored: applied and serving" "$res"

# --- 3. plugin swap --------------------------------------------------------------------------

CAP3=$E2E_TMP/swap-capture.bin
# capture_before_swap: a real client's first bytes to vmess-file (user T1, AEAD header),
# recorded by a relay, on the module that runs before the swap.
capture_before_swap() {
    local socks relay_pid cap_pid res=PASS
    start_tool relay3 capture_proxy.py --upstream "127.0.0.1:$SP1" --capture "$CAP3" \
        --limit 4096
    relay_pid=$LAST_PID
    socks=$(ports 1)
    write_multi_client "$E2E_TMP/cap3.json" "$socks:$TOOL_PORT:T1"
    start_evproxy cap3 "$E2E_TMP/cap3.json" "$socks"
    cap_pid=$LAST_PID
    if ! served "$socks"; then
        res="FAIL the captured session was not served: $PROBE_WHY"
    elif ! wait_file "$CAP3" 5; then
        res="FAIL nothing captured"
    fi
    stop_pid "$cap_pid"
    stop_pid "$relay_pid"
    row "$T3" "a session through a capturing relay, before the swap" "$res"
}

# replay_after_swap: the captured bytes sent again to the new module: refused as a replay
# (the log says so), nothing answered, nothing reaches the target.
replay_after_swap() {
    local pat='rejected a client on \[vmess-file\]: vmess: replayed AuthID' rej acc rc recv
    local out=$E2E_TMP/replay3.json res=PASS
    [ -f "$CAP3" ] || return 0
    rej=$(count_in_log "$pat")
    acc=$(accepted_count echo)
    timeout 20 "$PY" "$TOOLS/replay.py" --connect "127.0.0.1:$SP1" --file "$CAP3" --wait 2 \
        >"$out" 2>&1
    rc=$?
    recv=$(grep -o '"recv": [0-9]*' "$out" | grep -o '[0-9]*$')
    if [ "$rc" != 0 ]; then
        res="FAIL replay.py exit $rc: $(tr -d '\n' <"$out" | cut -c1-100)"
    elif [ "${recv:-x}" != 0 ]; then
        res="FAIL the server answered: $(tr -d '\n' <"$out")"
    elif [ "$(accepted_count echo)" != "$acc" ]; then
        res="FAIL the replay reached the target"
    elif ! wait_log_count "$pat" "$rej" 5; then
        res="FAIL no 'replayed AuthID' rejection: $(grep 'rejected a client' "$SLOG" | tail -1)"
    fi
    row "$T3" "the capture, replayed after the swap: refused (replayed AuthID)" "$res"
}

T3="3 plugin swap"
# vmess_versions: "version:refs ..." of the loaded vmess modules, from `ctl modules`.
vmess_versions() {
    ctl modules || return 1
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s:%d" % (m["version"], m["refs"]) for m in d["modules"]
               if m["name"] == "vmess"))' "$E2E_TMP/ctl.out"
}
OLDVERS=$(vmess_versions)
OLDVER=${OLDVERS%%:*}
if ! wait "$BUILD_PID"; then
    sed 's/^/  | /' "$E2E_TMP/newplug.log" | tail -5
    row "$T3" "rebuild vmess.so as $NEWVER" "FAIL (compile error)"
elif [ -z "$OLDVER" ] || [ "$OLDVERS" != "${OLDVERS%% *}" ]; then
    row "$T3" "one vmess module loaded before the swap" "FAIL ctl modules: '$OLDVERS'"
else
    HOLD3=$E2E_TMP/hold3
    start_bg long3 timeout -k 5 $((60 * SLOW)) "$PY" "$E2E_TMP/paced.py" \
        --socks "127.0.0.1:$LE1" --target "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 900 \
        --sessions 1 --secs 3 --hold "$HOLD3" --ready "$E2E_TMP/long3.ready" \
        --timeout $((55 * SLOW))
    LONG_PID=$LAST_PID
    wait_file "$E2E_TMP/long3.ready" $((15 * SLOW)) || row "$T3" "long transfer starts" FAIL
    grep 'accepted \[vmess-file' "$SLOG" | tail -1 | grep -qF "(vmess $OLDVER," &&
        res=PASS || res="FAIL: $(grep 'accepted' "$SLOG" | tail -1 | cut -c1-120)"
    row "$T3" "long session accepted on vmess $OLDVER" "$res"
    capture_before_swap
    mark_reloads
    loads0=$(count_in_log "loading new version $NEWVER")
    cp "$E2E_TMP/newplug/vmess.so" "$PLUGDIR/vmess.so.new"
    mv -f "$PLUGDIR/vmess.so.new" "$PLUGDIR/vmess.so"
    kill -HUP "$S_PID"
    res=PASS
    if ! wait_applied 10; then
        res="FAIL reload not applied"
    elif [ "$(count_in_log "loading new version $NEWVER")" -le "$loads0" ]; then
        res="FAIL no 'loading new version $NEWVER' line"
    fi
    row "$T3" "SIGHUP loads vmess $NEWVER" "$res"
    replay_after_swap
    acc0=$(count_in_log 'accepted \[vmess-file')
    res=PASS
    if ! served "$LE1"; then
        res="FAIL new session not served: $PROBE_WHY"
    elif ! wait_log_count 'accepted \[vmess-file' "$acc0" 5; then
        res="FAIL no accept line"
    elif ! grep 'accepted \[vmess-file' "$SLOG" | tail -1 | grep -qF "(vmess $NEWVER,"; then
        res="FAIL: $(grep 'accepted \[vmess-file' "$SLOG" | tail -1 | cut -c1-140)"
    fi
    row "$T3" "a new session's accept line names vmess $NEWVER" "$res"
    both=$(vmess_versions)
    res="FAIL ctl modules: '$both'"
    [[ " $both " == *" $OLDVER:"* && " $both " == *" $NEWVER:"* ]] && res=PASS
    row "$T3" "ctl modules lists both while the old session runs ($both)" "$res"
    touch "$HOLD3"
    wait "$LONG_PID"
    okn=$(grep -o '"summary": true, "sessions": 1, "ok": [0-9]' "$E2E_TMP/long3.log" |
        awk '{print $NF}')
    row "$T3" "the old session completes ($SIZE, sha256)" \
        "$([ "$okn" = 1 ] && echo PASS || echo "FAIL $(why_of "$E2E_TMP/long3.log")")"
    # The old module goes once the session's last reference is dropped.
    end=$((SECONDS + 5 * SLOW))
    while now=$(vmess_versions) && [ "$now" != "${now%% *}" ] && [ "$SECONDS" -le "$end" ]; do
        sleep 0.2
    done
    res="FAIL ctl modules: '$now'"
    [ "$now" = "${now%% *}" ] && [ "${now%%:*}" = "$NEWVER" ] && res=PASS
    row "$T3" "afterwards only vmess $NEWVER is loaded ($now)" "$res"
fi

# --- 4. control socket -----------------------------------------------------------------------

T4="4 control socket"
mode=$(stat -c '%a %F' "$CTL")
row "$T4" "socket mode 0600 ($mode)" "$([ "$mode" = "600 socket" ] && echo PASS || echo FAIL)"

# list_has TAG TEXT: list-users TAG output contains TEXT.
list_has() { ctl list-users "$1" && grep -qF -- "$2" "$E2E_TMP/ctl.out"; }
res=PASS
if ! list_has vmess-file '"t1@e2e"'; then
    res="FAIL t1@e2e not listed"
elif grep -qF "${UID_OF[T1]}" "$E2E_TMP/ctl.out" || ! grep -qF "\"${UID_OF[T1]:0:8}\"" \
    "$E2E_TMP/ctl.out"; then
    res="FAIL ids are not shown shortened"
elif ! list_has vmess-cfg '"t2@e2e"'; then
    res="FAIL t2@e2e not listed on vmess-cfg"
fi
row "$T4" "list-users shows users (ids shortened)" "$res"

# add-user on the clientsFile inbound: written to the file, reloaded, served. The reply may
# come before the reload is applied, so the probes wait for "reload applied".
res=PASS
mark_reloads
if ! ctl add-user vmess-file "${UID_OF[X]}" x@e2e 0 0; then
    res="FAIL $(tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-120)"
    server_alive || res+=" (server died: $(death_note "$S_PID"))"
elif ! cp "$E2E_TMP/ctl.out" "$E2E_TMP/add-x.out" || ! grep -qF "${UID_OF[X]}" "$CF"; then
    res="FAIL the clients file does not have it"
elif ! wait_applied 10; then
    res="FAIL no reload applied"
elif ! list_has vmess-file '"x@e2e"'; then
    res="FAIL not listed"
elif ! served "${PORT_OF[X]}"; then
    res="FAIL not served: $PROBE_WHY"
fi
row "$T4" "add-user (clientsFile inbound): saved to the file, listed, served" "$res"
# The reply names the file it saved to (it is built after the reload replaced the config).
res=PASS
grep -qF "\"saved\": \"$CF\"" "$E2E_TMP/add-x.out" 2>/dev/null ||
    res="FAIL reply: $(tr -d '\n ' <"$E2E_TMP/add-x.out" 2>/dev/null)"
row "$T4" "add-user reply names the clients file (\"saved\")" "$res"
# ctl_refused ARGS...: the daemon answered "ok": false (exit 1; 2 = not reachable).
ctl_refused() {
    local rc=0
    ctl "$@" || rc=$?
    [ "$rc" = 1 ] && return 0
    CTL_WHY="exit $rc: $(tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-100)"
    return 1
}
ctl_refused add-user vmess-file "${UID_OF[X]}" x2@e2e && res=PASS || res="FAIL $CTL_WHY"
row "$T4" "add-user refuses a duplicate id" "$res"

# stats: the 64 KiB session of X counted both ways once it has ended (active 0).
stats_of() {
    ctl stats || return 1
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%d %d %d" % (u["up"], u["down"], u["sessions"]) for u in d["users"]
               if u.get("email") == sys.argv[2] and u.get("active", 0) == 0))' \
        "$E2E_TMP/ctl.out" "$1"
}
end=$((SECONDS + 5 * SLOW))
while st=$(stats_of x@e2e) && [ -z "$st" ] && [ "$SECONDS" -le "$end" ]; do sleep 0.2; done
row "$T4" "stats: x@e2e up/down/sessions = 65536 65536 1 ($st)" \
    "$([ "$st" = "65536 65536 1" ] && echo PASS || echo FAIL)"

res=PASS
mark_reloads
if ! ctl remove-user vmess-file x@e2e; then
    res="FAIL $(tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-120)"
elif grep -qF "${UID_OF[X]}" "$CF"; then
    res="FAIL still in the clients file"
elif ! wait_applied 10; then
    res="FAIL no reload applied"
elif list_has vmess-file '"x@e2e"'; then
    res="FAIL still listed"
elif ! refused "${PORT_OF[X]}"; then
    res="FAIL not refused: $PROBE_WHY"
fi
row "$T4" "remove-user by email: gone from the file and the list, refused" "$res"

# add-user on the inline inbound: applied in memory only.
res=PASS
if ! ctl add-user vmess-cfg "${UID_OF[Y]}" y@e2e; then
    res="FAIL $(tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-120)"
elif ! list_has vmess-cfg '"y@e2e"'; then
    res="FAIL not listed"
elif ! served "${PORT_OF[Y]}"; then
    res="FAIL not served: $PROBE_WHY"
elif ! ctl remove-user vmess-cfg "${UID_OF[Y]}"; then
    res="FAIL remove by uuid: $(tr -d '\n' <"$E2E_TMP/ctl.out" | cut -c1-120)"
elif ! refused "${PORT_OF[Y]}"; then
    res="FAIL not refused after remove-user: $PROBE_WHY"
fi
row "$T4" "add-user/remove-user (by uuid) on an inline inbound" "$res"
ctl_refused remove-user vmess-cfg nobody@e2e && res=PASS || res="FAIL $CTL_WHY"
row "$T4" "remove-user of an unknown user fails" "$res"
# A user the schema refuses: refused, and the clients file (which later reloads and restarts
# read) keeps only valid users.
cp "$CF" "$E2E_TMP/clients-before.json"
res=PASS
if ! ctl_refused add-user vmess-file 27848739-7e62-4138-9fd3-nonsense bad@e2e; then
    res="FAIL $CTL_WHY"
elif ! server_alive; then
    res="FAIL the server died"
elif grep -qF 'bad@e2e' "$CF"; then
    res="FAIL the bad user was written to the clients file"
fi
row "$T4" "add-user with a bad uuid: refused, clients file left valid" "$res"
if ! cmp -s "$CF" "$E2E_TMP/clients-before.json" && server_alive; then
    cp "$E2E_TMP/clients-before.json" "$CF.new" && mv -f "$CF.new" "$CF"
fi
res=PASS
if ! server_alive; then
    res="FAIL server died"
elif ! served "$LE1" || ! served "$LV2"; then
    res="FAIL not served: $PROBE_WHY"
fi
row "$T4" "good clients still served after the control changes" "$res"
row "$T4" "server alive at the end" "$(server_alive && echo PASS || echo FAIL)"

# --- table -----------------------------------------------------------------------------------

printf '| %-22s %-72s %s\n' test check result
while IFS=$'\t' read -r t c r; do
    printf '| %-22s %-72s %s\n' "$t" "$c" "$r"
done <"$RESULTS"
[ "$E2E_FAILS" -gt 0 ] && show_log server 20
finish
