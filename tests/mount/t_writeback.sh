#!/bin/bash
# -o writeback: partition logs behind the kernel's page cache.  Appends
# with echo, printf and cat come back byte for byte; a line of a writer
# that keeps its file open is readable after sync; an unfinished line
# becomes a line when its writer closes; 4 concurrent writers lose and
# tear nothing; status, at/ and keys/ files show fresh sizes (tar gets
# them whole); writes that would bypass the log's byte stream are
# refused (open without O_APPEND, <topic>/log, keys/, rm keys/K), a
# write into old bytes fails at fsync without changing the log, and a
# shared mmap written at offset 0 fails alone: other writers go on while
# it holds its file open.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

mt_start -o writeback
L=$MNT/t/0/log
mkdir "$MNT/t"

tl_say "echo, printf, cat >> come back as written"
echo "alice	hello" >>"$L"
printf 'one\ntwo\n' >>"$L"
printf 'unfin' >>"$L"            # finished with a '\n' at the last close
# the kernel sends that release after close() returns: wait for the '\n'
sealed() { [ -z "$(tail -c 1 "$L")" ]; }
tl_wait_until 50 sealed || mt_fail "unfinished line not finished at close"
printf 'ished\n' >>"$L"
seq 1 20000 >"$T/seq"
cat "$T/seq" >>"$L"
{ printf 'alice\thello\none\ntwo\nunfin\nished\n'; cat "$T/seq"; } >"$T/want"
cmp "$L" "$T/want" || mt_fail "log differs from what was written"
[ "$(stat -c %s "$L")" = "$(stat -c %s "$T/want")" ] ||
	mt_fail "size $(stat -c %s "$L"), want $(stat -c %s "$T/want")"
[ "$(cat "$MNT/t/0/keys/alice")" = hello ] || mt_fail "keys/alice"
[ "$(head -n 2 "$MNT/t/0/at/3")" = "$(printf 'unfin\nished')" ] ||
	mt_fail "at/3: $(head -n 2 "$MNT/t/0/at/3")"

tl_say "a writer that keeps its file open: readers see its line once it is written back (sync)"
exec 3>>"$L"
printf 'held open\n' >&3
sync -d "$L"
[ "$(tail -n 1 "$L")" = "held open" ] || mt_fail "line of an open writer not readable after sync"
exec 3>&-

tl_say "status files show fresh sizes, and tar archives them whole"
n1=$(stat -c %s "$MNT/t/0/at/0")
echo more >>"$L"
n2=$(stat -c %s "$MNT/t/0/at/0")
[ "$n2" -gt "$n1" ] || mt_fail "at/0 size did not grow: $n1 then $n2"
s1=$(cat "$MNT/t/0/stats")
echo more >>"$L"
sleep 0.1
[ "$(stat -c %s "$MNT/t/0/stats")" = "$(cat "$MNT/t/0/stats" | wc -c)" ] ||
	mt_fail "stats: stat size differs from its text"
[ "$s1" != "$(cat "$MNT/t/0/stats")" ] || mt_fail "stats did not change"
tar -C "$MNT" -cf "$T/t.tar" t t/0/anchor t/0/stats # status files by name: not listed
mkdir "$T/x"
tar -C "$T/x" -xf "$T/t.tar"
cmp "$T/x/t/0/log" "$L" || mt_fail "tar: log differs"
grep -q '^committed_seq' "$T/x/t/0/anchor" || mt_fail "tar: anchor: $(cat "$T/x/t/0/anchor")"

tl_say "4 writers, 20,000 lines each, 10 lines per write()"
mkdir "$MNT/c"
pids=()
for w in 0 1 2 3; do
	"$MTIO" lines -b 10 "$MNT/c/0/log" "w$w" 20000 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || mt_fail "writer $p failed"; done
cp "$MNT/c/0/log" "$T/c"
got=$(mt_check_lines "$T/c")
[ "$(echo "$got" | tr '\n' ' ')" = "w0 20000 w1 20000 w2 20000 w3 20000 " ] ||
	mt_fail "concurrent writers: $got"

tl_say "writes that would bypass the byte stream are refused"
"$MTIO" write "$L" "x
" 2>"$T/e" && mt_fail "open without O_APPEND was accepted"
grep -q 'not permitted' "$T/e" || mt_fail "open without O_APPEND: $(cat "$T/e")"
! echo x 2>/dev/null >>"$MNT/t/log" || mt_fail "<topic>/log accepted a write"
! echo v 2>/dev/null >"$MNT/t/0/keys/alice" || mt_fail "keys/alice accepted a write"
! rm "$MNT/t/0/keys/alice" 2>/dev/null || mt_fail "rm keys/alice was accepted"
grep -q 'refused with -o writeback' "$MT_ERR" || mt_fail "no log line for the refusals"

tl_say "a write into old bytes fails at fsync; the log keeps its bytes"
cp "$L" "$T/before"
! "$MTIO" write -a -x -o 0 -s "$L" "mallory" 2>"$T/e" ||
	mt_fail "overwrite at offset 0 was acknowledged by fsync"
cat "$T/e"
cmp "$L" "$T/before" || mt_fail "log changed by a refused write (as read back)"
grep -q 'differ from the stored bytes' "$MT_ERR" || mt_fail "no log line for the refused write"
echo "after refusal" >>"$L"
[ "$(tail -n 1 "$L")" = "after refusal" ] || mt_fail "append after a refused write"

tl_say "a shared mmap written at offset 0 while others append: only it is refused"
cat >"$T/mapw.py" <<'EOF'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
m[0:6] = b"MMAPED"
try:
    m.flush()
    print("flush ok", flush=True)
except OSError as e:
    print("flush failed", e.errno, flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
m.close()
os.close(fd)
EOF
head -c 6 "$L" >"$T/head"
python3 "$T/mapw.py" "$L" "$T/mmap.done" >"$T/mmap.out" 2>&1 &
mpid=$!
tl_wait_until 100 grep -q flush "$T/mmap.out" || mt_fail "mmap writer: $(cat "$T/mmap.out")"
cat "$T/mmap.out"
grep -q 'flush failed' "$T/mmap.out" || mt_fail "the mmap write at offset 0 was acknowledged"
# while the offender holds its file open: writers append, one with fsync
"$MTIO" lines -b 10 "$L" m0 2000 || mt_fail "writer m0 failed while the offender holds the log open"
"$MTIO" write -a -s "$L" "synced after mmap
" || mt_fail "an fsync'd append failed while the offender holds the log open"
"$MTIO" lines -b 7 "$L" m1 2000 || mt_fail "writer m1 failed while the offender holds the log open"
touch "$T/mmap.done"
wait "$mpid" || true
cmp -n 6 "$L" "$T/head" || mt_fail "the log's first bytes changed: $(head -c 6 "$L")"
grep -E '^m[01] ' "$L" >"$T/m" || true
got=$(mt_check_lines "$T/m")
[ "$(echo "$got" | tr '\n' ' ')" = "m0 2000 m1 2000 " ] || mt_fail "appends beside the offender: $got"
grep -qx 'synced after mmap' "$L" || mt_fail "the fsync'd line is missing"
grep -q 'they differ from the stored bytes' "$MT_ERR" || mt_fail "no log line for the mmap write"
echo "ok: the mmap write was refused, 4001 other lines stored meanwhile"

tl_say "remount: everything closed is stored"
cp "$L" "$T/final"
mt_stop
mt_start -o writeback
cmp "$MNT/t/0/log" "$T/final" || mt_fail "log differs after remount"
mt_stop
echo "PASS"
