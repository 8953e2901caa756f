#!/usr/bin/env bash
# t_kclient.sh — the Kafka backend's client (fs/kclient.c) against the
# mock cluster, through tests/kafka/kclient_test: 10,000 messages from 4
# writers read back once each, in order, byte-identical (and as kcat
# reads them); key partitioning as kcat -K's; a broker down fails the
# wait with EIO within message.timeout.ms and up again delivers; injected
# retriable errors still deliver once; a full queue is EAGAIN; a fatal producer error fails the
# wait and the rebuilt producer delivers; EMSGSIZE; bad options refused
# with librdkafka's text.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_init
[ -x "${KCLIENT_TEST:-}" ] || kt_fail "KCLIENT_TEST is not the built test program: '${KCLIENT_TEST:-}'"
kt_mock_start -t T:4 -t K1:6 -t K2:6 -t K3:6 -t K4:6 -t E:1 -t R:1 -t F:1
B=${KT_ADDR//,/+}   # the mount option's form: HOST:PORT+HOST:PORT
KC=("$KCLIENT_TEST" -o "brokers=$B")

# Partition and key of every message of topic $1, sorted (kcat).
kt_keys_of()
{
	kcat -C -b "$KT_ADDR" -t "$1" -o 0 -e -q -f '%p %k %s\n' 2>/dev/null | sort
}

tl_say "round trip: 4 writers, 10,000 messages, read back by the client's reader and by kcat"
mkdir "$T/rt"
"${KC[@]}" roundtrip T 4 "$T/rt" || kt_fail "roundtrip"
for p in 0 1 2 3; do
	kcat -C -b "$KT_ADDR" -t T -p "$p" -o 0 -e -q >"$T/kcat.$p" 2>"$T/kcat.err" ||
		kt_fail "kcat -C -p $p: $(cat "$T/kcat.err")"
	cmp "$T/rt/p$p" "$T/kcat.$p" || kt_fail "partition $p: the reader and kcat read different bytes"
	[ "$(wc -l <"$T/kcat.$p")" = 2500 ] || kt_fail "partition $p holds $(wc -l <"$T/kcat.$p") messages, not 2,500"
done

tl_say "key partitioning: as kcat -K with the same partitioner (default murmur2_random; consistent_random)"
"${KC[@]}" keys K1 300 || kt_fail "keys K1"
seq 0 299 | sed 's/.*/k&\tv&/' | kcat -P -b "$KT_ADDR" -t K2 -K '\t' -X partitioner=murmur2_random 2>"$T/kcat.err" ||
	kt_fail "kcat -P -K: $(cat "$T/kcat.err")"
kt_keys_of K1 >"$T/k1"
kt_keys_of K2 >"$T/k2"
[ "$(wc -l <"$T/k1")" = 300 ] || kt_fail "K1 holds $(wc -l <"$T/k1") messages, not 300"
[ "$(cut -d' ' -f1 "$T/k1" | sort -u | wc -l)" -gt 1 ] || kt_fail "all keys landed in one partition"
cmp "$T/k1" "$T/k2" || kt_fail "the client put keys in other partitions than kcat -K (murmur2_random)"
"${KC[@]}" -o kafka.partitioner=consistent_random keys K3 300 || kt_fail "keys K3"
seq 0 299 | sed 's/.*/k&\tv&/' | kcat -P -b "$KT_ADDR" -t K4 -K '\t' 2>"$T/kcat.err" ||
	kt_fail "kcat -P -K: $(cat "$T/kcat.err")"
kt_keys_of K3 >"$T/k3"
kt_keys_of K4 >"$T/k4"
cmp "$T/k3" "$T/k4" || kt_fail "the client put keys in other partitions than kcat -K (librdkafka's default)"
! cmp -s "$T/k1" "$T/k3" || kt_fail "the two partitioners placed every key alike: the comparison proves nothing"

tl_say "broker down: the wait fails with EIO within message.timeout.ms; up again, a produce is delivered"
kt_ctl leader E 0 2
kt_ctl down 2
# librdkafka's default reconnect backoff lets its idempotent producer report
# the timeout seconds late (5.2-5.7 s for 1.5 s here): the wait's own bound.
"${KC[@]}" -o kafka.message.timeout.ms=1500 outage E 1500 </dev/null >"$T/outage.out" 2>"$T/outage.err" ||
	kt_fail "outage, default backoff: $(grep -v librdkafka "$T/outage.err")"
tl_say "  default reconnect backoff: $(cat "$T/outage.out") ms"
mkfifo "$T/go"
"${KC[@]}" -o kafka.message.timeout.ms=1500 -o kafka.reconnect.backoff.max.ms=200 outage E 1500 <"$T/go" >"$T/outage.out" 2>"$T/outage.err" &
pid=$!
exec 8>"$T/go"
tl_wait_until 100 grep -q '^eio' "$T/outage.out" || {
	exec 8>&-; wait "$pid" || true
	kt_fail "no EIO with the leader down: $(cat "$T/outage.err")"
}
kt_ctl up 2
echo go >&8
exec 8>&-
wait "$pid" || kt_fail "after up: $(cat "$T/outage.err")"
grep -q '^delivered' "$T/outage.out" || kt_fail "outage: $(cat "$T/outage.out")"
tl_say "  $(head -n 1 "$T/outage.out") ms; $(tail -n 1 "$T/outage.out")"
# "lost0" failed its wait but may still land (EIO: not known to be delivered),
# and so may a "backI-0" that failed while the producer reconnected.
kcat -C -b "$KT_ADDR" -t E -p 0 -o 0 -e -q >"$T/e" 2>/dev/null
got=$(sed -n 's/^delivered //p' "$T/outage.out")
[ "$(grep -cx "$got" "$T/e")" = 1 ] || kt_fail "E [0] does not hold '$got' once: $(cat "$T/e")"
[ -z "$(sort "$T/e" | uniq -d)" ] || kt_fail "E [0] holds a message twice: $(cat "$T/e")"
[ "$(grep -vcx 'lost0\|back[0-4]-0' "$T/e")" = 0 ] || kt_fail "E [0] holds other messages: $(cat "$T/e")"

tl_say "injected retriable errors: 100 messages delivered once each, in order"
kt_ctl errors produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS
"${KC[@]}" produce R 0 100 || kt_fail "produce after retriable errors"
kcat -C -b "$KT_ADDR" -t R -p 0 -o 0 -e -q >"$T/r" 2>/dev/null
seq 0 99 | sed 's/^/m/' | cmp - "$T/r" || kt_fail "R [0] is not m0..m99 once each in order"

tl_say "fatal producer error: the wait fails with EIO, the producer is rebuilt and delivers"
kt_ctl errors produce OUT_OF_ORDER_SEQUENCE_NUMBER
"${KC[@]}" -o kafka.message.timeout.ms=5000 fatal F 2>"$T/fatal.err" || kt_fail "fatal: $(cat "$T/fatal.err")"
grep -q 'fatal producer error' "$T/fatal.err" || kt_fail "the fatal error was not logged"

tl_say "a message over message.max.bytes: EMSGSIZE at produce"
"${KC[@]}" -o kafka.message.max.bytes=1000 msgsize R 2000 || kt_fail "msgsize"

tl_say "backpressure: a full producer queue is EAGAIN, and there is room once it drains"
"${KC[@]}" -o kafka.queue.buffering.max.messages=10 -o kafka.linger.ms=200 queuefull R 10 || kt_fail "queuefull"

tl_say "bad options: refused with librdkafka's text"
out=$("$KCLIENT_TEST" -o kafka.no.such.property=1 badopt) || kt_fail "an unknown kafka. property was accepted"
[[ $out == *'kafka.no.such.property: No such configuration property'* ]] || kt_fail "unknown property: '$out'"
out=$("$KCLIENT_TEST" -o kafka.acks=maybe badopt) || kt_fail "acks=maybe was accepted"
[[ $out == *'kafka.acks: Invalid value for configuration property'* ]] || kt_fail "bad value: '$out'"
for b in 'brokers=' 'brokers=a:1++b:2' 'brokers=+a:1'; do
	out=$("$KCLIENT_TEST" -o "$b" badopt) || kt_fail "'$b' was accepted"
done
"$KCLIENT_TEST" -o 'brokers=a:1;b:2' -o kafka.client.id=x badopt >/dev/null 2>&1 &&
	kt_fail "good options were refused by badopt"

tl_say "PASS"
