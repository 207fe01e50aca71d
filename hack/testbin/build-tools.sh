#!/usr/bin/env bash
# Build the tools the real-node tests run, from their Go modules at the pins in tools.env:
# skaffold (wrapper module skaffold/: its go.mod's exclude and replace directives) and the
# Prometheus server (`go install`, its module has no such directives).
#
#   hack/testbin/build-tools.sh              build if needed; progress on stderr, the bin dir on stdout
#   hack/testbin/build-tools.sh --print-bin  print the bin dir of a finished build, or fail
#   hack/testbin/build-tools.sh --key        print the cache key only
#
# Cache: ${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}/tools-<key>/bin; the key hashes the
# pins, the wrapper module, this script, the Go version and the platform.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools.env
source "$here/tools.env"

log() { printf '[testbin-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is required (go1.26.7 or newer) to build skaffold and Prometheus"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-modcacherw -buildvcs=false"
goversion="$(go env GOVERSION)"
goos="$(go env GOOS)"; goarch="$(go env GOARCH)"

key="$(
  {
    cat "$here/tools.env" "$here/build-tools.sh" "$here/skaffold/go.mod" "$here/skaffold/go.sum"
    echo "$goversion $goos $goarch"
  } | sha256sum | cut -c1-16
)"
root="${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}"
dest="$root/tools-$key"

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-bin)
    [[ -f "$dest/bin/.ok" ]] || die "no finished build at $dest (run hack/testbin/build-tools.sh)"
    echo "$dest/bin"; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1" ;;
esac

if [[ -f "$dest/bin/.ok" ]]; then
  log "cached build tools-$key is complete"
  echo "$dest/bin"
  exit 0
fi

mkdir -p "$root"
free_kb="$(df -Pk "$root" | awk 'NR==2 {print $4}')"
if (( free_kb < 6 * 1024 * 1024 )); then
  die "only $((free_kb / 1024)) MiB free under $root; the build needs about 6 GiB (module and build caches included)"
fi

tmp="$(mktemp -d "$root/.building-tools-$key.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
bin="$tmp/bin"
mkdir -p "$bin"
start=$SECONDS

log "[1/3] skaffold $SKAFFOLD_VERSION"
(cd "$here/skaffold" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$SKAFFOLD_VERSION" \
  -o "$bin/skaffold" github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold)

log "[2/3] prometheus $PROMETHEUS_RELEASE ($PROMETHEUS_VERSION)"
pv=github.com/prometheus/common/version
# Kubernetes service discovery only (Prometheus' own build tags): the other discovery plugins
# pull in the cloud SDKs and triple the build time
GOBIN="$bin" go install -tags remove_all_sd,enable_kubernetes_sd -trimpath -ldflags "-s -w -X $pv.Version=$PROMETHEUS_RELEASE \
  -X $pv.Revision=kontinue-testbin -X $pv.Branch=release -X $pv.BuildUser=kontinue \
  -X $pv.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" \
  "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"

log "[3/3] smoke tests"
expect() {  # expect NAME PATTERN COMMAND...
  local name="$1" pattern="$2" out
  shift 2
  out="$("$@" 2>&1)" || die "$name does not run: $out"
  grep -q -- "$pattern" <<<"$out" || die "$name reports the wrong version: $out"
}
expect skaffold "$SKAFFOLD_VERSION" "$bin/skaffold" version
expect prometheus "version $PROMETHEUS_RELEASE" "$bin/prometheus" --version

touch "$bin/.ok"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "built tools-$key in $((SECONDS - start))s: $(du -sh "$dest/bin" | cut -f1) in $dest/bin"
echo "$dest/bin"
