#!/bin/bash
# Readers of a growing log see only bytes that were written (issue 10):
# 8 writers append to one partition, 4 of them awk with stdio buffering
# (nearly every write() ends inside a line, which the daemon holds in
# its handle), while tail -f followers polling every 10 ms (on the log
# and on at/0) and snapshot cat readers run.  Every follower's copy must
# be the final log byte for byte (each line once, nothing else); every
# snapshot a prefix of it ending at a line; no copy may hold a NUL byte.
# Before readers were opened with direct_io most runs failed here: the
# kernel showed zero-filled page tails past the log's end.
# The other read paths (RDCK, rdck.c), which read the kernel's page
# cache: shared mmap fails with ENODEV; followers by private mmap (two),
# sendfile and splice run during the writes and must end with the log
# byte for byte (a page read the daemon refuses while the log can grow,
# EIO, is tried again: fs/pcache.c), and so must copies of the finished
# log; sendfile of at/0 and of <topic>/log is refused (EIO).  On the
# code before fs/pcache.c (c0e4da8) this failed in 22 of 22 runs, 12 of
# them with NUL bytes in a sendfile or splice follower.  Last, writers
# of <topic>/log and keys/ feed a log under page-cache followers; that
# the daemon had the kernel drop its cached pages first is counted in
# /.metrics (the followers' bytes alone rarely show it missing).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_need_exe RDCK
mt_start
mkdir "$MNT/t"
L=$MNT/t/0/log
N=${MT_LINES:-20000}
NF=${MT_FOLLOWERS:-6}

# awk writer to stdout (stdio-buffered: lines straddle write() calls).
awk_writer()
{
	awk -v tag="$1" -v n="$N" 'BEGIN {
		for (k = 0; k < n; k++)
			printf "%s %08d %s\n", tag, k, substr("abcdefghijklmnopqrstuvwxyz", 1 + k % 26)
	}'
}

# NUL bytes in file $1.
nuls() { tr -cd '\000' <"$1" | wc -c; }

echo seed >"$L" # at/0 exists from the start
tl_say "8 writers x $N lines; $NF tail -f -s 0.01 followers and 2 snapshot readers"
fpids=()
for i in $(seq 1 "$NF"); do
	f=$L
	[ $((i % 3)) = 0 ] && f=$MNT/t/0/at/0
	timeout 200 tail -n +1 -s 0.01 -f "$f" >"$T/follow.$i" 2>"$T/follow.$i.err" &
	fpids+=($!)
done
snap_reader()
{
	for i in $(seq 1 40); do
		sleep 0.05
		cat "$L" >"$T/snap.$1.$i"
	done
}
[ "$("$RDCK" shared "$L")" = ENODEV ] || mt_fail "shared mmap of a log: $("$RDCK" shared "$L")"
rpids=()
for m in mmap mmap sendfile splice; do
	"$RDCK" follow "$m" "$L" "$T/rd.$m.${#rpids[@]}" "$T/stop" >"$T/rd.$m.${#rpids[@]}.out" & rpids+=($!)
done
snap_reader a & spa=$!
snap_reader b & spb=$!
pids=()
for w in 0 1; do "$MTIO" lines "$L" "w$w" "$N" & pids+=($!); done
for w in 2 3; do "$MTIO" lines -b 7 "$L" "w$w" "$N" & pids+=($!); done
for w in 4 5 6 7; do awk_writer "w$w" >>"$L" & pids+=($!); done
for pid in "${pids[@]}"; do
	tl_reap 1800 "$pid" || mt_fail "writer $pid did not finish in 180 s"
	[ "$TL_STATUS" = 0 ] || mt_fail "writer $pid exited $TL_STATUS"
done
tl_reap 600 "$spa" || mt_fail "snapshot reader a stuck"
tl_reap 600 "$spb" || mt_fail "snapshot reader b stuck"
cp "$L" "$T/got"
size=$(stat -c %s "$T/got")
[ "$(wc -l <"$T/got")" = $((8 * N + 1)) ] || mt_fail "the log has $(wc -l <"$T/got") lines, not $((8 * N + 1))"
[ "$(nuls "$T/got")" = 0 ] || mt_fail "the stored log holds NUL bytes"

touch "$T/stop"
for pid in "${rpids[@]}"; do
	tl_reap 600 "$pid" || mt_fail "rdck follower $pid stuck"
	[ "$TL_STATUS" = 0 ] || mt_fail "rdck follower $pid exited $TL_STATUS"
done
cat "$T"/rd.*.out 2>/dev/null || true
# Copy $1 of the finished log is exact.
copy_ok()
{
	"$RDCK" copy "$1" "$L" "$T/copy.$1" >/dev/null || mt_fail "rdck copy $1 failed"
	cmp -s "$T/copy.$1" "$T/got" || mt_fail "a $1 copy of the finished log differs from it"
}
copy_ok sendfile
copy_ok splice
copy_ok mmap
npc=0
for f in "$T"/rd.*.[0-9]; do
	echo "$(basename "$f"): $(stat -c %s "$f") bytes, $(nuls "$f") NUL"
	[ "$(nuls "$f")" = 0 ] || mt_fail "page-cache follower $(basename "$f") got NUL bytes: $(cmp "$f" "$T/got" 2>&1 | head -1); first NUL at byte $(grep -boa -m1 -P '\x00' "$f" | head -1 | cut -d: -f1)"
	cmp -s "$f" "$T/got" || mt_fail "page-cache follower $(basename "$f") differs from the log"
	npc=$((npc + 1))
