#!/usr/bin/env bash
# VMess interop matrix against the real V2Ray 4.34, both directions:
#   a: V2Ray client (socks -> vmess out)  -> evproxy vmess inbound -> freedom
#   b: evproxy client (socks -> vmess out) -> V2Ray vmess inbound   -> freedom
# for every security x header (AEAD = alterId 0, legacy = alterId 4; and in direction a
# "primary" = legacy with the primary ID, V2RAY_VMESS_AEAD_DISABLED=true), E2E_INTEROP_BYTES
# (16 MiB) each way through socks to a loopback echo server with sha256 match; then a domain
# target ("localhost"), an IPv6 target (::1) and UDP (dokodemo-door udp -> vmess -> a
# DNS-style responder) in both directions. Each client dials through a relay that records
# its first 16 bytes, so the table also shows which header it really sent (legacy auth
# = HMAC-MD5 of one of the user's IDs, checked with hashlib; anything else = AEAD).
# Prints a table of what ran.
# A 4.34 client set to aes-128-cfb or zero sends aes-128-gcm (PEERS.md): those rows run and
# are labelled; direction b is what exercises cfb and zero bodies.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
SIZE=${E2E_INTEROP_BYTES:-16M}
JOBS=${E2E_JOBS:-2}
SECURITIES=${E2E_SECURITIES:-"aes-128-gcm chacha20-poly1305 aes-128-cfb none zero"}
RES=$E2E_TMP/results
mkdir -p "$RES"

start_tool echo echo_server.py --host 127.0.0.1 --host ::1
ECHO=$TOOL_PORT
start_tool dns udp_responder.py --host 127.0.0.1
DNS=$TOOL_PORT
info "echo server on 127.0.0.1/::1:$ECHO, UDP responder on 127.0.0.1:$DNS"

# Runs inside a background subshell: one client process + one server process + one check.
# Writes "PASS" or "FAIL reason" to $RES/ID; its own output goes to $RES/ID.out.
run_cell() {
    local id=$1 dir=$2 sec=$3 hdr=$4 target=$5 aid=0 sp cp up srv_pid cli_pid
    local cell_pids=() verdict=''
    [ "$hdr" = legacy ] && aid=4
    # "primary": a V2Ray client with alterId 0 told to send a legacy header (with the
    # primary ID) by V2RAY_VMESS_AEAD_DISABLED; V2Ray servers accept it, so must we.
    local V2RAY_ENV=
    [ "$hdr" = primary ] && V2RAY_ENV=V2RAY_VMESS_AEAD_DISABLED=true
    # shellcheck disable=SC2317 # called by the trap
    cell_exit() {
        local p
        for p in "${cell_pids[@]}"; do stop_pid "$p"; done
        if [ ! -s "$RES/$id" ]; then
            echo "FAIL $(grep -m1 '^FAIL: ' "$RES/$id.out" | cut -c7-)" >"$RES/$id"
        fi
    }
    trap cell_exit EXIT
    read -r sp cp up < <(ports 3 | tr '\n' ' ')
    # The client dials a relay that records its first bytes, to tell which header it sent.
    start_tool "$id.relay" capture_proxy.py --upstream "127.0.0.1:$sp" \
        --capture "$E2E_TMP/$id.head" --limit 16
    cell_pids+=("$LAST_PID")
    local rp=$TOOL_PORT
    cfg_vmess_server "$E2E_TMP/$id.server.json" "$sp" "$UUID_GOOD" "$aid"
    if [ "$target" = udp ]; then
        cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$rp" "$UUID_GOOD" "$aid" "$sec" \
            "$up" "127.0.0.1:$DNS"
    else
        cfg_vmess_client "$E2E_TMP/$id.client.json" "$cp" "$rp" "$UUID_GOOD" "$aid" "$sec"
    fi
    local client_ports=("$cp")
    [ "$target" = udp ] && client_ports+=("$up/udp")
    if [ "$dir" = a ]; then
        start_evproxy "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        srv_pid=$LAST_PID
        cell_pids+=("$LAST_PID")
        start_v2ray "$id.client" "$E2E_TMP/$id.client.json" "${client_ports[@]}"
    else
        start_v2ray "$id.server" "$E2E_TMP/$id.server.json" "$sp"
        srv_pid=$LAST_PID
        cell_pids+=("$LAST_PID")
        start_evproxy "$id.client" "$E2E_TMP/$id.client.json" "${client_ports[@]}"
    fi
    cli_pid=$LAST_PID
    cell_pids+=("$LAST_PID")
    local out=$E2E_TMP/$id.result.json ok=0 T="--timeout ${E2E_CELL_TIMEOUT:-25}"
    # shellcheck disable=SC2086 # $T is two words on purpose
    case $target in
    ipv4) socks_stream "$cp" "127.0.0.1:$ECHO" --bytes "$SIZE" --seed 11 $T >"$out" 2>&1 ;;
    domain) socks_stream "$cp" "localhost:$ECHO" --bytes 1M --seed 12 $T >"$out" 2>&1 ;;
    ipv6) socks_stream "$cp" "[::1]:$ECHO" --bytes 1M --seed 13 $T >"$out" 2>&1 ;;
    udp)
        timeout -k 5 40 "$PY" "$TOOLS/udp_client.py" --server "127.0.0.1:$up" --count 20 \
            --size 100 --seed 14 --timeout 30 >"$out" 2>&1
        ;;
    esac && ok=1
    if [ "$ok" = 1 ]; then
        verdict=PASS
    else
        verdict="FAIL $(why_of "$out")"
        [ "$verdict" = "FAIL " ] && verdict="FAIL $(tail -1 "$out")"
    fi
    # The header the client really sent: "aead", "legacy-primary" or "legacy-alt<k>".
    local seen=none
    if wait_file "$E2E_TMP/$id.head" 2; then
        seen=$("$PY" "$TOOLS/vmess_header_kind.py" --file "$E2E_TMP/$id.head" \
            --uuid "$UUID_GOOD" --alter-id "$aid")
    fi
    echo "$seen" >"$RES/$id.seen"
    local want=$hdr
    [ "$hdr" = primary ] && want=legacy-primary
    if [ "$verdict" = PASS ] && [ "$seen" != "$want" ] && [ "${seen%%-*}" != "$want" ]; then
        verdict="FAIL the client sent a $seen header, not $hdr"
    fi
    alive "$srv_pid" || verdict="FAIL server process died ($(death_note "$srv_pid"))"
    alive "$cli_pid" || verdict="FAIL client process died ($(death_note "$cli_pid"))"
    if [ "$verdict" != PASS ]; then
        show_log "$id.server" 8
        show_log "$id.client" 8
    fi
    echo "$verdict" >"$RES/$id"
}

