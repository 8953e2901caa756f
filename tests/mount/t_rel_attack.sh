#!/bin/bash
# Reliability trial 9 (issue 10): a hostile local user under allow_other.
#
# The daemon runs as root with -o allow_other and a 1,024-fd limit.  While
# root keeps appending to and reading its own topic, a second,
# unprivileged user runs the attacks of issue 10 and more of their kind,
# all at once:
#   - reading what is not hers: root's 0700 topic, a 0700 partition
#     through <topic>/log, the data dir itself, other topics in
#     /.metrics and /.status, the data dir's path, inode numbers;
#   - changing what is not hers: rmdir, /.delete, chmod, chown, appends through
#     <topic>/log, links and files planted in the data dir;
#   - starving the others: a stat flood on /.metrics, hundreds of
#     handles of the status files, handles holding unfinished lines,
#     topics and partitions until refused, logs held open until refused.
# Root meanwhile runs shlogctl sync (which must signal nothing else).
# Checked: every attack gets its errno and changes nothing; nothing
# outside the data dir changes (a canary tree); each of root's operations
# completes (10 s bound: a liveness check, not a speed one) and every line
# root appended is stored exactly once; the daemon's RSS and fd count stay
# within their bounds; it unmounts cleanly.
#
# Environment: REL_ROUNDS (3) rounds of the attack loop, REL_HOLD (400)
# handles with unfinished lines, REL_FLOOD (2) stat-flood processes.
# Prints "FIGURE attack ..." for scripts/reliability-mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mt_init
# the attackers' processes hold the mount: let them go before the unmount
trap 'st=$?; touch "$T/stop" "$T/release" 2>/dev/null; sleep 0.5; (exit $st); mt_cleanup' EXIT
mt_user
U=$TL_USER
PY=/usr/bin/python3
ROUNDS=${REL_ROUNDS:-3}
HOLD=${REL_HOLD:-400}
FLOOD=${REL_FLOOD:-2}
mt_need_exe SHLOGCTL
n_attacks=0 n_seen=0

# ---- helpers ---------------------------------------------------------

# Run "$2..." as the user; its errno name (or "ok") must match the ERE $1.
attack()
{
	local want=$1 got
	shift
	got=$(tl_as "$U" "$PY" "$T/try.py" "$@" 2>&1) || true
	n_attacks=$((n_attacks + 1))
	printf '%s\n' "$got" | grep -qxE "$want" ||
		mt_fail "attack '$*': expected /$want/, got '$got'"
}

