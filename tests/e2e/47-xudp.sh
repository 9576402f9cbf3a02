#!/usr/bin/env bash
# XUDP (issue 13): Xray's full-cone UDP over Mux.Cool, evproxy at both ends. A SOCKS5 UDP
# client -> evproxy client (socks, udp on) -> vmess outbound with "mux" -> a relay that can cut
# connections -> evproxy server (vmess -> freedom). tests/tools/xudp_probe.py checks:
#   - the answer of target A comes back with A's address;
#   - full cone: remote B, which the client never wrote to, writes to the server's outbound
#     port and the SOCKS client gets the datagram with B's address;
#   - after the Mux connection is cut, the client's next datagram goes over a new connection
#     with the same Global ID and leaves the server from the same port (kept for it).
# Xray's wire (tests/tools/xudp_xray_wire.py: its VMess outbound's UDP, command 3 with Mux.Cool
# frames of session 0, a Global ID in the New frame, addresses in Keep frames) into the same
# server: A and B get their datagrams from one port, and a second connection with the same
# Global ID reaches A from that port again.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
read -r SP CP RP < <(ports 3 | tr '\n' ' ')
cfg_vmess_server "$E2E_TMP/server.json" "$SP" "$UUID_GOOD" 0
sed -i 's/"loglevel": "warning"/"loglevel": "info"/' "$E2E_TMP/server.json"
cfg_vmess_client "$E2E_TMP/client.json" "$CP" "$RP" "$UUID_GOOD" 0 aes-128-gcm
"$PY" - "$E2E_TMP/client.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["inbounds"][0]["settings"]["udp"] = True
cfg["inbounds"][0]["settings"]["ip"] = "127.0.0.1"
for b in cfg["outbounds"]:
    if b["protocol"] == "vmess":
        b["mux"] = {"enabled": True, "concurrency": 8}
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PYEOF
start_evproxy server "$E2E_TMP/server.json" "$SP"
start_evproxy client "$E2E_TMP/client.json" "$CP"

out=$E2E_TMP/probe.json
timeout -k 5 60 "$PY" "$TOOLS/xudp_probe.py" --socks "127.0.0.1:$CP" --relay-port "$RP" \
    --upstream "127.0.0.1:$SP" >"$out" 2>&1 ||
    { show_log server 15; show_log client 10; fail "xudp: $(cat "$out")"; }
pass "full cone and a kept port across Mux connections: $(cat "$out")"
grep -q 'XUDP: goes on from kept port' "$E2E_TMP/server.log" ||
    fail "the server did not log taking the kept port"
pass "the server logged the kept port"

out=$E2E_TMP/xray.json
timeout -k 5 60 "$PY" "$TOOLS/xudp_xray_wire.py" --server "127.0.0.1:$SP" --uuid "$UUID_GOOD" \
    >"$out" 2>&1 || { show_log server 15; fail "Xray's XUDP wire: $(cat "$out")"; }
pass "Xray's XUDP wire (command 3, session 0, Global ID, addressed Keeps): $(cat "$out")"
finish
