#!/bin/bash
# at/<N> and since/<time> are views that find their start at open and at
# every stat, never at their first lookup (issue 10): after retention=wrap
# deleted old segments, at/0 and since/0 serve exactly the kept messages
# (no NUL bytes of the deleted ones), also through a descriptor opened
# before; since/<a future time> serves nothing written before that time;
# a view's size is what read returns; a handle of a view or of
# <topic>/log whose bytes retention deleted while it read fails with
# ESTALE instead of reading zeros.  since/ takes every time form of
# shlog_time_parse(): Unix seconds, dates with or without a time and a
# zone, and times relative to now (-90m).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start -o segment_size=64k,max_segments=3,retention=wrap,stride=100
mkdir "$MNT/w"
L=$MNT/w/0/log
: >"$T/ref"

# Fail, closing the descriptors held on views first (they would keep
# the mount busy at the unmount).
vfail() { exec 5<&- 6<&- 7<&- 8<&- 9<&-; mt_fail "$@"; }

# NUL bytes in file $1.
nuls() { tr -cd '\000' <"$1" | wc -c; }

# Check view $1 (read into $T/view) against the log: no NUL, a suffix of
# the reference at a line boundary, $2 bytes or fewer, size = bytes read.
check_view()
{
	local v=$1 max=$2 s
	cat "$v" >"$T/view"
	s=$(stat -c %s "$T/view")
	[ "$(nuls "$T/view")" = 0 ] || vfail "$v: $(nuls "$T/view") NUL bytes in $s"
	[ "$s" -gt 0 ] && [ "$s" -le "$max" ] || vfail "$v: $s bytes (expected 1..$max)"
	tail -c "$s" "$T/ref" | cmp -s - "$T/view" || vfail "$v is not the end of the log"
	[ "$(tail -c "$((s + 1))" "$T/ref" | head -c 1 | od -An -c | tr -d ' ')" = '\n' ] ||
		vfail "$v does not start at a message"
	[ "$(stat -c %s "$v")" = "$s" ] || vfail "$v: stat says $(stat -c %s "$v"), read gave $s"
}

tl_say "2,000 lines; the kernel gets at/0 and since/0 (and keeps them open)"
"$MTIO" lines -b 50 "$L" w0 2000
"$MTIO" lines "$T/ref" w0 2000
[ "$(cat "$MNT/w/0/at/0" | wc -l)" = 2000 ] || vfail "at/0 before retention"
[ "$(cat "$MNT/w/0/since/0" | wc -l)" = 2000 ] || vfail "since/0 before retention"
exec 7<"$MNT/w/0/at/0" 8<"$MNT/w/0/since/0"
exec 6<"$MNT/w/0/at/0" 5<"$MNT/w/log"
dd bs=64 count=1 <&6 2>/dev/null | cmp -s - <(head -c 64 "$T/ref") || vfail "first 64 bytes of at/0"
dd bs=64 count=1 <&5 2>/dev/null | cmp -s - <(head -c 64 "$T/ref") || vfail "first 64 bytes of w/log"

tl_say "20,000 more lines: retention deletes the first segments"
"$MTIO" lines -b 50 "$L" w1 20000
"$MTIO" lines "$T/ref" w1 20000
size=$(stat -c %s "$T/ref")
[ "$(stat -c %s "$L")" = "$size" ] || vfail "log size $(stat -c %s "$L") != $size"
head -c 100 "$L" | cmp -s - <(head -c 100 /dev/zero) || vfail "the log's first bytes were not deleted (no retention?)"
kept=$((size / 2)) # 3-4 segments of about 64 KiB are kept of 1.1 MiB
check_view "$MNT/w/0/at/0" "$kept"
echo "at/0: $(wc -l <"$T/view") kept lines of 22,000"
check_view "$MNT/w/0/since/0" "$kept"
cat <&7 >"$T/fd7"
cmp -s "$T/fd7" "$T/view" || vfail "at/0 opened before retention (not read) does not serve the kept messages"
cat <&8 >"$T/fd8"
cmp -s "$T/fd8" "$T/view" || vfail "since/0 opened before retention (not read) does not serve the kept messages"
exec 7<&- 8<&-
err=$(dd bs=1M <&6 2>&1 >/dev/null || true)
case $err in
*"Stale file handle"*) echo "at/0 read before retention, then past its kept bytes: ESTALE" ;;
*) vfail "at/0 read across deleted bytes: expected ESTALE, got: $err" ;;
esac
exec 6<&-
err=$(dd bs=1M <&5 2>&1 >/dev/null || true)
case $err in
*"Stale file handle"*) echo "w/log (topic log) read across deleted bytes: ESTALE" ;;
*) vfail "w/log read across deleted bytes: expected ESTALE, got: $err" ;;
esac
exec 5<&-

