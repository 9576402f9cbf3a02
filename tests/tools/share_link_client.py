#!/usr/bin/env python3
"""Turns a vmess:// share link into a V2Ray 4.34 client config, as a client app importing it
would: a socks inbound on 127.0.0.1:SOCKS -> a vmess outbound with the link's server, user and
transport. Reads both forms: v2rayN's (base64 of a JSON object, "v": "2") and the URI of the
VMessAEAD share-link proposal (vmess://uuid@host:port?type=..&security=..#name).
Usage: share_link_client.py LINK --socks PORT [--ca CERT.pem] > client.json
Exits 2 naming the problem when the link does not parse."""
import argparse
import base64
import json
import sys
import urllib.parse


def from_v2rayn(body):
    o = json.loads(base64.b64decode(body + "=" * (-len(body) % 4)).decode())
    if o.get("v") != "2":
        raise ValueError("v2rayN link version %r, not \"2\"" % o.get("v"))
    return {"add": o["add"], "port": int(o["port"]), "id": o["id"], "aid": int(o["aid"]),
            "scy": o.get("scy") or "auto", "net": o["net"], "type": o.get("type") or "none",
            "host": o.get("host", ""), "path": o.get("path", ""), "tls": o.get("tls") == "tls",
            "sni": o.get("sni", ""), "ps": o.get("ps", "")}


def from_uri(link):
    u = urllib.parse.urlsplit(link)
    q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
    net = q.get("type", "tcp")
    return {"add": u.hostname, "port": u.port, "id": urllib.parse.unquote(u.username),
            "aid": 0, "scy": q.get("encryption", "auto"), "net": "h2" if net == "http" else net,
            "type": q.get("headerType", "none"), "host": q.get("host", ""),
            "path": q.get("path", ""), "tls": q.get("security", "none") == "tls",
            "sni": q.get("sni", ""), "ps": urllib.parse.unquote(u.fragment)}


def parse(link):
    if not link.startswith("vmess://"):
        raise ValueError("not a vmess:// link")
    body = link[len("vmess://"):]
    return from_uri(link) if "@" in body else from_v2rayn(body)


def stream_settings(f, ca):
    hosts = [h for h in f["host"].split(",") if h]
    ss = {"network": "http" if f["net"] == "h2" else f["net"]}
    if f["net"] == "ws":
        ss["wsSettings"] = {"path": f["path"] or "/"}
        if hosts:
            ss["wsSettings"]["headers"] = {"Host": hosts[0]}
    elif f["net"] == "h2":
        ss["httpSettings"] = {"path": f["path"] or "/", "host": hosts}
    elif f["type"] == "http":
        ss["tcpSettings"] = {"header": {"type": "http", "request": {
            "path": f["path"].split(",") if f["path"] else ["/"],
            "headers": {"Host": hosts} if hosts else {}}}}
    if f["tls"]:
        tls = {"serverName": f["sni"] or (hosts[0] if hosts else f["add"])}
        if ca:
            tls["certificates"] = [{"usage": "verify", "certificateFile": ca}]
        ss["security"] = "tls"
        ss["tlsSettings"] = tls
    return ss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("link")
    ap.add_argument("--socks", type=int, required=True)
    ap.add_argument("--ca", help="a CA (or self-signed) certificate the client trusts")
    a = ap.parse_args()
    try:
        f = parse(a.link.strip())
    except (ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as e:
        print("share_link_client: %s" % e, file=sys.stderr)
        return 2
    cfg = {
        "log": {"loglevel": "warning"},
        "inbounds": [{"tag": "socks-in", "listen": "127.0.0.1", "port": a.socks,
                      "protocol": "socks", "settings": {"auth": "noauth", "udp": False}}],
        "outbounds": [{"tag": f["ps"] or "link", "protocol": "vmess",
                       "settings": {"vnext": [{"address": f["add"], "port": f["port"],
                                               "users": [{"id": f["id"], "alterId": f["aid"],
                                                          "security": f["scy"]}]}]},
                       "streamSettings": stream_settings(f, a.ca)}],
    }
    json.dump(cfg, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
