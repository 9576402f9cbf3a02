#!/usr/bin/env bash
# Shadowsocks AEAD interop, both directions, per method (aes-128-gcm, aes-256-gcm,
# chacha20-ietf-poly1305), TCP (E2E_SS_BYTES, 16 MiB, echoed with sha256 match) and UDP echo:
#   a/ss:    ss-local (socks) or ss-tunnel -U  -> evproxy shadowsocks inbound -> freedom
#   b/ss:    evproxy (socks, dokodemo udp -> shadowsocks out) -> ss-server -u -> target
#   a/v2ray: V2Ray 4.34 client (the same config shape)       -> evproxy inbound
#   b/v2ray: evproxy client                                  -> V2Ray 4.34 shadowsocks inbound
# then: domain and IPv6 targets; V2Ray's and evproxy's client over WebSocket to an evproxy server; ss-local -> evproxy
# (shadowsocks in, vmess out) -> V2Ray vmess inbound -> target, and the reverse; probes; and
# a replayed first chunk (ss-local's first bytes, captured by a relay) refused, the same
# bytes accepted by a fresh server (control). Prints a table of what ran.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
SIZE=${E2E_SS_BYTES:-16M}
METHODS=${E2E_SS_METHODS:-"aes-128-gcm aes-256-gcm chacha20-ietf-poly1305"}
PW=e2e-shadowsocks-pw

start_tool echo echo_server.py --host 127.0.0.1 --host ::1
ECHO=$TOOL_PORT
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT
info "echo server on 127.0.0.1/::1:$ECHO, UDP responder on 127.0.0.1:$DNS"

# cfg_ss_server FILE PORT METHOD: shadowsocks inbound (tcp,udp) -> freedom; V2Ray runs it too.
cfg_ss_server() {
    cat >"$1" <<EOC
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "ss-in", "listen": "127.0.0.1", "port": $2, "protocol": "shadowsocks",
    "settings": {"method": "$3", "password": "$PW", "email": "e2e@ss", "network": "tcp,udp"}}],
  "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
}
EOC
}

# cfg_ss_client FILE SOCKS_PORT UDP_PORT SERVER_PORT METHOD: socks and a dokodemo-door UDP
# port (to the responder) -> shadowsocks outbound; V2Ray runs it too.
cfg_ss_client() {
    cat >"$1" <<EOC
{
  "log": {"loglevel": "info"},
  "inbounds": [
    {"tag": "socks", "listen": "127.0.0.1", "port": $2, "protocol": "socks",
     "settings": {"auth": "noauth", "udp": false}},
    {"tag": "udp", "listen": "127.0.0.1", "port": $3, "protocol": "dokodemo-door",
     "settings": {"address": "127.0.0.1", "port": $DNS, "network": "udp"}}
  ],
  "outbounds": [{"tag": "ss", "protocol": "shadowsocks", "settings": {"servers": [
    {"address": "127.0.0.1", "port": $4, "method": "$5", "password": "$PW"}]}}]
}
EOC
}

# start_ss NAME PORT... -- CMD...: an ss-libev program, waited for on each PORT.
start_ss() {
    local name=$1 p ports=()
    shift
    while [ "$1" != -- ]; do ports+=("$1"); shift; done
    shift
    start_bg "$name" "$@"
    wait_listening "$name" "$LAST_PID" "${ports[@]}"
}

