#!/bin/sh
# Renders the `doubt inspect --html` report of a small synth set in headless Chromium and
# saves a screenshot, so a person can check that the page renders (issue 7).
#
#   tools/screenshot_report.sh [BUILD_DIR] [WEIGHTS] [OUT.png] [SORT]
#
# BUILD_DIR defaults to build, WEIGHTS to tests/golden/model/unet_tiny.safetensors (use
# trained weights for meaningful maps), OUT to /tmp/report.png; SORT is the page's sort
# fragment, e.g. "depth_epistemic:desc" (checks the sorting script ran). Work files go to
# a fresh temporary folder, printed at the end. Needs Debian's chromium
# (apt-get install -y chromium).
set -eu

build=${1:-build}
weights=${2:-tests/golden/model/unet_tiny.safetensors}
out=${3:-/tmp/report.png}
sort=${4:-}
doubt="$build/apps/doubt"
chromium=${CHROMIUM:-chromium}

command -v "$chromium" >/dev/null || { echo "no $chromium: apt-get install -y chromium" >&2; exit 2; }
[ -x "$doubt" ] || { echo "no $doubt: build first" >&2; exit 2; }

work=$(mktemp -d /tmp/doubt_report.XXXXXX)
"$doubt" synth "$work/data" --count 10 --size 128x128 --seed 5 >/dev/null
"$doubt" predict --weights "$weights" "$work/data/images" -o "$work/pred" --samples 20 \
    >"$work/summary.jsonl"
"$doubt" inspect "$work/pred" --images "$work/data/images" --summary "$work/summary.jsonl" \
    --html "$work/report/report.html"

url="file://$work/report/report.html"
[ -n "$sort" ] && url="$url#sort=$sort"
profile=$(mktemp -d /tmp/doubt_chromium.XXXXXX)
# No network, no background services: the page must render from local files alone.
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$out" --window-size=1400,1000 "$url" \
    2>"$work/chromium.log"
rm -rf "$profile"
[ -s "$out" ] || { echo "no screenshot; see $work/chromium.log" >&2; exit 1; }
echo "screenshot $out of $url"
