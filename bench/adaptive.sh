#!/bin/sh
# Adaptive MC sampling (issue 17, part 3): `doubt eval --samples auto` against the fixed
# `--samples 20`, in distribution (test50) and on both OOD kinds (test50_objects,
# test50_geometry), for the shipped unet-small and the trained MC-dropout run of
# bench/methods.sh. Prints per weights, mode and set the mean / min / max T the images took,
# seconds per image, the in-distribution figures, the OOD AUROC of the image-level mean MI
# and depth epistemic variance against the in-distribution set, and the AUROC with which an
# image's T alone tells OOD from in-distribution (above 0.5: OOD images need more samples)
# (tools/adaptive_table.py).
#
#   bench/adaptive.sh [WORKDIR]          (default /tmp/doubt_adaptive)
#
# From the environment: DOUBT (the binary, default build/apps/doubt), THREADS (default 2),
# AUTO (the --samples value of the adaptive runs, default auto), CONVERGE (its --converge,
# default 0.05), WEIGHTS (name=file pairs, default shipped=weights/unet-small.safetensors
# mc=/work/methods/mc/weights.safetensors), ID, OBJECTS, GEOMETRY (the set folders, default
# /work/data/test50{,_objects,_geometry}). A finished report is not run again: delete
# WORKDIR to start over. Seconds per image are eval's whole wall time over the set's images.
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/doubt_adaptive}
doubt=${DOUBT:-build/apps/doubt}
threads=${THREADS:-2}
auto=${AUTO:-auto}
converge=${CONVERGE:-0.05}
weights=${WEIGHTS:-"shipped=weights/unet-small.safetensors mc=/work/methods/mc/weights.safetensors"}
id=${ID:-/work/data/test50}
objects=${OBJECTS:-/work/data/test50_objects}
geometry=${GEOMETRY:-/work/data/test50_geometry}
mkdir -p "$work"

for pair in $weights; do
    name=${pair%%=*} file=${pair#*=}
    for set in id objects geometry; do
        case $set in
        id) data=$id ;;
        objects) data=$objects ;;
        geometry) data=$geometry ;;
        esac
        images=$(find "$data/images" -maxdepth 1 -name '*.png' | wc -l)
        for mode in auto fixed20; do
            out=$work/eval_${name}_${mode}_$set.json
            [ -f "$out" ] && continue
            case $mode in
            auto) samples="--samples $auto --converge $converge" ;;
            fixed20) samples="--samples 20" ;;
            esac
            start=$(date +%s.%N)
            # shellcheck disable=SC2086 # samples is a list of options
            "$doubt" eval --weights "$file" --data "$data" $samples --threads "$threads" \
                --json "$out.part" > /dev/null 2>&1
            end=$(date +%s.%N)
            /usr/bin/python3 -c "print(($end - $start) / $images)" \
                > "$work/seconds_${name}_${mode}_$set.txt"
            mv "$out.part" "$out"
        done
    done
done
names=""
for pair in $weights; do
    names="$names ${pair%%=*}"
done
# shellcheck disable=SC2086 # names is a list
/usr/bin/python3 tools/adaptive_table.py "$work" $names
