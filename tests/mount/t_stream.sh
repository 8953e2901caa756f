#!/bin/bash
# shellcheck disable=SC2012 # what ls lists is what is tested here
# Cursor streams (issue 13): <topic>/<p>/stream/NAME reads cursor NAME
# from its committed position like cursors/NAME and at the end of the
# log waits like follow (fs/k_cursor.c, fs/follow.c; shlogfs(8) "Cursor
# streams").  Checked: stream/ is found by name, lists nothing; a missing
# cursor is ENOENT; the file is read-only; a blocked reader is woken by
# an append; a read that must wait first commits (kill -9 of a waiting
# reader re-reads nothing, a pipeline ended by SIGINT neither); EBUSY
# across cursors/NAME and stream/NAME; cursors/NAME still ends; EAGAIN
# (which commits too), poll, select, ESPIPE, a signal ends a read;
# fsync commits; rm of the cursor ends a waiting read (ENOENT); kill -9
# of the daemon while a reader waits skips nothing; retention deleting
# what an open stream had not read moves it and its position to the
# first kept message; a user who may not read the partition gets EACCES; 120 concurrent streams, and the
# waiting-read and follower gauges of /.metrics; a waiting stream read
# counts against max_follow_per_user; and <topic>/follow takes
# partitions made after its open (those its opener may read).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
export LC_ALL=C
mt_start -o allow_other
mkdir "$MNT/t"
chmod 755 "$MNT/t" "$MNT/t/0"
P=$MNT/t/0
S=$P/stream

# Line $1 of the log as written (10 bytes with its newline).
line() { printf 'line-%04d\n' "$1"; }
# Lines $1..$2.
lines() { local i; for i in $(seq "$1" "$2"); do line "$i"; done; }
# Append lines $1..$2 to t/0's log and make them durable.
add()
{
	lines "$1" "$2" >>"$P/log"
	python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND))' "$P/log"
}
# Lines in file $1 (0 if it does not exist yet).
nlines() { [ -e "$1" ] && wc -l <"$1" || echo 0; }
# Does file $1 hold at least $2 lines?
has_lines() { [ "$(nlines "$1")" -ge "$2" ]; }
# A store-wide sample of /.metrics (root's view).
gauge() { sed -n "s/^$1 //p" "$MNT/.metrics"; }
# Is the number of reads waiting now $1?
waiting_is() { [ "$(gauge shlogfs_follow_waiting_reads)" = "$1" ]; }
# Committed position of cursor $1 of partition $2 (default 0) of t.
pos() { sed -n "s/^shlog_cursor_position{topic=\"t\",partition=\"${2:-0}\",cursor=\"$1\"} //p" "$MNT/.metrics"; }
# Is cursor $1's committed position $2?
pos_is() { [ "$(pos "$1")" = "$2" ]; }
# Wait (5 s) until cursor $1's committed position is $2 (a waiting read
# commits while it waits), or fail with $3.
wait_pos() { tl_wait_until 50 pos_is "$1" "$2" || mt_fail "$3: position $(pos "$1"), not $2"; }
# Can cursor $1 of t/0 be opened for reading (its last reader released)?
can_open() { python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY))' "$P/cursors/$1" 2>/dev/null; }
# Wait (5 s) until the kernel released cursor $1's last reader (a release
# follows the close of a killed process asynchronously).
released() { tl_wait_until 50 can_open "$1" || mt_fail "cursor $1 stays busy"; }
# Wait (5 s) until $1 reads wait, or fail with $2.
wait_waiting() { tl_wait_until 50 waiting_is "$1" || mt_fail "$2 (waiting reads: $(gauge shlogfs_follow_waiting_reads), not $1)"; }

add 0 9
: >"$P/cursors/c"

tl_say "stream/ is found by name and lists nothing; a missing cursor is ENOENT; read-only"
[ "$(ls "$P")" = log ] || mt_fail "partition listing: $(ls "$P" | tr '\n' ' ')"
{ [ -d "$S" ] && [ -z "$(ls "$S")" ]; } || mt_fail "stream/ is missing or lists: $(ls "$S" | tr '\n' ' ')"
{ [ -f "$S/c" ] && [ "$(stat -c %s "$S/c")" = 0 ]; } || mt_fail "stream/c: not a file of size 0"
mt_expect_err 'No such file' cat "$S/nope"
mt_expect_err 'No such file' cat "$P/cursors/nope"
mt_expect_err 'Permission denied' bash -c "echo 1 >'$S/c'"