done
[ "$npc" = 4 ] || mt_fail "$npc page-cache followers, not 4"
# Views and <topic>/log: page reads refused, never bytes of another offset.
for v in "$MNT/t/0/at/0" "$MNT/t/log"; do
	st=0
	"$RDCK" copy sendfile "$v" "$T/view.copy" 2>"$T/view.err" || st=$?
	[ "$st" = 1 ] && grep -q 'sendfile: EIO' "$T/view.err" ||
		mt_fail "sendfile of $v: exit $st, $(cat "$T/view.err")"
done

tl_say "writers of <topic>/log and of keys/ feed a log that page-cache followers read"
mkdir "$MNT/u"
U=$MNT/u/0/log
echo seed >"$U"
upids=()
for m in sendfile mmap; do
	"$RDCK" follow "$m" "$U" "$T/ru.$m" "$T/stopu" >"$T/ru.$m.out" & upids+=($!)
done
for r in $(seq 1 40); do
	awk -v r="$r" 'BEGIN { for (k = 0; k < 50; k++) printf "round %03d line %02d\n", r, k }' >>"$MNT/u/log"
	printf 'v%d' "$r" >"$MNT/u/0/keys/k$((r % 5))"
	sleep 0.02
done
touch "$T/stopu"
for pid in "${upids[@]}"; do
	tl_reap 600 "$pid" || mt_fail "rdck follower $pid of u stuck"
	[ "$TL_STATUS" = 0 ] || mt_fail "rdck follower $pid of u exited $TL_STATUS"
done
cat "$T"/ru.*.out
pm() { awk -v n="$1" '$1 == n { print $2 }' "$MNT/.metrics"; }
echo "page reads served $(pm shlogfs_page_reads_total), refused $(pm shlogfs_page_reads_refused_total); pages dropped for a writer $(pm shlogfs_page_drops_total)"
[ "$(pm shlogfs_page_reads_refused_total)" -ge 100 ] || mt_fail "fewer than 100 page reads refused"
[ "$(pm shlogfs_page_drops_total)" -ge 10 ] || mt_fail "fewer than 10 drops of cached pages for a writer of u/log or keys/"
cp "$U" "$T/gotu"
[ "$(wc -l <"$T/gotu")" = $((1 + 40 * 50 + 40)) ] || mt_fail "u/0/log has $(wc -l <"$T/gotu") lines"
for m in sendfile mmap; do
	[ "$(nuls "$T/ru.$m")" = 0 ] || mt_fail "the $m follower of u got NUL bytes"
	cmp -s "$T/ru.$m" "$T/gotu" || mt_fail "the $m follower of u differs from the log"
done

tl_say "check every snapshot: a prefix of the log, whole lines, no NUL"
nsnap=0 bigger=0
for f in "$T"/snap.*; do
	s=$(stat -c %s "$f")
	z=$(nuls "$f")
	[ "$z" = 0 ] || mt_fail "$(basename "$f"): $z NUL bytes in $s"
	cmp -n "$s" "$f" "$T/got" >/dev/null || mt_fail "$(basename "$f") is not a prefix of the log"
	[ "$s" = 0 ] || [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] ||
		mt_fail "$(basename "$f") ends inside a line"
	nsnap=$((nsnap + 1))
	[ "$s" -gt 5 ] && [ "$s" -lt "$size" ] && bigger=$((bigger + 1))
done
echo "$nsnap snapshots, $bigger taken while the log grew"
[ "$bigger" -ge 5 ] || mt_fail "only $bigger snapshots were taken while writers ran"

tl_say "check every follower: the whole log, each line once, no NUL"
all_followed()
{
	local i
	for i in $(seq 1 "$NF"); do
		[ "$(stat -c %s "$T/follow.$i")" -ge "$size" ] || return 1
	done
}
tl_wait_until 300 all_followed || echo "followers lag after 30 s"
for pid in "${fpids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${fpids[@]}"; do wait "$pid" 2>/dev/null || true; done
bad=0
for i in $(seq 1 "$NF"); do
	f=$T/follow.$i
	z=$(nuls "$f")
	if [ "$z" != 0 ] || ! cmp -s "$f" "$T/got"; then
		echo "follower $i: $(stat -c %s "$f") bytes, $z NUL, $(cmp "$f" "$T/got" 2>&1 | head -1)"
		bad=$((bad + 1))
	fi
done
[ "$bad" = 0 ] || mt_fail "$bad of $NF followers got other bytes than the log"
echo "ok: $NF followers and $nsnap snapshots saw only written lines ($((8 * N)) lines, $size bytes); $npc page-cache followers and sendfile, splice and mmap copies of the finished log exact; sendfile of at/0 and t/log refused"
