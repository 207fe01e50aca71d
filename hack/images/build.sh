#!/usr/bin/env bash
# Build the four kontinue images: controller, worker, UI, and the example worker (FROM the
# worker image, with examples/worker-image/workflows). `make images` runs this.
#
#   hack/images/build.sh [--local-base] [--prefix P] [--tag T] [--timings FILE]
#
#   --local-base   build FROM the Debian images of hack/images/base-images.sh instead of the
#                  public python/node images the Dockerfiles pin (for machines that reach no
#                  image registry); the default builds exactly what users build
#   --prefix P     image name prefix (e.g. registry.example.com/platform/); default none
#   --tag T        image tag; default the chart's appVersion
#   --timings F    append "<image> <seconds> <bytes>" lines to F
#
# Starts Debian's dockerd when no Docker engine answers (as root). Prints the image names.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

local_base=0 prefix="" tag="" timings=""
while (( $# > 0 )); do
  case "$1" in
    --local-base) local_base=1 ;;
    --prefix) prefix="$2"; shift ;;
    --tag) tag="$2"; shift ;;
    --timings) timings="$2"; shift ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done
if [[ -z "$tag" ]]; then
  tag="$(sed -n 's/^appVersion: *"\(.*\)"/\1/p' "$root/charts/kontinue/Chart.yaml")"
fi

"$here/docker-engine.sh"
base_args=()
if (( local_base )); then
  while IFS= read -r line; do
    base_args+=(--build-arg "$line")
  done < <("$here/base-images.sh")
fi

build() {  # build IMAGE CONTEXT DOCKERFILE [ARGS...]
  local image="$1" context="$2" dockerfile="$3" start=$SECONDS
  shift 3
  log "building $image"
  "$DOCKER" build --progress=plain -f "$dockerfile" -t "$image" "$@" "$context" >"$build_log" 2>&1 \
    || { tail -n 40 "$build_log" >&2; die "docker build of $image failed (full log: $build_log)"; }
  local seconds=$((SECONDS - start))
  local size
  size="$("$DOCKER" image inspect --format '{{.Size}}' "$image")"
  log "built $image in ${seconds}s ($((size / 1000000)) MB)"
  [[ -z "$timings" ]] || echo "$image $seconds $size" >>"$timings"
  echo "$image"
}

build_log="$(mktemp "${TMPDIR:-/tmp}/kontinue-image-build.XXXXXX.log")"
trap 'rm -f "$build_log"' EXIT
for service in controller worker ui; do
  build "${prefix}kontinue-$service:$tag" "$root" "$root/services/$service/Dockerfile" "${base_args[@]}"
done
build "${prefix}kontinue-example-worker:$tag" "$root/examples/worker-image" \
  "$root/examples/worker-image/Dockerfile" --build-arg "KONTINUE_WORKER_IMAGE=${prefix}kontinue-worker:$tag"
