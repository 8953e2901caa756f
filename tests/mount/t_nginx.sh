#!/bin/bash
# nginx (docs/OPERATIONS.md, "Programs that write logs"): access_log and
# error_log in partition logs of a mount with allow_other; its workers run
# as www-data.  Requests make one access line each and a 404 one error
# line each; `nginx -s reopen` (SIGUSR1) makes the master reopen the logs
# and chown them to the worker user, which makes www-data the owner of the
# partitions, and then the workers reopen them as www-data (through
# allow_other).  Every line nginx wrote is in the logs exactly once.
# Then the same data dir mounted without allow_other: the workers' reopen
# is refused (EACCES, one error line per worker and log) and they keep
# writing through their old fds, so no line is lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients.sh"
mt_init
cl_need nginx
id www-data >/dev/null 2>&1 || mt_fail "no user www-data (the nginx package's)"
N=200       # successful requests per phase
E=50        # 404s per phase (one error_log line each)

mt_start -o allow_other,partitions=2
chmod 755 "$MNT"
mkdir "$MNT/web"          # partition 0: access log, 1: error log
ACC=$MNT/web/0/log
ERR=$MNT/web/1/log
NG=$T/ngx
mkdir -p "$NG/www/a" "$NG/tmp"
NGINX_PID=
mt_at_exit '[ -z "$NGINX_PID" ] || { kill -QUIT "$NGINX_PID" 2>/dev/null; tl_reap 100 "$NGINX_PID"; }'

# Write the config for a free loopback port (in PORT) and start nginx.
nginx_start()
{
	PORT=$(cl_free_port)
	cat >"$NG/nginx.conf" <<EOF
user www-data;
worker_processes 2;
daemon off;
pid $NG/nginx.pid;
error_log $ERR notice;
events { worker_connections 64; }
http {
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    log_format plain '\$request_uri \$status';
    access_log $ACC plain;
    server {
        listen 127.0.0.1:$PORT;
        root $NG/www;
        location /a/ { return 200 "ok\n"; }
    }
}
EOF
	nginx -t -p "$NG" -c "$NG/nginx.conf" -e stderr >"$T/nginx-t.out" 2>&1 ||
		{ cat "$T/nginx-t.out" >&2; mt_fail "nginx -t rejects the config"; }
	nginx -p "$NG" -c "$NG/nginx.conf" -e stderr 2>>"$T/nginx.stderr" &
	NGINX_PID=$!
	tl_wait_until 100 ready || { cat "$T/nginx.stderr" >&2; mt_fail "nginx does not listen on $PORT"; }
}
# Does something listen on PORT?
ready() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" 2>/dev/null; }

# Stop nginx (SIGQUIT: graceful) and check its exit status.
nginx_stop()
{
	kill -QUIT "$NGINX_PID"
	tl_reap 100 "$NGINX_PID" || mt_fail "nginx did not stop on SIGQUIT"
	NGINX_PID=
	[ "$TL_STATUS" = 0 ] || { cat "$T/nginx.stderr" >&2; mt_fail "nginx exit status $TL_STATUS"; }
}

