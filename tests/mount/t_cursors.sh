#!/bin/bash
# shellcheck disable=SC2012 # what ls lists is what is tested here
# Durable cursors, <topic>/<p>/cursors/NAME (shlogfs(8) "CURSORS"): a
# read from the committed position, committed by close; a reader killed
# with kill -9 commits nothing (its messages come again); a commit
# survives kill -9 of the daemon and a remount; writing a number moves
# it; rm deletes it; a second reader gets EBUSY; only who may read the
# log may use its cursors; /.metrics has their exact lag; shlogctl
# cursor works offline and refuses while mounted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER

# rd NAME BYTES [close|peek|kill]: read exactly BYTES of cursors/NAME
# (fewer at its end) to stdout, then close it (a commit), or exit without
# closing it (peek: the kernel closes it for the exiting process, which
# commits nothing), or kill -9 itself with it open.
cat >"$T/rd.py" <<'EOF'
import os, signal, sys
path, want, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_RDONLY)
got = b""
while len(got) < want:
    b = os.read(fd, want - len(got))
    if not b:
        break
    got += b
sys.stdout.buffer.write(got)
sys.stdout.flush()
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if how == "peek":
    os._exit(0)
os.close(fd)
EOF
rd() { python3 "$T/rd.py" "$P/cursors/$1" "$2" "${3:-close}"; }
# line N as the log holds it (9 bytes with its newline).
line() { printf 'line-%03d' "$1"; }
# The value of metric family $1 for cursor $2 of t/0 in $3 (a copy of /.metrics).
metric() { sed -n "s/^$1{topic=\"t\",partition=\"0\",cursor=\"$2\"} //p" "$3"; }

mt_start -o allow_other
P=$MNT/t/0
mkdir "$MNT/t"
chmod 755 "$MNT/t" "$P"
for i in $(seq 0 99); do line "$i"; echo; done >>"$P/log"
[ "$(wc -l <"$P/log")" = 100 ] || mt_fail "log holds $(wc -l <"$P/log") lines, not 100"

tl_say "create makes a cursor at the first message; cursors/ is not listed, its listing is"
: >"$P/cursors/c"
[ "$(ls "$P")" = log ] || mt_fail "partition listing: $(ls "$P" | tr '\n' ' ')"
[ "$(ls "$P/cursors")" = c ] || mt_fail "cursors/ lists: $(ls "$P/cursors" | tr '\n' ' ')"
[ "$(stat -c %s "$P/cursors/c")" = 900 ] || mt_fail "a new cursor's size (lag bytes): $(stat -c %s "$P/cursors/c")"

tl_say "read three messages, close: the next read starts at the fourth"
[ "$(rd c 27)" = "$(printf '%s\n' "$(line 0)" "$(line 1)" "$(line 2)")" ] || mt_fail "first read"
[ "$(rd c 9)" = "$(line 3)" ] || mt_fail "after a commit by close: $(rd c 9)"
cat "$P/cursors/c" >"$T/rest"
tail -n +5 "$P/log" | cmp - "$T/rest" || mt_fail "cat of the cursor is not the rest of the log"
[ "$(rd c 9)" = "" ] || mt_fail "a cursor at the end reads something"

tl_say "set by writing a number; invalid numbers are refused"
echo 10 >"$P/cursors/c"
[ "$(stat -c %s "$P/cursors/c")" = 810 ] || mt_fail "size after echo 10: $(stat -c %s "$P/cursors/c")"
mt_expect_err "out of range" bash -c "echo 101 >'$P/cursors/c'"
mt_expect_err "Invalid argument" bash -c "echo ten >'$P/cursors/c'"
[ "$(rd c 9 peek)" = "$(line 10)" ] || mt_fail "after echo 10"

tl_say "kill -9 of a reader commits nothing: what it read comes again"
[ "$(rd c 45 kill 2>/dev/null || true)" = "$(printf '%s\n' "$(line 10)" "$(line 11)" "$(line 12)" "$(line 13)" "$(line 14)")" ] ||
	mt_fail "the killed reader's read"
[ "$(rd c 9 peek)" = "$(line 10)" ] || mt_fail "after kill -9 of the reader: $(rd c 9 peek), not $(line 10)"

tl_say "a second reader of one cursor gets EBUSY"
python3 - "$P/cursors/c" <<'EOF' || mt_fail "EBUSY check"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.open(sys.argv[1], os.O_RDONLY)
    sys.exit("a second reader was let in")
except OSError as e:
    if e.errno != errno.EBUSY:
        sys.exit("second reader: %s, not EBUSY" % e)
os.close(fd)
os.close(os.open(sys.argv[1], os.O_RDONLY))   # free again once the first is closed
EOF

tl_say "lag in /.metrics is exact"
cp "$MNT/.metrics" "$T/m1"
[ "$(metric shlog_cursor_position c "$T/m1")" = 10 ] || mt_fail "position: $(grep cursor "$T/m1")"
[ "$(metric shlog_cursor_lag_messages c "$T/m1")" = 90 ] || mt_fail "lag: $(grep cursor "$T/m1")"
[ "$(metric shlog_cursor_lag_bytes c "$T/m1")" = 810 ] || mt_fail "lag bytes: $(grep cursor "$T/m1")"

tl_say "commit, then kill -9 of the daemon with an uncommitted reader open: the commit stays"
rd c 18 >/dev/null                       # 10, 11: committed at 12
python3 - "$P/cursors/c" "$T/held" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 36)                          # 12..15 read, never committed
open(sys.argv[2], "w").close()
time.sleep(30)
EOF
holder=$!
tl_wait_until 100 test -e "$T/held" || mt_fail "the holding reader did not start"
mt_kill9
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
mt_start -o allow_other
[ "$(rd c 9 peek)" = "$(line 12)" ] || mt_fail "after kill -9 of the daemon: $(rd c 9 peek), not $(line 12)"

