#!/bin/sh
# A ForceCommand wrapper for test nodes: appends every command sshd is asked to run to the log
# file named by $1, then runs it as sshd would have. Tests read the log to prove that no secret
# ever appears on a command line.
printf '%s\n' "${SSH_ORIGINAL_COMMAND-<shell>}" >>"$1"
if [ -z "${SSH_ORIGINAL_COMMAND-}" ]; then
	exec /bin/sh -l
fi
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
