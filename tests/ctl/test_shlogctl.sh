#!/bin/bash
# test_shlogctl.sh — every shlogctl command on real data dirs, healthy
# and damaged (a flipped byte, a cut tail, a bad index entry, a bad
# anchor, a bad key snapshot), a compaction interrupted at each step, the
# lock held by another process, and `sync` against a real shlogfs (never
# through names or pids someone else planted).
#
# Environment: SHLOGCTL (the tool), SHLOGFS (the daemon, for sync; that
# part is skipped without /dev/fuse).  Every step is bounded by timeout.
set -u
. "$(dirname "$0")/../lib/common.sh"

C=${SHLOGCTL:?set SHLOGCTL to the shlogctl executable}
T=$(tl_tmpdir ctl)
FAILS=0
MNT_PID=

# Unmount and remove the temp dir at exit.
cleanup()
{
	if [ -n "$MNT_PID" ]; then
		fusermount3 -u "$T/mnt" 2>/dev/null || umount "$T/mnt" 2>/dev/null
		tl_reap 100 "$MNT_PID"
	fi
	tl_unmount_below "$T"
	rm -rf "$T"
}
trap cleanup EXIT

# Count a failed check and go on.
fail() { tl_err "$@"; FAILS=$((FAILS + 1)); }

# Run shlogctl (bounded); stdout in $T/out, stderr in $T/err, status in RC.
ctl()
{
	timeout 60 "$C" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# Expect exit status $1 from the last ctl call.
want_rc()
{
	[ "$RC" -eq "$1" ] || fail "$2: exit status $RC, wanted $1 (stderr: $(head -c 400 "$T/err"))"
}

# Expect the last ctl call's stdout (or $3 = err) to match regex $1.
want_out()
{
	grep -Eq -- "$1" "$T/${3:-out}" || fail "$2: output lacks /$1/: $(head -c 400 "$T/${3:-out}")"
}

# N lines of test input: keyed values, tombstones, keyless lines.
gen()
{
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) { r = i % 10;
		if (r < 6) printf "user%d\tvalue %d\n", i % 37, i;
		else if (r < 8) printf "plain line %d\n", i;
		else if (r == 8) printf "user%d\t\n", i % 37;
		else { s = ""; m = 1 + (i * 7919) % 300; for (j = 0; j < m; j++) s = s "x"; print s } } }'
}

# What compaction keeps of a text log: latest per key unless a tombstone, every keyless line.
compacted()
{
	awk '{ line[NR] = $0; t = index($0, "\t"); if (t > 1 && t <= 256) { k = substr($0, 1, t - 1); last[k] = NR } }
	     END { for (i = 1; i <= NR; i++) { l = line[i]; t = index(l, "\t");
		   if (t > 1 && t <= 256) { k = substr(l, 1, t - 1); if (last[k] == i && t < length(l)) print l }
		   else print l } }' "$1"
}

