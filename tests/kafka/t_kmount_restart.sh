#!/usr/bin/env bash
# t_kmount_restart.sh — the byte index across daemon deaths, and retention:
# kill -9 of the daemon and a restart (the index resumed: the size right at
# once or after the indexer catches up, the bytes identical to kcat's); a
# damaged index set aside and rebuilt (the size right again, the partition
# named in .status); more than 5 MiB into a partition (the mock drops its
# oldest message sets): the log keeps its positions, bytes below the
# retained point read as zeros, at/0 starts at the first kept message, the
# rest reads as kcat.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_mount_init
kt_mock_start -t P:1 -t Q:1
kt_mount
L=$MNT/P/0/log

tl_say "kill -9 and a restart: the index resumes"
"$MTIO" lines -b 50 "$L" a 20000 || mt_fail "writer a"
size=$(stat -c %s "$L")
sleep 1.5   # the indexer syncs its index every second
"$MTIO" lines -b 50 "$L" b 5000 || mt_fail "writer b"
size2=$(stat -c %s "$L")
mt_kill9
kt_mount
got=$(stat -c %s "$L")
[ "$got" -ge "$size" ] || mt_fail "after kill -9 the size is $got at once, below the $size synced before"
tl_wait_until 100 kt_size_is "$L" "$size2" ||
	mt_fail "after kill -9 the size is $(stat -c %s "$L"), not $size2"
kt_kcat P 0 >"$T/kcat"
cmp "$T/kcat" "$L" || mt_fail "after kill -9 the mount's log and kcat's differ"
[ "$(grep -c '^b ' "$L")" = 5000 ] || mt_fail "after kill -9 writer b's lines are not all there"

tl_say "a damaged index: set aside, rebuilt from the log start"
mt_stop
idx=$(ls "$DATADIR"/idx-*-0.kidx | head -n 1)
for f in "$DATADIR"/idx-*-0.kidx; do
	printf 'garbage garbage garbage garbage' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
	printf 'garbage garbage garbage garbage' | dd of="$f" bs=1 seek=128 conv=notrunc status=none
done
kt_mount
stat "$L" >/dev/null
tl_wait_until 100 kt_size_is "$L" "$size2" ||
	mt_fail "after the rebuild the size is $(stat -c %s "$L"), not $size2"
cmp "$T/kcat" "$L" || mt_fail "after the rebuild the mount's log and kcat's differ"
grep -q 'P.*rebuilt' "$MNT/.status" || mt_fail ".status does not name the rebuilt index: $(cat "$MNT/.status")"
grep -q 'byte index .* rebuilt' "$MT_ERR" || mt_fail "the rebuild was not logged"
[ -e "$idx.damaged" ] || mt_fail "the damaged index was not kept aside"

tl_say "retention: 6 MiB into Q/0; the mock drops the oldest message sets"
Q=$MNT/Q/0
"$MTIO" lines -b 200 "$Q/log" r 60000 || mt_fail "writer r"
half=$(stat -c %s "$Q/log")
[ "$half" = 3120000 ] || mt_fail "Q/0 is $half bytes after 60,000 lines of 52"
"$MTIO" lines -b 200 "$Q/log" s 60000 || mt_fail "writer s"
kt_size_is "$Q/log" 6240000 || mt_fail "Q/0 is $(stat -c %s "$Q/log") bytes after 120,000 lines of 52"
tl_wait_until 100 sh -c "awk '\$1 == \"start_seq\" && \$2 > 0 { ok = 1 } END { exit !ok }' '$Q/stats'" ||
	mt_fail "the log start never moved: $(head -n 4 "$Q/stats")"
sseq=$(awk '$1 == "start_seq" { print $2 }' "$Q/stats")
soff=$(awk '$1 == "start_off" { print $2 }' "$Q/stats")
qsize=$(stat -c %s "$Q/log")
[ "$qsize" = 6240000 ] || mt_fail "Q/0 is $qsize bytes: positions did not stay absolute"
[ "$(head -c "$soff" "$Q/log" | tr -d '\0' | wc -c)" = 0 ] || mt_fail "bytes below the retained point are not zeros"
kt_kcat Q 0 "$sseq" >"$T/qkcat"
tail -c +"$((soff + 1))" "$Q/log" | cmp - "$T/qkcat" || mt_fail "the retained bytes differ from kcat -o $sseq"
cmp "$T/qkcat" "$Q/at/0" || mt_fail "at/0 is not the log from the first kept message"
tl_say "  log start moved: first kept message $sseq at byte $soff of $qsize"
