#!/bin/bash
# What one user can make the daemon hold (issue 10, section 2): the
# memory budget of open handles (-o max_held, max_held_per_user: ENOBUFS
# at the write or open that passes it), snapshots of /.metrics shared
# between handles, the daemon's RSS under the attacks of the issue (many
# handles holding unfinished lines, many handles of /.metrics) and many
# readers each with a read-ahead,
# and a clean shutdown by SIGTERM when the daemon has no fd left.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
V=$TL_USER2
PY=/usr/bin/python3

# hold.py MODE N SIZE FILE: open FILE N times (%d in it: the number) and
# (MODE=line) write SIZE bytes without a newline to each (MODE=fsync: and
# fsync it), or (MODE=read) read 1 byte of each;
# print "ok K" and one "err ERRNO" per failure, then keep every handle
# open until the file $T/release exists.
cat >"$T/hold.py" <<'EOF'
import errno, os, sys, time
mode, n, size, path, release = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
fds, errs = [], {}
for i in range(n):
    try:
        if mode in ("line", "fsync"):
            fd = os.open(path.replace("%d", str(i)), os.O_WRONLY | os.O_APPEND)
            fds.append(fd)
            os.write(fd, b"%d:" % i + b"x" * (size - 8) + b"-tail")
            if mode == "fsync":
                os.fsync(fd)
        else:
            fd = os.open(path, os.O_RDONLY)
            fds.append(fd)
            os.read(fd, 1)
    except OSError as e:
        errs[errno.errorcode[e.errno]] = errs.get(errno.errorcode[e.errno], 0) + 1
ok = n - sum(errs.values())
print("ok %d" % ok, " ".join("%s=%d" % kv for kv in sorted(errs.items())), flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
EOF
chmod 644 "$T/hold.py"

# Start hold.py as user $1 with args "$2..."; its output in $T/hold.$1.
hold_start()
{
	local u=$1
	shift
	rm -f "$T/release" "$T/hold.$u"   # no old "ok" line may be seen
	tl_as "$u" "$PY" "$T/hold.py" "$@" "$T/release" >"$T/hold.$u" 2>&1 &
	tl_wait_until 600 grep -q '^ok' "$T/hold.$u" ||
		mt_fail "hold.py as $u did not report: $(cat "$T/hold.$u")"
}

# Let every hold.py close its handles and exit.
hold_stop()
{
	touch "$T/release"
	wait $(jobs -p | grep -vx "$MT_PID") 2>/dev/null || true
}

# RSS bounds hold only without AddressSanitizer (its quarantine keeps
# freed memory): an ASan build runs every attack but checks no RSS bound.
asan=0
case $(ldd "$SHLOGFS" 2>/dev/null || true) in *libasan*) asan=1 ;; esac
rss_ok()
{
	if [ "$asan" = 1 ]; then
		echo "note: ASan build: RSS growth $1 kB not checked against $2 kB"
		return 0
	fi
	[ "$1" -lt "$2" ]
}
rss_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$MT_PID/status"; }

# hold_start "$@", with the daemon's RSS in kB before in r0 and after in
# r1, and hold.py's report (printed) in uok and uerr.
hold_rss()
{
	r0=$(rss_kb)
	hold_start "$@"
	r1=$(rss_kb)
	cat "$T/hold.$1"
	read -r _ uok uerr <"$T/hold.$1"
}
held() { awk '$1 == "shlogfs_held_bytes" { print $2 }' "$MNT/.metrics"; }

tl_say "the unfinished-line budget: a user's share, then the store-wide cap"
mt_start -o allow_other,max_held=300k,max_held_per_user=256k
M=$MNT
mkdir "$M/w"
chmod 777 "$M/w" "$M/w/0"
hold_start "$U" line 8 61440 "$M/w/0/log"
cat "$T/hold.$U"
read -r _ uok uerr <"$T/hold.$U"
# each write holds a 64 KiB line buffer: 3 fit in 256 KiB, not 4
[ "$uok" -ge 2 ] && [ "$uok" -le 3 ] || mt_fail "U held $uok lines of 60 KiB under a 256 KiB share"
case $uerr in *ENOBUFS=*) ;; *) mt_fail "U's refused writes: '$uerr', want ENOBUFS" ;; esac
h=$(held)
[ "$h" -le 262144 ] && [ "$h" -ge $((uok * 61440)) ] || mt_fail "held bytes $h for $uok lines"
grep -q "uid $(id -u "$U"): unfinished line of .* refused (ENOBUFS)" "$MT_ERR" ||
	mt_fail "no log line for the refusal"
