#!/bin/bash
# A second daemon on the same data dir is refused with a clear message;
# the first keeps serving.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start
mkdir "$MNT/t"
echo "first" >>"$MNT/t/0/log"
MNT2=$T/mnt2
mkdir "$MNT2"

tl_say "second daemon, foreground, other mount point"
st=0
timeout 15 "$SHLOGFS" -f "$DATADIR" "$MNT2" >"$T/second.err" 2>&1 || st=$?
echo "exit status $st; stderr:"
cat "$T/second.err"
[ "$st" != 0 ] || mt_fail "second daemon exited 0"
[ "$st" != 124 ] || mt_fail "second daemon still running after 15 s (not refused)"
! mountpoint -q "$MNT2" || { fusermount3 -u "$MNT2"; mt_fail "second daemon mounted $MNT2"; }
[ -s "$T/second.err" ] || mt_fail "second daemon printed no message"
grep -qiE 'lock|busy|in use|already|another' "$T/second.err" ||
	mt_fail "second daemon's message does not say why: $(cat "$T/second.err")"
mt_check_sanitizer "$T/second.err" || mt_fail "sanitizer report from the second daemon"

tl_say "second daemon, default (daemonizing) mode: fails before daemonizing"
st=0
timeout 15 "$SHLOGFS" "$DATADIR" "$MNT2" >"$T/second2.err" 2>&1 || st=$?
echo "exit status $st: $(head -n 2 "$T/second2.err")"
[ "$st" != 0 ] || { mountpoint -q "$MNT2" && fusermount3 -u "$MNT2"; mt_fail "daemonizing second daemon exited 0"; }
[ -s "$T/second2.err" ] || mt_fail "daemonizing second daemon printed no message"
! mountpoint -q "$MNT2" || { fusermount3 -u "$MNT2"; mt_fail "second daemon mounted $MNT2"; }

tl_say "the first still serves"
kill -0 "$MT_PID" || mt_fail "first daemon died"
echo "second" >>"$MNT/t/0/log"
[ "$(cat "$MNT/t/0/log" | tr '\n' ' ')" = "first second " ] ||
	mt_fail "first daemon's log: $(cat "$MNT/t/0/log")"
mt_stop

tl_say "after the first stops, a new daemon starts on the same data dir"
mt_start
[ "$(cat "$MNT/t/0/log" | tr '\n' ' ')" = "first second " ] || mt_fail "log after restart"
