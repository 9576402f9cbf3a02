#!/usr/bin/env bash
# Installs (or with --check, only names) the Debian 12 packages a set needs.
#   install-deps.sh [--check] SET...   sets: build, test, fuzz, bench
set -euo pipefail
check_only=0
if [ "${1:-}" = "--check" ]; then check_only=1; shift; fi

declare -A SETS=(
  [build]="build-essential pkg-config libev-dev libsodium-dev nettle-dev libgnutls28-dev libjansson-dev libc-ares-dev libpcre2-dev libnghttp2-dev libqrencode-dev libpng-dev libprotobuf-c-dev protobuf-c-compiler"
  [fuzz]="clang libclang-rt-14-dev libpcre2-dev"
  [bench]="python3 iperf3 v2ray gnuplot-nox gnutls-bin shadowsocks-libev"
  [test]="check v2ray shadowsocks-libev simple-obfs shadowsocks-v2ray-plugin json-schema-test-suite curl python3 python3-cryptography iperf3 faketime iproute2 procps psmisc nginx libnginx-mod-stream gnutls-bin haproxy openssl zbar-tools man-db groff chromium"
)

want=()
for set in "$@"; do
  for p in ${SETS[$set]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ $check_only = 1 ]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them with: make deps   (or: apt-get install ${missing[*]})" >&2
  exit 1
fi

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The peers ship init scripts; tests start their own processes, never the services.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
