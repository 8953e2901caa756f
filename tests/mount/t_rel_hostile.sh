#!/bin/bash
# Reliability trial 7 (issue 4), hostile and concurrent use of the mount
# (mounted with -o allow_other):
#  1. 16 writer processes x N lines on one partition, then 16 x N over
#     16 partitions (8 writing to their own partition, 8 keyed through the
#     topic-level log): every line exactly once, none torn, each writer's
#     lines in order, each key in one partition, anchor/index/log agree;
#  2. thousands of handles open at once on one log, a line through each;
#  3. hostile operations (wrong offsets, O_APPEND cleared, 4 MiB lines,
#     NUL bytes, truncation, renames, names of 256+ bytes, "." and "..",
#     control characters and non-UTF-8 bytes in names): each refused one
#     gets the errno in the table, the data is unchanged, the daemon
#     stays up;
#  4. a user without permission on a topic (or a partition) can neither
#     read nor append to it;
#  5. parts 1 and 2 again with -o writeback (partition logs behind the
#     kernel's page cache; all writers on partition logs).
# At the end it prints the table of operations and errnos (markdown).
#
# Environment: REL_LINES (5000 lines per writer), REL_HANDLES (3000).
# Prints "FIGURE hostile ..." for scripts/reliability-mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_need_exe RELCK
mt_init
mt_user
N=${REL_LINES:-5000}
H=${REL_HANDLES:-3000}
TABLE=$T/table
: >"$TABLE"
n_ops=0 n_bugs=0

# Run relck op "$4..." (as user $3, or as root if it is empty) expecting an
# errno name matching the ERE $1 ("ok" for success); add "| $2 | result |"
# to the table.
op_by()
{
	local want=$1 what=$2 user=$3 got
	shift 3
	if [ -n "$user" ]; then
		got=$(tl_as "$user" "$RELCK" op "$@" 2>&1) || true
	else
		got=$("$RELCK" op "$@" 2>&1) || true
	fi
	printf '| %s | %s |\n' "$what" "$got" >>"$TABLE"
	n_ops=$((n_ops + 1))
	printf '%s\n' "$got" | grep -qxE "$want" ||
		mt_fail "$what: expected /$want/, got '$got' (${user:+as $user: }relck op $*)"
	echo "$what: $got"
}

# op_by as root: op WANT WHAT ARGS...
op() { op_by "$1" "$2" "" "${@:3}"; }

# op_by as user $TL_USER: op_as WANT WHAT ARGS...
op_as() { op_by "$1" "$2" "$TL_USER" "${@:3}"; }

# Record a failed check and go on with the rest of the trial (the test
# fails at the end).
rel_bug()
{
	echo "FAIL: $*" >&2
	# shellcheck disable=SC2034 # read by lib.sh's EXIT trap
	MT_FAILED=1
	n_bugs=$((n_bugs + 1))
}

# Wait for writers WPIDS (at most $1 s each); each must exit 0.
reap_writers()
{
	local pid
	for pid in "${WPIDS[@]}"; do
		tl_reap $(($1 * 10)) "$pid" || mt_fail "writer $pid did not finish in $1 s"
		[ "$TL_STATUS" = 0 ] || mt_fail "writer $pid exited $TL_STATUS"
	done
}

# fsync partition dir $1 (everything committed), then relck agree.
agree()
{
	local out
	"$MTIO" write -a -s "$1/log" || mt_fail "fsync of $1/log"
	out=$("$RELCK" agree "$1") || mt_fail "$1: anchor/index/log disagree: $out"
	echo "$1: $out"
}

mt_start -o allow_other
start=$(date +%s)

# ---- 1. 16 concurrent writers --------------------------------------------

tl_say "16 writers x $N lines on one partition"
mkdir "$MNT/one"
WPIDS=()
for w in $(seq 0 15); do
	b=$((1 + w % 4 * 3))   # 1, 4, 7 or 10 lines per write()
	"$MTIO" lines -b $b "$MNT/one/0/log" "w$w" "$N" &
	WPIDS+=($!)
done
reap_writers 900
cp "$MNT/one/0/log" "$T/one"
counts=$(mt_check_lines "$T/one")
exp1=$(for w in $(seq 0 15); do echo "w$w $N"; done | sort)
[ "$counts" = "$exp1" ] || mt_fail "one partition: per-writer counts: $(echo "$counts" | tr '\n' ' ')"
echo "runs of one writer in the log: $(cut -d' ' -f1 "$T/one" | uniq | wc -l)"
agree "$MNT/one/0"
rm -f "$T/one"

