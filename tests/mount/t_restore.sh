#!/bin/bash
# Restore with the everyday tools (issue 12 items 3 and 4): a backup
# tree (TOPIC/N/log, two topics, one owned by an unprivileged user with
# mode 0750, keyed and keyless lines, >= 100,000 in all) restored by
# tar -x, cp -a and rsync -a into fresh mounts: exit 0, nothing on
# stderr, every log byte-identical, modes, owners and log times as
# archived; a second rsync -a transfers nothing.  Into topics that hold
# data: tar and cp fail and change nothing, rsync of a longer backup
# appends exactly the tail, rsync of a differing one fails and changes
# nothing.  An old-style archive (keys/K, anchor, index, stats,
# <topic>/log) turns into no message.  The errnos of item 4: a key value
# with a newline at write(), chmod/chown/utimens of every kind, refused
# creates.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
export LC_ALL=C

# ---- the backup tree ---------------------------------------------------

BK=$T/bk
OLD_TIME='2024-03-01 12:00:00.123456789'
# Make log $1 with $2 lines: keyed ("k<i%500><TAB>v<i>") if $3 is "keyed".
mk_log()
{
	awk -v n="$2" -v keyed="$3" -v tag="$1" 'BEGIN {
		for (i = 1; i <= n; i++)
			if (keyed == "keyed") printf "k%d\tv%d %s\n", i % 500, i, tag
			else printf "line %d of %s\n", i, tag }' >"$BK/$1"
}
mkdir -p "$BK/pub/0" "$BK/pub/1" "$BK/pub/2" "$BK/priv/0" "$BK/priv/1"
mk_log pub/0/log 40000 keyless
mk_log pub/1/log 30000 keyed
mk_log pub/2/log 15000 keyless
mk_log priv/0/log 10000 keyed
mk_log priv/1/log 8000 keyless
chmod 0755 "$BK" "$BK/pub" "$BK"/pub/[0-9]
chmod 0644 "$BK"/pub/*/log
chmod 0750 "$BK/priv" "$BK"/priv/[0-9]
chmod 0640 "$BK"/priv/*/log
chown -R "$U:$U" "$BK/priv"
touch -d "$OLD_TIME" "$BK"/*/*/log
LOGS=$(cd "$BK" && find . -name log | sort)
lines=$(cat "$BK"/*/*/log | wc -l)
echo "backup: $(echo "$LOGS" | wc -l) logs, $lines lines"
[ "$lines" -ge 100000 ] || mt_fail "the backup holds only $lines lines"

# Fail unless the mount at $1 holds the backup $2: every log the same
# bytes and mtime, every topic, partition and log the same mode and owner.
check_tree()
{
	local m=$1 b=$2 f
	for f in $LOGS; do
		cmp "$b/$f" "$m/$f" || mt_fail "$f differs after the restore"
		[ "$(stat -c %Y "$m/$f")" = "$(stat -c %Y "$b/$f")" ] ||
			mt_fail "$f: mtime $(stat -c %y "$m/$f"), archived $(stat -c %y "$b/$f")"
	done
	for f in pub priv pub/0 pub/1 pub/2 priv/0 priv/1 $LOGS; do
		[ "$(stat -c '%a %U %G' "$m/$f")" = "$(stat -c '%a %U %G' "$b/$f")" ] ||
			mt_fail "$f is $(stat -c '%a %U %G' "$m/$f"), archived $(stat -c '%a %U %G' "$b/$f")"
	done
	echo "ok: $(echo "$LOGS" | wc -l) logs byte-identical, modes, owners and times as archived"
}

# Fail unless command "$2..." exits 0 and prints nothing (its name: $1).
silent()
{
	local what=$1 st=0
	shift
	"$@" >"$T/out" 2>&1 || st=$?
	[ "$st" = 0 ] || mt_fail "$what exited $st: $(head -n 5 "$T/out")"
	[ ! -s "$T/out" ] || mt_fail "$what printed: $(head -n 5 "$T/out")"
	echo "ok: $what exited 0, printed nothing"
}

