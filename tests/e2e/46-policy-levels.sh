#!/usr/bin/env bash
# policy.levels beyond level 0 (issue 14): a vmess inbound with a level-0 user (connIdle 300)
# and a level-1 user (connIdle 2), each behind its own V2Ray 4.34 client. After an echo, both
# SOCKS connections sit idle for 5 s: the level-1 user's is closed by the server, the level-0
# user's still echoes. (A level's handshake timeout cannot apply: the user is known only after
# it; -t warns about one, as checked below.)
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
read -r SP C0 C1 < <(ports 3 | tr '\n' ' ')
U1=4a6b0a2c-2d2f-4a63-8a48-6f1c2b3d4e5f

cfg_vmess_server "$E2E_TMP/server.json" "$SP" "$UUID_GOOD" 0
"$PY" - "$E2E_TMP/server.json" "$U1" <<'PYEOF'
import json, sys
path, u1 = sys.argv[1:]
cfg = json.load(open(path))
cfg["inbounds"][0]["settings"]["clients"].append(
    {"id": u1, "alterId": 0, "level": 1, "email": "slow@example.org"})
cfg["policy"] = {"levels": {"0": {"connIdle": 300}, "1": {"connIdle": 2, "handshake": 9}}}
json.dump(cfg, open(path, "w"), indent=2)
PYEOF
cfg_vmess_client "$E2E_TMP/c0.json" "$C0" "$SP" "$UUID_GOOD" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/c1.json" "$C1" "$SP" "$U1" 0 aes-128-gcm
"$EVP_BIN" -t -c "$E2E_TMP/server.json" >"$E2E_TMP/t.out" 2>&1 || fail "-t refused: $(cat "$E2E_TMP/t.out")"
grep -q "policy.levels.1.handshake: a handshake runs before its user" "$E2E_TMP/t.out" ||
    fail "-t did not warn about level 1's handshake: $(cat "$E2E_TMP/t.out")"
pass "-t: level 1's handshake is warned about (level 0's applies)"
start_evproxy server "$E2E_TMP/server.json" "$SP"
start_v2ray c0 "$E2E_TMP/c0.json" "$C0"
start_v2ray c1 "$E2E_TMP/c1.json" "$C1"

# Both connections echo, idle 5 s, then each tries again: prints "open" or "closed".
"$PY" - "$C0" "$C1" "$ECHO" >"$E2E_TMP/idle.out" 2>&1 <<'PYEOF'
import socket, struct, sys, time
c0, c1, echo = (int(a) for a in sys.argv[1:])
def via(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo))
    rep = b""
    while len(rep) < 10:
        rep += s.recv(10 - len(rep))
    assert rep[1] == 0, rep
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        got += s.recv(4 - len(got))
    assert got == b"ping"
    return s
socks = {"level0": via(c0), "level1": via(c1)}
time.sleep(5)
for name, s in socks.items():
    try:
        s.sendall(b"pong")
        s.settimeout(5)
        got = s.recv(4)
        print(name, "open" if got == b"pong" else "closed")
    except OSError:
        print(name, "closed")
PYEOF
grep -q "level1 closed" "$E2E_TMP/idle.out" ||
    { show_log server 8; fail "the level-1 user's idle connection was not closed: $(cat "$E2E_TMP/idle.out")"; }
grep -q "level0 open" "$E2E_TMP/idle.out" ||
    fail "the level-0 user's connection did not survive 5 s idle: $(cat "$E2E_TMP/idle.out")"
pass "connIdle per level: level 1 (2 s) closed after 5 s idle, level 0 (300 s) still echoes"
finish
