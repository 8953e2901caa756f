# lib.sh — shared set-up for the mount tests (sourced, not run).
#
# A test sources this file, calls mt_init, then mt_start to mount a fresh
# data dir; the EXIT trap unmounts, checks the daemon's exit status and
# its stderr for sanitizer reports, and removes the temporary files.
#
# Environment (set by tests/mount/meson.build):
#   SHLOGFS  the built daemon      MTIO  the helper program (mtio.c)
# Globals after mt_init: T (temp dir), DATADIR, MNT.
# After mt_start: MT_PID (daemon pid), MT_ERR (its stderr file).
# What the shell tests share (tl_say, tl_wait_until, tl_reap, tl_as, the
# test users) is in tests/lib/common.sh, sourced here.

. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

MT_PID=
MT_ERR=
MT_MNT=
MT_NSTART=0
MT_FAILED=0
MT_EXTRA_CLEANUP=()

# ---- messages --------------------------------------------------------

# Fail the test with a message.
mt_fail()
{
	tl_err "$@"
	exit 1
}

# Skip the test (exit 77) with a reason.
mt_skip()
{
	echo "SKIP: $*"
	exit 77
}

# ---- set-up and clean-up ---------------------------------------------

# Check prerequisites, make the temp dirs and install the EXIT trap.
mt_init()
{
	[ -c /dev/fuse ] || mt_skip "/dev/fuse is missing"
	mt_need_exe SHLOGFS
	mt_need_exe MTIO
	T=$(tl_tmpdir mt)
	chmod 755 "$T"
	DATADIR=$T/data
	MNT=$T/mnt
	mkdir -p "$DATADIR" "$MNT"
	trap mt_cleanup EXIT
}

# Fail unless the environment variable named $1 holds an executable's path.
mt_need_exe()
{
	local v=${!1:-}
	[ -n "$v" ] && [ -x "$v" ] || mt_fail "$1='$v' is not an executable"
}

# Register a command to run at exit before the temp dir is removed.
mt_at_exit() { MT_EXTRA_CLEANUP+=("$*"); }

# EXIT trap: stop the daemon, check it, run extra clean-ups, remove T.
mt_cleanup()
{
	local rc=$? c j
	set +e
	# Background jobs (writers, tail -f) would keep the mount busy.
	for j in $(jobs -p); do
		[ "$j" = "$MT_PID" ] || kill "$j" 2>/dev/null
	done
	if [ -n "$MT_PID" ]; then
		mt_stop_check || rc=1
	fi
	for c in "${MT_EXTRA_CLEANUP[@]}"; do
		eval "$c"
	done
	# Anything still mounted under T (a failed test) goes away lazily.
	tl_unmount_below "$T"
	[ "$MT_FAILED" = 0 ] || rc=1
	rm -rf "$T"
	if [ "$rc" = 0 ]; then echo "PASS"; elif [ "$rc" != 77 ]; then
		echo "FAILED (exit $rc)"; fi
	exit "$rc"
}

# ---- the daemon ------------------------------------------------------

# Print the daemon's stderr (for a failure message).
mt_show_err()
{
	echo "----- daemon stderr ($1) -----" >&2
	tail -n 50 "$1" >&2
	echo "-----" >&2
}

# Start the daemon in the foreground on DATADIR and MNT with options "$@";
# wait (10 s at most) for the mount, failing early if the daemon died.
mt_start()
{
	[ -z "$MT_PID" ] || mt_fail "mt_start: a daemon is already running"
	MT_NSTART=$((MT_NSTART + 1))
	MT_ERR=$T/daemon.$MT_NSTART.err
	MT_MNT=$MNT
	"$SHLOGFS" -f "$DATADIR" "$MNT" "$@" >"$MT_ERR" 2>&1 &
	MT_PID=$!
	local rc=0
	tl_wait_mount 100 "$MT_PID" "$MNT" || rc=$?
	if [ "$rc" = 1 ]; then
		MT_PID=
		mt_show_err "$MT_ERR"
		mt_fail "daemon exited ($TL_STATUS) before mounting: $SHLOGFS -f $DATADIR $MNT $*"
	elif [ "$rc" != 0 ]; then
		mt_show_err "$MT_ERR"
		mt_fail "no mount at $MNT after 10 s"
	fi
}

# Fail if the file $1 holds a sanitizer report.
mt_check_sanitizer()
{
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer' "$1"; then
		mt_show_err "$1"
		echo "FAIL: sanitizer report in daemon stderr" >&2
		return 1
	fi
}

