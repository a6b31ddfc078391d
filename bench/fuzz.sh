#!/bin/bash
# Builds doubt's libFuzzer harnesses (tests/fuzz/fuzz_*.c) with AddressSanitizer and
# UndefinedBehaviorSanitizer, out of tree, and runs each for SECONDS on a copy of its seed
# corpus (tests/fuzz/corpus/TARGET). Exits non-zero if any target crashes, leaks, hangs or
# fails to build; a crash leaves its input in $FUZZ_OUT/TARGET/ (crash-*, leak-*, timeout-*).
# Usage: bench/fuzz.sh SECONDS [TARGET...]   (needs Debian's clang and libclang-rt-14-dev)
# FUZZ_OUT (default /tmp/doubt-fuzz) holds the binaries, the growing corpora and the logs;
# FUZZ_JOBS (default 1) targets run at the same time.
set -eu
seconds=${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}
shift
cd "$(dirname "$0")/.."
root=$(pwd)
out=${FUZZ_OUT:-/tmp/doubt-fuzz}
jobs=${FUZZ_JOBS:-1}
targets=${*:-"image png safetensors npy netdesc dataset"}
cc=${CC_FUZZ:-clang}
mkdir -p "$out/obj"

# The readers and what they use; no oneDNN, no OpenMP: the harnesses never build a network.
sources="src/core/status.c src/core/rng.c src/io/fsutil.c src/io/png.c src/io/npy.c
         src/io/image.c src/io/exif.c src/io/stb_guard.c src/data/dataset.c
         src/model/netdesc.c src/model/arch.c src/model/graph.c src/model/safetensors.c
         tests/fuzz/fuzz_input.c"
flags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 -DDOUBT_VERSION=\"fuzz\"
       -Wall -Wextra -Werror -Wno-unknown-pragmas
       -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
       -I$root/src -I$root/tests/fuzz $(pkg-config --cflags libpng libcjson stb)"
libs="$(pkg-config --libs libpng libcjson) -lm"
objs=""
for s in $sources; do
    o="$out/obj/$(echo "$s" | tr / _).o"
    # shellcheck disable=SC2086
    nice -n 19 "$cc" $flags -fsanitize=fuzzer-no-link -c "$root/$s" -o "$o"
    objs="$objs $o"
done
# stb_image itself, instrumented (tests/fuzz/stb_image_impl.c), instead of libstb; its own
# warnings are not doubt's to fix, its undefined behaviour is a finding, except for one
# benign case: an empty PNG IDAT chunk before any other makes it compute idata + 0 and
# memcpy 0 bytes to idata while idata is still NULL (pointer-overflow, nonnull-attribute);
# a real out-of-bounds access would still be ASan's
o="$out/obj/stb_image_impl.o"
# shellcheck disable=SC2086
nice -n 19 "$cc" $flags -Wno-error -w -fsanitize=fuzzer-no-link \
    -fno-sanitize=pointer-overflow,nonnull-attribute \
    -c "$root/tests/fuzz/stb_image_impl.c" -o "$o"
objs="$objs $o"

run_target() {
    t=$1
    mkdir -p "$out/$t/corpus"
    cp -n "$root/tests/fuzz/corpus/$t"/* "$out/$t/corpus/" 2>/dev/null || true
    # shellcheck disable=SC2086
    nice -n 19 "$cc" $flags -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.c" $objs $libs \
        -o "$out/fuzz_$t" || { echo "fuzz $t: build failed" >&2; return 1; }
    # leaks are findings too; -timeout: an input taking 10 s is a hang
    if (cd "$out/$t" && ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 nice -n 19 "$out/fuzz_$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        corpus > "$out/$t.log" 2>&1); then
        echo "fuzz $t: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" |
            grep -o '[0-9]*$') executions in ${seconds} s, corpus $(ls "$out/$t/corpus" | wc -l)"
    else
        echo "fuzz $t: FAILED, see $out/$t.log and $out/$t/" >&2
        tail -40 "$out/$t.log" >&2
        return 1
    fi
}

status=0
running=0
for t in $targets; do
    if [ "$jobs" -gt 1 ]; then
        (run_target "$t") &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
            wait -n 2>/dev/null || status=1
            running=$((running - 1))
        fi
    else
        run_target "$t" || status=1
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n 2>/dev/null || status=1
    running=$((running - 1))
done
exit $status
