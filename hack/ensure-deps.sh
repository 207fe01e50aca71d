#!/usr/bin/env bash
# What the README's commands need from the machine, installed when a package manager can give it.
#
#   hack/ensure-deps.sh base   make, git, Python >= 3.11 with venv, npm  (make install)
#   hack/ensure-deps.sh dev    base, and Go >= 1.24 for the control-plane binaries  (make dev)
#   hack/ensure-deps.sh test   dev, and tmux and Chromium for the terminal and UI tests  (make test)
#
# Missing Debian packages are installed with apt-get when running as root (as CI does on a
# fresh machine); otherwise the script prints one line naming what to install and fails. Go is
# checked, not installed: Debian's packages are older than the pinned Kubernetes needs.
# `make test`, `make dev` and .ci/run all call this script, so CI checks the path a new user takes.
set -euo pipefail

mode="${1:-test}"
case "$mode" in base | dev | test) ;; *)
  echo "usage: $0 base|dev|test" >&2
  exit 2
  ;;
esac

say() { printf 'ensure-deps: %s\n' "$*" >&2; }

missing=()  # Debian packages to install
need() {  # need COMMAND PACKAGE: PACKAGE provides COMMAND
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

need make make
need git git
need python3 python3
need npm npm
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [[ $mode == test ]]; then
  need tmux tmux
  # the UI tests drive Debian's Chromium through Playwright (KONTINUE_CHROMIUM may name another)
  if [[ -z ${KONTINUE_CHROMIUM:-} ]] && ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
  fi
fi

if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]} -- install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again"
    exit 1
  fi
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "Python 3.11 or newer is needed, found $(python3 -V 2>&1) -- install it and run again"
  exit 1
fi

if [[ $mode != base ]]; then
  if ! command -v go >/dev/null 2>&1; then
    say "Go 1.24 or newer is needed to build the control-plane binaries -- install it from https://go.dev/dl and run again"
    exit 1
  fi
  go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
  if [[ ! $go_minor =~ ^[0-9]+$ ]] || ((go_minor < 24)); then
    say "Go 1.24 or newer is needed, found $(go env GOVERSION) -- install it from https://go.dev/dl and run again"
    exit 1
  fi
fi
