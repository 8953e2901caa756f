#!/bin/bash
# The data dir is the daemon's: the mount's modes and owners live in each
# topic's meta file (the real directories stay 0700 root), and what is
# planted in the data dir sets one topic aside (EUCLEAN, named in the log
# and .status) while the mount starts and serves every other topic.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
uid=$(id -u "$U")
EUCLEAN='Structure needs cleaning'
EACCES='Permission denied'

# The real mode and owner of a path in the data dir: "700 0".
real() { stat -c '%a %u' "$1"; }

tl_say "chmod/chown through the mount change what the mount shows, not the data dir"
mt_start -o allow_other
mkdir "$MNT/t" "$MNT/good" "$MNT/gap" "$MNT/m" "$MNT/k" "$MNT/a"
printf 'user1\tk line\n' >>"$MNT/k/0/log"
echo "a line" >>"$MNT/a/0/log"
echo "secret line" >>"$MNT/t/0/log"
echo "good line" >>"$MNT/good/0/log"
chown "$U:$U" "$MNT/t" "$MNT/t/0"
chmod 750 "$MNT/t"
tl_as "$U" chmod 700 "$MNT/t/0" || mt_fail "the owner cannot chmod its partition"
[ "$(stat -c '%a %u' "$MNT/t")" = "750 $uid" ] || mt_fail "mount shows t as $(stat -c '%a %u' "$MNT/t")"
[ "$(stat -c '%a %u' "$MNT/t/0")" = "700 $uid" ] || mt_fail "mount shows t/0 as $(stat -c '%a %u' "$MNT/t/0")"
for d in "$DATADIR/t" "$DATADIR/t/0" "$DATADIR/good" "$DATADIR/good/0"; do
	[ "$(real "$d")" = "700 0" ] || mt_fail "$d is $(real "$d"), not 700 root"
done
[ "$(stat -c '%a %F' "$DATADIR/t/meta")" = "600 regular file" ] ||
	mt_fail "meta: $(stat -c '%a %F' "$DATADIR/t/meta")"
mt_expect_err "$EACCES" tl_as "$U" cat "$DATADIR/t/0/00000000000000000000.log"
mt_expect_err "$EACCES" tl_as "$U" touch "$DATADIR/t/0/planted"
[ "$(tl_as "$U" cat "$MNT/t/0/log")" = "secret line" ] || mt_fail "the owner cannot read t/0/log"

tl_say "a topic with the longest name (249 bytes) is made and deleted"
long=$(printf 'n%.0s' $(seq 249))
mkdir "$MNT/$long"
echo "long line" >>"$MNT/$long/0/log"
mt_delete "$long" || mt_fail "a 249-byte topic cannot be deleted"
[ ! -e "$MNT/$long" ] && [ ! -e "$DATADIR/$long" ] || mt_fail "the 249-byte topic is still there"
! ls -A "$DATADIR" | grep -q '^\.\(del\|new\)-' || mt_fail "temporaries left: $(ls -A "$DATADIR")"
mt_stop

tl_say "a remount keeps the mount's modes and owners"
mt_start -o allow_other
[ "$(stat -c '%a %u' "$MNT/t")" = "750 $uid" ] || mt_fail "after remount t is $(stat -c '%a %u' "$MNT/t")"
[ "$(stat -c '%a %u' "$MNT/t/0")" = "700 $uid" ] || mt_fail "after remount t/0 is $(stat -c '%a %u' "$MNT/t/0")"
mt_stop

tl_say "plant an empty topic, a FIFO, a gap and a FIFO meta file"
mkdir "$DATADIR/empty"
mkfifo "$DATADIR/fifo"
mkdir "$DATADIR/gap/2"
rm "$DATADIR/m/meta"
mkfifo "$DATADIR/m/meta"
touch "$DATADIR/good/1"          # not a partition: left alone
rm -f "$DATADIR/k/0/keys"
mkfifo "$DATADIR/k/0/keys"       # the issue's reproducer: the mount hung at start
rm "$DATADIR/a/0/anchor"
mkfifo "$DATADIR/a/0/anchor"
mt_start -o allow_other          # a FIFO opened blocking would hang here
echo "still served" >>"$MNT/good/0/log"
[ "$(cat "$MNT/good/0/log")" = "good line
still served" ] || mt_fail "good/0/log: $(cat "$MNT/good/0/log")"
[ "$(cat "$MNT/t/0/log")" = "secret line" ] || mt_fail "t/0/log: $(cat "$MNT/t/0/log")"
printf 'user2\tk again\n' >>"$MNT/k/0/log"   # its keys are rebuilt from the log
[ "$(cat "$MNT/k/0/keys/user1")" = "k line" ] || mt_fail "k/0/keys/user1: $(cat "$MNT/k/0/keys/user1")"
for n in empty fifo gap m a; do
	mt_expect_err "$EUCLEAN" stat "$MNT/$n"
	mt_expect_err "$EUCLEAN" sh -c "echo x >>'$MNT/$n/log'"
	ls "$MNT" | grep -qx "$n" || mt_fail "$n is not listed at the root"
	grep -q "topic $n set aside" "$MT_ERR" || mt_fail "the log does not name $n"
done
mt_expect_err "$EUCLEAN" mkdir "$MNT/empty"
kill -0 "$MT_PID" || mt_fail "the daemon died"
st=$(cat "$MNT/.status")
printf '%s\n' "$st" | grep -q "^health: ERROR (0 partitions with an error, 5 topics set aside)" ||
	mt_fail ".status health: $(printf '%s\n' "$st" | grep health)"
printf '%s\n' "$st" | grep -q "^set aside: empty: it has no partitions" || mt_fail ".status: no line for empty"
printf '%s\n' "$st" | grep -q "^set aside: fifo: not a directory" || mt_fail ".status: no line for fifo"
printf '%s\n' "$st" | grep -q "^set aside: gap: partitions are not numbered 0..2 without gaps" ||
	mt_fail ".status: no line for gap"
printf '%s\n' "$st" | grep -q "^set aside: m: meta: not a regular file" || mt_fail ".status: no line for m"
printf '%s\n' "$st" | grep -q "^set aside: a (partition 0): " || mt_fail ".status: no line for a"
grep -q "topic good: 1 is not a partition: left alone" "$MT_ERR" || mt_fail "the stray good/1 is not named"
mt_stop

tl_say "-o repair rebuilds the meta file; a gap stays set aside"
mt_start -o allow_other,repair
echo "m again" >>"$MNT/m/0/log"
[ "$(cat "$MNT/m/0/log")" = "m again" ] || mt_fail "m/0/log after repair: $(cat "$MNT/m/0/log")"
[ -f "$DATADIR/m/meta" ] && [ ! -p "$DATADIR/m/meta" ] || mt_fail "repair did not rebuild m/meta"
mt_expect_err "$EUCLEAN" stat "$MNT/gap"
mt_expect_err "$EUCLEAN" stat "$MNT/empty"
[ -d "$DATADIR/gap/2" ] && [ -d "$DATADIR/empty" ] || mt_fail "repair removed a set-aside topic"
mt_stop

tl_say "a data dir shlogfs makes is 0700 (the mount's root then too)"
DATADIR=$T/fresh
mt_start
[ "$(real "$DATADIR")" = "700 0" ] || mt_fail "new data dir is $(real "$DATADIR")"
[ "$(stat -c %a "$MNT")" = 700 ] || mt_fail "mount root of a new data dir is $(stat -c %a "$MNT")"
mt_stop
echo "PASS"
