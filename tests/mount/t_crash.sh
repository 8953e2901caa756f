#!/bin/bash
# kill -9 of the daemon while 4 writers append (fsync every 200 lines,
# recording each fsync that returned); lazy unmount, remount: nothing
# fsync-acknowledged is lost and no torn line is served.  Twice: with the
# default sync policy, and with -o sync=always, where every write() that
# returned counts as acknowledged; and with -o writeback (fsync-acknowledged).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

# One crash round: writer options $1 ("-f 200" or "-w"), daemon options
# "${@:2}".
crash_round()
{
	local w pids=() pid acked got wopt=$1 kopt
	shift
	rm -rf "$DATADIR" "$T"/ack.* "$T"/werr.*
	mkdir -p "$DATADIR"
	mt_start "$@"
	mkdir "$MNT/t"
	# w0 and w1 write keyed lines (key = the tag): keys/ is checked too.
	for w in 0 1 2 3; do
		kopt=
		[ "$w" -ge 2 ] || kopt=-K
		# shellcheck disable=SC2086 # empty or one word each
		"$MTIO" lines $kopt $wopt -k "$T/ack.$w" \
			"$MNT/t/0/log" "w$w" 100000000 2>"$T/werr.$w" &
		pids+=($!)
	done
	# A reader following the log at the same time.
	timeout 20 tail -n +1 -f "$MNT/t/0/log" >/dev/null 2>&1 &
	local tailpid=$!
	has_acks() { [ -s "$T/ack.0" ] && [ "$(wc -l <"$T/ack.0")" -ge 5 ]; }
	tl_wait_until 150 has_acks || mt_fail "no fsync acknowledged within 15 s"
	sleep 1
	tl_say "kill -9 the daemon (options: ${*:-none})"
	mt_kill9
	for pid in "${pids[@]}"; do
		tl_reap 100 "$pid" || mt_fail "writer $pid still running 10 s after the kill"
		[ "$TL_STATUS" != 0 ] || mt_fail "writer $pid exited 0 after the kill"
	done
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
	head -n 1 "$T/werr.0"
	mt_start "$@"
	cat "$MNT/t/0/stats" | grep -iE 'recover|drop' || true
	cp "$MNT/t/0/log" "$T/got"
	got=$(mt_check_lines "$T/got")
	echo "after recovery: $(echo "$got" | tr '\n' ' ')"
	for w in 0 1 2 3; do
		acked=$(tail -n 1 "$T/ack.$w" | cut -d' ' -f2)
		n=$(echo "$got" | awk -v t="w$w" '$1 == t { print $2 }')
		n=${n:-0}
		echo "w$w: $acked lines acknowledged ($wopt), $n recovered"
		[ "$n" -ge "$acked" ] || mt_fail "w$w: $acked lines acknowledged ($wopt) but only $n survived"
	done
	for w in 0 1; do
		last=$(grep "^w$w	" "$T/got" | tail -n 1 | cut -f2)
		[ "$(cat "$MNT/t/0/keys/w$w")" = "$last" ] ||
			mt_fail "keys/w$w after recovery: '$(cat "$MNT/t/0/keys/w$w")', last line has '$last'"
	done
	[ "$(ls "$MNT/t/0/keys" | tr '\n' ' ')" = "w0 w1 " ] || mt_fail "ls keys: $(ls "$MNT/t/0/keys")"
	# The recovered log takes appends again and stays consistent.
	echo "after crash" >>"$MNT/t/0/log"
	[ "$(tail -n 1 "$MNT/t/0/log")" = "after crash" ] || mt_fail "append after recovery"
	mt_stop
}

crash_round "-f 200"
crash_round "-w" -o sync=always
crash_round "-f 200" -o writeback