tl_say "16 writers x $N lines over 16 partitions (8 direct, 8 keyed via the topic log)"
mkdir "$MNT/many"
for p in $(seq 1 15); do mkdir "$MNT/many/$p"; done
WPIDS=()
for w in $(seq 0 7); do
	"$MTIO" lines -b $((1 + w % 3 * 5)) "$MNT/many/$w/log" "d$w" "$N" &
	WPIDS+=($!)
done
for w in $(seq 0 7); do
	"$MTIO" lines -K -b $((1 + w % 2 * 9)) "$MNT/many/log" "k$w" "$N" &
	WPIDS+=($!)
done
reap_writers 900
: >"$T/counts"
for p in $(seq 0 15); do
	cp "$MNT/many/$p/log" "$T/many"
	mt_check_lines "$T/many" >>"$T/counts"
	agree "$MNT/many/$p" >/dev/null
done
rm -f "$T/many"
counts=$(grep -v "^$" "$T/counts" | sort)
exp=$( (for w in $(seq 0 7); do echo "d$w $N"; echo "k$w $N"; done) | sort)
[ "$counts" = "$exp" ] || mt_fail "many partitions (lines lost, duplicated or a key in two partitions): $(echo "$counts" | tr '\n' ' ')"
echo "ok: 16 tags x $N lines, each exactly once, each key in one partition"

# ---- 2. thousands of open handles ------------------------------------------

tl_say "$H handles open at once on one log"
mkdir "$MNT/h"
out=$("$RELCK" handles "$MNT/h/0/log" "$H" h) || mt_fail "relck handles: $out"
echo "$out"
[ "$(mt_check_lines "$MNT/h/0/log")" = "h $H" ] || mt_fail "handles: $(mt_check_lines "$MNT/h/0/log")"
agree "$MNT/h/0"

# ---- 5. parts 1 and 2 with -o writeback -------------------------------------

tl_say "-o writeback: 16 writers x $N lines on one partition and on 16, $H handles"
mt_stop
mt_start -o allow_other,writeback
mkdir "$MNT/wb1" "$MNT/wb16"
for p in $(seq 1 15); do mkdir "$MNT/wb16/$p"; done
WPIDS=()
for w in $(seq 0 15); do
	"$MTIO" lines -b $((1 + w % 4 * 3)) "$MNT/wb1/0/log" "w$w" "$N" &
	WPIDS+=($!)
	"$MTIO" lines -b $((1 + w % 3 * 5)) "$MNT/wb16/$w/log" "d$w" "$N" &
	WPIDS+=($!)
done
reap_writers 900
cp "$MNT/wb1/0/log" "$T/one"
counts=$(mt_check_lines "$T/one")
[ "$counts" = "$exp1" ] || mt_fail "writeback, one partition: $(echo "$counts" | tr '\n' ' ')"
agree "$MNT/wb1/0"
: >"$T/counts"
for p in $(seq 0 15); do
	cp "$MNT/wb16/$p/log" "$T/many"
	mt_check_lines "$T/many" >>"$T/counts"
	agree "$MNT/wb16/$p" >/dev/null
done
counts=$(sort "$T/counts")
[ "$counts" = "$(for w in $(seq 0 15); do echo "d$w $N"; done | sort)" ] ||
	mt_fail "writeback, 16 partitions: $(echo "$counts" | tr '\n' ' ')"
rm -f "$T/one" "$T/many"
mkdir "$MNT/wbh"
out=$("$RELCK" handles "$MNT/wbh/0/log" "$H" h) || mt_fail "writeback: relck handles: $out"
[ "$(mt_check_lines "$MNT/wbh/0/log")" = "h $H" ] || mt_fail "writeback handles: $(mt_check_lines "$MNT/wbh/0/log")"
agree "$MNT/wbh/0"
echo "ok: -o writeback, 32 writers x $N lines and $H handles, each line exactly once"
mt_delete wb1 wb16 wbh
mt_stop
mt_start -o allow_other

# ---- 3. hostile operations -------------------------------------------------

