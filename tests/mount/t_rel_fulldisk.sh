#!/bin/bash
# Reliability trial 4 (issue 4), full disk through the mount: the data
# dir is a small tmpfs.  Each cycle makes a topic of 2 partitions and a
# 1 MiB filler file (ignored by the store), then writers append until the
# tmpfs is full:
#  - every writer stops on ENOSPC (from write() or fsync(), nothing else);
#  - while the disk is full, readers keep reading (cat of each log, a
#    tail -f, stat, the status files) and the daemon stays up;
#  - after the filler is deleted, appends resume (the time is measured);
#  - then every line whose write() returned is in the log (the block
#    that failed was kept and retried), each writer's lines in order,
#    none torn, and anchor, index and log agree;
#  - deleting the topic (/.delete) frees its space for the next cycle.
# The last cycle's topic is checked again after a remount.
#
# Environment: REL_CYCLES (2), REL_DISK_MB (16), REL_WB (1: mount with
# -o writeback, where only fsync acknowledges, so every writer fsyncs
# after each write).  Prints "FIGURE fulldisk ..." for
# scripts/reliability-mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_need_exe RELCK
mt_init
CYCLES=${REL_CYCLES:-2}
DISK=${REL_DISK_MB:-16}
mount -t tmpfs -o size=${DISK}m shlog-rel-tmpfs "$DATADIR" || mt_fail "cannot mount a tmpfs on $DATADIR"
mt_at_exit "umount -l '$DATADIR'"
OPTS=segment_size=1M,stride=100
WACK=-w
if [ "${REL_WB:-0}" = 1 ]; then
	OPTS+=,writeback
	WACK="-f 1"
fi
mt_start -o "$OPTS"

n_enospc=0 n_reads=0 n_bytes=0 n_acked=0 max_resume_ms=0 n_errlines=0

# Check partition dir $1 (quiescent): lines well-formed (counts appended
# to $T/counts) and anchor/index/log agreement.
check_part()
{
	local out
	cp "$1/log" "$T/got"
	mt_check_lines "$T/got" >>"$T/counts"
	out=$("$RELCK" agree "$1") || mt_fail "$1: anchor/index/log disagree: $out"
}

# Writers of cycle $1 into topic $2: pids in WPIDS, tags c$1w0..2.
start_writers()
{
	local c=$1 top=$2
	WPIDS=()
	# shellcheck disable=SC2086 # option words
	"$MTIO" lines $WACK -k "$T/ack.c${c}w0" "$top/0/log" "c${c}w0" 100000000 2>"$T/err.c${c}w0" &
	WPIDS+=($!)
	"$MTIO" lines -f 1 -k "$T/ack.c${c}w1" "$top/0/log" "c${c}w1" 100000000 2>"$T/err.c${c}w1" &
	WPIDS+=($!)
	# shellcheck disable=SC2086
	"$MTIO" lines $WACK -b 5 -k "$T/ack.c${c}w2" "$top/1/log" "c${c}w2" 100000000 2>"$T/err.c${c}w2" &
	WPIDS+=($!)
}

# While the disk is full: reads of topic $1 must work ($2 rounds).
read_while_full()
{
	local top=$1 p
	for _ in $(seq 1 "$2"); do
		for p in 0 1; do
			cat "$top/$p/log" >"$T/full.$p" || mt_fail "cat $top/$p/log failed while the disk was full"
			mt_check_lines "$T/full.$p" >/dev/null
			stat "$top/$p/log" >/dev/null || mt_fail "stat failed while full"
			cat "$top/$p/stats" "$top/$p/index" "$top/$p/anchor" >/dev/null ||
				mt_fail "status files unreadable while full"
			n_reads=$((n_reads + 1))
		done
	done
	kill -0 "$MT_PID" || mt_fail "daemon died on a full disk"
}

# One cycle $1.
# append_again CYCLE TOPIC P T0: one line with fsync to partition P,
# retried until it succeeds; fail 10 s after T0 (ns), when space was freed.
append_again()
{
	local t1
	while ! "$MTIO" lines -f 1 "$2/$3/log" "c${1}r$3" 1 2>"$T/again.err"; do
		t1=$(date +%s%N)
		[ $(((t1 - $4) / 1000000)) -lt 10000 ] ||
			mt_fail "cycle $1: appends to p$3 still fail 10 s after freeing 1 MiB: $(cat "$T/again.err")"
		sleep 0.05
	done
}