tl_say "a blocked stream shows each appended line; the read that waits first commits"
cat "$S/c" >"$T/s1" &
s1=$!
tl_wait_until 50 has_lines "$T/s1" 10 || mt_fail "the stream did not give the log"
wait_waiting 1 "the stream's read did not wait at the end"
kill -0 "$s1" 2>/dev/null || mt_fail "cat stream/c ended at the end of the log"
wait_pos c 10 "the read that waits did not commit"
for i in 10 11 12; do
	add "$i" "$i"
	tl_wait_until 50 has_lines "$T/s1" $((i + 1)) ||
		mt_fail "line $i did not reach the blocked stream in 5 s"
done
wait_waiting 1 "the stream did not wait again"
wait_pos c 13 "after three woken reads"
cmp "$T/s1" "$P/log" || mt_fail "the stream's copy differs from the log"

tl_say "one reader at a time across cursors/NAME and stream/NAME"
mt_expect_err 'busy' cat "$P/cursors/c"
mt_expect_err 'busy' cat "$S/c"
kill "$s1"
tl_reap 50 "$s1" || mt_fail "the stream reader did not end on SIGTERM"
released c
[ "$(pos c)" = 13 ] || mt_fail "position $(pos c) after SIGTERM, not 13"
[ -z "$(cat "$P/cursors/c")" ] || mt_fail "cursors/c gives again what the stream gave"
add 13 14
[ "$(cat "$P/cursors/c")" = "$(lines 13 14)" ] || mt_fail "cursors/c did not end after the new lines"
python3 - "$P/cursors/c" "$S/c" <<'EOF' || mt_fail "EBUSY the other way"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.open(sys.argv[2], os.O_RDONLY)
    sys.exit("stream/c opened while cursors/c is read")
except OSError as e:
    if e.errno != errno.EBUSY:
        sys.exit("stream/c: %s, not EBUSY" % e)
os.close(fd)
EOF

tl_say "SIGINT ends 'cat stream/c | grep' (Ctrl-C): nothing it had before its wait comes again"
add 15 19
# (a background job starts with SIGINT ignored: the pipeline gets it back)
setsid env --default-signal=INT bash -c "exec >'$T/g'; cat '$S/c' | grep --line-buffered line" &
g=$!
tl_wait_until 50 has_lines "$T/g" 5 || mt_fail "the pipeline did not get 5 lines"
wait_waiting 1 "the pipeline's cat did not wait"
kill -INT -- -"$g"
tl_reap 50 "$g" || mt_fail "SIGINT did not end the pipeline"
released c
[ "$(cat "$T/g")" = "$(lines 15 19)" ] || mt_fail "the pipeline got: $(cat "$T/g")"
[ "$(pos c)" = 20 ] || mt_fail "position $(pos c) after SIGINT, not 20"
add 20 21
[ "$(cat "$P/cursors/c")" = "$(lines 20 21)" ] || mt_fail "after SIGINT the next reader re-read lines"

tl_say "kill -9 of a reader while it waits: the next reader starts after what it read"
add 22 29
cat "$S/c" >"$T/k" &
k=$!
tl_wait_until 50 has_lines "$T/k" 8 || mt_fail "the reader did not get 8 lines"
wait_waiting 1 "the reader did not wait"
kill -9 "$k"
tl_reap 50 "$k" || mt_fail "kill -9 did not end the reader"
released c
[ "$(cat "$T/k")" = "$(lines 22 29)" ] || mt_fail "the killed reader got: $(cat "$T/k")"
add 30 31
[ "$(cat "$P/cursors/c")" = "$(lines 30 31)" ] ||
	mt_fail "after kill -9 of a waiting reader the next read re-read its lines"

tl_say "EAGAIN (which commits), poll, select, ESPIPE, a signal, fsync"
add 32 35
cat >"$T/poll.py" <<'EOF'
import errno, os, select, signal, sys, threading, time
part, path = sys.argv[1], sys.argv[2]
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
def line(i):
    return b"line-%04d\n" % i