# A fresh data dir and mount with options "$@".
fresh()
{
	[ -z "$MT_PID" ] || mt_stop
	DATADIR=$T/data.$((MT_NSTART + 1))
	mkdir "$DATADIR"
	mt_start "$@"
}

# Fail unless every log of the mount at $1 equals the one in $2 (unchanged).
same_logs()
{
	local f
	for f in $LOGS; do
		cmp "$2/$f" "$1/$f" || mt_fail "$f changed"
	done
}

# ---- tar ---------------------------------------------------------------

tl_say "tar -C NEWMNT -xf b.tar into a fresh mount (-o partitions=1)"
tar -C "$BK" -cf "$T/b.tar" pub priv
fresh
silent "tar -x" tar -C "$MNT" -xf "$T/b.tar"
check_tree "$MNT" "$BK"

tl_say "tar -x into topics that hold data: fails, changes nothing"
st=0
tar -C "$MNT" -xf "$T/b.tar" 2>"$T/tar.err" || st=$?
[ "$st" != 0 ] || mt_fail "tar -x over topics with data exited 0"
head -n 2 "$T/tar.err"
same_logs "$MNT" "$BK"
grep -q 'unlink refused (EPERM): the log holds' "$MT_ERR" ||
	mt_fail "no log line for the refused unlink: $(tail -n 3 "$MT_ERR")"

# ---- cp -a -------------------------------------------------------------

tl_say "cp -a BACKUP/. NEWMNT/ into a fresh mount (-o partitions=0)"
fresh -o partitions=0
silent "cp -a" cp -a "$BK/." "$MNT/"
check_tree "$MNT" "$BK"
[ ! -e "$MNT/pub/3" ] || mt_fail "cp -a made a partition the backup lacks"

tl_say "cp -a into topics that hold data: fails, changes nothing"
st=0
cp -a "$BK/." "$MNT/" 2>"$T/cp.err" || st=$?
[ "$st" != 0 ] || mt_fail "cp -a over topics with data exited 0"
head -n 2 "$T/cp.err"
same_logs "$MNT" "$BK"

# ---- rsync -a ----------------------------------------------------------

tl_say "rsync -a BACKUP/ NEWMNT/ into a fresh mount"
fresh
silent "rsync -a" rsync -a "$BK/" "$MNT/"
check_tree "$MNT" "$BK"
rsync -a --stats "$BK/" "$MNT/" >"$T/stats"
grep -E 'Number of regular files transferred|Total transferred file size' "$T/stats"
grep -q 'Number of regular files transferred: 0$' "$T/stats" ||
	mt_fail "a second rsync -a transferred files: $(cat "$T/stats")"
grep -q 'Total transferred file size: 0 bytes' "$T/stats" ||
	mt_fail "a second rsync -a transferred bytes"
