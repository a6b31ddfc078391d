#!/bin/sh
# meson's "browser" test: tests/browser/report_test.mjs under node, or exit 77 (skipped) with
# the reason when node, chromium or puppeteer-core (npm ci in tests/browser) is missing.
#   tests/browser/run.sh BUILD/apps/doubt [SCREENSHOT.png]
here=$(dirname "$0")
command -v node >/dev/null 2>&1 || { echo "SKIP: no node (apt-get install -y nodejs npm)"; exit 77; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "SKIP: no ${CHROMIUM:-/usr/bin/chromium} (apt-get install -y chromium)"; exit 77; }
[ -d "$here/node_modules/puppeteer-core" ] || { echo "SKIP: no $here/node_modules/puppeteer-core (cd $here && npm ci)"; exit 77; }
exec node "$here/report_test.mjs" "$@"
