#!/usr/bin/env bash
# Prometheus metrics, the status page and the access log (issue 15), against a real V2Ray:
#   1. An evproxy VMess server with "metrics": {"listen": ...} and an access log; a V2Ray
#      client (socks -> vmess) moves BYTES each way to a loopback echo server. /metrics is
#      scraped before and after (tests/tools/prom_scrape.py checks the text format): the
#      user's, the inbound's and the outbound's uplink and downlink grow by exactly BYTES
#      (the counters count relayed plaintext, so there is no tolerance), sessions_total by 1.
#   2. A client that sends garbage: handshake_failures_total{inbound="vmess-in"} grows.
#   3. The same transfer and the same garbage through a real V2Ray 4.34 server with an access
#      log: each evproxy access line equals V2Ray's with the stamp and ports masked (the
#      rejection's reason aside, which names each one's own code); again through Mux.Cool
#      (V2Ray clients with mux on): a line per sub-stream, none for the carrier.
#   4. GET / is an HTML page naming the user, which headless Chromium renders (its DOM names
#      the user; its screenshot is a page with text); /nope answers 404, POST /metrics 405, an
#      over-long request head 431, an idle client 408 (and scrapes are served meanwhile).
#   5. SIGHUP: reloads_total{result="applied"} grows, {result="refused"} on a broken config;
#      a reload that moves metrics.listen
#      serves on the new port and no longer on the old one.
#   6. evproxy -t refuses a metrics.listen that does not parse; Xray's {"tag"} form is
#      accepted with a warning; a start whose metrics.listen is taken fails, naming it.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$EVP_IMPL" != evproxy ]; then
    echo "metrics are evproxy's own: skipped under EVP_IMPL=$EVP_IMPL"
    finish
fi
need_evproxy
BYTES=${E2E_METRICS_BYTES:-1000003}
USER_EMAIL=e2e@example.org

start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r SP CP VP VCP MP MP2 < <(ports 6 | tr '\n' ' ')

# with_extras FILE ACCESS_LOG [METRICS_LISTEN]: adds the access log (and metrics) to FILE.
with_extras() {
    "$PY" - "$@" <<'PYEOF'
import json, sys
path, access = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
cfg["log"]["access"] = access
if len(sys.argv) > 3:
    cfg["metrics"] = {"listen": sys.argv[3]}
json.dump(cfg, open(path, "w"), indent=2)
PYEOF
}

SCFG=$E2E_TMP/server.json
cfg_vmess_server "$SCFG" "$SP" "$UUID_GOOD" 0
with_extras "$SCFG" "$E2E_TMP/evproxy.access.log" "127.0.0.1:$MP"
cfg_vmess_server "$E2E_TMP/v2ray-server.json" "$VP" "$UUID_GOOD" 0
with_extras "$E2E_TMP/v2ray-server.json" "$E2E_TMP/v2ray.access.log"
cfg_vmess_client "$E2E_TMP/client.json" "$CP" "$SP" "$UUID_GOOD" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/v2ray-client.json" "$VCP" "$VP" "$UUID_GOOD" 0 aes-128-gcm

start_evproxy server "$SCFG" "$SP" "$MP"
SERVER=$LAST_PID
start_v2ray client "$E2E_TMP/client.json" "$CP"
start_v2ray v2server "$E2E_TMP/v2ray-server.json" "$VP"
start_v2ray v2client "$E2E_TMP/v2ray-client.json" "$VCP"

scrape() { "$PY" "$TOOLS/prom_scrape.py" "http://127.0.0.1:${2:-$MP}/metrics" >"$1"; }
# value FILE SAMPLE: the sample's value in a scrape (labels sorted by key), 0 when absent.
value() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"; }
traffic() { echo "evproxy_traffic_bytes_total{direction=\"$2\",name=\"$3\",scope=\"$1\"}"; }

transfer() { # transfer SOCKS_PORT: BYTES each way through the socks port, sha256 checked
    timeout -k 5 60 "$PY" "$TOOLS/socks5_client.py" --socks "127.0.0.1:$1" \
        --target "127.0.0.1:$ECHO" --mode echo --bytes "$BYTES" --timeout 30 >/dev/null
}

garbage() { # garbage PORT: 64 random bytes and an end, as a prober sends
    "$PY" -c 'import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(os.urandom(64)); s.shutdown(socket.SHUT_WR)
try:
    s.recv(16)
except OSError:
    pass' "$1"
}

# --- 1. traffic counters -------------------------------------------------------------------
scrape "$E2E_TMP/before.txt" || fail "first scrape failed"
pass "scrape before: $(wc -l <"$E2E_TMP/before.txt") samples, text format 0.0.4"
transfer "$CP" || fail "transfer through evproxy failed"
# The counters take a session's bytes as they flow and keep them when it ends; wait (bounded
# by count) until the session has ended, so every sample reads its final value.
want_total=$(($(value "$E2E_TMP/before.txt" \
    "evproxy_sessions_total{name=\"$USER_EMAIL\",scope=\"user\"}") + 1))
