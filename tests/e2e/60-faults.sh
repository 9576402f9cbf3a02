#!/usr/bin/env bash
# Faults, each ending only the session concerned with one log line, the daemon serving on.
#
# 1. One VMess server (vmess + socks inbounds -> freedom, loglevel info) and an evproxy client
#    in front of it. Two paced transfers (via VMess and via the server's SOCKS port, sha256
#    checked) run while, side by side: a target that never accepts (backlog full: connect
#    timeout), a refused port, a target that resets mid-transfer, a client that resets
#    mid-stream, a name under .invalid (the server resolves through a loopback DNS server
#    answering NXDOMAIN: it runs in a mount namespace whose /etc/resolv.conf names it), and
#    two slowloris clients (one byte a second) cut at the handshake deadline. Each must end,
#    with exactly one line naming its failure in the server's log; both transfers complete
#    intact and fresh sessions are served afterwards.
# 2. fd exhaustion: a server under `ulimit -n 256` with long transfers running gets 1,000
#    connection attempts; the transfers complete intact, exhaustion is logged once, and once
#    the burst is gone a new session is served.
# 3. 10,000 connections that never finish a handshake (vmess, then socks): the daemon's RSS
#    and heap grow by less than FAULTS_PENDING_KIB per connection (no 64 KiB buffer before
#    authentication), a transfer runs meanwhile, and all are released when they close.
# Prints a results table ("| " lines) with the figures.
#
#   FAULTS_PENDING=10000 FAULTS_PENDING_KIB=8 FAULTS_BURST=1000 FAULTS_HANDSHAKE=60
# (FAULTS_HANDSHAKE: the handshake deadline of part 3, long enough to measure before it cuts.)
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "| fault tests read evproxy's own log lines: skipped"
    finish
fi
need_evproxy
PENDING=${FAULTS_PENDING:-10000}
PENDING_KIB=${FAULTS_PENDING_KIB:-8}
BURST=${FAULTS_BURST:-1000}
HANDSHAKE=${FAULTS_HANDSHAKE:-60}
RESULTS=$E2E_TMP/results.txt
: >"$RESULTS"

# row PART CHECK RESULT: one line of the final table (and a pass/soft_fail now).
row() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"
    if [ "$3" = PASS ]; then pass "$1: $2"; else soft_fail "$1: $2: $3"; fi
}

# verdict PART CHECK CMD...: a row from whether CMD succeeds.
verdict() {
    local part=$1 check=$2
    shift 2
    if "$@"; then row "$part" "$check" PASS; else row "$part" "$check" FAIL; fi
}

# spawn NAME CMD...: runs CMD (bounded by `timeout`) in the background through start_bg, so
# it is stopped on EXIT; its output goes to $E2E_TMP/NAME.log.
declare -A JOBS
spawn() {
    local name=$1
    shift
    rm -f "$E2E_TMP/$name.rc"
    start_bg "$name" timeout -k 5 150 "$@"
    JOBS[$name]=$LAST_PID
}

# ok NAME: the background job NAME ended with status 0.
# shellcheck disable=SC2317 # called through verdict
ok() { [ "$(cat "$E2E_TMP/$1.rc" 2>/dev/null)" = 0 ]; }

# wait_rc NAME...: waits for the named jobs (each bounded) and writes each one's exit status
# to $E2E_TMP/NAME.rc.
wait_rc() {
    local n
    for n in "$@"; do
        wait "${JOBS[$n]}"
        echo $? >"$E2E_TMP/$n.rc"
    done
}

SOCKS5=("$PY" "$TOOLS/socks5_client.py")
FAULT=("$PY" "$TOOLS/fault_client.py")
HOSTILE=("$PY" "$TOOLS/hostile.py")
PENDING_CONNS=("$PY" "$TOOLS/pending_conns.py")

# lines FILE REGEX: how many lines of FILE match REGEX.
lines() { grep -cE "$2" "$1" 2>/dev/null || true; }

