#!/bin/bash
# logrotate on a partition log (docs/OPERATIONS.md, "Programs that write
# logs"): retention (-o max_segments=N,retention=wrap) replaces rotation.
# `copy` with an olddir off the mount works: the copy holds the log's
# bytes and the log is untouched.  Everything that would move, truncate or
# create in the partition fails with EPERM ("Operation not permitted") and
# changes nothing: copy without olddir (creating log.1 there), copytruncate
# (the copy is made, the truncate refused), the default rename + create,
# nocreate, renamecopy.  logrotate exits 1 for each.  Last, what to use
# instead: a mount with retention=wrap keeps the newest messages, at/0
# starts at the oldest kept one and the deleted bytes read as zeros.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
cl_need logrotate
mt_start -o partitions=2
mkdir "$MNT/app"
LOG=$MNT/app/0/log
seq 0 9999 | sed 's/^/app line /' >>"$LOG"
printf 'k1\tv1\n' >>"$MNT/app/1/log"    # a keyed message in the other partition
cp "$LOG" "$T/log.before"
cp "$MNT/app/1/log" "$T/log1.before"
OLD=$T/old
mkdir "$OLD"

# Run logrotate -f with a config for $LOG whose body is "$@" (one
# directive an argument); its output in $T/lr.out, status in LR_RC.
rotate()
{
	{
		echo "$LOG {"
		echo "    rotate 3"
		echo "    nocompress"
		printf '    %s\n' "$@"
		echo "}"
	} >"$T/lr.conf"
	LR_RC=0
	logrotate -f -s "$T/lr.state" "$T/lr.conf" >"$T/lr.out" 2>&1 || LR_RC=$?
}
# Fail unless the partition logs are byte for byte what they were and the
# partition holds no new entry.
untouched()
{
	mt_same "$LOG" "$T/log.before"
	mt_same "$MNT/app/1/log" "$T/log1.before"
	local e
	for e in "$MNT"/app/0/* "$MNT"/app/0/.[!.]*; do
		case ${e##*/} in
		log | anchor | at | index | keys | since | stats | '.[!.]*') ;;
		*) mt_fail "$1: a new entry in the partition: $e" ;;
		esac
	done
}
# Expect logrotate (config "$2..."): exit 1, the error line $1, nothing changed.
refused()
{
	local err=$1
	shift
	rotate "$@"
	[ "$LR_RC" = 1 ] || { cat "$T/lr.out" >&2; mt_fail "logrotate ($*) exited $LR_RC, expected 1"; }
	grep -qF "error: $err: Operation not permitted" "$T/lr.out" ||
		{ cat "$T/lr.out" >&2; mt_fail "logrotate ($*): no 'error: $err: Operation not permitted'"; }
	untouched "$*"
	echo "ok: $* refused (error: $err: Operation not permitted); the log unchanged"
}

tl_say "copy + olddir off the mount: the copy holds the log's bytes, the log is untouched"
rotate copy "olddir $OLD"
[ "$LR_RC" = 0 ] || { cat "$T/lr.out" >&2; mt_fail "logrotate copy exited $LR_RC"; }
mt_same "$OLD/log.1" "$T/log.before"
cl_at_least "$OLD/log.1" 10000 "the copy"
untouched copy
echo "app after" >>"$LOG"
cp "$LOG" "$T/log.before"
rotate copy "olddir $OLD"
[ "$LR_RC" = 0 ] || { cat "$T/lr.out" >&2; mt_fail "second logrotate copy exited $LR_RC"; }
mt_same "$OLD/log.1" "$T/log.before"
[ "$(tail -n 1 "$OLD/log.2")" = "app line 9999" ] || mt_fail "the first copy was not kept as log.2"
untouched "second copy"
echo "ok: copy twice: log.1 and log.2 in $OLD, the log appended to in between and never changed"

tl_say "what moves, truncates or creates in the partition fails with EPERM and changes nothing"
rm -f "$OLD"/*
refused "error creating output file $LOG.1" copy
refused "error truncating $LOG" copytruncate "olddir $OLD"
# copytruncate made its copy before the refused truncate: the lines are now
# in the copy and still in the log
mt_same "$OLD/log.1" "$T/log.before"
refused "failed to rename $LOG to $LOG.1" create
refused "failed to rename $LOG to $LOG.1" nocreate
refused "failed to rename $LOG to $LOG.tmp" renamecopy "olddir $OLD"

tl_say "what to use instead: retention (segment_size=4k,max_segments=3,retention=wrap)"
mt_stop
mt_start -o segment_size=4k,max_segments=3,retention=wrap,stride=10,max_buffer=20
mkdir "$MNT/ret"
RLOG=$MNT/ret/0/log
# 500 writes of 10 lines; max_buffer=20 makes the writer wait for the
# flusher, so blocks hold at most 20 lines and segments roll at about 4k
python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for w in range(500):
    os.write(fd, "".join("ret line %d\n" % i for i in range(10 * w, 10 * w + 10)).encode())' "$RLOG"
mt_stop          # everything flushed, retention done
mt_start
RLOG=$MNT/ret/0/log
# The value of $1 in the partition's stats.
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$MNT/ret/0/stats"; }
s=$(stat_of start_seq)
off=$(stat_of start_off)
segs=$(stat_of segments)
[ "$s" -gt 0 ] && [ "$off" -gt 0 ] || mt_fail "retention deleted nothing (start_seq $s, start_off $off)"
[ "$segs" -le 3 ] || mt_fail "$segs segments kept, max_segments=3"
seq "$s" 4999 | sed 's/^/ret line /' >"$T/ret.want"
cl_same_lines "$MNT/ret/0/at/0" "$T/ret.want" "at/0 after retention: the newest messages"
[ "$(wc -c <"$RLOG")" = "$(seq 0 4999 | sed 's/^/ret line /' | wc -c)" ] ||
	mt_fail "the log's size is not every byte ever appended"
[ "$(head -c "$off" "$RLOG" | tr -d '\0' | wc -c)" = 0 ] || mt_fail "deleted bytes do not read as zeros"
cmp <(tail -c +$((off + 1)) "$RLOG") "$MNT/ret/0/at/0" || mt_fail "the log past the deleted bytes is not at/0"
echo "ok: retention kept messages $s..4999 in $segs segments; the first $off bytes read as zeros"
