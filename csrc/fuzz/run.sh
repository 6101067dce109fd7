#!/bin/sh
# Fuzzes what the server, a token endpoint or a key file can feed the library, for a
# bounded time (make fuzz).
#
#   fuzz_json     the core's JSON reader (rt_json) in its strict and lenient modes
#   fuzz_base64   the base64 decoder against the one it replaced (same verdicts, same bytes)
#   fuzz_scan     the I/O thread's scanner (handles, goAway, turn boundaries) and the setup
#                 rewrite with whatever handle the input carries
#   fuzz_ws       the WebSocket frame parser (chunks as reads deliver them), then the scanner
#   fuzz_map      JSON text to neutral messages: lua-cjson and the mapping (core.map_server)
#   fuzz_upgrade  the WebSocket upgrade answer (status line, headers, a refusal's body plain
#                 or chunked, the error that quotes it) in reads of any size
#   fuzz_tlsrec   the TLS 1.3 record layer's receive side: records sealed with fixed keys
#                 (types, padding, lengths, KeyUpdates) split into reads of any size
#   fuzz_authans  a token endpoint's or metadata server's answer (rt_auth_answer): a token
#                 and a lifetime, or an error that quotes no secret
#   fuzz_jwt      the service-account JWT: claims of any text come back out of its JSON;
#                 rt_jwt_sign_rs256 with any PEM text
#   fuzz_jsonrt   core.json_decode -> json_encode -> json_decode round trip, and the core's
#                 reader against lua-cjson on what both read
#
# FUZZ_SECONDS (default 60) bounds each target; FUZZ_TARGETS (default all) picks some (only
# those are built). Built with clang's libFuzzer under ASan + UBSan into build/fuzz; the
# corpus starts from csrc/fuzz/corpus/<target> where there is one (fuzz_upgrade: answers,
# the inputs of bugs it found among them), else from csrc/fuzz/corpus/server (real-looking
# server messages), and grows in build/fuzz/corpus/<target>. A crash leaves its input in
# build/fuzz/crashes/ and makes the script fail: turn it into a test of the code it drives
# (csrc/test/, a spec) before fixing it.
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

# the binding's interface number, as the Makefile reads it (CORE_ABI)
ABI=$(sed -n 's/^local CORE_ABI = \([0-9][0-9]*\)$/\1/p' lua/realtime/init.lua)
[ -n "$ABI" ] || { echo "lua/realtime/init.lua has no line \"local CORE_ABI = <number>\""; exit 1; }

# every core source but $1
core_but() {
    for f in csrc/core/rt_*.c; do [ "$f" = "csrc/core/$1" ] || printf '%s\n' "$f"; done
}

build() {
    # shellcheck disable=SC2086
    clang $FLAGS $PKG_CFLAGS "$@" $PKG_LIBS -lpthread -lm -ldl || exit 1
}
# Builds the target $1 into $OUT.
build_target() {
    case $1 in
    fuzz_json) build -o "$OUT/$1" csrc/fuzz/fuzz_json.c csrc/core/rt_json.c csrc/core/rt_json_string.c \
        csrc/core/rt_alloc.c ;;
    fuzz_base64) build -o "$OUT/$1" csrc/fuzz/fuzz_base64.c csrc/core/rt_base64.c bench/c/base64_old.c ;;
    fuzz_scan) build -o "$OUT/$1" csrc/fuzz/fuzz_scan.c csrc/core/rt_resume.c csrc/core/rt_json.c \
        csrc/core/rt_json_string.c csrc/core/rt_alloc.c csrc/core/rt_utf8.c ;;
    fuzz_ws) build -o "$OUT/$1" csrc/fuzz/fuzz_ws.c csrc/core/rt_ws.c csrc/core/rt_resume.c \
        csrc/core/rt_json.c csrc/core/rt_json_string.c csrc/core/rt_alloc.c csrc/core/rt_error.c \
        csrc/core/rt_base64.c csrc/core/rt_buf.c csrc/core/rt_utf8.c -lcrypto ;;
    fuzz_map | fuzz_jsonrt) build -DLRT_ABI="$ABI" -o "$OUT/$1" "csrc/fuzz/$1.c" csrc/binding/lrt_*.c \
        csrc/core/rt_*.c ;;
    # these include the file they drive (for its static functions): the rest of the core
    # is linked beside it
    fuzz_upgrade) build -o "$OUT/$1" csrc/fuzz/fuzz_upgrade.c $(core_but rt_conn_upgrade.c) ;;
    fuzz_tlsrec) build -o "$OUT/$1" csrc/fuzz/fuzz_tlsrec.c $(core_but rt_tls_record.c) ;;
    fuzz_authans | fuzz_jwt) build -o "$OUT/$1" "csrc/fuzz/$1.c" csrc/core/rt_*.c ;;
    *) echo "unknown fuzz target $1"; exit 1 ;;
    esac
}

TARGETS=${FUZZ_TARGETS:-fuzz_json fuzz_base64 fuzz_scan fuzz_ws fuzz_map fuzz_upgrade fuzz_tlsrec \
    fuzz_authans fuzz_jwt fuzz_jsonrt}
echo "building fuzz targets in $OUT"
for t in $TARGETS; do
    build_target "$t"
done

status=0
for t in $TARGETS; do
    mkdir -p "$OUT/corpus/$t"
    seeds=csrc/fuzz/corpus/server
    [ -d "csrc/fuzz/corpus/$t" ] && seeds=csrc/fuzz/corpus/$t
    echo "running $t for $SECS s"
    "$OUT/$t" -max_total_time="$SECS" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/crashes/$t-" -print_final_stats=1 \
        "$OUT/corpus/$t" "$seeds" >"$OUT/$t.log" 2>&1
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
