#!/bin/bash
# Tools that walk the tree (issue 12, items 1 and 2):
#  - listings hold only what a backup should: the root its topics, a
#    topic its partitions, a partition its log; everything else is
#    reachable by name; link counts agree with the listings;
#  - rm -rf, rm -r, find -delete, rsync --delete and shutil.rmtree of a
#    topic, as root and as its owner, fail and change nothing (logs,
#    keys, the data dir's files);
#  - rmdir answers ENOTEMPTY (topic, partition), EPERM (at/, since/,
#    keys/), ENOTDIR (a file);
#  - /.delete and `shlogctl delete` delete a topic: its owner or root
#    only, with the errno at the write;
#  - tar, cp -a, rsync -a and find | cpio of a topic or the whole mount
#    hold each partition log once and nothing else: 1,000,000 lines,
#    the archive within 1 % of the logs plus tar's own blocks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
mt_need_exe SHLOGCTL
U=$TL_USER
V=$TL_USER2
uid=$(id -u "$U")
vid=$(id -u "$V")
PY=/usr/bin/python3
NL=$'\n'

mt_start -o allow_other,partitions=3
M=$MNT
chmod 777 "$M"

# ---- helpers ----------------------------------------------------------

# Append keyed (K<TAB>V) and keyless lines to each partition of topic $1
# (3 partitions), $2 lines each.
fill_topic()
{
	local t=$1 n=$2 p
	for p in 0 1 2; do
		awk -v n="$n" -v p="$p" 'BEGIN {
			for (i = 0; i < n; i++)
				if (i % 3) printf "k%d\tvalue %d of p%d\n", i % 40, i, p
				else printf "plain %d of p%d\n", i, p
		}' >"$T/fill.$p"
		cat "$T/fill.$p" >>"$M/$t/$p/log"
	done
	sync "$M/$t/0/log" "$M/$t/1/log" "$M/$t/2/log"
}

# Print what topic $1 holds: each partition's log checksum, and each key
# keys/ lists with its value; then the data dir's files of the topic
# (the daemon's own files at the data dir's top, .lock, .ctl, .meta and
# the like, are not the topic's).
topic_state()
{
	local t=$1 p k
	for p in $(ls "$M/$t"); do
		echo "log $p $(sha256sum <"$M/$t/$p/log")"
		# each listed key and its value ("key:value"), one grep for all
		ls "$M/$t/$p/keys" | (cd "$M/$t/$p/keys" && xargs -r grep -H '') |
			sed "s/^/key $p /"
	done
	(cd "$DATADIR/$t" && find . -type f | sort | xargs sha256sum)
}

# Run a tool that walks topic $2 ("$3"...) as user $1; it must fail and
# leave the topic as it was.
walk_changes_nothing()
{
	local who=$1 t=$2 st=0
	shift 2
	topic_state "$t" >"$T/before"
	[ "$(grep -c '^key ' "$T/before")" -ge 60 ] ||
		mt_fail "$t has only $(grep -c '^key ' "$T/before") keys to lose"
	if [ "$who" = root ]; then "$@" </dev/null >"$T/walk.out" 2>&1 || st=$?
	else tl_as "$who" "$@" </dev/null >"$T/walk.out" 2>&1 || st=$?; fi
	[ "$st" != 0 ] || mt_fail "as $who, '$*' exited 0 on a topic it cannot delete"
	[ -d "$M/$t" ] || mt_fail "as $who, '$*' deleted $t"
	topic_state "$t" >"$T/after"
	diff "$T/before" "$T/after" >&2 ||
		mt_fail "as $who, '$*' changed $t"
	for p in 0 1 2; do mt_same "$M/$t/$p/log" "$T/$t.log.$p"; done
	echo "ok (exit $st, nothing changed): as $who: $* ($(head -n 1 "$T/walk.out"))"
}

# Write the bytes $3 to /.delete as user $2 in one write(); expect the
# errno name $1 (OK: success).
delete_req()
{
	local want=$1 who=$2 out st=0
	if [ "$who" = root ]; then out=$("$MTIO" write "$M/.delete" "$3" 2>&1) || st=$?
	else out=$(tl_as "$who" "$MTIO" write "$M/.delete" "$3" 2>&1) || st=$?; fi
	if [ "$want" = OK ]; then
		[ "$st" = 0 ] || mt_fail "as $who, /.delete of '$3': $out"
	else
		case $out in
		*"write: $want "*) ;;
		*) mt_fail "as $who, /.delete of '$3': want $want, got: $out" ;;
		esac
	fi
	echo "ok ($want): as $who, /.delete <- $(printf %q "$3")"
}

