#!/bin/sh
# A ForceCommand wrapper for the canary test: appends the command sshd was asked to run to the
# log file $1 (as testdata/cluster/logcmd.sh does), and copies the session's standard input to a
# fresh file in directory $2, so the test can read every script isaplay's framed shell received.
printf '%s\n' "${SSH_ORIGINAL_COMMAND-<shell>}" >>"$1"
in=$(mktemp "$2/in.XXXXXXXX")
if [ -z "${SSH_ORIGINAL_COMMAND-}" ]; then
	tee "$in" | /bin/sh -l
else
	tee "$in" | /bin/sh -c "$SSH_ORIGINAL_COMMAND"
fi