tl_say "root is not refused; another user gets what the cap leaves"
head -c 300000 /dev/zero | tr '\0' r >>"$M/w/0/log" ||
	mt_fail "root's unfinished line of 300000 bytes was refused"
tl_as "$V" "$PY" "$T/hold.py" line 8 61440 "$M/w/0/log" "$T/release" >"$T/hold.$V" 2>&1 &
tl_wait_until 600 grep -q '^ok' "$T/hold.$V" || mt_fail "hold.py as $V: $(cat "$T/hold.$V")"
read -r _ vok verr <"$T/hold.$V"
echo "V: ok $vok $verr"
# 300 KiB for both: V gets fewer than her own share would allow
[ "$vok" -ge 1 ] && [ "$vok" -lt "$uok" ] ||
	mt_fail "V held $vok lines with U holding $uok (cap 300 KiB)"
case $verr in *ENOBUFS=*) ;; *) mt_fail "V's refused writes: '$verr', want ENOBUFS" ;; esac
hold_stop
tl_wait_until 100 test "$(held)" = 0 || mt_fail "held bytes $(held) after every handle closed"
n=$(grep -c -- '-tail$' "$M/w/0/log")
[ "$n" = $((uok + vok)) ] || mt_fail "$n unfinished lines stored at close, $((uok + vok)) were accepted"
mt_expect_ok tl_as "$U" sh -c "printf 'again' >>'$M/w/0/log'"
mt_stop

tl_say "-o writeback: unfinished lines reach the daemon at fsync, same budget"
mt_start -o allow_other,writeback,partitions=8,max_held_per_user=256k
mkdir "$M/b"
chmod 777 "$M/b"
for p in $(seq 0 7); do chmod 777 "$M/b/$p"; done
hold_start "$U" fsync 8 61440 "$M/b/%d/log"
cat "$T/hold.$U"
read -r _ uok uerr <"$T/hold.$U"
[ "$uok" -ge 2 ] && [ "$uok" -le 3 ] || { hold_stop; mt_fail "U held $uok lines with -o writeback"; }
case $uerr in *ENOBUFS=*) ;; *) hold_stop; mt_fail "writeback refusals: '$uerr', want ENOBUFS" ;; esac
hold_stop
tl_wait_until 100 test "$(held)" = 0 || mt_fail "held bytes $(held) after the writers closed"
mt_stop

tl_say "RSS under 100 handles each holding a 256 KiB unfinished line"
mt_start -o allow_other,max_held_per_user=4M,max_message=1M
mkdir "$M/r"
chmod 777 "$M/r" "$M/r/0"
hold_rss "$U" line 100 262144 "$M/r/0/log"
echo "rss: $r0 kB before, $r1 kB with the handles (+$((r1 - r0)) kB)"
[ "$uok" -ge 10 ] || mt_fail "only $uok lines held: the attack did not run"
rss_ok $((r1 - r0)) 12288 || mt_fail "RSS grew by $((r1 - r0)) kB (share 4 MiB)"
hold_stop

tl_say "RSS under 100 readers of a 2 MiB log (read-ahead kept within the share)"
"$MTIO" lines -b 100 "$M/r/0/log" big 40000
chmod 755 "$M/r/0"
[ "$(stat -c %s "$M/r/0/log")" -ge 2000000 ] || mt_fail "log too small"
tl_wait_until 100 grep -qx 'buffered_msgs 0' "$M/r/0/stats" || mt_fail "r/0 still buffers"
tl_as "$U" cat "$M/r/0/log" >/dev/null   # the engine's read path, warmed up
hold_rss "$U" read 100 0 "$M/r/0/log"
echo "rss: $r0 kB before, $r1 kB with 100 readers (+$((r1 - r0)) kB); held $(held) bytes, $(awk '/^Threads:/ { print $2 }' "/proc/$MT_PID/status") threads"
[ "$uok" = 100 ] || mt_fail "$uok of 100 reads succeeded: $uerr"
rss_ok $((r1 - r0)) 12288 || { hold_stop; mt_fail "RSS grew by $((r1 - r0)) kB (share 4 MiB)"; }
hold_stop
[ "$(held)" = 0 ] || mt_fail "held bytes $(held) after the readers closed"