# ---- listings and link counts ----------------------------------------

tl_say "listings: root its topics, a topic its partitions, a partition its log"
mkdir "$M/t"
fill_topic t 300
[ "$(ls -a "$M" | tr '\n' ' ')" = ". .. t " ] || mt_fail "ls -a MNT: $(ls -a "$M" | tr '\n' ' ')"
[ "$(ls -a "$M/t" | tr '\n' ' ')" = ". .. 0 1 2 " ] || mt_fail "ls -a t: $(ls -a "$M/t" | tr '\n' ' ')"
[ "$(ls -a "$M/t/0" | tr '\n' ' ')" = ". .. log " ] || mt_fail "ls -a t/0: $(ls -a "$M/t/0" | tr '\n' ' ')"
[ "$(stat -c %h "$M")" = 3 ] || mt_fail "root: $(stat -c %h "$M") links, want 3 (one topic)"
[ "$(stat -c %h "$M/t")" = 5 ] || mt_fail "t: $(stat -c %h "$M/t") links, want 5 (three partitions)"
[ "$(stat -c %h "$M/t/0")" = 2 ] || mt_fail "t/0: $(stat -c %h "$M/t/0") links, want 2"
mkdir "$M/t/3" "$M/u"
[ "$(stat -c %h "$M/t")" = 6 ] || mt_fail "t after mkdir t/3: $(stat -c %h "$M/t") links"
[ "$(stat -c %h "$M")" = 4 ] || mt_fail "root with two topics: $(stat -c %h "$M") links"
[ "$(ls "$M" | tr '\n' ' ')" = "t u " ] || mt_fail "ls MNT: $(ls "$M" | tr '\n' ' ')"
# find trusts the link counts unless -noleaf: both must see the same tree
find "$M" | sort >"$T/find.leaf"
find "$M" -noleaf | sort >"$T/find.noleaf"
mt_same "$T/find.leaf" "$T/find.noleaf"
[ "$(grep -c '/log$' "$T/find.leaf")" = 7 ] || mt_fail "find sees $(grep -c '/log$' "$T/find.leaf") logs, want 7"
if grep -vE "^$M(/[tu](/[0-9]+(/log)?)?)?$" "$T/find.leaf"; then
	mt_fail "find lists more than topics, partitions and logs"
fi

tl_say "everything unlisted is reachable by name"
for f in anchor index stats; do [ -f "$M/t/0/$f" ] || mt_fail "t/0/$f"; done
for d in at since keys; do [ -d "$M/t/0/$d" ] || mt_fail "t/0/$d"; done
[ -f "$M/t/log" ] || mt_fail "t/log is not reachable by name"
[ "$(cat "$M/t/log" | wc -l)" = 900 ] || mt_fail "t/log: $(cat "$M/t/log" | wc -l) lines, want 900"
[ "$(ls "$M/t/0/keys" | wc -l)" = 40 ] || mt_fail "ls t/0/keys: $(ls "$M/t/0/keys" | wc -l) keys, want 40"
[ "$(cat "$M/t/1/keys/k1")" = "value 281 of p1" ] || mt_fail "t/1/keys/k1: $(cat "$M/t/1/keys/k1")"
[ -n "$(cat "$M/t/0/stats")" ] || mt_fail "t/0/stats is empty"
[ "$(head -n 1 "$M/t/0/at/99")" = "plain 99 of p0" ] || mt_fail "t/0/at/99: $(head -n 1 "$M/t/0/at/99")"
[ -f "$M/.metrics" ] && [ -f "$M/.delete" ] || mt_fail "root files not reachable"
[ "$(stat -c %a "$M/.delete")" = 222 ] || mt_fail ".delete mode $(stat -c %a "$M/.delete")"

