#!/bin/bash
# /.metrics and /.status: the metrics parse as Prometheus text format
# (python3-prometheus-client's parser; promtool's linter too when the
# prometheus package is installed), their numbers match what was written,
# stat agrees with read, and the two files stay out of the topics' way
# (found by name only, never listed); a stat flood by another user makes
# at most one text a second (stat is cheap).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	mt_fail "python3-prometheus-client is not installed (scripts/setup installs it)"

# Check $1 (a copy of /.metrics) with the parser and against the expected
# values in the rest of the arguments: "topic/part NAME VALUE" triples
# given as one word each "topic/part:NAME:VALUE" (NAME without _total).
check_metrics()
{
	"$PY" - "$@" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
fail = []

# every family has HELP and TYPE lines, each once, before its samples
for name in fams:
    for kw in ("HELP", "TYPE"):
        n = sum(1 for l in text.splitlines() if l.startswith("# %s %s " % (kw, name)) or
                l.startswith("# %s %s_total " % (kw, name)))
        if n != 1:
            fail.append("%s: %d %s lines" % (name, n, kw))

want = ["appended_messages", "appended_bytes", "buffered_messages",
        "buffered_bytes", "flushes", "backpressure_waits", "committed_seq",
        "committed_offset_bytes", "segments", "recovery_dropped_bytes",
        "recovery_dropped_messages", "write_errors", "fsyncs",
        "flush_duration_seconds", "fsync_duration_seconds"]
for w in want:
    if "shlog_" + w not in fams:
        fail.append("missing family shlog_" + w)

# per-partition values: {(topic, part): {sample name: value}}
vals = {}
for f in fams.values():
    for s in f.samples:
        if "topic" not in s.labels:
            continue
        key = (s.labels["topic"], s.labels["partition"])
        extra = ",".join("%s=%s" % kv for kv in sorted(s.labels.items())
                         if kv[0] not in ("topic", "partition"))
        vals.setdefault(key, {})[s.name + ("{" + extra + "}" if extra else "")] = s.value

for key, v in vals.items():
    # histograms: buckets cumulative, +Inf bucket = count
    for h in ("shlog_flush_duration_seconds", "shlog_fsync_duration_seconds"):
        b = sorted((float(k.split("le=")[1].rstrip("}")), x) for k, x in v.items()
                   if k.startswith(h + "_bucket"))
        if len(b) < 2 or b[-1][0] != float("inf"):
            fail.append("%s %s: no +Inf bucket" % (key, h))
            continue
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            fail.append("%s %s: buckets not cumulative" % (key, h))
        if b[-1][1] != v[h + "_count"]:
            fail.append("%s %s: +Inf %s != count %s" % (key, h, b[-1][1], v[h + "_count"]))
        if v[h + "_count"] > 0 and v[h + "_sum"] <= 0:
            fail.append("%s %s: samples but sum 0" % (key, h))
    flushes = sum(x for k, x in v.items() if k.startswith("shlog_flushes_total{"))
    if flushes != v["shlog_flush_duration_seconds_count"]:
        fail.append("%s: %s flushes but the flush histogram counts %s"
                    % (key, flushes, v["shlog_flush_duration_seconds_count"]))

for arg in sys.argv[2:]:
    where, name, value = arg.split(":")
    topic, part = where.split("/")
    got = vals.get((topic, part), {}).get(name)
    if got is None or (value.startswith(">=") and got < float(value[2:])) or \
       (not value.startswith(">=") and got != float(value)):
        fail.append("%s %s = %s, expected %s" % (where, name, got, value))

if fail:
    print("\n".join(fail))
    sys.exit(1)
print("parsed %d families, %d partitions" % (len(fams), len(vals)))
EOF
}

# Copy a root file through one open descriptor, checking that stat on the
# path (while it is open) gives the number of bytes read.
snap_copy()
{
	local f=$1 out=$2 size
	exec 3<"$f"
	size=$(stat -c %s "$f")
	cat <&3 >"$out"
	exec 3<&-
	[ "$size" = "$(wc -c <"$out")" ] ||
		mt_fail "$f: stat says $size bytes while open, read gave $(wc -c <"$out")"
}

mt_start -o partitions=2
M=$MNT

tl_say "an empty store"
snap_copy "$M/.metrics" "$T/m0"
check_metrics "$T/m0" || mt_fail "metrics of an empty store"
grep -qx 'shlog_partitions 0' "$T/m0" || mt_fail "shlog_partitions 0 missing"

tl_say "two topics, keyed and keyless lines, an fsync"
mkdir "$M/a" "$M/b"
"$MTIO" lines -K -b 50 "$M/a/0/log" k 300
"$MTIO" lines -b 10 "$M/a/1/log" x 40
"$MTIO" write -a -s "$M/b/0/log" "one
two
"
tl_wait_until 100 grep -qx 'buffered_msgs 0' "$M/a/0/stats" ||
	mt_fail "a/0 still buffers after 10 s"
tl_wait_until 100 grep -qx 'buffered_msgs 0' "$M/a/1/stats" ||
	mt_fail "a/1 still buffers after 10 s"