def append_later(i, delay=0.3):
    def w():
        time.sleep(delay)
        with open(part + "/log", "ab") as f:
            f.write(line(i))
    t = threading.Thread(target=w); t.start(); return t
def read_all(fd):
    out = b""
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            return out, "EAGAIN"
        if not b:
            return out, "EOF"
        out += b
def position():
    want = 'shlog_cursor_position{topic="t",partition="0",cursor="c"} '
    for l in open(os.path.dirname(os.path.dirname(part)) + "/.metrics"):
        if l.startswith(want):
            return int(l[len(want):])
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
got, end = read_all(fd)
if got != b"".join(line(i) for i in range(32, 36)) or end != "EAGAIN":
    fail("non-blocking read: %r, then %s" % (got, end))
if position() != 36:
    fail("position %s after EAGAIN, not 36" % position())
for what, call in (("lseek", lambda: os.lseek(fd, 0, os.SEEK_SET)),
                   ("pread", lambda: os.pread(fd, 10, 0))):
    try:
        call(); fail(what + " succeeded")
    except OSError as e:
        if e.errno != errno.ESPIPE:
            fail("%s: %s, not ESPIPE" % (what, errno.errorcode[e.errno]))
p = select.poll(); p.register(fd, select.POLLIN)
if p.poll(200):
    fail("poll of stream/c ready at the end")
t = append_later(36)
r = p.poll(5000); t.join()
if not r or not r[0][1] & select.POLLIN:
    fail("poll did not wake on an append: %r" % r)
if os.read(fd, 65536) != line(36):
    fail("read after poll")
t = append_later(37)
r, _, _ = select.select([fd], [], [], 5); t.join()
if r != [fd] or os.read(fd, 65536) != line(37):
    fail("select did not wake on an append")
# a signal ends a blocking read (its handler raises, so the read is not
# restarted): the daemon answered the interrupt
class Woken(Exception):
    pass
def alarm(signum, frame):
    raise Woken()
signal.signal(signal.SIGALRM, alarm)
import fcntl
fcntl.fcntl(fd, fcntl.F_SETFL, 0)
signal.setitimer(signal.ITIMER_REAL, 0.3)
start = time.time()
try:
    os.read(fd, 65536); fail("a blocking read at the end returned")
except Woken:
    pass
if time.time() - start > 5:
    fail("the signal took %.1f s" % (time.time() - start))
# read two lines without waiting, fsync, die: fsync committed them
with open(part + "/log", "ab") as f:
    f.write(line(38) + line(39) + line(40))
if os.read(fd, 21) != line(38) + line(39):   # a reply is shorter than its read
    fail("two lines")
os.fsync(fd)
os.kill(os.getpid(), signal.SIGKILL)
EOF
rc=0
python3 "$T/poll.py" "$P" "$S/c" 2>&1 || rc=$?
[ "$rc" = 137 ] || mt_fail "the poll and EAGAIN checks: exit $rc"
released c
[ "$(cat "$P/cursors/c")" = "$(line 40)" ] || mt_fail "after EAGAIN, poll and fsync: $(cat "$P/cursors/c")"
echo "ok: EAGAIN, poll, select, ESPIPE, a signal, fsync"

tl_say "rm of the cursor ends a waiting stream read (ENOENT)"
: >"$P/cursors/r"
cat "$S/r" >"$T/r" 2>"$T/r.err" &
r=$!
tl_wait_until 50 has_lines "$T/r" "$(wc -l <"$P/log")" || mt_fail "the stream of r did not start"
wait_waiting 1 "the stream of r did not wait"
rm "$P/cursors/r"
tl_reap 50 "$r" || mt_fail "a stream of a removed cursor still waits"
{ [ "$TL_STATUS" != 0 ] && grep -q 'No such file' "$T/r.err"; } ||
	mt_fail "the stream of a removed cursor: exit $TL_STATUS, $(cat "$T/r.err")"
mt_expect_err 'No such file' cat "$S/r"

