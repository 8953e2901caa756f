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

# Stop the helper (EOF on its stdin, then TERM, then KILL) and remove $T.
kt_cleanup()
{
	local rc=$?
	if [ -n "$KT_PID" ]; then
		exec 9>&-
		tl_reap 50 "$KT_PID" || { tl_err "mock_cluster did not exit at EOF"; rc=1; }
		if [ "$TL_STATUS" != 0 ]; then
			tl_err "mock_cluster exited with status $TL_STATUS"
			sed 's/^/mock_cluster: /' "$T/mock.err" >&2
			rc=1
		fi
	fi
	rm -rf "$T"
	exit "$rc"
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
