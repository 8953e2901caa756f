#!/bin/sh
# Makes the installed libshlog.a from the internal archive: all objects
# linked into one relocatable object whose hidden symbols (everything
# not marked SHLOG_API in shlog.h) are then made local, so the archive
# exports only the API and nothing internal can clash with a program's
# own names.   publib.sh OUT.a WORKDIR INTERNAL.a
set -eu
out=$1 work=$2 in=$3
rm -rf "$work" && mkdir -p "$work/o"
case $in in /*) ;; *) in=$PWD/$in ;; esac
# Meson makes thin archives (members are paths beside the archive).
if [ "$(head -c 7 "$in")" = '!<thin>' ]; then
	objs=$(cd "$(dirname "$in")" && ${AR:-ar} t "$in" | sed "s|^\([^/]\)|$(dirname "$in")/\1|")
else
	(cd "$work/o" && ${AR:-ar} x "$in")
	objs=$(ls "$work"/o/*.o)
fi
# shellcheck disable=SC2086 # object paths have no blanks (meson's names)
${LD:-ld} -r -o "$work/libshlog.o" $objs
${OBJCOPY:-objcopy} --localize-hidden "$work/libshlog.o"
rm -f "$out"
${AR:-ar} rcs "$out" "$work/libshlog.o"
