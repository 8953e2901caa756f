#!/bin/bash
# Inode numbers come from a counter, not from the daemon's heap (issue
# 10: st_ino showed node addresses such as 140578575622544): the root is
# 1, every other file a small number, distinct names distinct numbers,
# the same number on every stat while the kernel holds the inode, and a
# number the kernel still holds is never given to another file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start
mkdir "$MNT/t" "$MNT/u"
echo hello >>"$MNT/t/0/log"
echo "k	v" >>"$MNT/t/0/log"
names="/ /t /t/0 /t/0/log /t/log /t/0/at /t/0/at/0 /t/0/since/0 /t/0/index
/t/0/anchor /t/0/stats /t/0/keys /t/0/keys/k /.metrics /.status /u /u/0/log"
n=0 fds=()
for f in $names; do
	exec {fd}<"$MNT$f" # the kernel holds every inode until the end
	fds+=("$fd")
	n=$((n + 1))
done

# Close the held descriptors (they would keep the mount busy).
close_all() { local fd; for fd in "${fds[@]}"; do exec {fd}<&-; done; fds=(); }

# Fail after closing them.
ifail() { close_all; mt_fail "$@"; }

# "name inode" lines of every file.
inodes() { for f in $names; do echo "$f $(stat -c %i "$MNT$f")"; done; }

inodes >"$T/ino1"
cat "$T/ino1" | tr '\n' ' '; echo
[ "$(grep -c . "$T/ino1")" = "$n" ] || ifail "only $(grep -c . "$T/ino1") of $n files stat'ed"
[ "$(awk '$1 == "/" { print $2 }' "$T/ino1")" = 1 ] || ifail "the root is not inode 1"
awk '$2 < 2 && $1 != "/" || $2 > 1000000 { bad = bad " " $1 "=" $2 }
     END { if (bad) { print "not small:" bad; exit 1 } }' "$T/ino1" ||
	ifail "inode numbers are not a counter's"
[ "$(cut -d' ' -f2 "$T/ino1" | sort -u | wc -l)" = "$n" ] || ifail "two names share an inode number"

tl_say "the same numbers after the entry timeout (1 s), while held"
sleep 1.2
inodes >"$T/ino2"
cmp -s "$T/ino1" "$T/ino2" || ifail "inode numbers changed: $(diff "$T/ino1" "$T/ino2" | tr '\n' ' ')"

tl_say "a removed key's number, still held, is not given to the new key"
K=$MNT/t/0/keys/a
echo one >"$K"
exec {kfd}<"$K"
fds+=("$kfd")
i1=$(stat -L -c %i "/proc/$$/fd/$kfd")
rm "$K"
echo two >"$K"
i2=$(stat -c %i "$K")
[ "$i1" != "$i2" ] || ifail "keys/a got inode $i2 again while the old one is held"
close_all
echo "ok: $n files with small, distinct, stable numbers; keys/a $i1 then $i2"