# The daemon's resident memory (kB) and open fds.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$MT_PID/status"; }
nfds() { find "/proc/$MT_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# try.py OP ARGS: one call, prints "ok" or the errno's name.
cat >"$T/try.py" <<'EOF'
import errno, os, sys
op, a = sys.argv[1], sys.argv[2:]
try:
    if op == "read":
        with open(a[0], "rb") as f: f.read(1 << 20)
    elif op == "append":
        fd = os.open(a[0], os.O_WRONLY | os.O_APPEND)
        try: os.write(fd, a[1].encode() + b"\n")
        finally: os.close(fd)
    elif op == "rmdir": os.rmdir(a[0])
    elif op == "mkdir": os.mkdir(a[0])
    elif op == "chmod": os.chmod(a[0], int(a[1], 8))
    elif op == "chown": os.chown(a[0], int(a[1]), int(a[2]))
    elif op == "symlink": os.symlink(a[0], a[1])
    elif op == "create":
        os.close(os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    elif op == "list": os.listdir(a[0])
    elif op == "delete":
        fd = os.open(a[0] + "/.delete", os.O_WRONLY)
        try: os.write(fd, a[1].encode() + b"\n")
        finally: os.close(fd)
    else: sys.exit("unknown op " + op)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
# hold.py MODE N SIZE FILE RELEASE: open FILE N times (or the first N
# names a glob pattern FILE matches), write SIZE bytes
# without a newline to each (line) or read a byte of each (read); print
# "ok K ERR=COUNT..."; hold every handle until RELEASE exists.
cat >"$T/hold.py" <<'EOF'
import errno, glob, os, sys, time
mode, n, size, path, release = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
paths = sorted(glob.glob(path)) if any(c in path for c in "*?[") else [path] * n
n = min(n, len(paths))
fds, errs = [], {}
for i in range(n):
    try:
        p = paths[i]
        if mode == "line":
            fd = os.open(p, os.O_WRONLY | os.O_APPEND)
            fds.append(fd)
            os.write(fd, b"x" * size)
        else:
            fd = os.open(p, os.O_RDONLY)
            fds.append(fd)
            os.read(fd, 1)
    except OSError as e:
        k = errno.errorcode.get(e.errno, str(e.errno))
        errs[k] = errs.get(k, 0) + 1
print("ok %d" % (n - sum(errs.values())), " ".join("%s=%d" % kv for kv in sorted(errs.items())), flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
EOF
chmod 644 "$T/try.py" "$T/hold.py"

# hold LABEL MODE N SIZE FILE: hold.py as the user (output in $T/held.LABEL, 60 s bound).
hold()
{
	local out=$T/held.$1
	shift
	tl_as "$U" "$PY" "$T/hold.py" "$@" "$T/release" >"$out" 2>&1 &
	HOLDERS+=($!)
	tl_wait_until 600 grep -qs '^ok' "$out" || mt_fail "hold.py $*: $(cat "$out")"
}

# Root's service loop: append "root N" and read the log back, each
# operation bounded by 10 s; stops when $T/stop exists.
root_loop()
{
	local i=0
	while [ ! -e "$T/stop" ]; do
		timeout 10 sh -c "printf 'root %d\n' $i >>'$MNT/rt/0/log'" ||
			{ echo "append $i failed" >>"$T/root.err"; }
		timeout 10 tail -n 1 "$MNT/rt/0/log" >/dev/null ||
			{ echo "read $i failed" >>"$T/root.err"; }
		i=$((i + 1))
		sleep 0.05
	done
	echo "$i" >"$T/root.count"
}

# A stat flood on /.metrics as the user until $T/stop exists.
flood()
{
	tl_as "$U" "$PY" -c '
import os, sys
n = 0
while not os.path.exists(sys.argv[2]):
    for _ in range(200):
        os.stat(sys.argv[1]); n += 1
print(n)' "$MNT/.metrics" "$T/stop" >"$T/flood.$1" 2>&1
}

# ---- set-up ----------------------------------------------------------

mkdir -p "$T/canary/sub"
echo "canary" >"$T/canary/file"
ln -s /etc/passwd "$T/canary/link"
canary_sum() { (cd "$T/canary" && find . -printf '%p %m %u %s %l\n' | sort && cat file) | sha256sum; }
C0=$(canary_sum)
D0=$(stat -c '%a %U' "$DATADIR")
chmod 755 "$T"

# The daemon under a 1,024-fd limit (soft and hard, so it cannot raise it).
REAL=$SHLOGFS
SHLOGFS=$T/shlogfs-limited
printf '#!/bin/sh\nexec prlimit --nofile=1024:1024 "%s" "$@"\n' "$REAL" >"$SHLOGFS"
chmod 755 "$SHLOGFS"
mt_start -o allow_other,max_topics_per_user=20,max_parts_per_user=200,partitions=2
M=$MNT
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$MT_PID/limits")" = 1024 ] ||
	mt_fail "the daemon's fd limit is not 1024"
mkdir "$M/rt"                       # root's private topic
chmod 700 "$M/rt"
printf 'secret-rt\n' >>"$M/rt/0/log"
mkdir "$M/mixed"                    # readable topic, one private partition
chmod 755 "$M/mixed" "$M/mixed/0"
chmod 700 "$M/mixed/1"
printf 'public-0\n' >>"$M/mixed/0/log"
printf 'secret-1\n' >>"$M/mixed/1/log"
chmod 1777 "$M"                     # a shared root, like /tmp
tl_as "$U" mkdir "$M/u"             # the user's own topic
R0=$(rss_kb) F0=$(nfds)
echo "daemon at start: RSS $R0 kB, $F0 fds"

# ---- the attacks -----------------------------------------------------

HOLDERS=()
rm -f "$T/stop" "$T/release" "$T/root.err"
root_loop &
ROOT_PID=$!
FLOODERS=()
for i in $(seq 1 "$FLOOD"); do flood "$i" & FLOODERS+=($!); done

# A process of root's that a forged sync request might signal.
sleep 600 &
VICTIM=$!

tl_say "handles: status texts, unfinished lines, logs held open"
hold metrics read 100 0 "$M/.metrics"
hold status read 100 0 "$M/.status"
hold index read 100 0 "$M/mixed/0/index"
hold lines line "$HOLD" 1048000 "$M/u/0/log"

for r in $(seq 1 "$ROUNDS"); do
	tl_say "round $r: confidentiality"
	attack EACCES read "$M/rt/0/log"
	attack EACCES read "$M/rt/log"
	attack EACCES read "$M/mixed/log"
	attack EACCES read "$M/mixed/1/log"
	attack EACCES read "$M/mixed/1/at/0"
	attack EACCES list "$DATADIR/rt"
	attack EACCES list "$DATADIR/u"       # even her own topic's files are the daemon's
	attack EACCES read "$DATADIR/rt/meta"
	# what the root files show her (once her own handles fill her memory
	# share, her opens of them are refused with ENOBUFS: that is allowed)
	attack 'ok|ENOBUFS' read "$M/.metrics"
	if tl_as "$U" cat "$M/.metrics" "$M/.status" >"$T/seen" 2>/dev/null; then
		n_seen=$((n_seen + 1))
	fi
	! grep -qE 'topic="rt"|topic="mixed",partition="1"|rt/0|mixed/1|'"$DATADIR" "$T/seen" ||
		mt_fail "the root files show the user what she may not read: $(grep -E 'rt|mixed.*1|'"$DATADIR" "$T/seen" | head -3)"
	# st_ino of every name she can reach (readdir's d_ino is "unknown" for files)
	big=$({ tl_as "$U" find "$M" -xdev -print0 2>/dev/null || true; } |
		xargs -0 -r stat -c %i 2>/dev/null | sort -n | tail -1)
	[ "${big:-0}" -lt 100000000 ] || mt_fail "inode number $big looks like an address"

	tl_say "round $r: integrity"
	attack 'EACCES|EPERM|ENOTEMPTY' rmdir "$M/rt"
	attack 'EACCES|EPERM|ENOTEMPTY' rmdir "$M/mixed"
	attack 'EPERM' delete "$M" rt
	attack 'EPERM' delete "$M" mixed
	attack 'EPERM' chmod "$M/mixed" 777
	attack 'EPERM' chown "$M/mixed" "$(id -u "$U")" "$(id -g "$U")"
	attack 'EACCES' append "$M/mixed/log" "forged-through-topic-log"
	attack 'EACCES' append "$M/mixed/0/log" "forged"
	attack 'EACCES|EPERM' symlink /etc/shadow "$M/mixed/0/link"
	attack 'EACCES|EPERM' symlink /etc/shadow "$M/u/0/anchor.tmp"
	attack 'EACCES' create "$DATADIR/u/0/anchor.new"
	attack 'EACCES' symlink /etc/passwd "$DATADIR/u/0/keys.tmp"
	attack 'EACCES' symlink "$T/canary/file" "$DATADIR/rt/0/keys.tmp"

	tl_say "round $r: starvation"
	for i in $(seq 1 30); do
		tl_as "$U" mkdir "$M/u$r-$i" 2>/dev/null || break
	done
	attack EDQUOT mkdir "$M/u-over-$r"
	next=$(find "$M/u" -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l)
	while tl_as "$U" mkdir "$M/u/$next" 2>/dev/null; do next=$((next + 1)); done
	attack 'EDQUOT|ENOSPC' mkdir "$M/u/$next"
	# every log she can open, hers and the readable ones of others
	hold logs$r read 2000 0 "$M/*/[0-9]*/log"
	"$SHLOGCTL" sync "$DATADIR" >/dev/null || mt_fail "shlogctl sync failed"
	kill -0 "$VICTIM" || mt_fail "the victim process was signalled"
done

R1=$(rss_kb) F1=$(nfds)
echo "daemon under attack: RSS $R1 kB (+$((R1 - R0)) kB), $F1 fds"
for f in "$T"/held.*; do echo "$(basename "$f"): $(head -1 "$f")"; done

# ---- bounds and service ------------------------------------------------

# RSS: the held-bytes cap (max_held, 64 MiB) plus 48 MiB for shared texts,
# FUSE threads and their buffers.
[ $((R1 - R0)) -lt $((112 * 1024)) ] || mt_fail "RSS grew by $((R1 - R0)) kB under attack"
[ "$F1" -le 1024 ] || mt_fail "$F1 fds open"
read -r _ lines_ok _ <"$T/held.lines"
# max_held_per_user (16 MiB) holds about 15 lines of 1 MB; the rest are refused
refused=$(grep -o 'ENOBUFS=[0-9]*' "$T/held.lines" | cut -d= -f2)
[ "$lines_ok" -ge 8 ] && [ "$lines_ok" -le 16 ] ||
	mt_fail "$lines_ok unfinished lines of 1 MB held under a 16 MiB share"
[ "${refused:-0}" -ge $((HOLD - 16)) ] || mt_fail "only ${refused:-0} unfinished lines refused"
touch "$T/stop" "$T/release"
wait "$ROOT_PID" || true
for p in "${FLOODERS[@]}" "${HOLDERS[@]}"; do wait "$p" 2>/dev/null || true; done
kill "$VICTIM" 2>/dev/null || true
[ ! -s "$T/root.err" ] || mt_fail "root was not served: $(head -5 "$T/root.err")"
n_root=$(cat "$T/root.count")
stats=$(awk '{ n += $1 } END { print n + 0 }' "$T"/flood.*)
[ "$n_root" -ge 10 ] || mt_fail "root ran only $n_root rounds"
[ "$stats" -ge 1000 ] || mt_fail "the stat flood made only $stats calls"
[ "$n_seen" -ge 1 ] || mt_fail "the user could never read the root files: the leak check did not run"

tl_say "remount: root's lines each once, the private topics intact"
mt_stop
SHLOGFS=$REAL
mt_start -o allow_other
grep -c '^root [0-9]*$' "$M/rt/0/log" >"$T/nroot"
[ "$(cat "$T/nroot")" = "$n_root" ] || mt_fail "$(cat "$T/nroot") root lines stored, $n_root appended"
[ "$(grep '^root ' "$M/rt/0/log" | sort | uniq -d | wc -l)" = 0 ] || mt_fail "a root line is stored twice"
grep -qx secret-rt "$M/rt/0/log" && grep -qx secret-1 "$M/mixed/1/log" || mt_fail "root's data changed"
! grep -q forged "$M/mixed/0/log" "$M/mixed/1/log" || mt_fail "a forged line was stored"
[ "$(stat -c %a "$M/mixed")" = 755 ] || mt_fail "the topic's mode changed"
[ "$(canary_sum)" = "$C0" ] || mt_fail "the canary tree outside the data dir changed"
[ "$(stat -c '%a %U' "$DATADIR")" = "$D0" ] || mt_fail "the data dir is $(stat -c '%a %U' "$DATADIR"), was $D0"
for d in "$DATADIR"/*/ "$DATADIR"/*/*/; do
	[ "$(stat -c '%a %U' "$d")" = "700 root" ] || mt_fail "$d is $(stat -c '%a %U' "$d")"
done
mt_stop

echo "FIGURE attack: $n_attacks refused attacks, $ROUNDS rounds, $stats stats of /.metrics," \
	"$lines_ok unfinished lines held, RSS +$((R1 - R0)) kB, $F1 fds (limit 1024)," \
	"$n_root root rounds served, 0 lost"
