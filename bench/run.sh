#!/bin/sh
# `make bench`: this module against @google/genai (Node.js) on the same workloads, against
# the same local simulator over TLS; prints the table and writes it to bench/results.md.
#
# For each workload and each run, a fresh simulator is started with the options the
# workload needs, then the client process runs under bench/c/cputime.c (whole-process CPU
# user+sys to the microsecond, and peak RSS, from wait4); the simulator's own CPU use over the client's run is read from
# /proc. Lua and Node alternate within each run. See bench/README.md for the method.
#
# Environment:
#   BENCH_QUICK=1           short settings for development (about 3 minutes)
#   BENCH_RUNS=N            runs per side and workload (default 3, quick 1); medians reported
#   BENCH_ONLY="a b"        only these workloads: stream syscalls fanout idle latency connect flood map
#   BENCH_STREAM_SECONDS    audio streamed by "stream" (600; quick 60)
#   BENCH_FANOUT_SESSIONS   sessions of "fanout" (200)
#   BENCH_FANOUT_SECONDS    real-time streaming of "fanout" (60; quick 15)
#   BENCH_IDLE_SESSIONS     sessions of "idle" (1000; quick 300)
#   BENCH_LATENCY_SECONDS   streaming of "latency" (30; quick 10)
#   BENCH_CONNECTS          connects of "connect" (50; quick 20)
#   BENCH_RESULTS           where the table goes (bench/results.md)
#   BENCH_EVENT_LOOP        "poll" or "epoll": the event_loop of every client (default: auto)
#   BENCH_FIRST_RUN=N       add runs N.. to the previous invocation's output (after a failure)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
OUT="$BUILD/bench-out"
# BENCH_FIRST_RUN=N continues an interrupted invocation: runs N.. are added to the output
# already there (used together with BENCH_ONLY for the workloads still missing)
[ "${BENCH_FIRST_RUN:-1}" = 1 ] && rm -rf "$OUT"
mkdir -p "$OUT"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    : "${BENCH_RUNS:=1}" "${BENCH_STREAM_SECONDS:=60}" "${BENCH_FANOUT_SECONDS:=15}"
    : "${BENCH_IDLE_SESSIONS:=300}" "${BENCH_LATENCY_SECONDS:=10}" "${BENCH_CONNECTS:=20}"
fi
: "${BENCH_RUNS:=3}" "${BENCH_STREAM_SECONDS:=600}" "${BENCH_FANOUT_SESSIONS:=200}"
: "${BENCH_FANOUT_SECONDS:=60}" "${BENCH_IDLE_SESSIONS:=1000}" "${BENCH_LATENCY_SECONDS:=30}"
: "${BENCH_CONNECTS:=50}" "${BENCH_ONLY:=stream syscalls fanout idle latency connect flood map}"
: "${BENCH_RESULTS:=bench/results.md}"
export BENCH_STREAM_SECONDS BENCH_FANOUT_SESSIONS BENCH_FANOUT_SECONDS BENCH_IDLE_SESSIONS \
    BENCH_LATENCY_SECONDS BENCH_CONNECTS

# 1,000 sessions are 1,000 sockets (plus an eventfd each on the Lua side)
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

for tool in node lua5.4 curl cc strace; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is missing (make deps)"; exit 1; }
done
[ -f "$BUILD/realtime/core.so" ] || { echo "bench: $BUILD/realtime/core.so is missing (make)"; exit 1; }
[ -d spec/livesim/node_modules/@google/genai ] || { echo "bench: @google/genai is missing (make deps)"; exit 1; }

CERTS="$BUILD/testcerts"
if [ ! -f "$CERTS/server.pem" ]; then
    sh spec/make-certs.sh "$CERTS" >/dev/null 2>&1 || { echo "bench: could not make certificates"; exit 1; }
fi
CA="$ROOT/$CERTS/ca.pem"
cc -O2 -Wall -shared -fPIC -o "$BUILD/sockstamp.so" bench/c/sockstamp.c -ldl
cc -O2 -Wall -Werror -o "$BUILD/cputime" bench/c/cputime.c || { echo "bench: could not build bench/c/cputime.c"; exit 1; }
CPUTIME="$ROOT/$BUILD/cputime"
SOCKSTAMP="$ROOT/$BUILD/sockstamp.so"

LUA_PATH="$ROOT/?.lua;$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
LUA_CPATH="$ROOT/$BUILD/?.so;;"
export LUA_PATH LUA_CPATH BENCH_SIM_CA="$CA" BENCH_SIM_KEY=test-key
unset LD_PRELOAD 2>/dev/null || true

SIM_PID=""
stop_sim() {
    if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
    SIM_PID=""
}
trap stop_sim EXIT INT TERM

start_sim() {
    rm -f "$OUT/sim.log"   # the job truncates it only once it runs: no stale LISTENING line
    node spec/livesim/server.js --port 0 --tls --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
        --api-key test-key --quiet "$@" >"$OUT/sim.log" 2>&1 &
    SIM_PID=$!
    i=0
    while [ $i -lt 300 ] && ! grep -q '^LISTENING ' "$OUT/sim.log"; do sleep 0.1; i=$((i + 1)); done
    BENCH_SIM_HTTP=$(sed -n 's/^LISTENING \(.*\)$/\1/p' "$OUT/sim.log" | head -n 1)
    [ -n "$BENCH_SIM_HTTP" ] || { echo "bench: simulator did not start:"; cat "$OUT/sim.log"; exit 1; }
    export BENCH_SIM_HTTP
}

sim_ticks() { awk '{print $14 + $15}' "/proc/$SIM_PID/stat" 2>/dev/null || echo 0; }