tl_say "kill -9 of the daemon while a stream reader waits: nothing skipped after the remount"
: >"$P/cursors/d"
cat "$S/d" >"$T/d1" 2>/dev/null &
d1=$!
n=$(wc -l <"$P/log")
tl_wait_until 50 has_lines "$T/d1" "$n" || mt_fail "the stream of d did not start"
add "$n" $((n + 4))
tl_wait_until 50 has_lines "$T/d1" $((n + 5)) || mt_fail "the stream of d did not get the new lines"
wait_waiting 1 "the stream of d did not wait"
mt_kill9
tl_reap 50 "$d1" || mt_fail "the reader of a killed daemon still waits"
mt_start -o allow_other
add $((n + 5)) $((n + 9))
cat "$P/cursors/d" >"$T/d2"
cat "$T/d1" "$T/d2" | cmp - "$P/log" ||
	mt_fail "the stream before the kill and the cursor after it are not the log once ($(wc -l <"$T/d1") + $(wc -l <"$T/d2") lines of $(wc -l <"$P/log"))"

tl_say "permissions: a reader of the log may stream its cursors; a user who may not gets EACCES"
: >"$P/cursors/e"
rc=0
tl_as "$U" timeout 1 cat "$S/e" >"$T/u" || rc=$?
[ "$rc" = 124 ] || mt_fail "the user's stream: exit $rc"
cmp -s "$T/u" "$P/log" || mt_fail "the user's stream is not the log"
chmod 711 "$P"                           # the user may pass, not read the log
mt_expect_err 'Permission denied' tl_as "$U" cat "$S/e"
mt_expect_err 'Permission denied' tl_as "$U" cat "$S/c"
chmod 755 "$P"

tl_say "120 concurrent streams of distinct cursors; the gauges of /.metrics"
mkdir "$MNT/t/1"
Q=$MNT/t/1
N=120
pids=()
for i in $(seq 1 $N); do : >"$Q/cursors/s$i"; done
for i in $(seq 1 $N); do cat "$Q/stream/s$i" >"$T/m.$i" & pids+=($!); done
wait_waiting $N "not every stream waits at the empty log"
[ "$(gauge shlogfs_followers)" = $N ] || mt_fail "followers gauge $(gauge shlogfs_followers), not $N"
lines 0 19 >>"$Q/log"
all_have() {
	local i
	for i in $(seq 1 $N); do has_lines "$T/m.$i" 20 || return 1; done
}
tl_wait_until 600 all_have || mt_fail "not every stream got 20 lines in 60 s"
wait_waiting $N "not every stream waits again"
for i in $(seq 1 $N); do
	cmp -s "$T/m.$i" "$Q/log" || mt_fail "stream $i: wrong copy"
done
at20() { [ "$(grep -c '^shlog_cursor_position{topic="t",partition="1",cursor="s[0-9]*"} 20$' "$MNT/.metrics")" = $N ]; }
tl_wait_until 50 at20 ||
	mt_fail "$(grep -c '^shlog_cursor_position{topic="t",partition="1",cursor="s[0-9]*"} 20$' "$MNT/.metrics") of $N cursors committed at 20 while waiting"
kill "${pids[@]}"
for pid in "${pids[@]}"; do tl_reap 100 "$pid" || mt_fail "stream $pid stuck"; done
tl_wait_until 50 waiting_is 0 || mt_fail "waiting reads left: $(gauge shlogfs_follow_waiting_reads)"
followers_gone() { [ "$(gauge shlogfs_followers)" = 0 ]; }
tl_wait_until 50 followers_gone || mt_fail "followers left: $(gauge shlogfs_followers)"
echo "ok: $N streams, each a copy, each committed while it waited"

tl_say "<topic>/follow takes partitions made after its open, those its reader may read"
mkdir "$MNT/g"
chmod 755 "$MNT/g" "$MNT/g/0"
echo g0-a >>"$MNT/g/0/log"
(exec setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all \
	cat "$MNT/g/follow") >"$T/gf" &
gf=$!
cat "$MNT/g/follow" >"$T/gr" &
gr=$!
{ tl_wait_until 50 has_lines "$T/gf" 1 && tl_wait_until 50 has_lines "$T/gr" 1; } ||
	mt_fail "the topic streams did not start"