for _ in $(seq 100); do
    scrape "$E2E_TMP/after.txt" || fail "scrape after the transfer failed"
    [ "$(value "$E2E_TMP/after.txt" "evproxy_sessions_active{name=\"$USER_EMAIL\",scope=\"user\"}")" = 0 ] &&
        [ "$(value "$E2E_TMP/after.txt" "evproxy_sessions_total{name=\"$USER_EMAIL\",scope=\"user\"}")" = "$want_total" ] &&
        break
    sleep 0.1
done
for scope_name in "user $USER_EMAIL" "inbound vmess-in" "outbound direct"; do
    read -r scope name <<<"$scope_name"
    for dir in uplink downlink; do
        key=$(traffic "$scope" "$dir" "$name")
        grown=$(($(value "$E2E_TMP/after.txt" "$key") - $(value "$E2E_TMP/before.txt" "$key")))
        if [ "$grown" = "$BYTES" ]; then
            pass "$scope $name $dir grew by $grown bytes (moved: $BYTES)"
        else
            soft_fail "$scope $name $dir grew by $grown bytes, moved $BYTES"
        fi
    done
done
key="evproxy_sessions_total{name=\"$USER_EMAIL\",scope=\"user\"}"
if [ "$(value "$E2E_TMP/after.txt" "$key")" = "$want_total" ]; then
    pass "sessions_total of the user grew by 1"
else
    soft_fail "sessions_total: $(grep -F "$key" "$E2E_TMP/after.txt")"
fi
for m in process_resident_memory_bytes process_open_fds; do
    v=$(value "$E2E_TMP/after.txt" "$m{}")
    if [ "$v" -gt 0 ]; then pass "$m = $v"; else soft_fail "$m missing or 0"; fi
done

# --- 2. refused handshakes -------------------------------------------------------------------
garbage "$SP"
failures() { scrape "$1" && awk '/^evproxy_handshake_failures_total\{inbound="vmess-in",/ {
    n += $NF } END { print n + 0 }' "$1"; }
for _ in $(seq 100); do
    [ "$(failures "$E2E_TMP/failed.txt")" -ge 1 ] && break
    sleep 0.1
done
if [ "$(failures "$E2E_TMP/failed.txt")" -ge 1 ]; then
    pass "handshake_failures_total: $(grep -m1 handshake_failures "$E2E_TMP/failed.txt")"
else
    soft_fail "no handshake failure counted for vmess-in"
fi

# --- 3. access log lines equal V2Ray's -------------------------------------------------------
transfer "$VCP" || fail "transfer through V2Ray failed"
garbage "$VP"
# mask: the stamp, every port, and what follows "rejected" (each names its own code).
mask() { sed -E 's#^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} ##; s#:[0-9]+( |$)#:PORT\1#g;
    s#( rejected  ).*#\1REASON#' "$1"; }
stamped() { grep -cE '^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]' "$1"; }
for _ in $(seq 100); do
    [ "$(wc -l <"$E2E_TMP/v2ray.access.log" 2>/dev/null)" -ge 2 ] && break
    sleep 0.1
done
ours=$(mask "$E2E_TMP/evproxy.access.log")
theirs=$(mask "$E2E_TMP/v2ray.access.log")
if [ -n "$ours" ] && [ "$ours" = "$theirs" ] &&
    [ "$(stamped "$E2E_TMP/evproxy.access.log")" = "$(wc -l <"$E2E_TMP/evproxy.access.log")" ]; then
    pass "access log lines equal V2Ray 4.34's (stamps and ports masked): $(echo "$ours" | tr '\n' '|')"
else
    soft_fail "access log differs from V2Ray's"
    diff <(echo "$theirs") <(echo "$ours") | sed 's/^/  | /'
    sed 's/^/  | evproxy: /' "$E2E_TMP/evproxy.access.log"
    sed 's/^/  | v2ray:   /' "$E2E_TMP/v2ray.access.log"
fi

# The same through Mux.Cool (V2Ray clients with mux on): one line per sub-stream, the client
# written as a destination (tcp:ADDR:PORT), none for the carrier, as V2Ray's mux server does.
read -r MCP MVCP < <(ports 2 | tr '\n' ' ')
for c in "mux-client:$MCP:$SP" "mux-v2client:$MVCP:$VP"; do
    IFS=: read -r name socks server <<<"$c"
    cfg_vmess_client "$E2E_TMP/$name.json" "$socks" "$server" "$UUID_GOOD" 0 aes-128-gcm
    "$PY" - "$E2E_TMP/$name.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["outbounds"][0]["mux"] = {"enabled": True, "concurrency": 8}
json.dump(cfg, open(sys.argv[1], "w"))
PYEOF
    start_v2ray "$name" "$E2E_TMP/$name.json" "$socks"
done
had_ours=$(wc -l <"$E2E_TMP/evproxy.access.log")
had_theirs=$(wc -l <"$E2E_TMP/v2ray.access.log")
for p in "$MCP" "$MCP" "$MVCP" "$MVCP"; do
    transfer "$p" || soft_fail "a transfer through the mux client on $p failed"
done
for _ in $(seq 100); do
    [ "$(wc -l <"$E2E_TMP/evproxy.access.log")" -ge $((had_ours + 2)) ] &&
        [ "$(wc -l <"$E2E_TMP/v2ray.access.log")" -ge $((had_theirs + 2)) ] && break
    sleep 0.1
done
ours=$(tail -n +$((had_ours + 1)) "$E2E_TMP/evproxy.access.log" >"$E2E_TMP/mux.ours" && mask "$E2E_TMP/mux.ours")
theirs=$(tail -n +$((had_theirs + 1)) "$E2E_TMP/v2ray.access.log" >"$E2E_TMP/mux.theirs" &&
    mask "$E2E_TMP/mux.theirs")
if [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
    pass "Mux.Cool access lines equal V2Ray 4.34's: $(echo "$ours" | tr '\n' '|')"
else
    soft_fail "Mux.Cool access lines differ from V2Ray's"
    diff <(echo "$theirs") <(echo "$ours") | sed 's/^/  | /'
fi

# --- 4. the status page and other requests ---------------------------------------------------
page=$(curl -s --max-time 10 "http://127.0.0.1:$MP/")
if [[ $page == *"<table>"* ]] && [[ $page == *"$USER_EMAIL"* ]] && [[ $page != *"<script"* ]]; then
    pass "GET / is an HTML status page naming $USER_EMAIL, without script"
else
    soft_fail "status page: $(head -c 300 <<<"$page")"
fi
# The page as a person sees it: headless Chromium (Debian's) renders it, its DOM names the
# user, and the screenshot (kept with the logs) is a page with text, not a blank one.
chrome=(timeout -k 5 60 env HOME="$E2E_TMP" chromium --headless --no-sandbox --disable-gpu
    --hide-scrollbars --window-size=1000,700)
"${chrome[@]}" --dump-dom "http://127.0.0.1:$MP/" >"$E2E_TMP/status.dom" 2>"$E2E_TMP/chromium.err"
"${chrome[@]}" --screenshot="$E2E_TMP/status.png" "http://127.0.0.1:$MP/" \
    >>"$E2E_TMP/chromium.err" 2>&1
if grep -q "$USER_EMAIL" "$E2E_TMP/status.dom" &&
    "$PY" "$TOOLS/png_check.py" --min-colours 8 "$E2E_TMP/status.png" >"$E2E_TMP/png.json"; then
    pass "Chromium renders the status page (DOM names $USER_EMAIL): $(cat "$E2E_TMP/png.json")"
else
    soft_fail "Chromium: DOM $(grep -c "$USER_EMAIL" "$E2E_TMP/status.dom") user lines," \
        "screenshot $(cat "$E2E_TMP/png.json" 2>/dev/null); $(tail -3 "$E2E_TMP/chromium.err")"
fi
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
c404=$(code "http://127.0.0.1:$MP/nope")
c405=$(code -X POST "http://127.0.0.1:$MP/metrics")
if [ "$c404" = 404 ] && [ "$c405" = 405 ]; then
    pass "GET /nope answers 404, POST /metrics 405"
else
    soft_fail "GET /nope answered $c404, POST /metrics $c405"
fi

# An idle client is answered 408 once its 5 s are up, an over-long head 431; meanwhile (the
# idle one still open) a scrape is served.
"$PY" - "$MP" >"$E2E_TMP/slow.txt" 2>&1 <<'PYEOF' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
print("idle:", s.recv(64).split(b"\r\n")[0].decode())
PYEOF
IDLE=$!
long=$("$PY" - "$MP" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 9000)
print(s.recv(64).split(b"\r\n")[0].decode())
PYEOF
)
during=$(code "http://127.0.0.1:$MP/metrics")
wait "$IDLE"
if [ "$long" = "HTTP/1.1 431 Request Header Fields Too Large" ] && [ "$during" = 200 ] &&
    grep -qx "idle: HTTP/1.1 408 Request Timeout" "$E2E_TMP/slow.txt"; then
    pass "an over-long head gets 431, an idle client 408, and a scrape meanwhile 200"
else
    soft_fail "long: '$long', scrape meanwhile: $during, $(cat "$E2E_TMP/slow.txt")"
fi

# --- 5. reloads ------------------------------------------------------------------------------
applied() { scrape "$1" "${2:-$MP}" && value "$1" 'evproxy_reloads_total{result="applied"}'; }
before=$(applied "$E2E_TMP/r0.txt")
kill -HUP "$SERVER"
for _ in $(seq 100); do
    [ "$(applied "$E2E_TMP/r1.txt")" -gt "$before" ] && break
    sleep 0.1
done
if [ "$(applied "$E2E_TMP/r1.txt")" = $((before + 1)) ]; then
    pass "reloads_total{result=\"applied\"} grew by 1 on SIGHUP"
else
    soft_fail "reloads_total applied: $before before, $(applied "$E2E_TMP/r1.txt") after"
fi
refused() { scrape "$1" && value "$1" 'evproxy_reloads_total{result="refused"}'; }
cp "$SCFG" "$E2E_TMP/good.json"
echo '{"inbounds": [' >"$SCFG"
kill -HUP "$SERVER"
for _ in $(seq 100); do
    [ "$(refused "$E2E_TMP/r1b.txt")" -ge 1 ] && break
    sleep 0.1
done
cp "$E2E_TMP/good.json" "$SCFG"
if [ "$(refused "$E2E_TMP/r1b.txt")" = 1 ]; then
    pass "reloads_total{result=\"refused\"} grew by 1 on a SIGHUP with a broken config"
else
    soft_fail "reloads_total refused: $(refused "$E2E_TMP/r1b.txt") after a broken config"
fi
sed -i "s/\"127.0.0.1:$MP\"/\"127.0.0.1:$MP2\"/" "$SCFG"
kill -HUP "$SERVER"
wait_port "$MP2" 10 tcp "$SERVER" || soft_fail "no metrics listener on $MP2 after the reload"
for _ in $(seq 100); do
    ss -ltnH "sport = :$MP" | grep -q . || break
    sleep 0.1
done
if [ "$(applied "$E2E_TMP/r2.txt" "$MP2")" = $((before + 2)) ] &&
    ! ss -ltnH "sport = :$MP" | grep -q .; then
    pass "a reload moved metrics.listen from :$MP to :$MP2"
else
    soft_fail "metrics.listen not moved by the reload"
    show_log server
fi

# --- 6. the config check ---------------------------------------------------------------------
for bad in "127.0.0.1" "localhost:9100" "127.0.0.1:99999" "::1:9100"; do
    "$PY" - "$SCFG" "$E2E_TMP/bad.json" "$bad" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1])); cfg["metrics"] = {"listen": sys.argv[3]}
