#!/usr/bin/env bash
# Pin the Dockerfiles' public base images to the digests their tags point at now.
#
#   hack/images/update-digests.sh           rewrite the ARG defaults in services/*/Dockerfile
#   hack/images/update-digests.sh --check   exit 1 when a tag has moved on (prints both digests)
#
# Each `ARG PYTHON_IMAGE=...` / `ARG NODE_IMAGE=...` default is `<image>:<tag>@sha256:<digest>`:
# the tag says what it is, the digest is what gets built. The digest is the tag's image index
# (all platforms), read from Docker Hub's registry API (needs network access to registry-1.docker.io
# and auth.docker.io; `docker buildx imagetools inspect <image>:<tag>` shows the same digest).
# Review the base image's changes, run this, rebuild (make images) and run the tests.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check=0
[[ "${1:-}" == "--check" ]] && check=1

digest_of() {  # digest_of REPOSITORY TAG (official images: library/<name>)
  local repository="$1" tag="$2" token
  [[ "$repository" == */* ]] || repository="library/$repository"
  token="$(curl -fsSL "https://auth.docker.io/token?service=registry.docker.io&scope=repository:$repository:pull" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  curl -fsSI \
    -H "Authorization: Bearer $token" \
    -H "Accept: application/vnd.oci.image.index.v1+json" \
    -H "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
    "https://registry-1.docker.io/v2/$repository/manifests/$tag" \
    | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }' | tr -d '\r'
}

moved=0
for dockerfile in "$root"/services/*/Dockerfile; do
  while IFS= read -r line; do
    arg="${line%%=*}"; arg="${arg#ARG }"
    reference="${line#*=}"
    image="${reference%@*}"
    current="${reference#*@}"
    [[ "$current" == "$reference" ]] && current=""
    latest="$(digest_of "${image%:*}" "${image##*:}")"
    [[ "$latest" == sha256:* ]] || { echo "no digest for $image" >&2; exit 1; }
    if [[ "$latest" == "$current" ]]; then
      continue
    fi
    moved=1
    echo "${dockerfile#"$root"/}: $arg $image ${current:-(none)} -> $latest"
    if (( ! check )); then
      sed -i "s|^ARG $arg=.*|ARG $arg=$image@$latest|" "$dockerfile"
    fi
  done < <(grep -E '^ARG (PYTHON|NODE)_IMAGE=' "$dockerfile")
done
if (( check && moved )); then
  exit 1
fi