# run_one WORKLOAD SIDE RUN SIM_ARGS... -- COMMAND...
run_one() {
    w=$1 side=$2 run=$3
    shift 3
    sim_args=""
    while [ "$1" != "--" ]; do sim_args="$sim_args $1"; shift; done
    shift
    base="$OUT/$w.$side.$run"
    # shellcheck disable=SC2086
    start_sim $sim_args
    s0=$(sim_ticks)
    t0=$(date +%s.%N)
    if ! "$CPUTIME" "$base.time" \
            "$@" >"$base.out" 2>"$base.err"; then
        echo "bench: $w ($side, run $run) failed:"; tail -n 20 "$base.err"; cat "$base.out"
        exit 1
    fi
    t1=$(date +%s.%N)
    s1=$(sim_ticks)
    stop_sim
    echo "{\"sim_cpu\":$(echo "$s0 $s1 $(getconf CLK_TCK)" | awk '{print ($2 - $1) / $3}'),\"sim_wall\":$(echo "$t0 $t1" | awk '{print $2 - $1}')}" >"$base.sim"
    echo "$w $side $run $base" >>"$OUT/index"
    printf '  %-8s %-4s run %s: %s\n' "$w" "$side" "$run" "$(sed -n 's/^RESULT //p' "$base.out" | cut -c1-150)"
}

want() { case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

echo "bench: $BENCH_RUNS run(s) per side; workloads: $BENCH_ONLY"
r=${BENCH_FIRST_RUN:-1}
while [ $r -le "$BENCH_RUNS" ]; do
    if want stream; then
        for side in lua node; do
            if [ $side = lua ]; then set -- lua5.4 bench/stream.lua; else set -- env NODE_EXTRA_CA_CERTS="$CA" node bench/node/stream.mjs; fi
            run_one stream $side $r --pace fast --voice tone --record-frames 0 -- "$@"
        done
    fi
    if want syscalls; then
        # the stream workload again, under strace -f -c: system calls of every thread
        for side in lua node; do
            if [ $side = lua ]; then set -- lua5.4 bench/stream.lua; else set -- env NODE_EXTRA_CA_CERTS="$CA" node bench/node/stream.mjs; fi
            base="$OUT/syscalls.$side.$r"
            run_one syscalls $side $r --pace fast --voice tone --record-frames 0 -- \
                strace -f -c -o "$ROOT/$base.strace" "$@"
            awk '$NF == "total" { print "{\"syscalls\":" $(NF-2) ",\"syscall_errors\":" ($(NF-1) ~ /^[0-9]+$/ ? $(NF-1) : 0) "}" }' \
                "$base.strace" >"$base.sys"
        done
    fi
    if want fanout; then
        for side in lua node; do
            if [ $side = lua ]; then set -- lua5.4 bench/fanout.lua; else set -- env NODE_EXTRA_CA_CERTS="$CA" node bench/node/fanout.mjs; fi
            run_one fanout $side $r --pace realtime --voice tone --record-frames 0 -- "$@"
        done
    fi
    if want idle; then
        for side in lua node; do
            if [ $side = lua ]; then set -- lua5.4 bench/idle.lua; else set -- env NODE_EXTRA_CA_CERTS="$CA" node --expose-gc bench/node/idle.mjs; fi
            run_one idle $side $r --record-frames 0 -- "$@"
        done
    fi
    if want latency; then
        # "luacq": the same Lua script under a cqueues controller instead of realtime.run
        for side in lua luacq node; do
            case $side in
                lua) set -- lua5.4 bench/latency.lua ;;
                luacq) set -- env BENCH_LATENCY_SCHED=cqueues lua5.4 bench/latency.lua ;;
                node) set -- env NODE_EXTRA_CA_CERTS="$CA" node bench/node/latency.mjs ;;
            esac
            base="$OUT/latency.$side.$r"
            run_one latency $side $r --pace realtime --voice tone --record-frames 100000 -- \
                env BENCH_APPEND_TIMES="$ROOT/$base.appends" SOCKSTAMP_OUT="$ROOT/$base.stamps" \
                LD_PRELOAD="$SOCKSTAMP" "$@"
            lua5.4 bench/sockmatch.lua $side "$base.appends" "$base.stamps" >"$base.sock"
        done
    fi
    if want connect; then
        for side in lua node; do
            if [ $side = lua ]; then set -- lua5.4 bench/connect.lua; else set -- env NODE_EXTRA_CA_CERTS="$CA" node bench/node/connect.mjs; fi
            run_one connect $side $r --record-frames 0 -- "$@"
        done
    fi
    if want flood; then
        # the receive bound: Lua only (no simulator: the hostile server floods)
        for mix in tiny mixed; do
            base="$OUT/flood.$mix.$r"
            "$CPUTIME" "$base.time" \
                lua5.4 bench/flood.lua $mix >"$base.out" 2>"$base.err" || { echo "bench: flood $mix failed"; tail "$base.err"; exit 1; }
            echo "flood $mix $r $base" >>"$OUT/index"
            printf '  %-8s %-6s run %s: %s\n' flood $mix "$r" "$(sed -n 's/^RESULT //p' "$base.out" | cut -c1-150)"
        done
    fi
    if want map; then
        base="$OUT/map.lua.$r"
        lua5.4 bench/map_decode.lua >"$base.out"
        echo "map lua $r $base" >>"$OUT/index"
        printf '  %-8s %-4s run %s: %s\n' map lua "$r" "$(sed -n 's/^RESULT //p' "$base.out")"
    fi
    r=$((r + 1))
done

lua5.4 bench/report.lua "$OUT" >"$BENCH_RESULTS"
cat "$BENCH_RESULTS"
