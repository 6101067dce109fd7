#!/bin/sh
# Fuzzes the server-message path for a bounded time (make fuzz).
#
#   fuzz_json   the core's JSON reader (rt_json) in its strict and lenient modes
#   fuzz_base64 the base64 decoder against the one it replaced (same verdicts, same bytes)
#   fuzz_scan   the I/O thread's scanner (handles, goAway, turn boundaries) and the setup
#               rewrite with whatever handle the input carries
#   fuzz_ws     the WebSocket frame parser (chunks as reads deliver them), then the scanner
#   fuzz_map    JSON text to neutral messages: lua-cjson and the mapping (core.map_server)
#
# FUZZ_SECONDS (default 60) bounds each target; FUZZ_TARGETS (default all) picks some. Built with clang's libFuzzer under
# ASan + UBSan into build/fuzz; the corpus starts from csrc/fuzz/corpus/server (real-looking
# server messages) and grows in build/fuzz/corpus/<target>. A crash leaves its input in
# build/fuzz/crashes/ and makes the script fail: turn it into a case of
# csrc/test/test_resume.c (or the mapping specs) before fixing it.
set -u
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
OUT=build/fuzz

if ! command -v clang >/dev/null 2>&1; then
    echo "clang not found; installing clang and libclang-rt (needs apt)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y clang libclang-rt-dev >/dev/null 2>&1 ||
        $SUDO apt-get install -y clang >/dev/null 2>&1 ||
        { echo "cannot install clang"; exit 1; }
fi

mkdir -p "$OUT/crashes"
FLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icsrc/core -Icsrc/binding"
PKG_CFLAGS=$(pkg-config --cflags libwebsockets openssl libcurl lua5.4 2>/dev/null)
PKG_LIBS=$(pkg-config --libs libwebsockets openssl libcurl lua5.4 2>/dev/null)

build() {
    # shellcheck disable=SC2086
    clang $FLAGS $PKG_CFLAGS "$@" $PKG_LIBS -lpthread -lm -ldl || exit 1
}
echo "building fuzz targets in $OUT"
build -o "$OUT/fuzz_json" csrc/fuzz/fuzz_json.c csrc/core/rt_json.c csrc/core/rt_json_string.c csrc/core/rt_alloc.c
build -o "$OUT/fuzz_base64" csrc/fuzz/fuzz_base64.c csrc/core/rt_base64.c bench/c/base64_old.c
build -o "$OUT/fuzz_scan" csrc/fuzz/fuzz_scan.c csrc/core/rt_resume.c csrc/core/rt_json.c csrc/core/rt_json_string.c \
    csrc/core/rt_alloc.c
build -o "$OUT/fuzz_ws" csrc/fuzz/fuzz_ws.c csrc/core/rt_ws.c csrc/core/rt_resume.c \
    csrc/core/rt_json.c csrc/core/rt_json_string.c csrc/core/rt_alloc.c csrc/core/rt_error.c csrc/core/rt_base64.c \
    csrc/core/rt_buf.c csrc/core/rt_utf8.c -lcrypto
build -o "$OUT/fuzz_map" csrc/fuzz/fuzz_map.c csrc/binding/lrt_*.c csrc/core/rt_*.c

status=0
for t in ${FUZZ_TARGETS:-fuzz_json fuzz_base64 fuzz_scan fuzz_ws fuzz_map}; do
    mkdir -p "$OUT/corpus/$t"
    echo "running $t for $SECS s"
    "$OUT/$t" -max_total_time="$SECS" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/crashes/$t-" -print_final_stats=1 \
        "$OUT/corpus/$t" csrc/fuzz/corpus/server >"$OUT/$t.log" 2>&1
    rc=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$OUT/$t.log" | sed "s/^/  $t: /"
    if [ $rc -ne 0 ]; then
        echo "  $t FAILED (exit $rc); see $OUT/$t.log and $OUT/crashes/"
        tail -n 30 "$OUT/$t.log"
        status=1
    fi
done
[ $status -eq 0 ] && echo "fuzz: no crash in ${SECS} s per target"
exit $status
