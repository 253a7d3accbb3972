#!/bin/sh
# Benchmark: Pattern 2's analytics part (spec steps A to D, start_servers = false, no IS nodes)
# applied to N analytics test nodes (plus the "mysql" node db1), for each N: `plan` on fresh
# nodes, the first apply and a second (no-change) apply, each timed as a whole process with its
# peak RSS, beside the bare SSH floor measured in the same run (sshfloor: all N analytics
# connections opened in parallel and one `true` session on each). Every N gets fresh nodes, a
# fresh MariaDB and a fresh svnserve; the packs are built once from the real WSO2 files.
# Plan, first apply, no-change apply and floor are the minimum of BENCH_RUNS runs (default 3);
# `isaplay rollback` makes the nodes and the database fresh again between first applies. Beside
# them, the database server's own time for the first apply's two Carbon schemas (dbfloor), which
# the first apply overlaps with the nodes' work (the loads are async).
# Usage: testdata/bench/pattern2.sh [N...]   (default: 2 10 30). Needs root and `make deps`.
# BENCH_RUNS (default 3), BENCH_TOP (slowest tasks listed, default 8), BENCH_KEEP (keep the work
# directory with every command's output), BENCH_PROFILE (with BENCH_KEEP: a CPU profile of each
# isaplay run beside its output, NAME.pprof), BENCH_DB_TMPFS (MariaDB's files in /dev/shm),
# BENCH_NODES_TMPFS (the test nodes' files in /dev/shm, MariaDB's on disk), ISAPLAY (a prebuilt
# binary).
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
REF=${ISAPLAY_WSO2_REFERENCE:-$(cd .. && pwd)/shared/wso2-reference}
runs=${BENCH_RUNS:-3}
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
. testdata/demo/services.sh
fail() { echo "pattern2 bench: $*" >&2; exit 1; }
[ -f "$REF/repository/conf/carbon.xml" ] || fail "WSO2 reference files not found in $REF (set ISAPLAY_WSO2_REFERENCE)"
[ "$(id -u)" -eq 0 ] || fail "run as root: the test nodes use mount namespaces"
command -v /usr/bin/time >/dev/null 2>&1 || apt-get install -y -qq time >/dev/null

