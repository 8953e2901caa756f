#!/bin/bash
# systemd's StandardOutput=append:PATH (docs/OPERATIONS.md, "Programs that
# write logs").  No systemd runs as PID 1 here, so what it does is done by
# hand: it opens PATH with O_WRONLY|O_CREAT|O_APPEND as root (the same
# flags as a shell's `exec >>PATH`), makes the fd the service's stdout and
# stderr, drops to User= and starts the service, whose processes share the
# open file.  Two such "services" on one partition log: one as root, one
# as an unprivileged user (on a mount without allow_other: the fd was
# opened by root), each with 2 processes writing to stdout and stderr.
# Every line is in the log once.  A PATH that is not a partition log
# cannot be created (EPERM: systemd would fail the unit with 209/STDOUT).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
mt_user
N=2000
mt_start
mkdir "$MNT/svc"
LOG=$MNT/svc/0/log

# The body of a service: 2 processes, each N lines on stdout and N on
# stderr, tagged with the service's name $1.
cat >"$T/service.sh" <<'EOF'
tag=$1 n=$2
for w in 1 2; do
	( for i in $(seq 0 $((n - 1))); do echo "$tag out$w $i"; echo "$tag err$w $i" >&2; done ) &
done
wait
EOF
chmod 755 "$T/service.sh"

tl_say "two services, StandardOutput=append: as the shell does it (exec >>LOG 2>&1), one as $TL_USER"
bash -c 'exec >>"$1" 2>&1; exec bash "$2" root "$3"' _ "$LOG" "$T/service.sh" "$N" &
a=$!
bash -c 'exec >>"$1" 2>&1; exec setpriv --reuid="$4" --regid="$4" --init-groups --inh-caps=-all bash "$2" user "$3"' \
	_ "$LOG" "$T/service.sh" "$N" "$TL_USER" &
b=$!
wait "$a" || mt_fail "the root service failed"
wait "$b" || mt_fail "the $TL_USER service failed"
for s in root user; do
	for w in 1 2; do
		seq 0 $((N - 1)) | sed "s/^/$s out$w /"
		seq 0 $((N - 1)) | sed "s/^/$s err$w /"
	done
done >"$T/want"
cl_same_lines "$LOG" "$T/want" "2 services x 2 processes x stdout and stderr"
# the user could not have opened it herself (no allow_other): the fd did it
mt_expect_err 'Permission denied' tl_as "$TL_USER" bash -c 'echo x >>"$1"' _ "$LOG"

tl_say "append: to a name that is not a partition log is refused with EPERM"
mt_expect_err 'Operation not permitted' bash -c 'exec >>"$1"' _ "$MNT/svc/0/service.log"
mt_expect_err 'Operation not permitted' bash -c 'exec >>"$1"' _ "$MNT/svc/service.log"
cl_same_lines "$LOG" "$T/want" "after the refused opens"
