#!/usr/bin/env bash
# Mux.Cool (issue 13). Server side: a V2Ray 4.34 client with "mux": {"enabled": true} and
# concurrency 1 and 8 -> evproxy's vmess inbound -> freedom.
#   - 32 concurrent TCP echo transfers (2 MiB each, sha256 checked by the client) through the
#     V2Ray client's socks inbound; the server sees ceil(32/concurrency) mux connections or
#     fewer, each sub-stream routed and logged on its own;
#   - UDP through the mux (dokodemo-door udp -> vmess mux -> a DNS-style responder);
#   - a sub-stream whose target refuses ends alone (End with Error) while 4 siblings on the
#     same mux connection complete.
# Client side: evproxy's vmess outbound with "mux" (concurrency 1 and 8) -> V2Ray 4.34's server
# and -> evproxy's: the same 32 transfers and UDP, through a relay that counts the client's
# connections (ceil(32/concurrency) or fewer, plus one per extra worker thread).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT
read -r CLOSED < <(ports 1) # nothing listens there: a refused target
start_tool reset fault_target.py reset --bytes 256K # 256 KiB, then a TCP reset
RESET=$TOOL_PORT
start_tool deaf send_close_server.py --bytes 0 --delay 60 # accepts, never reads
DEAF=$TOOL_PORT
start_tool hold send_close_server.py --bytes 1M --delay 60 # 1 MiB, then silence
HOLD=$TOOL_PORT

# with_mux FILE CONCURRENCY: turns mux on for the vmess outbound; the server logs at info.
with_mux() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
path, conc = sys.argv[1], int(sys.argv[2])
cfg = json.load(open(path))
for b in cfg["outbounds"]:
    if b["protocol"] == "vmess":
        b["mux"] = {"enabled": True, "concurrency": conc}
json.dump(cfg, open(path, "w"), indent=2)
PYEOF
}

# mux_connections NAME: mux connections the evproxy server accepted so far.
mux_connections() { grep -c 'tcp:v1.mux.cool:0 accepted' "$E2E_TMP/$1.log" || true; }

