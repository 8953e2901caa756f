#!/bin/bash
# mount -t fuse.shlogfs and an fstab line (with fstab-only words).  Needs
# shlogfs in a system PATH directory: the built binary is symlinked into
# /usr/local/bin for the test and removed after.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
LINK=/usr/local/bin/shlogfs
if [ -e "$LINK" ] || [ -L "$LINK" ]; then
	[ "$(readlink -f "$LINK")" = "$(readlink -f "$SHLOGFS")" ] ||
		mt_skip "$LINK exists and is not this build; not replacing it (mount -t case not run)"
else
	ln -s "$(readlink -f "$SHLOGFS")" "$LINK" || mt_skip "cannot create $LINK (mount -t case not run)"
	mt_at_exit "rm -f '$LINK'"
fi
mt_at_exit "mountpoint -q '$MNT' && fusermount3 -u '$MNT'"

# Lock held on DATADIR/.lock? (the daemonized process still has the store)
locked() { ! flock -n "$DATADIR/.lock" true 2>/dev/null; }
unlocked() { ! locked; }

# Unmount a daemonized mount and wait (bounded) for the daemon to let go.
umount_daemon()
{
	fusermount3 -u "$MNT" || mt_fail "fusermount3 -u $MNT"
	tl_wait_until 200 unlocked || mt_fail "daemon still holds the data dir 20 s after unmount"
}

tl_say "mount -t fuse.shlogfs DATADIR MNT -o partitions=2"
mount -t fuse.shlogfs "$DATADIR" "$MNT" -o partitions=2 ||
	mt_fail "mount -t fuse.shlogfs exited $?"
mountpoint -q "$MNT" || mt_fail "not a mount point after mount returned"
line=$(grep " $MNT " /proc/mounts)
echo "$line"
[ "$(echo "$line" | cut -d' ' -f1-3)" = "$DATADIR $MNT fuse.shlogfs" ] ||
	mt_fail "/proc/mounts shows '$line'"
mkdir "$MNT/t"
[ -d "$MNT/t/1" ] || mt_fail "-o partitions=2 not applied via mount -t"
echo "via mount -t" >>"$MNT/t/0/log"
[ "$(cat "$MNT/t/0/log")" = "via mount -t" ] || mt_fail "read back"
umount_daemon

tl_say "an fstab line with noauto,_netdev,nofail (mount -T FSTAB MNT)"
printf '%s %s fuse.shlogfs noauto,_netdev,nofail,x-systemd.automount,partitions=3 0 0\n' \
	"$DATADIR" "$MNT" >"$T/fstab"
mount -T "$T/fstab" "$MNT" || mt_fail "mount from the fstab line exited $?"
mountpoint -q "$MNT" || mt_fail "fstab mount: not a mount point"
[ "$(cat "$MNT/t/0/log")" = "via mount -t" ] || mt_fail "data after fstab mount"
mkdir "$MNT/u"
[ -d "$MNT/u/2" ] || mt_fail "-o partitions=3 not applied from fstab"
echo "via fstab" >>"$MNT/u/0/log"
umount "$MNT" || mt_fail "umount $MNT exited $?"
tl_wait_until 200 unlocked || mt_fail "daemon still holds the data dir 20 s after umount"

tl_say "mount -v -n -t fuse.shlogfs (through mount.fuse3): accepted"
out=$(mount -v -n -t fuse.shlogfs "$DATADIR" "$MNT" 2>&1) ||
	mt_fail "mount -v -n -t fuse.shlogfs exited $?: $out"
mountpoint -q "$MNT" || mt_fail "mount -v -n: not a mount point"
[ "$(cat "$MNT/t/0/log")" = "via mount -t" ] || mt_fail "data after mount -v -n"
umount_daemon

# With the daemon as /sbin/mount.fuse.shlogfs (meson install --prefix=/usr
# makes this link), mount(8) runs it directly and passes its own flags:
# "DATADIR MNT -v -o rw" for -v, "-n", "-s" likewise.
HELPER=/sbin/mount.fuse.shlogfs
helper_flags=("-v" "-v -n" "-s" "-n -s -v")
if [ -e "$HELPER" ] || [ -L "$HELPER" ]; then
	if [ "$(readlink -f "$HELPER")" != "$(readlink -f "$SHLOGFS")" ]; then
		echo "note: $HELPER exists and is not this build: not replaced, mount -v through it not run"
		helper_flags=()
	fi
else
	ln -s "$(readlink -f "$SHLOGFS")" "$HELPER" || mt_fail "cannot create $HELPER"
	mt_at_exit "rm -f '$HELPER'"
fi
for flags in "${helper_flags[@]}"; do
	tl_say "mount $flags -t fuse.shlogfs DATADIR MNT -o partitions=2 (through $HELPER)"
	# shellcheck disable=SC2086
	out=$(mount $flags -t fuse.shlogfs "$DATADIR" "$MNT" -o partitions=2 2>&1) ||
		mt_fail "mount $flags through $HELPER exited $?: $out"
	mountpoint -q "$MNT" || mt_fail "mount $flags: not a mount point"
	case " $flags " in
	*" -v "*)
		[ "$out" = "shlogfs: $DATADIR mounted on $MNT" ] ||
			mt_fail "mount $flags printed '$out', expected 'shlogfs: $DATADIR mounted on $MNT'" ;;
	*)	[ -z "$out" ] || mt_fail "mount $flags printed '$out'" ;;
	esac
	echo "$flags" >>"$MNT/u/1/log"
	umount_daemon
done

tl_say "everything survives (foreground daemon)"
mt_start
[ "$(cat "$MNT/t/0/log")" = "via mount -t" ] || mt_fail "t after remount"
[ "$(cat "$MNT/u/0/log")" = "via fstab" ] || mt_fail "u after remount"
printf '%s\n' "${helper_flags[@]}" >"$T/u1.want"
[ ${#helper_flags[@]} -gt 0 ] || : >"$T/u1.want"
mt_same "$MNT/u/1/log" "$T/u1.want"
echo "note: the daemonized runs' stderr goes to /dev/null or syslog: not checked for sanitizer reports"
