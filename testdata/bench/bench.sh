#!/bin/sh
# Benchmark: a no-change plan of a 10-task playbook on N real sshd test nodes, beside the SSH
# floor measured in the same run (opening all N connections in parallel and one `true` session
# on each). Prints wall times, the ratio to the floor, isaplay's peak RSS, connections and round
# trips. Usage: testdata/bench/bench.sh [N...]   (default: 2 10 50 200)
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
ref=${ISAPLAY_WSO2_REFERENCE:-$(cd .. && pwd)/shared/wso2-reference}
runs=${BENCH_RUNS:-5}
command -v /usr/bin/time >/dev/null 2>&1 || apt-get install -y -qq time >/dev/null
work=$(mktemp -d /tmp/isaplay-bench.XXXXXX)
trap 'for d in "$work"/c*; do [ -d "$d" ] && "$work/testcluster" down -dir "$d" >/dev/null 2>&1; done; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/isaplay" ./cmd/isaplay
go build -o "$work/testcluster" ./inventory/testcluster/cmd/testcluster
go build -o "$work/sshfloor" ./inventory/testcluster/cmd/sshfloor

files="repository/conf/axis2/axis2.xml repository/conf/datasources/master-datasources.xml
repository/conf/event-processor.xml repository/conf/carbon.xml repository/conf/analytics/spark/spark-defaults.conf
repository/conf/log4j.properties bin/load-spark-env-vars.sh"

# min of a list of numbers
min() { sort -g | head -n 1; }
max() { sort -g | tail -n 1; }

printf '%-5s %-9s %-9s %-7s %-9s %-8s %s\n' N floor_s plan_s ratio rss_MB conns round_trips_per_check
for n in ${*:-2 10 50 200}; do
	c="$work/c$n"
	"$work/testcluster" up -n "$n" -dir "$c" >/dev/null
	i=1
	while [ "$i" -le "$n" ]; do
		for f in $files; do
			mkdir -p "$c/n$i/opt/app/$(dirname "$f")"
			cp "$ref/$f" "$c/n$i/opt/app/$f"
		done
		mkdir -p "$c/n$i/opt/app/repository/data"
		i=$((i + 1))
	done
	addrs=$(awk '/address/ {gsub(/"/, "", $3); print $3}' "$c/hosts.hcl")
	(cd "$c" && "$work/isaplay" apply --yes "$repo/testdata/bench/bench.hcl" -i hosts.hcl --forks 200 >/dev/null 2>&1)
	floors="" plans="" rss=""
	k=0
	while [ "$k" -lt "$runs" ]; do
		floors="$floors $("$work/sshfloor" -key "$c/client_key" -known-hosts "$c/known_hosts" $addrs)"
		out=$(cd "$c" && /usr/bin/time -f 'TIME %e %M' "$work/isaplay" plan "$repo/testdata/bench/bench.hcl" -i hosts.hcl --forks 200 --verbose --detailed-exitcode 2>&1 >/dev/null) || {
			echo "plan of N=$n was not a no-change plan or failed:"; echo "$out"; exit 1; }
		plans="$plans $(echo "$out" | awk '/^TIME/ {print $2}')"
		rss="$rss $(echo "$out" | awk '/^TIME/ {print $3}')"
		stats=$(echo "$out" | grep '^stats:')
		k=$((k + 1))
	done
	f=$(echo $floors | tr ' ' '\n' | min)
	p=$(echo $plans | tr ' ' '\n' | min)
	r=$(echo $rss | tr ' ' '\n' | max)
	conns=$(echo "$stats" | awk '{print $2}')
	rt=$(echo "$stats" | awk '{print $(NF-4)}')
	printf '%-5s %-9s %-9s %-7s %-9s %-8s %s\n' "$n" "$f" "$p" "$(echo "$p $f" | awk '{printf "%.2f", $1/$2}')" \
		"$(echo "$r" | awk '{printf "%.1f", $1/1024}')" "$conns" "$rt"
	"$work/testcluster" down -dir "$c" >/dev/null
done
