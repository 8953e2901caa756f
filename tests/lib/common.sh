# common.sh — what the shell tests share (sourced, not run): messages,
# temporary directories, bounded waits for a condition, a process or a
# mount, unmounting what a test left, and the unprivileged test users.
# Sourced by tests/mount/lib.sh (the mount tests) and
# tests/ctl/test_shlogctl.sh; each decides what a failure does (the mount
# tests stop at the first, the shlogctl test counts them).
#
# Globals set here: TL_STATUS (tl_reap, tl_wait_mount), TL_USER and
# TL_USER2 (tl_user).

export LC_ALL=C

# ---- messages --------------------------------------------------------

# Print a progress line.
tl_say() { echo "--- $*"; }

# Print a failure line on stderr (the caller counts it or exits).
tl_err() { echo "FAIL: $*" >&2; }

# ---- temporary directories ---------------------------------------------

# Make a fresh directory /tmp/shlog-$1.XXXXXX (mode 0700) and print its path.
tl_tmpdir() { mktemp -d "/tmp/shlog-$1.XXXXXX"; }

# ---- bounded waits -----------------------------------------------------

# Wait up to $1 tenths of a second for the command "$2..." to succeed.
tl_wait_until()
{
	local n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Wait (bounded, $1 tenths of a second) for process $2 to exit; its status
# in TL_STATUS; returns 1 if it did not exit (it is then killed).
tl_reap()
{
	local n=$1 pid=$2
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			TL_STATUS=killed
			return 1
		fi
		sleep 0.1
	done
	TL_STATUS=0
	wait "$pid" || TL_STATUS=$?
}

# Wait up to $1 tenths of a second until $3 is a mount point, as long as
# the daemon $2 lives: 0 mounted; 1 the daemon exited first (its status in
# TL_STATUS); 2 no mount in time.
tl_wait_mount()
{
	local n=$1 pid=$2 mnt=$3
	while ! mountpoint -q "$mnt"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			TL_STATUS=0
			wait "$pid" || TL_STATUS=$?
			return 1
		fi
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 2
		sleep 0.1
	done
}

# Lazily unmount everything mounted below directory $1 (a failed test's).
tl_unmount_below()
{
	awk -v t="$1/" 'index($2, t) == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do
			fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
		done
}

# ---- users -------------------------------------------------------------

# Make sure the unprivileged test users exist: shlogtest in TL_USER, and a
# second one, shlogtest2, in TL_USER2; 1 (with a message) if one cannot be made.
tl_user()
{
	local u
	TL_USER=shlogtest
	TL_USER2=shlogtest2
	for u in "$TL_USER" "$TL_USER2"; do
		id "$u" >/dev/null 2>&1 ||
			useradd -M -r -s /usr/sbin/nologin "$u" ||
			{ tl_err "useradd $u failed"; return 1; }
	done
}

# Run "$2..." as user $1 (a name or a uid; its own group, no capabilities).
tl_as()
{
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups --inh-caps=-all "$@"
}
