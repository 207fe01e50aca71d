#!/usr/bin/env bash
# Resolve the hashed locks in requirements/ from their inputs (requirements/*.in, which name the
# packages' pyproject.toml dependencies and requirements-dev.txt):
#
#   dev.txt          everything `make install` and CI put into .venv (installed --require-hashes)
#   controller.txt   the images' third-party packages, each at dev.txt's version (-c dev.txt),
#   worker.txt       so that the images run what CI tested
#   ui.txt
#   reload.txt       watchfiles, for the images' dev target (skaffold dev)
#
#   hack/lock/update.sh              keep every pinned version that still fits, add what is new
#   hack/lock/update.sh --upgrade    move every package to its newest version
#   hack/lock/update.sh --check      exit 1 when a lock is out of date with its inputs
#
# The local packages (kontinue, kontinue-*) are left out of the locks: they are installed from
# the checkout, without dependencies, after the lock.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
uv="${UV:-$root/.venv/bin/uv}"
[[ -x "$uv" ]] || uv="$(command -v uv)" || { echo "uv is needed (make install puts it into .venv)" >&2; exit 1; }

mode="${1:-}"
out_dir=requirements
if [[ "$mode" == "--check" ]]; then
  out_dir="$(mktemp -d)"
  trap 'rm -rf "$out_dir"' EXIT
  cp requirements/*.txt "$out_dir/"
fi
upgrade=()
[[ "$mode" == "--upgrade" ]] && upgrade=(--upgrade)

local_packages=(kontinue kontinue-controller kontinue-worker kontinue-ui kontinue-testkit)
no_emit=()
for p in "${local_packages[@]}"; do no_emit+=(--no-emit-package "$p"); done

compile() {  # compile NAME: requirements/NAME.in -> $out_dir/NAME.txt
  "$uv" pip compile --quiet --generate-hashes --python-version 3.11 --no-header \
    "${upgrade[@]}" "${no_emit[@]}" "requirements/$1.in" -o "$out_dir/$1.txt"
}

# dev first: the image inputs constrain themselves to requirements/dev.txt (-c dev.txt)
for name in dev controller worker ui reload; do
  compile "$name"
done

if [[ "$mode" == "--check" ]]; then
  stale=()
  for f in "$out_dir"/*.txt; do
    cmp -s "$f" "requirements/$(basename "$f")" || stale+=("requirements/$(basename "$f")")
  done
  if (( ${#stale[@]} > 0 )); then
    echo "out of date with their inputs: ${stale[*]} (run: make lock)" >&2
    exit 1
  fi
fi