tl_say "rmdir: ENOTEMPTY for a topic or partition, EPERM for at/ since/ keys/"
mt_expect_err 'Directory not empty' rmdir "$M/t"
mt_expect_err 'Directory not empty' rmdir "$M/t/0"
for d in at since keys; do mt_expect_err 'Operation not permitted' rmdir "$M/t/0/$d"; done
mt_expect_err 'Not a directory' rmdir "$M/t/log"
mt_expect_err 'Not a directory' rmdir "$M/t/0/index"
mt_expect_err 'Not a directory' rmdir "$M/.delete"
mt_expect_err 'No such file' rmdir "$M/nosuch"
[ "$(ls "$M/t" | tr '\n' ' ')" = "0 1 2 3 " ] || mt_fail "t after rmdir: $(ls "$M/t")"

# ---- recursive deletes change nothing -------------------------------

tl_say "rm -rf, rm -r, find -delete, rsync --delete, shutil.rmtree: nothing changes"
mkdir "$M/wr"
tl_as "$U" mkdir "$M/wu"
[ "$(stat -c %u "$M/wu/2")" = "$uid" ] || mt_fail "wu/2 is not $U's"
for t in wr wu; do
	fill_topic "$t" 600
	for p in 0 1 2; do cp "$M/$t/$p/log" "$T/$t.log.$p"; done
	[ "$(wc -l <"$T/$t.log.2")" = 600 ] || mt_fail "$t/2 holds $(wc -l <"$T/$t.log.2") lines"
done
mkdir "$T/empty"
chmod 755 "$T/empty"
for who in root "$U"; do
	t=wr
	[ "$who" = root ] || t=wu
	walk_changes_nothing "$who" "$t" rm -rf "$M/$t"
	walk_changes_nothing "$who" "$t" rm -r "$M/$t"
	walk_changes_nothing "$who" "$t" find "$M/$t" -delete
	walk_changes_nothing "$who" "$t" rsync -r --delete "$T/empty/" "$M/$t/"
	walk_changes_nothing "$who" "$t" "$PY" -c 'import shutil, sys; shutil.rmtree(sys.argv[1])' "$M/$t"
	# an rmtree that goes on after errors (it walks every directory)
	walk_changes_nothing "$who" "$t" "$PY" -c 'import shutil, sys
errs = []
shutil.rmtree(sys.argv[1], onerror=lambda *e: errs.append(e))
sys.exit(1 if errs else 0)' "$M/$t"
done
# the same from the root (a mount-wide clean-up)
walk_changes_nothing root wu rm -rf "$M/"*
walk_changes_nothing root wr find "$M" -mindepth 1 -delete

# ---- the deliberate deletion ---------------------------------------

tl_say "/.delete: malformed requests are EINVAL, no such topic ENOENT"
delete_req EINVAL root "wr"                  # no newline
delete_req EINVAL root "wr${NL}wu${NL}"      # two lines in one write
delete_req EINVAL root "${NL}"
delete_req EINVAL root ".metrics${NL}"
delete_req EINVAL root "wr/0${NL}"
delete_req EINVAL root "wr ${NL}"
delete_req ENOENT root "nosuch${NL}"
mt_expect_err 'Operation not permitted' cat "$M/.delete"
[ -d "$M/wr" ] && [ -d "$M/wu" ] || mt_fail "a refused request deleted a topic"
grep -q "/.delete: a write of 2 bytes by uid 0 refused (EINVAL)" "$MT_ERR" ||
	mt_fail "no log line for a malformed request"

tl_say "/.delete: another user may not, the owner may, root may"
topic_state wu >"$T/before"
delete_req EPERM "$V" "wu${NL}"
grep -q "deletion of topic wu by uid $vid refused (EPERM): the topic belongs to uid $uid" "$MT_ERR" ||
	mt_fail "no log line for the refused deletion"
topic_state wu >"$T/after"
diff "$T/before" "$T/after" >&2 || mt_fail "a refused deletion changed wu"
mt_expect_err 'not allowed' tl_as "$V" "$SHLOGCTL" delete "$M" wu
[ -d "$DATADIR/wu" ] || mt_fail "wu left the data dir"
delete_req OK "$U" "wu${NL}"
[ ! -e "$M/wu" ] || mt_fail "wu still there"
[ ! -e "$DATADIR/wu" ] || mt_fail "wu still in the data dir: $(ls "$DATADIR")"
grep -q "topic wu deleted through /.delete by uid $uid" "$MT_ERR" || mt_fail "no log line for the deletion"
tl_as "$U" mkdir "$M/wu"                     # the name is free at once
[ ! -s "$M/wu/0/log" ] || mt_fail "the new wu holds old data"
mt_expect_ok sh -c "echo wu > '$M/.delete'" # the shell's > (O_CREAT|O_TRUNC)
[ ! -e "$M/wu" ] || mt_fail "root's echo wu > .delete did not delete wu"

