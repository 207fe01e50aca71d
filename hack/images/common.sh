# Shared by the image scripts (sourced, not run).
#
# DOCKER: the Docker client. BuildKit builds only the stages an image needs; a client without
# the buildx plugin cannot use it, so when `docker buildx` is missing, Debian's client
# (/usr/bin/docker, which carries BuildKit itself) is used when present.

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

if [[ -z "${DOCKER:-}" ]]; then
  if docker buildx version >/dev/null 2>&1; then
    DOCKER=docker
  elif [[ -x /usr/bin/docker ]]; then
    DOCKER=/usr/bin/docker
  else
    DOCKER=docker
  fi
fi
export DOCKER DOCKER_BUILDKIT=1
