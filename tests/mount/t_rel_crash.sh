#!/bin/bash
# Reliability trial 1 (issue 4), process crash: writers append numbered
# lines through the mount (some fsync after their lines, some not; one
# through the topic-level log) while the daemon is killed with SIGKILL at
# a random moment; remount and check, per partition:
#  - every line whose fsync returned (with sync=always: whose write
#    returned) is present;
#  - the log holds, per writer, a prefix of what it wrote, in order, with
#    no torn, duplicated or garbage line (mt_check_lines);
#  - the recovered log is a prefix of the segment files the dead daemon
#    left, and `stats` reports exactly the bytes and messages cut off;
#  - anchor, index and log agree (relck agree: index spans contiguous,
#    CRCs match, committed_off = committed end = log size).
# The data dir is kept for REL_GROUP trials (so recovery also runs on
# logs that went through earlier crashes and segment rolls), then reset
# with new random daemon options.
#
# Environment: REL_TRIALS (10), REL_GROUP (5), REL_MAXMS (400: longest
# run before the kill), REL_SEED (random), REL_WB (-o writeback: 1 for
# every data dir, 0 for none; unset: one data dir in four).  With
# -o writeback only fsync acknowledges, and the topic-level writer
# writes to partition 0 (<topic>/log refuses writes in that mode).  Prints "FIGURE crash ..."
# lines for scripts/reliability-mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_need_exe RELCK
mt_init
TRIALS=${REL_TRIALS:-10}
GROUP=${REL_GROUP:-5}
MAXMS=${REL_MAXMS:-400}
SEED=${REL_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
echo "seed $SEED (REL_SEED=$SEED reproduces the option and timing choices)"

# Totals for the figures.
n_acked=0 n_lines=0 n_drop_b=0 n_drop_m=0 n_dropped_trials=0 max_rec_us=0
n_acked_trials=0 ms=0

# Pick random daemon options for a new data dir (in OPTS).
pick_opts()
{
	local syncs=(none interval always none) segs=(64k 256k 1M 64M)
	local fl=(5 20 100) st=(10 100 1000)
	OPTS="sync=${syncs[RANDOM % 4]},segment_size=${segs[RANDOM % 4]}"
	OPTS+=",flush_ms=${fl[RANDOM % 3]},stride=${st[RANDOM % 3]}"
	[ "${OPTS#sync=interval}" = "$OPTS" ] || OPTS+=",sync_ms=$((10 + RANDOM % 200))"
	case ${REL_WB:-} in
	1) OPTS+=",writeback" ;;
	0) ;;
	*) [ $((RANDOM % 4)) != 0 ] || OPTS+=",writeback" ;;
	esac
}

# Start the writers of trial $1 (pids in WPIDS); with sync=always every
# returned write() is acknowledged (-w), else the fsyncing writers
# acknowledge their fsyncs.
start_writers()
{
	local i=$1 f0="-f 1" f2="-f 3" f4="-f 10" w1="" w3="" tlog=$MNT/t/log
	if [ "${OPTS#*writeback}" != "$OPTS" ]; then
		tlog=$MNT/t/0/log
	elif [ "${OPTS#sync=always}" != "$OPTS" ]; then
		f0=-w f2=-w f4=-w w1=-w w3=-w
	fi
	WPIDS=()
	# shellcheck disable=SC2086 # option words
	"$MTIO" lines $f0 -k "$T/ack.c${i}w0" "$MNT/t/0/log" "c${i}w0" 100000000 2>/dev/null &
	WPIDS+=($!)
	# shellcheck disable=SC2086
	"$MTIO" lines $w1 -k "$T/ack.c${i}w1" -b 7 "$MNT/t/0/log" "c${i}w1" 100000000 2>/dev/null &
	WPIDS+=($!)
	# shellcheck disable=SC2086
	"$MTIO" lines -K $f2 -k "$T/ack.c${i}w2" "$MNT/t/1/log" "c${i}w2" 100000000 2>/dev/null &
	WPIDS+=($!)
	# shellcheck disable=SC2086
	"$MTIO" lines $w3 -k "$T/ack.c${i}w3" -b 3 "$MNT/t/1/log" "c${i}w3" 100000000 2>/dev/null &
	WPIDS+=($!)
	# shellcheck disable=SC2086
	"$MTIO" lines -K $f4 -k "$T/ack.c${i}w4" "$tlog" "c${i}w4" 100000000 2>/dev/null &
	WPIDS+=($!)
}

# Value of field $2 in status file $1.
field() { awk -v f="$2" '$1 == f { print $2 }' "$1"; }

