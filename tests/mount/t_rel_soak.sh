#!/bin/bash
# Reliability trial 8 (issue 4), soak: a mixed load through the mount for
# REL_SECONDS (60) while the daemon's RSS (VmRSS of /proc/PID/status),
# open fds (/proc/PID/fd) and threads are sampled every REL_EVERY (1) s.
# The load: appenders (one plain, one fsyncing, one keyed through the
# topic-level log, a new tag per round), tail -f readers (one for the
# whole run, others opened and closed every few seconds), key writes,
# reads, deletes and listings, readers of at/N, since/T and the status
# files, and a topic created, filled and deleted again and again; the
# daemon runs with segment_size=256k, max_segments=6, retention=wrap, so
# segments roll and the oldest are deleted all the time.
#
# The first quarter of the run is warm-up (buffers, malloc arenas and
# FUSE worker threads grow to the load's working set).  Flat means: the
# largest sample of the last quarter is at most the largest of the second
# quarter + 10 % + 4 MiB, + 6 MiB per worker thread added since (RSS),
# + 8 (fds), + 4 (threads).  Afterwards the logs are well-formed and anchor, index
# and log agree.  Prints "FIGURE soak ..." and the samples' summary.
# REL_WB=1 mounts with -o writeback: keys are then set by keyed lines
# appended to the partition log (keys/ and <topic>/log refuse writes in
# that mode) and deleted by tombstone lines.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_need_exe RELCK
mt_init
SECS=${REL_SECONDS:-60}
EVERY=${REL_EVERY:-1}
OPTS=segment_size=256k,max_segments=6,retention=wrap,stride=100,sync=interval,sync_ms=200
WB=${REL_WB:-0}
KLOG=$MNT/s/log                 # where the keyed appender writes
[ "$WB" != 1 ] || { OPTS+=,writeback; KLOG=$MNT/s/0/log; }
mt_start -o "$OPTS"
mkdir "$MNT/s" "$MNT/s/1" "$MNT/k"
END=$(($(date +%s) + SECS))
before_end() { [ "$(date +%s)" -lt "$END" ]; }

# ---- the load ----------------------------------------------------------

# Appenders: rounds of lines, a new tag per round; counts in $T/n.*.
appender()
{
	local name=$1 file=$2 opt=$3 i=0
	while before_end; do
		# shellcheck disable=SC2086 # option words
		"$MTIO" lines $opt "$file" "$name$i" 3000 || { echo "appender $name: round $i failed" >"$T/bad.$name"; return; }
		i=$((i + 1))
		sleep 0.05
	done
	echo "$i" >"$T/n.$name"
}

# Short-lived tail -f readers, opened and closed again and again.
tailers()
{
	local i=0
	while before_end; do
		timeout 2 tail -n 5 -f "$MNT/s/0/log" >/dev/null 2>&1 || true
		i=$((i + 1))
	done
	echo "$i" >"$T/n.tailers"
}

# Keys: set, read, delete, list.
keyer()
{
	local i=0 k
	while before_end; do
		k=key$((i % 50))
		if [ "$WB" = 1 ]; then
			printf '%s\tvalue %s\n' "$k" "$i" >>"$MNT/k/0/log" || { echo "key line $i" >"$T/bad.keyer"; return; }
		else
			echo "value $i" >"$MNT/k/0/keys/$k" || { echo "key write $i" >"$T/bad.keyer"; return; }
		fi
		[ "$(cat "$MNT/k/0/keys/$k")" = "value $i" ] || { echo "key read $i" >"$T/bad.keyer"; return; }
		if [ "$WB" = 1 ]; then
			[ $((i % 7)) != 0 ] || printf 'key%s\t\n' $((i % 13)) >>"$MNT/k/0/log"
		else
			[ $((i % 7)) != 0 ] || rm "$MNT/k/0/keys/key$((i % 13))" 2>/dev/null || true
		fi
		[ $((i % 20)) != 0 ] || ls "$MNT/k/0/keys" >/dev/null
		i=$((i + 1))
	done
	echo "$i" >"$T/n.keyer"
}

# Readers of at/N, since/T and the status files.
reader()
{
	local i=0 s
	while before_end; do
		s=$(awk '$1 == "start_seq" { print $2 }' "$MNT/s/0/stats")
		head -c 65536 "$MNT/s/0/at/$((s + 10))" >/dev/null 2>&1 || true
		head -c 65536 "$MNT/s/1/since/$(($(date +%s) - 1))" >/dev/null 2>&1 || true
		cat "$MNT/s/0/index" "$MNT/s/0/anchor" "$MNT/s/1/stats" >/dev/null
		stat "$MNT/s/0/log" >/dev/null
		i=$((i + 1))
		sleep 0.1
	done
	echo "$i" >"$T/n.reader"
}

# A topic created, written and deleted, again and again.
churner()
{
	local i=0
	while before_end; do
		mkdir "$MNT/c" && "$MTIO" lines -b 10 "$MNT/c/0/log" c 2000 &&
			cat "$MNT/c/0/log" >/dev/null && mt_delete c ||
			{ echo "churn $i" >"$T/bad.churner"; return; }
		i=$((i + 1))
		sleep 0.2
	done
	echo "$i" >"$T/n.churner"
}