RES=()
# run_cell PEER DIR METHOD KIND: one row of the table; a failure is soft.
run_cell() {
    local peer=$1 dir=$2 m=$3 kind=$4 sp cp up id pids=() ok=0
    id="$peer-$dir-$m-$kind"
    read -r sp cp up < <(ports 3 | tr '\n' ' ')
    if [ "$dir" = a ]; then
        cfg_ss_server "$E2E_TMP/$id.server.json" "$sp" "$m"
        start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$sp" "$sp/udp"
    elif [ "$peer" = ss ]; then
        start_ss "$id.server" "$sp" "$sp/udp" -- ss-server -s 127.0.0.1 -p "$sp" -k "$PW" \
            -m "$m" -u
    else
        cfg_ss_server "$E2E_TMP/$id.server.json" "$sp" "$m"
        start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$sp" "$sp/udp"
    fi
    pids+=("$LAST_PID")
    if [ "$dir" = a ] && [ "$peer" = ss ] && [ "$kind" = tcp ]; then
        start_ss "$id.client" "$cp" -- ss-local -s 127.0.0.1 -p "$sp" -k "$PW" -m "$m" \
            -b 127.0.0.1 -l "$cp"
    elif [ "$dir" = a ] && [ "$peer" = ss ]; then
        start_ss "$id.client" "$up/udp" -- ss-tunnel -s 127.0.0.1 -p "$sp" -k "$PW" -m "$m" \
            -b 127.0.0.1 -l "$up" -U -L "127.0.0.1:$DNS"
    else
        cfg_ss_client "$E2E_TMP/$id.client.json" "$cp" "$up" "$sp" "$m"
        if [ "$dir" = a ]; then
            start_v2ray "$id.client" "$E2E_TMP/$id.client.json" "$cp" "$up/udp"
        else
            start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "$cp" "$up/udp"
        fi
    fi
    pids+=("$LAST_PID")
    local out=$E2E_TMP/$id.result.json
    if [ "$kind" = tcp ]; then
        socks_stream "$cp" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 21 --timeout 90 \
            >"$out" 2>&1 && ok=1
    else
        timeout -k 5 40 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$up" --count 20 \
            --size 100 --seed 22 --timeout 30 >"$out" 2>&1 && ok=1
    fi
    local p
    for p in "${pids[@]}"; do alive "$p" || ok=0; done
    if [ "$ok" = 1 ]; then
        RES+=("PASS $id")
    else
        RES+=("FAIL $id: $(tail -c 200 "$out")")
        show_log "$id.server" 6
        show_log "$id.client" 6
        soft_fail "$id: $(tail -c 200 "$out")"
    fi
    for p in "${pids[@]}"; do stop_pid "$p"; done
}

for peer in ss v2ray; do
    for dir in a b; do
        for m in $METHODS; do
            for kind in tcp udp; do
                run_cell "$peer" "$dir" "$m" "$kind"
            done
        done
    done
done

# Domain and IPv6 targets: ss-local -> evproxy inbound, and evproxy's outbound -> ss-server.
read -r SP CP SP2 CP2 < <(ports 4 | tr '\n' ' ')
cfg_ss_server "$E2E_TMP/addr.server.json" "$SP" aes-128-gcm
start_evproxy addr.server "$E2E_TMP/addr.server.json" "$SP"
ADDR_PIDS=("$LAST_PID")
start_ss addr.local "$CP" -- ss-local -s 127.0.0.1 -p "$SP" -k "$PW" -m aes-128-gcm \
    -b 127.0.0.1 -l "$CP"
ADDR_PIDS+=("$LAST_PID")
start_ss addr.ss-server "$SP2" -- ss-server -s 127.0.0.1 -p "$SP2" -k "$PW" -m aes-128-gcm
ADDR_PIDS+=("$LAST_PID")
cfg_ss_client "$E2E_TMP/addr.client.json" "$CP2" "$(ports 1)" "$SP2" aes-128-gcm
start_evproxy addr.client "$E2E_TMP/addr.client.json" "$CP2"
ADDR_PIDS+=("$LAST_PID")
for cell in "a $CP" "b $CP2"; do
    read -r dir port <<<"$cell"
    for target in "localhost:$ECHO" "[::1]:$ECHO"; do
        if socks_stream "$port" "$target" --bytes 1M --seed 27 --timeout 30 \
            >"$E2E_TMP/addr.result.json" 2>&1; then
            RES+=("PASS ss-$dir target $target")
        else
            soft_fail "ss-$dir target $target: $(why_of "$E2E_TMP/addr.result.json")"
        fi
    done
done
for p in "${ADDR_PIDS[@]}"; do stop_pid "$p"; done

# Over a transport (WebSocket): V2Ray 4.34's client and evproxy's to an evproxy server.
for impl in v2ray evproxy; do
    read -r SP CP UP < <(ports 3 | tr '\n' ' ')
    WS='{"network": "ws", "wsSettings": {"path": "/ss"}}'
    cfg_ss_server "$E2E_TMP/ws-$impl.server.json" "$SP" chacha20-ietf-poly1305
    with_stream "$E2E_TMP/ws-$impl.server.json" "$WS" shadowsocks
    cfg_ss_client "$E2E_TMP/ws-$impl.client.json" "$CP" "$UP" "$SP" chacha20-ietf-poly1305
    with_stream "$E2E_TMP/ws-$impl.client.json" "$WS" shadowsocks
    start_evproxy "ws-$impl.server" "$E2E_TMP/ws-$impl.server.json" "$SP"
    WS_SRV=$LAST_PID
    if [ "$impl" = v2ray ]; then
        start_v2ray "ws-$impl.client" "$E2E_TMP/ws-$impl.client.json" "$CP"
    else
        start_evproxy "ws-$impl.client" "$E2E_TMP/ws-$impl.client.json" "$CP"
    fi
    WS_CLI=$LAST_PID
    if socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 4M --seed 25 --timeout 60 \
        >"$E2E_TMP/ws-$impl.result.json" 2>&1; then
        RES+=("PASS $impl client -> evproxy, shadowsocks over ws")
    else
        soft_fail "$impl client, shadowsocks over ws: $(why_of "$E2E_TMP/ws-$impl.result.json")"
    fi
    stop_pid "$WS_CLI"
    stop_pid "$WS_SRV"