# BENCH_NODES_TMPFS=1: the nodes' files in memory. This machine's disk is ext4 without a
# journal, where making a file looks through every inode deleted in the last minutes (rollback
# and staging delete many): tar then costs several times its CPU on a journaled file system.
base=/tmp
[ -z "${BENCH_NODES_TMPFS:-}" ] || base=/dev/shm
work=$(mktemp -d $base/isaplay-bench-p2.XXXXXX)
svn_pid="" cur="" dbdir=""
teardown() { # the setup of one N
	[ -n "$cur" ] || return 0
	stop_services "$work/testcluster" "$cur" "$dbdir" "$svn_pid" >/dev/null 2>&1
	case "$dbdir" in /dev/shm/isaplay-bench-db.* | /tmp/isaplay-bench-db.*) rm -rf "$dbdir" ;; esac
	svn_pid="" cur=""
}
cleanup() {
	status=$?
	teardown
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work (BENCH_KEEP)" >&2; else rm -rf "$work"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ISAPLAY=path benchmarks that binary instead of one built from this checkout.
if [ -n "${ISAPLAY:-}" ]; then cp "$ISAPLAY" "$work/isaplay"; else CGO_ENABLED=0 go build -o "$work/isaplay" ./cmd/isaplay; fi
go build -o "$work/testcluster" ./inventory/testcluster/cmd/testcluster
go build -o "$work/sshfloor" ./inventory/testcluster/cmd/sshfloor
go run ./cmd/isaplay/pattern2test/mkpacks -ref "$REF" -repo "$repo" -out "$work/files" >/dev/null

# setup N: test nodes db1 (group mysql) and an1..anN (group analytics), MariaDB, svnserve, vars:
# the demo's environment (testdata/demo/services.sh) without the identity nodes.
setup() {
	n=$1
	cur="$work/n$n"
	mkdir -p "$cur"
	cluster_up "$work/testcluster" $((n + 1)) "$cur" || fail "expected $((n + 1)) nodes, got: $(cat "$cur/nodes.txt")"
	set -- $node_addrs
	nodes="db1/mysql"
	i=1
	while [ $i -le "$n" ]; do nodes="$nodes an$i/analytics"; i=$((i + 1)); done
	{
		hosts_hcl "$cur" "$nodes" "$@"
		echo "# IS nodes off: pattern2.hcl's identity plays run on no host."
		echo "group \"identity\" {"
		echo "  hosts = []"
		echo "}"
	} >"$cur/hosts.hcl"
	shift # db1
	an_addrs="" an_port=""
	for addr in "$@"; do an_addrs="$an_addrs ${addr%:*}"; an_port=${addr##*:}; done

	# BENCH_DB_TMPFS=1: the database's files in memory, so that the first apply's figure leaves
	# out the server's own disk syncs (about 0.25 s per Carbon schema on this machine's disk).
	dbdir="$cur/mariadb"
	[ -z "${BENCH_NODES_TMPFS:-}" ] || dbdir=$(mktemp -d /tmp/isaplay-bench-db.XXXXXX)
	[ -z "${BENCH_DB_TMPFS:-}" ] || dbdir=$(mktemp -d /dev/shm/isaplay-bench-db.XXXXXX)
	db_pass="bench-db-$(rand)"
	start_mariadb "$dbdir" "$db_pass" "$cur/mariadb.err" || fail "MariaDB did not start"
	svn_pass="bench-svn-$(rand)"
	start_svnserve "$cur/svn" "$svn_pass" isaplay-bench "$cur/svn.err" || fail "svnserve did not start"
	{
		analytics_vars "$work/files" "bench$n"
		echo "start_servers     = false"
	} >"$cur/pattern2.vars.hcl"
	export_secrets "$db_pass" "$svn_pass"
	export ISAPLAY_STATE_DIR="$cur/state"
}

# timed NAME CMD...: runs isaplay CMD on the current setup with --verbose, output to $cur/NAME.out,
# stderr (stats, time) to $cur/NAME.err; sets t (seconds), m (peak RSS KiB), rt, conns.
timed() {
	name=$1
	shift
	st=0
	[ -z "${BENCH_PROFILE:-}" ] || export ISAPLAY_CPUPROFILE="$cur/$name.pprof"
	/usr/bin/time -o "$cur/$name.time" -f '%e %M %U %S' "$work/isaplay" "$@" "$repo/playbooks/pattern2.hcl" \
		-i "$cur/hosts.hcl" --var-file "$cur/pattern2.vars.hcl" --host-key strict --verbose \
		>"$cur/$name.out" 2>"$cur/$name.err" || st=$?
	t=$(awk '{print $1}' "$cur/$name.time")
	m=$(awk '{print $2}' "$cur/$name.time")
	cpu=$(awk '{print $3 + $4}' "$cur/$name.time")
	# apply prints the plan's stats, then (after applying) the whole run's; the plan's are kept.
	stats=$(grep '^stats:' "$cur/$name.err" | head -n 1 || true)
	allrt=$(grep '^stats:' "$cur/$name.err" | tail -n 1 | awk 'NF {print $4}')
	conns=$(echo "$stats" | awk 'NF {print $2}')
	rt=$(echo "$stats" | awk 'NF {print $(NF-4)}')
	checks=$(echo "$stats" | awk 'NF {print $7}')
	return $st
}
# dbfloor: the database server's own time for the first apply's schema work: the Carbon schema
# script loaded, as the playbook does (one database after the other, latin1), into two scratch
# databases by the mariadb client on the server's socket, then dropped. Prints seconds.
dbfloor() {
	for d in isaplay_floor_a isaplay_floor_b; do
		mariadb -S "$MARIADB_SOCKET" -uroot -e "CREATE DATABASE $d CHARACTER SET latin1" || return 1
	done
	s=$(date +%s%N)
	for d in isaplay_floor_a isaplay_floor_b; do
		mariadb -S "$MARIADB_SOCKET" -uroot "$d" <"$REF/dbscripts/mysql5.7.sql" || return 1
	done
	e=$(date +%s%N)
	mariadb -S "$MARIADB_SOCKET" -uroot -e "DROP DATABASE isaplay_floor_a; DROP DATABASE isaplay_floor_b" || return 1
	echo "$s $e" | awk '{printf "%.3f", ($2 - $1) / 1e9}'
}
min() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
max() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }
ratio() { echo "$1 $2" | awk '{printf "%.2f", $1/$2}'; }
# top NAME: the tasks that took longest (summed over hosts) in the JSON event stream NAME.out, and
# the sum over tasks of their slowest host (the time the tasks themselves take, hosts in lockstep).
top() {
	grep '"elapsed_ms"' "$cur/$1.out" | sed -E 's/.*"play": *"([^"]*)".*"task": *"([^"]*)".*"elapsed_ms": *([0-9]+).*/\3 \1 \/ \2/' >"$cur/$1.tasks"
	awk '{ms=$1; $1=""; if (ms > mx[$0]) mx[$0]=ms} END {for (k in mx) cp+=mx[k]; printf "%8d ms: every task on its slowest host, summed over tasks\n", cp}' "$cur/$1.tasks"
	awk '{ms=$1; $1=""; sum[$0]+=ms; if (ms > mx[$0]) mx[$0]=ms; cnt[$0]++}
		END {for (k in sum) printf "%8d ms summed, %6d ms slowest host, %3d hosts:%s\n", sum[k], mx[k], cnt[k], k}' "$cur/$1.tasks" |
		sort -rn | head -n "${BENCH_TOP:-8}"
}

# osshfloor: the same floor paid with OpenSSH's client, one `ssh HOST true` per node in parallel
# (what a tool driving ssh processes starts from); printed for comparison, ratios use sshfloor.
osshfloor() {
	s=$(date +%s%N)
	for a in $an_addrs; do
		ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$cur/cluster/known_hosts" \
			-i "$cur/cluster/client_key" -p "$an_port" "root@$a" true </dev/null &
	done
	wait
	echo "$s $(date +%s%N)" | awk '{printf "%.3f", ($2 - $1) / 1e9}'
}

hdr='%-4s %-8s %-7s %-7s %-6s %-9s %-6s %-6s %-9s %-6s %-7s %-6s %-7s %s\n'
table=$(printf "$hdr" N floor_s ossh_s plan_s ratio apply1_s ratio db_s apply2_s ratio rss_MB conns checks rt/check_fresh,synced)
for n in ${*:-2 10 30}; do
	echo "== N=$n: setting up $((n + 1)) nodes, MariaDB, svnserve" >&2
	setup "$n"
	floors="" ofloors="" dbs=""
	k=0
	while [ "$k" -lt "$runs" ]; do
		floors="$floors $("$work/sshfloor" -key "$cur/cluster/client_key" -known-hosts "$cur/cluster/known_hosts" -port "$an_port" $an_addrs)"
		ofloors="$ofloors $(osshfloor)"
		dbs="$dbs $(dbfloor)" || fail "the database floor of N=$n failed"
		k=$((k + 1))
	done
	plans="" rss=""
	k=0
	while [ "$k" -lt "$runs" ]; do
		timed plan plan || { cat "$cur/plan.err" >&2; fail "plan of N=$n failed"; }
		plans="$plans $t" rss="$rss $m"
		k=$((k + 1))
	done
	c1=$conns rt1=$rt
	# The first apply, BENCH_RUNS times: `isaplay rollback` between them makes the nodes and the
	# database fresh again, and every first apply must make the same changes.
	a1s="" a1cpu="" changes=""
	k=0
	while [ "$k" -lt "$runs" ]; do
		if [ "$k" -gt 0 ]; then
			"$work/isaplay" rollback --yes --host-key strict >"$cur/rollback.out" 2>&1 || { tail -n 20 "$cur/rollback.out" >&2; fail "rollback after the first apply of N=$n failed"; }
		fi
		timed apply1 apply --yes --format json || { tail -n 20 "$cur/apply1.err" "$cur/apply1.out" >&2; fail "first apply of N=$n failed"; }
		a1s="$a1s $t" rss="$rss $m" a1cpu="$a1cpu $cpu"
		c=$(grep -c '"status":"change"' "$cur/apply1.out")
		[ -z "$changes" ] || [ "$c" = "$changes" ] || fail "first apply $((k + 1)) of N=$n made $c task-host changes, the first one $changes: the rollback did not make the nodes fresh"
		changes=$c
		k=$((k + 1))
	done
	a1=$(echo $a1s | min)
	echo "-- N=$n first apply: $a1s s wall, isaplay's own CPU $a1cpu s; $changes task-host changes, $allrt round trips in all; slowest tasks of the last:" >&2
	top apply1 >&2
	a2s=""
	k=0
	while [ "$k" -lt "$runs" ]; do
		timed apply2 apply --yes --format json || { tail -n 20 "$cur/apply2.err" >&2; fail "no-change apply of N=$n failed"; }
		if grep -q '"status": *"change"' "$cur/apply2.out"; then fail "the no-change apply of N=$n changed something (see $cur/apply2.out)"; fi
		a2s="$a2s $t" rss="$rss $m" a2cpu="${a2cpu:-} $cpu"
		k=$((k + 1))
	done
	echo "-- N=$n no-change apply: $(grep -v "^stats:" "$cur/apply2.err" | head -n 1) (isaplay's own CPU: $a2cpu s)" >&2
	a2cpu=""
	st=0
	timed plan2 plan --detailed-exitcode || st=$?
	[ "$st" -ne 2 ] || fail "the plan after the applies of N=$n is not empty (see $cur/plan2.out)"
	[ "$st" -eq 0 ] || { cat "$cur/plan2.err" >&2; fail "no-change plan of N=$n failed"; }
	f=$(echo $floors | min) p=$(echo $plans | min) a2=$(echo $a2s | min) r=$(echo $rss | max) db=$(echo $dbs | min)
	row=$(printf "$hdr" "$n" "$f" "$(echo $ofloors | min)" "$p" "$(ratio "$p" "$f")" "$a1" "$(ratio "$a1" "$f")" "$db" "$a2" "$(ratio "$a2" "$f")" \
		"$(echo "$r" | awk '{printf "%.1f", $1/1024}')" "$c1" "$checks" "$rt1,$rt")
	echo "$row" >&2
	table="$table
$row"
	teardown
done
echo "$table"
echo "(floor: min of $runs sshfloor runs over the N analytics nodes; isaplay also connects to db1. ossh_s: the same with
 OpenSSH's client, N parallel \`ssh HOST true\`, min of $runs, for comparison only. plan_s: plan on fresh"
echo " nodes, apply1_s: the first apply (rolled back between runs), apply2_s: the no-change apply, each min of $runs runs. db_s: the"
echo " database server's own time for the two Carbon schemas (mariadb client on its socket, one after the other, min of $runs),"
echo " which the first apply overlaps with the nodes' work. rss: the largest peak RSS of all. conns, checks, round trips per check:"
echo " plan --verbose on fresh nodes, then on the synced nodes)"
