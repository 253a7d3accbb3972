# The test environment shared by testdata/demo/demo.sh and testdata/bench/pattern2.sh, sourced by
# both (POSIX sh, `. testdata/demo/services.sh`): sshd test nodes, a private MariaDB and svnserve,
# and the parts of their inventory and pattern2 vars file that do not depend on the caller.
# The functions expect the repository's root as the current directory. They never exit: on
# failure they print what the failed program said to stderr and return 1, and the caller decides
# what to say. Their own scratch variables start with svc_; what else they set is documented.

# rand: 12 random hex digits (for passwords and names).
rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# port: a random TCP port in 20000-39999 (the callers try another one when it is taken).
port() { echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000)); }

# cluster_up TESTCLUSTER N BASE: starts N test nodes with the testcluster binary TESTCLUSTER in
# BASE/cluster, its listing in BASE/nodes.txt. Sets node_addrs to the nodes' HOST:PORT addresses,
# space separated, in order. Returns 1 when the listing does not name N nodes.
cluster_up() {
	"$1" up -n "$2" -dir "$3/cluster" >"$3/nodes.txt" || return 1
	node_addrs=$(awk '$1 != "inventory:" && NF == 2 { print $2 }' "$3/nodes.txt" | tr '\n' ' ') || return 1
	[ "$(echo $node_addrs | wc -w)" -eq "$2" ]
}

# hosts_hcl BASE NODES ADDR...: writes to stdout an inventory of the nodes of cluster_up's BASE:
# the defaults (root, BASE/cluster's client key and known_hosts), then one host per ADDR
# (HOST:PORT), named and grouped by the next word NAME/GROUP of NODES ("db1/mysql an1/analytics").
hosts_hcl() {
	svc_base=$1 svc_nodes=$2
	shift 2
	echo "defaults {"
	echo "  user          = \"root\""
	echo "  identity_file = \"$svc_base/cluster/client_key\""
	echo "  known_hosts   = \"$svc_base/cluster/known_hosts\""
	echo "}"
	for svc_addr in "$@"; do
		svc_node=${svc_nodes%% *}
		svc_nodes=${svc_nodes#"$svc_node"}
		svc_nodes=${svc_nodes# }
		echo "host \"${svc_node%/*}\" {"
		echo "  address = \"${svc_addr%:*}\""
		echo "  port    = ${svc_addr##*:}"
		echo "  groups  = [\"${svc_node#*/}\"]"
		echo "  vars    = { java_home = \"/usr/lib/jvm/default-java\" }"
		echo "}"
	done
}

# start_mariadb DIR ADMIN_PASSWORD ERRFILE: starts testdata/mariadb/start.sh's private MariaDB in
# DIR on a random port, on another one when that fails (five tries), its stderr in ERRFILE. Sets
# the MARIADB_* variables start.sh prints (MARIADB_HOST, MARIADB_PORT, MARIADB_ADMIN_USER, ...).
start_mariadb() {
	for svc_try in 1 2 3 4 5; do
		if svc_out=$(MARIADB_ADMIN_PASSWORD=$2 sh testdata/mariadb/start.sh "$1" "$(port)" 2>"$3"); then
			eval "$svc_out"
			return 0
		fi
	done
	cat "$3" >&2
	return 1
}

# start_svnserve DIR SVN_PASSWORD REALM ERRFILE: creates the repository DIR/isan, writable by
# the user wso2 with SVN_PASSWORD (in its passwd file, never on a command line), and serves DIR
# with svnserve on 127.0.0.1 on a random port (five tries), its stderr in ERRFILE. Sets svn_port
# and, once svnserve has written its pid file DIR/pid, svn_pid.
start_svnserve() {
	mkdir -p "$1" && svnadmin create "$1/isan" || return 1
	printf '[general]\nanon-access = none\nauth-access = write\npassword-db = passwd\nrealm = %s\n' "$3" \
		>"$1/isan/conf/svnserve.conf" || return 1
	printf '[users]\nwso2 = %s\n' "$2" >"$1/isan/conf/passwd" || return 1
	svc_try=1
	until svn_port=$(port) && svnserve -d --listen-host 127.0.0.1 --listen-port "$svn_port" -r "$1" \
		--pid-file "$1/pid" 2>"$4"; do
		svc_try=$((svc_try + 1))
		[ "$svc_try" -le 5 ] || { cat "$4" >&2; return 1; }
	done
	# svnserve -d returns before its daemon has written the pid file.
	svc_try=0
	until [ -s "$1/pid" ]; do
		svc_try=$((svc_try + 1))
		[ "$svc_try" -lt 100 ] || { echo "svnserve wrote no pid file $1/pid" >&2; return 1; }
		sleep 0.05
	done
	svn_pid=$(cat "$1/pid")
}

# analytics_vars FILES DOMAIN: writes to stdout the pattern2 vars of the analytics part, for the
# MariaDB of start_mariadb, the svnserve of start_svnserve, the packs in FILES and the cluster
# domain DOMAIN.analytics.domain. The caller adds its own (start_servers, the IS part).
analytics_vars() {
	cat <<EOF
an_home           = "/opt/wso2/wso2is-analytics-5.6.0"
db_host           = "$MARIADB_HOST"
db_port           = $MARIADB_PORT
db_admin_user     = "$MARIADB_ADMIN_USER"
an_db_user        = "wso2an"
mysql_jar         = "$1/mysql-connector-java-5.1.47-bin.jar"
svnkit_jar        = "$1/svnkit-all-1.8.7.wso2v1.jar"
trilead_jar       = "$1/trilead-ssh2-1.0.0-build215.jar"
svn_url           = "svn://127.0.0.1:$svn_port/isan/"
svn_user          = "wso2"
an_symlink        = "/opt/wso2/is-analytics"
an_cluster_domain = "$2.analytics.domain"
EOF
}

# export_secrets DB_PASSWORD SVN_PASSWORD: exports the analytics part's passwords as
# ISAPLAY_VAR_* (never in a file or on a command line), the database users' derived from
# DB_PASSWORD.
export_secrets() {
	export ISAPLAY_VAR_db_admin_password="$1"
	export ISAPLAY_VAR_an_db_password="an-$1"
	export ISAPLAY_VAR_admin_password="admin-$1"
	export ISAPLAY_VAR_svn_password="$2"
}

# stop_services TESTCLUSTER BASE DBDIR SVN_PID: stops what the functions above started: the test
# nodes of BASE, the MariaDB in DBDIR and svnserve SVN_PID (when not empty). It goes on past a
# failure, so that it can run from a trap after a partial start.
stop_services() {
	[ ! -x "$1" ] || "$1" down -dir "$2/cluster" 2>/dev/null || true
	sh testdata/mariadb/start.sh --stop "$3" || true
	[ -z "$4" ] || kill "$4" 2>/dev/null || true
}
