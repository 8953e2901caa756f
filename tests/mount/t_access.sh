#!/bin/bash
# What the daemon checks itself (issue 10, section 3), as two unprivileged
# users under -o allow_other: <topic>/log needs every partition's
# permission, deleting a topic (/.delete) needs owning it and all its partitions,
# /.metrics and /.status show each reader only what it may read, a
# partition made in a setgid topic takes its group and setgid bit, and
# the per-user limits on topics and partitions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
V=$TL_USER2
uid=$(id -u "$U")
vid=$(id -u "$V")
EACCES='Permission denied'
EPERM='Operation not permitted'
EDQUOT='Disk quota exceeded'

mt_start -o allow_other,partitions=2
M=$MNT
dmode=$(stat -c %a "$DATADIR")
chmod 777 "$M"   # the mount root's mode is shlog's (DATADIR/.meta), not the data dir's
[ "$(stat -c %a "$M")" = 777 ] || mt_fail "root mode $(stat -c %a "$M")"
[ "$(stat -c %a "$DATADIR")" = "$dmode" ] || mt_fail "chmod of the mount root changed the data dir: $(stat -c %a "$DATADIR")"

tl_say "<topic>/log reads: every partition must be readable"
mkdir "$M/t"
echo "open line" >>"$M/t/0/log"
echo "secret line" >>"$M/t/1/log"
chmod 755 "$M/t" "$M/t/0"
chmod 700 "$M/t/1"
mt_expect_ok tl_as "$U" cat "$M/t/0/log"
mt_expect_err "$EACCES" tl_as "$U" cat "$M/t/1/log"
mt_expect_err "$EACCES" tl_as "$U" cat "$M/t/log"
out=$(tl_as "$U" cat "$M/t/log" 2>/dev/null || true)
case $out in *secret*) mt_fail "t/log showed a 0700 partition: $out" ;; esac
grep -q "t/log: open for reading by uid $uid refused: partition 1" "$MT_ERR" ||
	mt_fail "no log line for the refused read"
chmod 755 "$M/t/1"
[ "$(tl_as "$U" cat "$M/t/log" | sort | tr '\n' ' ')" = "open line secret line " ] ||
	mt_fail "t/log once both partitions are readable: $(tl_as "$U" cat "$M/t/log")"

tl_say "<topic>/log writes: every partition must be writable"
chown "$U" "$M/t"    # her topic, root's partitions (0755: not hers to write)
mt_expect_err "$EACCES" tl_as "$U" sh -c "echo via-part >>'$M/t/0/log'"
mt_expect_err "$EACCES" tl_as "$U" sh -c "echo via-topic >>'$M/t/log'"
if cat "$M/t/0/log" "$M/t/1/log" | grep -q via-; then
	mt_fail "a refused append reached a partition: $(cat "$M/t/log")"
fi
chown "$U" "$M/t/0" "$M/t/1"
mt_expect_ok tl_as "$U" sh -c "echo via-topic >>'$M/t/log'"
[ "$(cat "$M/t/0/log" "$M/t/1/log" | grep -c via-topic)" = 1 ] ||
	mt_fail "the allowed append is not stored once"

# deleting: one write of "NAME\n" to /.delete as user $1 (rmdir is ENOTEMPTY)
del_as() { tl_as "$1" bash -c "echo '$2' >'$M/.delete'"; }

tl_say "deleting another user's topic in a 0777 root: EPERM, nothing deleted"
mkdir "$M/vt"
echo "v data" >>"$M/vt/0/log"
chown "$V" "$M/vt" "$M/vt/0" "$M/vt/1"
chmod 700 "$M/vt"
mt_expect_err "$EPERM" del_as "$U" vt
[ "$(cat "$M/vt/0/log")" = "v data" ] || mt_fail "vt lost its data"
grep -q "deletion of topic vt by uid $uid refused (EPERM): the topic belongs to uid $vid" "$MT_ERR" ||
	mt_fail "no log line for the refused deletion"