CELLS=()
for dir in a b; do
    for sec in $SECURITIES; do
        for hdr in aead legacy; do
            CELLS+=("$dir $sec $hdr ipv4")
        done
    done
    for t in domain ipv6 udp; do
        CELLS+=("$dir aes-128-gcm aead $t")
    done
    # Only a V2Ray client can be made to send a primary-ID legacy header.
    [ "$dir" = a ] && CELLS+=("a aes-128-gcm primary ipv4")
done

# Bounded parallelism: at most $JOBS cells at once, each one bounded by its own timeouts.
running=()
for cell in "${CELLS[@]}"; do
    read -r dir sec hdr target <<<"$cell"
    id="$dir-$sec-$hdr-$target"
    while [ "${#running[@]}" -ge "$JOBS" ]; do
        still=()
        for p in "${running[@]}"; do alive "$p" && still+=("$p"); done
        running=("${still[@]}")
        [ "${#running[@]}" -ge "$JOBS" ] && sleep 0.1
    done
    info "cell $id"
    # Every step of a cell is bounded (start-up waits, client timeouts), so a cell ends.
    (run_cell "$id" "$dir" "$sec" "$hdr" "$target") >"$RES/$id.out" 2>&1 &
    running+=("$!")
done
for p in "${running[@]}"; do wait "$p"; done

# The table: direction x security x header x target -> PASS/FAIL.
if [ "$EVP_IMPL" = v2ray ]; then
    A_NAME="v2ray -> v2ray(as evproxy)"
    B_NAME="v2ray(as evproxy) -> v2ray"
else
    A_NAME="v2ray -> evproxy"
    B_NAME="evproxy -> v2ray"
fi
# Lines starting with "| " are shown by run-e2e.sh even when the script passes.
printf '| %-28s %-31s %-7s %-7s %-15s %s\n' direction security header target \
    "header seen" result
failed_ids=()
for cell in "${CELLS[@]}"; do
    read -r dir sec hdr target <<<"$cell"
    id="$dir-$sec-$hdr-$target"
    label=$sec
    client_is_v2ray=0
    { [ "$dir" = a ] || [ "$EVP_IMPL" = v2ray ]; } && client_is_v2ray=1
    case $sec in aes-128-cfb | zero)
        [ "$client_is_v2ray" = 1 ] && label="$sec (v2ray sends gcm)" ;;
    esac
    name=$A_NAME
    [ "$dir" = b ] && name=$B_NAME
    verdict=$(cat "$RES/$id" 2>/dev/null || echo "FAIL no result")
    seen=$(cat "$RES/$id.seen" 2>/dev/null || echo '?')
    printf '| %-28s %-31s %-7s %-7s %-15s %s\n' "$name" "$label" "$hdr" "$target" "$seen" \
        "${verdict%% *}"
    [ "${verdict%% *}" = PASS ] ||
        failed_ids+=("$id|$name, $label, $hdr, $target: ${verdict#FAIL }")
done
for f in "${failed_ids[@]}"; do
    soft_fail "${f#*|}"
    sed 's/^/    /' "$RES/${f%%|*}.out" | tail -20
done
echo
finish
