#!/bin/bash
# rsyslog's omfile (docs/OPERATIONS.md, "Programs that write logs"):
# rsyslogd in the foreground with its own config takes messages on a Unix
# socket in the temp dir (imuxsock) and writes them with omfile into two
# partition logs, one without and one with sync="on" (fdatasync of the
# file, fsync of its directory).  logger sends N messages, rsyslogd gets a
# SIGHUP (it closes its files and reopens them at the next write), logger
# sends N more: each log holds the 2N lines, each once, nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
cl_need rsyslogd
cl_need logger
N=2000

mt_start -o partitions=2
mkdir "$MNT/sys"          # partition 0: plain omfile, 1: sync="on"
RS=$T/rs
mkdir -p "$RS/work"
SOCK=$RS/log.sock
cat >"$RS/rsyslog.conf" <<EOF
global(workDirectory="$RS/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$SOCK" RateLimit.Interval="0")
# the message without the blank that follows the tag
template(name="plain" type="string" string="%msg:2:\$%\\n")
if \$programname == 'cltest' then {
    action(type="omfile" file="$MNT/sys/0/log" template="plain")
    action(type="omfile" file="$MNT/sys/1/log" template="plain" sync="on")
}
EOF
rsyslogd -N1 -f "$RS/rsyslog.conf" >"$T/rsyslog-N1.out" 2>&1 ||
	{ cat "$T/rsyslog-N1.out" >&2; mt_fail "rsyslogd -N1 rejects the config"; }

tl_say "rsyslogd -n -f CONF -i PIDFILE, imuxsock on $SOCK"
rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslogd.pid" >"$T/rsyslog.out" 2>&1 &
RS_PID=$!
mt_at_exit "kill $RS_PID 2>/dev/null; tl_reap 100 $RS_PID"
tl_wait_until 100 test -S "$SOCK" || { cat "$T/rsyslog.out" >&2; mt_fail "no socket $SOCK after 10 s"; }

# Send the messages "PHASE i" for i in 0..N-1 through logger, one per line.
send() { seq 0 $((N - 1)) | sed "s/^/$1 /" | logger -u "$SOCK" -t cltest --socket-errors=on; }
# Wait (bounded) until both logs hold $1 lines.
both_have() { [ "$(wc -l <"$MNT/sys/0/log")" -ge "$1" ] && [ "$(wc -l <"$MNT/sys/1/log")" -ge "$1" ]; }

send one || mt_fail "logger (phase one)"
seq 0 $((N - 1)) | sed 's/^/one /' >"$T/want"
tl_wait_until 300 both_have "$N" ||
	mt_fail "after 30 s: $(wc -l <"$MNT/sys/0/log") and $(wc -l <"$MNT/sys/1/log") of $N lines"
cl_same_lines "$MNT/sys/0/log" "$T/want" "omfile"
cl_same_lines "$MNT/sys/1/log" "$T/want" 'omfile sync="on"'

tl_say "SIGHUP (rsyslogd closes its files), then $N more messages"
kill -HUP "$RS_PID"
send two || mt_fail "logger (phase two)"
seq 0 $((N - 1)) | sed 's/^/two /' >>"$T/want"
tl_wait_until 300 both_have $((2 * N)) ||
	mt_fail "after 30 s: $(wc -l <"$MNT/sys/0/log") and $(wc -l <"$MNT/sys/1/log") of $((2 * N)) lines"

tl_say "rsyslogd stops on SIGTERM; the logs are complete"
kill "$RS_PID"
tl_reap 100 "$RS_PID" || mt_fail "rsyslogd did not stop on SIGTERM"
[ "$TL_STATUS" = 0 ] || { cat "$T/rsyslog.out" >&2; mt_fail "rsyslogd exit status $TL_STATUS"; }
cl_same_lines "$MNT/sys/0/log" "$T/want" "omfile after the HUP"
cl_same_lines "$MNT/sys/1/log" "$T/want" 'omfile sync="on" after the HUP'
if [ -s "$T/rsyslog.out" ]; then
	echo "rsyslogd said:"; cat "$T/rsyslog.out"
	! grep -qiE 'error|suspended|permission|denied' "$T/rsyslog.out" ||
		mt_fail "rsyslogd reported an error (above)"
fi
# sync="on" reached the daemon (fdatasync per batch: the partition's
# fsyncs count), and the plain omfile asked for none.
f0=$(awk '$1 == "fsyncs" { print $2 }' "$MNT/sys/0/stats")
f1=$(awk '$1 == "fsyncs" { print $2 }' "$MNT/sys/1/stats")
[ "$f1" -ge 2 ] || mt_fail "sync=\"on\": only $f1 fsyncs of sys/1"
[ "$f0" = 0 ] || mt_fail "plain omfile: $f0 fsyncs of sys/0 (expected none)"
echo "ok: fsyncs: $f1 with sync=\"on\", $f0 without"
