#!/usr/bin/env bash
# t_kmount_faults.sh — the mount's fault matrix against the mock cluster:
# a leader moved, injected retriable Produce errors, the leader down
# (fsync fails with EIO within message.timeout.ms; the daemon keeps
# serving stat, ls and the bytes it holds; up again, writes go on), a
# fatal producer error (EIO, the producer rebuilt, the next writer
# delivered), and an unmount with the leader down is bounded.  Every
# fsync-acknowledged line is in the partition exactly once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_mount_init
kt_mock_start -t F:1
kt_mount -o kafka.message.timeout.ms=3000,kafka.reconnect.backoff.max.ms=200
L=$MNT/F/0/log
ACK=$T/ack

# Append $2 lines tagged $1, fsync every 25, acknowledgements to $ACK.
phase() { "$MTIO" lines -b 5 -f 25 -k "$ACK" "$L" "$1" "$2"; }

tl_say "baseline, then the leader moved twice"
kt_ctl leader F 0 1
phase a 300 || mt_fail "baseline writer failed"
kt_ctl leader F 0 2
phase b 300 || mt_fail "a writer failed across a leader move"
kt_ctl leader F 0 3
phase c 300 || mt_fail "a writer failed across a second leader move"

tl_say "injected retriable Produce errors"
kt_ctl errors 0 NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS LEADER_NOT_AVAILABLE
phase d 300 || mt_fail "a writer failed with retriable errors"

tl_say "the leader down: fsync fails with EIO within the bound; the daemon serves what it holds"
kt_ctl leader F 0 1
phase e 100 || mt_fail "writer e"
cp "$L" "$T/before"   # read once: the daemon now holds these bytes
size=$(stat -c %s "$L")
kt_ctl down 1
start=$(date +%s%N)
if timeout 30 "$MTIO" lines -f 10 -k "$ACK" "$L" x 40 2>"$T/x.err"; then
	mt_fail "every fsync succeeded with the leader down"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q 'fsync: EIO' "$T/x.err" || mt_fail "with the leader down: $(cat "$T/x.err"), not fsync EIO"
[ "$ms" -lt 9000 ] || mt_fail "fsync failed only after $ms ms (message.timeout.ms=3000)"
tl_say "  fsync EIO after $ms ms"
ls "$MNT/F" >/dev/null || mt_fail "ls with the leader down"
[ "$(stat -c %s "$L")" = "$size" ] || mt_fail "the size moved with the leader down"
cmp "$T/before" "$L" || mt_fail "the bytes read before the outage do not read back during it"
grep -q "failed" "$MNT/.status" || mt_fail ".status: $(cat "$MNT/.status")"
kt_ctl up 1
ok=0
for i in 1 2 3 4 5; do   # the producer reconnects with backoff
	if phase "f$i" 200 2>"$T/f.err"; then ok=1; break; fi
	sleep 1
done
[ "$ok" = 1 ] || mt_fail "no writer succeeded after the leader came back: $(cat "$T/f.err")"

tl_say "a fatal producer error: EIO, logged, the producer rebuilt, the next writer delivered"
kt_ctl errors 0 OUT_OF_ORDER_SEQUENCE_NUMBER
"$MTIO" lines -f 5 -k "$ACK" "$L" g 20 2>"$T/g.err" && mt_fail "no EIO after a fatal producer error"
grep -q 'EIO' "$T/g.err" || mt_fail "after the fatal error: $(cat "$T/g.err")"
tl_wait_until 50 grep -q 'fatal producer error' "$MT_ERR" || mt_fail "the fatal error was not logged"
phase h 300 || mt_fail "a writer failed after the producer was rebuilt"
grep -q 'producer rebuilds [1-9]' "$MNT/.status" || mt_fail ".status shows no rebuild: $(cat "$MNT/.status")"

tl_say "every fsync-acknowledged line is in the partition exactly once"
kt_kcat F 0 >"$T/all"
cmp "$T/all" "$L" || mt_fail "the mount's log and kcat's differ"
sort "$ACK" | awk '{ if ($2 > n[$1]) n[$1] = $2 } END { for (t in n) print t, n[t] }' >"$T/acked"
[ "$(wc -l <"$T/acked")" -ge 6 ] || mt_fail "too few writers acknowledged: $(cat "$T/acked")"
while read -r tag n; do
	got=$(awk -v t="$tag" '$1 == t { print $2 + 0 }' "$T/all" | sort -n | uniq -c |
	      awk -v n="$n" '$2 < n && $1 == 1 { c++ } $2 < n && $1 != 1 { bad++ } END { print c + 0, bad + 0 }')
	[ "$got" = "$n 0" ] || mt_fail "writer $tag: $n lines acknowledged, found (once, more than once): $got"
done <"$T/acked"

tl_say "unmount with the leader down: bounded"
kt_ctl leader F 0 1
kt_ctl down 1
start=$(date +%s%N)
mt_stop
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 20000 ] || mt_fail "the unmount took $ms ms with the leader down"
tl_say "  unmounted in $ms ms"
kt_ctl up 1
