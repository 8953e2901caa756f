#!/bin/bash
# Appending with ordinary tools and reading back byte-exact; tail -f;
# lines split across write() calls; dd, rsync --append, cat >>.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start
mkdir "$MNT/t"
L=$MNT/t/0/log
: >"$T/expect"

# Append stdin to the log and to the expected copy.
both() { tee -a "$T/expect" >>"$L"; }

tl_say "echo >> then cat at once (read-your-writes, fresh st_size)"
echo "alice	hello" >>"$L"
printf 'alice\thello\n' >>"$T/expect"
[ "$(cat "$L")" = "alice	hello" ] || mt_fail "cat after echo: '$(cat "$L")'"
[ "$(stat -c %s "$L")" = 12 ] || mt_fail "st_size $(stat -c %s "$L"), expected 12"
for i in $(seq 1 50); do echo "line $i ünïcödé \\ \$ * end" >>"$L"; done
for i in $(seq 1 50); do echo "line $i ünïcödé \\ \$ * end" >>"$T/expect"; done
mt_same "$L" "$T/expect"
[ "$(stat -c %s "$L")" = "$(wc -c <"$T/expect")" ] || mt_fail "st_size after 51 lines"
[ "$(wc -l <"$L")" = 51 ] || mt_fail "wc -l: $(wc -l <"$L")"
[ "$(head -n 2 "$L" | tail -n 1)" = "line 1 ünïcödé \\ \$ * end" ] || mt_fail "head -n 2"
[ "$(tail -n 1 "$L")" = "line 50 ünïcödé \\ \$ * end" ] || mt_fail "tail -n 1"
[ "$(grep -c 'line 4' "$L")" = 11 ] || mt_fail "grep -c"

