#!/usr/bin/env bash
# Install the Debian packages the images, the real node, skaffold and Prometheus tests need,
# when they are missing. Idempotent; CI (.ci/run) and the Makefile's image and node targets call it.
#
#   hack/real-node/system-packages.sh           install what is missing (needs root and apt)
#   hack/real-node/system-packages.sh --check   exit 1 with one line naming what is missing
#
# What each package is for:
#   docker.io                     the Docker engine (dockerd, containerd, runc) that builds the images
#   mmdebstrap                    the Debian root filesystems behind the local base images
#   containerd runc               the real node's own container runtime (a second containerd)
#   containernetworking-plugins   bridge, host-local, loopback and portmap for the node's pods
#   iptables conntrack ethtool    what kube-proxy and the kubelet call on the node
#   ebtables socat iproute2
#   docker-registry               a registry on 127.0.0.1 for skaffold's build-push-deploy loop
set -euo pipefail

# command or file that proves a package is there -> package
declare -A packages=(
  [/usr/sbin/dockerd]=docker.io
  [/usr/bin/mmdebstrap]=mmdebstrap
  [/usr/bin/containerd]=containerd
  [/usr/sbin/runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [/usr/sbin/iptables]=iptables
  [/usr/sbin/conntrack]=conntrack
  [/usr/sbin/ethtool]=ethtool
  [/usr/sbin/ebtables]=ebtables
  [/usr/bin/socat]=socat
  [/usr/sbin/ip]=iproute2
  [/usr/bin/docker-registry]=docker-registry
)

missing=()
for path in "${!packages[@]}"; do
  [[ -e "$path" ]] || missing+=("${packages[$path]}")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ "${1:-}" == "--check" ]]; then
  echo "missing Debian packages: ${missing[*]} (install them with: sudo bash hack/real-node/system-packages.sh)" >&2
  exit 1
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing Debian packages: ${missing[*]}; installing them needs root and apt-get" >&2
  exit 1
fi
echo "[packages] installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
