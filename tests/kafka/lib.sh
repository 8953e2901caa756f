# lib.sh — shared set-up for the kafka tests (sourced, not run).
#
# A test sources this file, calls kt_init (which skips the test, exit 77,
# when librdkafka was not found at configure time), then kt_mock_start to
# run the mock cluster helper (mock_cluster.c); kt_ctl sends it a control
# command and waits for its answer.  The EXIT trap stops the helper and
# removes the temporary files.
#
# Environment (set by tests/kafka/meson.build):
#   SHLOG_RDKAFKA  librdkafka's version, empty if it was not found
#   MOCK_CLUSTER   the built helper (only when librdkafka was found)
# Globals after kt_init: T (temp dir).  After kt_mock_start: KT_ADDR
# (bootstrap address), KT_PID (the helper's pid).

. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

KT_PID=
KT_ADDR=
KT_NREPLY=0

# Fail the test with a message.
kt_fail()
{
	tl_err "$@"
	exit 1
}

# Skip the test (exit 77) with a reason.
kt_skip()
{
	echo "SKIP: $*"
	exit 77
}

# Skip without librdkafka or kcat; make the temp dir; install the EXIT trap.
kt_init()
{
	[ -n "${SHLOG_RDKAFKA:-}" ] ||
		kt_skip "librdkafka was not found when meson configured the build (install librdkafka-dev: scripts/setup)"
	[ -x "${MOCK_CLUSTER:-}" ] || kt_fail "MOCK_CLUSTER is not the built helper: '${MOCK_CLUSTER:-}'"
	command -v kcat >/dev/null || kt_fail "kcat is missing (scripts/setup installs it)"
	T=$(tl_tmpdir kt)
	trap kt_cleanup EXIT
}

# Stop the helper (EOF on its stdin, then TERM, then KILL): 1 if it failed.
kt_mock_stop()
{
	local rc=0
	[ -n "$KT_PID" ] || return 0
	exec 9>&-
	tl_reap 50 "$KT_PID" || { tl_err "mock_cluster did not exit at EOF"; rc=1; }
	if [ "$TL_STATUS" != 0 ]; then
		tl_err "mock_cluster exited with status $TL_STATUS"
		sed 's/^/mock_cluster: /' "$T/mock.err" >&2
		rc=1
	fi
	KT_PID=
	return $rc
}

# Stop the helper and remove $T.
kt_cleanup()
{
	local rc=$?
	kt_mock_stop || rc=1
	rm -rf "$T"
	exit "$rc"
}

# For the mount tests (t_kmount*.sh): the checks of kt_init, then
# tests/mount/lib.sh's mt_init (T, DATADIR as the cache dir, MNT, its EXIT
# trap, which stops the daemon first and then the helper).
kt_mount_init()
{
	[ -n "${SHLOG_RDKAFKA:-}" ] ||
		kt_skip "librdkafka was not found when meson configured the build (install librdkafka-dev: scripts/setup)"
	[ -x "${MOCK_CLUSTER:-}" ] || kt_fail "MOCK_CLUSTER is not the built helper: '${MOCK_CLUSTER:-}'"
	command -v kcat >/dev/null || kt_fail "kcat is missing (scripts/setup installs it)"
	. "$(dirname "${BASH_SOURCE[0]}")/../mount/lib.sh"
	mt_init
	trap kt_mount_cleanup EXIT
}

# EXIT trap of the mount tests: the daemon first (it flushes to the
# cluster), then the helper, then mt_cleanup (which would kill the helper
# as a background job) with the script's status.
kt_mount_cleanup()
{
	local rc=$?
	set +e
	if [ -n "$MT_PID" ]; then
		mt_stop_check || MT_FAILED=1
	fi
	kt_mock_stop || MT_FAILED=1
	kt_return "$rc"
	mt_cleanup
}

# Return status $1 (to hand a status on to a trap function).
kt_return() { return "$1"; }

# Partition $2 of topic $1 as kcat reads it, from offset ${3:-0} to the end.
kt_kcat()
{
	kcat -C -b "$KT_ADDR" -t "$1" -p "$2" -o "${3:-0}" -e -q 2>/dev/null
}

# Mount the cluster: mt_start with the backend's options and "$@".
kt_mount()
{
	mt_start -o "backend=kafka,brokers=${KT_ADDR//,/+}" "$@"
}

# Start the helper with arguments "$@" (e.g. -t T:3); sets KT_ADDR and KT_PID.
kt_mock_start()
{
	mkfifo "$T/mock.ctl"
	"$MOCK_CLUSTER" "$@" <"$T/mock.ctl" >"$T/mock.out" 2>"$T/mock.err" &
	KT_PID=$!
	exec 9>"$T/mock.ctl"
	tl_wait_until 100 test -s "$T/mock.out" ||
		kt_fail "mock_cluster printed no address: $(cat "$T/mock.err")"
	KT_ADDR=$(head -n 1 "$T/mock.out")
	[[ $KT_ADDR == 127.0.0.1:* ]] || kt_fail "mock_cluster printed '$KT_ADDR', not an address"
	KT_NREPLY=1
}

# Send the control command "$*"; succeed if the helper answered "ok".
kt_ctl()
{
	local reply
	echo "$*" >&9
	KT_NREPLY=$((KT_NREPLY + 1))
	tl_wait_until 100 kt_have_lines "$KT_NREPLY" || kt_fail "mock_cluster did not answer '$*'"
	reply=$(sed -n "${KT_NREPLY}p" "$T/mock.out")
	[ "$reply" = ok ] || { tl_err "mock_cluster: '$*': $reply"; return 1; }
}

# Whether the helper's stdout holds at least $1 lines.
kt_have_lines()
{
	[ "$(wc -l <"$T/mock.out")" -ge "$1" ]
}

# Whether file $1 is $2 bytes (for tl_wait_until).
kt_size_is() { [ "$(stat -c %s "$1")" = "$2" ]; }
