#!/bin/sh
# Plays the first run of the README's commands on a machine that lacks the packages, from a
# clean clone of HEAD: pkg-config answers "not installed" for everything until `make deps`
# has run (the Makefile's DEPS hook touches a stamp after the real deps step), just as on a
# fresh Debian machine where liblua5.4-dev and the rest arrive only with deps. A Makefile
# that computed its flags before deps (the old bug: "lua.h: No such file or directory")
# fails here.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
real=$(command -v pkg-config)
mkdir "$tmp/bin"
cat >"$tmp/bin/pkg-config" <<SHIM
#!/bin/sh
[ -f "$tmp/installed" ] || exit 1
exec "$real" "\$@"
SHIM
chmod +x "$tmp/bin/pkg-config"
git clone -q . "$tmp/repo"
# node_modules is not in git; share this checkout's instead of downloading it again
[ -d spec/livesim/node_modules ] && cp -a spec/livesim/node_modules "$tmp/repo/spec/livesim/"
cd "$tmp/repo"
export PATH="$tmp/bin:$PATH"
deps="sh .ci/deps.sh && touch $tmp/installed"
echo "first-run: make demo in a clean clone, packages 'missing' until deps"
make DEPS="$deps" demo >"$tmp/demo.log" 2>&1 || { cat "$tmp/demo.log"; echo "first-run: make demo failed"; exit 1; }
tail -n 1 "$tmp/demo.log"
rm -rf "$tmp/installed" build
echo "first-run: make test (one spec) in the same clone, packages 'missing' again until deps"
make DEPS="$deps" SPEC=spec/module_spec.lua test >"$tmp/test.log" 2>&1 || { cat "$tmp/test.log"; echo "first-run: make test failed"; exit 1; }
tail -n 1 "$tmp/test.log"
