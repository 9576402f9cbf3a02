#!/usr/bin/env bash
# Per-user limits (issue 15), through V2Ray 4.34 clients to an evproxy vmess inbound:
# downlinkBps shared by two sessions and uplinkBps (the rates measured here over ~5 s are
# within 15% of the set one), sessions = 2 refuses the third (also as Mux sub-streams),
# ips = 1 refuses a second source address (127.0.0.2, V2Ray's sendThrough; also when a PROXY
# protocol front names it, the connections all coming from the front), an expired user is
# refused, and a quota cuts a transfer and is still used up after a restart
# (control.stateFile). A shadowsocks inbound (ss-local) with sessions = 1, then an expiry set
# by `ctl limits` into its clients file; `ctl users` and the status page show limits and
# usage. Each refusal names its limit in the server's log.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_evproxy
start_tool echo echo_server.py --host 127.0.0.1
ECHO=$TOOL_PORT
start_tool bulk send_close_server.py --host 127.0.0.1 --bytes 2500000
BULK=$TOOL_PORT
start_tool big send_close_server.py --host 127.0.0.1 --bytes 20000000
BIG=$TOOL_PORT
read -r SP CR CS CM CI CI2 CO CQ SSP SSL MP VF FC1 FC2 < <(ports 14 | tr '\n' ' ')
start_tool front proxy_front.py --host 127.0.0.1 --upstream "$VF"
FRONT=$TOOL_PORT
U_RATE=5b0c6a1e-0001-4a63-8a48-6f1c2b3d4e5f
U_SESS=5b0c6a1e-0002-4a63-8a48-6f1c2b3d4e5f
U_IPS=5b0c6a1e-0003-4a63-8a48-6f1c2b3d4e5f
U_OLD=5b0c6a1e-0004-4a63-8a48-6f1c2b3d4e5f
U_QUOTA=5b0c6a1e-0005-4a63-8a48-6f1c2b3d4e5f
U_FRONT=5b0c6a1e-0006-4a63-8a48-6f1c2b3d4e5f
RATE=1000000
QUOTA=3000000
STATE=$E2E_TMP/usage.json
CTL_SOCK=$E2E_TMP/ctl.sock

CF=$E2E_TMP/ss-clients.json
printf '{"clients": [{"password": "ss-secret", "email": "ss@e2e", "limits": %s}]}\n' \
    '{"sessions": 1}' >"$CF"
cfg_vmess_server "$E2E_TMP/server.json" "$SP" "$UUID_GOOD" 0
"$PY" - "$E2E_TMP/server.json" "$STATE" "$CTL_SOCK" "$U_RATE" "$U_SESS" "$U_IPS" "$U_OLD" \
    "$U_QUOTA" "$RATE" "$QUOTA" "$SSP" "$CF" "$MP" "$VF" "$U_FRONT" <<'PYEOF'
import json, sys
(path, state, sock, u_rate, u_sess, u_ips, u_old, u_quota, rate, quota, ssp, cf, mp, vf,
 u_front) = sys.argv[1:]
cfg = json.load(open(path))
cfg["control"] = {"path": sock, "stateFile": state}
cfg["metrics"] = {"listen": "127.0.0.1:" + mp}
cfg["inbounds"].append({"tag": "ss-in", "listen": "127.0.0.1", "port": int(ssp),
                        "protocol": "shadowsocks", "clientsFile": cf,
                        "settings": {"method": "chacha20-ietf-poly1305", "clients": []}})
# Behind a PROXY protocol front: every connection comes from it, each names its client.
cfg["inbounds"].append({"tag": "vmess-front", "listen": "127.0.0.1", "port": int(vf),
                        "protocol": "vmess", "settings": {"clients": [
                            {"id": u_front, "email": "front@example.org", "limits": {"ips": 1}}]},
                        "streamSettings": {"network": "tcp",
                                           "tcpSettings": {"acceptProxyProtocol": True}}})
def user(uuid, email, limits):
    return {"id": uuid, "alterId": 0, "email": email, "limits": limits}
