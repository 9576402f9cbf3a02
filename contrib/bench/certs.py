"""A CA and a server certificate made at bench time with certtool (gnutls-bin), for ws+tls.

The server certificate names example.test and 127.0.0.1; clients trust the CA through
`usage: "verify"` with `allowInsecure: false`, so every handshake verifies a real chain.
"""

import os
import subprocess

SERVER_NAME = "example.test"

_CA_TEMPLATE = 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 30\n'
_SERVER_TEMPLATE = (f'cn = "{SERVER_NAME}"\ndns_name = "{SERVER_NAME}"\n'
                    'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\n'
                    'serial = 2\nexpiration_days = 30\n')


def _certtool(args, what):
    try:
        out = subprocess.run(["certtool"] + args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"certtool ({what}): {e} (contrib/install-deps.sh bench installs "
                           "gnutls-bin)")
    if out.returncode != 0:
        raise RuntimeError(f"certtool ({what}): {out.stderr.strip()[-200:]}")


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def make(workdir):
    """Writes workdir/certs/{ca,server}.{key,crt}; returns their paths as a dict."""
    d = os.path.join(workdir, "certs")
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, k) for k in ("ca.key", "ca.crt", "server.key", "server.crt",
                                          "ca.tmpl", "server.tmpl")}
    _write(p["ca.tmpl"], _CA_TEMPLATE)
    _write(p["server.tmpl"], _SERVER_TEMPLATE)
    _certtool(["--generate-privkey", "--key-type=ecdsa", "--outfile", p["ca.key"]], "CA key")
    _certtool(["--generate-self-signed", "--load-privkey", p["ca.key"], "--template",
               p["ca.tmpl"], "--outfile", p["ca.crt"]], "CA")
    _certtool(["--generate-privkey", "--key-type=ecdsa", "--outfile", p["server.key"]],
              "server key")
    _certtool(["--generate-certificate", "--load-privkey", p["server.key"],
               "--load-ca-certificate", p["ca.crt"], "--load-ca-privkey", p["ca.key"],
               "--template", p["server.tmpl"], "--outfile", p["server.crt"]], "server")
    return p
