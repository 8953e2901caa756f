#!/bin/bash
# Python's logging (docs/OPERATIONS.md, "Programs that write logs"):
# logging.FileHandler (mode 'a') from 4 processes and WatchedFileHandler
# from 2 into partition logs: every record once, whole.  The rotating
# handlers cannot rotate a partition log: their rename is refused with
# EPERM (errno 1), nothing already in the log changes, and the handler
# itself drops each record after the refused rollover (it reports each on
# stderr, "--- Logging error ---" with the PermissionError): the test
# checks both, so the recipe's "do not use them" rests on what they do.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
cl_need python3
N=2000
mt_start -o partitions=4
mkdir "$MNT/py"           # 0: FileHandler, 1: WatchedFileHandler, 2: Rotating, 3: Timed

# python3 PY.py HANDLER FILE TAG COUNT [SLEEP]: COUNT records "TAG i".
cat >"$T/emit.py" <<'EOF'
import logging, logging.handlers, sys, time
kind, path, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0
if kind == "file":
    h = logging.FileHandler(path, mode="a")
elif kind == "watched":
    h = logging.handlers.WatchedFileHandler(path)
elif kind == "rotating":
    h = logging.handlers.RotatingFileHandler(path, maxBytes=4096, backupCount=3)
else:
    h = logging.handlers.TimedRotatingFileHandler(path, when="S", interval=1, backupCount=3)
h.setFormatter(logging.Formatter("%(message)s"))
log = logging.getLogger("t")
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(count):
    log.info("%s %d", tag, i)
    if pause:
        time.sleep(pause)
logging.shutdown()
EOF
# The lines "TAG i" for i in 0..$2-1 for each tag in $1.
want() { for t in $1; do seq 0 $(($2 - 1)) | sed "s/^/$t /"; done; }

tl_say "FileHandler(mode='a') from 4 processes at once, $N records each"
pids=()
for w in a b c d; do
	python3 "$T/emit.py" file "$MNT/py/0/log" "$w" "$N" 2>"$T/file.$w.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || mt_fail "a FileHandler writer failed: $(cat "$T"/file.*.err)"; done
! grep -q . "$T"/file.*.err || mt_fail "FileHandler writers said: $(cat "$T"/file.*.err)"
want "a b c d" "$N" >"$T/want0"
cl_same_lines "$MNT/py/0/log" "$T/want0" "FileHandler, 4 processes"

tl_say "WatchedFileHandler from 2 processes (it stats the log before each record)"
python3 "$T/emit.py" watched "$MNT/py/1/log" w1 "$N" 2>"$T/w1.err" & p1=$!
python3 "$T/emit.py" watched "$MNT/py/1/log" w2 "$N" 2>"$T/w2.err" & p2=$!
wait "$p1" && wait "$p2" || mt_fail "a WatchedFileHandler writer failed"
! grep -q . "$T/w1.err" "$T/w2.err" || mt_fail "WatchedFileHandler said: $(cat "$T/w1.err" "$T/w2.err")"
want "w1 w2" "$N" >"$T/want1"
cl_same_lines "$MNT/py/1/log" "$T/want1" "WatchedFileHandler, 2 processes"

# Check a rotating handler's run: the log ($1) holds records 0..K-1 of tag
# $2 (K >= $5, a prefix: nothing lost or changed before the rollover), the
# other $3-K each gave one PermissionError [Errno 1] on stderr ($4), and
# no backup file appeared.
check_rotating()
{
	local log=$1 tag=$2 total=$3 err=$4 kmin=$5 k e
	k=$(wc -l <"$log")
	[ "$k" -ge "$kmin" ] && [ "$k" -lt "$total" ] || mt_fail "$tag: $k of $total records in the log"
	want "$tag" "$k" >"$T/want.$tag"
	cl_same_lines "$log" "$T/want.$tag" "$tag: the records before the first rollover"
	e=$(grep -c '^PermissionError: \[Errno 1\] Operation not permitted' "$err" || true)
	[ "$e" = $((total - k)) ] ||
		mt_fail "$tag: $e PermissionErrors on stderr for the $((total - k)) records after the rollover"
	[ "$(grep -c '^--- Logging error ---' "$err")" = "$e" ] || mt_fail "$tag: not one logging error per dropped record"
	! compgen -G "$log.*" >/dev/null || mt_fail "$tag: a backup file appeared: $(compgen -G "$log.*")"
	echo "ok: $tag: rename refused with EPERM (errno 1); $k records kept, the $e after the rollover dropped by the handler, each reported"
}

tl_say "RotatingFileHandler(maxBytes=4096): the rollover's rename is refused"
python3 "$T/emit.py" rotating "$MNT/py/2/log" rot 1000 2>"$T/rot.err" ||
	mt_fail "RotatingFileHandler's script failed"
check_rotating "$MNT/py/2/log" rot 1000 "$T/rot.err" 1
# 4096 bytes of "rot i\n" lines: the rollover came at the size, not before
[ "$(wc -c <"$MNT/py/2/log")" -ge 3900 ] || mt_fail "RotatingFileHandler rolled over early"

# Its first rollover is one interval after the log's mtime (the partition's
# last append, or its mkdir): here at once, or a second later.
tl_say "TimedRotatingFileHandler(when='S'): the same at its first rollover"
python3 "$T/emit.py" timed "$MNT/py/3/log" tim 150 0.02 2>"$T/tim.err" ||
	mt_fail "TimedRotatingFileHandler's script failed"
check_rotating "$MNT/py/3/log" tim 150 "$T/tim.err" 0