run_concurrency() {
    local conc=$1 sp cp up
    read -r sp cp up < <(ports 3 | tr '\n' ' ')
    cfg_vmess_server "$E2E_TMP/c$conc.server.json" "$sp" "$UUID_GOOD" 0
    sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$E2E_TMP/c$conc.server.json"
    cfg_vmess_client "$E2E_TMP/c$conc.client.json" "$cp" "$sp" "$UUID_GOOD" 0 aes-128-gcm \
        "$up" "127.0.0.1:$DNS"
    with_mux "$E2E_TMP/c$conc.client.json" "$conc"
    start_evproxy "c$conc.server" "$E2E_TMP/c$conc.server.json" "$sp"
    local srv=$LAST_PID
    start_v2ray "c$conc.client" "$E2E_TMP/c$conc.client.json" "$cp" "$up/udp"
    local cli=$LAST_PID out=$E2E_TMP/c$conc.tcp.json
    socks_stream "$cp" "127.0.0.1:$ECHO" --mode echo --bytes 2M --sessions 32 --seed 42 \
        --timeout 90 --quiet >"$out" 2>&1 ||
        { show_log "c$conc.server" 12; fail "concurrency $conc: 32 x 2 MiB: $(why_of "$out")"; }
    local n max=$(((32 + conc - 1) / conc))
    n=$(mux_connections "c$conc.server")
    [ "$n" -ge 1 ] && [ "$n" -le "$max" ] ||
        fail "concurrency $conc: the server saw $n mux connections (want 1..$max)"
    pass "concurrency $conc: 32 x 2 MiB echoed intact over $n mux connection(s) (<= $max)"
    local subs
    subs=$(grep -c "tcp:127.0.0.1:$ECHO accepted \[vmess-in -> direct\]" \
        "$E2E_TMP/c$conc.server.log" || true)
    [ "$subs" -ge 32 ] || fail "concurrency $conc: $subs sub-streams routed and logged, want 32"
    pass "concurrency $conc: each of the 32 sub-streams routed and logged on its own"
    timeout -k 5 40 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$up" --count 20 \
        --size 100 --seed 14 --timeout 30 >"$E2E_TMP/c$conc.udp.out" 2>&1 ||
        { show_log "c$conc.server" 12; fail "concurrency $conc: UDP: $(tail -1 "$E2E_TMP/c$conc.udp.out")"; }
    pass "concurrency $conc: UDP answers came back through the mux"
    if [ "$conc" = 8 ]; then
        # One refused target beside four good transfers, all on one mux connection.
        local before refused_out=$E2E_TMP/refused.json
        before=$(mux_connections "c$conc.server")
        socks_stream "$cp" "127.0.0.1:$ECHO" --mode echo --bytes 1M --sessions 4 --seed 43 \
            --timeout 60 --quiet >"$E2E_TMP/siblings.json" 2>&1 &
        local sib=$!
        socks_stream "$cp" "127.0.0.1:$CLOSED" --mode echo --bytes 64K --timeout 20 \
            >"$refused_out" 2>&1 && fail "a refused target's sub-stream carried data"
        wait "$sib" || fail "siblings of a refused sub-stream failed: $(why_of "$E2E_TMP/siblings.json")"
        log_has "$E2E_TMP/c$conc.server.log" "tcp:127\.0\.0\.1:$CLOSED: connect failed" ||
            fail "the server did not log the refused sub-stream"
        pass "a refused sub-stream ended alone; its 4 siblings completed ($(( $(mux_connections "c$conc.server") - before )) new mux connection(s))"
        # A target that resets after 256 KiB, beside four transfers on the same connection.
        socks_stream "$cp" "127.0.0.1:$ECHO" --mode echo --bytes 1M --sessions 4 --seed 46 \
            --timeout 60 --quiet >"$E2E_TMP/siblings2.json" 2>&1 &
        sib=$!
        socks_stream "$cp" "127.0.0.1:$RESET" --mode download --bytes 1M --timeout 20 \
            >"$E2E_TMP/reset.json" 2>&1 && fail "a reset target's sub-stream looked complete"
        wait "$sib" || fail "siblings of a reset sub-stream failed: $(why_of "$E2E_TMP/siblings2.json")"
        log_has "$E2E_TMP/c$conc.server.log" \
            "tcp:127\.0\.0\.1:$RESET closed: server connection failed" ||
            fail "the server did not log the reset sub-stream"
        pass "a sub-stream whose target reset mid-transfer ended alone; 4 siblings completed"
        # A target that never reads: the upload fills every buffer up to the sub-stream's
        # queue, which holds the connection (as V2Ray's does) until the stall guard ends it
        # with Error; the siblings on the same connection then complete.
        socks_stream "$cp" "127.0.0.1:$DEAF" --mode echo --bytes 64M --timeout 40 \
            >"$E2E_TMP/deaf.json" 2>&1 &
        local deaf=$!
        sleep 1
        socks_stream "$cp" "127.0.0.1:$ECHO" --mode echo --bytes 1M --sessions 4 --seed 47 \
            --timeout 60 --quiet >"$E2E_TMP/siblings3.json" 2>&1 ||
            fail "siblings of a stalled sub-stream failed: $(why_of "$E2E_TMP/siblings3.json")"
        wait "$deaf" && fail "an upload to a target that never reads completed"
        grep -q "read nothing for 10 s with .* bytes queued: ended with Error" \
            "$E2E_TMP/c$conc.server.log" || fail "the stall guard did not end the stalled sub-stream"
        pass "a sub-stream whose target stopped reading was ended after 10 s; 4 siblings completed"
    fi
    alive "$srv" || fail "server died ($(death_note "$srv"))"
    alive "$cli" || fail "client died ($(death_note "$cli"))"
    stop_pid "$cli"
    stop_pid "$srv"
}