# GET N /a/PHASE-i (200) and E /missing/PHASE-i (404) one after another.
requests()
{
	python3 - "$PORT" "$1" "$N" "$E" <<'EOF'
import sys, urllib.request, urllib.error
port, phase, n, e = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = "http://127.0.0.1:%s" % port
for i in range(n):
    with urllib.request.urlopen("%s/a/%s-%d" % (base, phase, i), timeout=10) as r:
        assert r.status == 200 and r.read() == b"ok\n"
for i in range(e):
    try:
        urllib.request.urlopen("%s/missing/%s-%d" % (base, phase, i), timeout=10)
        sys.exit("expected 404")
    except urllib.error.HTTPError as x:
        assert x.code == 404, x.code
EOF
}
# Make the requests of phase $1 and add the access lines they should give
# to $T/acc.want and the error lines to $T/err.want.
phase()
{
	requests "$1" || mt_fail "requests (phase $1)"
	for i in $(seq 0 $((N - 1))); do echo "/a/$1-$i 200"; done >>"$T/acc.want"
	for i in $(seq 0 $((E - 1))); do echo "/missing/$1-$i 404"; done >>"$T/acc.want"
	for i in $(seq 0 $((E - 1))); do
		echo "open() \"$NG/www/missing/$1-$i\" failed (2: No such file or directory)"
	done >>"$T/err.want"
}
# Check the access log (nginx writes each line before it answers: no wait
# is needed) and the error log's open() lines; $1 says when.
check_logs()
{
	cl_same_lines "$ACC" "$T/acc.want" "access log $1"
	grep -o 'open() "[^"]*" failed ([^)]*)' "$ERR" >"$T/err.open" || true
	cl_same_lines "$T/err.open" "$T/err.want" "error log's open() lines $1"
}
# Wait (10 s at most) until nginx has logged 'reopening logs' $1 times.
reopens() { [ "$(grep -c 'reopening logs' "$ERR")" -ge "$1" ]; }
: >"$T/acc.want"
: >"$T/err.want"

tl_say "nginx: master as root, 2 workers as www-data, logs in $MNT/web"
nginx_start
phase one
check_logs "after $((N + E)) requests"
[ "$(stat -c %U "$MNT/web/0")" = root ] || mt_fail "partition 0 is not root's before the reopen"

tl_say "nginx -s reopen (SIGUSR1): the master chowns the logs to www-data, the workers reopen"
nginx -p "$NG" -c "$NG/nginx.conf" -s reopen 2>>"$T/nginx.stderr" || mt_fail "nginx -s reopen"
# the master, then each worker, logs it
tl_wait_until 100 reopens 3 || mt_fail "not 3 'reopening logs' lines 10 s after the reopen"
for p in 0 1; do
	[ "$(stat -c %U "$MNT/web/$p")" = www-data ] ||
		mt_fail "partition $p after the reopen is $(stat -c %U "$MNT/web/$p")'s"
	[ "$(stat -c '%U %a' "$MNT/web/$p/log")" = "www-data 644" ] ||
		mt_fail "web/$p/log after the reopen: $(stat -c '%U %a' "$MNT/web/$p/log")"
done
echo "ok: the master's chown of each log made www-data the owner of partitions 0 and 1"
phase two
check_logs "after the reopen and $((N + E)) more requests"
nginx_stop
# Every line is one of nginx's, whole: DATE TIME [LEVEL] PID#TID: TEXT.
bad=$(grep -cvE '^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} \[(error|notice|warn|info)\] [0-9]+#[0-9]+: ' "$ERR" || true)
[ "$bad" = 0 ] || { grep -vE '^[0-9]{4}/' "$ERR" | head >&2; mt_fail "$bad lines of the error log are not nginx's"; }
grep -q 'exit$' "$ERR" || mt_fail "no exit line in the error log after SIGQUIT"
echo "ok: error log: $(wc -l <"$ERR") whole lines; nothing refused (every open() line is a 404's)"

tl_say "the same without allow_other: the workers' reopen is refused, their old fds go on"
mt_stop
mt_start -o partitions=2
nginx_start
phase three
nginx -p "$NG" -c "$NG/nginx.conf" -s reopen 2>>"$T/nginx.stderr" || mt_fail "nginx -s reopen"
tl_wait_until 100 reopens 6 || mt_fail "not 3 more 'reopening logs' lines 10 s after the reopen"
# each worker, refused for each log
for log in "$ACC" "$ERR"; do
	for _ in 1 2; do echo "open() \"$log\" failed (13: Permission denied)"; done
done >>"$T/err.want"
# Did both workers log their refused reopen of both logs?
want_refused() { [ "$(grep -c 'failed (13: Permission denied)' "$ERR")" -ge 4 ]; }
tl_wait_until 100 want_refused || mt_fail "the workers' refused reopens were not logged"
phase four
check_logs "after a refused reopen, $((4 * (N + E))) requests in all"
nginx_stop
