#!/usr/bin/env bash
# Soak: an evproxy VMess server (vmess inbound with a clientsFile -> freedom) under mixed
# load for a while, reloaded every 2 s and its vmess.so hot-swapped once.
#
#   soak_load.py -> V2Ray 4.34 client (socks -> vmess, legacy header, aes-128-gcm)  \
#   soak_load.py -> evproxy client (socks -> vmess, AEAD header, chacha20-poly1305) -> server
#   server -> freedom -> soak_target.py (echo / upload+sha256 / download)
#
# E2E_SOAK_SESSIONS (default 1000) sessions are kept open at once, split between the two
# clients; each one moves 1 B .. 1 MiB in pieces with pauses, a fifth are cut by the client
# (FIN or RST, in the SOCKS handshake or mid-transfer). Every 2 s a user is added to or removed
# from the clients file and the server gets a SIGHUP; half-way a rebuilt vmess.so with another
# version replaces the configured one.
# Checks: no completed transfer with wrong bytes, no session failed by the proxies, the
# concurrency reached, enough transfers done, every reload applied and none refused, both
# plugin versions served, the daemons alive and then exiting 0 on SIGTERM (so that
# LeakSanitizer has run), no sanitizer report in any log (lib.sh).
# Memory (not under a sanitizer: ASan's quarantine keeps freed memory): the evproxy server's
# and client's RSS after a warm-up, at the peak and after the load (once the server holds no
# session); the latter must come back to within 10% of the former (plus the allocator's slack
# and, on the server, the replay defences' memory) within 10 s.
# Under a sanitizer (EVP_BUILD=build-san, build-tsan) the load runs 60 s; otherwise 20 s
# (E2E_SOAK_SECS).
# Prints a results table ("| " lines).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| soak needs evproxy itself (clientsFile, plugin swap, memory): skipped"
    finish
fi
need_evproxy

# A sanitized build (EVP_BUILD=build-san or build-tsan) runs longer and its RSS is not measured.
SAN_KIND=$(evp_sanitizer)
SAN=0
[ -z "$SAN_KIND" ] || SAN=1
if [ "$SAN" = 1 ]; then SECS=${E2E_SOAK_SECS:-60}; else SECS=${E2E_SOAK_SECS:-20}; fi
SESSIONS=${E2E_SOAK_SESSIONS:-1000}
# A floor of completed, verified transfers: a wedged proxy passes nothing, a working one
# completes every session many times over in $SECS.
FLOOR=${E2E_SOAK_FLOOR:-$SESSIONS}
# What may stay after the load besides 10%: the allocator's own (glibc keeps a top pad in each
# arena, the reload thread has an arena of its own, and a page still partly used cannot be
# given back) ...
ALLOC_SLACK_KB=512
# ... and, on the server, what the VMess replay defences must remember for 3-4 minutes
# (vmess-protocol.md §4, §5; core/plugin_host/replay_store.c): a 16-byte AuthID digest and a
# 16-byte session-history digest per handshake, in tables kept at most half full: up to 128 bytes.
REPLAY_BYTES=128
RESULTS=$E2E_TMP/results.txt
: >"$RESULTS"

# row CHECK RESULT: one line of the final table (and a pass/soft_fail now).
row() {
    printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
    if [ "$2" = PASS ]; then pass "$1"; else soft_fail "$1: $2"; fi
}

# Every session holds a few descriptors in each process on its way.
want_fds=$((SESSIONS * 4 + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" ||
        fail "cannot raise the descriptor limit to $want_fds"
fi

# --- the swap-in plugin, built in the background ------------------------------------------

NEWVER="0.1.1-soak-$$"
# The swap-in plugin gets the daemon's sanitizer (lib.sh evp_sanitizer says why).
case $SAN_KIND in
address) PLUG_SAN=(SANITIZE=1) ;;
thread) PLUG_SAN=(SANITIZE=thread CC=clang) ;;
*) PLUG_SAN=() ;;
esac
start_bg newplug make -s -j2 -C "$E2E_ROOT" BUILD="$E2E_TMP/newbuild" \
    "${PLUG_SAN[@]}" CFLAGS="-O2 -g -DVMESS_PLUGIN_VERSION=\\\"$NEWVER\\\"" \
    "$E2E_TMP/newbuild/plugins/vmess.so"
