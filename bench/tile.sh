#!/bin/sh
# Tiling: peak memory, time and fidelity of `doubt predict --tile` against the whole image.
# Usage: bench/tile.sh [WEIGHTS] (repository root, after tools/setup.sh; needs python3-numpy).
# Prints one JSON line per setting: seconds, peak RSS and the largest differences from the
# untiled maps.
set -eu
cd "$(dirname "$0")/.."
weights=${1:-weights/unet-small.safetensors}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/apps/doubt synth "$tmp/data" --count 1 --size 1024x768 --seed 9 > /dev/null
image=$(ls "$tmp"/data/images/*.png)
for setting in whole 512:96 384:96 512:64 256:32; do
    args=""
    [ "$setting" = whole ] || args="--tile ${setting%:*} --tile-margin ${setting#*:}"
    # shellcheck disable=SC2086 # args is a word list
    /usr/bin/time -f "%e %M" -o "$tmp/time" build/apps/doubt predict --weights "$weights" \
        "$image" -o "$tmp/$setting" --npy --samples 8 --threads 2 $args > /dev/null
    /usr/bin/python3 - "$tmp" "$setting" <<'PY'
import glob, json, sys
import numpy as np
tmp, setting = sys.argv[1], sys.argv[2]
seconds, rss_kb = open(f"{tmp}/time").read().split()
line = {"setting": setting, "seconds": float(seconds), "peak_rss_mb": round(int(rss_kb) / 1024)}
if setting != "whole":
    for m in ["depth_mean", "depth_epistemic", "seg_mutual_info", "seg_prob"]:
        a = np.load(glob.glob(f"{tmp}/whole/*.{m}.npy")[0])
        b = np.load(glob.glob(f"{tmp}/{setting}/*.{m}.npy")[0])
        line[m + "_max_abs_diff"] = float(np.abs(a - b).max())
    a = np.load(glob.glob(f"{tmp}/whole/*.seg_prob.npy")[0]).argmax(0)
    b = np.load(glob.glob(f"{tmp}/{setting}/*.seg_prob.npy")[0]).argmax(0)
    line["class_agreement"] = float((a == b).mean())
print(json.dumps(line))
PY
done