tl_say "a topic holding another user's partition: its owner may not"
tl_as "$U" mkdir "$M/mx"
tl_as "$U" chmod 777 "$M/mx"
tl_as "$V" mkdir "$M/mx/3"
echo "v part" | tl_as "$V" tee -a "$M/mx/3/log" >/dev/null
delete_req EPERM "$U" "mx${NL}"
delete_req EPERM "$V" "mx${NL}"
grep -q "deletion of topic mx by uid $uid refused (EPERM): partition 3 belongs to uid $vid" "$MT_ERR" ||
	mt_fail "no log line naming partition 3"
[ "$(cat "$M/mx/3/log")" = "v part" ] || mt_fail "mx/3 lost its data"

tl_say "shlogctl delete"
mt_expect_err 'not allowed' tl_as "$U" "$SHLOGCTL" delete "$M" mx
mt_expect_err "no topic 'nosuch'" "$SHLOGCTL" delete "$M" nosuch
mt_expect_err 'not a topic name' "$SHLOGCTL" delete "$M" ../x
mt_expect_err 'not the mount point of a shlogfs' "$SHLOGCTL" delete "$T" mx
mkdir "$T/fake" && : >"$T/fake/.delete"    # a .delete on another file system is never written
mt_expect_err 'not the mount point of a shlogfs' "$SHLOGCTL" delete "$T/fake" mx
[ ! -s "$T/fake/.delete" ] || mt_fail "shlogctl delete wrote into $T/fake/.delete"
st=0; "$SHLOGCTL" delete "$M" ../x 2>/dev/null || st=$?
[ "$st" = 2 ] || mt_fail "shlogctl delete of a bad name exited $st, want 2"
mt_expect_ok "$SHLOGCTL" delete "$M" mx
[ ! -e "$M/mx" ] && [ ! -e "$DATADIR/mx" ] || mt_fail "mx still there"
mt_expect_ok "$SHLOGCTL" delete "$M" wr
[ "$(ls "$M" | tr '\n' ' ')" = "t u " ] || mt_fail "ls MNT after the deletions: $(ls "$M")"

# ---- archives and copies hold each message once ---------------------

tl_say "1,000,000 lines in 4 partitions: tar, cp -a, rsync -a, cpio hold each log once"
"$SHLOGCTL" delete "$M" t >/dev/null
"$SHLOGCTL" delete "$M" u >/dev/null
mkdir "$M/big"
mkdir "$M/big/3"
for p in 0 1 2 3; do
	awk -v p="$p" 'BEGIN {
		for (i = 0; i < 250000; i++)
			if (i % 2) printf "k%d\tv%d\n", i % 20000, i
			else printf "p%d line %d\n", p, i
	}' >"$T/big.$p"
	cat "$T/big.$p" >>"$M/big/$p/log"