tl_say "tail -f follows new lines"
timeout 10 tail -n 0 -f "$L" >"$T/tailout" 2>"$T/tailerr" &
tailpid=$!
sleep 1.5
echo "followed one" | both
echo "followed two" | both
has_two() { grep -q 'followed two' "$T/tailout"; }
tl_wait_until 60 has_two || mt_fail "tail -f did not show new lines within 6 s: '$(cat "$T/tailout")' $(cat "$T/tailerr")"
kill "$tailpid" 2>/dev/null || true
wait "$tailpid" 2>/dev/null || true
[ "$(cat "$T/tailout")" = "followed one
followed two" ] || mt_fail "tail -f output: '$(cat "$T/tailout")'"
echo "ok: tail -f"

tl_say "a line split across write() calls"
"$MTIO" write -a "$L" "sp" "lit " "across" " calls"$'\n'"and a"$'\n' "nother"$'\n'
printf 'split across calls\nand a\nnother\n' >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "two open handles with unfinished lines do not interleave"
exec 3>>"$L" 4>>"$L"
printf 'A-first-half ' >&3
printf 'B-whole\n' >&4
printf 'B-two ' >&4
printf 'A-second-half\n' >&3
printf 'B-three\n' >&4
exec 3>&- 4>&-
grep -qx 'A-first-half A-second-half' "$L" || mt_fail "A's line torn: $(tail -n 4 "$L")"
grep -qx 'B-whole' "$L" || mt_fail "B-whole torn: $(tail -n 4 "$L")"
grep -qx 'B-two B-three' "$L" || mt_fail "B's second line torn: $(tail -n 4 "$L")"
[ "$(tail -n 3 "$L" | sort | tr '\n' '|')" = "A-first-half A-second-half|B-two B-three|B-whole|" ] ||
	mt_fail "last 3 lines: $(tail -n 3 "$L")"
tail -n 3 "$L" >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "a last line without newline is never glued to a later write"
printf 'no-newline' >>"$L"
# the unfinished line is finished at release, which the kernel sends
# after close() has returned: wait for it, or the next line may come first
kept() { grep -qx 'no-newline' "$L"; }
tl_wait_until 20 kept || true
echo "next-writer" >>"$L"
if grep -q 'no-newlinenext-writer' "$L"; then mt_fail "unfinished line glued to the next write"; fi
tail -n 2 "$L"
if grep -qx 'no-newline' "$L"; then
	echo "note: an unfinished last line is kept as a message at close"
	printf 'no-newline\n' >>"$T/expect"
else
	echo "note: an unfinished last line is dropped at close"
fi
echo "next-writer" >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "cat >> of 3 MiB (128 KiB writes, lines straddling writes)"
head -c 2359296 /dev/urandom | base64 -w 76 >"$T/big"
cat "$T/big" >>"$L"
cat "$T/big" >>"$T/expect"
mt_same "$L" "$T/expect"
[ "$(stat -c %s "$L")" = "$(stat -c %s "$T/expect")" ] || mt_fail "st_size after cat >>"

tl_say "one 4 MiB write (split into <= 1 MiB requests by the kernel)"
head -c 3145728 /dev/urandom | base64 -w 99 >"$T/big4"
dd if="$T/big4" of="$L" bs=8M oflag=append conv=notrunc status=none
cat "$T/big4" >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "dd conv=notrunc oflag=append"
printf 'dd line one\ndd line two\n' | dd of="$L" conv=notrunc oflag=append status=none
printf 'dd line one\ndd line two\n' >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "dd at an offset equal to the current end"
size=$(stat -c %s "$L")
printf 'dd at end\n' | dd of="$L" bs=1 seek="$size" conv=notrunc status=none
printf 'dd at end\n' >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "rsync --append"
cp "$T/expect" "$T/rsrc"
for i in $(seq 1 1000); do echo "rsync line $i"; done >>"$T/rsrc"
rsync --append "$T/rsrc" "$L" || mt_fail "rsync --append exited $?"
mt_same "$L" "$T/rsrc"
cp "$T/rsrc" "$T/expect"
rsync --append "$T/rsrc" "$L" || mt_fail "second rsync --append (nothing new) exited $?"
mt_same "$L" "$T/expect"

tl_say "tee -a, and other partitions untouched"
echo "via tee" | tee -a "$L" >/dev/null
echo "via tee" >>"$T/expect"
mt_same "$L" "$T/expect"
[ "$(cat "$MNT/t/0/log" | wc -c)" = "$(wc -c <"$T/expect")" ] || mt_fail "size"

tl_say "reads at any offset: tail -c, dd skip=, head -c"
[ "$(tail -c 1000 "$L" | md5sum)" = "$(tail -c 1000 "$T/expect" | md5sum)" ] || mt_fail "tail -c 1000"
for spec in "1 7 13" "4096 100 3" "1000 5000 7" "65536 60 2" "131072 57 1"; do
	set -- $spec
	a=$(dd if="$L" bs="$1" skip="$2" count="$3" status=none | md5sum)
	b=$(dd if="$T/expect" bs="$1" skip="$2" count="$3" status=none | md5sum)
	[ "$a" = "$b" ] || mt_fail "dd bs=$1 skip=$2 count=$3 differs"
done
[ "$(head -c 333333 "$L" | md5sum)" = "$(head -c 333333 "$T/expect" | md5sum)" ] || mt_fail "head -c"
size=$(stat -c %s "$L")
[ "$(dd if="$L" bs=1 skip="$size" status=none | wc -c)" = 0 ] || mt_fail "read at the end is not empty"
[ "$(dd if="$L" bs=1 skip=$((size + 100)) status=none | wc -c)" = 0 ] || mt_fail "read past the end is not empty"

tl_say "sync, fsync and fdatasync of a log, fsync of directories, syncfs"
mt_expect_ok sync "$L"
mt_expect_ok sync -d "$L"
mt_expect_ok sync "$MNT/t/0"
mt_expect_ok sync "$MNT/t"
mt_expect_ok sync -f "$MNT"
mt_expect_ok mkdir -p "$MNT/t/0"

tl_say "remount: the log is byte-identical"
mt_stop
mt_start
mt_same "$L" "$T/expect"
[ "$(stat -c %s "$L")" = "$(stat -c %s "$T/expect")" ] || mt_fail "st_size after remount"
