#!/bin/bash
# 8 concurrent writer processes x 20,000 lines on one partition: every
# line exactly once, none torn, each writer's lines in order.  Writers
# 0-3 write one line per write(); 4-5 seven lines per write(); 6-7 are
# awk with stdio buffering, so their lines straddle write() calls.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start
mkdir "$MNT/t"
L=$MNT/t/0/log
N=${MT_LINES:-20000}

# awk writer to stdout: mtio's line format, stdio-buffered.
awk_writer()
{
	awk -v tag="$1" -v n="$N" 'BEGIN {
		abc = "abcdefghijklmnopqrstuvwxyz"
		for (i = 1; i <= 26; i++) {
			c = substr(abc, i, 1); s = ""
			for (j = 0; j < 40; j++) s = s c
			rep[i - 1] = s
		}
		for (k = 0; k < n; k++) printf "%s %08d %s\n", tag, k, rep[k % 26]
	}'
}

tl_say "8 writers x $N lines; a tail -f and a snapshot reader meanwhile"
timeout 120 tail -n +1 -f "$L" >"$T/tailout" 2>&1 &
tailpid=$!
# Snapshot reader: every cat of the growing log ends at a line boundary
# and holds a per-writer prefix (checked after the writers are done).
(
	for i in $(seq 1 15); do
		sleep 0.1
		cat "$L" >"$T/snap.$i"
	done
) &
snappid=$!
start=$(date +%s.%N)
pids=()
for w in 0 1 2 3; do "$MTIO" lines "$L" "w$w" "$N" & pids+=($!); done
for w in 4 5; do "$MTIO" lines -b 7 "$L" "w$w" "$N" & pids+=($!); done
for w in 6 7; do awk_writer "w$w" >>"$L" & pids+=($!); done
for pid in "${pids[@]}"; do
	tl_reap 1200 "$pid" || mt_fail "writer $pid did not finish in 120 s"
	[ "$TL_STATUS" = 0 ] || mt_fail "writer $pid exited $TL_STATUS"
done
end=$(date +%s.%N)
echo "writers done in $(echo "$end - $start" | bc 2>/dev/null || echo '?') s"

tl_say "check: every line once, none torn, per-writer order"
cp "$L" "$T/got"
tl_reap 300 "$snappid" || mt_fail "snapshot reader stuck"
for f in "$T"/snap.*; do
	c=$(mt_check_lines "$f")
	echo "snapshot $(basename "$f"): $(wc -c <"$f") bytes, $(echo "$c" | tr '\n' ' ')"
	cmp -n "$(wc -c <"$f")" "$f" "$T/got" || mt_fail "$f is not a prefix of the final log"
done
tail_done() { [ "$(stat -c %s "$T/tailout")" -ge "$(stat -c %s "$T/got")" ]; }
tl_wait_until 100 tail_done || echo "tail -f has $(stat -c %s "$T/tailout") of $(stat -c %s "$T/got") bytes after 10 s"
kill "$tailpid" 2>/dev/null || true
wait "$tailpid" 2>/dev/null || true
cmp "$T/tailout" "$T/got" || mt_fail "tail -f output differs from the log"
echo "ok: tail -f followed all $(wc -l <"$T/tailout") lines"
counts=$(mt_check_lines "$T/got")
echo "$counts" | tr '\n' ' '; echo
exp=$(for w in 0 1 2 3 4 5 6 7; do echo "w$w $N"; done)
[ "$counts" = "$exp" ] || mt_fail "per-writer counts: $counts"
[ "$(wc -l <"$T/got")" = $((8 * N)) ] || mt_fail "total lines $(wc -l <"$T/got")"
[ "$(stat -c %s "$L")" = "$(stat -c %s "$T/got")" ] || mt_fail "st_size differs from read"
# Writers' lines interleave (they really ran concurrently).
runs=$(cut -d' ' -f1 "$T/got" | uniq | wc -l)
echo "writer runs in the log: $runs"

tl_say "8 keyed writers x $N lines through the topic-level log (4 partitions)"
mkdir "$MNT/sh" "$MNT/sh/1" "$MNT/sh/2" "$MNT/sh/3"
pids=()
for w in 0 1 2 3 4 5; do "$MTIO" lines -K -b $((w + 1)) "$MNT/sh/log" "k$w" "$N" & pids+=($!); done
for w in 6 7; do
	awk_writer "k$w" | sed 's/ /\t/' >>"$MNT/sh/log" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	tl_reap 1200 "$pid" || mt_fail "writer $pid did not finish in 120 s"
	[ "$TL_STATUS" = 0 ] || mt_fail "writer $pid exited $TL_STATUS"
done
: >"$T/allcounts"
for p in 0 1 2 3; do
	cp "$MNT/sh/$p/log" "$T/sh.$p"
	c=$(mt_check_lines "$T/sh.$p")
	echo "sh/$p: $(echo "$c" | tr '\n' ' ')"
	[ -z "$c" ] || echo "$c" >>"$T/allcounts"
done
counts=$(sort "$T/allcounts")
exp=$(for w in 0 1 2 3 4 5 6 7; do echo "k$w $N"; done)
[ "$counts" = "$exp" ] || mt_fail "keyed writers (a key in two partitions, or lines lost): $counts"
grep -qP '^k[0-7]\t' "$T/sh.0" "$T/sh.1" "$T/sh.2" "$T/sh.3" || mt_fail "no TAB-keyed lines found"

tl_say "remount: same bytes"
mt_stop
mt_start
cmp "$L" "$T/got" || mt_fail "log changed across remount"
for p in 0 1 2 3; do
	cmp "$MNT/sh/$p/log" "$T/sh.$p" || mt_fail "sh/$p/log changed across remount"
done
