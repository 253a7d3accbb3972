#!/bin/sh
# Installs what the test cluster and the end-to-end tests need on a Debian machine:
# OpenSSH's sshd, MariaDB, Subversion (svnserve), sudo, socat and openssl (the Carbon stand-in
# serves the Spark web UIs and the analytics API with them), and nginx (the IS load balancer the
# playbooks configure; policy-rc.d below keeps its service from starting). Idempotent: packages
# already installed are left alone, and apt-get runs only when something is missing.
set -eu

pkgs="openssh-server mariadb-server subversion sudo socat openssl nginx"
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start services on the controller: the tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	created_policy=1
fi
cleanup() {
	if [ -n "$created_policy" ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT

# Another apt-get may hold the lock (parallel CI jobs): wait for it rather than fail.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing
