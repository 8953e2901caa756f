#!/bin/bash
# A stat of a generated file is cheap and tells no one what they may not
# read (issue 10, section 2 "CPU" and section 3):
#  - a stat flood on a partition's anchor, index and stats by another
#    user makes no index text while the partition does not change (the
#    size is remembered with the state it was made from), and the size a
#    stat gives is still what cat reads, before and after an append;
#  - cat, tail, grep, cp and tar read the status files whole;
#  - the size of <topic>/log is given only to a caller who may read every
#    partition (0 to another user), and it is not cached for one caller
#    and shown to the next.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
PY=/usr/bin/python3

mt_start -o allow_other,partitions=2,stride=10
M=$MNT
chmod 755 "$M"
mkdir "$M/t"
chmod 755 "$M/t" "$M/t/0" "$M/t/1"
"$MTIO" lines -b 10 "$M/t/0/log" x 3000
echo "one line" >>"$M/t/1/log"
tl_wait_until 100 grep -qx 'buffered_msgs 0' "$M/t/0/stats" ||
	mt_fail "t/0 still buffers after 10 s"
entries=$(wc -l <"$M/t/0/index")
echo "t/0/index: $entries entries"
[ "$entries" -ge 100 ] || mt_fail "only $entries index entries: no large index to stat"

texts() { awk '$1 == "shlogfs_index_texts_total" { print $2 }' "$M/.metrics"; }
[ -n "$(texts)" ] || mt_fail "no shlogfs_index_texts_total in /.metrics"

# Check that stat's size of t/0/$1 is what cat reads.
same_size()
{
	local f=$M/t/0/$1 sz n
	sz=$(stat -c %s "$f")
	n=$(cat "$f" | wc -c)
	[ "$sz" = "$n" ] || mt_fail "t/0/$1: st_size $sz but cat reads $n bytes"
}

tl_say "a stat flood on anchor, index and stats makes no index text"
for f in anchor index stats; do same_size "$f"; done
t0=$(texts)
n=$(tl_as "$U" "$PY" -c '
import os, sys
n = 0
for i in range(2000):
    for f in ("anchor", "index", "stats"):
        os.stat(sys.argv[1] + "/t/0/" + f)
        n += 1
print(n)' "$M")
t1=$(texts)
made=$((t1 - t0))
echo "$n stats made $made index texts"
[ "$n" = 6000 ] || mt_fail "the stat flood ran $n stats"
# one at most: the first stat after same_size's cat may make it again
[ "$made" -le 1 ] || mt_fail "$made index texts for $n stats of an idle partition"

tl_say "after an append the size follows the new index"
old=$(stat -c %s "$M/t/0/index")
"$MTIO" lines -b 10 "$M/t/0/log" y 30
tl_wait_until 100 grep -qx 'buffered_msgs 0' "$M/t/0/stats" ||
	mt_fail "t/0 still buffers after 10 s"
for f in anchor index stats; do same_size "$f"; done
new=$(stat -c %s "$M/t/0/index")
[ "$new" -gt "$old" ] || mt_fail "index size $old before 30 lines, $new after"

tl_say "cat, tail, grep, cp and tar read the status files whole"
for f in anchor index stats; do
	cat "$M/t/0/$f" >"$T/$f.cat"
	[ -s "$T/$f.cat" ] || mt_fail "cat t/0/$f read nothing"
	[ "$(tail -n 1 "$M/t/0/$f")" = "$(tail -n 1 "$T/$f.cat")" ] ||
		mt_fail "tail t/0/$f differs from cat"
	grep -q . "$M/t/0/$f" || mt_fail "grep finds nothing in t/0/$f"
	cp "$M/t/0/$f" "$T/$f.cp"
	cmp -s "$T/$f.cat" "$T/$f.cp" || mt_fail "cp of t/0/$f differs from cat"
done
tar -C "$M/t" -cf "$T/t.tar" 0/anchor 0/index 0/stats
mkdir "$T/x"
tar -C "$T/x" -xf "$T/t.tar"
for f in anchor index; do
	cmp -s "$T/$f.cat" "$T/x/0/$f" || mt_fail "tar of t/0/$f differs from cat"
done
[ -s "$T/x/0/stats" ] || mt_fail "tar archived t/0/stats empty"

tl_say "<topic>/log's size only for a caller who may read every partition"
total=$(( $(stat -c %s "$M/t/0/log") + $(stat -c %s "$M/t/1/log") ))
[ "$(stat -c %s "$M/t/log")" = "$total" ] || mt_fail "root: t/log size $(stat -c %s "$M/t/log"), expected $total"
[ "$(tl_as "$U" stat -c %s "$M/t/log")" = "$total" ] ||
	mt_fail "$U may read both partitions but t/log size is not $total"
chmod 700 "$M/t/1"
sz=$(tl_as "$U" stat -c %s "$M/t/log")
[ "$sz" = 0 ] || mt_fail "$U may not read t/1 but t/log shows $sz bytes"
# root right after, then the user again: nothing cached across callers
[ "$(stat -c %s "$M/t/log")" = "$total" ] || mt_fail "root after $U: t/log size $(stat -c %s "$M/t/log")"
sz=$(tl_as "$U" stat -c %s "$M/t/log")
[ "$sz" = 0 ] || mt_fail "$U after root: t/log shows $sz bytes"
# while root holds t/log open (a snapshot of its extents), still nothing
exec 3<"$M/t/log"
sz=$(tl_as "$U" stat -c %s "$M/t/log")
exec 3<&-
[ "$sz" = 0 ] || mt_fail "$U while root holds t/log open: $sz bytes"
blocks=$(tl_as "$U" stat -c %b "$M/t/log")
[ "$blocks" = 0 ] || mt_fail "$U: t/log shows $blocks blocks"
chmod 755 "$M/t/1"
[ "$(tl_as "$U" stat -c %s "$M/t/log")" = "$total" ] ||
	mt_fail "$U may read both partitions again but t/log size is not $total"
echo "ok: t/log $total bytes for root, 0 for $U while t/1 was 0700"