# the restore's handles are gone: nothing counts as a writer of the logs,
# so a sendfile copy (page reads, fs/pcache.c) is served, and exact
for f in "$BK"/*/*/log; do
	rel=${f#"$BK"/}
	python3 -c 'import os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
off, size = 0, os.fstat(src).st_size
while off < size:
    n = os.sendfile(dst, src, off, size - off)
    if n == 0:
        break
    off += n' "$MNT/$rel" "$T/sf.copy" || mt_fail "sendfile of the restored $rel failed"
	cmp -s "$T/sf.copy" "$f" || mt_fail "a sendfile copy of the restored $rel differs"
done

tl_say "rsync -a of a longer backup appends exactly the tail"
cp -a "$BK" "$T/bk2"
before=$(stat -c %s "$MNT/pub/1/log")
awk 'BEGIN { for (i = 1; i <= 2500; i++) printf "k%d\ttail %d\n", i % 7, i }' >>"$T/bk2/pub/1/log"
printf 'one more keyless line\n' >>"$T/bk2/priv/1/log"
silent "rsync -a (longer backup)" rsync -a "$T/bk2/" "$MNT/"
cmp "$T/bk2/pub/1/log" "$MNT/pub/1/log" || mt_fail "pub/1/log is not the longer backup's"
cmp "$T/bk2/priv/1/log" "$MNT/priv/1/log" || mt_fail "priv/1/log is not the longer backup's"
after=$(stat -c %s "$MNT/pub/1/log")
echo "pub/1/log: $before -> $after bytes (the tail: $(( $(stat -c %s "$T/bk2/pub/1/log") - before )))"
for f in pub/0/log pub/2/log priv/0/log; do
	cmp "$BK/$f" "$MNT/$f" || mt_fail "$f changed by the longer backup"
done
[ "$(cat "$MNT/pub/1/keys/k3")" = "tail 2495" ] ||
	mt_fail "keys/k3 after the tail: $(cat "$MNT/pub/1/keys/k3")"

tl_say "rsync -a of a differing backup fails and changes nothing"
cp -a "$T/bk2" "$T/bk3"
sed -i '1s/^k1/kX/' "$T/bk3/pub/1/log"   # same size, other bytes
touch -d '2024-03-02' "$T/bk3/pub/1/log"
st=0
rsync -a "$T/bk3/" "$MNT/" 2>"$T/rs.err" || st=$?
[ "$st" != 0 ] || mt_fail "rsync of a differing backup exited 0"
head -n 2 "$T/rs.err"
cmp "$T/bk2/pub/1/log" "$MNT/pub/1/log" || mt_fail "the differing backup changed pub/1/log"
grep -q 'its bytes differ from the log' "$MT_ERR" ||
	mt_fail "no log line for the differing write: $(tail -n 3 "$MT_ERR")"
# rsync removed its temporary name: 8 restore names fit in pub/1 again
# (a partition holds at most 8), the 9th is EDQUOT
got=$(python3 - "$MNT/pub/1" <<'EOF'
import errno, os, sys
out = []
for i in range(9):
    try:
        os.close(os.open(os.path.join(sys.argv[1], ".log.tmp00%d" % i),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
for i in range(9):
    try:
        os.unlink(os.path.join(sys.argv[1], ".log.tmp00%d" % i))
    except OSError:
        pass
print(" ".join(out))
EOF
)
[ "$got" = "ok ok ok ok ok ok ok ok EDQUOT" ] ||
	mt_fail "restore names in pub/1 after the failed rsync: $got"
cmp "$T/bk2/pub/1/log" "$MNT/pub/1/log" || mt_fail "restore names changed pub/1/log"
# only rsync's temporary name of the log is a restore name: logrotate's
# copy (log.1) and other exclusive creates are refused, nothing made
for n in log.1 .log.swp .x.AbCdEf; do
	got=$(python3 -c 'import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL)); print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/pub/1/$n")
	[ "$got" = EPERM ] || mt_fail "exclusive create of pub/1/$n: $got, not EPERM"
done
tl_say "an interrupted restore keeps its whole lines, drops a torn one; run again it continues"
python3 - "$MNT/pub/2" "$T/bk2/pub/2/log" <<'EOF'
import os, sys
d, src = sys.argv[1], sys.argv[2]
data = open(src, "rb").read() + b"k1\tafter 1\nk2\ttorn, no newl"
fd = os.open(os.path.join(d, ".log.rest01"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
os.write(fd, data)      # then "killed": closed, never renamed
os.close(fd)
EOF
{ cat "$T/bk2/pub/2/log"; printf 'k1\tafter 1\n'; } >"$T/want2"
cmp "$T/want2" "$MNT/pub/2/log" || mt_fail "an interrupted restore left more than its whole lines"
grep -q 'a restore ended inside a line: its 16 bytes are dropped' "$MT_ERR" ||
	mt_fail "no log line for the torn line: $(tail -n 3 "$MT_ERR")"
cp -a "$T/bk2" "$T/bk4"
printf 'k1\tafter 1\nk2\ttorn, no newline\n' >>"$T/bk4/pub/2/log"
silent "rsync -a (after the interruption)" rsync -a "$T/bk4/" "$MNT/"
cmp "$T/bk4/pub/2/log" "$MNT/pub/2/log" || mt_fail "the rerun did not continue the log"
tl_say "an older backup (a prefix of the log) fails at rename, changes nothing"
st=0
rsync -a "$BK/" "$MNT/" 2>"$T/rs.err" || st=$?
[ "$st" != 0 ] || mt_fail "rsync of an older backup exited 0"
cmp "$T/bk2/pub/1/log" "$MNT/pub/1/log" || mt_fail "the older backup changed pub/1/log"

# ---- an old-style archive ----------------------------------------------

tl_say "an old-style archive (keys, status files, <topic>/log) makes no message"
OLD=$T/old
mkdir -p "$OLD/pub/0/keys" "$OLD/pub/0/at" "$OLD/pub/0/since"
printf 'k1\tv1\nplain\nk2\tv2\n' >"$OLD/pub/0/log"
cp "$OLD/pub/0/log" "$OLD/pub/log"
printf 'v1\n' >"$OLD/pub/0/keys/k1"
printf 'v2\n' >"$OLD/pub/0/keys/k2"
printf 'v9\n' >"$OLD/pub/0/keys/knew"
for f in anchor index stats; do echo "old $f text" >"$OLD/pub/0/$f"; done
# in the order the old mount listed them: the log first, keys last
(cd "$OLD" && printf '%s\n' pub pub/log pub/0 pub/0/log pub/0/anchor \
	pub/0/index pub/0/stats pub/0/at pub/0/since pub/0/keys \
	pub/0/keys/k1 pub/0/keys/k2 pub/0/keys/knew) >"$T/old.list"
tar -C "$OLD" --no-recursion -cf "$T/old.tar" -T "$T/old.list"
fresh -o allow_other   # the kernel checks permissions (item 4's chown by a user)
st=0
tar -C "$MNT" -xf "$T/old.tar" 2>"$T/old.err" || st=$?
[ "$st" != 0 ] || mt_fail "tar -x of an old-style archive exited 0"
cat "$T/old.err"
cmp "$OLD/pub/0/log" "$MNT/pub/0/log" || mt_fail "old archive: pub/0/log is not the archived log"
for m in pub/log pub/0/anchor pub/0/index pub/0/stats pub/0/keys/k1 pub/0/keys/k2 pub/0/keys/knew; do
	grep -q "^tar: $m: " "$T/old.err" || mt_fail "tar did not fail for $m"
done
[ "$(cat "$MNT/pub/0/keys/k1")" = v1 ] || mt_fail "keys/k1 changed"
[ ! -e "$MNT/pub/0/keys/knew" ] || mt_fail "keys/knew was made from the archive"
grep -q 'keys/knew: exclusive create refused (EPERM)' "$MT_ERR" ||
	mt_fail "no log line for the refused key create"
tl_say "cp -a and rsync -a of the old-style tree into the same topic: no message"
snap=$(cat "$MNT/pub/0/log" | md5sum)
cp -a "$OLD/." "$MNT/" 2>"$T/old.err" && mt_fail "cp -a of an old-style tree exited 0"
head -n 3 "$T/old.err"
rsync -a "$OLD/" "$MNT/" 2>"$T/old.err" && mt_fail "rsync -a of an old-style tree exited 0"
head -n 3 "$T/old.err"
[ "$(cat "$MNT/pub/0/log" | md5sum)" = "$snap" ] ||
	mt_fail "an old-style tree appended: $(cat "$MNT/pub/0/log")"
[ ! -e "$MNT/pub/0/keys/knew" ] || mt_fail "keys/knew was made from the old tree"

# ---- item 4: errors at the call that caused them ------------------------

tl_say "a key value with a newline fails at write() with EINVAL, nothing stored"
K=$MNT/pub/0/keys
size=$(stat -c %s "$MNT/pub/0/log")
got=$(python3 - "$K/kn" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
try:
    os.write(fd, b"a\nb\n")
    print("write ok")
except OSError as e:
    print("write", errno.errorcode[e.errno])
os.close(fd)
EOF
)
[ "$got" = "write EINVAL" ] || mt_fail "a value with a newline: $got"
[ "$(stat -c %s "$MNT/pub/0/log")" = "$size" ] || mt_fail "a value with a newline was stored"
echo v > "$K/kn" || mt_fail "echo v > keys/kn failed"
[ "$(cat "$K/kn")" = v ] || mt_fail "keys/kn is not v"

tl_say "chmod, chown, utimens"
L=$MNT/pub/0/log
chmod 600 "$L"
[ "$(stat -c %a "$L")" = 600 ] || mt_fail "chmod 600 log: the log is $(stat -c %a "$L")"
[ "$(stat -c %a "$MNT/pub/0")" = 711 ] ||
	mt_fail "chmod 600 log: the partition is $(stat -c %a "$MNT/pub/0"), want 711"
chmod 644 "$L"
chown "$U" "$L"
[ "$(stat -c %U "$MNT/pub/0")" = "$U" ] || mt_fail "chown of a log did not change its partition"
mt_expect_err 'Operation not permitted' tl_as "$U" chown root "$L"
mt_expect_ok tl_as "$U" chgrp "$U" "$L"      # the owner, to a group she is in
[ "$(stat -c %G "$MNT/pub/0")" = "$U" ] || mt_fail "chgrp of a log did not change its partition"
mt_expect_err 'Operation not permitted' tl_as "$U" chgrp root "$L"
for f in "$L" "$MNT/pub/0" "$MNT/pub" "$K/k1" "$MNT/pub/0/stats" "$MNT/pub/0/keys" \
	 "$MNT/pub/0/at" "$MNT/pub/log"; do
	o=$(stat -c %u:%g "$f")
	mt_expect_ok chown "$o" "$f"
	mt_expect_ok chmod "$(stat -c %a "$f")" "$f"
	mt_expect_ok touch -d "$OLD_TIME" "$f"
done
mt_expect_err 'Operation not permitted' chmod 600 "$K/k1"
mt_expect_err 'Operation not permitted' chmod 600 "$MNT/pub/0/stats"
mt_expect_err 'Operation not permitted' chown "$TL_USER2" "$K/k1"
touch -d '2023-05-06 07:08:09' "$L"
[ "$(stat -c %y "$L")" = '2023-05-06 07:08:09.000000000 +0000' ] ||
	mt_fail "utimens of a log: $(stat -c %y "$L")"
echo "one more" >>"$L"
[ "$(stat -c %Y "$L")" -gt "$(date -d '2024-01-01' +%s)" ] ||
	mt_fail "an append kept the set mtime: $(stat -c %y "$L")"
got=$(python3 -c '
import errno, os, sys
try:
    os.setxattr(sys.argv[1], "user.x", b"1")
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$L")
[ "$got" = ENOTSUP ] || [ "$got" = EOPNOTSUPP ] || mt_fail "setxattr of a log: $got"

tl_say "refused creates say EPERM"
mt_expect_err 'Operation not permitted' touch "$MNT/pub/0/new"
mt_expect_err 'Operation not permitted' touch "$MNT/pub/new"
mt_expect_err 'Operation not permitted' python3 -c 'import sys; open(sys.argv[1], "x")' "$K/fresh"
mt_expect_err 'Operation not permitted' mv "$MNT/pub/0/keys/k1" "$MNT/pub/0/keys/k9"
mkdir "$MNT/e"
mt_expect_err 'Operation not permitted' bash -c "echo x > '$MNT/e/log'"
[ ! -s "$MNT/e/0/log" ] || mt_fail "a write at offset 0 of <topic>/log was appended"
echo y >>"$MNT/e/log" || mt_fail "echo >> <topic>/log failed"
[ "$(cat "$MNT/e/0/log")" = y ] || mt_fail "<topic>/log append: $(cat "$MNT/e/0/log")"
mt_stop
