#!/bin/bash
# Refused operations and their errno.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start
mkdir "$MNT/t"
L=$MNT/t/0/log
printf 'one\ntwo\nthree\n' >>"$L"
cp "$L" "$T/expect"
EPERM='Operation not permitted'
EPERM_OR_NOTSUP='Operation not permitted|Operation not supported'

tl_say "writes at a wrong offset: EPERM"
mt_expect_err "$EPERM" sh -c "printf 'X\n' | dd of='$L' bs=1 seek=2 conv=notrunc status=none"
mt_expect_err "$EPERM" sh -c "printf 'X\n' | dd of='$L' bs=1 seek=100 conv=notrunc status=none"
mt_expect_err 'EPERM' "$MTIO" write -a -x "$L" $'cleared O_APPEND\n'
mt_expect_err 'EPERM' "$MTIO" write -o 0 "$L" $'at zero\n'
mt_expect_err 'EPERM' "$MTIO" write -o 5 "$L" $'at five\n'
mt_same "$L" "$T/expect"
# At exactly the end, pwrite is an append.
"$MTIO" write -o 14 "$L" $'four\n'
echo four >>"$T/expect"
mt_same "$L" "$T/expect"

tl_say "truncate: to the current size OK, anything else EPERM"
size=$(stat -c %s "$L")
mt_expect_ok truncate -s "$size" "$L"
mt_expect_err "$EPERM" truncate -s 0 "$L"
mt_expect_err "$EPERM" truncate -s 3 "$L"
mt_expect_err "$EPERM" truncate -s +10 "$L"
mt_expect_err "$EPERM" sh -c ": >'$L'"
mt_expect_err "$EPERM_OR_NOTSUP" fallocate -l 1M "$L"
mt_expect_err "$EPERM_OR_NOTSUP" fallocate -o 0 -l 4096 -p "$L"
mt_same "$L" "$T/expect"

tl_say "unlink, rename, link, symlink, mknod of a log: EPERM or EOPNOTSUPP"
mt_expect_err "$EPERM_OR_NOTSUP" rm "$L"
mt_expect_err "$EPERM_OR_NOTSUP" rm -f "$L"
mt_expect_err "$EPERM_OR_NOTSUP" mv "$L" "$MNT/t/0/log2"
mkdir "$MNT/u"
mt_expect_err "$EPERM_OR_NOTSUP|Invalid cross-device" mv "$L" "$MNT/u/0/log"
mt_expect_err "$EPERM_OR_NOTSUP" ln "$L" "$MNT/t/0/hard"
mt_expect_err "$EPERM_OR_NOTSUP" ln -s log "$MNT/t/0/soft"
mt_expect_err "$EPERM_OR_NOTSUP" ln -s "$L" "$MNT/t/link"
mt_expect_err "$EPERM_OR_NOTSUP" mknod "$MNT/t/0/fifo" p
mt_expect_err "$EPERM_OR_NOTSUP" mkfifo "$MNT/t/fifo"
mt_expect_err "$EPERM_OR_NOTSUP|File exists" mknod "$MNT/t/0/log" p
[ -f "$L" ] || mt_fail "log gone"
[ ! -e "$MNT/t/0/log2" ] && [ ! -e "$MNT/t/0/hard" ] && [ ! -e "$MNT/t/0/soft" ] ||
	mt_fail "a refused operation left a name behind: $(ls "$MNT/t/0")"
mt_same "$L" "$T/expect"

tl_say "names over 255 bytes: ENAMETOOLONG"
long=$(printf 'a%.0s' $(seq 256))
mt_expect_err 'File name too long' mkdir "$MNT/$long"
mt_expect_err 'File name too long' stat "$MNT/$long"
mt_expect_err 'File name too long' cat "$MNT/t/0/keys/$long"
mt_expect_err 'File name too long' stat "$MNT/t/0/at/$long"
long2000=$(printf 'b%.0s' $(seq 2000))
mt_expect_err 'File name too long' stat "$MNT/$long2000"

tl_say "invalid topic names: EINVAL"
mt_expect_err 'Invalid argument' mkdir "$MNT/.hidden"
mt_expect_err 'Invalid argument' mkdir "$MNT/a b"
mt_expect_err 'Invalid argument' mkdir "$MNT/a:b"
mt_expect_err 'Invalid argument' mkdir "$MNT/tab	x"
mt_expect_err 'Invalid argument' mkdir "$MNT/é"
mt_expect_err 'Invalid argument|File name too long' mkdir "$MNT/$(printf 'c%.0s' $(seq 250))"
mt_expect_ok mkdir "$MNT/$(printf 'd%.0s' $(seq 249))"
mt_expect_err 'Invalid argument|Operation not permitted|Permission denied|Operation not supported|Function not implemented' touch "$MNT/plainfile"
[ "$(ls -A "$MNT" | grep -vc '^d')" = 2 ] || mt_fail "unexpected names: $(ls -A "$MNT")"

tl_say "status files are read-only"
for f in anchor index stats; do
	mt_expect_err "$EPERM|Permission denied|Read-only" sh -c "echo x >>'$MNT/t/0/$f'"
	mt_expect_err "$EPERM_OR_NOTSUP|Permission denied|Read-only" rm "$MNT/t/0/$f"
done

tl_say "a message over max_message (1 MiB) is refused; the log is unchanged"
head -c 1500000 /dev/zero | tr '\0' 'm' >"$T/huge"
echo >>"$T/huge"
before=$(stat -c %s "$L")
mt_expect_err 'Message too long|File too large|Invalid argument|No space' sh -c "cat '$T/huge' >>'$L'"
after=$(stat -c %s "$L")
[ "$after" = "$before" ] ||
	mt_fail "cat of a 1,500,001-byte line was refused, yet the log grew by $((after - before)) bytes (a fragment of the refused line, now lines: $(awk '{ printf "%d ", length($0) }' "$L"))"
mt_same "$L" "$T/expect"
head -c 1000000 /dev/zero | tr '\0' 'n' >"$T/big1"
echo >>"$T/big1"
cat "$T/big1" >>"$L"
cat "$T/big1" >>"$T/expect"
mt_same "$L" "$T/expect"
kill -0 "$MT_PID" || mt_fail "daemon died"

tl_say "rmdir of a partition or a non-empty thing is refused; data intact"
mt_expect_err '.' rmdir "$MNT/t/0"
mt_expect_err '.' rmdir "$MNT/t/0/keys"
mt_same "$L" "$T/expect"

tl_say "a refusal repeated 300 times logs at most 20 lines a minute (a user cannot flood syslog)"
before=$(grep -c 'unlink refused (EPERM)' "$MT_ERR" || true)
for i in $(seq 300); do rm -f "$L" 2>/dev/null || true; done
after=$(grep -c 'unlink refused (EPERM)' "$MT_ERR" || true)
logged=$((after - before))
[ "$logged" -ge 1 ] || mt_fail "the refused unlinks logged nothing"
[ "$after" -le 20 ] || mt_fail "300 refused unlinks logged $after lines (at most 20 a minute per call site)"
mt_same "$L" "$T/expect"
echo "ok: 300 refused unlinks logged $logged lines"
kill -0 "$MT_PID" || mt_fail "daemon died"