# log_lines PART CHECK WANT FILE REGEX: exactly WANT lines of FILE name the failure.
log_lines() {
    local n
    n=$(lines "$4" "$5")
    if [ "$n" = "$3" ]; then
        row "$1" "$2" PASS
    else
        row "$1" "$2" "FAIL $n lines match /$5/"
    fi
}

# one_line PART WHAT FILE REGEX: exactly one line of FILE names the failure.
one_line() { log_lines "$1" "$2: one log line" 1 "$3" "$4"; }

# fds PID: the daemon's open descriptors.
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# wait_fds PID MAX: waits (bounded) until the daemon holds at most MAX descriptors.
# shellcheck disable=SC2317 # called through verdict
wait_fds() {
    local end=$((SECONDS + 20))
    while [ "$(fds "$1")" -gt "$2" ] && [ "$SECONDS" -le "$end" ]; do sleep 0.2; done
    [ "$(fds "$1")" -le "$2" ]
}

# transfer NAME SOCKS_PORT SIZE SEED [ARGS]: a background echo transfer through SOCKS_PORT at
# 1 MiB/s (so that it lasts while the faults happen), sha256 checked.
transfer() {
    spawn "$1" "${SOCKS5[@]}" --socks "127.0.0.1:$2" --target "127.0.0.1:$ECHO" --bytes "$3" \
        --rate 1M --seed "$4" "${@:5}"
}

# fresh SOCKS_PORT SEED: one new 1 MiB echo session through SOCKS_PORT, sha256 checked.
fresh() { socks_stream "$1" "127.0.0.1:$ECHO" --bytes 1M --seed "$2" >"$E2E_TMP/fresh-$2.json"; }

# serving_on PART PID FDS VIA_VMESS VIA_SOCKS SEED: every faulty session is released (the
# daemon is back to FDS descriptors), fresh sessions are served both ways, the daemon lives.
serving_on() {
    verdict "$1" "every faulty session released (fds back to $3)" wait_fds "$2" "$3"
    verdict "$1" "fresh session via vmess afterwards" fresh "$4" "$6"
    verdict "$1" "fresh session via socks afterwards" fresh "$5" $(($6 + 1))
    verdict "$1" "server alive" alive "$2"
}