# Overwrite one byte of file $1 at offset $2 with something else.
flip()
{
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

cd "$T" || exit 1
gen 5000 >in.txt

# ---- usage ---------------------------------------------------------------
tl_say "usage"
ctl -h; want_rc 0 "-h"; want_out "COMMAND DATADIR" "-h"
ctl -V; want_rc 0 "-V"; want_out "^shlogctl [0-9]" "-V"
ctl; want_rc 2 "no command"
ctl frobnicate d; want_rc 2 "unknown command"
ctl dump d; want_rc 2 "dump without TOPIC"
ctl dump d t x; want_rc 2 "bad partition"
ctl verify "$T/none"; want_rc 2 "missing data dir"

# ---- import, info, export ----------------------------------------------
tl_say "import / info / export"
ctl import d orders 0 in.txt --segment-bytes 64K; want_rc 0 "import"; want_out "imported 5000 messages" "import"
gen 3000 | timeout 60 "$C" import d orders 2 - >/dev/null 2>&1 || fail "import from stdin"
ctl info d; want_rc 0 "info"
want_out "topic orders: 3 partitions" "info"
want_out "messages +0\.\.4999 \(5000\)" "info"
want_out "segments +[1-9]" "info segments"
ctl info d --json; want_rc 0 "info --json"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["topics"][0]["partitions"];
assert d["partition_count"]==3 and p[0]["messages"]==5000 and p[2]["messages"]==3000 and p[1]["messages"]==0, d' \
		"$T/out" || fail "info --json content"
fi
ctl export d orders 0 out.txt; want_rc 0 "export"
cmp -s in.txt out.txt || fail "export differs from what was imported"
[ -s "$T/err" ] && fail "export printed to stderr off a terminal: $(head -c 200 "$T/err")"
ctl export d orders 0; cmp -s in.txt "$T/out" || fail "export to stdout differs"

# ---- dump ----------------------------------------------------------------
tl_say "dump"
ctl dump d orders 0 --from-seq 10 --to-seq 14; want_rc 0 "dump range"
[ "$(wc -l <"$T/out")" -eq 5 ] || fail "dump --from-seq 10 --to-seq 14: $(wc -l <"$T/out") lines"
want_out "^10	$(head -n 10 in.txt | wc -c)	20[0-9-]+T[0-9:.]+Z	user10	value 10$" "dump line format"
ctl dump d orders 0 --key user3; n=$(wc -l <"$T/out")
m=$(grep -c "^user3	" in.txt)
[ "$n" -eq "$m" ] || fail "dump --key user3: $n messages, input has $m"
ctl dump d orders 0 --json --to-seq 99; want_rc 0 "dump --json"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows)==100 and rows[8]["tombstone"] and rows[0]["key"]=="user0" and rows[6]["message"]=="plain line 6", rows[:9]' \
		"$T/out" || fail "dump --json content"
fi
ctl dump d orders 0 --since -1h; [ "$(wc -l <"$T/out")" -eq 5000 ] || fail "dump --since -1h"
ctl dump d orders 0 --until -1h; [ "$(wc -l <"$T/out")" -eq 0 ] || fail "dump --until -1h"
ctl dump d orders 0 --since 2000-01-01 --until 2200-01-01T00:00:00Z; [ "$(wc -l <"$T/out")" -eq 5000 ] ||
	fail "dump with dates"
ctl dump d orders 0 --since 1000000000.5 --to-seq 2; [ "$(wc -l <"$T/out")" -eq 3 ] || fail "dump with Unix seconds"
ctl dump d orders 0 --until 2999-01-01; want_rc 2 "a time past 2262"
ctl dump d orders 0 --since yesterday; want_rc 2 "bad time"
ctl dump d orders 9; want_rc 1 "dump of a missing partition"

# ---- verify and repair: damaged copies ---------------------------------
tl_say "verify clean"
ctl verify d; want_rc 0 "verify clean"; want_out "3 partitions checked: 0 damaged" "verify clean"

tl_say "what an open sets aside: a gap in the partitions, a damaged meta file, a FIFO as a topic"
cp -a d xl
mv xl/orders/1 xl/orders/5
ctl verify xl; want_rc 1 "verify a gap"
want_out "^DAMAGE orders: .*\(an open sets the topic aside\)" "gap reported"
rm -rf xl && cp -a d xl
printf 'junk' >>xl/orders/meta
ctl verify xl orders; want_rc 1 "verify a bad meta file"
want_out "^DAMAGE orders: .*aside" "bad meta reported"
rm -rf xl && cp -a d xl
mkfifo xl/pipe
rc=0; timeout 20 "$C" verify xl >"$T/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "verify with a FIFO as a topic: exit $rc (124: it hung)"
want_out "^DAMAGE pipe: .*aside" "FIFO reported"
rm -rf xl

