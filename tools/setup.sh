#!/bin/sh
# Installs doubt's Debian 12 build dependencies when they are missing, then configures and
# builds into ./build (or the folder given as $1, with any further meson options after it).
set -eu
packages="build-essential meson ninja-build pkg-config cmake libdnnl-dev ocl-icd-opencl-dev
          libpng-dev libstb-dev libcjson-dev check"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
fi
builddir=${1:-build}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/.."
if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" -Dtests=enabled "$@" >/dev/null
fi
ninja -C "$builddir" >/dev/null
