#!/bin/bash
# The daemon's file descriptors are bounded whatever the number of
# partitions (issue 10, section 2; core/resident.c): under a 1,024-fd
# limit (RLIMIT_NOFILE of the daemon, soft and hard) make FDS_PARTS
# partitions with mkdir (1,200 here, over four times the 256 the limit
# held before idle partitions were parked; the long trial sets 10000),
# append a line to each and read each back, with the daemon's open fds
# checked against the limit throughout; a user holding more logs open
# than the budget has partitions (2,000 handles) is served and so is
# everyone else; after a remount, every partition's first access (it
# starts parked) reads and appends.  Then -o max_fds=64 (16 topics, 12
# resident partitions) and -o max_partitions: the 17th topic and the
# partition past the limit are refused with ENOSPC and a log line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

N=${FDS_PARTS:-1200}
TOPICS=4
PER=$((N / TOPICS))
LIMIT=1024
command -v prlimit >/dev/null || mt_skip "prlimit (util-linux) is missing"

# The daemon under RLIMIT_NOFILE $LIMIT: a wrapper that execs it (same pid).
REAL=$SHLOGFS
SHLOGFS=$T/shlogfs-limited
printf '#!/bin/sh\nexec prlimit --nofile=%s:%s "%s" "$@"\n' "$LIMIT" "$LIMIT" "$REAL" >"$SHLOGFS"
chmod 755 "$SHLOGFS"

# Fail unless the daemon holds fewer fds than its limit minus the smallest reserve.
check_fds()
{
	local n max=$((LIMIT - 64))
	n=$(ls "/proc/$MT_PID/fd" | wc -l)
	[ "$n" -le "$max" ] || mt_fail "$1: the daemon holds $n fds (bound $max of $LIMIT)"
	tl_say "$1: daemon holds $n fds (bound $max)"
}

# Fail if the daemon ran out of fds (EMFILE) at any point.
check_no_emfile()
{
	! grep -qi 'too many open files' "$MT_ERR" || {
		mt_show_err "$MT_ERR"
		mt_fail "the daemon ran out of file descriptors"
	}
}

# Append line "$2" to partition $1 (topic/num) and check the log ends with it.
append_and_read()
{
	local f=$MNT/$1/log last=
	echo "$2" >>"$f" || mt_fail "append to $1 failed"
	while IFS= read -r line; do last=$line; done <"$f"
	[ "$last" = "$2" ] || mt_fail "$1/log ends with '$last', not '$2'"
}

mt_start -o partitions=$PER
tl_say "make $N partitions in $TOPICS topics (mkdir), under RLIMIT_NOFILE $LIMIT"
for k in $(seq 0 $((TOPICS - 1))); do
	mkdir "$MNT/t$k"
done
mkdir "$MNT/t0/$PER" || mt_fail "mkdir of partition $PER after $N failed"
[ "$(ls "$MNT/t$((TOPICS - 1))" | grep -c '^[0-9]')" = "$PER" ] ||
	mt_fail "t$((TOPICS - 1)) does not hold $PER partitions"
check_fds "after mkdir"

tl_say "append a line to each partition and read it back"
for k in $(seq 0 $((TOPICS - 1))); do
	for i in $(seq 0 $((PER - 1))); do
		append_and_read "t$k/$i" "first t$k/$i"
	done
	check_fds "after topic t$k"
done
append_and_read "t0/$PER" "first t0/$PER"

tl_say "one user holds 2000 logs open and reads each; others are served meanwhile"
cat >"$T/hold.py" <<'EOF'
import os, sys, time
mnt, topics, per, release = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fds, bad = [], 0
for i in range(2000):
    f = "%s/t%d/%d/log" % (mnt, i % topics, (i // topics) % per)
    try:
        fd = os.open(f, os.O_RDONLY)
        fds.append(fd)
        if not os.read(fd, 4096).startswith(b"first "):
            bad += 1
    except OSError as e:
        print("err", e, flush=True)
        bad += 1
print("held %d bad %d" % (len(fds), bad), flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
EOF
python3 "$T/hold.py" "$MNT" "$TOPICS" "$PER" "$T/release" >"$T/hold.out" 2>&1 &
HOLD=$!
tl_wait_until 600 grep -qs '^held' "$T/hold.out" || mt_fail "holder did not report: $(cat "$T/hold.out")"
grep -qx 'held 2000 bad 0' "$T/hold.out" || mt_fail "holder: $(cat "$T/hold.out")"
check_fds "2000 logs held open"
for i in $(seq 0 7 $((PER - 1))); do
	append_and_read "t1/$i" "second t1/$i"
done
check_fds "others served while the logs are held"
touch "$T/release"
wait "$HOLD"
check_no_emfile

tl_say "remount (every partition starts parked): read and append each"
mt_stop
mt_start -o partitions=$PER
check_fds "after remount"
for k in $(seq 0 $((TOPICS - 1))); do
	for i in $(seq 0 $((PER - 1))); do
		read -r first <"$MNT/t$k/$i/log" || mt_fail "t$k/$i/log unreadable after remount"
		[ "$first" = "first t$k/$i" ] || mt_fail "t$k/$i/log starts with '$first'"
		append_and_read "t$k/$i" "third t$k/$i"
	done
done
check_fds "after reading and appending all"
check_no_emfile

tl_say "-o max_fds and -o max_partitions: the store's limits refuse with ENOSPC"
mt_stop
# max_fds=64: 16 for topics (4 exist), 48 for partitions (12 resident)
mt_start -o partitions=2,max_fds=64,max_partitions=$((N + 1 + 24 + 4))
for k in $(seq 4 15); do
	mkdir "$MNT/x$k" || mt_fail "mkdir of topic $((k + 1)) of 16 failed"
done
mt_expect_err 'No space left on device' mkdir "$MNT/y"
grep -q 'refusing a new topic: the store holds 16 topics, its limit is 16' "$MT_ERR" ||
	mt_fail "no log line for the topic limit: $(tail -3 "$MT_ERR")"
for i in 2 3 4 5; do
	mkdir "$MNT/x4/$i" || mt_fail "mkdir x4/$i (below max_partitions) failed"
done
mt_expect_err 'No space left on device' mkdir "$MNT/x4/6"
grep -q 'refusing 1 new partitions: the store holds .*max_partitions' "$MT_ERR" ||
	mt_fail "no log line for max_partitions: $(tail -3 "$MT_ERR")"
for i in $(seq 0 13 $((PER - 1))); do
	append_and_read "t2/$i" "fourth t2/$i"
done
n=$(ls "/proc/$MT_PID/fd" | wc -l)
[ "$n" -le 128 ] || mt_fail "with max_fds=64 the daemon holds $n fds"
tl_say "max_fds=64: daemon holds $n fds"
check_no_emfile