snap_copy "$M/.metrics" "$T/m1"
bytes=$(wc -c <"$M/a/0/log")
check_metrics "$T/m1" \
	"a/0:shlog_appended_messages_total:300" \
	"a/0:shlog_appended_bytes_total:$bytes" \
	"a/0:shlog_committed_seq:300" \
	"a/0:shlog_committed_offset_bytes:$bytes" \
	"a/0:shlog_buffered_messages:0" \
	"a/0:shlog_keys:1" \
	"a/0:shlog_segments:1" \
	"a/1:shlog_appended_messages_total:40" \
	"a/1:shlog_keys:0" \
	"b/0:shlog_appended_messages_total:2" \
	"b/0:shlog_durable_seq:2" \
	"b/0:shlog_fsync_duration_seconds_count:>=1" \
	"b/0:shlog_flush_duration_seconds_count:>=1" \
	"b/1:shlog_appended_messages_total:0" \
	"a/0:shlog_error:0" ||
	{ head -c 3000 "$T/m1"; mt_fail "metrics after writes"; }
grep -qx 'shlog_partitions 4' "$T/m1" || mt_fail "shlog_partitions 4 missing"
grep -qx 'shlog_topics 2' "$T/m1" || mt_fail "shlog_topics 2 missing"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m1" || mt_fail "promtool check metrics"
	echo "ok: promtool check metrics"
else
	echo "note: promtool not installed; python parser only"
fi

tl_say ".status"
snap_copy "$M/.status" "$T/s1"
cat "$T/s1"
grep -q '^2 topics, 4 partitions, 342 messages' "$T/s1" || mt_fail ".status totals"
grep -qE '^a/0 +300 ' "$T/s1" || mt_fail ".status line of a/0"
grep -q '^health: ok' "$T/s1" || mt_fail ".status health"

tl_say "the root files stay out of the way (found by name, never listed)"
[ "$(ls -A "$M" | tr '\n' ' ')" = "a b " ] || mt_fail "ls -A shows $(ls -A "$M")"
[ "$(stat -c %A "$M/.metrics")" = "-r--r--r--" ] ||
	mt_fail ".metrics mode $(stat -c %A "$M/.metrics")"
mt_expect_ok tar -C "$M" -cf "$T/all.tar" .
[ "$(tar -tf "$T/all.tar" | grep -c '/\.')" = 0 ] ||
	mt_fail "dot names in a tar of the mount: $(tar -tf "$T/all.tar" | grep '/\.')"
# named explicitly, tar reads them without "file changed" warnings
tar -C "$M" -cf "$T/dot.tar" .metrics .status 2>"$T/tar.err" ||
	{ cat "$T/tar.err"; mt_fail "tar of .metrics .status"; }
[ ! -s "$T/tar.err" ] || { cat "$T/tar.err"; mt_fail "tar warned"; }
mkdir "$T/x" && tar -C "$T/x" -xf "$T/dot.tar"
"$PY" -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as f; list(f(open(sys.argv[1]).read()))' \
	"$T/x/.metrics" || mt_fail ".metrics from tar does not parse"
grep -q '^health: ok' "$T/x/.status" || mt_fail ".status from tar"
mt_expect_err 'File exists' mkdir "$M/.metrics"
mt_expect_err 'Not a directory' rmdir "$M/.status"
mt_expect_err 'Permission denied' sh -c "echo x >> '$M/.metrics'"
mt_expect_err 'Operation not permitted' chmod 644 "$M/.metrics"
mt_expect_err 'Operation not permitted' rm "$M/.status"
mt_expect_err 'Invalid argument|Operation not permitted' mkdir "$M/.hidden"

tl_say "after a remount: counters since mount restart, state persists"
mt_stop
mt_start
snap_copy "$M/.metrics" "$T/m2"
check_metrics "$T/m2" \
	"a/0:shlog_appended_messages_total:0" \
	"a/0:shlog_committed_seq:300" \
	"a/0:shlog_committed_offset_bytes:$bytes" \
	"a/0:shlog_recovery_dropped_messages_total:0" \
	"a/1:shlog_committed_seq:40" \
	"b/0:shlog_committed_seq:2" ||
	mt_fail "metrics after remount"
mt_stop

tl_say "a stat flood by another user makes at most one text a second"
mt_user
mt_start -o allow_other
texts() { awk '$1 == "shlogfs_root_texts_total" { print $2 }' "$M/.metrics"; }
t0=$(texts)
s0=$(date +%s.%N)
n=$(tl_as "$TL_USER" "$PY" -c '
import os, sys
n = 0
for i in range(3000):
    for f in (".metrics", ".status"):
        os.stat(sys.argv[1] + "/" + f)
        n += 1
print(n)' "$M")
s1=$(date +%s.%N)
t1=$(texts)
made=$((t1 - t0 - 1))   # the root read of t1 made one
secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%d", b - a + 0.999 }')
echo "$n stats in at most $secs s made $made texts"
[ "$n" = 6000 ] || mt_fail "the stat flood ran $n stats"
# two files, one text a second each (the second started at most twice)
[ "$made" -le $((2 * (secs + 2))) ] || mt_fail "$made texts for $n stats in $secs s"
[ "$made" -ge 2 ] || mt_fail "the flood made $made texts: did it stat anything?"
