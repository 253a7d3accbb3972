#!/bin/sh
# Benchmark: unpacking one product-sized zip on N sshd test nodes (an unarchive task, then
# `isaplay rollback`), timed as a whole process with isaplay's CPU time and peak RSS. The zip is
# made here: FILES text files of MB megabytes each (compressible, as a product's jars and
# configuration are), deflated. It shows what the controller pays per host for a pack: the
# archive is re-encoded as a tar once per run and streamed to every host from a temporary file.
# Usage: testdata/bench/unpack.sh [N...]   (default: 4). FILES (default 5), MB (default 60),
# ISAPLAY (a prebuilt binary), BENCH_RUNS (default 2).
set -eu
cd "$(dirname "$0")/../.."
command -v /usr/bin/time >/dev/null 2>&1 || apt-get install -y -qq time >/dev/null
work=$(mktemp -d /tmp/isaplay-bench-unpack.XXXXXX)
trap 'for d in "$work"/c*; do [ -d "$d" ] && "$work/testcluster" down -dir "$d" >/dev/null 2>&1; done; rm -rf "$work"' EXIT
if [ -n "${ISAPLAY:-}" ]; then cp "$ISAPLAY" "$work/isaplay"; else CGO_ENABLED=0 go build -o "$work/isaplay" ./cmd/isaplay; fi
go build -o "$work/testcluster" ./inventory/testcluster/cmd/testcluster

mkdir -p "$work/pack/product"
i=1
while [ "$i" -le "${FILES:-5}" ]; do
	seq 1 100000000 | sed "s/^/line $i /" | head -c $((${MB:-60} * 1000000)) >"$work/pack/product/f$i"
	i=$((i + 1))
done
go run ./testdata/bench/zipdir "$work/pack/product.zip" "$work/pack/product"
cat >"$work/unpack.hcl" <<'EOF'
variable "src" {
  type = string
}
play "unpack" {
  hosts = "all"
  task "unarchive" "product" {
    src     = var.src
    dest    = "/opt/unpack"
    creates = "product/f1"
  }
}
EOF
echo "zip: $(du -h "$work/pack/product.zip" | cut -f1), unpacked: $(du -sh "$work/pack/product" | cut -f1)"
printf '%-4s %-8s %-8s %s\n' N wall_s cpu_s rss_MB
for n in ${*:-4}; do
	c="$work/c$n"
	"$work/testcluster" up -n "$n" -dir "$c" >/dev/null
	k=0
	while [ "$k" -lt "${BENCH_RUNS:-2}" ]; do
		(cd "$c" && /usr/bin/time -o "$c/time" -f '%e %U %S %M' "$work/isaplay" apply --yes "$work/unpack.hcl" -i hosts.hcl \
			--var src="$work/pack/product.zip" >"$c/out" 2>&1) || { cat "$c/out" >&2; exit 1; }
		awk -v n="$n" '{printf "%-4s %-8s %-8.2f %.1f\n", n, $1, $2 + $3, $4 / 1024}' "$c/time"
		(cd "$c" && "$work/isaplay" rollback --yes >"$c/out" 2>&1) || { cat "$c/out" >&2; exit 1; }
		k=$((k + 1))
	done
	"$work/testcluster" down -dir "$c" >/dev/null
done