# cfg_fault_server FILE VMESS_PORT SOCKS_PORT LEVEL [HANDSHAKE]: vmess and socks inbounds ->
# freedom; the error and access logs beside FILE. The session caps are raised past what the
# parts open, so that they meet the faults under test (descriptors, memory), not the caps.
cfg_fault_server() {
    cat >"$1" <<EOF
{
  "log": {"loglevel": "$4", "error": "${1%.json}.err", "access": "${1%.json}.access"},
  "policy": {"levels": {"0": {"handshake": ${5:-4}}}},
  "limits": {"maxSessions": 100000, "maxHandshakes": 100000},
  "inbounds": [
    {"tag": "vmess-in", "listen": "127.0.0.1", "port": $2, "protocol": "vmess",
     "settings": {"clients": [{"id": "$UUID_GOOD", "alterId": 0}]}},
    {"tag": "socks-in", "listen": "127.0.0.1", "port": $3, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": false}}
  ],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOF
}

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT

# --- 1. faults beside two healthy transfers ---------------------------------------------------

P1="1 faults"
unshare -m true 2>/dev/null ||
    fail "unshare -m is needed (root): it gives the server a loopback resolver"
read -r SP KP CP REFUSED DNSP < <(ports 5 | tr '\n' ' ')
# A loopback address of our own for the DNS server (port 53), from a port nobody else holds.
DNS_IP=127.53.$((DNSP >> 8)).$((DNSP & 255))
start_bg dns "$PY" "$TOOLS/dns_nxdomain.py" --host "$DNS_IP" --ready-file "$E2E_TMP/dns.ready" \
    --stats "$E2E_TMP/dns.stats" --lifetime 600
wait_file "$E2E_TMP/dns.ready" 10 || { show_log dns; fail "the DNS server did not start"; }
echo "nameserver $DNS_IP" >"$E2E_TMP/resolv.conf"
cat >"$E2E_TMP/with-resolv.sh" <<'EOF'
#!/bin/sh
# Runs "$@" with $RESOLV as /etc/resolv.conf (inside `unshare -m`: private to the process).
mount --bind "$RESOLV" /etc/resolv.conf || exit 97
exec "$@"
EOF
chmod +x "$E2E_TMP/with-resolv.sh"

start_tool source send_close_server.py --bytes 1G
SOURCE=$TOOL_PORT
start_tool talker send_close_server.py --bytes 1G
TALKER=$TOOL_PORT
start_tool reset fault_target.py reset --bytes 256K
RESET=$TOOL_PORT
start_tool backlog fault_target.py backlog
BACKLOG=$TOOL_PORT

SCFG=$E2E_TMP/server.json
SERR=$E2E_TMP/server.err
cfg_fault_server "$SCFG" "$SP" "$KP" info
EVP_ENV="RESOLV=$E2E_TMP/resolv.conf" EVP_WRAP="unshare -m $E2E_TMP/with-resolv.sh" \
    start_evproxy server "$SCFG" "$SP" "$KP"
S_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/client.json" "$CP" "$SP" "$UUID_GOOD" 0 aes-128-gcm
start_evproxy client "$E2E_TMP/client.json" "$CP"
S_FDS=$(fds "$S_PID")

transfer healthy-vmess "$CP" 12M 11
transfer healthy-socks "$KP" 12M 12
sleep 1 # both transfers under way before the faults start
spawn backlog-f "${FAULT[@]}" hold --socks "127.0.0.1:$CP" --target "127.0.0.1:$BACKLOG" --within 40
spawn refused-f "${FAULT[@]}" hold --socks "127.0.0.1:$KP" --target "127.0.0.1:$REFUSED" --within 20
spawn reset-f "${FAULT[@]}" hold --socks "127.0.0.1:$CP" --target "127.0.0.1:$RESET" --within 20
spawn vanish-f "${FAULT[@]}" vanish --socks "127.0.0.1:$KP" --target "127.0.0.1:$SOURCE" --read 256K
# The server speaks first through VMess: the client's header goes alone after a bounded wait.
spawn serverfirst-f "${FAULT[@]}" vanish --socks "127.0.0.1:$CP" --target "127.0.0.1:$TALKER" \
    --read 256K
spawn dns-f "${FAULT[@]}" hold --socks "127.0.0.1:$CP" --target no-such-host.invalid:80 --within 20
spawn loris-vmess "${HOSTILE[@]}" drip --port "$SP" --interval 1 --within 20
spawn loris-socks "${HOSTILE[@]}" drip --port "$KP" --interval 1 --within 20 \
    --payload 0501000501
wait_rc backlog-f refused-f reset-f vanish-f serverfirst-f dns-f loris-vmess loris-socks \
    healthy-vmess healthy-socks

verdict "$P1" "transfer via vmess completes intact (12 MiB, sha256)" ok healthy-vmess
verdict "$P1" "transfer via socks completes intact (12 MiB, sha256)" ok healthy-socks
verdict "$P1" "never-accepting target: session ends" ok backlog-f
one_line "$P1" "never-accepting target" "$SERR" "127\.0\.0\.1:$BACKLOG.*timed out"
verdict "$P1" "refused port: session ends" ok refused-f
one_line "$P1" "refused port" "$SERR" "127\.0\.0\.1:$REFUSED.*refused"
verdict "$P1" "target reset mid-transfer: session ends" ok reset-f
one_line "$P1" "target reset" "$SERR" "127\.0\.0\.1:$RESET.*(reset by peer|Broken pipe)"
verdict "$P1" "client reset mid-stream: 256 KiB read, then reset" ok vanish-f
one_line "$P1" "client reset" "$SERR" "127\.0\.0\.1:$SOURCE.*(reset by peer|Broken pipe)"
verdict "$P1" "server speaks first via vmess: 256 KiB read" ok serverfirst-f
verdict "$P1" "name under .invalid: session ends" ok dns-f
one_line "$P1" "name under .invalid" "$SERR" "no-such-host\.invalid.*(resolve|not found)"
verdict "$P1" "the query went to the loopback DNS server" \
    grep -q "query no-such-host.invalid" "$E2E_TMP/dns.stats"
verdict "$P1" "slowloris on vmess port: cut" ok loris-vmess
verdict "$P1" "slowloris on socks port: cut" ok loris-socks
log_lines "$P1" "slowloris: one log line each" 2 "$SERR" "handshake timed out"
serving_on "$P1" "$S_PID" "$S_FDS" "$CP" "$KP" 21

# --- 2. fd exhaustion ------------------------------------------------------------------------

P2="2 fds"
cat >"$E2E_TMP/with-nofile.sh" <<'EOF'
#!/bin/sh
# Runs "$@" with at most $NOFILE open descriptors.
ulimit -n "$NOFILE" || exit 97
exec "$@"
EOF
chmod +x "$E2E_TMP/with-nofile.sh"
read -r BP BKP BCP < <(ports 3 | tr '\n' ' ')
BCFG=$E2E_TMP/fdserver.json
BERR=$E2E_TMP/fdserver.err
cfg_fault_server "$BCFG" "$BP" "$BKP" warning
EVP_ENV="NOFILE=256" EVP_WRAP="$E2E_TMP/with-nofile.sh" start_evproxy fdserver "$BCFG" "$BP" "$BKP"
B_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/fdclient.json" "$BCP" "$BP" "$UUID_GOOD" 0 aes-128-gcm
start_evproxy fdclient "$E2E_TMP/fdclient.json" "$BCP"
transfer long-vmess "$BCP" 8M 31 --sessions 3
transfer long-socks "$BKP" 8M 35
sleep 1
B_FDS=$(fds "$B_PID")
spawn burst "${PENDING_CONNS[@]}" --port "$BP" --count "$BURST" --payload '' --batch 250 \
    --hold 6
wait_rc burst long-vmess long-socks
BURST_OUT=$(tail -n 1 "$E2E_TMP/burst.log")
verdict "$P2" "long transfers via vmess complete intact (3 x 8 MiB, sha256)" ok long-vmess
verdict "$P2" "long transfer via socks completes intact (8 MiB, sha256)" ok long-socks
verdict "$P2" "$BURST connection attempts made ($BURST_OUT)" ok burst
log_lines "$P2" "exhaustion: one log line" 1 "$BERR" "Too many open files"
serving_on "$P2" "$B_PID" "$B_FDS" "$BCP" "$BKP" 41

# --- 3. connections that never finish a handshake ------------------------------------------

P3="3 pending"
ulimit -n $((PENDING + 512)) 2>/dev/null ||
    fail "ulimit -n $((PENDING + 512)) refused (hard limit $(ulimit -Hn)); set FAULTS_PENDING lower"
FIGURES=$E2E_TMP/figures.txt
: >"$FIGURES"

# kib PID FIELD: a /proc/PID/status figure in KiB (VmRSS, VmData).
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# pending PROTO PORT PAYLOAD: PENDING half-open handshakes on PORT against the daemon D_PID
# while a transfer runs through its socks port; rows, and a line of figures.
pending() {
    local proto=$1 port=$2 payload=$3 rss0 data0 rss1 data1 base held end rss_b data_b res
    fresh "$DKP" 51 || row "$P3" "$proto: warm-up session" FAIL
    base=$(fds "$D_PID")
    rss0=$(kib "$D_PID" VmRSS)
    data0=$(kib "$D_PID" VmData)
    rm -f "$E2E_TMP/pending.ready" "$E2E_TMP/pending.stop" "$E2E_TMP/pending.rc" \
        "$E2E_TMP/during.rc"
    transfer during "$DKP" 4M 52
    spawn pending "${PENDING_CONNS[@]}" --port "$port" --count "$PENDING" \
        --payload "$payload" --ready-file "$E2E_TMP/pending.ready" \
        --stop-file "$E2E_TMP/pending.stop" --hold 90
    wait_file "$E2E_TMP/pending.ready" 60 || row "$P3" "$proto: connections opened" FAIL
    end=$((SECONDS + 30))
    while [ "$(fds "$D_PID")" -lt $((base + PENDING)) ] && [ "$SECONDS" -le "$end" ]; do
        sleep 0.2
    done
    held=$(($(fds "$D_PID") - base))
    rss1=$(kib "$D_PID" VmRSS)
    data1=$(kib "$D_PID" VmData)
    touch "$E2E_TMP/pending.stop"
    wait_rc pending during
    rss_b=$(((rss1 - rss0) * 1024 / PENDING))
    data_b=$(((data1 - data0) * 1024 / PENDING))
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$proto" "$held" "$rss0" "$rss1" "$rss_b" "$data_b" \
        >>"$FIGURES"
    res=PASS
    [ "$held" -ge "$PENDING" ] || res="FAIL $(tail -n 1 "$E2E_TMP/pending.log")"
    row "$P3" "$proto: $PENDING held by the daemon at once ($held)" "$res"
    verdict "$P3" "$proto: none cut before the measure" grep -q '"closed": 0}' \
        "$E2E_TMP/pending.log"
    row "$P3" "$proto: RSS +$rss_b B per pending connection (< $PENDING_KIB KiB)" \
        "$([ "$rss_b" -lt $((PENDING_KIB * 1024)) ] && echo PASS || echo FAIL)"
    row "$P3" "$proto: heap +$data_b B per pending connection (< $PENDING_KIB KiB)" \
        "$([ "$data_b" -lt $((PENDING_KIB * 1024)) ] && echo PASS || echo FAIL)"
    verdict "$P3" "$proto: a transfer meanwhile completes intact (4 MiB, sha256)" ok during
    verdict "$P3" "$proto: all released when they close (fds back to $base)" \
        wait_fds "$D_PID" "$base"
    verdict "$P3" "$proto: fresh session afterwards" fresh "$DKP" 53
}

for proto in vmess socks; do
    read -r DP DKP < <(ports 2 | tr '\n' ' ')
    cfg_fault_server "$E2E_TMP/pending-$proto.json" "$DP" "$DKP" error "$HANDSHAKE"
    EVP_ENV="NOFILE=$((PENDING + 256))" EVP_WRAP="$E2E_TMP/with-nofile.sh" \
        start_evproxy "pending-$proto" "$E2E_TMP/pending-$proto.json" "$DP" "$DKP"
    D_PID=$LAST_PID
    # vmess: 4 bytes of a 16-byte AuthID; socks: half a greeting.
    if [ "$proto" = vmess ]; then pending vmess "$DP" 16030100; else pending socks "$DKP" 0501; fi
    verdict "$P3" "$proto: server alive" alive "$D_PID"
    stop_pid "$D_PID"
done

# --- table -----------------------------------------------------------------------------------

printf '| %-10s %-66s %s\n' part check result
while IFS=$'\t' read -r t c r; do
    printf '| %-10s %-66s %s\n' "$t" "$c" "$r"
done <"$RESULTS"
printf '| %-10s %8s %12s %12s %14s %14s\n' inbound pending "RSS0 KiB" "RSS1 KiB" "RSS B/conn" \
    "heap B/conn"
while IFS=$'\t' read -r p h r0 r1 rb db; do
    printf '| %-10s %8s %12s %12s %14s %14s\n' "$p" "$h" "$r0" "$r1" "$rb" "$db"
done <"$FIGURES"
if [ "$E2E_FAILS" -gt 0 ]; then
    echo "  --- server log (faults) ---"
    grep -v ' accepted \[' "$SERR" | tail -n 30 | sed 's/^/  | /'
fi
finish
