#!/usr/bin/env bash
# t_mock.sh — the mock cluster helper (tests/kafka/mock_cluster.c): kcat
# produces 10,000 lines to a partition and reads them back byte-identical;
# its control channel works (a bad command is refused; with the
# partition's leader down a produce fails, with it up again it works).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_init
kt_mock_start -t T:3

tl_say "round trip: 10,000 lines through kcat -P, back through kcat -C"
awk 'BEGIN { for (i = 1; i <= 10000; i++) { v = ""; for (j = 0; j < i % 50; j++) v = v "x";
	printf "key%d\tvalue %d: %s\n", i % 17, i, v } }' >"$T/in"
kcat -P -b "$KT_ADDR" -t T -p 0 <"$T/in" 2>"$T/kcat.err" || kt_fail "kcat -P: $(cat "$T/kcat.err")"
kcat -C -b "$KT_ADDR" -t T -p 0 -o 0 -e -q >"$T/out" 2>"$T/kcat.err" || kt_fail "kcat -C: $(cat "$T/kcat.err")"
cmp "$T/in" "$T/out" || kt_fail "what kcat read back differs from what it produced"
kcat -C -b "$KT_ADDR" -t T -p 1 -o 0 -e -q >"$T/out1" 2>/dev/null || true
[ ! -s "$T/out1" ] || kt_fail "partition 1 holds messages produced to partition 0"

tl_say "control: a bad command is refused, the helper keeps serving"
if kt_ctl frobnicate 1 2>/dev/null; then kt_fail "an unknown command was accepted"; fi
if kt_ctl errors produce NO_SUCH_ERROR 2>/dev/null; then kt_fail "an unknown error name was accepted"; fi

tl_say "fault: partition 0's leader down, a produce fails; up again, it works"
kt_ctl leader T 0 2
kt_ctl down 2
if echo lost | kcat -P -b "$KT_ADDR" -t T -p 0 -X message.timeout.ms=1500 2>"$T/kcat.err"; then
	kt_fail "kcat -P succeeded with the partition's leader down"
fi
grep -q 'Message timed out' "$T/kcat.err" || kt_fail "kcat -P failed, but not by a timeout: $(cat "$T/kcat.err")"
kt_ctl up 2
echo back | kcat -P -b "$KT_ADDR" -t T -p 0 -X message.timeout.ms=10000 2>"$T/kcat.err" ||
	kt_fail "kcat -P failed with the leader up again: $(cat "$T/kcat.err")"
{ cat "$T/in"; echo back; } >"$T/want"
kcat -C -b "$KT_ADDR" -t T -p 0 -o 0 -e -q >"$T/out" 2>"$T/kcat.err" || kt_fail "kcat -C: $(cat "$T/kcat.err")"
cmp "$T/want" "$T/out" || kt_fail "after the fault the partition is not the 10,000 lines and 'back'"

tl_say "injected errors: two retriable produce errors, the message still lands once"
kt_ctl errors produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT
echo retried | kcat -P -b "$KT_ADDR" -t T -p 0 -X message.timeout.ms=10000 2>"$T/kcat.err" ||
	kt_fail "kcat -P failed after retriable errors: $(cat "$T/kcat.err")"
kcat -C -b "$KT_ADDR" -t T -p 0 -o -1 -e -q >"$T/out" 2>/dev/null
[ "$(cat "$T/out")" = retried ] || kt_fail "the last message is '$(cat "$T/out")', not 'retried'"

tl_say "PASS"