tl_say "a flipped byte in the middle of a log"
cp -a d x1
seg=$(ls -S x1/orders/0/*.log | head -n 1)        # the biggest segment (block sizes vary)
name=${seg##*/}
flip "$seg" $(($(stat -c %s "$seg") / 2))
ctl verify x1; want_rc 1 "verify flipped byte"
want_out "^DAMAGE orders/0/$name byte [0-9]+: .*fail their checksum" "verify names file and byte"
want_out "orders/0: DAMAGED" "verify summary"
want_out "orders/2: ok" "verify other partitions"
valid=$(sed -n 's/^orders\/0: DAMAGED.*valid up to message \([0-9]*\).*/\1/p' "$T/out")
ctl verify x1 orders 2; want_rc 0 "verify a healthy partition of a damaged store"
ctl repair x1 orders 0; want_rc 0 "repair"
want_out "dropped [0-9]+ bytes \($((5000 - valid)) messages\)" "repair report"
[ -f x1/.repair-*/orders/0/"$name" ] || fail "repair made no backup of the cut segment"
cmp -s x1/.repair-*/orders/0/"$name" "$seg" && fail "backup equals the cut file"
ctl verify x1; want_rc 0 "verify after repair"
ctl export x1 orders 0 x1.txt; head -n "$valid" in.txt | cmp -s - x1.txt || fail "repaired log is not the first $valid lines"
ctl repair x1; want_rc 0 "repair of a clean store"; want_out "0 repaired" "repair of a clean store"

tl_say "repair never writes through names planted in the data dir"
cp -a d x6
flip x6/orders/0/$name $(($(stat -c %s x6/orders/0/$name) / 2))
mkdir rv
now=$(date -u +%s)
for i in $(seq 0 20); do
	ln -s "$T/rv" "x6/.repair-$(date -u -d "@$((now + i))" +%Y%m%dT%H%M%SZ)"
done
ctl repair x6 orders 0; want_rc 0 "repair beside planted backup names"
[ -z "$(ls -A rv)" ] || fail "repair wrote into a planted symlink's target: $(ls -A rv)"
b=$(sed -n 's/.*; backup in \(.*\)$/\1/p' "$T/out")
[ -n "$b" ] && [ -d "$b" ] && [ ! -L "$b" ] || fail "no backup directory of its own: '$b'"
[ "$(stat -c %a "$b")" = 700 ] || fail "backup dir mode $(stat -c %a "$b")"
[ -f "$b/orders/0/$name" ] || fail "backup lacks the cut segment"
[ "$(find "$b" -type f ! -perm 600 | wc -l)" -eq 0 ] || fail "backup files not 0600"

tl_say "a cut tail"
cp -a d x2
truncate -s -100 x2/orders/2/00000000000000000000.log
ctl verify x2 orders 2; want_rc 1 "verify cut tail"; want_out "runs past the end of the file" "cut tail"
ctl repair x2; want_rc 0 "repair cut tail"; want_out "orders/2: repaired" "repair cut tail"
ctl verify x2; want_rc 0 "verify after repairing a cut tail"

tl_say "a damaged index entry"
cp -a d x3
idx=$(ls -S x3/orders/0/*.idx | head -n 1)
last=$(($(stat -c %s "$idx") - 40))
flip "$idx" $((last + 5))
ctl verify x3; want_rc 1 "verify idx"; want_out "^DAMAGE orders/0/${idx##*/} byte $last:" "idx byte"
ctl repair x3 orders; want_rc 0 "repair idx"
ctl verify x3; want_rc 0 "verify after repairing idx"