cfg["inbounds"][0]["settings"]["clients"] += [
    user(u_rate, "rate@example.org", {"uplinkBps": int(rate), "downlinkBps": int(rate)}),
    user(u_sess, "sessions@example.org", {"sessions": 2}),
    user(u_ips, "ips@example.org", {"ips": 1}),
    user(u_old, "expired@example.org", {"expire": "2020-01-01T00:00:00Z"}),
    user(u_quota, "quota@example.org", {"quotaBytes": int(quota)}),
]
json.dump(cfg, open(path, "w"), indent=2)
PYEOF
cfg_vmess_client "$E2E_TMP/cr.json" "$CR" "$SP" "$U_RATE" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/cs.json" "$CS" "$SP" "$U_SESS" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/cm.json" "$CM" "$SP" "$U_SESS" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/ci.json" "$CI" "$SP" "$U_IPS" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/ci2.json" "$CI2" "$SP" "$U_IPS" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/co.json" "$CO" "$SP" "$U_OLD" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/cq.json" "$CQ" "$SP" "$U_QUOTA" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/fc1.json" "$FC1" "$FRONT" "$U_FRONT" 0 aes-128-gcm
cfg_vmess_client "$E2E_TMP/fc2.json" "$FC2" "$FRONT" "$U_FRONT" 0 aes-128-gcm
for c in ci2 fc2; do
    "$PY" - "$E2E_TMP/$c.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["outbounds"][0]["sendThrough"] = "127.0.0.2"  # the second device's address
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PYEOF
done
"$PY" - "$E2E_TMP/cm.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["outbounds"][0]["mux"] = {"enabled": True, "concurrency": 8}  # sub-streams of one carrier
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PYEOF
"$EVP_BIN" -t -c "$E2E_TMP/server.json" >"$E2E_TMP/t.out" 2>&1 ||
    fail "-t refused the limits: $(cat "$E2E_TMP/t.out")"
start_evproxy server "$E2E_TMP/server.json" "$SP" "$SSP" "$VF"
SERVER_PID=$LAST_PID
start_bg ss.local ss-local -s 127.0.0.1 -p "$SSP" -k ss-secret -m chacha20-ietf-poly1305 \
    -b 127.0.0.1 -l "$SSL"
wait_listening ss.local "$LAST_PID" "$SSL"
for c in cr cs cm ci ci2 co cq fc1 fc2; do
    port_var=$(echo "$c" | tr '[:lower:]' '[:upper:]')
    start_v2ray "$c" "$E2E_TMP/$c.json" "${!port_var}"
done
probe() { timeout -k 5 120 "$PY" "$TOOLS/user_limits_probe.py" "$@"; }
field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
logged() { # logged TEXT [LOG]: the server's log names a limit
    grep -qF "$1" "$E2E_TMP/${2:-server}.log" ||
        { show_log "${2:-server}" 10; fail "not logged: $1"; }
}

# downlinkBps: two downloads of 2.5 MB at once share 1 MB/s.
probe rate --socks "127.0.0.1:$CR" --target "127.0.0.1:$BULK" --sessions 2 >"$E2E_TMP/rate.out"
info "rate: $(cat "$E2E_TMP/rate.out")"
"$PY" - "$E2E_TMP/rate.out" "$RATE" <<'PYEOF' || fail "downlinkBps: $(cat "$E2E_TMP/rate.out")"
import json, sys
r = json.load(open(sys.argv[1]))
want = float(sys.argv[2])
assert r["per_session"] == [2500000, 2500000], r["per_session"]
print("measured %.0f B/s over %.2f s (set %d B/s, %+.1f%%)" % (
    r["rate"], r["seconds"], want, (r["rate"] / want - 1) * 100))
assert abs(r["rate"] / want - 1) <= 0.15, "outside 15%"
PYEOF
pass "downlinkBps $RATE shared by two sessions: within 15% over 5 s"

# uplinkBps: 5 MB sent to an echo server come back no faster than the uplink lets them go.
probe upload --socks "127.0.0.1:$CR" --target "127.0.0.1:$ECHO" --bytes 5000000 >"$E2E_TMP/up.out"
info "upload: $(cat "$E2E_TMP/up.out")"
"$PY" - "$E2E_TMP/up.out" "$RATE" <<'PYEOF' || fail "uplinkBps: $(cat "$E2E_TMP/up.out")"
import json, sys
r = json.load(open(sys.argv[1]))
want = float(sys.argv[2])
assert r["bytes"] == 5000000, r["bytes"]
print("measured %.0f B/s over %.2f s (set %d B/s, %+.1f%%)" % (
    r["rate"], r["seconds"], want, (r["rate"] / want - 1) * 100))
assert abs(r["rate"] / want - 1) <= 0.15, "outside 15%"
PYEOF
pass "uplinkBps $RATE: within 15% over 5 s"

