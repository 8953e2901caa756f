#!/bin/bash
# Following and reading a partition log (docs/OPERATIONS.md, "Programs
# that write logs"): tail -F while a writer appends sees every line once;
# less +F (in a tmux pane, the terminal it needs) shows each new line and
# ends on the log's last screen; lnav headless (-n) reads the whole log,
# parses it as syslog and counts every message.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
cl_need tail
cl_need less
cl_need tmux
cl_need lnav
M=3000
mt_start -o partitions=3
mkdir "$MNT/f"            # 0: tail -F, 1: less +F, 2: lnav

# Append $3 syslog-style lines "... cltest[1]: TAG i" to $1, tag $2, one
# write each, in bursts of 100 with a pause of $4 s between bursts.
cat >"$T/append.py" <<'EOF'
import os, sys, time
path, tag, count, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
base = 1764648000   # 2025-12-02 04:00:00 UTC: one second per line
for i in range(count):
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(base + i))
    line = "%s host cltest[1]: %s %d\n" % (stamp, tag, i)
    assert os.write(fd, line.encode()) == len(line)
    if pause and i % 100 == 99:
        time.sleep(pause)
os.close(fd)
EOF
# Has file $1 at least $2 lines?
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
# The lines append.py writes for tag $1 and count $2.
want() { python3 "$T/append.py" /dev/stdout "$1" "$2" 0; }

tl_say "tail -F: 500 lines before it starts, $M while it follows"
LOG=$MNT/f/0/log
python3 "$T/append.py" "$LOG" pre 500 0
tail -n +1 -s 0.2 -F "$LOG" >"$T/tail.out" 2>"$T/tail.err" &
TAIL_PID=$!
tl_wait_until 100 lines_ge "$T/tail.out" 500 || mt_fail "tail -F did not print the first 500 lines"
python3 "$T/append.py" "$LOG" live "$M" 0.05
{ want pre 500; want live "$M"; } >"$T/want0"
tl_wait_until 100 lines_ge "$T/tail.out" $((500 + M)) ||
	mt_fail "tail -F printed $(wc -l <"$T/tail.out") of $((500 + M)) lines after 10 s"
sleep 0.5    # a line too many would come now
kill "$TAIL_PID"
wait "$TAIL_PID" 2>/dev/null || true
cl_same_lines "$T/tail.out" "$T/want0" "tail -F"
# tail's order is the log's: compare exactly too
mt_same "$T/tail.out" "$LOG"
! grep -q . "$T/tail.err" || mt_fail "tail -F said: $(cat "$T/tail.err")"

tl_say "less +F in a tmux pane: each new line shows up, the screen ends on the log's tail"
LOG=$MNT/f/1/log
python3 "$T/append.py" "$LOG" pre 100 0
TM="tmux -L shlog-follow-$$"
mt_at_exit "$TM kill-server 2>/dev/null"
$TM new-session -d -s f -x 120 -y 25 "less +F '$LOG'" || mt_fail "tmux new-session"
# Print the pane.
screen() { $TM capture-pane -p -t f; }
# Does the pane show the line $1?
shows() { screen | grep -qxF "$1"; }
tl_wait_until 100 shows "$(want pre 100 | tail -n 1)" || { screen >&2; mt_fail "less +F does not show the log"; }
seen=0
for r in 1 2 3 4 5; do
	python3 "$T/append.py" "$LOG" "round$r" 20 0
	tl_wait_until 100 shows "$(want "round$r" 20 | tail -n 1)" ||
		{ screen >&2; mt_fail "less +F did not show round $r's last line within 10 s"; }
	seen=$((seen + 1))
done
# The pane: 24 lines of the log, then less's "Waiting for data" line.
screen | sed -n '1,24p' >"$T/less.screen"
tail -n 24 "$LOG" >"$T/less.want"
mt_same "$T/less.screen" "$T/less.want"
screen | sed -n '25p' | grep -q 'Waiting for data' || mt_fail "less is not following: $(screen | tail -n 1)"
echo "ok: less +F showed each of $seen rounds' last line; its screen is the log's last 24 lines"
$TM kill-server

tl_say "lnav -n reads the whole log and parses every message as syslog"
LOG=$MNT/f/2/log
python3 "$T/append.py" "$LOG" ln "$M" 0
export HOME=$T/home
mkdir -p "$HOME"
timeout 60 lnav -n "$LOG" >"$T/lnav.out" 2>"$T/lnav.err" || mt_fail "lnav -n exited $?: $(head -c 300 "$T/lnav.err")"
mt_same "$T/lnav.out" "$LOG"
cl_at_least "$T/lnav.out" "$M" "lnav -n"
n=$(timeout 60 lnav -n -c ';SELECT count(*) AS n FROM syslog_log' -c ':write-csv-to -' "$LOG" 2>>"$T/lnav.err" | tail -n 1)
[ "$n" = "$M" ] || mt_fail "lnav's syslog_log has '$n' messages, expected $M: $(head -c 300 "$T/lnav.err")"
echo "ok: lnav -n printed all $M lines in order; its syslog_log table has $n messages"
