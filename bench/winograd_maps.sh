#!/bin/sh
# How far Winograd moves the MC maps (bench/README.md): `doubt predict --npy` on samples/ with
# a binary before Winograd (BEFORE), with it (NOW), and BEFORE again with oneDNN held to
# SSE4.1 (another direct convolution, to show the size of plain rounding differences).
#   bench/winograd_maps.sh BEFORE NOW     (from the repository root)
set -eu
cd "$(dirname "$0")/.."
before=$1 now=$2
tmp=$(mktemp -d)
"$before" predict samples -o "$tmp/direct" --npy > /dev/null 2>&1
"$now" predict samples -o "$tmp/winograd" --npy > /dev/null 2>&1
DNNL_MAX_CPU_ISA=SSE41 "$before" predict samples -o "$tmp/sse41" --npy > /dev/null 2>&1
echo "direct (AVX2) against Winograd:"
/usr/bin/python3 bench/maps_diff.py "$tmp/direct" "$tmp/winograd"
echo "direct (AVX2) against direct (SSE4.1):"
/usr/bin/python3 bench/maps_diff.py "$tmp/direct" "$tmp/sse41"
rm -rf "$tmp"
