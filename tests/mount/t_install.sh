#!/bin/bash
# `meson install --destdir` puts every file in place: the two programs,
# the mount helper links, libshlog with its header and pkg-config file,
# the man pages and the systemd units.  Then a program built against the
# installed library through pkg-config runs, and the man pages format
# without warnings.  Needs no FUSE mount.
#
# Environment (tests/mount/meson.build): SHLOG_BUILD_ROOT and the
# install directories SHLOG_PREFIX, SHLOG_BINDIR, ... as configured.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for v in SHLOG_BUILD_ROOT SHLOG_PREFIX SHLOG_BINDIR SHLOG_SBINDIR \
	 SHLOG_LIBDIR SHLOG_INCLUDEDIR SHLOG_MANDIR; do
	[ -n "${!v:-}" ] || mt_fail "$v is not set (run through meson test)"
done
T=$(tl_tmpdir inst)
trap 'rm -rf "$T"' EXIT
D=$T/root

# A path relative to the prefix made absolute (meson allows either).
abs() { case $1 in /*) echo "$1" ;; *) echo "$SHLOG_PREFIX/$1" ;; esac; }
BIN=$(abs "$SHLOG_BINDIR")
SBIN=$(abs "$SHLOG_SBINDIR")
LIB=$(abs "$SHLOG_LIBDIR")
INC=$(abs "$SHLOG_INCLUDEDIR")
MAN=$(abs "$SHLOG_MANDIR")
UNITS=$SHLOG_PREFIX/lib/systemd/system

tl_say "meson install --destdir $D"
meson install -C "$SHLOG_BUILD_ROOT" --no-rebuild --quiet --destdir "$D" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; mt_fail "meson install failed"; }

expect=(
	"$BIN/shlogfs" "$BIN/shlogctl"
	"$SBIN/mount.shlogfs" "$SBIN/mount.fuse.shlogfs"
	"$LIB/libshlog.a" "$LIB/pkgconfig/shlog.pc" "$INC/shlog.h"
	"$MAN/man8/shlogfs.8" "$MAN/man8/shlogctl.8"
	"$UNITS/shlogfs.service" "$UNITS/mnt-shlog.mount"
)
missing=0
for f in "${expect[@]}"; do
	if [ -e "$D$f" ] || [ -L "$D$f" ]; then
		echo "ok: $f"
	else
		echo "MISSING: $f" >&2
		missing=1
	fi
done
(cd "$D" && find . ! -type d | sort) >"$T/list"
echo "installed:"
sed 's/^\./  /' "$T/list"
[ "$missing" = 0 ] || mt_fail "files missing from the install"

tl_say "programs and mount helper links"
for f in "$BIN/shlogfs" "$BIN/shlogctl"; do
	[ -x "$D$f" ] || mt_fail "$f is not executable"
done
"$D$BIN/shlogfs" -V | grep -q "^shlogfs version $(sed -n "s/^#define SHLOG_VERSION \"\(.*\)\"/\1/p" "$D$INC/shlog.h")" ||
	mt_fail "installed shlogfs -V"
for l in mount.shlogfs mount.fuse.shlogfs; do
	[ -L "$D$SBIN/$l" ] || mt_fail "$SBIN/$l is not a symlink"
	target=$(readlink "$D$SBIN/$l")
	case $target in
	/*) resolved=$D$target ;;
	*) resolved=$D$SBIN/$target ;;
	esac
	[ "$(readlink -f "$resolved")" = "$(readlink -f "$D$BIN/shlogfs")" ] ||
		mt_fail "$SBIN/$l points to $target, not $BIN/shlogfs"
	echo "ok: $l -> $target"
done

tl_say "systemd units name the installed daemon"
grep -q "^ExecStart=$BIN/shlogfs -f " "$D$UNITS/shlogfs.service" ||
	mt_fail "shlogfs.service ExecStart: $(grep ExecStart= "$D$UNITS/shlogfs.service")"
grep -qx 'Type=fuse.shlogfs' "$D$UNITS/mnt-shlog.mount" || mt_fail "mnt-shlog.mount Type="
grep -qx 'Where=/mnt/shlog' "$D$UNITS/mnt-shlog.mount" || mt_fail "mnt-shlog.mount Where="
if grep -q '@[a-z]*@' "$D$UNITS"/*; then
	mt_fail "unsubstituted @variables@ in the units"
fi
if command -v systemd-analyze >/dev/null; then
	# unit syntax only: this machine may not run systemd
	for u in shlogfs.service mnt-shlog.mount; do
		# (the daemon is in the destdir, not yet at its ExecStart path)
		out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
		      "$D$UNITS/$u" 2>&1 |
		      grep -v "Command $BIN/shlogfs is not executable" || true)
		[ -z "$out" ] || { echo "$out"; mt_fail "systemd-analyze verify $u"; }
		echo "ok: systemd-analyze verify $u"
	done
fi

tl_say "a program built with pkg-config against the installed library"
cat >"$T/use.c" <<'EOF'
#include <shlog.h>
#include <stdio.h>
int main(void)
{
	struct shlog_options o;
	shlog_options_init(&o);
	printf("%s %u %s\n", SHLOG_VERSION, o.stride, shlog_strerror(-2));
	return shlog_topic_name_check(".metrics") == 0; /* dot names are no topics */
}
EOF
export PKG_CONFIG_PATH=$D$LIB/pkgconfig
pcflags=(--define-variable=prefix="$D$SHLOG_PREFIX")
cflags=$(pkg-config "${pcflags[@]}" --cflags shlog) || mt_fail "pkg-config --cflags shlog"
libs=$(pkg-config "${pcflags[@]}" --static --libs shlog) || mt_fail "pkg-config --libs shlog"
echo "cflags: $cflags"
echo "libs: $libs"
# shellcheck disable=SC2086
cc -o "$T/use" "$T/use.c" $cflags $libs || mt_fail "building against the installed libshlog"
"$T/use" || mt_fail "the program linked with libshlog failed"

tl_say "man pages format without warnings"
for p in shlogfs shlogctl; do
	f=$D$MAN/man8/$p.8
	[ "$(head -c 2 "$f")" != "" ] || mt_fail "$p.8 is empty"
	out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$f" 2>&1)
	[ -z "$out" ] || { echo "$out"; mt_fail "groff warnings in $p.8"; }
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	[ -z "$out" ] || { echo "$out"; mt_fail "man -l warnings in $p.8"; }
	LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q "^NAME" ||
		mt_fail "man -l $p.8 shows no NAME section"
	echo "ok: $p.8"
done
echo PASS
