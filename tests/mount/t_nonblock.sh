#!/bin/bash
# Backpressure: with a tiny buffer, O_NONBLOCK writers get EAGAIN (and
# retry) instead of blocking; blocking writers wait; every line lands
# exactly once; a reader and another partition are not stalled.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start -o max_buffer=16,partitions=2
mkdir "$MNT/t"
L=$MNT/t/0/log
N=10000

tl_say "2 O_NONBLOCK writers + 1 blocking writer x $N lines, max_buffer=16"
"$MTIO" lines -n "$L" w0 "$N" >"$T/nb0" & p0=$!
"$MTIO" lines -n "$L" w1 "$N" >"$T/nb1" & p1=$!
"$MTIO" lines "$L" w2 "$N" & p2=$!
# Meanwhile the other partition and readers answer promptly.
sleep 0.3
t0=$(date +%s%N)
echo "other partition" >>"$MNT/t/1/log"
cat "$MNT/t/1/log" >/dev/null
wc -c <"$L" >/dev/null
t1=$(date +%s%N)
echo "append+read elsewhere took $(((t1 - t0) / 1000000)) ms during backpressure"
[ $(((t1 - t0) / 1000000)) -lt 2000 ] || mt_fail "other partition stalled $(((t1 - t0) / 1000000)) ms"
for p in "$p0" "$p1" "$p2"; do
	tl_reap 1200 "$p" || mt_fail "writer $p did not finish in 120 s"
	[ "$TL_STATUS" = 0 ] || mt_fail "writer $p exited $TL_STATUS"
done
echo "w0 $(cat "$T/nb0"), w1 $(cat "$T/nb1")"
counts=$(mt_check_lines "$L")
[ "$(echo "$counts" | tr '\n' ' ')" = "w0 $N w1 $N w2 $N " ] || mt_fail "counts: $counts"
grep -iE 'backpressure|wait' "$MNT/t/0/stats" || true
if [ "$(cut -d' ' -f2 "$T/nb0")" = 0 ] && [ "$(cut -d' ' -f2 "$T/nb1")" = 0 ]; then
	echo "note: no EAGAIN seen (the flusher kept up with a 16-message buffer)"
fi
