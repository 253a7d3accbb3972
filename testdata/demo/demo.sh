#!/bin/sh
# `make demo`: WSO2 deployment pattern 2 (playbooks/pattern2.hcl) on a test cluster on this
# machine. Five real sshd nodes (mysql host, two IS Analytics nodes, two IS nodes), a private
# MariaDB, a real svnserve for the deployment synchronizer, and product packs built from the real
# WSO2 reference files with the stand-in server (testdata/standin) as bin/wso2server.sh.
# It runs plan, apply, shows the HA and Spark checks, applies again (no changes) and tears
# everything down. Needs root (the nodes' mount namespaces) and `make deps`.
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
ISAPLAY=${ISAPLAY:-$repo/bin/isaplay}
REF=${ISAPLAY_WSO2_REFERENCE:-$repo/../shared/wso2-reference}
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

. "$repo/testdata/demo/services.sh"
section() { printf '\n\033[1m==== %s ====\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

[ -x "$ISAPLAY" ] || fail "$ISAPLAY not found: run make build"
[ -f "$REF/repository/conf/carbon.xml" ] || fail "WSO2 reference files not found in $REF (set ISAPLAY_WSO2_REFERENCE)"
[ "$(id -u)" -eq 0 ] || fail "run as root: the test nodes use mount namespaces"

work=$(mktemp -d /tmp/isaplay-demo.XXXXXX)
svn_pid=""
cleanup() {
	status=$?
	if [ -n "${DEMO_KEEP:-}" ]; then echo "kept $work (DEMO_KEEP)"; exit "$status"; fi
	section "Tear down"
	stop_services "$work/testcluster" "$work" "$work/mariadb" "$svn_pid"
	rm -rf "$work"
	echo "removed the nodes, MariaDB, svnserve and $work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
section "Test nodes: sshd hosts (mysql, analytics, identity), each with its own /opt"
go build -o "$work/testcluster" ./inventory/testcluster/cmd/testcluster
# DEMO_ANALYTICS=N runs the same playbook on N analytics nodes (default 2).
nan=${DEMO_ANALYTICS:-2}
nodes=$((nan + 3))
cluster_up "$work/testcluster" "$nodes" "$work" || fail "expected $nodes nodes, got: $(cat "$work/nodes.txt")"
names="db1/mysql"
i=1
while [ $i -le "$nan" ]; do names="$names an$i/analytics"; i=$((i + 1)); done
{
	echo "# Written by testdata/demo/demo.sh: the test nodes in the groups pattern2.hcl expects."
	hosts_hcl "$work" "$names is1/identity is2/identity" $node_addrs
} > "$work/hosts.hcl"
cat "$work/hosts.hcl" | grep -E '^host|address|groups'

# ---------------------------------------------------------------------------------------------
section "MariaDB (reached through db1) and svnserve"
db_pass="demo-db-$(rand)"
start_mariadb "$work/mariadb" "$db_pass" "$work/mariadb.err" || fail "MariaDB did not start"
echo "MariaDB on $MARIADB_HOST:$MARIADB_PORT, admin $MARIADB_ADMIN_USER"

svn_pass="demo-svn-$(rand)"
start_svnserve "$work/svn" "$svn_pass" isaplay-demo "$work/svn.err" || fail "svnserve did not start"
echo "svnserve on svn://127.0.0.1:$svn_port/isan/ (pid $svn_pid)"

# ---------------------------------------------------------------------------------------------
section "Packs from the real WSO2 files (stand-in bin/wso2server.sh)"
go run ./cmd/isaplay/pattern2test/mkpacks -ref "$REF" -repo "$repo" -out "$work/files"
ls -l "$work/files" | tail -n +2

domain="demo$$"
{
	analytics_vars "$work/files" "$domain"
	cat <<EOF
is_home           = "/opt/wso2/wso2is-5.6.0"
is_db_user        = "wso2is"
is_cluster_domain = "$domain.is.domain"
lb_host           = "is.example.com"
start_servers     = true
# The stand-in's executors never churn: a short second look at them is enough here.
spark_churn_wait  = "2s"
EOF
} > "$work/pattern2.vars.hcl"
# Secrets come from the environment, never from a file or a command line.
export_secrets "$db_pass" "$svn_pass"
export ISAPLAY_VAR_is_db_password="is-$db_pass"
export ISAPLAY_STATE_DIR="$work/state"
run() { "$ISAPLAY" "$@" playbooks/pattern2.hcl -i "$work/hosts.hcl" --var-file "$work/pattern2.vars.hcl" --host-key strict; }

# ---------------------------------------------------------------------------------------------
section "isaplay plan (the exact change, nothing written)"
run plan > "$work/plan.txt"
# The whole plan is long (every diff of every node): its start, then the summary.
head -n 140 "$work/plan.txt"
echo "  [... $(wc -l < "$work/plan.txt") lines in all ...]"
grep -E '^Plan:' "$work/plan.txt"
for secret in "$db_pass" "$svn_pass"; do
	if grep -q -- "$secret" "$work/plan.txt"; then fail "the plan shows a password"; fi
done
echo "(no password appears in the plan)"

# ---------------------------------------------------------------------------------------------
section "isaplay apply --yes (configure, start an1 then an2, then is1 then is2, verify)"
start=$(date +%s)
run apply --yes | tee "$work/apply.txt" | grep -vE '^\s*$' | grep -vE '^\s+[-+ @]' | tail -n 150
echo "apply took $(( $(date +%s) - start )) s"

section "HA and Spark checks"
grep -E '^ *[=>] verify (analytics|identity) / ' "$work/apply.txt" || true
n=2
while [ $n -le $((nan + 1)) ]; do
	root="$work/cluster/n$n/opt/wso2/wso2is-analytics-5.6.0/repository/logs/wso2carbon.log"
	echo "--- an$((n - 1)):"
	grep -oE 'Became CEP HA (Active|Passive) Member|Started SPARK (MASTER|WORKER) in \S+|Started Spark CLIENT in the cluster pointing to MASTER \S+|Member joined \S+ \S+|My Analytics Node ID: \S+|Checked out using SVN Kit|WSO2 Carbon started in [0-9]+ sec' "$root" | sort -u
	n=$((n + 1))
done

# ---------------------------------------------------------------------------------------------
section "isaplay apply again: nothing to change"
run apply --yes > "$work/apply2.txt"
grep -E '^(Plan|Applied|No changes)' "$work/apply2.txt" || tail -n 3 "$work/apply2.txt"
if grep -qE '^\s*[~+-] ' "$work/apply2.txt"; then fail "the second apply changed something"; fi
echo "second apply: zero changes"
