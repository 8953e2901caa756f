# shellcheck shell=bash
# clients.sh — what the client-program tests share (sourced after lib.sh):
# the real programs people point at log files (nginx, rsyslog, Python's
# logging, tail -F, lnav, logrotate; docs/OPERATIONS.md "Programs that
# write logs") write into partition logs, and each test checks that every
# line the program wrote is in the log exactly once and nothing else is.

# Fail unless the program $1 is installed (scripts/setup installs them all:
# a missing one is a failure, never a skip).
cl_need()
{
	command -v "$1" >/dev/null 2>&1 ||
		mt_fail "$1 is not installed (scripts/setup installs it)"
}

# Print a free TCP port on 127.0.0.1 (the kernel picks it).
cl_free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Fail unless the lines of file $1 are exactly those of file $2, each as
# often as there (order ignored): nothing lost, duplicated, torn or added.
# $3 names what is checked.  Prints the count.
cl_same_lines()
{
	local got=$1 want=$2 what=$3 n
	[ ! -s "$got" ] || [ -z "$(tail -c 1 "$got")" ] ||
		mt_fail "$what: $got does not end with a newline: $(tail -c 80 "$got")"
	if ! cmp -s <(sort "$got") <(sort "$want"); then
		echo "lines only in the log (<) or only expected (>), at most 20:" >&2
		diff <(sort "$got") <(sort "$want") | grep '^[<>]' | head -n 20 >&2
		mt_fail "$what: the log does not hold exactly the expected lines ($(wc -l <"$got") vs $(wc -l <"$want"))"
	fi
	n=$(wc -l <"$want")
	echo "ok: $what: all $n lines, each once, nothing else"
}

# Fail unless file $1 has at least $2 lines ($3 names it): a lower bound on
# what a test exercised.
cl_at_least()
{
	local n
	n=$(wc -l <"$1")
	[ "$n" -ge "$2" ] || mt_fail "$3: only $n lines, expected at least $2"
}
