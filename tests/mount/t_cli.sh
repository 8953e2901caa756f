#!/bin/bash
# Command line and life cycle: -V, -h, bad options and paths fail before
# daemonizing with a message, /proc/mounts names, SIGTERM flushes and
# exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

# Run the daemon (default: daemonizing) expecting a non-zero exit, a
# message on stderr and no mount.
expect_refused()
{
	local st=0
	timeout 15 "$SHLOGFS" "$@" >"$T/cli.out" 2>&1 || st=$?
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT"
		mt_fail "mounted despite bad arguments: shlogfs $*"
	fi
	[ "$st" != 0 ] || mt_fail "exit 0 for: shlogfs $*"
	[ "$st" != 124 ] || mt_fail "still running after 15 s: shlogfs $*"
	[ -s "$T/cli.out" ] || mt_fail "no message for: shlogfs $*"
	mt_check_sanitizer "$T/cli.out" || mt_fail "sanitizer report: shlogfs $*"
	echo "ok (exit $st: $(head -n 1 "$T/cli.out")): shlogfs $*"
}

tl_say "-V and -h"
"$SHLOGFS" -V >"$T/v.out" 2>&1 || mt_fail "-V exited $?"
grep -q '0\.1\.0' "$T/v.out" || mt_fail "-V does not print the version: $(cat "$T/v.out")"
head -n 2 "$T/v.out"
"$SHLOGFS" -h >"$T/h.out" 2>&1 || mt_fail "-h exited $?"
grep -q 'DATADIR' "$T/h.out" && grep -q 'partitions' "$T/h.out" ||
	mt_fail "-h does not describe usage and options"

tl_say "bad arguments fail before daemonizing"
expect_refused
expect_refused "$DATADIR"
expect_refused "$DATADIR" "$T/no-such-dir"
expect_refused "$DATADIR" "$MNT" -o partitions=65537   # issue 12: 0 is allowed now (topics start empty)
expect_refused "$DATADIR" "$MNT" -o sync=sometimes
expect_refused "$DATADIR" "$MNT" -o no_such_option
echo x >"$T/afile"
expect_refused "$T/afile" "$MNT"
expect_refused "$T/afile/sub" "$MNT"

tl_say "/proc/mounts shows DATADIR MOUNTPOINT fuse.shlogfs"
mt_start
line=$(grep " $MNT " /proc/mounts)
[ "$(echo "$line" | cut -d' ' -f1-3)" = "$DATADIR $MNT fuse.shlogfs" ] ||
	mt_fail "/proc/mounts: $line"
mkdir "$MNT/t"
seq 1 5000 >>"$MNT/t/0/log"

tl_say "SIGTERM: flush, clean close, exit 0, mount gone"
pid=$MT_PID
MT_PID=
kill -TERM "$pid"
tl_reap 200 "$pid" || mt_fail "daemon still running 20 s after SIGTERM"
[ "$TL_STATUS" = 0 ] || { mt_show_err "$MT_ERR"; mt_fail "exit status $TL_STATUS after SIGTERM"; }
mt_check_sanitizer "$MT_ERR" || mt_fail "sanitizer report"
if mountpoint -q "$MNT"; then
	fusermount3 -u -z "$MNT"
	mt_fail "still mounted after the daemon exited on SIGTERM"
fi
mt_start
[ "$(cat "$MNT/t/0/log" | wc -l)" = 5000 ] || mt_fail "lines after SIGTERM: $(wc -l <"$MNT/t/0/log")"
grep -E 'recovered_(bytes|msgs)_dropped' "$MNT/t/0/stats" || true
! grep -E 'recovered_(bytes|msgs)_dropped [1-9]' "$MNT/t/0/stats" || mt_fail "recovery dropped data after a clean SIGTERM"
