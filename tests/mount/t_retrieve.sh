#!/bin/bash
# -o writeback with the retriever (wb.c, issue 15): a line a writer puts
# in the kernel's cache reaches the engine within about retrieve_ms
# although the writer neither closes nor syncs: at/ and keys/ show it,
# and a daemon kill -9 then loses none of it.  With retrieve_ms=0 the
# same line stays in the kernel until its write-back (the check that
# this test can fail).  The write-back that follows resends the same
# bytes: close and fsync report no error, and the log is byte for byte
# what was written.  A line over max_message found by a retrieve is
# refused at the writer's fsync, as a refused write-back is.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

# A writer that appends $2 lines "k<i % 50>\tv<i>", one write() each, to
# $1, writes "$3" when done, and keeps the file open until $3.go exists.
writer() {
	python3 - "$1" "$2" "$3" <<'PY' &
import os, sys, time
path, n, done = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(n):
    os.write(fd, b"k%d\tv%d\n" % (i % 50, i))
open(done, "w").close()
while not os.path.exists(done + ".go"):
    time.sleep(0.02)
os.close(fd)
PY
	WPID=$!
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
seen_all() { [ "$(lines "$MNT/t/0/at/0")" -ge "$N" ]; }
N=5000
seq 0 $((N - 1)) | awk '{ printf "k%d\tv%d\n", $1 % 50, $1 }' >"$T/want"

tl_say "retrieve_ms=0: lines of a writer that holds its file open stay in the kernel"
mt_start -o writeback,retrieve_ms=0
mkdir "$MNT/t"
writer "$MNT/t/0/log" $N "$T/done0"
tl_wait_until 100 test -e "$T/done0" || mt_fail "writer did not finish"
sleep 1
[ "$(lines "$MNT/t/0/at/0")" -lt "$N" ] ||
	mt_fail "without the retriever at/0 already has every line (the check below proves nothing)"
touch "$T/done0.go"
wait "$WPID"
tl_wait_until 50 seen_all || mt_fail "lines not stored after close"
mt_stop

tl_say "retrieve_ms=20: they reach at/ and keys/ without close or fsync"
rm -rf "$DATADIR" && mkdir "$DATADIR"
mt_start -o writeback,retrieve_ms=20
mkdir "$MNT/t"
writer "$MNT/t/0/log" $N "$T/done1"
tl_wait_until 100 test -e "$T/done1" || mt_fail "writer did not finish"
tl_wait_until 20 seen_all ||
	mt_fail "at/0 has $(lines "$MNT/t/0/at/0") of $N lines 2 s after the last write"
cmp "$MNT/t/0/at/0" "$T/want" || mt_fail "at/0 differs from what was written"
[ "$(cat "$MNT/t/0/keys/k49")" = "v$((N - 1))" ] || mt_fail "keys/k49: $(cat "$MNT/t/0/keys/k49")"
grep -q '^shlogfs_retrieve_bytes_total [1-9]' "$MNT/.metrics" ||
	mt_fail "no retrieved bytes in .metrics: $(grep retrieve "$MNT/.metrics")"

tl_say "kill -9 of the daemon with the writer still open loses none of them"
mt_kill9
kill "$WPID" 2>/dev/null || true
wait "$WPID" 2>/dev/null || true
mt_start -o writeback
cmp "$MNT/t/0/log" "$T/want" || mt_fail "after kill -9: the log has $(lines "$MNT/t/0/log") of $N lines"

tl_say "the write-back after a retrieve matches: close and fsync report nothing"
python3 - "$MNT/t/0/log" <<'PY' || mt_fail "fsync or close after retrieved lines failed"
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(1000):
    os.write(fd, b"more %d\n" % i)
time.sleep(0.2)           # retrieved before the write-back
os.fsync(fd)
os.close(fd)
PY
[ "$(lines "$MNT/t/0/log")" = $((N + 1000)) ] || mt_fail "log has $(lines "$MNT/t/0/log") lines"
mt_stop

tl_say "a line over max_message found by a retrieve fails the writer's fsync"
mt_start -o writeback,retrieve_ms=20,max_message=4096
python3 - "$MNT/t/0/log" <<'PY' || mt_fail "the over-long line was not refused at fsync"
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"x" * 5000 + b"\n")
time.sleep(0.3)           # the retriever finds it first
try:
    os.fsync(fd)
except OSError as e:
    sys.exit(0 if e.errno == errno.EIO else 1)
sys.exit(1)
PY
grep -q 'refused' "$MT_ERR" || mt_fail "no log line for the refused line"
[ "$(lines "$MNT/t/0/log")" = $((N + 1000)) ] || mt_fail "the refused line changed the log"
mt_stop
echo "PASS"