tl_say "deleting her own topic holding another user's partition: EPERM"
tl_as "$U" mkdir "$M/ut"
tl_as "$U" chmod 777 "$M/ut"
tl_as "$V" mkdir -m 700 "$M/ut/2"
[ "$(stat -c %u "$M/ut/2")" = "$vid" ] || mt_fail "ut/2 owner $(stat -c %u "$M/ut/2")"
echo "v part" | tl_as "$V" tee -a "$M/ut/2/log" >/dev/null
mt_expect_err "$EPERM" del_as "$U" ut
[ "$(cat "$M/ut/2/log")" = "v part" ] || mt_fail "ut/2 lost its data"
mt_expect_err "$EPERM" del_as "$V" ut   # V owns ut/2, not ut
tl_say "her own topic, all hers: deleted; root may delete any"
tl_as "$U" mkdir "$M/u2"
echo "mine" | tl_as "$U" tee -a "$M/u2/0/log" >/dev/null
mt_expect_ok del_as "$U" u2
[ ! -e "$M/u2" ] || mt_fail "u2 still there"
mt_expect_ok mt_delete ut

tl_say "/.metrics and /.status show each reader what it may read"
chmod 700 "$M/t/1"
chown root "$M/t/1"
tl_as "$U" cat "$M/.metrics" >"$T/u.metrics"
cat "$M/.metrics" >"$T/r.metrics"
grep -q 'topic="t",partition="0"' "$T/u.metrics" || mt_fail "U misses t/0"
grep -q 'topic="t",partition="1"' "$T/r.metrics" || mt_fail "root misses t/1"
grep -q 'topic="vt",partition="0"' "$T/r.metrics" || mt_fail "root misses vt/0"
if grep -E 'topic="t",partition="1"|topic="vt"' "$T/u.metrics" | head -3 | grep .; then
	mt_fail "U sees partitions she cannot read in /.metrics"
fi
grep -qx 'shlog_partitions 1' "$T/u.metrics" ||
	mt_fail "U's partition count: $(grep '^shlog_partitions ' "$T/u.metrics")"
grep -q '^shlogfs_held_bytes' "$T/u.metrics" && mt_fail "U sees the daemon's memory figures"
tl_as "$U" cat "$M/.status" >"$T/u.status"
cat "$M/.status" >"$T/r.status"
grep -q "data dir $DATADIR" "$T/r.status" || mt_fail "root's .status has no data dir"
if grep -F "$DATADIR" "$T/u.status"; then mt_fail "U's .status shows the data dir"; fi
if grep -E '^(t/1|vt/)' "$T/u.status"; then mt_fail "U's .status lists unreadable partitions"; fi
grep -qE '^t/0 ' "$T/u.status" || mt_fail "U's .status misses t/0"
[ "$(tl_as "$V" cat "$M/.status" | grep -cE '^vt/[01] ')" = 2 ] ||
	mt_fail "V's .status misses her own topic"

tl_say "setgid topic: a new partition takes its group and the setgid bit"
mkdir "$M/sg"
chgrp 4242 "$M/sg"
chmod 2775 "$M/sg"
mkdir "$M/sg/2"
[ "$(stat -c '%g %a' "$M/sg/2")" = "4242 2755" ] ||
	mt_fail "sg/2 is $(stat -c '%g %a' "$M/sg/2"), want 4242 2755"
mt_stop

tl_say "per-user limits: topics and partitions by owner, root exempt"
rm -rf "$DATADIR"
mkdir "$DATADIR"
mt_start -o allow_other,partitions=2,max_topics_per_user=2,max_parts_per_user=5
chmod 777 "$M"
mt_expect_ok tl_as "$U" mkdir "$M/q1"
mt_expect_ok tl_as "$U" mkdir "$M/q2"
mt_expect_err "$EDQUOT" tl_as "$U" mkdir "$M/q3"
[ ! -e "$M/q3" ] || mt_fail "q3 made past the topic limit"
mt_expect_ok tl_as "$U" mkdir "$M/q1/2"
mt_expect_err "$EDQUOT" tl_as "$U" mkdir "$M/q2/2"
grep -q "uid $uid owns 5 partitions: 1 more are refused (EDQUOT" "$MT_ERR" ||
	mt_fail "no log line for the partition limit"
mt_expect_ok tl_as "$V" mkdir "$M/v1"     # counted per owner
for i in 1 2 3; do mt_expect_ok mkdir "$M/r$i"; done
mt_expect_ok del_as "$U" q2
mt_expect_ok tl_as "$U" mkdir "$M/q3"
mt_stop
