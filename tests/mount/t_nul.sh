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
# The other read paths (RDCK, rdck.c): shared mmap fails with ENODEV;
# sendfile, splice and private-mmap copies of the finished log, opened
# after the last write, must be exact.  With MT_PAGECACHE=1 followers by
# private mmap, sendfile and splice also run during the writes; what
# they got is reported, not checked: they read the kernel's page cache,
# which can hold zeros past the kernel's own idea of the log's end (see
# shlogfs(8) and docs/PERFORMANCE.md).
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
modes=
[ "${MT_PAGECACHE:-0}" = 1 ] && modes="mmap mmap sendfile splice"
for m in $modes; do
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
for f in "$T"/rd.*.[0-9]; do
	[ -e "$f" ] || continue
	echo "$(basename "$f") (not checked): $(stat -c %s "$f") bytes, $(nuls "$f") NUL, $(cmp -s "$f" "$T/got" && echo exact || echo differs)"
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
echo "ok: $NF followers and $nsnap snapshots saw only written lines ($((8 * N)) lines, $size bytes); sendfile, splice and mmap copies of the finished log exact"
