#!/bin/bash
# ENOSPC: a 4 MiB tmpfs as the data dir.  The writer gets "No space left
# on device" at its write (a shell's echo too), the daemon keeps
# serving reads of what was stored, and appends work again once space is
# freed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mount -t tmpfs -o size=4m shlog-mt-tmpfs "$DATADIR" || mt_fail "cannot mount a tmpfs on $DATADIR"
mt_at_exit "umount -l '$DATADIR'"
# A filler file (ignored by the store) to free space later.
dd if=/dev/zero of="$DATADIR/.filler" bs=1M count=1 status=none
mt_start
mkdir "$MNT/t"
L=$MNT/t/0/log
echo "first line" >>"$L"
head -c 6000000 /dev/urandom | base64 -w 100 >"$T/src"

tl_say "write 8 MiB into a 4 MiB data dir (dd bs=101: one line per write)"
st=0
dd if="$T/src" of="$L" bs=101 oflag=append conv=notrunc status=none 2>"$T/dd.err" || st=$?
echo "dd exit $st: $(cat "$T/dd.err")"
if [ "$st" = 0 ]; then
	# The error may surface on a later write, fsync or close.
	st2=0
	"$MTIO" write -a -s "$L" $'one more\n' 2>"$T/dd.err" || st2=$?
	echo "mtio write+fsync exit $st2: $(cat "$T/dd.err")"
	[ "$st2" != 0 ] || mt_fail "8 MiB went into a 4 MiB tmpfs without an error"
fi
grep -q 'No space left on device\|ENOSPC' "$T/dd.err" ||
	mt_fail "the writer's error is not ENOSPC: $(cat "$T/dd.err")"
df -k "$DATADIR" | tail -n 1

tl_say "a shell's echo gets the error at its write (bash ignores close errors)"
st=0
bash -c 'echo "shell line" >>"$1"' - "$L" 2>"$T/echo.err" || st=$?
echo "echo exit $st: $(cat "$T/echo.err")"
[ "$st" != 0 ] || mt_fail "echo >> log on a full disk exited 0"
grep -q 'No space left on device' "$T/echo.err" ||
	mt_fail "echo's error is not ENOSPC: $(cat "$T/echo.err")"
! grep -qx 'shell line' "$L" || mt_fail "a refused echo line is in the log"

tl_say "the daemon keeps serving reads"
kill -0 "$MT_PID" || mt_fail "daemon died on ENOSPC"
cat "$L" >"$T/got" || mt_fail "cat of the log failed after ENOSPC"
size=$(stat -c %s "$L")
echo "log holds $size bytes, $(wc -l <"$T/got") lines"
[ "$size" = "$(wc -c <"$T/got")" ] || mt_fail "st_size $size but cat gives $(wc -c <"$T/got")"
[ "$(head -n 1 "$T/got")" = "first line" ] || mt_fail "first line lost"
tail -n +2 "$T/got" | grep -v '^one more$' >"$T/got.rest" || true
cmp -n "$(wc -c <"$T/got.rest")" "$T/got.rest" "$T/src" ||
	mt_fail "what was stored is not a prefix of what was written"
[ -z "$(tail -c 1 "$T/got")" ] || mt_fail "log does not end with a newline (torn line)"
ls "$MNT/t/0" >/dev/null
cat "$MNT/t/0/stats" >/dev/null || mt_fail "stats unreadable after ENOSPC"

tl_say "space returns: appends work again"
rm "$DATADIR/.filler"
ok=0
for i in $(seq 1 30); do
	if "$MTIO" write -a -s "$L" $'after space returned\n' 2>"$T/again.err"; then ok=1; break; fi
	sleep 0.2
done
[ "$ok" = 1 ] || mt_fail "appends still fail after freeing 1 MiB: $(cat "$T/again.err")"
[ "$(tail -n 1 "$L")" = "after space returned" ] || mt_fail "last line: $(tail -n 1 "$L" | head -c 100)"
mt_check_sanitizer "$MT_ERR" || mt_fail "sanitizer report"
mt_stop
mt_start
[ "$(tail -n 1 "$L")" = "after space returned" ] || mt_fail "after remount, last line: $(tail -n 1 "$L" | head -c 100)"
