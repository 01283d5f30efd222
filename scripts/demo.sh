#!/usr/bin/env bash
# demo.sh: mount an emulated Arker VM, seeded with a few files, with no
# account. The emulator serves ~/.cache/arkerfs-demo/home as the VM's
# /home/user; the mount appears at ./arker-demo. Ctrl-C unmounts and stops
# both.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/arkerfs
state="${XDG_CACHE_HOME:-$HOME/.cache}/arkerfs-demo"
mnt="${ARKERFS_DEMO_MOUNT:-$PWD/arker-demo}"
port="${ARKERFS_DEMO_PORT:-7070}"
mkdir -p "$state/home" "$mnt"

export ARKER_API_KEY="ark_demo_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$bin" serve --home "$state/home" --listen "127.0.0.1:$port" --seed >"$state/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null || true' EXIT

# Wait (bounded) for the emulator to answer.
for _ in $(seq 50); do
  if curl -fsS -o /dev/null -H "Authorization: Bearer $ARKER_API_KEY" "http://127.0.0.1:$port/v1/vms/local" 2>/dev/null; then
    break
  fi
  kill -0 $serve_pid 2>/dev/null || { cat "$state/serve.log" >&2; exit 1; }
  sleep 0.1
done

echo "arkerfs demo: the emulated VM's /home/user is mounted at $mnt"
echo "arkerfs demo: try 'ls -l $mnt', edit files there, run git; Ctrl-C to unmount and stop"
ARKER_BASE_URL="http://127.0.0.1:$port" "$bin" mount --foreground local "$mnt"
