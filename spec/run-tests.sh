#!/bin/sh
# Runs every test of the project and ends with one line "N passed, N failed[, N skipped]".
#
#  1. the C core's unit tests (build/<...>/test/test_*), TAP with a summary line each;
#  2. the busted specs under Lua 5.4, against a simulator started here over TLS;
#  3. the node:test suites: the simulator's (which drives it with Google's SDK), the golden
#     captures' and the hostile server's (spec/hostile).
#
# BUILD selects the build tree; SANITIZE=1 preloads the ASan/UBSan runtimes into lua5.4.
# SPEC=<files> runs only those busted specs (against a fresh simulator), e.g.
#   SPEC=spec/session_turns_spec.lua sh spec/run-tests.sh
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT="$BUILD/test-output"
LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;$PWD/spec/?.lua;;"
LUA_CPATH="$PWD/$BUILD/?.so;;"
export LUA_PATH LUA_CPATH
mkdir -p "$OUT"
passed=0 failed=0 skipped=0

add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }

# --- a throw-away CA and a server certificate for 127.0.0.1/localhost -------------
CERTS="$BUILD/testcerts"
if [ ! -f "$CERTS/server.pem" ]; then
    sh spec/make-certs.sh "$CERTS" >/dev/null 2>&1 || { echo "could not make test certificates"; exit 1; }
fi

# --- the simulator, shared by the C live tests and the specs ------------------------
SIM_PID=""
stop_sim() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""; }
trap stop_sim EXIT INT TERM
# Starts the simulator and waits for its LISTENING line; true when it came.
start_sim() {
    # The log is removed first: the background job truncates it only once it runs, and a
    # LISTENING line left by the last run must not be taken for this one's.
    rm -f "$OUT/sim.log"
    node spec/livesim/server.js --port 0 --tls --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
        --api-key test-key --bearer test-bearer --pace fast --quiet >"$OUT/sim.log" 2>&1 &
    SIM_PID=$!
    i=0
    while [ $i -lt 300 ] && ! grep -q "^LISTENING " "$OUT/sim.log"; do
        kill -0 "$SIM_PID" 2>/dev/null || break
        sleep 0.1; i=$((i + 1))
    done
    url=$(sed -n 's/^LISTENING \(.*\)$/\1/p' "$OUT/sim.log" | head -n 1)
    [ -n "$url" ]
}
if [ -f spec/livesim/server.js ]; then
    # A simulator that does not come up is tried again before the run gives up.
    tries=0
    until start_sim; do
        tries=$((tries + 1))
        echo "# simulator did not start after $((i / 10)) s ($(kill -0 "$SIM_PID" 2>/dev/null && echo still running || echo exited)); its output:"
        sed 's/^/#   /' "$OUT/sim.log"
        stop_sim
        [ $tries -lt 3 ] || { echo "simulator did not start"; exit 1; }
    done
    RT_SIM_HTTP="$url"
    RT_SIM_URL=$(echo "$url" | sed 's|^https://|wss://|; s|^http://|ws://|')
    export RT_SIM_HTTP RT_SIM_URL
    export RT_SIM_CA="$CERTS/ca.pem" RT_SIM_KEY=test-key RT_SIM_BEARER=test-bearer RT_SIM_CERTS="$CERTS"
fi

PRELOAD=""
if [ "${SANITIZE:-0}" = 1 ]; then
    PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:halt_on_error=1:suppressions=$PWD/spec/asan.supp"
    export LSAN_OPTIONS="suppressions=$PWD/spec/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

# --- 1. C unit tests ------------------------------------------------------------------
for t in $([ -z "${SPEC:-}" ] && ls "$BUILD"/test/test_* 2>/dev/null); do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$OUT/$name.tap" 2>&1
    status=$?
    cat "$OUT/$name.tap"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT/$name.tap" | tail -n 1)
    if [ -z "$line" ]; then
        echo "not ok - $name exited with status $status before its summary"
        add 0 1
    else
        p=$(echo "$line" | sed 's/^\([0-9]*\) passed.*/\1/')
        f=$(echo "$line" | sed 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/')
        [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
        add "$p" "$f"
    fi
done

# --- 2. busted specs under Lua 5.4 --------------------------------------------------------
if ls spec/*_spec.lua >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    LD_PRELOAD="$PRELOAD" lua5.4 "$(command -v busted)" -o TAP ${SPEC:-spec} >"$OUT/busted.tap" 2>&1
    status=$?
    cat "$OUT/busted.tap"
    p=$(grep -cE '^ok [0-9]+' "$OUT/busted.tap")
    s=$(grep -cE '^ok [0-9]+.*# (SKIP|TODO)' "$OUT/busted.tap")
    f=$(grep -cE '^not ok [0-9]+' "$OUT/busted.tap")
    p=$((p - s))
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && { echo "not ok - busted exited with status $status"; f=1; }
    add "$p" "$f" "$s"
fi

# --- 3. the simulator's own suite (node:test, drives it with @google/genai) -------------
for dir in $([ -z "${SPEC:-}" ] && echo spec/livesim spec/golden spec/hostile); do
    [ -d "$dir/test" ] || continue
    (cd "$dir" && node --test --test-reporter=tap test/) >"$OUT/$(basename $dir)-node.tap" 2>&1
    status=$?
    cat "$OUT/$(basename $dir)-node.tap"
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$OUT/$(basename $dir)-node.tap" | tail -n 1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$OUT/$(basename $dir)-node.tap" | tail -n 1)
    s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$OUT/$(basename $dir)-node.tap" | tail -n 1)
    p=${p:-0} f=${f:-0} s=${s:-0}
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && { echo "not ok - node tests in $dir exited with status $status"; f=1; }
    add "$p" "$f" "$s"
done

stop_sim
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
