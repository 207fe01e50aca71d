#!/usr/bin/env bash
# Everything the real-node tests (pytest marker real_node) need, installed or built once and
# cached: Debian packages, a running Docker engine, the node's programs (kubelet, kube-proxy,
# pause), skaffold and Prometheus, the local base images and the four kontinue images.
# `make test` and CI run it; a warm run takes seconds. On failure one line says what is missing
# (the tests then fail with the same kind of line instead of running).
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

step() {  # step NAME COMMAND...: run, time, and on failure name the step in one line
  local name="$1" start=$SECONDS
  shift
  if ! "$@" >/dev/null; then
    echo "real-node prerequisites: $name failed (run: $*)" >&2
    exit 1
  fi
  printf '[real-node %s] %s: %ss\n' "$(date +%H:%M:%S)" "$name" "$((SECONDS - start))" >&2
}

step "Debian packages" bash "$here/system-packages.sh"
step "Docker engine" bash "$root/hack/images/docker-engine.sh"
step "kubelet, kube-proxy, pause" bash "$root/hack/testbin/build-node.sh"
step "skaffold, Prometheus" bash "$root/hack/testbin/build-tools.sh"
step "images" bash "$root/hack/images/build.sh" --local-base