# Sample the daemon every EVERY s: "secs rss_kB fds threads".
sampler()
{
	local t0 pid=$MT_PID
	t0=$(date +%s)
	while before_end; do
		echo "$(($(date +%s) - t0)) $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l) $(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")" >>"$T/samples"
		sleep "$EVERY"
	done
}

tl_say "soak for $SECS s ($OPTS), samples every $EVERY s"
: >"$T/samples"
timeout $((SECS + 60)) tail -n 0 -f "$MNT/s/1/log" >"$T/longtail" 2>&1 &
longtail=$!
pids=()
appender a "$MNT/s/0/log" "-b 10" & pids+=($!)
appender f "$MNT/s/1/log" "-f 100" & pids+=($!)
appender k "$KLOG" "-K -b 5" & pids+=($!)
tailers & pids+=($!)
keyer & pids+=($!)
reader & pids+=($!)
churner & pids+=($!)
sampler & pids+=($!)
for pid in "${pids[@]}"; do
	tl_reap $(((SECS + 120) * 10)) "$pid" || mt_fail "load process $pid did not stop 120 s after the end"
done
kill "$longtail" 2>/dev/null || true
wait "$longtail" 2>/dev/null || true
for f in "$T"/bad.*; do
	[ -e "$f" ] || continue
	mt_fail "$(basename "$f"): $(cat "$f")"
done
kill -0 "$MT_PID" || mt_fail "daemon died"

# ---- the verdict --------------------------------------------------------

n=$(wc -l <"$T/samples")
[ "$n" -ge 8 ] || mt_fail "only $n samples"
q=$((n / 4))
verdict=$(awk -v q="$q" -v n="$n" '
	NR <= q { if ($2 > r1) r1 = $2; if ($3 > f1) f1 = $3 }
	NR > q && NR <= 2 * q { if ($2 > r2) r2 = $2; if ($3 > f2) f2 = $3; if ($4 > t2) t2 = $4 }
	NR > n - q { if ($2 > r4) r4 = $2; if ($3 > f4) f4 = $3; if ($4 > t4) t4 = $4 }
	{ if ($2 > rmax) rmax = $2; if ($3 > fmax) fmax = $3 }
	END {
		# a worker thread libfuse adds (up to 4 are allowed) brings its
		# 1 MiB receive buffer and a malloc arena: 6 MiB of RSS each
		extra = t4 > t2 ? t4 - t2 : 0
		ok = (r4 <= r2 * 1.10 + 4096 + 6144 * extra) && (f4 <= f2 + 8) && (t4 <= t2 + 4)
		printf "%s rss_kB_q1_max=%d rss_kB_q2_max=%d rss_kB_q4_max=%d rss_kB_max=%d fds_q1_max=%d fds_q2_max=%d fds_q4_max=%d fds_max=%d threads_q2_max=%d threads_q4_max=%d\n", ok ? "flat" : "GROWING", r1, r2, r4, rmax, f1, f2, f4, fmax, t2, t4
	}' "$T/samples")
echo "samples (seconds rss_kB fds threads):"
awk -v k=$((n / 12 + 1)) 'NR % k == 1' "$T/samples" | tr '\n' ';'
echo
echo "$verdict"

# Logs well-formed after the load, anchor/index/log agree.
for p in s/0 s/1 k/0; do
	"$MTIO" write -a -s "$MNT/$p/log" || mt_fail "fsync $p"
	out=$("$RELCK" agree "$MNT/$p") || mt_fail "$p: anchor/index/log disagree: $out"
	echo "$p: $out"
done
start_off=$(awk '$1 == "start_off" { print $2 }' "$MNT/s/0/stats")
tail -c +$((start_off + 1)) "$MNT/s/0/log" | tail -n +2 | awk 'NF != 3 || length($3) != 40 { print "bad line " NR ": " substr($0, 1, 80); exit 1 }' ||
	mt_fail "s/0/log holds a malformed line"
segs=$(awk '$1 == "segments" { print $2 }' "$MNT/s/0/stats")
[ "$segs" -le 6 ] || mt_fail "s/0 keeps $segs segments with max_segments=6"
appended=0
for p in s/0 s/1; do
	appended=$((appended + $(awk '$1 == "end_seq" { print $2 }' "$MNT/$p/stats")))
done
mt_stop
mt_start -o "$OPTS"
for p in s/0 s/1 k/0; do
	out=$("$RELCK" agree "$MNT/$p") || mt_fail "after remount, $p: $out"
done
echo "FIGURE soak seconds=$SECS samples=$n every_s=$EVERY messages_appended=$appended append_rounds=$(cat "$T/n.a")+$(cat "$T/n.f")+$(cat "$T/n.k") tail_reopens=$(cat "$T/n.tailers") key_ops=$(cat "$T/n.keyer") read_rounds=$(cat "$T/n.reader") topic_create_delete=$(cat "$T/n.churner") s0_start_seq=$(awk '$1 == "start_seq" { print $2 }' "$MNT/s/0/stats") $verdict"
case "$verdict" in
flat*) ;;
*) mt_fail "daemon resources grew: $verdict" ;;
esac
