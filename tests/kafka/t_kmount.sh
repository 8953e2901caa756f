#!/usr/bin/env bash
# t_kmount.sh — shlogfs -o backend=kafka mounting the mock cluster: the
# round trip (appended through the mount, read back through it and with
# kcat, byte-identical), at/N against kcat -o N, since/T (the index's times), 4 concurrent writers
# (each line once, each writer's in order, keyed lines of <topic>/log in
# kcat -K's partitions), fsync (an acknowledged line is in kcat and in
# the mount's log), random 4 KiB preads of a 1.9 MB log (200,000 lines)
# against its source, keys/, mkdir refused clearly, brokers down at mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kt_mount_init
kt_mock_start -t R:1 -t W:4 -t K:4 -t S:1 -t D:1
kt_mount

tl_say "round trip: 2,000 lines through the mount, read back through it and with kcat"
seq 1 2000 | sed 's/.*/line & of the round trip\tand a tab/' >"$T/in"
cat "$T/in" >>"$MNT/R/0/log"
[ "$(stat -c %s "$MNT/R/0/log")" = "$(stat -c %s "$T/in")" ] ||
	mt_fail "after close the log is $(stat -c %s "$MNT/R/0/log") bytes, not $(stat -c %s "$T/in")"
cmp "$T/in" "$MNT/R/0/log" || mt_fail "the mount's log differs from what was written"
kt_kcat R 0 >"$T/kcat" && cmp "$T/in" "$T/kcat" || mt_fail "kcat reads other bytes than were written"

tl_say "stats: the partition's Kafka state (watermarks, indexed offset and bytes, lag)"
grep -qx 'kafka_indexed_offset 2000' "$MNT/R/0/stats" || mt_fail "stats: $(grep kafka_ "$MNT/R/0/stats")"
grep -qx "kafka_indexed_bytes $(stat -c %s "$T/in")" "$MNT/R/0/stats" || mt_fail "stats: indexed bytes"
grep -qx 'kafka_log_start_offset 0' "$MNT/R/0/stats" || mt_fail "stats: log start"
grep -qx 'kafka_indexer_lag 0' "$MNT/R/0/stats" || mt_fail "stats: lag"
has_end() { grep -qx 'kafka_log_end_offset 2000' "$MNT/R/0/stats"; }
tl_wait_until 30 has_end || mt_fail "stats: log end: $(grep kafka_log_end "$MNT/R/0/stats")"
grep -q '^backend: kafka' "$MNT/.status" || mt_fail ".status has no backend lines"
grep -q '^shlogfs_kafka_brokers_up 1' "$MNT/.metrics" || mt_fail ".metrics: brokers_up"

tl_say "at/N is kcat -o N"
for n in 0 1 17 999 1999 2000; do
	kt_kcat R 0 "$n" >"$T/kcat.$n"
	cmp "$T/kcat.$n" "$MNT/R/0/at/$n" || mt_fail "at/$n differs from kcat -o $n"
done
mt_expect_err 'No such file' cat "$MNT/R/0/at/2001"

tl_say "since/T: the mock answers no offsets for times; the byte index's times serve it"
seq 1 300 | sed 's/.*/early &/' >>"$MNT/S/0/log"
sleep 1
t=$(date +%s)
sleep 1.2
seq 1 300 | sed 's/.*/late &/' >"$T/late"
cat "$T/late" >>"$MNT/S/0/log"
cmp "$MNT/S/0/since/$t" "$T/late" || mt_fail "since/$t is not the lines written after it"
cmp "$MNT/S/0/since/2000-01-01" "$MNT/S/0/log" || mt_fail "since/2000-01-01 is not the whole log"

tl_say "4 concurrent writers on one partition and 4 on <topic>/log: each line once, in each writer's order"
for w in 0 1 2 3; do
	"$MTIO" lines -b 7 "$MNT/W/0/log" "p$w" 1500 &
	"$MTIO" lines -K -b 5 "$MNT/K/log" "k$w" 1000 &
done
wait_rc=0
for j in $(jobs -p); do
	[ "$j" = "$MT_PID" ] || [ "$j" = "$KT_PID" ] || wait "$j" || wait_rc=1
done
[ "$wait_rc" = 0 ] || mt_fail "a writer failed"
kt_kcat W 0 >"$T/w0"
cmp "$T/w0" "$MNT/W/0/log" || mt_fail "W/0: the mount's log and kcat's differ"
for w in 0 1 2 3; do
	[ "$(grep "^p$w " "$T/w0" | awk '{ print $2 + 0 }')" = "$(seq 0 1499)" ] ||
		mt_fail "writer p$w: its lines are not each there once, in order"
