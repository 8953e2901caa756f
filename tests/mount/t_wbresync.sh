#!/bin/bash
# -o writeback: after a write-back the daemon refused (a line over
# max_message), the last writer's close gives the log's name a new inode
# and tells the kernel to drop its entry for the name (fs/wb.c, through
# the inode of the partition directory the log was made in).  So at once
# after that close the name leads to the new inode (never to the old,
# removed one: ENOENT), which reads the log as stored, without the
# refused bytes, and takes appends.  Three rounds, on two partitions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init

mt_start -o writeback,max_message=100,partitions=2
mkdir "$MNT/t"
long=$(printf 'x%.0s' $(seq 300))
rounds=0
for p in 0 1 0; do
	L=$MNT/t/$p/log
	echo "before $rounds" >>"$L"
	old=$(stat -c %i "$L")
	tl_say "partition $p: a line over max_message, refused at fsync"
	mt_expect_err 'EMSGSIZE' "$MTIO" write -a -s "$L" "$long"
	new=$(stat -c %i "$L") || mt_fail "the log's name is gone after the refusal"
	[ "$new" != "$old" ] || mt_fail "the log kept inode $old after a refused write-back"
	echo "after $rounds" >>"$L" || mt_fail "no append after the refusal"
	grep -q x "$L" && mt_fail "refused bytes in the log"
	[ "$(tail -n 2 "$L")" = "before $rounds
after $rounds" ] || mt_fail "log of partition $p: $(tail -n 2 "$L")"
	rounds=$((rounds + 1))
done
[ "$rounds" = 3 ] || mt_fail "only $rounds rounds ran"
grep -q 'writeback of .* refused' "$MT_ERR" || mt_fail "no log line for the refusal"
mt_stop
echo "ok: 3 refused write-backs, each log's name at its new inode at once"
