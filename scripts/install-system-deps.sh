#!/usr/bin/env bash
# Debian packages the project needs: C++ toolchain, ZeroMQ + protobuf for the ns-3 bridge,
# Chromium for the report test. Installs only what is missing; needs root (or sudo).
set -euo pipefail
PKGS=(g++ cmake make pkg-config libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler chromium docker-compose)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"; exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages (${missing[*]}) and no apt-get: install them with your package manager" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
