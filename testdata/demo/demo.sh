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
	go run ./inventory/testcluster/cmd/testcluster down -dir "$work/cluster" 2>/dev/null || true
	sh testdata/mariadb/start.sh --stop "$work/mariadb" || true
	[ -n "$svn_pid" ] && kill "$svn_pid" 2>/dev/null || true
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
"$work/testcluster" up -n "$nodes" -dir "$work/cluster" > "$work/nodes.txt"
set -- $(awk '$1 != "inventory:" && NF == 2 { print $2 }' "$work/nodes.txt")
[ $# -eq "$nodes" ] || fail "expected $nodes nodes, got: $(cat "$work/nodes.txt")"
names="db1" groups="mysql"
i=1
while [ $i -le "$nan" ]; do names="$names an$i"; groups="$groups analytics"; i=$((i + 1)); done
names="$names is1 is2" groups="$groups identity identity"
{
	echo "# Written by testdata/demo/demo.sh: the test nodes in the groups pattern2.hcl expects."
	echo "defaults {"
	echo "  user          = \"root\""
	echo "  identity_file = \"$work/cluster/client_key\""
	echo "  known_hosts   = \"$work/cluster/known_hosts\""
	echo "}"
	i=1
	for addr in "$@"; do
		name=$(echo $names | cut -d' ' -f$i)
		group=$(echo $groups | cut -d' ' -f$i)
		echo "host \"$name\" {"
		echo "  address = \"${addr%:*}\""
		echo "  port    = ${addr##*:}"
		echo "  groups  = [\"$group\"]"
		echo "  vars    = { java_home = \"/usr/lib/jvm/default-java\" }"
		echo "}"
		i=$((i + 1))
	done
} > "$work/hosts.hcl"
cat "$work/hosts.hcl" | grep -E '^host|address|groups'

# ---------------------------------------------------------------------------------------------
section "MariaDB (reached through db1) and svnserve"
rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }
port() { echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000)); }
db_pass="demo-db-$(rand)"
# A random port; another one when it is taken.
for try in 1 2 3 4 5; do
	if out=$(sh testdata/mariadb/start.sh "$work/mariadb" "$(port)" "$db_pass" 2>"$work/mariadb.err"); then break; fi
	[ "$try" -lt 5 ] || { cat "$work/mariadb.err" >&2; fail "MariaDB did not start"; }
done
eval "$out"
echo "MariaDB on $MARIADB_HOST:$MARIADB_PORT, admin $MARIADB_ADMIN_USER"

svn_pass="demo-svn-$(rand)"
mkdir -p "$work/svn"
svnadmin create "$work/svn/isan"
cat > "$work/svn/isan/conf/svnserve.conf" <<EOF
[general]
anon-access = none
auth-access = write
password-db = passwd
realm = isaplay-demo
EOF
printf '[users]\nwso2 = %s\n' "$svn_pass" > "$work/svn/isan/conf/passwd"
for try in 1 2 3 4 5; do
	svn_port=$(port)
	if svnserve -d --listen-host 127.0.0.1 --listen-port "$svn_port" -r "$work/svn" --pid-file "$work/svn/pid" 2>"$work/svn.err"; then break; fi
	[ "$try" -lt 5 ] || { cat "$work/svn.err" >&2; fail "svnserve did not start"; }
done
i=0
until [ -s "$work/svn/pid" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "svnserve did not start"; sleep 0.05; done
svn_pid=$(cat "$work/svn/pid")
echo "svnserve on svn://127.0.0.1:$svn_port/isan/ (pid $svn_pid)"

# ---------------------------------------------------------------------------------------------
section "Packs from the real WSO2 files (stand-in bin/wso2server.sh)"
go run ./cmd/isaplay/pattern2test/mkpacks -ref "$REF" -repo "$repo" -out "$work/files"
ls -l "$work/files" | tail -n +2

domain="demo$$"
cat > "$work/pattern2.vars.hcl" <<EOF
an_home           = "/opt/wso2/wso2is-analytics-5.6.0"
is_home           = "/opt/wso2/wso2is-5.6.0"
db_host           = "$MARIADB_HOST"
db_port           = $MARIADB_PORT
db_admin_user     = "$MARIADB_ADMIN_USER"
an_db_user        = "wso2an"
is_db_user        = "wso2is"
mysql_jar         = "$work/files/mysql-connector-java-5.1.47-bin.jar"
svnkit_jar        = "$work/files/svnkit-all-1.8.7.wso2v1.jar"
trilead_jar       = "$work/files/trilead-ssh2-1.0.0-build215.jar"
svn_url           = "svn://127.0.0.1:$svn_port/isan/"
svn_user          = "wso2"
an_symlink        = "/opt/wso2/is-analytics"
an_cluster_domain = "$domain.analytics.domain"
is_cluster_domain = "$domain.is.domain"
lb_host           = "is.example.com"
start_servers     = true
# The stand-in's executors never churn: a short second look at them is enough here.
spark_churn_wait  = "2s"
EOF
# Secrets come from the environment, never from a file or a command line.
export ISAPLAY_VAR_db_admin_password="$db_pass"
export ISAPLAY_VAR_an_db_password="an-$db_pass"
export ISAPLAY_VAR_is_db_password="is-$db_pass"
export ISAPLAY_VAR_admin_password="admin-$db_pass"
export ISAPLAY_VAR_svn_password="$svn_pass"
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
