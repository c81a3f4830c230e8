#!/bin/bash
# debs.sh - build the Debian source and binary packages of this checkout's
# HEAD, as a Debian maintainer would: an upstream tarball made with
# `git archive` (shmfs_VERSION.orig.tar.gz), unpacked, packaging/debian copied
# to ./debian, then `dpkg-buildpackage -us -uc`; lintian checks the result.
#
#   tools/debs.sh [OUTDIR]       (default build-deb/; needs root only to
#                                 install the build dependencies)
#
# Leaves in OUTDIR: the .orig.tar.gz, .debian.tar.xz, .dsc, the .debs, the
# .changes, and lintian.txt (lintian -EvIL +pedantic; any error or warning
# fails the script).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${1:-$top/build-deb}

# the tools; the build dependencies come from debian/control below
need=(dpkg-dev build-essential fakeroot lintian git)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
as_root_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "debs.sh: missing packages: $*; run as root to install them" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
[ ${#missing[@]} -eq 0 ] || as_root_install "${missing[@]}"

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
upstream=${version%-*}
meson_version=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -n 1)
if [ "$upstream" != "$meson_version" ]; then
	echo "debs.sh: debian/changelog says $upstream, meson.build $meson_version" >&2
	exit 1
fi

rm -rf "$out"
mkdir -p "$out"
git archive --format=tar --prefix="shmfs-$upstream/" HEAD | gzip -9n >"$out/shmfs_$upstream.orig.tar.gz"
tar -C "$out" -xzf "$out/shmfs_$upstream.orig.tar.gz"
cp -a "$out/shmfs-$upstream/packaging/debian" "$out/shmfs-$upstream/debian"
if ! (cd "$out/shmfs-$upstream" && dpkg-checkbuilddeps) 2>/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		(cd "$out/shmfs-$upstream" && dpkg-checkbuilddeps)
		echo "debs.sh: run as root to install the build dependencies" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq "$out/shmfs-$upstream" >/dev/null
fi
echo "=== dpkg-buildpackage -us -uc (shmfs $version, from $(git rev-parse --short HEAD))"
(cd "$out/shmfs-$upstream" && dpkg-buildpackage -us -uc) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log"; exit 1; }
rm -rf "$out/shmfs-$upstream"
ls "$out"
changes=$(ls "$out"/shmfs_*.changes)
echo "=== lintian -EvIL +pedantic $(basename "$changes")"
lintian -EvIL +pedantic --fail-on error,warning "$changes" | tee "$out/lintian.txt"