BUILD_PID=$LAST_PID

# --- users, configs, processes ---------------------------------------------------------------

uuid_of() {
    "$PY" -c 'import sys, uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, sys.argv[1] + ".soak"))' "$1"
}
U_EVP=$(uuid_of evp)
U_V2R=$(uuid_of v2ray)
U_TOGGLE=$(uuid_of toggle)
CF=$E2E_TMP/clients.json
SLOG=$E2E_TMP/server.log
PLUGDIR=$E2E_TMP/plugins
CTL=$E2E_TMP/ctl.sock

# write_clients WITH_TOGGLE(0|1): the clients file, replaced by rename (never half-written).
write_clients() {
    local extra=''
    [ "$1" = 1 ] && extra=",
    {\"id\": \"$U_TOGGLE\", \"alterId\": 0, \"email\": \"toggle@soak\"}"
    cat >"$CF.new" <<EOF
{
  "clients": [
    {"id": "$U_EVP", "alterId": 0, "email": "evp@soak"},
    {"id": "$U_V2R", "alterId": 4, "email": "v2ray@soak"}$extra
  ]
}
EOF
    mv -f "$CF.new" "$CF"
}

# set_policy FILE JSON: the config's policy.levels["0"] (and log level info).
set_policy() {
    "$PY" -c 'import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["policy"] = {"levels": {"0": json.loads(sys.argv[2])}}
cfg["log"] = {"loglevel": "info"}
json.dump(cfg, open(sys.argv[1], "w"), indent=2)' "$1" "$2"
}
# The handshake limits (4 s from the accept) are there for idle or dripping clients; on two
# busy cores a thousand sessions starting at once can take longer to get through them.
HANDSHAKE='"handshake": 30'

read -r SP LE LV < <(ports 3 | tr '\n' ' ')
start_tool target soak_target.py --host 127.0.0.1 --lifetime 900
TARGET=$TOOL_PORT
write_clients 0
cat >"$E2E_TMP/server.json" <<EOF
{
  "log": {"loglevel": "info"},
  "policy": {"levels": {"0": {$HANDSHAKE}}},
  "control": {"path": "$CTL"},
  "inbounds": [
    {"tag": "vmess-in", "listen": "127.0.0.1", "port": $SP, "protocol": "vmess",
     "clientsFile": "$CF", "settings": {"clients": []}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
mkdir -p "$PLUGDIR"
cp "$EVP_BUILD/plugins/vmess.so" "$PLUGDIR/vmess.so"
start_bg server "$EVP_BIN" --plugin-dir "$PLUGDIR" -c "$E2E_TMP/server.json"
S_PID=$LAST_PID
wait_listening server "$S_PID" "$SP"
cfg_vmess_client "$E2E_TMP/client-evp.json" "$LE" "$SP" "$U_EVP" 0 chacha20-poly1305
set_policy "$E2E_TMP/client-evp.json" "{$HANDSHAKE}"
start_evproxy client-evp "$E2E_TMP/client-evp.json" "$LE"
C_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/client-v2ray.json" "$LV" "$SP" "$U_V2R" 4 aes-128-gcm
# V2Ray's level-0 policy gives the downlink 1 s after the client's FIN (too short for an
# answer under this load), and V2Ray 4.34 keeps some outbound connections of sessions its
# client reset open until connIdle (300 s, which would hold the server's sessions as long).
# uplinkOnly stays 1 s: V2Ray does not pass the server's FIN on, it closes the client's
# connection that long after it.
set_policy "$E2E_TMP/client-v2ray.json" \
    "{$HANDSHAKE, \"connIdle\": 10, \"uplinkOnly\": 1, \"downlinkOnly\": 20}"
start_v2ray client-v2ray "$E2E_TMP/client-v2ray.json" "$LV"
V_PID=$LAST_PID
info "server $SP, clients evproxy $LE v2ray $LV, target $TARGET, $SESSIONS sessions, $SECS s"

# load NAME SOCKS SESSIONS SECS SEED: one soak_load.py run in the background (LAST_PID).
load() {
    start_bg "load-$1" "$PY" "$TOOLS/soak_load.py" --socks "127.0.0.1:$2" \
        --target "127.0.0.1:$TARGET" --sessions "$3" --secs "$4" --seed "$5" \
        --session-timeout 60 --progress "$E2E_TMP/load-$1.progress"
}
# summary NAME FIELD: a number from a load's summary line.
summary() {
    "$PY" -c 'import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
d = json.loads(lines[-1]) if lines else {}
v = d.get(sys.argv[2], -1)
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$E2E_TMP/load-$1.log" "$2"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
open_now() {
    cat "$E2E_TMP"/load-evp.progress "$E2E_TMP"/load-v2ray.progress 2>/dev/null |
        grep -o '"open": [0-9]*' | awk '{n += $2} END {print n + 0}'
}
count_in_log() { grep -c -- "$1" "$SLOG" 2>/dev/null || true; }

# --- warm-up: every path taken once, so that the start figures are not a cold process ---------

load warm-evp "$LE" 20 2 1
W1=$LAST_PID
load warm-v2ray "$LV" 20 2 2
W2=$LAST_PID
wait "$W1" "$W2"
for w in warm-evp warm-v2ray; do
    [ "$(summary "$w" ok)" -gt 0 ] 2>/dev/null ||
        fail "warm-up through $w: nothing completed ($(summary "$w" samples | cut -c1-200))"
done
sleep 1
S_RSS0=$(rss_kb "$S_PID")
C_RSS0=$(rss_kb "$C_PID")

# The new plugin is needed half-way; wait for it now so that its build does not race the load.
wait "$BUILD_PID" || { show_log newplug; fail "could not build the swap-in vmess.so"; }

# --- the soak ------------------------------------------------------------------------------

half=$((SESSIONS / 2))
load evp "$LE" "$half" "$SECS" 11
L1=$LAST_PID
load v2ray "$LV" "$((SESSIONS - half))" "$SECS" 12
L2=$LAST_PID
t0=$SECONDS
hups=0
swapped=0
toggle=0
peak_open=0
S_RSS_PEAK=$S_RSS0
C_RSS_PEAK=$C_RSS0
FD_PEAK=0
next_hup=$((t0 + 2))
# Bounded by the loads' own bound (--secs + session timeout + 10 s) plus a margin.
while { alive "$L1" || alive "$L2"; } && [ $((SECONDS - t0)) -le $((SECS + 90)) ]; do
    if [ "$SECONDS" -ge "$next_hup" ] && [ $((SECONDS - t0)) -lt "$SECS" ]; then
        toggle=$((1 - toggle))
        write_clients "$toggle"
        kill -HUP "$S_PID" && hups=$((hups + 1))
        next_hup=$((next_hup + 2))
    fi
    if [ "$swapped" = 0 ] && [ $((SECONDS - t0)) -ge $((SECS / 2)) ]; then
        cp "$E2E_TMP/newbuild/plugins/vmess.so" "$PLUGDIR/vmess.so.new"
        mv -f "$PLUGDIR/vmess.so.new" "$PLUGDIR/vmess.so"
        kill -HUP "$S_PID" && hups=$((hups + 1))
        swapped=1
        info "vmess.so swapped for $NEWVER"
    fi
    n=$(open_now)
    [ "$n" -gt "$peak_open" ] && peak_open=$n
    r=$(rss_kb "$S_PID")
    [ "$r" -gt "$S_RSS_PEAK" ] && S_RSS_PEAK=$r
    r=$(rss_kb "$C_PID")
    [ "$r" -gt "$C_RSS_PEAK" ] && C_RSS_PEAK=$r
    fds=$(find "/proc/$S_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    [ "$fds" -gt "$FD_PEAK" ] && FD_PEAK=$fds
    sleep 0.5
done
wait "$L1" "$L2"
info "load done in $((SECONDS - t0)) s"

# --- results -------------------------------------------------------------------------------

ok=0
bad=0
errs=0
cut=0
why=''
for l in evp v2ray; do
    o=$(summary "$l" ok)
    b=$(summary "$l" bad)
    e=$(summary "$l" error)
    c=$(summary "$l" cut)
    [ "$o" -ge 0 ] 2>/dev/null || { show_log "load-$l"; fail "load $l gave no summary"; }
    ok=$((ok + o))
    bad=$((bad + b))
    errs=$((errs + e))
    cut=$((cut + c))
    [ "$b" = 0 ] && [ "$e" = 0 ] || why+="$l: $(summary "$l" errors) $(summary "$l" samples); "
    printf '| load %-6s started %6s  ok %6s  cut %5s  bad %s  error %s  peak open %s\n' "$l" \
        "$(summary "$l" started)" "$o" "$c" "$b" "$e" "$(summary "$l" peak_open)"
done
# The loads' own peaks (a worker between two sessions holds none, hence 95%); the sampled sum
# (every 0.5 s) and the server's descriptors show them overlapping.
peaks=$(($(summary evp peak_open) + $(summary v2ray peak_open)))
row "~$SESSIONS sessions open at once ($peaks; sampled $peak_open, server fds $FD_PEAK)" \
    "$([ "$peaks" -ge $((SESSIONS * 95 / 100)) ] && echo PASS || echo "FAIL")"
row "no completed transfer with wrong bytes ($ok verified, $cut cut on purpose)" \
    "$([ "$bad" = 0 ] && echo PASS || echo "FAIL $bad bad: ${why:0:400}")"
row "no session failed by the proxies" \
    "$([ "$errs" = 0 ] && echo PASS || echo "FAIL $errs: ${why:0:400}")"
row "at least $FLOOR transfers completed ($ok)" \
    "$([ "$ok" -ge "$FLOOR" ] && echo PASS || echo FAIL)"
applied=$(count_in_log 'reload applied')
refused=$(count_in_log 'reload refused')
# A SIGHUP during a reload is folded into one more reload, so two may give one.
row "$hups SIGHUPs: reloads applied ($applied), none refused ($refused)" \
    "$([ "$refused" = 0 ] && [ "$applied" -ge $((hups / 2)) ] && echo PASS || echo FAIL)"
old_acc=$(grep -c 'accepted \[vmess-in -> direct\] (vmess 0\.1\.0,' "$SLOG")
new_acc=$(grep -c "accepted \\[vmess-in -> direct\\] (vmess $NEWVER," "$SLOG")
row "plugin swapped: sessions served by the old ($old_acc) and the new vmess.so ($new_acc)" \
    "$([ "$old_acc" -gt 0 ] && [ "$new_acc" -gt 0 ] && echo PASS || echo FAIL)"

# --- the server lets go of every session once its clients have --------------------------------

# active_sessions: running sessions of the server (ctl stats), or "?" when it cannot tell.
active_sessions() {
    timeout 10 "$EVP_BIN" ctl -s "$CTL" stats >"$E2E_TMP/ctl.out" 2>&1 || { echo '?'; return; }
    "$PY" -c 'import json, sys
print(sum(i.get("active", 0) for i in json.load(open(sys.argv[1]))["inbounds"]))' \
        "$E2E_TMP/ctl.out"
}
# V2Ray closes what it kept open after connIdle (10 s); then nothing may be left.
for _ in $(seq 60); do
    left=$(active_sessions)
    [ "$left" = 0 ] && break
    sleep 0.5
done
IDLE_FDS=$(find "/proc/$S_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
if [ "$left" != 0 ]; then
    # What holds them: the server's TCP sockets (state, queues, peer), for the failure report.
    ss -tanpi 2>/dev/null | grep -A1 "pid=$S_PID," >"$E2E_TMP/left.ss"
    grep "pid=$S_PID," "$E2E_TMP/left.ss" | grep -v LISTEN | awk '{print "  | " $1, $2, $3, $4, $5}'
fi
row "no session left on the server once the clients let go ($left active, $IDLE_FDS fds)" \
    "$([ "$left" = 0 ] && echo PASS || echo FAIL)"

# --- memory after the load -----------------------------------------------------------------

if [ "$SAN" = 1 ]; then
    echo "| memory: not measured under a sanitizer (ASan's quarantine holds freed memory)"
else
    # RSS back under 1.10 x start + slack: polled for up to 10 s.
    handshakes=$(count_in_log 'accepted \[vmess-in')
    S_SLACK=$((ALLOC_SLACK_KB + handshakes * REPLAY_BYTES / 1024))
    S_LIMIT=$((S_RSS0 * 110 / 100 + S_SLACK))
    C_LIMIT=$((C_RSS0 * 110 / 100 + ALLOC_SLACK_KB))
    for _ in $(seq 20); do
        S_RSS1=$(rss_kb "$S_PID")
        C_RSS1=$(rss_kb "$C_PID")
        [ "$S_RSS1" -le "$S_LIMIT" ] && [ "$C_RSS1" -le "$C_LIMIT" ] && break
        sleep 0.5
    done
    printf '| %-16s %10s %10s %10s %10s  (RSS, KiB)\n' process start peak after limit
    printf '| %-16s %10s %10s %10s %10s\n' "evproxy server" "$S_RSS0" "$S_RSS_PEAK" "$S_RSS1" \
        "$S_LIMIT"
    printf '| %-16s %10s %10s %10s %10s\n' "evproxy client" "$C_RSS0" "$C_RSS_PEAK" "$C_RSS1" \
        "$C_LIMIT"
    row "server RSS back within 10% + $S_SLACK KiB ($handshakes handshakes) after the load" \
        "$([ "$S_RSS1" -le "$S_LIMIT" ] && echo PASS || echo "FAIL $S_RSS1 KiB")"
    row "client RSS back within 10% + $ALLOC_SLACK_KB KiB after the load" \
        "$([ "$C_RSS1" -le "$C_LIMIT" ] && echo PASS || echo "FAIL $C_RSS1 KiB")"
fi

# --- shutdown: each daemon alive, then exiting 0 (LeakSanitizer runs at exit) ----------------

# stop_clean NAME PID: SIGTERM, up to 60 s to exit, the status must be 0.
stop_clean() {
    local res=PASS
    if ! alive "$2"; then
        res="FAIL died during the soak ($(death_note "$2"))"
    else
        kill -TERM "$2"
        for _ in $(seq 600); do alive "$2" || break; sleep 0.1; done
        if alive "$2"; then
            res="FAIL still running 60 s after SIGTERM"
        else
            local note
            exit_note note "$2"
            [ "$note" = "exit 0" ] || res="FAIL $note"
        fi
    fi
    [ "$res" = PASS ] || show_log "$1" 20
    row "$1 alive after the soak, exits 0 on SIGTERM" "$res"
}
stop_clean server "$S_PID"
stop_clean client-evp "$C_PID"
alive "$V_PID" && res=PASS || res="FAIL died ($(death_note "$V_PID"))"
row "V2Ray client alive after the soak" "$res"

while IFS=$'\t' read -r c r; do
    printf '| %-96s %s\n' "$c" "$r"
done <"$RESULTS"
finish
