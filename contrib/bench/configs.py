"""V2Ray-shaped configs for the bench, written the way V2Ray users write them.

The same JSON runs under `v2ray -config` and `evproxy -c`. The only evproxy keys are the
top-level `workers` and `limits` blocks, which V2Ray ignores, and only when a row asks for them.
"""

LOOPBACK = "127.0.0.1"


def _routed(inbound, outbound, loglevel, extra):
    """One inbound routed to one outbound by inboundTag, plus top-level keys (extra)."""
    cfg = {
        "log": {"loglevel": loglevel},
        "inbounds": [inbound],
        "outbounds": [outbound],
        "routing": {"rules": [{"type": "field", "inboundTag": [inbound["tag"]],
                               "outboundTag": outbound["tag"]}]},
    }
    cfg.update(extra or {})
    return cfg


def evproxy_keys(workers=None, max_sessions=None):
    """The top-level evproxy blocks a row needs: None leaves evproxy's default."""
    extra = {}
    if workers is not None:
        extra["workers"] = workers
    if max_sessions is not None:
        extra["limits"] = {"maxSessions": max_sessions}
    return extra


def _dokodemo(port, target_port):
    return {"tag": "doko-in", "listen": LOOPBACK, "port": port, "protocol": "dokodemo-door",
            "settings": {"address": LOOPBACK, "port": target_port, "network": "tcp"}}


def _socks(port):
    """SOCKS5 without authentication: the client names the target in each CONNECT."""
    return {"tag": "socks-in", "listen": LOOPBACK, "port": port, "protocol": "socks",
            "settings": {"auth": "noauth", "udp": False}}


def _freedom():
    return {"tag": "direct", "protocol": "freedom", "settings": {}}


def vmess_client(listen_port, target_port, server_port, uuid, security, alter_id=0,
                 extra=None, vmess_keys=None, loglevel="warning", socks=False):
    """dokodemo-door on listen_port (fixed target) -> VMess -> server_port; with socks, a
    SOCKS5 inbound on listen_port instead (target_port unused: each CONNECT names one).

    alterId 0 is the AEAD header; alterId > 0 makes both implementations use the legacy one.
    vmess_keys go into the VMess outbound object (the place for streamSettings, mux)."""
    user = {"id": uuid, "alterId": alter_id, "security": security, "level": 0}
    out = {"tag": "vmess-out", "protocol": "vmess",
           "settings": {"vnext": [{"address": LOOPBACK, "port": server_port,
                                   "users": [user]}]}}
    out.update(vmess_keys or {})
    inb = _socks(listen_port) if socks else _dokodemo(listen_port, target_port)
    return _routed(inb, out, loglevel, extra)


def vmess_server(port, uuid, alter_id=0, extra=None, vmess_keys=None, loglevel="warning"):
    """VMess inbound on port -> freedom; vmess_keys go into the inbound (streamSettings)."""
    inb = {"tag": "vmess-in", "listen": LOOPBACK, "port": port, "protocol": "vmess",
           "settings": {"clients": [{"id": uuid, "alterId": alter_id, "level": 0}]}}
    inb.update(vmess_keys or {})
    return _routed(inb, _freedom(), loglevel, extra)


def ss_client(listen_port, target_port, server_port, method, password, extra=None,
              loglevel="warning"):
    """dokodemo-door on listen_port (fixed target) -> shadowsocks -> server_port."""
    out = {"tag": "ss-out", "protocol": "shadowsocks",
           "settings": {"servers": [{"address": LOOPBACK, "port": server_port,
                                     "method": method, "password": password}]}}
    return _routed(_dokodemo(listen_port, target_port), out, loglevel, extra)


def ss_server(port, method, password, extra=None, loglevel="warning"):
    """shadowsocks inbound on port -> freedom."""
    inb = {"tag": "ss-in", "listen": LOOPBACK, "port": port, "protocol": "shadowsocks",
           "settings": {"method": method, "password": password}}
    return _routed(inb, _freedom(), loglevel, extra)


def relay(listen_port, target_port, extra=None, loglevel="warning"):
    """dokodemo-door -> freedom in one process: the relay core alone, no VMess."""
    return _routed(_dokodemo(listen_port, target_port), _freedom(), loglevel, extra)


WS_PATH = "/bench"


def ws_tls_keys(ca_crt, server_crt, server_key, server_name):
    """streamSettings {network ws, security tls} for the VMess outbound and inbound.

    The client verifies the server's chain against the bench CA (usage "verify",
    allowInsecure false). Session resumption is off on both sides (V2Ray 4.34's default,
    evproxy's is on) so each connection pays a full handshake in both implementations."""
    ws = {"path": WS_PATH}
    client = {"network": "ws", "security": "tls", "wsSettings": ws,
              "tlsSettings": {"serverName": server_name, "allowInsecure": False,
                              "enableSessionResumption": False,
                              "certificates": [{"usage": "verify", "certificateFile": ca_crt}]}}
    server = {"network": "ws", "security": "tls", "wsSettings": ws,
              "tlsSettings": {"enableSessionResumption": False,
                              "certificates": [{"certificateFile": server_crt,
                                                "keyFile": server_key}]}}
    return {"streamSettings": client}, {"streamSettings": server}
