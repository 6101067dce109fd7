#!/bin/sh
# Prints the public C headers: csrc/core/realtime.h and every header it includes,
# transitively, one path per line. `make install` installs these for C hosts, and
# spec/install_spec.lua checks that none of the private helpers (allocation, base64) is
# among them.
set -eu
dir=$(dirname "$0")/core
todo=realtime.h
seen=
while [ -n "$todo" ]; do
    set -- $todo
    h=$1
    shift
    todo="$*"
    case " $seen " in *" $h "*) continue ;; esac
    [ -f "$dir/$h" ] || { echo "public-headers.sh: $dir/$h is missing" >&2; exit 1; }
    seen="$seen $h"
    todo="$todo $(sed -n 's/^#include "\(.*\)"/\1/p' "$dir/$h" | tr '\n' ' ')"
    todo=$(echo $todo)   # no blanks left alone: `set --` below needs a word
done
for h in $seen; do echo "$dir/$h"; done