done
mkdir "$M/small"
printf 'a\t1\nb\t2\nplain\n' >"$T/small.0"
cat "$T/small.0" >>"$M/small/0/log"
total_lines=$(cat "$M"/big/*/log | wc -l)
[ "$total_lines" = 1000000 ] || mt_fail "big holds $total_lines lines"
[ "$(ls "$M/big/3/keys" | wc -l)" = 10000 ] || mt_fail "big/3 has $(ls "$M/big/3/keys" | wc -l) keys"

# the members an archive of the mount must hold, and their sizes
logs="big/0/log big/1/log big/2/log big/3/log small/0/log small/1/log small/2/log"
dirs="big big/0 big/1 big/2 big/3 small small/0 small/1 small/2"
logbytes=0
for f in $logs; do logbytes=$((logbytes + $(stat -c %s "$M/$f"))); done
[ "$logbytes" -gt 8000000 ] || mt_fail "only $logbytes bytes of logs"

# The bytes of members $1 (paths under MNT) and what tar must write for
# them: a 512-byte header each, data rounded up to 512, two end blocks,
# up to a 10240-byte record.
tar_bound()
{
	local n=0 d=0 f s
	for f in $1; do
		s=0
		[ -d "$M/$f" ] || s=$(stat -c %s "$M/$f")
		d=$((d + s))
		n=$((n + 512 + (s + 511) / 512 * 512))
	done
	n=$((n + 1024))
	echo "$d $(((n + 10239) / 10240 * 10240))"
}

# Check archive $1's size against the bound for members $2 (within 1 %).
check_size()
{
	local got want data
	got=$(stat -c %s "$1")
	read -r data want < <(tar_bound "$2")
	echo "$1: $got bytes; logs $data, logs and tar's blocks $want"
	[ "$got" -ge "$data" ] || mt_fail "$1 is smaller than the logs"
	[ $((got * 100)) -le $((want * 101)) ] && [ $((got * 100)) -ge $((want * 99)) ] ||
		mt_fail "$1: $got bytes, not within 1 % of $want"
}

# Check that the list of paths in file $1 (a leading ./ and a trailing /
# dropped, "." left out) is exactly $2.
check_members()
{
	local m
	for m in $2; do echo "$m"; done | sort >"$T/want.list"
	sed 's,^\./,,; s,/$,,' "$1" | grep -vxE '\.?' | sort >"$T/got.list"
	diff "$T/want.list" "$T/got.list" >&2 || mt_fail "$1 holds other members than the dirs and logs"
}

tar -C "$M" -cf "$T/t.tar" big
tar -tf "$T/t.tar" >"$T/t.members"
check_members "$T/t.members" "big big/0 big/1 big/2 big/3 big/0/log big/1/log big/2/log big/3/log"
check_size "$T/t.tar" "big big/0 big/1 big/2 big/3 big/0/log big/1/log big/2/log big/3/log"

tar -C "$M" -cf "$T/all.tar" .
tar -tf "$T/all.tar" >"$T/all.members"
check_members "$T/all.members" "$dirs $logs"
check_size "$T/all.tar" ". $dirs $logs"
mkdir "$T/untar"
tar -C "$T/untar" -xf "$T/all.tar"
for p in 0 1 2 3; do mt_same "$T/untar/big/$p/log" "$T/big.$p"; done
mt_same "$T/untar/small/0/log" "$T/small.0"

# Check that copy $1 of the mount holds exactly the dirs and logs, each
# log identical to the mount's.
check_copy()
{
	local f n=0
	(cd "$1" && find . -mindepth 1 | sed 's,^\./,,') >"$T/copy.members"
	check_members "$T/copy.members" "$dirs $logs"
	for f in $logs; do
		mt_same "$1/$f" "$M/$f"
		n=$((n + $(stat -c %s "$1/$f")))
	done
	[ "$n" = "$logbytes" ] || mt_fail "$1 holds $n bytes of logs, want $logbytes"
	echo "ok: $1 holds the $(echo $logs | wc -w) logs once, $n bytes"
}
cp -a "$M/." "$T/cpa"
check_copy "$T/cpa"
rsync -a "$M/" "$T/rsa/"
check_copy "$T/rsa"
(cd "$M" && find . | cpio -o -H newc --quiet) >"$T/m.cpio"
cpio -it --quiet <"$T/m.cpio" >"$T/cpio.members"
check_members "$T/cpio.members" "$dirs $logs"
cs=$(stat -c %s "$T/m.cpio")
echo "m.cpio: $cs bytes for $logbytes bytes of logs"
[ "$cs" -ge "$logbytes" ] && [ $((cs * 100)) -le $(((logbytes + 512 * 32) * 101)) ] ||
	mt_fail "m.cpio: $cs bytes, not within 1 % of the logs"
mkdir "$T/uncpio"
(cd "$T/uncpio" && cpio -id --quiet <"$T/m.cpio")
check_copy "$T/uncpio"

tl_say "the big topic goes in one deletion"
mt_expect_ok "$SHLOGCTL" delete "$M" big
[ ! -e "$DATADIR/big" ] || mt_fail "big still in the data dir"
[ "$(ls "$M")" = small ] || mt_fail "ls MNT: $(ls "$M")"
[ "$(stat -c %h "$M")" = 3 ] || mt_fail "root: $(stat -c %h "$M") links with one topic"
