"""V2Ray-shaped configs for the bench, written the way V2Ray users write them.

The same JSON runs under `v2ray -config` and `evproxy -c`; nothing here is evproxy-specific.
"""

LOOPBACK = "127.0.0.1"


def _routed(inbound, outbound, loglevel):
    """One inbound routed to one outbound by inboundTag."""
    return {
        "log": {"loglevel": loglevel},
        "inbounds": [inbound],
        "outbounds": [outbound],
        "routing": {"rules": [{"type": "field", "inboundTag": [inbound["tag"]],
                               "outboundTag": outbound["tag"]}]},
    }


def _dokodemo(port, target_port):
    return {"tag": "doko-in", "listen": LOOPBACK, "port": port, "protocol": "dokodemo-door",
            "settings": {"address": LOOPBACK, "port": target_port, "network": "tcp"}}


def _freedom():
    return {"tag": "direct", "protocol": "freedom", "settings": {}}


def vmess_client(listen_port, target_port, server_port, uuid, security,
                 loglevel="warning"):
    """dokodemo-door on listen_port (fixed target) -> VMess (AEAD, alterId 0) -> server_port."""
    user = {"id": uuid, "alterId": 0, "security": security, "level": 0}
    out = {"tag": "vmess-out", "protocol": "vmess",
           "settings": {"vnext": [{"address": LOOPBACK, "port": server_port,
                                   "users": [user]}]}}
    return _routed(_dokodemo(listen_port, target_port), out, loglevel)


def vmess_server(port, uuid, loglevel="warning"):
    """VMess inbound on port -> freedom."""
    inb = {"tag": "vmess-in", "listen": LOOPBACK, "port": port, "protocol": "vmess",
           "settings": {"clients": [{"id": uuid, "alterId": 0, "level": 0}]}}
    return _routed(inb, _freedom(), loglevel)


def relay(listen_port, target_port, loglevel="warning"):
    """dokodemo-door -> freedom in one process: the relay core alone, no VMess."""
    return _routed(_dokodemo(listen_port, target_port), _freedom(), loglevel)
