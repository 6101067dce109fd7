#!/bin/sh
# Install what the build, the tests and the demo need, skipping what is already there.
# Debian packages go through apt-get (root only); the simulator's npm packages through
# `npm ci` against their lockfiles. A second run installs nothing and takes seconds.
set -eu

# libev-dev and lws's libev plug-in come with libwebsockets-dev on Debian; named here because
# the I/O thread's epoll loop needs both (csrc/core/rt_loop.h)
PKGS="lua5.4 liblua5.4-dev libwebsockets-dev libev-dev libwebsockets-evlib-ev libssl-dev \
libcurl4-openssl-dev lua-cjson lua-busted lua-cqueues pkg-config openssl curl luarocks gcc g++ make \
espeak-ng sox"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        # node/npm may come from outside Debian; the command being present is enough
        case "$p" in
            nodejs) command -v node >/dev/null 2>&1 && continue ;;
            npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing Debian packages:$missing" >&2
        echo "deps: run as root:  apt-get update && apt-get install -y$missing" >&2
        exit 1
    fi
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm packages of the simulator (and of any other node tool with a lockfile under spec/)
for lock in spec/*/package-lock.json; do
    [ -f "$lock" ] || continue
    dir=$(dirname "$lock")
    stamp="$dir/node_modules/.package-lock.json"
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
        echo "deps: npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
done
