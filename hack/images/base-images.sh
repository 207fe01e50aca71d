#!/usr/bin/env bash
# Build the base images the Dockerfiles need from Debian's packages, once, and tag them locally:
#
#   kontinue-base/python:bookworm-<key>   Debian bookworm, Python 3.11 with venv (the services)
#   kontinue-base/node:bookworm-<key>     Debian bookworm, Node.js and npm (the UI's asset stage)
#
# No image registry is needed: mmdebstrap builds each root filesystem from the Debian archive
# this machine's apt uses, and `docker import` turns it into an image. <key> hashes this script,
# the package sets, the apt sources and the machine's extra CA certificates, so a change of any
# of them builds new images; the root filesystems are kept under
# ${KONTINUE_IMAGE_CACHE:-$HOME/.cache/kontinue/images} and re-imported when Docker lost them.
#
# Prints `PYTHON_IMAGE=<tag>` and `NODE_IMAGE=<tag>` (the Dockerfiles' build arguments).
# The Dockerfiles' defaults stay the public images (python:3.11-slim-bookworm and
# node:22-bookworm-slim, pinned by digest); these stand in for them where no registry is reachable.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

SUITE=bookworm
# python-is-python3: `python` on PATH, as in the public python image; passwd: groupadd/useradd
PYTHON_PACKAGES="ca-certificates,passwd,python3,python3-venv,python-is-python3"
NODE_PACKAGES="ca-certificates,nodejs,npm"

# The machine's own trust anchors (e.g. a TLS-inspecting egress proxy's CA) go into the images,
# so that pip and npm inside `docker build` trust what the machine trusts.
extra_cas=()
if [[ -d /usr/local/share/ca-certificates ]]; then
  mapfile -t extra_cas < <(find /usr/local/share/ca-certificates -type f -name '*.crt' | sort)
fi
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] && sources+=("$f")
done
(( ${#sources[@]} > 0 )) || die "no apt sources found under /etc/apt"

key="$(
  {
    cat "${BASH_SOURCE[0]}"
    echo "$SUITE $PYTHON_PACKAGES $NODE_PACKAGES"
    cat "${sources[@]}"
    (( ${#extra_cas[@]} == 0 )) || cat "${extra_cas[@]}"
  } | sha256sum | cut -c1-12
)"
cache="${KONTINUE_IMAGE_CACHE:-$HOME/.cache/kontinue/images}"

build_base() {  # build_base NAME PACKAGES ENV...
  local name="$1" packages="$2"
  shift 2
  local tag="kontinue-base/$name:$SUITE-$key"
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    return
  fi
  local tarball="$cache/$name-$SUITE-$key.tar"
  if [[ ! -f "$tarball" ]]; then
    command -v mmdebstrap >/dev/null 2>&1 \
      || die "mmdebstrap is not installed (bash hack/real-node/system-packages.sh)"
    [[ "$(id -u)" == 0 ]] || die "building a base image with mmdebstrap needs root"
    mkdir -p "$cache"
    local start=$SECONDS ca_hook=()
    log "mmdebstrap $name ($packages)"
    if (( ${#extra_cas[@]} > 0 )); then
      ca_hook=(--customize-hook="cp ${extra_cas[*]} \"\$1/usr/local/share/ca-certificates/\" && chroot \"\$1\" update-ca-certificates >/dev/null")
    fi
    # sources: the machine's apt sources (no network address is written here); apt lists and
    # caches are left out of the image
    cat "${sources[@]}" >"$cache/.sources-$key"
    mmdebstrap --quiet --variant=minbase --format=tar --include="$packages" \
      --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      "${ca_hook[@]}" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      "$SUITE" "$tarball.partial" - <"$cache/.sources-$key" \
      || { rm -f "$tarball.partial"; die "mmdebstrap $name failed"; }
    mv "$tarball.partial" "$tarball"
    log "$name root filesystem: $(du -sh "$tarball" | cut -f1) in $((SECONDS - start)) s"
  fi
  local changes=()
  for env in "$@"; do changes+=(--change "ENV $env"); done
  "$DOCKER" import "${changes[@]}" --change 'CMD ["bash"]' \
    --message "Debian $SUITE ($packages) built by hack/images/base-images.sh" \
    "$tarball" "$tag" >/dev/null
  log "imported $tag"
  echo "$tag"
}

"$here/docker-engine.sh"
python_tag="$(build_base python "$PYTHON_PACKAGES" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)"
node_tag="$(build_base node "$NODE_PACKAGES" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)"
echo "PYTHON_IMAGE=$python_tag"
echo "NODE_IMAGE=$node_tag"