# sessions = 2: a third is refused while two run; one ended, a new one is taken.
probe hold --socks "127.0.0.1:$CS" --target "127.0.0.1:$ECHO" --count 2 >"$E2E_TMP/hold.out"
grep -q '"held": 2, "extra": "refused", "after_close": "echoed"' "$E2E_TMP/hold.out" ||
    { show_log server 10; fail "sessions=2: $(cat "$E2E_TMP/hold.out")"; }
logged "user sessions@example.org has 2 sessions (limits.sessions)"
pass "sessions=2: the third refused (logged), a new one taken after one ended"
# The same user through V2Ray's Mux: sub-streams count, the carrier does not.
probe hold --socks "127.0.0.1:$CM" --target "127.0.0.1:$ECHO" --count 2 >"$E2E_TMP/muxhold.out"
grep -q '"held": 2, "extra": "refused", "after_close": "echoed"' "$E2E_TMP/muxhold.out" ||
    { show_log server 10; fail "sessions=2 over Mux: $(cat "$E2E_TMP/muxhold.out")"; }
pass "sessions=2 over Mux.Cool: a third sub-stream refused, a new one taken after one ended"

# two_devices NAME SOCKS1 SOCKS2: while the first (127.0.0.1) holds a session, the second
# (127.0.0.2) is refused (ips = 1). The first holds until the second's try is over.
two_devices() {
    local name=$1 first
    probe echo --socks "127.0.0.1:$2" --target "127.0.0.1:$ECHO" --ready "$E2E_TMP/$name.up" \
        --hold-until "$E2E_TMP/$name.release" >"$E2E_TMP/$name.1" &
    first=$!
    wait_file "$E2E_TMP/$name.up" 30
    probe echo --socks "127.0.0.1:$3" --target "127.0.0.1:$ECHO" >"$E2E_TMP/$name.2"
    touch "$E2E_TMP/$name.release"
    wait "$first"
    grep -q echoed "$E2E_TMP/$name.1" || fail "$name: the first address: $(cat "$E2E_TMP/$name.1")"
    grep -q refused "$E2E_TMP/$name.2" ||
        fail "$name: 127.0.0.2 was let in: $(cat "$E2E_TMP/$name.2")"
}
two_devices ips "$CI" "$CI2"
logged "user ips@example.org holds 1 addresses (limits.ips)"
pass "ips=1: a second source address (127.0.0.2) refused (logged)"
# Behind the front both come from 127.0.0.1; the addresses it names are counted.
two_devices front-ips "$FC1" "$FC2"
logged "user front@example.org holds 1 addresses (limits.ips)"
pass "ips=1 behind a PROXY protocol front: the client address it names counts, not the front's"

# expire in the past: refused.
probe echo --socks "127.0.0.1:$CO" --target "127.0.0.1:$ECHO" >"$E2E_TMP/old.out"
grep -q refused "$E2E_TMP/old.out" || fail "expired user let in: $(cat "$E2E_TMP/old.out")"
logged "user expired@example.org expired (limits.expire)"
pass "an expired user is refused (logged)"

# quotaBytes: a 20 MB download is cut near 3 MB; after a restart the user is still refused.
probe download --socks "127.0.0.1:$CQ" --target "127.0.0.1:$BIG" >"$E2E_TMP/quota.out"
got=$(field "$E2E_TMP/quota.out" bytes)
[ "$got" -ge $((QUOTA / 2)) ] && [ "$got" -lt 20000000 ] ||
    fail "quota: a transfer of $got bytes (quota $QUOTA)"
logged "user quota@example.org used its quota of $QUOTA bytes (limits.quotaBytes)"
pass "quotaBytes $QUOTA cut a 20 MB download at $got bytes (logged)"
"$EVP_BIN" ctl -s "$CTL_SOCK" users vmess-in >"$E2E_TMP/users.out" ||
    fail "ctl users: $(cat "$E2E_TMP/users.out")"