json.dump(cfg, open(sys.argv[2], "w"))
PYEOF
    if out=$("$EVP_BIN" -t -c "$E2E_TMP/bad.json" 2>&1); then
        soft_fail "-t accepted metrics.listen \"$bad\""
    elif [[ $out == *"metrics.listen: "* ]]; then
        pass "-t refuses \"$bad\": $(grep -m1 metrics.listen <<<"$out")"
    else
        soft_fail "-t refused \"$bad\" without naming metrics.listen: $out"
    fi
done
"$PY" - "$SCFG" "$E2E_TMP/xray.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1])); cfg["metrics"] = {"tag": "metrics_out"}
json.dump(cfg, open(sys.argv[2], "w"))
PYEOF
if out=$("$EVP_BIN" -t -c "$E2E_TMP/xray.json" 2>&1) && [[ $out == *"metrics.tag: "* ]]; then
    pass "Xray's metrics {\"tag\"} form is accepted with a warning"
else
    soft_fail "Xray's metrics form: $out"
fi
# A second daemon asked to serve metrics where the first does cannot start, and says why.
read -r SP2 < <(ports 1)
"$PY" - "$SCFG" "$E2E_TMP/taken.json" "$SP2" "$MP2" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1])); cfg["inbounds"][0]["port"] = int(sys.argv[3])
cfg["metrics"] = {"listen": "127.0.0.1:" + sys.argv[4]}; cfg["log"].pop("access")
json.dump(cfg, open(sys.argv[2], "w"))
PYEOF
if out=$(timeout 20 "$EVP_BIN" -c "$E2E_TMP/taken.json" 2>&1); then
    soft_fail "a daemon started with metrics.listen on a port in use"
elif [[ $out == *"metrics.listen: cannot listen on 127.0.0.1:$MP2"* ]]; then
    pass "metrics.listen on a port in use stops the start: $(grep -m1 metrics.listen <<<"$out")"
else
    soft_fail "start with metrics.listen in use: $out"
fi
alive "$SERVER" || fail "the server died ($(death_note "$SERVER"))"
finish
