#!/usr/bin/env python3
"""Writes V2Ray's geoip.dat and geosite.dat (protobuf, as v2ray-core app/router/config.proto
lays them out) with a few small lists, for tests that run V2Ray on configs naming geoip:/
geosite: lists.

    geodata.py DIR    writes DIR/geoip.dat (private, cn) and DIR/geosite.dat (cn,
                      category-ads-all, geolocation-!cn, google)

GeoIPList{repeated GeoIP entry=1}, GeoIP{string country_code=1; repeated CIDR cidr=2},
CIDR{bytes ip=1; uint32 prefix=2}; GeoSiteList{repeated GeoSite entry=1},
GeoSite{string country_code=1; repeated Domain domain=2}, Domain{Type type=1 (Plain 0,
Regex 1, Domain 2, Full 3); string value=2}."""
import ipaddress
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


def geoip():
    out = b""
    for code, cidrs in GEOIP.items():
        entry = field(1, code.encode())
        for c in cidrs:
            net = ipaddress.ip_network(c)
            entry += field(2, field(1, net.network_address.packed) + uint_field(2, net.prefixlen))
        out += field(1, entry)
    return out


def geosite():
    out = b""
    for code, domains in GEOSITE.items():
        entry = field(1, code.encode())
        for kind, value in domains:
            entry += field(2, uint_field(1, kind) + field(2, value.encode()))
        out += field(1, entry)
    return out


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in (("geoip.dat", geoip()), ("geosite.dat", geosite())):
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