tl_say "an unreadable oldest segment"
head -n 2500 in.txt | timeout 60 "$C" import o t 0 - --segment-bytes 1K >/dev/null 2>&1 || fail "import o 1"
tail -n 2500 in.txt | timeout 60 "$C" import o t 0 - --segment-bytes 1K >/dev/null 2>&1 || fail "import o 2"
first=$(ls o/t/0/*.idx | head -n 1)
second=$(ls o/t/0/*.log | sed -n 2p)
second=${second##*/}; second=$((10#${second%.log}))
flip "$first" 3
ctl verify o; want_rc 1 "verify oldest idx"; want_out "^DAMAGE t/0/${first##*/} byte 0:" "oldest idx named"
ctl repair o; want_rc 0 "repair oldest segment"; want_out "\($second messages\)" "messages of a dropped segment counted"
ctl verify o; want_rc 0 "verify after dropping the oldest segment"
ctl export o t 0 o.txt; tail -n +$((second + 1)) in.txt | cmp -s - o.txt || fail "log after dropping the oldest segment"

tl_say "a destroyed anchor"
cp -a d x4
dd if=/dev/zero of=x4/orders/0/anchor bs=1024 count=1 conv=notrunc status=none
ctl verify x4; want_rc 1 "verify anchor"; want_out "orders/0/anchor byte 0" "anchor named"
ctl info x4; want_rc 1 "info refuses a store the engine refuses"
ctl repair x4; want_rc 0 "repair anchor"; want_out "dropped 0 bytes \(0 messages\)" "anchor repair drops nothing"
ctl verify x4; want_rc 0 "verify after repairing the anchor"
ctl export x4 orders 0 x4.txt; cmp -s in.txt x4.txt || fail "anchor repair lost messages"

tl_say "a damaged key snapshot is a warning"
cp -a d x5
head -c 100 /dev/urandom >x5/orders/0/keys
ctl verify x5; want_rc 0 "verify with a bad key snapshot"; want_out "^warning orders/0/keys byte 0" "keys warning"

# ---- compact ---------------------------------------------------------------
tl_say "compact"
cp -a d c
ctl compact c orders 0 --segment-bytes 8K; want_rc 0 "compact"
want_out "end unchanged at 5000" "compact report"
compacted in.txt >expect.txt
ctl export c orders 0 got.txt
cmp -s expect.txt got.txt || fail "compacted log differs from latest-per-key + keyless"
ctl verify c; want_rc 0 "verify after compact"
ctl info c --json
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["topics"][0]["partitions"][0]
assert p["committed_seq"]==5000 and p["messages"]==int(sys.argv[2]), p' "$T/out" "$(wc -l <expect.txt)" ||
		fail "compacted partition info"
fi
ctl dump c orders 0 --key user5 --json
[ "$(wc -l <"$T/out")" -le 1 ] || fail "more than one message per key after compaction"
printf 'after\n' | timeout 60 "$C" import c orders 0 - >/dev/null 2>&1 || fail "import after compact"
ctl dump c orders 0 --from-seq 5000; want_out "^5000	[0-9]+	[^	]+	after$" "appends continue at the old end"

tl_say "compaction that leaves nothing (every key tombstoned)"
printf 'a\t1\nb\t2\na\t\nb\t\n' | timeout 60 "$C" import e t 0 - >/dev/null 2>&1 || fail "import e"
ctl compact e t 0; want_rc 0 "compact to nothing"; want_out "no messages left, end unchanged at 4" "compact to nothing"
ctl verify e; want_rc 0 "verify an emptied partition"
printf 'c\t3\n' | timeout 60 "$C" import e t 0 - >/dev/null 2>&1 || fail "import after emptying"
ctl dump e t 0; want_out "^4	14	[^	]+	c	3$" "append after emptying keeps numbering"

tl_say "compaction interrupted between the renames (open finishes it)"
cp -a d h1
cp -a h1/orders/0 h1/orders/.compact-0.new
mv h1/orders/0 h1/orders/.compact-0.old
printf 'z\n' | timeout 60 "$C" import h1 orders 1 - >/dev/null 2>"$T/err" || fail "open after an interrupted swap"
[ -d h1/orders/0 ] && [ ! -e h1/orders/.compact-0.new ] && [ ! -e h1/orders/.compact-0.old ] ||
	fail "interrupted swap not finished: $(ls -a h1/orders)"
ctl verify h1; want_rc 0 "verify after finishing a swap"

tl_say "compaction interrupted before the swap (open rolls back)"
cp -a d h2
mkdir h2/orders/.compact-0.new
echo junk >h2/orders/.compact-0.new/00000000000000000000.log
printf 'z\n' | timeout 60 "$C" import h2 orders 1 - >/dev/null 2>&1 || fail "open after an unfinished build"
[ ! -e h2/orders/.compact-0.new ] || fail "unfinished compaction copy left behind"
ctl export h2 orders 0 h2.txt; cmp -s in.txt h2.txt || fail "roll back changed the partition"

tl_say "compaction interrupted after the swap (open removes the old copy)"
cp -a d h3
cp -a h3/orders/0 h3/orders/.compact-0.old
printf 'z\n' | timeout 60 "$C" import h3 orders 1 - >/dev/null 2>&1 || fail "open after a finished swap"
[ ! -e h3/orders/.compact-0.old ] || fail "old copy left behind"

# ---- the lock ---------------------------------------------------------------
tl_say "write commands refuse while the lock is held; read-only ones work"
cp -a d l
exec 9>l/.lock
flock -x 9
ctl repair l; want_rc 1 "repair with the lock held"; want_out "in use" "repair busy message" err
ctl compact l orders 0; want_rc 1 "compact with the lock held"; want_out "in use" "compact busy message" err
ctl import l orders 0 in.txt; want_rc 1 "import with the lock held"; want_out "in use" "import busy" err
ctl info l; want_rc 0 "info with the lock held"
ctl verify l; want_rc 0 "verify with the lock held"
ctl dump l orders 0 --to-seq 0; want_rc 0 "dump with the lock held"
ctl sync l; want_rc 1 "sync, lock held, no control socket"; want_out "no running shlogfs" "sync without a socket" err
exec 9>&-
ctl sync l; want_rc 1 "sync without a daemon"; want_out "no running shlogfs" "sync without a daemon" err

# ---- sync never talks to a socket someone else planted -----------------------
tl_say "sync refuses a control socket that is not the daemon's"
if command -v python3 >/dev/null; then
	: >fake.flag
	python3 -c 'import socket, os, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chown(sys.argv[1], 65534, 65534); s.listen(1)
open(sys.argv[2], "w").write("listening")
s.settimeout(20)
try:
    c, _ = s.accept(); c.recv(64); open(sys.argv[2], "w").write("asked"); c.send(b"0\n")
except Exception: pass' l/.ctl "$T/fake.flag" >/dev/null 2>&1 &
	FAKE=$!
	tl_wait_until 50 grep -q listening fake.flag
	exec 9>l/.lock
	flock -x 9
	ctl sync l; want_rc 1 "sync to a socket of another user"; want_out "not the control socket" "planted socket" err
	exec 9>&-
	grep -q asked fake.flag && fail "sync talked to a socket owned by another user"
	kill "$FAKE" 2>/dev/null; tl_reap 50 "$FAKE"
	rm -f l/.ctl
fi

# ---- sync against a real daemon ---------------------------------------------
# Start shlogfs on data dir $1 (mount point $T/mnt); 0 once mounted (it must have made its control socket).
mount_fs()
{
	mkdir -p mnt
	"$SHLOGFS" -f "$T/$1" "$T/mnt" 2>"$T/fs.err" 8>&- &
	MNT_PID=$!
	if ! tl_wait_mount 50 "$MNT_PID" mnt; then
		fail "shlogfs did not mount $1: $(cat "$T/fs.err")"
		return 1
	fi
	[ -S "$1/.ctl" ] || fail "shlogfs made no control socket $1/.ctl: $(cat "$T/fs.err")"
	return 0
}

# Unmount; the daemon must exit 0 and leave no control socket.
umount_fs()
{
	fusermount3 -u mnt
	tl_reap 300 "$MNT_PID"
	[ "$TL_STATUS" = 0 ] || fail "shlogfs exit status $TL_STATUS"
	MNT_PID=
	[ ! -e "$1/.ctl" ] || fail "shlogfs left its control socket"
}

tl_say "sync with a running shlogfs"
if [ -c /dev/fuse ] && [ -n "${SHLOGFS:-}" ] && [ -x "${SHLOGFS:-}" ] && command -v fusermount3 >/dev/null; then
	cp -a d s
	# what a user who could write the data dir planted before the mount: a
	# locked .pid naming a process of someone else's, and symlinks where the
	# old protocol wrote its answer
	sleep 300 >/dev/null 2>&1 &
	VICTIM=$!
	echo "$VICTIM" >s/.pid
	exec 8<>s/.pid
	flock -n 8 || fail "cannot lock the fake .pid"
	echo precious >victim1
	echo precious >victim2
	ln -s "$T/victim1" s/.synced.tmp
	ln -s "$T/victim2" s/.synced
	sleep 0.2
	if mount_fs s; then
		printf 'live 1\nlive 2\n' >>mnt/orders/0/log || fail "append through the mount"
		ctl sync s --timeout 5; want_rc 0 "sync"; want_out "synced \(shlogfs pid $MNT_PID\)" "sync answer"
		kill -0 "$VICTIM" 2>/dev/null || fail "sync signalled the pid someone wrote into .pid"
		ctl dump s orders 0 --from-seq 5000; want_rc 0 "dump while mounted"
		want_out "^5001	.*	live 2$" "dump sees synced appends while mounted"
		ctl verify s; want_rc 0 "verify while mounted"
		ctl compact s orders 0; want_rc 1 "compact while mounted"
		umount_fs s
	fi
	[ "$(cat victim1 victim2)" = "$(printf 'precious\nprecious')" ] || fail "the daemon wrote through a planted symlink"
	kill -0 "$VICTIM" 2>/dev/null || fail "the would-be victim of a fake .pid died"
	exec 8>&-
	kill "$VICTIM" 2>/dev/null; tl_reap 50 "$VICTIM"

	say "the daemon's own files: planted symlinks are never followed"
	cp -a d s2
	echo precious >victim3
	ln -s "$T/victim3" s2/.pid
	ln -s "$T/victim3" s2/.ctl
	if mount_fs s2; then
		[ -S s2/.ctl ] && [ ! -L s2/.ctl ] || fail "the control socket is not a socket of its own"
		[ "$(stat -c '%a %u' s2/.ctl)" = "600 $(id -u)" ] || fail "control socket mode/owner: $(stat -c '%a %u' s2/.ctl)"
		ctl sync s2; want_rc 0 "sync after replacing a planted .ctl"
		# another user who can reach the socket is refused by the daemon itself
		if [ -x /usr/bin/python3 ] && command -v setpriv >/dev/null; then
			chmod 711 "$T"
			chmod 755 s2
			chmod 666 s2/.ctl
			ans=$(tl_as 65534 timeout 20 /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
try:
    s.sendall(b"sync\n")
except BrokenPipeError:
    pass   # a refused peer is answered at once, before its request is read
print(s.recv(64).decode().strip())' "$T/s2/.ctl" 2>&1)
			chmod 700 "$T"
			[ "$ans" = "-1" ] || fail "the daemon answered another user's sync with '$ans' (wanted -1, EPERM)"
			grep -q "refused a request from pid" fs.err || fail "the refused request is not in the daemon's log"
		fi
		umount_fs s2
	fi
	[ "$(cat victim3)" = precious ] || fail "the daemon wrote through a planted .pid or .ctl symlink"
else
	echo "(skipped: no /dev/fuse or SHLOGFS)"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all shlogctl checks passed"
