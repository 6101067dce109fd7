#!/bin/sh
# `make demo`: speak a question to a live session and save the spoken answer to reply.wav.
#
# With GEMINI_API_KEY (or GOOGLE_API_KEY), or GOOGLE_CLOUD_PROJECT and Application Default
# Credentials, in the environment, examples/voice_chat.lua talks to Google. Otherwise this
# script starts the local Live API simulator over TLS and points the same example at it
# through the environment (REALTIME_BASE_URL, REALTIME_CA_FILE and the simulator's key).
#
# `make demo` has already installed what is missing and built the module; run by hand,
# this script needs `make` first.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LUA=${LUA:-lua5.4}
QUESTION="What is the weather in Paris?"

# Find the module in the repository (make exports these already).
: "${LUA_PATH:=$PWD/lua/?.lua;$PWD/lua/?/init.lua;;}"
: "${LUA_CPATH:=$PWD/$BUILD/?.so;;}"
export LUA_PATH LUA_CPATH
if [ ! -f "$BUILD/realtime/core.so" ]; then
    echo "demo: $BUILD/realtime/core.so is missing: run make first" >&2
    exit 1
fi

# The spoken question, made once with espeak-ng (22050 Hz; the example resamples it).
if [ ! -f examples/question.wav ]; then
    if command -v espeak-ng >/dev/null 2>&1; then
        espeak-ng -w examples/question.wav "$QUESTION"
        echo "demo: recorded \"$QUESTION\" with espeak-ng into examples/question.wav"
    else
        echo "demo: espeak-ng is not installed: the question will be a tone (apt-get install espeak-ng)"
    fi
fi

if [ -n "${GEMINI_API_KEY:-}${GOOGLE_API_KEY:-}${GOOGLE_CLOUD_PROJECT:-}" ]; then
    if [ -n "${REALTIME_BASE_URL:-}" ]; then
        echo "demo: talking to $REALTIME_BASE_URL (REALTIME_BASE_URL; credentials found in the environment)"
    else
        echo "demo: talking to Google (credentials found in the environment)"
    fi
    exec "$LUA" examples/voice_chat.lua examples/question.wav reply.wav
fi

# --- the local simulator -------------------------------------------------------------
CERTS="$BUILD/demo-certs"
if [ ! -f "$CERTS/server.pem" ]; then
    sh spec/make-certs.sh "$CERTS" >/dev/null 2>&1 || { echo "demo: could not make certificates" >&2; exit 1; }
fi
LOG="$BUILD/demo-simulator.log"
SIM_PID=""
stop_sim() { if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=""; fi; }
trap stop_sim EXIT
trap 'stop_sim; exit 130' INT TERM

# --pace realtime: replies arrive at the speed they would be spoken;
# --heard: the simulator does not recognise speech, so it is told what the question says.
node spec/livesim/server.js --port 0 --tls --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
    --api-key demo-key --pace realtime --heard "$QUESTION" >"$LOG" 2>&1 &
SIM_PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q '^LISTENING ' "$LOG"; do sleep 0.1; i=$((i + 1)); done
url=$(sed -n 's/^LISTENING \(.*\)$/\1/p' "$LOG" | head -n 1)
if [ -z "$url" ]; then
    echo "demo: the simulator did not start:" >&2
    cat "$LOG" >&2
    exit 1
fi
echo "demo: local Live API simulator at $url (no GEMINI_API_KEY set; see README.md to use Google)"

status=0
GEMINI_API_KEY=demo-key REALTIME_BASE_URL="$url" REALTIME_CA_FILE="$CERTS/ca.pem" \
    "$LUA" examples/voice_chat.lua examples/question.wav reply.wav || status=$?
stop_sim
if [ "$status" -eq 0 ]; then
    echo "demo: listen to the answer with: play reply.wav   (or aplay reply.wav)"
fi
exit "$status"
