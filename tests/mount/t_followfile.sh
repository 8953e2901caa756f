#!/bin/bash
# Follow files (issue 13): <topic>/<p>/follow and <topic>/follow read the
# log(s) from the first kept message and then wait at the end instead of
# returning 0 (fs/follow.c, fs/k_follow.c).  A blocked `cat follow` shows
# an appended line; a signal ends it (TERM and KILL) and the daemon goes
# on; O_NONBLOCK gets EAGAIN at the end; lseek and pread get ESPIPE; a
# 4 MiB read(2) returns a 1 MiB message without waiting for more;
# poll/epoll on follow and on a partition log wake on an append; 300
# followers all get every line; the topic stream of 4 partitions gets
# every line of every partition once, whole, in each partition's order,
# while stdio-buffered awk writers (lines cut across write() calls) and
# mtio writers append; the cap on waiting reads of one user (ENOBUFS and
# a log line); deleting a topic ends its followers' reads (ENOENT); the
# names are not listed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
export LC_ALL=C
mt_start -o partitions=4,allow_other,max_follow_per_user=3
mkdir "$MNT/a" "$MNT/s"
P=$MNT/a/0

# Lines in file $1 (0 if it does not exist yet).
nlines() { [ -e "$1" ] && wc -l <"$1" || echo 0; }
# Does file $1 hold at least $2 lines?
has_lines() { [ "$(nlines "$1")" -ge "$2" ]; }

# awk writer of $2 mtio-style lines tagged $1 to stdout (stdio-buffered:
# nearly every write() ends inside a line).
awk_writer()
{
	awk -v tag="$1" -v n="$2" 'BEGIN {
		abc = "abcdefghijklmnopqrstuvwxyz"
		for (k = 0; k < n; k++) {
			c = substr(abc, k % 26 + 1, 1); s = ""
			for (i = 0; i < 40; i++) s = s c
			printf "%s %08d %s\n", tag, k, s
		}
	}'
}

tl_say "the names are found but not listed"
ls "$P" "$MNT/a" >"$T/ls"
! grep -qx follow "$T/ls" || mt_fail "follow is listed: $(cat "$T/ls")"
[ -f "$P/follow" ] && [ -f "$MNT/a/follow" ] || mt_fail "no follow files"

tl_say "a blocked cat follow shows each appended line"
"$MTIO" lines "$P/log" old 3
cat "$P/follow" >"$T/c1" &
c1=$!
tl_wait_until 50 has_lines "$T/c1" 3 || mt_fail "cat follow did not show the log"
sleep 0.3
kill -0 "$c1" 2>/dev/null || mt_fail "cat follow ended at the end of the log"
for i in 1 2 3; do
	"$MTIO" lines "$P/log" new$i 1
	tl_wait_until 50 has_lines "$T/c1" $((3 + i)) ||
		mt_fail "line $i appended did not reach the blocked reader in 5 s"
done
# the other append paths wake it too: a key's value, its tombstone, and
# <topic>/log's lines (partition 0 gets key a's; keyless ones rotate)
echo v1 >"$P/keys/kk"
tl_wait_until 50 has_lines "$T/c1" 7 || mt_fail "a key's value did not wake the reader"
rm "$P/keys/kk"
tl_wait_until 50 has_lines "$T/c1" 8 || mt_fail "a tombstone did not wake the reader"
before=$(nlines "$T/c1")
for i in 1 2 3 4 5 6 7 8; do echo "via-topic $i" >>"$MNT/a/log"; done
tl_wait_until 50 has_lines "$T/c1" $((before + 1)) ||
	mt_fail "a line through <topic>/log did not wake the reader"
sleep 0.3
cmp "$T/c1" "$P/log" || mt_fail "the follower's copy differs from the log"
grep -qx "kk	v1" "$T/c1" && grep -qx "kk	" "$T/c1" ||
	mt_fail "the key's value or tombstone is missing from the copy"
echo "ok: lines, a key's value, its tombstone and <topic>/log lines wake a blocked reader"

tl_say "a signal ends a waiting read; the daemon serves on"
for sig in TERM INT KILL; do
	start=$(date +%s)
	rc=0
	timeout -s $sig 1 cat "$P/follow" >/dev/null || rc=$?
	[ "$rc" = 124 ] || [ "$rc" = 137 ] || mt_fail "timeout -s $sig cat: exit $rc"
	[ $(($(date +%s) - start)) -lt 10 ] || mt_fail "SIG$sig took more than 10 s"
done
kill "$c1"
tl_reap 50 "$c1" || mt_fail "cat follow did not end on SIGTERM"
echo more >>"$P/log"
tail -n 1 "$P/log" | grep -qx more || mt_fail "the daemon stopped serving"
echo "ok: TERM, INT and KILL end a blocked read"

