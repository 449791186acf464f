#!/usr/bin/env bash
# Browser end-to-end test: the demo POS page and posagent.js in Debian's
# headless Chromium, driven by playwright-core.
#
#   test/browser/run.sh                         # against the bridge over a fake engine
#   BASE_URL=http://127.0.0.1:7380/ test/browser/run.sh   # against posagent demo --headless
#
# Installs what is missing: chromium (apt, when root) and playwright-core
# (npm ci, from package-lock.json), typescript (test/npm). Screenshots go to
# artifacts/browser/. TestBrowserDemoPairing builds and starts its own
# posagent demo whatever BASE_URL says.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run.sh: installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "run.sh: no Chromium at ${CHROMIUM:-/usr/bin/chromium}; install it (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi
if ! command -v node >/dev/null; then
  echo "run.sh: node is required (apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "run.sh: installing playwright-core" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
# TypeScript compiles examples/typescript for the pages test (test/npm's lock).
if [ ! -d "$root/test/npm/node_modules/typescript" ]; then
  echo "run.sh: installing typescript" >&2
  (cd "$root/test/npm" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$root"
exec go test -count=1 -run TestBrowser -v ./test/browser/
