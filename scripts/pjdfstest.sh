#!/usr/bin/env bash
# pjdfstest.sh SRC OUT: build the pjdfstest suite from its source SRC in
# OUT, a copy (SRC stays untouched: it may be read-only). OUT then holds
# the pjdfstest binary and tests/. A build whose source has not changed
# is reused. The build tools are installed through deps.sh when missing.
set -euo pipefail
src=${1:?usage: pjdfstest.sh SRC OUT}
out=${2:?usage: pjdfstest.sh SRC OUT}
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$src/pjdfstest.c" ] || { echo "pjdfstest.sh: no pjdfstest source in $src" >&2; exit 1; }
stamp=$(cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ -x "$out/pjdfstest" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
"$here/deps.sh" autoreconf automake gcc make prove
rm -rf "$out"
mkdir -p "$out"
cp -R "$src/." "$out/"
chmod -R u+w "$out"
cd "$out"
log="$out/build.log"
if ! { autoreconf -ifs && ./configure && make pjdfstest; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "pjdfstest.sh: build failed (log: $log)" >&2
  exit 1
fi
echo "$stamp" >"$out/.stamp"
