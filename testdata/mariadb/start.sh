#!/bin/sh
# Start a private MariaDB for demos and end-to-end tests: its own data directory, bound to
# 127.0.0.1 on the given port, root reachable on the socket only, and an admin user with a
# password for TCP logins. Needs Debian's mariadb-server package (apt-get install mariadb-server).
#
#   MARIADB_ADMIN_PASSWORD=... testdata/mariadb/start.sh DIR [PORT]   start; prints KEY=VALUE lines
#   testdata/mariadb/start.sh --stop DIR                     stop the server started in DIR
#
# It never touches a system MariaDB: everything lives under DIR, and --stop signals only the
# pid recorded in DIR/pid.
set -eu

PATH="$PATH:/usr/sbin:/usr/local/sbin"

if [ "${1:-}" = "--stop" ]; then
	dir=${2:?usage: start.sh --stop DIR}
	if [ -f "$dir/pid" ]; then
		pid=$(cat "$dir/pid")
		kill "$pid" 2>/dev/null || true
		# Wait for the shutdown to finish (the pid file goes away when it has).
		i=0
		while kill -0 "$pid" 2>/dev/null; do
			i=$((i + 1))
			[ "$i" -lt 600 ] || { echo "mariadbd $pid did not stop" >&2; exit 1; }
			sleep 0.1
		done
	fi
	exit 0
fi

dir=${1:?usage: MARIADB_ADMIN_PASSWORD=... start.sh DIR [PORT]}
port=${2:-3306}
# The password comes in the environment, never on a command line (ps shows those).
pass=${MARIADB_ADMIN_PASSWORD:-isaplay-demo}
user_opt=""
[ "$(id -u)" -eq 0 ] && user_opt="--user=root"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/sock"
# A private temporary directory: servers started at once must not share /tmp's temporary files.
mkdir -p "$dir/tmp"
if [ ! -d "$dir/data/mysql" ]; then
	mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve $user_opt >"$dir/install.log" 2>&1 ||
		{ cat "$dir/install.log" >&2; exit 1; }
fi

mariadbd --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$sock" --pid-file="$dir/pid" \
	--bind-address=127.0.0.1 --port="$port" --skip-name-resolve --skip-log-bin \
	--innodb-buffer-pool-size=32M --log-error="$dir/error.log" $user_opt 2>>"$dir/stderr.log" &

# Ready when the error log says so (or fail when the server died).
i=0
until grep -q "ready for connections" "$dir/error.log" 2>/dev/null; do
	if ! kill -0 $! 2>/dev/null; then
		cat "$dir/error.log" >&2
		exit 1
	fi
	i=$((i + 1))
	[ "$i" -lt 1200 ] || { echo "mariadbd not ready after 2 minutes" >&2; exit 1; }
	sleep 0.1
done

# The admin password goes to the client on stdin, never on a command line.
esc=$(printf '%s' "$pass" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")
mariadb --no-defaults --socket="$sock" -uroot <<SQL
CREATE USER IF NOT EXISTS 'isaplay_admin'@'127.0.0.1' IDENTIFIED BY '$esc';
GRANT ALL PRIVILEGES ON *.* TO 'isaplay_admin'@'127.0.0.1' WITH GRANT OPTION;
SQL

echo "MARIADB_DIR=$dir"
echo "MARIADB_HOST=127.0.0.1"
echo "MARIADB_PORT=$port"
echo "MARIADB_ADMIN_USER=isaplay_admin"
echo "MARIADB_SOCKET=$sock"