tl_say "since/<an hour from now>: nothing written before that time"
future=$(($(date +%s) + 3600))
F=$MNT/w/0/since/$future
[ "$(stat -c %s "$F")" = 0 ] || vfail "since/+1h has size $(stat -c %s "$F")"
[ -z "$(cat "$F")" ] || vfail "since/+1h is not empty"
exec 9<"$F"
"$MTIO" lines "$L" early 3
"$MTIO" lines "$T/ref" early 3
sleep 0.2
[ -z "$(cat "$F")" ] || vfail "since/+1h shows lines written before that time: $(cat "$F" | head -3)"
[ -z "$(cat <&9)" ] || vfail "since/+1h opened before the appends shows them"
[ "$(stat -c %s "$F")" = 0 ] || vfail "since/+1h has size $(stat -c %s "$F") after 3 appends"
exec 9<&-

tl_say "since/<2 s from now>: only what was written after that time"
t2=$(($(date +%s) + 2))
S=$MNT/w/0/since/$t2
exec 9<"$S"
"$MTIO" lines "$L" before 3
sleep 0.2
[ -z "$(cat "$S")" ] || vfail "since/+2s shows lines written before its time"
while [ "$(date +%s)" -le "$t2" ]; do sleep 0.1; done
sleep 0.1
[ -z "$(cat "$S")" ] || vfail "since/<past t2> shows lines written before t2: $(head -3 "$S")"
"$MTIO" lines "$L" after 2
sleep 0.2
got=$(cut -d' ' -f1 "$S" | tr '\n' ' ')
[ "$got" = "after after " ] || vfail "since/t2 after the time: '$got' (expected the 2 later lines)"
got=$(cut -d' ' -f1 <&9 | tr '\n' ' ')
[ "$got" = "after after " ] || vfail "since/t2 opened before its time: '$got'"
[ "$(stat -c %s "$S")" = "$(cat "$S" | wc -c)" ] || vfail "since/t2: size differs from read"
exec 9<&-

tl_say "since/ takes dates, zone-less times, UTC offsets and relative times"
V=$MNT/w/0/since
cat "$V/0" >"$T/all"
[ -s "$T/all" ] || vfail "since/0 is empty"
for t in -1h -90m -1d "$(date -u -d yesterday +%F)" \
	"$(date -u -d '-1 hour' +%FT%H:%M)" "$(date -u -d '-1 hour' '+%F %H:%M:%S')"; do
	cmp -s "$V/$t" "$T/all" || vfail "since/$t is not the whole log ($(wc -l <"$V/$t") lines)"
done
for t in "$(date -u -d tomorrow +%F)" "$(date -u -d '+1 hour' +%FT%H:%M)" -0s; do
	[ -e "$V/$t" ] || vfail "since/$t does not exist"
	[ -z "$(cat "$V/$t")" ] || vfail "since/$t shows lines written before it"
done
for t in -1x -1 1h 2026-13-01 2026-11-22T25:00 0x10 '2026-11-22T10:00+1:00'; do
	[ ! -e "$V/$t" ] || vfail "since/$t (malformed) exists"
done
"$MTIO" lines "$L" rel1 2
sleep 1
mid=$(($(date +%s) + 2)) # rel1 is 2 s or more before mid
while [ "$(date +%s)" -le "$((mid + 1))" ]; do sleep 0.1; done
"$MTIO" lines "$L" rel2 2 # 2 s or more after mid
sleep 0.2
for t in "$mid" "$mid.0" "$(date -u -d "@$mid" +%FT%H:%M:%SZ)" \
	"$(date -u -d "@$mid" '+%F %H:%M:%S')" "$(date -u -d "@$mid" +%Ft%H:%M:%S.000z)" \
	"$(date -u -d "@$((mid + 19800))" +%FT%H:%M:%S+05:30)" \
	"$(date -u -d "@$((mid - 3600))" +%FT%H:%M:%S-01:00)" \
	"-$(($(date +%s) - mid + 1))s"; do
	got=$(cut -d' ' -f1 "$V/$t" | tr '\n' ' ')
	[ "$got" = "rel2 rel2 " ] || vfail "since/$t: '$got' (expected the 2 lines after it)"
done
echo "since/: 6 forms of the whole log, 3 of the future, 7 malformed, 8 of one instant"

echo "ok: views re-resolve their start; since/ never shows earlier lines"