tl_say "RSS under 100 handles of /.metrics (one shared text)"
mt_stop
mt_start -o allow_other,partitions=200
mkdir "$M/m"
chmod 755 "$M/m"
for p in $(seq 0 199); do chmod 755 "$M/m/$p"; done
size=$(wc -c <"$M/.metrics")
[ "$size" -ge 500000 ] || mt_fail ".metrics is only $size bytes: the attack is too small"
hold_rss "$U" read 100 0 "$M/.metrics"
echo "rss: $r0 kB before, $r1 kB with 100 handles of a $size-byte text (+$((r1 - r0)) kB)"
[ "$uok" = 100 ] || mt_fail "$uok of 100 handles opened: $uerr"
rss_ok $((r1 - r0)) $((size * 10 / 1024)) ||
	{ hold_stop; mt_fail "RSS grew by $((r1 - r0)) kB for 100 handles of $size bytes"; }
hold_stop
tl_say "root reading /.metrics 100 times in a row: each text freed at its close"
r0=$(rss_kb)
"$PY" -c '
import sys
for i in range(100):
    with open(sys.argv[1], "rb") as f:
        f.read()' "$M/.metrics"
r1=$(rss_kb)
echo "rss: $r0 kB before, $r1 kB right after 100 reads of $size bytes (+$((r1 - r0)) kB)"
rss_ok $((r1 - r0)) $((size * 10 / 1024)) || mt_fail "RSS grew by $((r1 - r0)) kB: texts kept after their close"
mt_stop

tl_say "a text past the reader's share: ENOBUFS at open, not made again for a while"
mt_start -o allow_other,max_held_per_user=512k
texts() { awk '$1 == "shlogfs_root_texts_total" { print $2 }' "$M/.metrics"; }
t0=$(texts)
mt_expect_err 'No buffer space available' tl_as "$U" cat "$M/.metrics"
[ "$(tl_as "$U" stat -c %s "$M/.metrics")" = 0 ] || mt_fail "stat of a refused text"
tl_as "$U" "$PY" -c '
import os, sys
for i in range(300):
    os.stat(sys.argv[1])
    try:
        open(sys.argv[1]).close()
    except OSError:
        pass' "$M/.metrics"
t1=$(texts)
echo "texts made by 300 stats and opens after a refusal: $((t1 - t0 - 1))"
[ $((t1 - t0 - 1)) -le 3 ] || mt_fail "$((t1 - t0 - 1)) texts made for a refused reader"
rs=$(wc -c <"$M/.metrics")
[ "$rs" -ge $((size * 9 / 10)) ] || mt_fail "root read $rs bytes of .metrics, not about $size"
mt_stop

tl_say "SIGTERM with no fd left: clean unmount, data flushed"
mt_start
mkdir "$M/s"
"$MTIO" lines "$M/s/0/log" pre 500
pid=$MT_PID
nfd=$(ls "/proc/$pid/fd" | wc -l)
prlimit --pid "$pid" --nofile="$nfd:$nfd"
# every new fd of the daemon fails from here on
for i in 0 1 2 3 4 5 6 7 8 9; do mkdir "$M/x$i" 2>/dev/null || true; done
echo "last line" >>"$M/s/0/log" || mt_fail "append without free fds"
ls "/proc/$pid/fd" | wc -l
kill -TERM "$pid"
MT_PID=
tl_reap 300 "$pid" || mt_fail "the daemon did not exit within 30 s of SIGTERM"
[ "$TL_STATUS" = 0 ] || { mt_show_err "$MT_ERR"; mt_fail "exit status $TL_STATUS after SIGTERM"; }
if grep -q 'libgcc_s' "$MT_ERR"; then mt_show_err "$MT_ERR"; mt_fail "pthread_cancel could not load libgcc_s"; fi
mt_check_sanitizer "$MT_ERR" || mt_fail "sanitizer report"
if mountpoint -q "$M"; then mt_fail "still mounted after SIGTERM"; fi
mt_start
[ "$(tail -n 1 "$M/s/0/log")" = "last line" ] || mt_fail "last line lost: $(tail -n 1 "$M/s/0/log")"
[ "$(grep -c '^pre ' "$M/s/0/log")" = 500 ] || mt_fail "lines lost"
mt_stop
