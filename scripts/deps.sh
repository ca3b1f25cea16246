#!/usr/bin/env bash
# Installs the Debian packages edgeplay needs that are missing, saying what it installs.
#   scripts/deps.sh build   # to build and run: C toolchain, libavcodec/libswscale/libx264/libvpx/libopus headers
#   scripts/deps.sh test    # also chromium and firefox-esr (browser end-to-end tests), nats-server (roles on an external NATS),
#                           # iproute2 and nftables (internal/netlab: namespaces, tbf, loss, NAT)
#   scripts/deps.sh bench   # also ffmpeg (the encoder benchmark's reference), chromium, iproute2 and nftables (the lab)
set -euo pipefail
want=(gcc g++ pkg-config libavcodec-dev libavutil-dev libswscale-dev libx264-dev libvpx-dev libopus-dev)
case "${1:-build}" in
  build) ;;
  test) want+=(chromium firefox-esr nats-server iproute2 nftables); command -v node >/dev/null || want+=(nodejs) ;;
  bench) want+=(chromium ffmpeg iproute2 nftables) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "edgeplay: installing missing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "edgeplay: installed ${missing[*]}"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "edgeplay: Go 1.26 or newer is required (https://go.dev/dl/); put it on PATH" >&2
  exit 1
fi
