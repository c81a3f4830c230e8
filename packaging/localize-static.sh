#!/bin/sh
# localize-static.sh - make the internal symbols of the static libshmfs.a
# local, so a program linked against it sees only the public API, as with the
# shared library. The library's internals (lib/core helpers, join and heap
# internals) are compiled with hidden visibility; in an archive they would
# still be global. Linking every member into one relocatable object resolves
# the internal references, after which objcopy can localise every hidden
# symbol. The archive then holds that one object.
#
#   localize-static.sh IN.a OUT.a         (OUT may be IN)
#   localize-static.sh --installed LIBDIR/libshmfs.a
#       (a meson install script: the path is under the staged prefix)
set -eu
if [ "${1:-}" = "--installed" ]; then
	case $2 in
	/*) in=${DESTDIR:-}$2 ;;
	*) in=$MESON_INSTALL_DESTDIR_PREFIX/$2 ;;
	esac
	out=$in
else
	in=$1
	out=$2
fi
LD=${LD:-ld}
OBJCOPY=${OBJCOPY:-objcopy}
AR=${AR:-ar}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$LD" -r --whole-archive "$in" -o "$tmp/libshmfs.o"
"$OBJCOPY" --localize-hidden "$tmp/libshmfs.o"
"$AR" rcs "$tmp/libshmfs.a" "$tmp/libshmfs.o"
cp "$tmp/libshmfs.a" "$out.tmp"
mv "$out.tmp" "$out"
