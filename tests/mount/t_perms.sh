#!/bin/bash
# Permissions with a non-root user (-o allow_other: the kernel enforces
# topic and partition modes), and chmod/chown persisting across remounts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_user
U=$TL_USER
uid=$(id -u "$U")
EACCES='Permission denied'

tl_say "without allow_other another user cannot enter the mount"
mt_start
mkdir "$MNT/pub" "$MNT/priv"
echo "public line" >>"$MNT/pub/0/log"
echo "secret line" >>"$MNT/priv/0/log"
mt_expect_err "$EACCES" tl_as "$U" ls "$MNT"
mt_stop

tl_say "with allow_other"
mt_start -o allow_other
grep " $MNT " /proc/mounts
grep -q " $MNT fuse.shlogfs .*default_permissions.*allow_other\| $MNT fuse.shlogfs .*allow_other.*default_permissions" /proc/mounts ||
	mt_fail "allow_other without default_permissions: $(grep " $MNT " /proc/mounts)"
chmod 755 "$MNT/pub" "$MNT/pub/0"
mt_expect_ok tl_as "$U" ls "$MNT/pub/0"
[ "$(tl_as "$U" cat "$MNT/pub/0/log")" = "public line" ] ||
	mt_fail "user cannot read pub/0/log (mode $(stat -c %A "$MNT/pub/0/log"))"
ls -ld "$MNT/pub" "$MNT/pub/0" "$MNT/pub/0/log"

tl_say "chmod 700 a topic: the user can neither read nor append"
chmod 700 "$MNT/priv"
[ "$(stat -c %a "$MNT/priv")" = 700 ] || mt_fail "mode after chmod: $(stat -c %a "$MNT/priv")"
mt_expect_err "$EACCES" tl_as "$U" ls "$MNT/priv"
mt_expect_err "$EACCES" tl_as "$U" cat "$MNT/priv/0/log"
mt_expect_err "$EACCES" tl_as "$U" sh -c "echo intruder >>'$MNT/priv/0/log'"
mt_expect_err "$EACCES" tl_as "$U" mkdir "$MNT/priv/1"
mt_expect_err "$EACCES|Operation not permitted" tl_as "$U" rmdir "$MNT/priv"
[ "$(cat "$MNT/priv/0/log")" = "secret line" ] || mt_fail "priv log changed"

tl_say "the user cannot chmod, chown or delete a root-owned topic"
mt_expect_err "Operation not permitted" tl_as "$U" chmod 777 "$MNT/pub"
mt_expect_err "Operation not permitted" tl_as "$U" chown "$U" "$MNT/pub"
mt_expect_err "$EACCES|Operation not permitted" tl_as "$U" rmdir "$MNT/pub"
mt_expect_err "Operation not permitted" tl_as "$U" bash -c "echo pub >'$MNT/.delete'"
mt_expect_err "$EACCES|Operation not permitted" tl_as "$U" mkdir "$MNT/mine"
[ -d "$MNT/pub" ] || mt_fail "pub deleted by the user"

tl_say "chown the topic to the user: now the user can list it"
chown "$U:$U" "$MNT/priv"
[ "$(stat -c %u "$MNT/priv")" = "$uid" ] || mt_fail "owner after chown: $(stat -c %u "$MNT/priv")"
mt_expect_ok tl_as "$U" ls "$MNT/priv"
tl_as "$U" chmod 750 "$MNT/priv" || mt_fail "the owner cannot chmod its topic"

tl_say "chmod/chown persist across remount"
chmod 711 "$MNT/pub/0"
chown 1234:5678 "$MNT/pub"
chmod 751 "$MNT/pub"
want_pub="751 1234 5678"
want_pub0="711 0 0"
want_priv="750 $uid $(id -g "$U")"
st() { stat -c '%a %u %g' "$1"; }
[ "$(st "$MNT/pub")" = "$want_pub" ] || mt_fail "pub: $(st "$MNT/pub")"
mt_stop
mt_start -o allow_other
[ "$(st "$MNT/pub")" = "$want_pub" ] || mt_fail "pub after remount: $(st "$MNT/pub"), want $want_pub"
[ "$(st "$MNT/pub/0")" = "$want_pub0" ] || mt_fail "pub/0 after remount: $(st "$MNT/pub/0"), want $want_pub0"
[ "$(st "$MNT/priv")" = "$want_priv" ] || mt_fail "priv after remount: $(st "$MNT/priv"), want $want_priv"
[ "$(st "$DATADIR/pub")" = "700 0 0" ] ||    # the data dir stays the daemon's (meta file)
	mt_fail "data dir pub: $(st "$DATADIR/pub"), want 700 0 0"
echo "ok: pub=$(st "$MNT/pub") pub/0=$(st "$MNT/pub/0") priv=$(st "$MNT/priv")"
mt_expect_err "$EACCES" tl_as "$U" ls "$MNT/pub/0"
