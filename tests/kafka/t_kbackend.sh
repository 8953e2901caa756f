#!/usr/bin/env bash
# t_kbackend.sh — fs/be_kafka.c's table without FUSE (tests/kafka/kbackend_test)
# against the mock cluster: 12,000 lines appended, synced and read back by
# byte (byte-identical to what was written and to kcat -C), seek_seq, keys;
# a restart resumes the byte index; a fake source with offset gaps, null
# values and a moving log start; key routing as kcat -K's; the Admin API
# refused clearly; modes kept in the cache dir; EAGAIN at a full queue with
# O_NONBLOCK; 60 partitions read with a
# bounded number of readers; brokers down at open.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_init
[ -x "${KBACKEND_TEST:-}" ] || kt_fail "KBACKEND_TEST is not the built test program: '${KBACKEND_TEST:-}'"
kt_mock_start -t A:1 -t B:4 -t G:1 -t M:60 -t N:1
B=${KT_ADDR//,/+}
KB=("$KBACKEND_TEST" "$B" "$T/cache")

tl_say "round trip: append, sync, read back by byte; seek_seq; keys; the same bytes as kcat"
"${KB[@]}" roundtrip A "$T/want" || kt_fail "roundtrip"
kcat -C -b "$KT_ADDR" -t A -p 0 -o 0 -e -q >"$T/kcat.A" 2>"$T/kcat.err" || kt_fail "kcat: $(cat "$T/kcat.err")"
cmp "$T/want" "$T/kcat.A" || kt_fail "the backend's log and kcat's differ"

tl_say "restart: the index resumes (size at once), keys back, appends go on"
"${KB[@]}" restart A "$T/want" || kt_fail "restart"
kcat -C -b "$KT_ADDR" -t A -p 0 -o 0 -e -q >"$T/kcat.A" 2>"$T/kcat.err" || kt_fail "kcat: $(cat "$T/kcat.err")"
cmp "$T/want" "$T/kcat.A" || kt_fail "after the restart the backend's log and kcat's differ"

tl_say "a fake source: offset gaps (compaction, a transaction marker), null values, retention"
"${KB[@]}" fake || kt_fail "fake"

tl_say "key routing: as kcat -K with murmur2_random"
seq 0 199 | sed 's/.*/k&\tv&/' | kcat -P -b "$KT_ADDR" -t B -K '\t' -X partitioner=murmur2_random 2>"$T/kcat.err" ||
	kt_fail "kcat -P -K: $(cat "$T/kcat.err")"
kcat -C -b "$KT_ADDR" -t B -o 0 -e -q -f '%p %k\n' >"$T/route" 2>/dev/null
[ "$(cut -d' ' -f1 "$T/route" | sort -u | wc -l)" -gt 1 ] || kt_fail "all keys in one partition"
"${KB[@]}" route "$T/route" 4 || kt_fail "route"

tl_say "the Admin API: refused clearly on the mock"
"${KB[@]}" admin 2>"$T/admin.err" || kt_fail "admin: $(cat "$T/admin.err")"
grep -q "refused by the cluster" "$T/admin.err" || kt_fail "no log line names the refusal: $(cat "$T/admin.err")"

tl_say "modes and owners: kept in the cache dir"
"${KB[@]}" modes || kt_fail "modes"

tl_say "60 partitions written and read: the readers (librdkafka consumers) stay bounded"
"${KB[@]}" readers M 60 || kt_fail "readers"

tl_say "a full producer queue: EAGAIN with O_NONBLOCK (the leader down), a held write delivered once it is up"
kt_ctl leader N 0 2
kt_ctl down 2
mkfifo "$T/go"
"${KB[@]}" nonblock N <"$T/go" >"$T/nb.out" 2>"$T/nb.err" &
nb=$!
exec 8>"$T/go"
tl_wait_until 200 grep -q '^eagain' "$T/nb.out" || { exec 8>&-; wait "$nb" || true; kt_fail "nonblock: $(cat "$T/nb.out" "$T/nb.err")"; }
kt_ctl up 2
echo go >&8
exec 8>&-
wait "$nb" || kt_fail "nonblock after up: $(cat "$T/nb.err")"
grep -q '^held and delivered' "$T/nb.out" || kt_fail "nonblock: $(cat "$T/nb.out")"
[ "$(kcat -C -b "$KT_ADDR" -t N -p 0 -o 0 -e -q 2>/dev/null | grep -c '^held$')" = 1 ] || kt_fail "the held line is not in N [0] once"

tl_say "brokers down at open: a bounded failure naming them"
"$KBACKEND_TEST" 127.0.0.1:9 "$T/cache2" down 2>/dev/null || kt_fail "down"