# Unmount, wait for the daemon; returns 1 (with a message) unless it exited
# 0 without a sanitizer report.  Used by mt_stop and the EXIT trap.
mt_stop_check()
{
	local pid=$MT_PID n=50 ok=0
	MT_PID=
	while mountpoint -q "$MT_MNT" && ! fusermount3 -u "$MT_MNT" 2>/dev/null; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "FAIL: fusermount3 -u $MT_MNT kept failing (busy?)" >&2
			fusermount3 -u -z "$MT_MNT"
			ok=1
			break
		fi
		sleep 0.1
	done
	if ! tl_reap 300 "$pid"; then
		echo "FAIL: daemon did not exit within 30 s of the unmount" >&2
		mt_show_err "$MT_ERR"
		return 1
	fi
	if ! mt_check_sanitizer "$MT_ERR"; then
		ok=1
	elif [ "$TL_STATUS" != 0 ]; then
		mt_show_err "$MT_ERR"
	fi
	if [ "$TL_STATUS" != 0 ]; then
		echo "FAIL: daemon exit status $TL_STATUS (expected 0)" >&2
		ok=1
	fi
	return $ok
}

# Unmount and check the daemon (fails the test on a problem).
mt_stop()
{
	mt_stop_check || mt_fail "daemon did not stop cleanly"
}

# kill -9 the daemon, then lazily unmount the dead mount.
mt_kill9()
{
	local pid=$MT_PID
	MT_PID=
	kill -9 "$pid"
	tl_reap 100 "$pid" || true
	fusermount3 -u -z "$MT_MNT" || mt_fail "fusermount3 -u -z after kill -9"
	mt_check_sanitizer "$MT_ERR" || mt_fail "sanitizer report before kill -9"
}

# ---- checks ----------------------------------------------------------

# Run "$2..." expecting failure with an error text matching the ERE $1
# (strerror text under LC_ALL=C, e.g. 'Operation not permitted').
mt_expect_err()
{
	local re=$1 out
	shift
	if out=$("$@" 2>&1); then
		mt_fail "expected failure /$re/ but it succeeded: $*"
	fi
	if ! printf '%s\n' "$out" | grep -qE "$re"; then
		mt_fail "expected /$re/ from: $*; got: $out"
	fi
	echo "ok (refused: $(printf '%s' "$out" | head -n 1)): $*"
}

# Run "$@" expecting success.
mt_expect_ok()
{
	local out
	out=$("$@" 2>&1) || mt_fail "expected success: $*; got: $out"
	echo "ok: $*"
}

# Fail unless files $1 and $2 are byte-identical.
mt_same()
{
	cmp "$1" "$2" || mt_fail "$1 and $2 differ ($(wc -c <"$1") vs $(wc -c <"$2") bytes)"
}

# Check that file $1 holds only mtio "lines" lines, each tag's numbers
# consecutive from 0; prints "TAG COUNT" per tag (sorted).  Fails on a
# torn or out-of-order line.
mt_check_lines()
{
	local out
	[ ! -s "$1" ] || [ -z "$(tail -c 1 "$1")" ] ||
		mt_fail "$1 does not end with a newline: $(tail -c 60 "$1")"
	out=$(awk '
	BEGIN { abc = "abcdefghijklmnopqrstuvwxyz" }
	{
		if (NF != 3 || length($2) != 8 || $2 !~ /^[0-9]+$/ ||
		    length($3) != 40) {
			l = $0; nul = gsub(/\000/, "@", l); gsub(/[^ -~]/, "?", l)
			printf "torn line %d (%d bytes, %d NULs shown as @; previous line: %s): %s\n", NR, length($0), nul, prev, substr(l, 1, 150)
			bad = 1; exit 1
		}
		n = $2 + 0
		c = substr(abc, n % 26 + 1, 1)
		for (i = 1; i <= 40; i++)
			if (substr($3, i, 1) != c) {
				printf "torn line %d: %s\n", NR, $0
				bad = 1; exit 1
			}
		if (n != next_n[$1] + 0) {
			printf "line %d: %s %d, expected %d (lost, duplicated or reordered)\n", NR, $1, n, next_n[$1]
			bad = 1; exit 1
		}
		next_n[$1] = n + 1
		prev = $1 " " $2
	}
	END { if (!bad) for (t in next_n) print t, next_n[t] }' "$1") ||
		mt_fail "$1: $out"
	printf '%s\n' "$out" | sort
}

# Delete the topics "$@" of the mount at MNT: one write of "NAME\n" to
# MNT/.delete each (rmdir of a topic is ENOTEMPTY); 1 at the first refused.
mt_delete()
{
	local n
	for n in "$@"; do
		printf '%s\n' "$n" >"$MNT/.delete" || return 1
	done
}

# Make sure the test users TL_USER and TL_USER2 exist (tl_user), or fail.
mt_user() { tl_user || exit 1; }