# run_client CONCURRENCY SERVER(v2ray|evproxy): evproxy's client with mux.
run_client() {
    local conc=$1 impl=$2 id=cl$1-$2 sp cp up
    read -r sp cp up < <(ports 3 | tr '\n' ' ')
    cfg_vmess_server "$E2E_TMP/$id.server.json" "$sp" "$UUID_GOOD" 0
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 16
    local relay=$LAST_PID rp=$TOOL_PORT
    cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$rp" "$UUID_GOOD" 0 aes-128-gcm \
        "$up" "127.0.0.1:$DNS"
    with_mux "$E2E_TMP/$id.client.json" "$conc"
    if [ "$impl" = v2ray ]; then
        start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$sp"
    else
        start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$sp"
    fi
    local srv=$LAST_PID
    start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "$cp" "$up/udp"
    local cli=$LAST_PID out=$E2E_TMP/$id.tcp.json
    socks_stream "$cp" "127.0.0.1:$ECHO" --mode echo --bytes 2M --sessions 32 --seed 44 \
        --timeout 90 --quiet >"$out" 2>&1 ||
        { show_log "$id.client" 12; fail "$id: 32 x 2 MiB: $(why_of "$out")"; }
    # Each worker thread keeps its own connections (a socket belongs to one event loop): with
    # W workers (one per core by default) up to W - 1 more than V2Ray's single pool.
    local n max=$(((32 + conc - 1) / conc + $(nproc) - 1))
    n=$(accepted_count "$id.relay")
    [ "$n" -ge 1 ] && [ "$n" -le "$max" ] ||
        fail "$id: the client opened $n connections for 32 sessions (want 1..$max)"
    pass "$id: evproxy client, concurrency $conc -> $impl: 32 x 2 MiB intact over $n connection(s)"
    timeout -k 5 40 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$up" --count 20 \
        --size 100 --seed 15 --timeout 30 >"$E2E_TMP/$id.udp.out" 2>&1 ||
        { show_log "$id.client" 12; fail "$id: UDP: $(tail -1 "$E2E_TMP/$id.udp.out")"; }
    pass "$id: UDP answers came back through the client's mux"
    if [ "$impl" = evproxy ]; then
        # The server ends a sub-stream whose target reset with End + Error: the client resets
        # its own client too (a FIN would make the cut download look complete).
        socks_stream "$cp" "127.0.0.1:$RESET" --mode download --bytes 1M --timeout 20 \
            >"$E2E_TMP/$id.reset.json" 2>&1 && fail "$id: a reset target's download looked complete"
        grep -q "reset by peer" "$E2E_TMP/$id.reset.json" ||
            fail "$id: the cut sub-stream reached the client as: $(why_of "$E2E_TMP/$id.reset.json")"
        pass "$id: a target's reset reaches the client as a reset through both ends' mux"
    fi
    alive "$srv" || fail "$id: server died ($(death_note "$srv"))"
    alive "$cli" || fail "$id: client died ($(death_note "$cli"))"
    stop_pid "$cli"
    stop_pid "$srv"
    stop_pid "$relay"
}

# The server dies under a download through evproxy's mux client: the local client sees a
# reset, not a clean end of a cut stream.
run_client_cut() {
    local sp cp relay
    read -r sp cp < <(ports 2 | tr '\n' ' ')
    cfg_vmess_server "$E2E_TMP/cut.server.json" "$sp" "$UUID_GOOD" 0
    cfg_vmess_client "$E2E_TMP/cut.client.json" "$cp" "$sp" "$UUID_GOOD" 0 aes-128-gcm
    with_mux "$E2E_TMP/cut.client.json" 8
    start_evproxy cut.server "$E2E_TMP/cut.server.json" "$sp"
    local srv=$LAST_PID
    start_evproxy cut.client "$E2E_TMP/cut.client.json" "$cp"
    local cli=$LAST_PID
    socks_stream "$cp" "127.0.0.1:$HOLD" --mode download --bytes 2M --timeout 30 \
        >"$E2E_TMP/cut.json" 2>&1 &
    local dl=$! i
    for i in $(seq 100); do # until the first MiB went through, at most 10 s
        [ "$(grep -c '^accept' "$E2E_TMP/hold.stats" 2>/dev/null)" -ge 1 ] && break
        sleep 0.1
    done
    sleep 1
    kill -KILL "$srv"
    wait "$dl" && fail "cut: a download cut by the server's death looked complete"
    grep -q "reset by peer" "$E2E_TMP/cut.json" ||
        fail "cut: the cut download reached the client as: $(why_of "$E2E_TMP/cut.json")"
    pass "cut: the server's death reaches a mux client's sessions as resets"
    alive "$cli" || fail "cut: client died ($(death_note "$cli"))"
    stop_pid "$cli"
}

run_concurrency 1
run_concurrency 8
run_client_cut
run_client 1 v2ray
run_client 8 v2ray
run_client 8 evproxy
finish