"$PY" - "$E2E_TMP/users.out" "$QUOTA" <<'PYEOF' || fail "ctl users: $(cat "$E2E_TMP/users.out")"
import json, sys
d = json.load(open(sys.argv[1]))
u = {x["user"]: x for x in d["users"]}
q = u["quota@example.org"]
assert q["limits"]["quotaBytes"] == int(sys.argv[2]), q
assert q["usage"]["usedBytes"] >= int(sys.argv[2]), q
assert u["sessions@example.org"]["limits"]["sessions"] == 2, u
PYEOF
pass "ctl users shows the limits and the quota used"
"$PY" - "$MP" "$E2E_TMP/status.html" <<'PYEOF' || fail "status page: $(cat "$E2E_TMP/status.html")"
import sys, urllib.request
page = urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=10).read().decode()
open(sys.argv[2], "w").write(page)
row = [l for l in page.splitlines() if "quota@example.org [vmess-in]" in l]
assert "<h2>Limits</h2>" in page and row, "no Limits row for quota@example.org"
assert "MiB / 2.9 MiB" in row[0], row  # used (about the quota) / quotaBytes 3000000
PYEOF
pass "the status page shows the limits and the quota used"

# ctl limits: in memory for an inbound without a clients file, into the file for one with.
ctl() {
    timeout 20 "$EVP_BIN" ctl -s "$CTL_SOCK" "$@" >"$E2E_TMP/ctl.out" 2>&1 ||
        fail "ctl $*: $(cat "$E2E_TMP/ctl.out")"
}
ctl limits vmess-in expired@example.org expire=none
probe echo --socks "127.0.0.1:$CO" --target "127.0.0.1:$ECHO" >"$E2E_TMP/old2.out"
grep -q echoed "$E2E_TMP/old2.out" ||
    fail "expire=none did not let the user in: $(cat "$E2E_TMP/old2.out")"
pass "ctl limits expire=none lets the expired user in at once"
timeout 20 "$EVP_BIN" ctl -s "$CTL_SOCK" limits vmess-in expired@example.org speed=1 \
    >"$E2E_TMP/ctl-bad.out" 2>&1 && fail "ctl limits took an unknown key"
grep -q 'KEY=VALUE with KEY one of' "$E2E_TMP/ctl-bad.out" ||
    fail "ctl limits: $(cat "$E2E_TMP/ctl-bad.out")"

# shadowsocks (ss-local): sessions = 1, then an expiry set through ctl into its clients file.
probe hold --socks "127.0.0.1:$SSL" --target "127.0.0.1:$ECHO" --count 1 >"$E2E_TMP/sshold.out"
grep -q '"held": 1, "extra": "refused", "after_close": "echoed"' "$E2E_TMP/sshold.out" ||
    { show_log server 10; fail "shadowsocks sessions=1: $(cat "$E2E_TMP/sshold.out")"; }
logged "user ss@e2e has 1 sessions (limits.sessions)"
ctl limits ss-in ss@e2e sessions=none expire=2020-01-01T00:00:00Z
grep -q '"expire": "2020-01-01T00:00:00Z"' "$CF" ||
    fail "the clients file lacks the expiry: $(cat "$CF")"
grep -q '"sessions"' "$CF" && fail "sessions=none left the key: $(cat "$CF")"
probe echo --socks "127.0.0.1:$SSL" --target "127.0.0.1:$ECHO" >"$E2E_TMP/ssold.out"
grep -q refused "$E2E_TMP/ssold.out" ||
    fail "shadowsocks: the expired user let in: $(cat "$E2E_TMP/ssold.out")"
logged "user ss@e2e expired (limits.expire)"
pass "shadowsocks: sessions=1 refuses a second; ctl limits writes an expiry into the clients file"

stop_pid "$SERVER_PID" || fail "the server did not stop"
"$PY" - "$STATE" "$QUOTA" <<'PYEOF' || fail "state file: $(cat "$STATE")"
import json, sys
rows = json.load(open(sys.argv[1]))["users"]
q = [r for r in rows if r["inbound"] == "vmess-in" and r["user"] == "quota@example.org"]
assert q and q[0]["usedBytes"] >= int(sys.argv[2]), rows
PYEOF
start_evproxy server2 "$E2E_TMP/server.json" "$SP" "$SSP"
probe echo --socks "127.0.0.1:$CQ" --target "127.0.0.1:$ECHO" >"$E2E_TMP/quota2.out"
grep -q refused "$E2E_TMP/quota2.out" ||
    fail "quota forgotten by a restart: $(cat "$E2E_TMP/quota2.out")"
logged "user quota@example.org used its quota of $QUOTA bytes (limits.quotaBytes)" server2
probe echo --socks "127.0.0.1:$CS" --target "127.0.0.1:$ECHO" >"$E2E_TMP/other.out"
grep -q echoed "$E2E_TMP/other.out" ||
    fail "after the restart another user: $(cat "$E2E_TMP/other.out")"
pass "the quota used survives a restart (control.stateFile); other users go on"
finish
