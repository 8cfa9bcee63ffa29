#!/usr/bin/env bash
# Rebuild the extension in place for development, safely while other processes use it:
# builds are serialised with a lock, and the new .so replaces the old one by rename, so a
# process that already loaded the old file keeps a valid mapping.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/fastconv_build.lock
flock 9
out=$(mktemp -d /tmp/fcbuild.XXXXXX)
python setup.py -q build_ext --build-lib "$out/lib" --build-temp "/tmp/fcbuild_temp" "$@" >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
grep -E "warning|error" "$out/log" | grep -v "^Compiling\|cython" || true
so=$(find "$out/lib" -name '_ext*.so' | head -n1)
cp "$so" "fastconv/.$(basename "$so").tmp"
mv -f "fastconv/.$(basename "$so").tmp" "fastconv/$(basename "$so")"
rm -rf "$out"
echo "rebuilt fastconv/$(basename "$so")"
