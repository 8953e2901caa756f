#!/bin/bash
# Segments through the mount: small segment_size rolls many segment
# files; the log, at/N and remount stay exact; retention=wrap keeps the
# newest segments readable; retention=halt gives the writer ENOSPC.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
: >"$T/ref"
"$MTIO" lines "$T/ref" w0 20000

tl_say "segment_size=64k, stride=100: 20,000 lines (~1 MiB)"
mt_start -o segment_size=64k,stride=100
mkdir "$MNT/t"
"$MTIO" lines -b 50 "$MNT/t/0/log" w0 20000
mt_same "$MNT/t/0/log" "$T/ref"
nseg=$(ls "$DATADIR/t/0" | grep -c '\.log$')
echo "$nseg segment files"
# a block never spans segments and may hold up to max_buffer (5,000) lines
# when the machine is slow, so at least 20,000 / 5,000 = 4 segments
[ "$nseg" -ge 4 ] || mt_fail "only $nseg segments of 64 KiB for 1 MiB"
[ "$(head -n 1 "$MNT/t/0/at/12345" | cut -d' ' -f2)" = 00012345 ] ||
	mt_fail "at/12345: $(head -n 1 "$MNT/t/0/at/12345")"
[ "$(cat "$MNT/t/0/at/19999" | wc -l)" = 1 ] || mt_fail "at/19999"
[ "$(wc -l <"$MNT/t/0/index")" -ge 200 ] || mt_fail "index has $(wc -l <"$MNT/t/0/index") lines for 20,000 messages at stride 100"
cat "$DATADIR"/t/0/*.log | cmp - "$T/ref" || mt_fail "segment files do not concatenate to the log"
mt_stop
mt_start -o segment_size=64k,stride=100
mt_same "$MNT/t/0/log" "$T/ref"
mt_stop

tl_say "retention=wrap, max_segments=3"
mt_start -o segment_size=64k,max_segments=3,retention=wrap
mkdir "$MNT/w"
"$MTIO" lines -b 50 "$MNT/w/0/log" w0 20000
nseg=$(ls "$DATADIR/w/0" | grep -c '\.log$')
echo "$nseg segment files"
[ "$nseg" -le 4 ] || mt_fail "$nseg segments kept with max_segments=3"
[ "$(stat -c %s "$MNT/w/0/log")" = "$(stat -c %s "$T/ref")" ] ||
	mt_fail "logical size $(stat -c %s "$MNT/w/0/log") (offsets must not be renumbered)"
[ "$(tail -n 100 "$MNT/w/0/log" | md5sum)" = "$(tail -n 100 "$T/ref" | md5sum)" ] ||
	mt_fail "tail of the wrapped log differs"
[ "$(head -n 1 "$MNT/w/0/at/19990" | cut -d' ' -f2)" = 00019990 ] || mt_fail "at/19990 after wrap"
st=0
head -c 100 "$MNT/w/0/log" >"$T/head" 2>"$T/head.err" || st=$?
echo "note: reading offset 0 of a wrapped log: exit $st, $(wc -c <"$T/head") bytes ($(tr -d '\0' <"$T/head" | wc -c) not NUL) $(cat "$T/head.err")"
grep -E 'start_(seq|off)' "$MNT/w/0/stats" || true
mt_stop

tl_say "retention=halt, max_segments=3: the writer gets ENOSPC"
mt_start -o segment_size=64k,max_segments=3,retention=halt
mkdir "$MNT/h"
st=0
"$MTIO" lines "$MNT/h/0/log" w0 20000 2>"$T/halt.err" || st=$?
echo "writer exit $st: $(cat "$T/halt.err")"
[ "$st" != 0 ] || mt_fail "1 MiB fitted in 3 segments of 64 KiB under retention=halt"
grep -q ENOSPC "$T/halt.err" || mt_fail "halt: the writer's error is not ENOSPC"
cp "$MNT/h/0/log" "$T/halted"
mt_check_lines "$T/halted"
cmp -n "$(wc -c <"$T/halted")" "$T/halted" "$T/ref" || mt_fail "halted log is not a prefix"