done

# ss-local -> evproxy (shadowsocks in, vmess out) -> V2Ray vmess inbound -> echo.
read -r SP VP CP < <(ports 3 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/chain.v2ray.json" "$VP" "$UUID_GOOD" 0
start_v2ray chain.v2ray "$E2E_TMP/chain.v2ray.json" "$VP"
V2_PID=$LAST_PID
cat >"$E2E_TMP/chain.evproxy.json" <<EOC
{
  "log": {"loglevel": "info"},
  "inbounds": [{"tag": "ss-in", "listen": "127.0.0.1", "port": $SP, "protocol": "shadowsocks",
    "settings": {"method": "aes-256-gcm", "password": "$PW"}}],
  "outbounds": [{"tag": "vmess-out", "protocol": "vmess", "settings": {"vnext": [
    {"address": "127.0.0.1", "port": $VP, "users": [{"id": "$UUID_GOOD", "alterId": 0,
     "security": "aes-128-gcm"}]}]}}]
}
EOC
start_evproxy chain.evproxy "$E2E_TMP/chain.evproxy.json" "$SP"
CHAIN_PID=$LAST_PID
start_ss chain.local "$CP" -- ss-local -s 127.0.0.1 -p "$SP" -k "$PW" -m aes-256-gcm \
    -b 127.0.0.1 -l "$CP"
LOCAL_PID=$LAST_PID
if socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 4M --seed 23 --timeout 60 \
    >"$E2E_TMP/chain.result.json" 2>&1; then
    RES+=("PASS chain ss-local -> evproxy ss in / vmess out -> V2Ray vmess")
else
    RES+=("FAIL chain")
    soft_fail "ss in, vmess out chain: $(tail -c 200 "$E2E_TMP/chain.result.json")"
fi
stop_pid "$LOCAL_PID"
stop_pid "$CHAIN_PID"
stop_pid "$V2_PID"

# The reverse: V2Ray's vmess client -> evproxy (vmess in, shadowsocks out) -> ss-server.
read -r SP VP CP < <(ports 3 | tr '\n' ' ')
start_ss rev.ss-server "$SP" -- ss-server -s 127.0.0.1 -p "$SP" -k "$PW" -m chacha20-ietf-poly1305
SS_PID=$LAST_PID
cfg_vmess_server "$E2E_TMP/rev.evproxy.json" "$VP" "$UUID_GOOD" 0
"$PY" - "$E2E_TMP/rev.evproxy.json" "$SP" "$PW" <<'EOP'
import json, sys
path, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cfg = json.load(open(path))
out = {"tag": "ss-out", "protocol": "shadowsocks", "settings": {"servers": [
    {"address": "127.0.0.1", "port": port, "method": "chacha20-ietf-poly1305", "password": pw}]}}
cfg["outbounds"] = [out]
cfg.pop("routing", None)
json.dump(cfg, open(path, "w"), indent=2)
EOP
start_evproxy rev.evproxy "$E2E_TMP/rev.evproxy.json" "$VP"
REV_PID=$LAST_PID
cfg_vmess_client "$E2E_TMP/rev.v2ray.json" "$CP" "$VP" "$UUID_GOOD" 0 aes-128-gcm
start_v2ray rev.v2ray "$E2E_TMP/rev.v2ray.json" "$CP"
V2_PID=$LAST_PID
if socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 4M --seed 26 --timeout 60 \
    >"$E2E_TMP/rev.result.json" 2>&1; then
    RES+=("PASS chain V2Ray vmess -> evproxy vmess in / ss out -> ss-server")
else
    soft_fail "vmess in, ss out chain: $(why_of "$E2E_TMP/rev.result.json")"
fi
stop_pid "$V2_PID"
stop_pid "$REV_PID"
stop_pid "$SS_PID"

# A replayed first chunk: ss-local's first bytes through a capturing relay, sent again.
read -r SP CP F < <(ports 3 | tr '\n' ' ')
cfg_ss_server "$E2E_TMP/replay.server.json" "$SP" aes-256-gcm
# A long handshake deadline: the probes below must end by the drain, not by the deadline.
sed -i '2a\  "policy": {"levels": {"0": {"handshake": 60}}},' "$E2E_TMP/replay.server.json"
start_evproxy replay.server "$E2E_TMP/replay.server.json" "$SP"
S_PID=$LAST_PID
cap=$E2E_TMP/replay.capture.bin
start_tool relay capture_proxy.py --upstream "127.0.0.1:$SP" --capture "$cap" --limit 4096
RELAY_PID=$LAST_PID
start_ss replay.local "$CP" -- ss-local -s 127.0.0.1 -p "$TOOL_PORT" -k "$PW" \
    -m aes-256-gcm -b 127.0.0.1 -l "$CP"
LOCAL_PID=$LAST_PID
socks_stream "$CP" "127.0.0.1:$ECHO" --bytes 1000 --seed 24 --timeout 30 \
    >"$E2E_TMP/replay.original.json" 2>&1 || fail "replay: the original session failed"
stop_pid "$LOCAL_PID"
wait_file "$cap" 5 || fail "replay: nothing captured"
stop_pid "$RELAY_PID"
# Control: a fresh server process (its salt set empty) takes the same bytes to the target, so
# the capture is a valid first chunk and the refusal below is the salt filter.
cfg_ss_server "$E2E_TMP/replay.fresh.json" "$F" aes-256-gcm
start_evproxy replay.fresh "$E2E_TMP/replay.fresh.json" "$F"
FRESH_PID=$LAST_PID
before=$(accepted_count echo)
timeout 20 "$PY" "$TOOLS/replay.py" --connect "127.0.0.1:$F" --file "$cap" --wait 1 \
    >"$E2E_TMP/replay.fresh.out" 2>&1
stop_pid "$FRESH_PID"
[ "$(accepted_count echo)" != "$before" ] ||
    fail "replay control: a fresh server did not take the captured bytes to the target"
before=$(accepted_count echo)
timeout 20 "$PY" "$TOOLS/replay.py" --connect "127.0.0.1:$SP" --file "$cap" --wait 2 \
    --times 4 >"$E2E_TMP/replay.out" 2>&1
recv=$(grep -o '"recv": [0-9]*' "$E2E_TMP/replay.out" | grep -o '[0-9]*$')
refused=$(grep -c 'replayed salt' "$E2E_TMP/replay.server.log")
if [ "$(accepted_count echo)" != "$before" ]; then
    soft_fail "replay: the replayed first chunk reached the target"
elif [ "${recv:-x}" != 0 ] || [ "$refused" -lt 4 ]; then
    soft_fail "replay: answered $recv bytes, $refused of 4 copies refused as replayed"
elif ! alive "$S_PID"; then
    fail "replay: the server died ($(death_note "$S_PID"))"
else
    RES+=("PASS replayed first chunk refused (4 copies), fresh server took it")
fi

# Probes: random bytes, the capture with a bit flipped in the salt, the sealed length or the
# first chunk, and the capture replayed: none answered, none closed before the filler, and
# all closed by the drain at one byte count (within the filler's 2-step resolution), past the
# longest first chunk (32 + 18 + 16383 + 16 bytes).
timeout -k 5 120 "$PY" "$TOOLS/ss_probe.py" --connect "127.0.0.1:$SP" --capture "$cap" \
    --salt 32 >"$E2E_TMP/probes.json" 2>&1 ||
    fail "ss_probe.py: $(tail -c 300 "$E2E_TMP/probes.json")"
if verdict=$("$PY" - "$E2E_TMP/probes.json" <<'EOP'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
bad = [r for r in rows if r["answered"] or r["early_close"] or r["closed_at"] is None]
at = [r["closed_at"] for r in rows if r["closed_at"] is not None]
if bad:
    print("misbehaved: %s" % bad)
    sys.exit(1)
if max(at) - min(at) > 2 * 1024 + 64 or min(at) < 32 + 18 + 16383 + 16:
    print("closes at %s" % {r["probe"]: r["closed_at"] for r in rows})
    sys.exit(1)
print("%d probes unanswered, closed at %d..%d bytes" % (len(rows), min(at), max(at)))
EOP
); then
    RES+=("PASS probes: $verdict")
else
    soft_fail "probes: $verdict"
fi
stop_pid "$S_PID"

printf '%s\n' "${RES[@]}"
finish
