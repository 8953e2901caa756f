#!/bin/bash
# The tree: topics, partitions, status files, deleting a topic (/.delete;
# listings, link counts and rmdir are t_walk.sh's).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start -o partitions=3

tl_say "mkdir a topic with -o partitions=3"
mkdir "$MNT/chat"
[ -d "$MNT/chat" ] || mt_fail "chat is not a directory"
ls "$MNT" | grep -qx chat || mt_fail "ls MNT does not list chat: $(ls "$MNT")"
for p in 0 1 2; do
	[ -d "$MNT/chat/$p" ] || mt_fail "chat/$p missing: $(ls "$MNT/chat")"
done
[ ! -e "$MNT/chat/3" ] || mt_fail "chat/3 exists with partitions=3"
[ -f "$MNT/chat/log" ] || mt_fail "topic-level chat/log missing: $(ls "$MNT/chat")"
mt_expect_err 'File exists' mkdir "$MNT/chat"

tl_say "partition directory contents (log listed, the rest by name)"
[ "$(ls "$MNT/chat/0")" = log ] || mt_fail "ls chat/0: $(ls "$MNT/chat/0")"
for f in log anchor index stats at since keys; do
	[ -e "$MNT/chat/0/$f" ] || mt_fail "chat/0/$f is not reachable by name"
done
for d in at since keys; do
	[ -d "$MNT/chat/0/$d" ] || mt_fail "chat/0/$d is not a directory"
done
for f in log anchor index stats; do
	[ -f "$MNT/chat/0/$f" ] || mt_fail "chat/0/$f is not a regular file"
done

tl_say "mkdir the next partition; a higher one makes those between, hidden; wrong numbers refused"
mkdir "$MNT/chat/3"
[ -d "$MNT/chat/3" ] || mt_fail "chat/3 not created"
mt_expect_err 'File exists' mkdir "$MNT/chat/3"
# issue 12: a restore makes partitions in its archive's order (rsync: 10
# before 2), so mkdir chat/5 makes 4 too, hidden until mkdir chat/4
mkdir "$MNT/chat/5" || mt_fail "mkdir chat/5 (two past the last) failed"
[ -d "$MNT/chat/5" ] || mt_fail "chat/5 not created"
[ ! -e "$MNT/chat/4" ] || mt_fail "chat/4 shows before its mkdir"
mkdir "$MNT/chat/4" || mt_fail "mkdir chat/4 (hidden) failed"
mt_expect_err 'File exists' mkdir "$MNT/chat/4"
mt_expect_err 'Invalid argument' mkdir "$MNT/chat/5000"
mt_expect_err 'Invalid argument' mkdir "$MNT/chat/04"
mt_expect_err 'Invalid argument' mkdir "$MNT/chat/x"
mt_expect_err 'Invalid argument' mkdir "$MNT/chat/-1"
[ "$(ls "$MNT/chat" | grep -c '^[0-9]')" = 6 ] ||
	mt_fail "expected 6 partitions: $(ls "$MNT/chat")"

tl_say "status files: st_size matches what read returns"
echo "hello	world" >>"$MNT/chat/0/log"
echo "second" >>"$MNT/chat/0/log"
sleep 0.2
for p in 0 1; do
	for f in anchor index stats log; do
		sz=$(stat -c %s "$MNT/chat/$p/$f")
		n=$(cat "$MNT/chat/$p/$f" | wc -c)
		[ "$sz" = "$n" ] || mt_fail "chat/$p/$f: st_size $sz but cat gives $n bytes"
		echo "ok: chat/$p/$f $sz bytes"
	done
done
[ "$(stat -c %s "$MNT/chat/0/anchor")" -gt 0 ] || mt_fail "anchor is empty"
[ "$(stat -c %s "$MNT/chat/0/stats")" -gt 0 ] || mt_fail "stats is empty"
grep -q . "$MNT/chat/0/stats" || mt_fail "grep finds nothing in stats"
head -n 3 "$MNT/chat/0/stats"
cat "$MNT/chat/0/anchor"
mt_expect_err 'Permission denied|Operation not permitted|Read-only' \
	sh -c "echo x >>'$MNT/chat/0/stats'"

tl_say "several topics; ls lists them"
mkdir "$MNT/orders" "$MNT/a.b_c-D9"
[ "$(ls "$MNT" | tr '\n' ' ')" = "a.b_c-D9 chat orders " ] ||
	mt_fail "ls MNT: $(ls "$MNT" | tr '\n' ' ')"

tl_say "/.delete deletes a topic; rmdir does not"
echo "to be deleted" >>"$MNT/orders/1/log"
mt_expect_err 'Directory not empty' rmdir "$MNT/orders"
[ "$(cat "$MNT/orders/1/log")" = "to be deleted" ] || mt_fail "rmdir changed orders"
mt_delete orders
[ ! -e "$MNT/orders" ] || mt_fail "orders still exists after its deletion"
[ ! -e "$DATADIR/orders" ] || mt_fail "data dir still has orders/"
mkdir "$MNT/orders"
[ "$(cat "$MNT/orders/1/log" | wc -c)" = 0 ] || mt_fail "recreated topic holds old data"

tl_say "an open handle on a deleted topic fails; the recreated topic is untouched"
mkdir "$MNT/gone"
echo "old data" >>"$MNT/gone/0/log"
exec 3>>"$MNT/gone/0/log"
printf 'before the deletion\n' >&3
timeout 30 tail -f "$MNT/gone/0/log" >/dev/null 2>&1 &
tpid=$!
mt_delete gone
[ ! -e "$MNT/gone" ] || mt_fail "gone still exists"
mkdir "$MNT/gone"
if printf 'after the deletion\n' >&3 2>"$T/w3.err"; then
	echo "note: a write on a handle of a deleted topic returned success"
else
	echo "ok: write on a handle of a deleted topic: $(cat "$T/w3.err")"
fi
exec 3>&-
kill "$tpid" 2>/dev/null || true
wait "$tpid" 2>/dev/null || true
[ "$(cat "$MNT/gone/0/log" | wc -c)" = 0 ] ||
	mt_fail "recreated topic holds data: $(cat "$MNT/gone/0/log")"
kill -0 "$MT_PID" || mt_fail "daemon died"
mt_delete gone

tl_say "300 topics"
for i in $(seq 1 300); do mkdir "$MNT/many$i"; done
[ "$(ls "$MNT" | grep -c '^many')" = 300 ] || mt_fail "ls shows $(ls "$MNT" | grep -c '^many') of 300 topics"
for i in $(seq 1 300); do echo "topic $i" >>"$MNT/many$i/2/log"; done
[ "$(cat "$MNT/many177/2/log")" = "topic 177" ] || mt_fail "many177"
for i in $(seq 1 300); do mt_delete "many$i"; done

tl_say "remount: topics, partitions and data survive"
mt_stop
mt_start
[ "$(ls "$MNT" | tr '\n' ' ')" = "a.b_c-D9 chat orders " ] ||
	mt_fail "after remount ls MNT: $(ls "$MNT" | tr '\n' ' ')"
[ -d "$MNT/chat/3" ] || mt_fail "chat/3 lost at remount"
[ "$(cat "$MNT/chat/0/log")" = "hello	world
second" ] || mt_fail "chat/0/log after remount: $(cat "$MNT/chat/0/log")"
