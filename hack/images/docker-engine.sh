#!/usr/bin/env bash
# Make sure a Docker engine answers. When none does and this runs as root, start Debian's
# dockerd in the background (its log: /var/log/kontinue-dockerd.log) and wait for it.
# On failure, one line on stderr says what is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

if "$DOCKER" info >/dev/null 2>&1; then
  exit 0
fi
if [[ -n "${DOCKER_HOST:-}" ]]; then
  die "the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer"
fi
if [[ "$(id -u)" != 0 ]]; then
  die "no Docker engine answers, and starting one (dockerd) needs root"
fi
command -v dockerd >/dev/null 2>&1 \
  || die "no Docker engine answers and dockerd is not installed (bash hack/real-node/system-packages.sh)"
log_file=/var/log/kontinue-dockerd.log
log "starting dockerd (log: $log_file)"
setsid dockerd >>"$log_file" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if "$DOCKER" info >/dev/null 2>&1; then
    log "dockerd is up"
    exit 0
  fi
  sleep 0.5
done
die "dockerd did not answer within 60 s; last lines of $log_file: $(tail -n 5 "$log_file" | tr '\n' ' ')"