wait_waiting 2 "the topic streams did not wait"
mkdir "$MNT/g/1"
echo g1-a >>"$MNT/g/1/log"
mkdir -m 700 "$MNT/g/2"
echo g2-private >>"$MNT/g/2/log"
mkdir "$MNT/g/4"                          # 3 made too, hidden
echo g4-a >>"$MNT/g/4/log"
echo g0-b >>"$MNT/g/0/log"
tl_wait_until 50 has_lines "$T/gr" 5 || mt_fail "root's topic stream: $(cat "$T/gr")"
tl_wait_until 50 has_lines "$T/gf" 4 || mt_fail "the user's topic stream: $(cat "$T/gf")"
sleep 0.3
kill "$gf" "$gr"
{ tl_reap 50 "$gf" && tl_reap 50 "$gr"; } || mt_fail "topic streams stuck"
[ "$(sort "$T/gr")" = "$(printf '%s\n' g0-a g0-b g1-a g2-private g4-a | sort)" ] ||
	mt_fail "root's topic stream: $(cat "$T/gr")"
[ "$(sort "$T/gf")" = "$(printf '%s\n' g0-a g0-b g1-a g4-a | sort)" ] ||
	mt_fail "the user's topic stream: $(cat "$T/gf")"
[ "$(head -n 1 "$T/gf")" = g0-a ] || mt_fail "the user's stream starts with $(head -n 1 "$T/gf")"
grep -q "g/follow: partition 2, added after the open by uid $(id -u "$U"), is not readable" "$MT_ERR" ||
	mt_fail "no log line for the partition the user may not read"
echo "ok: partitions 1, 3, 4 followed after the open; 2 only by root"

tl_say "a waiting stream read counts against max_follow_per_user"
mt_stop
mt_start -o allow_other,max_follow_per_user=1
(exec setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all \
	cat "$S/e") >/dev/null &
ue=$!
wait_waiting 1 "the user's stream of e did not wait"
mt_expect_err 'No buffer space available' tl_as "$U" cat "$P/follow"
kill "$ue"
tl_reap 50 "$ue" || mt_fail "the user's stream stuck"

tl_say "retention deletes what an open stream had not read: it goes on at the first kept message, its position too"
mt_stop
mt_start -o allow_other,segment_size=64k,max_segments=3,retention=wrap,stride=100
mkdir "$MNT/w"
W=$MNT/w/0
: >"$W/cursors/r"
"$MTIO" lines "$W/log" w0 10
python3 - "$W" "$MTIO" >"$T/wr" <<'EOF' || mt_fail "the stream across retention"
import os, subprocess, sys
part, mtio = sys.argv[1], sys.argv[2]
fd = os.open(part + "/stream/r", os.O_RDONLY | os.O_NONBLOCK)
first = os.read(fd, 65536)
if first.count(b"\n") != 10:
    sys.exit("the first read: %d lines" % first.count(b"\n"))
subprocess.run([mtio, "lines", "-b", "50", part + "/log", "w1", "20000"], check=True)
os.fsync(os.open(part + "/log", os.O_WRONLY))   # every block written: retention done
out = b""
while True:
    try:
        b = os.read(fd, 65536)
    except BlockingIOError:
        break                                    # at the end: committed
    out += b
sys.stdout.buffer.write(out)
sys.stdout.flush()
os._exit(0)                                      # no close: nothing more committed
EOF
cp "$MNT/.metrics" "$T/m4"
wm() { sed -n "s/^$1{topic=\"w\",partition=\"0\"${2:-}} //p" "$T/m4"; }
[ "$(wm shlog_start_seq)" -gt 10 ] || mt_fail "no retention happened (start_seq $(wm shlog_start_seq))"
[ "$(head -n 1 "$T/wr")" = "$(head -n 1 "$W/at/0")" ] ||
	mt_fail "after the skip the stream gave '$(head -n 1 "$T/wr")', the first kept message is '$(head -n 1 "$W/at/0")'"
cmp -s "$T/wr" "$W/at/0" || mt_fail "the stream after the skip is not the kept log"
[ "$(wm shlog_cursor_position ',cursor="r"')" = "$(wm shlog_end_seq)" ] ||
	mt_fail "r's position $(wm shlog_cursor_position ',cursor="r"') after the skip, the end $(wm shlog_end_seq)"
grep -q "w/0: retention deleted [0-9]* bytes a follower had not read" "$MT_ERR" ||
	mt_fail "no log line for the skip"
[ -z "$(cat "$W/cursors/r")" ] || mt_fail "cursors/r gives messages the stream had"
mt_stop
