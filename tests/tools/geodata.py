#!/usr/bin/env python3
"""Writes V2Ray's geoip.dat and geosite.dat (protobuf, as v2ray-core app/router/config.proto
lays them out) with a few small lists, for tests that run V2Ray on configs naming geoip:/
geosite: lists.

    geodata.py DIR    writes DIR/geoip.dat (private, cn) and DIR/geosite.dat (cn,
                      category-ads-all, geolocation-!cn, google)
    geodata.py DIR --spec SPEC.json
                      writes the files SPEC names instead: {"FILE": {"TAG": ENTRIES}};
                      ENTRIES are CIDR strings (a GeoIPList) or [KIND, VALUE, ATTR...]
                      lists (a GeoSiteList; KIND plain, regex, domain or full)

GeoIPList{repeated GeoIP entry=1}, GeoIP{string country_code=1; repeated CIDR cidr=2},
CIDR{bytes ip=1; uint32 prefix=2}; GeoSiteList{repeated GeoSite entry=1},
GeoSite{string country_code=1; repeated Domain domain=2}, Domain{Type type=1 (Plain 0,
Regex 1, Domain 2, Full 3); string value=2; repeated Attribute attribute=3},
Attribute{string key=1; bool bool_value=2}."""
import ipaddress
import json
import os
import sys

GEOIP = {
    "PRIVATE": ["10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128",
                "fc00::/7"],
    "CN": ["1.0.1.0/24", "36.0.0.0/10", "240e::/20"],
}
DOMAIN, FULL = 2, 3
GEOSITE = {
    "CN": [(DOMAIN, "cn"), (DOMAIN, "baidu.com")],
    "CATEGORY-ADS-ALL": [(DOMAIN, "doubleclick.net"), (FULL, "ads.example.com")],
    "GEOLOCATION-!CN": [(DOMAIN, "google.com"), (DOMAIN, "example.org")],
    "GOOGLE": [(DOMAIN, "google.com")],
}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):
    """A length-delimited field (wire type 2)."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def uint_field(num, value):
    return varint(num << 3) + varint(value)


KINDS = {"plain": 0, "regex": 1, "domain": 2, "full": 3}


def geoip(lists=None):
    out = b""
    for code, cidrs in (lists or GEOIP).items():
        entry = field(1, code.encode())
        for c in cidrs:
            net = ipaddress.ip_network(c)
            entry += field(2, field(1, net.network_address.packed) + uint_field(2, net.prefixlen))
        out += field(1, entry)
    return out


def geosite(lists=None):
    out = b""
    for code, domains in (lists or GEOSITE).items():
        entry = field(1, code.encode())
        for kind, value, *attrs in domains:
            dom = uint_field(1, KINDS.get(kind, kind)) + field(2, value.encode())
            for a in attrs:
                dom += field(3, field(1, a.encode()) + uint_field(2, 1))
            entry += field(2, dom)
        out += field(1, entry)
    return out


def from_spec(path):
    """{"FILE": bytes} for a spec file (see the module doc)."""
    with open(path) as f:
        spec = json.load(f)
    files = {}
    for name, lists in spec.items():
        is_ip = all(isinstance(e, str) for entries in lists.values() for e in entries)
        files[name] = geoip(lists) if is_ip else geosite(lists)
    return files


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "--spec":
        files = from_spec(sys.argv[3])
    elif len(sys.argv) == 2:
        files = {"geoip.dat": geoip(), "geosite.dat": geosite()}
    else:
        raise SystemExit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