# After the remount of trial $1: check partition $2 against the segment
# files the dead daemon left ($T/pre.$2).
check_part()
{
	local i=$1 p=$2 got=$T/got.$2 pre=$T/pre.$2 gs ps db dm sb sm out us
	cp "$MNT/t/$p/log" "$got"
	cp "$MNT/t/$p/stats" "$T/stats.$p"
	gs=$(stat -c %s "$got")
	ps=$(stat -c %s "$pre")
	[ "$gs" -le "$ps" ] || mt_fail "trial $i p$p: recovered log ($gs bytes) longer than the files left ($ps)"
	cmp -n "$gs" "$got" "$pre" >/dev/null ||
		mt_fail "trial $i p$p: recovered log is not a prefix of the segment files left by the killed daemon"
	db=$((ps - gs))
	dm=$(tail -c +$((gs + 1)) "$pre" | tr -cd '\n' | wc -c)
	sb=$(field "$T/stats.$p" recovered_bytes_dropped)
	sm=$(field "$T/stats.$p" recovered_msgs_dropped)
	us=$(field "$T/stats.$p" recovery_us)
	[ "$sb" = "$db" ] && [ "$sm" = "$dm" ] ||
		mt_fail "trial $i p$p: recovery cut $db bytes ($dm newlines) but stats says recovered_bytes_dropped $sb, recovered_msgs_dropped $sm"
	n_drop_b=$((n_drop_b + db))
	n_drop_m=$((n_drop_m + dm))
	[ "$db" = 0 ] || n_dropped_trials=$((n_dropped_trials + 1))
	[ "$us" -le "$max_rec_us" ] || max_rec_us=$us
	out=$("$RELCK" agree "$MNT/t/$p") || mt_fail "trial $i p$p: anchor/index/log disagree: $out"
	mt_check_lines "$got" >>"$T/counts"
}

# Check the acknowledged lines of trial $1's writers against the counts.
check_acks()
{
	local i=$1 w tag ack n
	for w in 0 1 2 3 4; do
		tag=c${i}w$w
		ack=0
		[ ! -s "$T/ack.$tag" ] || ack=$(tail -n 1 "$T/ack.$tag" | cut -d' ' -f2)
		n=$(awk -v t="$tag" '$1 == t { print $2 }' "$T/counts")
		n=${n:-0}
		[ "$n" -ge "$ack" ] ||
			mt_fail "trial $i: $tag had $ack lines acknowledged ($OPTS) but only $n survived"
		n_lines=$((n_lines + n))
		n_acked=$((n_acked + ack))
		[ "$ack" = 0 ] || n_acked_trials=$((n_acked_trials + 1))
	done
	# the keyed writer of t/1: keys/TAG is the value of its last line
	tag=c${i}w2
	n=$(awk -v t="$tag" '$1 == t { print $2 }' "$T/counts")
	if [ -n "$n" ]; then
		[ "$(cut -d' ' -f1 "$MNT/t/1/keys/$tag")" = "$(printf '%08d' $((n - 1)))" ] ||
			mt_fail "trial $i: keys/$tag is '$(cat "$MNT/t/1/keys/$tag")', last line $((n - 1))"
	fi
}

# One trial: writers, a kill -9 at a random moment, remount, checks.
trial()
{
	local i=$1 p pid
	if [ $((i % GROUP)) = 0 ]; then
		[ -z "$MT_PID" ] || mt_stop
		rm -rf "$DATADIR" "$T"/ack.*
		mkdir -p "$DATADIR"
		pick_opts
		mt_start -o "$OPTS"
		mkdir "$MNT/t" "$MNT/t/1"
	fi
	start_writers "$i"
	ms=$((RANDOM % MAXMS))
	sleep "$(printf '0.%03d' "$ms")"
	mt_kill9
	for pid in "${WPIDS[@]}"; do
		tl_reap 100 "$pid" || mt_fail "trial $i: writer $pid still running 10 s after the kill"
	done
	for p in 0 1; do
		cat "$DATADIR"/t/$p/*.log >"$T/pre.$p" 2>/dev/null || : >"$T/pre.$p"
	done
	mt_start -o "$OPTS"
	: >"$T/counts"
	for p in 0 1; do check_part "$i" "$p"; done
	check_acks "$i"
	[ $((i % 50)) != 0 ] || [ "$TRIALS" -lt 100 ] ||
		echo "trial $i: $n_lines lines recovered so far, $n_acked acknowledged, $n_drop_b bytes cut"
}

tl_say "$TRIALS crash trials (kill -9 within ${MAXMS} ms), new data dir every $GROUP"
start=$(date +%s)
for i in $(seq 0 $((TRIALS - 1))); do
	trial "$i"
	[ "$TRIALS" -ge 100 ] || echo "trial $i ($OPTS, kill after ${ms:-?} ms): ok, $(sort "$T/counts" | grep "^c${i}w" | tr '\n' ' ')"
done
mt_stop
secs=$(($(date +%s) - start))
echo "FIGURE crash trials=$TRIALS kills=$TRIALS seconds=$secs lines_recovered=$n_lines lines_acknowledged=$n_acked acknowledged_lost=0 writers_with_acks=$n_acked_trials recovery_cut_bytes=$n_drop_b recovery_cut_msgs=$n_drop_m trials_partitions_with_cut=$n_dropped_trials max_recovery_us=$max_rec_us seed=$SEED"
