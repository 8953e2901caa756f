#!/bin/bash
# Reads through the index: at/N, since/TIME, keys/; the topic-level log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
mt_start -o partitions=4
mkdir "$MNT/t"
P=$MNT/t/0

tl_say "at/N reads the log from message N on"
for i in $(seq 0 9); do echo "m$i"; done >>"$P/log"
[ "$(cat "$P/at/0")" = "$(cat "$P/log")" ] || mt_fail "at/0 differs from log"
[ "$(cat "$P/at/3" | tr '\n' ' ')" = "m3 m4 m5 m6 m7 m8 m9 " ] ||
	mt_fail "at/3: '$(cat "$P/at/3" | tr '\n' ' ')'"
[ "$(head -n 1 "$P/at/7")" = m7 ] || mt_fail "head -n 1 at/7: $(head -n 1 "$P/at/7")"
[ "$(cat "$P/at/10" | wc -c)" = 0 ] || mt_fail "at/10 (the end) is not empty"
mt_expect_err 'Invalid argument|No such file' cat "$P/at/x"
mt_expect_err 'Invalid argument|No such file' cat "$P/at/03"
seq -f 'n%g' 10 3499 >>"$P/log"
[ "$(head -n 1 "$P/at/2345")" = n2345 ] || mt_fail "at/2345: $(head -n 1 "$P/at/2345")"
[ "$(cat "$P/at/999" | wc -l)" = 2501 ] || mt_fail "at/999 lines: $(cat "$P/at/999" | wc -l)"
[ "$(stat -c %s "$P/at/3000")" = "$(cat "$P/at/3000" | wc -c)" ] ||
	mt_fail "at/3000 st_size $(stat -c %s "$P/at/3000") differs from its read length"
sleep 0.1
tail -n 3 "$P/index"
echo "ok: at/N"

tl_say "since/TIME reads from the first message at or after TIME"
Q=$MNT/t/1
echo "before" >>"$Q/log"
sleep 1.2
ts=$(date +%s)
echo "after one" >>"$Q/log"
echo "after two" >>"$Q/log"
[ "$(cat "$Q/since/$ts" | tr '\n' ' ')" = "after one after two " ] ||
	mt_fail "since/$ts: '$(cat "$Q/since/$ts" | tr '\n' ' ')'"
rfc=$(date -u -d "@$ts" +%Y-%m-%dT%H:%M:%SZ)
[ "$(cat "$Q/since/$rfc" | tr '\n' ' ')" = "after one after two " ] ||
	mt_fail "since/$rfc: '$(cat "$Q/since/$rfc" | tr '\n' ' ')'"
[ "$(cat "$Q/since/0" | head -n 1)" = before ] || mt_fail "since/0"
plus1=$(TZ=Etc/GMT-1 date -d "@$ts" +%Y-%m-%dT%H:%M:%S+01:00)
[ "$(cat "$Q/since/$plus1" | tr '\n' ' ')" = "after one after two " ] ||
	mt_fail "since/$plus1: '$(cat "$Q/since/$plus1" | tr '\n' ' ')'"
frac=$(date -u -d "@$ts" +%Y-%m-%dT%H:%M:%S.000000000Z)
[ "$(cat "$Q/since/$frac" | tr '\n' ' ')" = "after one after two " ] ||
	mt_fail "since/$frac: '$(cat "$Q/since/$frac" | tr '\n' ' ')'"
[ "$(cat "$Q/since/$((ts + 3600))" | wc -c)" = 0 ] || mt_fail "since/future is not empty"
mt_expect_err 'Invalid argument|No such file' cat "$Q/since/yesterday"
echo "ok: since/$ts and since/$rfc"