cycle()
{
	local c=$1 top=$MNT/c$1 pid w st tail ack n t0 t1 ms werr
	dd if=/dev/zero of="$DATADIR/.filler" bs=1M count=1 status=none ||
		mt_fail "cycle $c: no room for the 1 MiB filler ($(df -k "$DATADIR" | tail -n 1))"
	mkdir "$top" "$top/1"
	timeout 300 tail -n +1 -f "$top/0/log" >"$T/tail" 2>/dev/null &
	tail=$!
	start_writers "$c" "$top"
	for pid in "${WPIDS[@]}"; do
		tl_reap 900 "$pid" || mt_fail "cycle $c: writer $pid still writing after 90 s on a ${DISK} MiB disk"
		[ "$TL_STATUS" != 0 ] || mt_fail "cycle $c: writer $pid finished without an error"
	done
	for w in 0 1 2; do
		werr=$(cat "$T/err.c${c}w$w")
		printf '%s\n' "$werr" | grep -q 'ENOSPC' ||
			mt_fail "cycle $c: writer w$w stopped on something else than ENOSPC: $werr"
		[ "$c" != 0 ] || echo "cycle 0 w$w: $werr"
		n_enospc=$((n_enospc + 1))
	done
	df -k "$DATADIR" | tail -n 1
	read_while_full "$top" 3
	st=0
	"$MTIO" write -a -s "$top/1/log" $'one more\n' 2>"$T/more.err" || st=$?
	[ "$st" != 0 ] && grep -q ENOSPC "$T/more.err" ||
		mt_fail "cycle $c: an append on a full disk got: exit $st $(cat "$T/more.err")"
	n_errlines=$((n_errlines + $(awk '$1 == "write_errors" { print $2 }' "$top/0/stats")))

	rm "$DATADIR/.filler"
	t0=$(date +%s%N)
	append_again "$c" "$top" 0 "$t0"
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	[ "$ms" -le "$max_resume_ms" ] || max_resume_ms=$ms
	# p1 resumes on its own too: its failed block is retried like p0's
	append_again "$c" "$top" 1 "$t0"
	: >"$T/counts"
	check_part "$top/0"
	check_part "$top/1"
	for w in 0 1 2; do
		ack=0
		[ ! -s "$T/ack.c${c}w$w" ] || ack=$(tail -n 1 "$T/ack.c${c}w$w" | cut -d' ' -f2)
		n=$(awk -v t="c${c}w$w" '$1 == t { print $2 }' "$T/counts")
		n=${n:-0}
		[ "$n" -ge "$ack" ] || mt_fail "cycle $c: w$w: $ack lines acknowledged, $n in the log"
		n_acked=$((n_acked + ack))
	done
	n_bytes=$((n_bytes + $(stat -c %s "$top/0/log") + $(stat -c %s "$top/1/log")))
	sleep 0.3
	kill "$tail" 2>/dev/null || true
	wait "$tail" 2>/dev/null || true
	cmp -n "$(stat -c %s "$T/tail")" "$T/tail" "$top/0/log" ||
		mt_fail "cycle $c: tail -f output is not a prefix of the log"
	[ "$CYCLES" -ge 10 ] || echo "cycle $c: ok: $(tr '\n' ' ' <"$T/counts"), resumed after $ms ms"
	[ $((c % 10)) != 9 ] || echo "cycle $c: ok ($n_bytes bytes stored so far)"
}

tl_say "$CYCLES fill/free cycles on a ${DISK} MiB tmpfs ($OPTS)"
start=$(date +%s)
for c in $(seq 0 $((CYCLES - 1))); do
	cycle "$c"
	if [ "$c" -lt $((CYCLES - 1)) ]; then
		mt_delete "c$c" ||
			mt_fail "cycle $c: cannot delete the topic"
	fi
done
last=$MNT/c$((CYCLES - 1))
cp "$last/0/log" "$T/last0"
cp "$last/1/log" "$T/last1"
mt_stop
mt_start -o "$OPTS"
mt_same "$last/0/log" "$T/last0"
mt_same "$last/1/log" "$T/last1"
"$MTIO" lines -f 1 "$last/0/log" after 1 || mt_fail "append after remount"
mt_check_sanitizer "$MT_ERR" || mt_fail "sanitizer report"
secs=$(($(date +%s) - start))
echo "FIGURE fulldisk cycles=$CYCLES disk_mb=$DISK seconds=$secs writers_stopped_by_enospc=$n_enospc other_errors=0 reads_while_full=$n_reads bytes_stored=$n_bytes lines_acknowledged=$n_acked acknowledged_lost=0 write_errors_in_stats=$n_errlines max_resume_ms=$max_resume_ms daemon_restarts=0"