tl_say "a clean remount keeps every cursor"
echo 40 >"$P/cursors/c"
: >"$P/cursors/d"
mt_stop
mt_start -o allow_other
[ "$(ls "$P/cursors" | tr '\n' ' ')" = "c d " ] || mt_fail "after remount: $(ls "$P/cursors")"
[ "$(rd c 9 peek)" = "$(line 40)" ] || mt_fail "c after remount"
[ "$(rd d 9 peek)" = "$(line 0)" ] || mt_fail "d after remount"

tl_say "permissions: a reader of the log may use its cursors; others may not"
[ "$(tl_as "$U" /usr/bin/python3 "$T/rd.py" "$P/cursors/c" 9 peek)" = "$(line 40)" ] || mt_fail "the user's read of c"
mt_expect_ok tl_as "$U" sh -c ": >'$P/cursors/u1' && echo 7 >'$P/cursors/u1' && rm '$P/cursors/u1'"
chmod 711 "$P"                           # the user may pass, not read the log
mt_expect_err "Permission denied" tl_as "$U" cat "$P/log"
mt_expect_err "Permission denied" tl_as "$U" cat "$P/cursors/c"
mt_expect_err "Permission denied" tl_as "$U" bash -c "echo 1 >'$P/cursors/c'"
mt_expect_err "Permission denied" tl_as "$U" bash -c ": >'$P/cursors/u2'"
mt_expect_err "Permission denied" tl_as "$U" rm "$P/cursors/c"
tl_as "$U" cat "$MNT/.metrics" >"$T/m2"
! grep -q shlog_cursor_position'{' "$T/m2" || mt_fail "a user who cannot read t/0 sees its cursors in /.metrics"
[ "$(rd c 9 peek)" = "$(line 40)" ] || mt_fail "c after the refused user"
chmod 755 "$P"

tl_say "rm deletes a cursor"
rm "$P/cursors/d"
[ "$(ls "$P/cursors")" = c ] || mt_fail "after rm: $(ls "$P/cursors")"
[ ! -e "$P/cursors/d" ] || mt_fail "cursors/d still there"

tl_say "shlogctl cursor: refused while mounted, works offline"
mt_expect_err "in use" "$SHLOGCTL" cursor set "$DATADIR" t 0 c 5
mt_stop
[ "$("$SHLOGCTL" cursor list "$DATADIR" t 0)" = "$(printf 'c\t40\t60')" ] ||
	mt_fail "cursor list: $("$SHLOGCTL" cursor list "$DATADIR" t 0)"
"$SHLOGCTL" cursor set "$DATADIR" t 0 e 60
"$SHLOGCTL" cursor delete "$DATADIR" t 0 c
"$SHLOGCTL" verify "$DATADIR" t 0 >/dev/null || mt_fail "verify after the cursor commands"
mt_start -o allow_other
[ "$(ls "$P/cursors")" = e ] || mt_fail "after shlogctl: $(ls "$P/cursors")"
[ "$(rd e 9 peek)" = "$(line 60)" ] || mt_fail "e set by shlogctl"

tl_say "retention: a cursor below the first kept message reads from it, its lag counts from there"
mt_stop
mt_start -o allow_other,segment_size=64k,max_segments=3,retention=wrap,stride=100
mkdir "$MNT/w"
W=$MNT/w/0
P=$W
: >"$W/cursors/r"
"$MTIO" lines -b 50 "$W/log" w1 20000
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.fsync(fd)' "$W/log"   # every block written: retention done
cp "$MNT/.metrics" "$T/m3"
start=$(sed -n 's/^shlog_start_seq{topic="w",partition="0"} //p' "$T/m3")
[ "${start:-0}" -gt 0 ] || mt_fail "no retention happened (start_seq '$start')"
wmetric() { sed -n "s/^$1{topic=\"w\",partition=\"0\",cursor=\"r\"} //p" "$T/m3"; }
[ "$(wmetric shlog_cursor_position)" = 0 ] || mt_fail "r's position: $(wmetric shlog_cursor_position)"
[ "$(wmetric shlog_cursor_lag_messages)" = $((20000 - start)) ] ||
	mt_fail "r's lag $(wmetric shlog_cursor_lag_messages), not 20000 - $start"
pmetric() { sed -n "s/^$1{topic=\"w\",partition=\"0\"} //p" "$T/m3"; }
[ "$(wmetric shlog_cursor_lag_bytes)" = $(($(pmetric shlog_end_offset_bytes) - $(pmetric shlog_start_offset_bytes))) ] ||
	mt_fail "r's lag bytes $(wmetric shlog_cursor_lag_bytes), the kept log $(pmetric shlog_start_offset_bytes)..$(pmetric shlog_end_offset_bytes)"
[ "$(rd r 4096 peek | head -n 1)" = "$(head -n 1 "$W/at/0")" ] ||
	mt_fail "r reads '$(rd r 4096 peek | head -n 1)', the first kept message is '$(head -n 1 "$W/at/0")'"
rd r 4096 >/dev/null
[ "$(wmetric shlog_cursor_lag_messages)" -gt 0 ] || mt_fail "lag before the read"
cp "$MNT/.metrics" "$T/m3"
got=$(wmetric shlog_cursor_position)
[ "$got" -gt "$start" ] || mt_fail "after a read from the first kept message the position is $got (start $start)"

tl_say "deleting a topic deletes its cursors"
echo w >"$MNT/.delete"
mkdir "$MNT/w"
[ -z "$(ls "$MNT/w/0/cursors")" ] || mt_fail "a new topic w has cursors: $(ls "$MNT/w/0/cursors")"