tl_say "hostile operations on t/0/log"
mkdir "$MNT/t"
L=$MNT/t/0/log
printf 'one\ntwo\nthree\n' >>"$L"
cp "$L" "$T/expect"
{ echo "| operation | result |"; echo "|---|---|"; } >"$TABLE"
op EPERM "pwrite at offset 0 of a 14-byte log" pwrite "$L" 0 $'x\n'
op EPERM "pwrite at offset 5 (inside the log)" pwrite "$L" 5 $'x\n'
op EPERM "pwrite at offset 1000 (past the end)" pwrite "$L" 1000 $'x\n'
op EPERM "write() after clearing O_APPEND with fcntl (offset 0)" write-noappend "$L" $'x\n'
op 'EPERM|EACCES|EINVAL' "open O_WRONLY|O_TRUNC" open-trunc "$L"
op EPERM "truncate to 0" truncate "$L" 0
op EPERM "truncate to 20 (longer)" truncate "$L" 20
op ok "truncate to the current size (14)" truncate "$L" 14
mt_same "$L" "$T/expect"
op ok "pwrite at exactly the end (14)" pwrite "$L" 14 $'four\n'
echo four >>"$T/expect"
head -c $((4 * 1024 * 1024)) /dev/zero | tr '\0' 'q' >"$T/big"
echo >>"$T/big"
# One write() of 4 MiB arrives as 1 MiB requests: the first is taken as
# the start of a line, the second is refused, and the kernel reports a
# short write; a writer that retries the rest (as cat does) must get the
# error too and no fragment of the line may become a message.
got=$("$RELCK" op append-file "$L" "$T/big" 2>&1) || true
printf '| %s | %s |\n' "one write() of a 4 MiB line (max_message 1M), short writes retried" "$got" >>"$TABLE"
n_ops=$((n_ops + 1))
echo "4 MiB line in one write(): $got"
if ! printf '%s\n' "$got" | grep -q '^EMSGSIZE' || ! cmp -s "$L" "$T/expect"; then
	rel_bug "a 4 MiB line written with write() retrying short writes: got '$got'; the log grew by $(($(stat -c %s "$L") - $(stat -c %s "$T/expect"))) bytes, last line now $(tail -n 1 "$L" | wc -c) bytes: $(tail -n 1 "$L" | head -c 40)"
	cp "$L" "$T/expect"
fi
st=0
dd if="$T/big" of="$L" bs=131072 oflag=append conv=notrunc status=none 2>"$T/dd.err" || st=$?
if [ "$st" = 0 ]; then r=ok; elif grep -q 'Message too long' "$T/dd.err"; then r=EMSGSIZE; else r=$(head -n 1 "$T/dd.err"); fi
printf '| %s | %s |\n' "a 4 MiB line in 32 writes of 128 KiB (dd oflag=append)" "$r" >>"$TABLE"
n_ops=$((n_ops + 1))
[ "$st" != 0 ] || mt_fail "a 4 MiB line in pieces was accepted with max_message 1M"
echo "4 MiB line in 128 KiB pieces: $(cat "$T/dd.err")"
mt_same "$L" "$T/expect"
# binary data: every byte value but '\n', NULs included, several lines
printf 'bin\0ary\0\0line\001\002\377\376\n\0\n' >"$T/bin"
awk 'BEGIN { for (i = 0; i < 256; i++) if (i != 10) printf "%c", i; printf "\n" }' >>"$T/bin"
op ok "append of binary lines with NUL bytes (every byte value but \\n)" append-file "$L" "$T/bin"
cat "$T/bin" >>"$T/expect"
mt_same "$L" "$T/expect"
op 'EPERM|ENOTSUP|EOPNOTSUPP' "unlink log" unlink "$L"
op 'EPERM|ENOTSUP|EOPNOTSUPP|EXDEV' "rename log to log2" rename "$L" "$MNT/t/0/log2"
op 'EPERM|ENOTSUP|EOPNOTSUPP' "link log to hard" link "$L" "$MNT/t/0/hard"
op 'EPERM|ENOTSUP|EOPNOTSUPP' "symlink in a partition" symlink log "$MNT/t/0/soft"
op 'EPERM|ENOTSUP|EOPNOTSUPP' "mknod (fifo) in a partition" mknod "$MNT/t/0/fifo"
# issue 12: an exclusive create of rsync's temporary name of the log is a
# restore name, a handle onto the log that cannot change it; any other
# new name in a partition is refused
op EPERM "exclusive create of another name in a partition" creat "$MNT/t/0/new"
op ok "exclusive create in a partition (a restore name)" creat "$MNT/t/0/.log.Ab12Cd"
op EPERM "write other bytes at 0 through the restore name" pwrite "$MNT/t/0/.log.Ab12Cd" 0 garbage
op EPERM "rename the restore name over log (it covers none of it)" rename "$MNT/t/0/.log.Ab12Cd" "$L"
op ok "rm the restore name" unlink "$MNT/t/0/.log.Ab12Cd"
op 'EPERM|ENOTSUP|EOPNOTSUPP|EACCES|ENOSYS|EINVAL' "create a file at the root" creat "$MNT/new"
op 'EPERM|EACCES|EROFS|EBADF' "open anchor for writing" open-w "$MNT/t/0/anchor"
op 'EPERM|EACCES|EROFS|EBADF' "open index for writing" open-w "$MNT/t/0/index"
op 'EPERM|EACCES|EROFS|EBADF' "open stats read-write" open-rw "$MNT/t/0/stats"
op 'EPERM|ENOTSUP|EOPNOTSUPP|ENOSYS' "setxattr user.x on log" setxattr "$L" user.x 1
op 'ENOTEMPTY|EPERM|EBUSY|EACCES|EINVAL' "rmdir a partition (t/0)" rmdir "$MNT/t/0"
op 'ENOTEMPTY|EPERM|ENOTSUP|EACCES|EINVAL' "rmdir t/0/keys" rmdir "$MNT/t/0/keys"
mt_same "$L" "$T/expect"

