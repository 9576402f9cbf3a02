#!/usr/bin/env bash
# policy.levels.N.bufferSize (issue 14): what a session queues per direction is its user's
# level's. A vmess inbound with a level-1 user (bufferSize 16 KiB) and a level-2 user
# (256 KiB), each behind its own V2Ray 4.34 client, and a level-1 user whose client speaks
# Mux.Cool (the sub-stream's session has its carrier's level, as in V2Ray), and a SOCKS
# inbound of the server with userLevel 1 (its sessions' level, as in V2Ray); all upload to a
# target that accepts and never reads (its receive buffer, and the client's send buffer, kept
# small so the kernel does not hide the queue). While the uploads push, `ctl sessions` is
# sampled: each session's queuedUp stays within its level's bufferSize plus one read (68 KiB)
# and the rest of a VMess chunk that read left incomplete, and the level-2 session does queue
# its 256 KiB (more than the level-1 bound). -t refuses a bufferSize that is not an integer,
# naming its path.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
if [ "$EVP_IMPL" != evproxy ]; then
    echo "ctl sessions is evproxy's own: skipped"
    exit 0
fi
read -r SP C1 C2 C3 TARGET SOCKS < <(ports 6 | tr '\n' ' ')
U1=5b7c1d3e-3e4f-4b74-9b59-7a2d3c4e5f60
U2=6c8d2e4f-4f50-4c85-8c6a-8b3e4d5f6071
U3=7d9e3f50-5061-4d96-9d7b-9c4f5e607182
CTL=$E2E_TMP/ctl.sock

# -t: a bufferSize V2Ray's int32 would refuse is an error naming its path.
cat >"$E2E_TMP/bad.json" <<EOF
{"inbounds": [{"port": $SP, "listen": "127.0.0.1", "protocol": "socks"}],
 "outbounds": [{"protocol": "freedom"}],
 "policy": {"levels": {"1": {"bufferSize": "16"}}}}
EOF
out=$("$EVP_BIN" -t -c "$E2E_TMP/bad.json" 2>&1) && fail "-t accepted bufferSize \"16\""
case $out in
*'policy.levels.1.bufferSize: must be an integer number of KiB'*) ;;
*) fail "-t did not name the path: ${out:0:300}" ;;
esac
pass "-t refuses a string bufferSize, naming policy.levels.1.bufferSize"

cfg_vmess_server "$E2E_TMP/server.json" "$SP" "$UUID_GOOD" 0
cfg_vmess_client "$E2E_TMP/c1.json" "$C1" "$SP" "$U1" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/c2.json" "$C2" "$SP" "$U2" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/c3.json" "$C3" "$SP" "$U3" 0 aes-128-gcm
"$PY" - "$E2E_TMP/server.json" "$U1" "$U2" "$U3" "$CTL" "$E2E_TMP/c3.json" "$SOCKS" <<'PYEOF'
import json, sys
path, u1, u2, u3, ctl, c3, socks = sys.argv[1:]
cfg = json.load(open(path))
cfg["inbounds"][0]["settings"]["clients"] += [
    {"id": u1, "alterId": 0, "level": 1, "email": "small@example.org"},
    {"id": u2, "alterId": 0, "level": 2, "email": "large@example.org"},
    {"id": u3, "alterId": 0, "level": 1, "email": "mux@example.org"}]
cfg["policy"] = {"levels": {"1": {"bufferSize": 16}, "2": {"bufferSize": 256}}}
cfg["control"] = {"path": ctl}
cfg["inbounds"].append({"tag": "socks-in", "listen": "127.0.0.1", "port": int(socks),
                        "protocol": "socks", "settings": {"auth": "noauth", "userLevel": 1}})
cfg["routing"]["rules"][0]["inboundTag"].append("socks-in")
json.dump(cfg, open(path, "w"), indent=2)
client = json.load(open(c3))
client["outbounds"][0]["mux"] = {"enabled": True, "concurrency": 1}
json.dump(client, open(c3, "w"), indent=2)
PYEOF
start_evproxy server "$E2E_TMP/server.json" "$SP" "$SOCKS"
start_v2ray c1 "$E2E_TMP/c1.json" "$C1"
start_v2ray c2 "$E2E_TMP/c2.json" "$C2"
start_v2ray c3 "$E2E_TMP/c3.json" "$C3"

# Prints per user the most queuedUp seen and how many samples there were, then "reached"
# or "short" (whether every session queued at least its bufferSize, and 20 samples followed).
E2E_TOOLS=$TOOLS "$PY" - "$C1" "$C2" "$C3" "$SOCKS" "$TARGET" "$EVP_BIN" "$CTL" \
    >"$E2E_TMP/queue.out" 2>&1 <<'PYEOF'
