#!/bin/sh
# The curl baseline for the transport benchmarks: the same 256 MiB moved
# over the same loopback link by curl, against `arkerfs serve`.
#
#   scripts/bench-transport-curl.sh [SIZE_MIB]
#
# Prints MB/s (10^6 bytes per second, as `go test -bench` does) for:
#   download, 1 stream   curl -o /dev/null on the presigned GET URL a sync read answered
#   upload, 1 stream     curl -T of the whole file to a one-part presigned PUT URL
#   upload, 8 streams    8 parallel curl -T of 8 MiB parts (pre-split files) to a presign's part URLs
#   upload + commit      the 8-stream upload plus the commit (the server checks the sha256)
# Needs curl, jq, sha256sum, split and Go (it builds arkerfs).
set -eu

size_mib=${1:-256}
size=$((size_mib * 1024 * 1024))
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

(cd "$root" && go build -o "$work/arkerfs" ./cmd/arkerfs)
mkdir "$work/home" "$work/parts"
export ARKER_API_KEY=ark_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$((20000 + $$ % 20000))
"$work/arkerfs" serve --home "$work/home" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -s -o /dev/null "$base/" && break; sleep 0.05; done

api() { # api PATH JSON
	curl -sf -H "Authorization: Bearer $ARKER_API_KEY" -H 'Content-Type: application/json' \
		--data-binary "$2" "$base/v1/vms/local$1"
}
mbps() { # mbps BYTES SECONDS
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'
}
now() { date +%s.%N; }

head -c "$size" /dev/urandom >"$work/home/big.bin"
cp "$work/home/big.bin" "$work/src.bin"
sum=$(sha256sum "$work/src.bin" | cut -d' ' -f1)
(cd "$work/parts" && split -b 8M -d -a 5 "$work/src.bin" part.)

echo "size: $size_mib MiB, loopback, arkerfs serve; 3 runs each"

for run in 1 2 3; do
	url=$(api /sync '{"path":"/home/user/big.bin"}' | jq -r .presigned_url)
	speed=$(curl -s -o /dev/null -w '%{speed_download}' "$url")
	echo "download, 1 stream (curl -o /dev/null):  $(mbps "$speed" 1)"
done

for run in 1 2 3; do
	id=one$run
	url=$(api /sync "{\"writes\":[{\"type\":\"presign\",\"path\":\"/home/user/up1.bin\",\"upload_id\":\"$id\",\"size\":$size,\"part_size\":$size}]}" | jq -r '.results[0].parts[0].url')
	speed=$(curl -s -o /dev/null -w '%{speed_upload}' -T "$work/src.bin" "$url")
	echo "upload, 1 stream (curl -T whole file):   $(mbps "$speed" 1)"
done

for run in 1 2 3; do
	id=par$run
	api /sync "{\"writes\":[{\"type\":\"presign\",\"path\":\"/home/user/up8.bin\",\"upload_id\":\"$id\",\"size\":$size,\"part_size\":8388608}]}" |
		jq -r '.results[0].parts[] | "\(.part) \(.url)"' >"$work/urls"
	t0=$(now)
	while read -r n url; do
		printf '%s\n%s\n' "$work/parts/part.$(printf %05d $((n - 1)))" "$url"
	done <"$work/urls" | xargs -n 2 -P 8 sh -c 'curl -sf -o /dev/null -T "$0" "$1"'
	t1=$(now)
	api /sync "{\"writes\":[{\"type\":\"commit\",\"path\":\"/home/user/up8.bin\",\"upload_id\":\"$id\",\"size\":$size,\"sha256\":\"$sum\"}]}" |
		jq -e '.results[0].committed' >/dev/null
	t2=$(now)
	echo "upload, 8 streams (curl -T 8 MiB parts): $(mbps "$size" "$(echo "$t1 - $t0" | bc)"), with commit $(mbps "$size" "$(echo "$t2 - $t0" | bc)")"
done
