#!/usr/bin/env bash
# Vendor the UI's front-end libraries from npm (pinned by package-lock.json) into
# kontinue_ui/static/vendor. Run by `make install` and by the UI image's build stage.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
mkdir -p kontinue_ui/static/vendor
cp node_modules/htmx.org/dist/htmx.min.js kontinue_ui/static/vendor/htmx.min.js