import json, os, socket, subprocess, sys, time
sys.path.insert(0, os.environ["E2E_TOOLS"])
from socks5_client import socks5_connect
c1, c2, c3, c4, target = (int(a) for a in sys.argv[1:6])
evp, ctl = sys.argv[6:]
SMALL = 4096  # the kernel doubles it
KIB = 1024
cap = {"small@example.org": 16 * KIB, "large@example.org": 256 * KIB,
       "mux@example.org": 16 * KIB, "socks-in": 16 * KIB}
# Accepts (in the kernel's backlog) and never reads: accepted sockets inherit the buffer.
lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
lst.bind(("127.0.0.1", target))
lst.listen(8)

def via(port):
    s = socks5_connect(("127.0.0.1", port), "127.0.0.1", target, 10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL)
    s.setblocking(False)
    return s

socks = [via(c1), via(c2), via(c3), via(c4)]
chunk = b"\xa5" * 65536
most = dict.fromkeys(cap, 0)
samples = after = sent = 0
start = time.monotonic()
# Bounded by count and time: push and sample until each session has queued its bufferSize,
# then 20 samples more, pushing on (the kernel and V2Ray hold megabytes on the way, so a
# session that read past its limit would show it).
for _ in range(400):
    if time.monotonic() - start > 60 or after >= 20:
        break
    for s in socks:
        for _ in range(32):  # up to 2 MiB a turn, until the socket is full
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                break
    out = subprocess.run([evp, "ctl", "-s", ctl, "sessions"], capture_output=True, text=True,
                         timeout=20)
    if out.returncode != 0:
        print("ctl failed:", out.stdout, out.stderr)
        sys.exit(1)
    samples += 1
    for row in json.loads(out.stdout)["sessions"]:
        user = row.get("user") or row["inbound"]  # the SOCKS inbound's has no user
        if user == "socks-in" and row["policyLevel"] != 1:
            print("the socks-in session has policyLevel", row["policyLevel"])
            sys.exit(1)
        if user in most:
            most[user] = max(most[user], row["queuedUp"])
    if all(most[u] >= cap[u] for u in cap):
        after += 1
    time.sleep(0.05)
for u in cap:
    print(u, most[u], samples)
print("sent", sent)
print("reached" if after >= 20 else "short")
PYEOF
rc=$?
if [ $rc -ne 0 ]; then
    show_log server 8
    fail "the upload script failed: $(tail -c 400 "$E2E_TMP/queue.out")"
fi
# One read (EVP_BUF_BLOCK, 68 KiB) and the incomplete rest of a VMess chunk (16 KiB + 34).
SLACK=$((69632 + 16384 + 34))
small=$(awk '$1 == "small@example.org" {print $2}' "$E2E_TMP/queue.out")
large=$(awk '$1 == "large@example.org" {print $2}' "$E2E_TMP/queue.out")
mux=$(awk '$1 == "mux@example.org" {print $2}' "$E2E_TMP/queue.out")
socks=$(awk '$1 == "socks-in" {print $2}' "$E2E_TMP/queue.out")
if [ -z "$small" ] || [ -z "$large" ] || [ -z "$mux" ] || [ -z "$socks" ]; then
    fail "no samples: $(cat "$E2E_TMP/queue.out")"
fi
grep -q '^reached' "$E2E_TMP/queue.out" ||
    fail "a session never queued its bufferSize: $(tr '\n' ' ' <"$E2E_TMP/queue.out")"
[ "$small" -le $((16 * 1024 + SLACK)) ] ||
    fail "the level-1 session (bufferSize 16) queued $small bytes, more than $((16 * 1024 + SLACK))"
pass "level 1 (bufferSize 16 KiB): at most $small bytes queued (bound $((16 * 1024 + SLACK)))"
[ "$large" -le $((256 * 1024 + SLACK)) ] ||
    fail "the level-2 session (bufferSize 256) queued $large bytes, over $((256 * 1024 + SLACK))"
[ "$large" -gt $((16 * 1024 + SLACK)) ] ||
    fail "the level-2 session queued only $large bytes: no more than level 1 may"
pass "level 2 (bufferSize 256 KiB): at most $large bytes queued, above level 1's bound"
[ "$mux" -le $((16 * 1024 + SLACK)) ] ||
    fail "the level-1 user's Mux.Cool sub-stream queued $mux bytes, over $((16 * 1024 + SLACK))"
pass "a level-1 user's Mux.Cool sub-stream: at most $mux bytes queued (its carrier's level)"
[ "$socks" -le $((16 * 1024 + SLACK)) ] ||
    fail "the SOCKS inbound's session (userLevel 1) queued $socks bytes, over the bound"
pass "a SOCKS inbound with userLevel 1: policyLevel 1, at most $socks bytes queued"
finish