done
[ "$(wc -l <"$T/w0")" = 6000 ] || mt_fail "W/0 holds $(wc -l <"$T/w0") lines, not 6,000"
# Each key in one partition: the one kcat -K (murmur2_random, the Java client's) puts it in.
kcat -C -b "$KT_ADDR" -t K -o 0 -e -q -f '%p %k\n' 2>/dev/null | sort | uniq -c >"$T/kparts"
[ "$(wc -l <"$T/kparts")" = 4 ] || mt_fail "keyed lines of K/log: $(cat "$T/kparts")"
printf 'k0\tx\nk1\tx\nk2\tx\nk3\tx\n' | kcat -P -b "$KT_ADDR" -t W -K '\t' -X partitioner=murmur2_random 2>/dev/null
kcat -C -b "$KT_ADDR" -t W -o 0 -e -q -f '%p %k\n' 2>/dev/null | grep ' k' | sort >"$T/kref"
awk '{ print $2, $3 }' "$T/kparts" | sort >"$T/kgot"
cmp "$T/kref" "$T/kgot" || mt_fail "keys landed elsewhere than kcat -K puts them: $(cat "$T/kgot") vs $(cat "$T/kref")"
for w in 0 1 2 3; do
	p=$(awk -v k="k$w" '$2 == k { print $1 }' "$T/kgot")
	[ "$(grep -c "^k$w	" "$MNT/K/$p/log")" = 1000 ] || mt_fail "key k$w: not 1,000 lines in K/$p"
	[ "$(grep "^k$w	" "$MNT/K/$p/log" | awk '{ print $2 + 0 }')" = "$(seq 0 999)" ] ||
		mt_fail "writer k$w: out of order in K/$p"
done

tl_say "fsync: a line is in kcat (and the mount's log) when fsync returns"
for i in 1 2 3; do
	"$MTIO" write -a -s "$MNT/R/0/log" "fsynced $i"$'\n' || mt_fail "write+fsync $i"
	kt_kcat R 0 2000 | grep -qx "fsynced $i" || mt_fail "fsync returned but kcat lacks 'fsynced $i'"
	tail -n 1 "$MNT/R/0/log" | grep -qx "fsynced $i" || mt_fail "fsync returned but the log lacks 'fsynced $i'"
done

tl_say "random reads: 300 preads of 4 KiB at seeded random places, each the source's bytes"
# 200,000 lines (1.9 MB: 200 index entries, 7 read spans of 256 KiB); most
# reads jump backwards, across spans and index entries (a stale span start
# made such a read return 0 in the middle of the log: 218 of these 300).
seq 1 200000 | sed 's/^/d /' >"$T/rand"
cat "$T/rand" >>"$MNT/D/0/log"
tl_wait_until 100 kt_size_is "$MNT/D/0/log" "$(stat -c %s "$T/rand")" ||
	mt_fail "D/0/log is $(stat -c %s "$MNT/D/0/log") bytes, not $(stat -c %s "$T/rand")"
python3 - "$T/rand" "$MNT/D/0/log" <<'PY' || mt_fail "random reads of D/0/log differ from its source"
import os, random, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_RDONLY)
rnd = random.Random(14)
bad = 0
for i in range(300):
    pos = rnd.randrange(len(data))
    got = os.pread(fd, 4096, pos)
    if got != data[pos:pos + 4096]:
        bad += 1
        if bad <= 5:
            print("read %d at byte %d: %d bytes, not the source's %d" %
                  (i, pos, len(got), len(data[pos:pos + 4096])), file=sys.stderr)
print("%d of 300 random reads differ" % bad, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

tl_say "keys/: the latest value, a tombstone"
printf 'color\tred\nsize\t9\ncolor\tblue\n' >>"$MNT/R/0/log"
[ "$(cat "$MNT/R/0/keys/color")" = blue ] || mt_fail "keys/color: '$(cat "$MNT/R/0/keys/color")'"
rm "$MNT/R/0/keys/color"
tl_wait_until 50 test ! -e "$MNT/R/0/keys/color" || mt_fail "keys/color after rm"
[ "$(cat "$MNT/R/0/keys/size")" = 9 ] || mt_fail "keys/size"

tl_say "mkdir: refused clearly (the mock has no Admin API)"
mt_expect_err 'Operation not supported' mkdir "$MNT/newtopic"
grep -q 'create topic newtopic refused by the cluster' "$MT_ERR" || mt_fail "no log line says why mkdir failed"

tl_say "brokers down at mount: the mount fails before daemonizing and names them"
mkdir "$T/mnt2"
start=$(date +%s%N)
if "$SHLOGFS" "$T/cache2" "$T/mnt2" -o backend=kafka,brokers=127.0.0.1:9 >"$T/down.out" 2>&1; then
	fusermount3 -u "$T/mnt2" || true
	mt_fail "shlogfs mounted with every broker down"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
mountpoint -q "$T/mnt2" && mt_fail "a mount is left at $T/mnt2"
grep -q '127.0.0.1:9' "$T/down.out" || mt_fail "the message does not name the brokers: $(cat "$T/down.out")"
[ "$ms" -lt 15000 ] || mt_fail "the failing mount took $ms ms"
tl_say "  $ms ms: $(head -n 1 "$T/down.out")"
