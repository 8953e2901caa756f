#!/bin/bash
# Backups: tar of a topic through the mount gives log files identical to
# what was written, and nothing else (the status files, views, keys and
# <topic>/log are not listed, so not archived: t_walk.sh checks sizes); tar of the data dir while the daemon runs and writers
# append restores into a data dir that mounts and holds a prefix of each
# writer's lines with nothing torn.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start -o partitions=2
mkdir "$MNT/chat"
for i in $(seq 1 3000); do echo "p0 line $i"; done >"$T/exp0"
printf 'k\tv1\nk\tv2\n' >"$T/exp1"
cat "$T/exp0" >>"$MNT/chat/0/log"
cat "$T/exp1" >>"$MNT/chat/1/log"
# the index only lists committed blocks: make them committed (and durable)
sync "$MNT/chat/0/log" "$MNT/chat/1/log"

tl_say "tar -C MNT -cf b.tar chat"
tar -C "$MNT" -cf "$T/b.tar" chat || mt_fail "tar through the mount exited $?"
tar -tvf "$T/b.tar" | head -n 20
mkdir "$T/x"
tar -C "$T/x" -xf "$T/b.tar"
mt_same "$T/x/chat/0/log" "$T/exp0"
mt_same "$T/x/chat/1/log" "$T/exp1"
[ "$(tar -tf "$T/b.tar" | tr '\n' ' ')" = "chat/ chat/0/ chat/0/log chat/1/ chat/1/log " ] ||
	mt_fail "the archive holds more than the partition logs: $(tar -tf "$T/b.tar" | tr '\n' ' ')"
tar -C "$MNT" -cf "$T/s.tar" chat/0/anchor chat/0/index chat/0/stats
tar -C "$T/x" -xf "$T/s.tar"
for f in anchor index stats; do
	[ -s "$T/x/chat/0/$f" ] || mt_fail "tar archived an empty chat/0/$f (named)"
done

tl_say "restore the archive into the mount (cat >> a new topic)"
mkdir "$MNT/chat2"
cat "$T/x/chat/0/log" >>"$MNT/chat2/0/log"
mt_same "$MNT/chat2/0/log" "$T/exp0"

tl_say "tar of the data dir while 4 writers append"
mkdir "$MNT/busy"
pids=()
for w in 0 1 2 3; do
	"$MTIO" lines -b 3 "$MNT/busy/0/log" "w$w" 100000000 2>/dev/null & pids+=($!)
done
sleep 1.5
st=0
tar -C "$DATADIR" -cf "$T/d.tar" . 2>"$T/tar.err" || st=$?
sleep 0.5
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do tl_reap 100 "$pid" || true; done
echo "tar exit $st: $(head -n 3 "$T/tar.err")"
[ "$st" = 0 ] || [ "$st" = 1 ] || mt_fail "tar of the data dir failed ($st)"
cp "$MNT/busy/0/log" "$T/busy.live"
live=$(stat -c %s "$T/busy.live")
mt_check_lines "$T/busy.live" >/dev/null
mt_stop

tl_say "the restored data dir mounts and holds a prefix, nothing torn"
DATADIR=$T/restored
mkdir "$DATADIR"
tar -C "$DATADIR" -xf "$T/d.tar"
mt_start
cp "$MNT/busy/0/log" "$T/busy.got"
got=$(mt_check_lines "$T/busy.got")
echo "restored: $(echo "$got" | tr '\n' ' ') ($(wc -c <"$T/busy.got") of $live bytes)"
[ -n "$got" ] || mt_fail "restored log is empty (tar ran 1.5 s into the writes)"
cmp -n "$(wc -c <"$T/busy.got")" "$T/busy.got" "$T/busy.live" ||
	mt_fail "restored log is not a prefix of the live log"
mt_same "$MNT/chat/0/log" "$T/exp0"
mt_same "$MNT/chat/1/log" "$T/exp1"
echo "after restore" >>"$MNT/busy/0/log"
[ "$(tail -n 1 "$MNT/busy/0/log")" = "after restore" ] || mt_fail "append after restore"
