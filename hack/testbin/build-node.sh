#!/usr/bin/env bash
# Build the local cluster's real node programs: kubelet and kube-proxy from the same pinned
# Kubernetes module as the control plane (wrapper module node/), and the pause container's
# program compiled from that module's build/pause/linux/pause.c (a static binary).
#
#   hack/testbin/build-node.sh              build if needed; progress on stderr, the bin dir on stdout
#   hack/testbin/build-node.sh --print-bin  print the bin dir of a finished build, or fail
#   hack/testbin/build-node.sh --key        print the cache key only
#
# Cache: ${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}/node-<key>/bin, a key of its own (so
# the control plane's cache stays valid): the pins, the wrapper module, this script, the Go and
# C compilers and the platform. Built in a temporary directory renamed into place at the end.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=tools.env
source "$here/tools.env"

log() { printf '[testbin-node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is required (go1.24 or newer) to build kubelet and kube-proxy"
command -v gcc >/dev/null 2>&1 || die "gcc is required to build the pause program (apt-get install gcc libc6-dev)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-modcacherw -buildvcs=false"
goversion="$(go env GOVERSION)"
goos="$(go env GOOS)"; goarch="$(go env GOARCH)"

key="$(
  {
    cat "$here/versions.env" "$here/tools.env" "$here/build-node.sh"
    cat "$here/node/go.mod" "$here/node/go.sum"
    echo "$goversion $goos $goarch"
    gcc --version | head -n 1
  } | sha256sum | cut -c1-16
)"
root="${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}"
dest="$root/node-$key"

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-bin)
    [[ -f "$dest/bin/.ok" ]] || die "no finished build at $dest (run hack/testbin/build-node.sh)"
    echo "$dest/bin"; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1" ;;
esac

if [[ -f "$dest/bin/.ok" ]]; then
  log "cached build node-$key is complete"
  echo "$dest/bin"
  exit 0
fi

mkdir -p "$root"
free_kb="$(df -Pk "$root" | awk 'NR==2 {print $4}')"
if (( free_kb < 4 * 1024 * 1024 )); then
  die "only $((free_kb / 1024)) MiB free under $root; the build needs about 4 GiB (build cache included)"
fi

tmp="$(mktemp -d "$root/.building-node-$key.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
bin="$tmp/bin"
mkdir -p "$bin"
start=$SECONDS

log "[1/3] kubelet, kube-proxy $KUBE_VERSION"
kminor="${KUBE_VERSION#v1.}"; kminor="${kminor%%.*}"
builddate="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldf="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor"
  ldf+=" -X $pkg.gitCommit=kontinue-testbin -X $pkg.gitTreeState=clean -X $pkg.buildDate=$builddate"
done
(cd "$here/node" && go build -mod=readonly -trimpath -ldflags "$ldf" -o "$bin/" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)

log "[2/3] pause (${PAUSE_IMAGE})"
kdir="$(cd "$here/node" && go list -mod=readonly -m -f '{{.Dir}}' k8s.io/kubernetes)"
pause_tag="${PAUSE_IMAGE##*:}"
gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-kontinue" -o "$bin/pause" "$kdir/build/pause/linux/pause.c"
strip "$bin/pause"
echo "$PAUSE_IMAGE" >"$bin/pause.image"

log "[3/3] smoke tests"
expect() {  # expect NAME PATTERN COMMAND...
  local name="$1" pattern="$2" out
  shift 2
  out="$("$@" 2>&1)" || die "$name does not run: $out"
  grep -q -- "$pattern" <<<"$out" || die "$name reports the wrong version: $out"
}
expect kubelet "$KUBE_VERSION" "$bin/kubelet" --version
expect kube-proxy "$KUBE_VERSION" "$bin/kube-proxy" --version
expect pause "v$pause_tag" "$bin/pause" -v

touch "$bin/.ok"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "built node-$key in $((SECONDS - start))s: $(du -sh "$dest/bin" | cut -f1) in $dest/bin"
echo "$dest/bin"