tl_say "O_NONBLOCK, lseek, pread, poll and epoll"
python3 - "$P" <<'EOF'
import errno, os, select, sys, threading, time
part = sys.argv[1]
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
def append_later(line, delay=0.3):
    def w():
        time.sleep(delay)
        with open(part + "/log", "a") as f:
            f.write(line)
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
log = open(part + "/log", "rb").read()
fd = os.open(part + "/follow", os.O_RDONLY | os.O_NONBLOCK)
got, end = read_all(fd)
if got != log or end != "EAGAIN":
    fail("non-blocking read: %d of %d bytes, then %s" % (len(got), len(log), end))
for what, call in (("lseek", lambda: os.lseek(fd, 0, os.SEEK_SET)),
                   ("pread", lambda: os.pread(fd, 10, 0))):
    try:
        call(); fail(what + " succeeded")
    except OSError as e:
        if e.errno != errno.ESPIPE:
            fail("%s: %s, not ESPIPE" % (what, errno.errorcode[e.errno]))
# poll on follow
p = select.poll(); p.register(fd, select.POLLIN)
if p.poll(200):
    fail("poll of follow ready at the end")
t = append_later("poll-line\n")
r = p.poll(5000); t.join()
if not r or not r[0][1] & select.POLLIN:
    fail("poll of follow did not wake on an append: %r" % r)
if os.read(fd, 65536) != b"poll-line\n":
    fail("read after poll")
# epoll on follow
ep = select.epoll(); ep.register(fd, select.EPOLLIN)
if ep.poll(0.2):
    fail("epoll of follow ready at the end")
t = append_later("epoll-line\n")
r = ep.poll(5); t.join()
if not r or os.read(fd, 65536) != b"epoll-line\n":
    fail("epoll of follow did not wake: %r" % r)
# a read(2) of 4 MiB is sent as requests of up to 1 MiB (into a
# page-aligned buffer: exactly 1 MiB), the next only after a full reply:
# a message of exactly one request must not leave the read waiting for
# the next append
import fcntl, mmap, signal
fb = os.open(part + "/follow", os.O_RDONLY | os.O_NONBLOCK)
read_all(fb)
fcntl.fcntl(fb, fcntl.F_SETFL, 0)
big = b"b" * ((1 << 20) - 1) + b"\n"
with open(part + "/log", "ab") as f:
    f.write(big)
def stuck(signum, frame):
    fail("a 4 MiB read of follow waited with a 1 MiB message to give")
signal.signal(signal.SIGALRM, stuck)
signal.alarm(10)
buf = mmap.mmap(-1, 4 << 20)
got = b""
while len(got) < len(big):
    n = os.readv(fb, [buf])
    got += buf[:n]
signal.alarm(0)
if got != big:
    fail("the 1 MiB message read back as %d bytes" % len(got))
# poll on a partition log, read to its end first
lf = os.open(part + "/log", os.O_RDONLY)
while os.read(lf, 65536):
    pass
p2 = select.poll(); p2.register(lf, select.POLLIN)
if p2.poll(200):
    fail("poll of log ready at its end")
t = append_later("log-poll-line\n")
r = p2.poll(5000); t.join()
if not r or os.read(lf, 65536) != b"log-poll-line\n":
    fail("poll of log did not wake: %r" % r)
print("ok: EAGAIN at the end, ESPIPE, poll and epoll of follow, poll of log")
EOF

tl_say "300 concurrent followers get every line"
F=300
pids=()
for i in $(seq 1 $F); do cat "$MNT/a/1/follow" >"$T/f.$i" & pids+=($!); done
"$MTIO" lines "$MNT/a/1/log" many 50
cp "$MNT/a/1/log" "$T/want1"
all_have() {
	local i
	for i in $(seq 1 $F); do has_lines "$T/f.$i" 50 || return 1; done
}
tl_wait_until 600 all_have || mt_fail "not every follower got 50 lines in 60 s"
kill "${pids[@]}"
for pid in "${pids[@]}"; do tl_reap 100 "$pid" || mt_fail "follower $pid stuck"; done
for i in $(seq 1 $F); do cmp -s "$T/f.$i" "$T/want1" || mt_fail "follower $i: wrong copy"; done
echo "ok: $F followers, each a copy of the log"

tl_say "the topic stream of 4 partitions, whole lines, while writers cut lines"
N=3000
cat "$MNT/s/follow" >"$T/ts" &
ts=$!
cat "$MNT/s/2/follow" >"$T/ps" &
ps=$!
wp=()
for p in 0 1 2 3; do
	"$MTIO" lines "$MNT/s/$p/log" m$p $N & wp+=($!)
	awk_writer k$p $N >>"$MNT/s/$p/log" & wp+=($!)
done
for pid in "${wp[@]}"; do
	tl_reap 1200 "$pid" || mt_fail "writer $pid did not finish in 120 s"
	[ "$TL_STATUS" = 0 ] || mt_fail "writer $pid exited $TL_STATUS"