tl_say "keys/: ls, cat, echo > keys/k, rm keys/k"
R=$MNT/t/2
printf 'alice\thello\nbob\tx\nnokey line\nalice\tbye\n' >>"$R/log"
[ "$(ls "$R/keys" | tr '\n' ' ')" = "alice bob " ] || mt_fail "ls keys: $(ls "$R/keys")"
[ "$(cat "$R/keys/alice")" = bye ] || mt_fail "keys/alice: '$(cat "$R/keys/alice")'"
[ "$(cat "$R/keys/bob")" = x ] || mt_fail "keys/bob: '$(cat "$R/keys/bob")'"
mt_expect_err 'No such file' cat "$R/keys/nobody"
echo "v1" >"$R/keys/carol"
[ "$(tail -n 1 "$R/log")" = "carol	v1" ] || mt_fail "echo > keys/carol appended '$(tail -n 1 "$R/log")'"
[ "$(cat "$R/keys/carol")" = v1 ] || mt_fail "keys/carol: '$(cat "$R/keys/carol")'"
echo "v2" >"$R/keys/carol"
[ "$(cat "$R/keys/carol")" = v2 ] || mt_fail "keys/carol after rewrite: '$(cat "$R/keys/carol")'"
rm "$R/keys/bob"
[ "$(tail -n 1 "$R/log")" = "bob	" ] || mt_fail "rm keys/bob appended '$(tail -n 1 "$R/log")'"
[ "$(ls "$R/keys" | tr '\n' ' ')" = "alice carol " ] || mt_fail "ls keys after rm: $(ls "$R/keys")"
mt_expect_err 'No such file' cat "$R/keys/bob"
printf 'my key\twith spaces\n' >>"$R/log"
[ "$(cat "$R/keys/my key")" = "with spaces" ] || mt_fail "keys/my key"
k255=$(printf 'k%.0s' $(seq 255))
printf '%s\tlong\n' "$k255" >>"$R/log"
[ "$(cat "$R/keys/$k255")" = long ] || mt_fail "255-byte key"
printf '%s\tlonger\n' "x$k255" >>"$R/log"
mt_expect_err 'File name too long' cat "$R/keys/x$k255"
rm "$R/keys/my key" "$R/keys/$k255"
printf 'dave\t\n' >>"$R/log"
mt_expect_err 'No such file' cat "$R/keys/dave"
mt_stop
mt_start
[ "$(ls "$R/keys" | tr '\n' ' ')" = "alice carol " ] || mt_fail "ls keys after remount: $(ls "$R/keys")"
[ "$(cat "$R/keys/alice")" = bye ] || mt_fail "keys/alice after remount"
echo "ok: keys"

tl_say "topic-level log spreads lines by key"
S=$MNT/t
for j in 1 2 3 4 5; do
	for k in $(seq 0 19); do printf 'key%d\tv%d\n' "$k" "$j" >>"$S/log"; done
done
# One write with many keyed lines: each line still goes by its key.
for k in $(seq 0 19); do printf 'key%d\tv6\n' "$k"; done >"$T/multi"
"$MTIO" write -a "$S/log" "$(cat "$T/multi")"$'\n'
for i in $(seq 1 40); do echo "free $i" >>"$S/log"; done
cat "$S"/[0-9]*/log >"$T/all"
for k in $(seq 0 19); do
	n=0
	for p in 0 1 2 3; do
		if grep -q "^key$k	" "$S/$p/log"; then
			n=$((n + 1))
			got=$(grep "^key$k	" "$S/$p/log" | cut -f2 | tr '\n' ' ')
			[ "$got" = "v1 v2 v3 v4 v5 v6 " ] || mt_fail "key$k in t/$p: $got"
		fi
	done
	[ "$n" = 1 ] || mt_fail "key$k is in $n partitions"
done
used=0
for p in 0 1 2 3; do
	c=$(grep -c '^free ' "$S/$p/log" || true)
	echo "t/$p: $c keyless lines, $(grep -c '^key' "$S/$p/log" || true) keyed"
	[ "$c" = 0 ] || used=$((used + 1))
done
[ "$used" -ge 2 ] || mt_fail "40 keyless lines all went to one partition"
[ "$(grep -c '^free ' "$T/all")" = 40 ] || mt_fail "keyless lines: $(grep -c '^free ' "$T/all")"
[ "$(grep -c '^key' "$T/all")" = 120 ] || mt_fail "keyed lines: $(grep -c '^key' "$T/all")"

tl_say "reading the topic-level log"
cat "$S/log" >"$T/topicread" || mt_fail "cat t/log failed"
echo "t/log reads $(wc -l <"$T/topicread") lines; partitions hold $(wc -l <"$T/all")"
[ "$(stat -c %s "$S/log")" = "$(wc -c <"$T/topicread")" ] ||
	echo "note: t/log st_size $(stat -c %s "$S/log") differs from its read length"
if [ -s "$T/topicread" ]; then
	sort "$T/all" >"$T/all.s"
	sort "$T/topicread" >"$T/read.s"
	[ -z "$(comm -13 "$T/all.s" "$T/read.s")" ] ||
		mt_fail "t/log serves lines no partition holds: $(comm -13 "$T/all.s" "$T/read.s" | head -n 3)"
	if cmp -s "$T/all.s" "$T/read.s"; then
		echo "note: t/log reads every message of every partition once"
	fi
fi