tl_say "names: 256+ bytes, . and .., control characters, non-UTF-8"
long=$(printf 'a%.0s' $(seq 256))
op ENAMETOOLONG "mkdir topic of 256 bytes" mkdir "$MNT/$long"
op ENAMETOOLONG "mkdir topic of 4000 bytes" mkdir "$MNT/$(printf 'b%.0s' $(seq 4000))"
op ENAMETOOLONG "stat a 256-byte name in a partition" stat "$MNT/t/0/$long"
op ENAMETOOLONG "echo v > keys/<256 bytes>" open-w "$MNT/t/0/keys/$long"
op ENAMETOOLONG "stat at/<256 digits>" stat "$MNT/t/0/at/$(printf '1%.0s' $(seq 256))"
op 'EINVAL|ENAMETOOLONG' "mkdir topic of 250 bytes (limit 249)" mkdir "$MNT/$(printf 'c%.0s' $(seq 250))"
op EEXIST "mkdir ." mkdir "$MNT/."
op EEXIST "mkdir .." mkdir "$MNT/.."
op EEXIST "mkdir t/0/.." mkdir "$MNT/t/0/.."
op EINVAL "rmdir t/." rmdir "$MNT/t/."
op 'ENOTEMPTY|EBUSY' "rmdir t/0/.. (the topic, by a .. path)" rmdir "$MNT/t/0/.."
op 'EISDIR|EINVAL|ENOENT' "echo v > keys/." open-w "$MNT/t/0/keys/."
op 'EINVAL|ENOENT|EISDIR' "echo v > keys/.." open-w "$MNT/t/0/keys/.."
op EINVAL "mkdir topic .hidden" mkdir "$MNT/.hidden"
op EINVAL "mkdir topic with \\x01" mkdir "$MNT/a"$'\x01'"b"
op EINVAL "mkdir topic with \\n" mkdir "$MNT/a"$'\n'"b"
op EINVAL "mkdir topic with TAB" mkdir "$MNT/a"$'\t'"b"
op EINVAL "mkdir topic with \\x7f" mkdir "$MNT/a"$'\x7f'"b"
op EINVAL "mkdir topic with bytes \\xff\\xfe (not UTF-8)" mkdir "$MNT/"$'\xff\xfe'
op EINVAL "mkdir topic caf\\xe9 (Latin-1, not UTF-8)" mkdir "$MNT/caf"$'\xe9'
op EINVAL "mkdir topic with valid UTF-8 (é)" mkdir "$MNT/caf"$'\xc3\xa9'
op 'EINVAL|ENOENT|EPERM' "mkdir partition t/abc" mkdir "$MNT/t/abc"
op 'EINVAL|ENOENT|EPERM' "mkdir partition t/01 (leading zero)" mkdir "$MNT/t/01"
op 'EINVAL|ENOENT|EPERM' "mkdir partition t/5000 (too far past the next number)" mkdir "$MNT/t/5000"
op 'EINVAL|ENOENT|EPERM' "mkdir partition t/-1" mkdir "$MNT/t/-1"
op 'EINVAL|ENOENT' "stat at/abc" stat "$MNT/t/0/at/abc"
op 'EINVAL|ENOENT' "stat since/yesterday" stat "$MNT/t/0/since/yesterday"
op 'EINVAL|ENOENT' "echo v > keys/a<TAB>b" open-w "$MNT/t/0/keys/a"$'\t'"b"
# keys are bytes: control characters and non-UTF-8 are accepted as keys
for k in $'k\x01' $'\xff\xfe' $'caf\xe9'; do
	printf 'v\n' >"$MNT/t/0/keys/$k" || mt_fail "keys/<$(printf %q "$k")> write"
	[ "$(cat "$MNT/t/0/keys/$k")" = v ] || mt_fail "keys/<$(printf %q "$k")> read back"
	printf '%s\tv\n' "$k" >>"$T/expect"
	printf '| %s | ok (read back) |\n' "echo v > keys/$(printf %q "$k")" >>"$TABLE"
	n_ops=$((n_ops + 1))
