#!/usr/bin/env bash
# Build the pinned local control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from their Go modules into a version-keyed cache.
#
#   hack/testbin/build.sh              build if needed; progress on stderr, the bin dir on stdout
#   hack/testbin/build.sh --print-bin  print the bin dir of a finished build, or fail if there is none
#   hack/testbin/build.sh --key        print the cache key only
#
# Cache: ${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}/<key>/bin, where <key> hashes the pins,
# the wrapper modules, this script, the Go version and the platform. A build happens in a temporary
# directory that is renamed into place only after every binary passed its smoke test, so a killed
# build never leaves a half-filled cache entry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

log() { printf '[testbin %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is required (go1.24 or newer) to build the control-plane binaries"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-modcacherw -buildvcs=false"
goversion="$(go env GOVERSION)"
goos="$(go env GOOS)"; goarch="$(go env GOARCH)"

key="$(
  {
    cat "$here/versions.env" "$here/build.sh"
    cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum"
    echo "$goversion $goos $goarch"
  } | sha256sum | cut -c1-16
)"
root="${KONTINUE_TESTBIN:-$HOME/.cache/kontinue/testbin}"
dest="$root/$key"

case "${1:-}" in
  --key) echo "$key"; exit 0 ;;
  --print-bin)
    [[ -f "$dest/bin/.ok" ]] || die "no finished build at $dest (run hack/testbin/build.sh)"
    echo "$dest/bin"; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1" ;;
esac

if [[ -f "$dest/bin/.ok" ]]; then
  log "cached build $key is complete"
  echo "$dest/bin"
  exit 0
fi

mkdir -p "$root"
free_kb="$(df -Pk "$root" | awk 'NR==2 {print $4}')"
if (( free_kb < 8 * 1024 * 1024 )); then
  die "only $((free_kb / 1024)) MiB free under $root; the build needs about 8 GiB (module and build caches included)"
fi

tmp="$(mktemp -d "$root/.building-$key.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
bin="$tmp/bin"
mkdir -p "$bin"
start=$SECONDS
step() { log "[$1/5] $2 (elapsed $((SECONDS - start))s)"; }

step 1 "etcd $ETCD_VERSION"
(cd "$here/etcd" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)

step 2 "kwok $KWOK_VERSION"
GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
# kwok's Logs resource (which file a simulated container "printed"), served with --enable-crds
mkdir -p "$tmp/share"
cp "$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" \
  "$tmp/share/"
chmod u+w "$tmp/share/"*

step 3 "helm $HELM_VERSION"
kminor="${KUBE_VERSION#v1.}"; kminor="${kminor%%.*}"
GOBIN="$bin" go install -trimpath -ldflags "-s -w \
  -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

step 4 "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBE_VERSION (the long one)"
builddate="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldf="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor"
  ldf+=" -X $pkg.gitCommit=kontinue-testbin -X $pkg.gitTreeState=clean -X $pkg.buildDate=$builddate"
done
(cd "$here/kube" && go build -mod=readonly -trimpath -ldflags "$ldf" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)

step 5 "smoke tests"
# Each check reads the whole output first: `cmd | grep -q` under pipefail fails at random when
# grep exits early and the command dies of SIGPIPE.
expect() {  # expect NAME PATTERN COMMAND...
  local name="$1" pattern="$2" out
  shift 2
  out="$("$@" 2>&1)" || die "$name does not run: $out"
  grep -q -- "$pattern" <<<"$out" || die "$name reports the wrong version: $out"
}
expect etcd "etcd Version: ${ETCD_VERSION#v}" "$bin/etcd" --version
expect kwok "$KWOK_VERSION" "$bin/kwok" --version
expect helm "$HELM_VERSION" "$bin/helm" version --short
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  expect "$b" "$KUBE_VERSION" "$bin/$b" --version
done
expect kubectl "$KUBE_VERSION" "$bin/kubectl" version --client
kcm_help="$("$bin/kube-controller-manager" --help 2>&1)"
for c in job-controller garbage-collector-controller namespace-controller serviceaccount-controller \
         serviceaccount-token-controller node-lifecycle-controller; do
  grep -q "$c" <<<"$kcm_help" || die "kube-controller-manager does not know the controller $c"
done

touch "$bin/.ok"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "built $key in $((SECONDS - start))s: $(du -sh "$dest/bin" | cut -f1) in $dest/bin"
echo "$dest/bin"