done
tl_wait_until 300 has_lines "$T/ts" $((8 * N)) ||
	mt_fail "the topic stream has $(nlines "$T/ts") of $((8 * N)) lines"
tl_wait_until 300 has_lines "$T/ps" $((2 * N)) ||
	mt_fail "the partition follower has $(nlines "$T/ps") of $((2 * N)) lines"
sleep 0.2
kill "$ts" "$ps"
tl_reap 50 "$ts" && tl_reap 50 "$ps" || mt_fail "stream readers stuck"
counts=$(mt_check_lines "$T/ts")
want=$(for p in 0 1 2 3; do echo "k$p $N"; echo "m$p $N"; done | sort)
[ "$counts" = "$want" ] || mt_fail "topic stream counts: $counts"
[ "$(wc -l <"$T/ts")" = $((8 * N)) ] || mt_fail "the topic stream has extra lines"
[ "$(mt_check_lines "$T/ps")" = "$(printf 'k2 %s\nm2 %s' $N $N)" ] ||
	mt_fail "partition follower's counts"
cmp "$T/ps" "$MNT/s/2/log" || mt_fail "partition follower's copy differs"
echo "ok: $((8 * N)) lines, each once and whole, in order per partition"

tl_say "deleting the topic ends its followers' waiting reads (ENOENT)"
mkdir "$MNT/gone"
echo g >>"$MNT/gone/1/log"
cat "$MNT/gone/follow" >"$T/g1" 2>"$T/g1.err" &
g1=$!
cat "$MNT/gone/1/follow" >"$T/g2" 2>"$T/g2.err" &
g2=$!
tl_wait_until 50 has_lines "$T/g1" 1 && tl_wait_until 50 has_lines "$T/g2" 1 ||
	mt_fail "the followers of gone did not start"
sleep 0.3
mt_delete gone || mt_fail "/.delete of gone refused"
for pid in $g1 $g2; do
	tl_reap 50 "$pid" || mt_fail "a follower of a deleted topic still waits"
	[ "$TL_STATUS" != 0 ] || mt_fail "a follower of a deleted topic exited 0"
done
grep -q 'No such file or directory' "$T/g1.err" &&
	grep -q 'No such file or directory' "$T/g2.err" || mt_fail "followers of a deleted topic: $(cat "$T/g1.err" "$T/g2.err")"
echo "ok: both followers of the deleted topic ended with ENOENT"

tl_say "the cap on waiting reads of one user (max_follow_per_user=3)"
chmod 755 "$MNT/a"
chmod 755 "$MNT/a/3" 2>/dev/null || true
echo u >>"$MNT/a/3/log"
up=()
# (exec: $! is the cat itself, so kill ends the read)
for i in 1 2 3; do
	(exec setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all \
		cat "$MNT/a/3/follow") >"$T/u.$i" &
	up+=($!)
done
u_ready() { local i; for i in 1 2 3; do has_lines "$T/u.$i" 1 || return 1; done; }
tl_wait_until 50 u_ready || mt_fail "U's three followers did not start"
sleep 0.3
mt_expect_err 'No buffer space available' tl_as "$U" cat "$MNT/a/3/follow"
grep -q "follow: a waiting read of uid $(id -u "$U") refused with ENOBUFS" \
	"$MT_ERR" || mt_fail "no log line for the refused read"
timeout 1 cat "$MNT/a/3/follow" >"$T/root3" || true # root: not refused
cmp -s "$T/root3" "$MNT/a/3/log" || mt_fail "root's follower got '$(cat "$T/root3")'"
kill "${up[0]}"
tl_reap 50 "${up[0]}" || mt_fail "U's follower stuck"
rc=0
tl_as "$U" timeout 1 cat "$MNT/a/3/follow" >/dev/null 2>"$T/u4.err" || rc=$?
[ "$rc" = 124 ] || mt_fail "after one ended, U's new follower: exit $rc $(cat "$T/u4.err")"
kill "${up[@]:1}"
for pid in "${up[@]:1}"; do tl_reap 50 "$pid" || mt_fail "U's follower stuck"; done
echo "ok: the 4th waiting read of U refused, root's and a later one served"

mt_stop

tl_say "-o writeback: a line reaches a blocked follower when its writer closes"
mt_start -o writeback
W=$MNT/a/2
cat "$W/follow" >"$T/w1" &
w1=$!
before=$(nlines "$W/log")
tl_wait_until 50 has_lines "$T/w1" "$before" || mt_fail "the follower did not start"
echo "through the page cache" >>"$W/log"
tl_wait_until 50 has_lines "$T/w1" $((before + 1)) ||
	mt_fail "a writeback line did not reach the blocked follower"
tail -n 1 "$T/w1" | grep -qx "through the page cache" || mt_fail "wrong line: $(tail -n 1 "$T/w1")"
kill "$w1"
tl_reap 50 "$w1" || mt_fail "the writeback follower stuck"
echo "ok: a writeback line woke the follower"
mt_stop