done
mt_same "$L" "$T/expect"
kill -0 "$MT_PID" || mt_fail "daemon died"
[ "$(ls -A "$MNT" | tr '\n' ' ')" = "h many one t " ] || mt_fail "unexpected names at the root: $(ls -A "$MNT" | od -c | head)"
agree "$MNT/t/0"

# ---- 4. permissions --------------------------------------------------------

tl_say "a user without permission on a topic or partition (allow_other)"
mkdir "$MNT/priv" "$MNT/half" "$MNT/half/1"
echo secret >>"$MNT/priv/0/log"
echo 'k	secret' >>"$MNT/priv/0/log"
echo secret >>"$MNT/half/0/log"
chmod 700 "$MNT/priv" "$MNT/half/0"
chmod 755 "$MNT/half" "$MNT/half/1"
cp "$MNT/priv/0/log" "$T/priv"
cp "$MNT/half/0/log" "$T/half"
op_as EACCES "as $TL_USER: read priv/0/log (topic mode 700)" read "$MNT/priv/0/log"
op_as EACCES "as $TL_USER: append to priv/0/log" open-w "$MNT/priv/0/log"
op_as EACCES "as $TL_USER: append to priv/log (topic-level)" open-w "$MNT/priv/log"
op_as EACCES "as $TL_USER: read priv/log (topic-level)" read "$MNT/priv/log"
op_as EACCES "as $TL_USER: read priv/0/at/0" read "$MNT/priv/0/at/0"
op_as EACCES "as $TL_USER: read priv/0/keys/k" read "$MNT/priv/0/keys/k"
op_as EACCES "as $TL_USER: write priv/0/keys/k" open-w "$MNT/priv/0/keys/k"
op_as EACCES "as $TL_USER: stat priv/0" stat "$MNT/priv/0"
op_as 'EACCES|EPERM' "as $TL_USER: rmdir priv" rmdir "$MNT/priv"
op_as EPERM "as $TL_USER: chmod 777 priv" chmod "$MNT/priv" 777
op_as EACCES "as $TL_USER: read half/0/log (partition mode 700)" read "$MNT/half/0/log"
op_as EACCES "as $TL_USER: append to half/0/log" open-w "$MNT/half/0/log"
op_as 'EACCES' "as $TL_USER: append to half/1/log (mode of log: $(stat -c %A "$MNT/half/1/log"))" open-w "$MNT/half/1/log"
op_as ok "as $TL_USER: read half/1/log" read "$MNT/half/1/log"
mt_same "$MNT/priv/0/log" "$T/priv"
mt_same "$MNT/half/0/log" "$T/half"

# ---- 5. after a remount ----------------------------------------------------

tl_say "remount: logs unchanged, a 4 MiB line works with max_message=5M"
cp "$L" "$T/expect"
mt_stop
mt_start -o allow_other,max_message=5M
mt_same "$L" "$T/expect"
op ok "one write() of a 4 MiB line with -o max_message=5M" append-file "$L" "$T/big"
cat "$T/big" >>"$T/expect"
mt_same "$L" "$T/expect"
agree "$MNT/t/0"
mt_stop
# Reopened with the default max_message (1M), the synced 4 MiB message
# (and everything after it) must still be there.
mt_start
if ! cmp -s "$L" "$T/expect"; then
	rel_bug "remount with the default max_message after a synced 4 MiB message: log $(stat -c %s "$L") bytes, expected $(stat -c %s "$T/expect"); stats: $(grep -E 'recovered_(bytes|msgs)_dropped' "$MNT/t/0/stats" | tr '\n' ' '); daemon: $(grep -v serving "$MT_ERR" | head -n 2 | tr '\n' ' ')"
fi

secs=$(($(date +%s) - start))
echo "FIGURE hostile writers=16 lines_per_writer=$N lines_one_partition=$((16 * N)) lines_16_partitions=$((16 * N)) lost_or_duplicated=0 handles=$H operations_tried=$n_ops failed_checks=$n_bugs seconds=$secs"
echo "TABLE-BEGIN"
cat "$TABLE"
echo "TABLE-END"
