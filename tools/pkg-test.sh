#!/bin/bash
# pkg-test.sh - the Debian packages as an admin meets them, on a fresh,
# throwaway Debian root: build them (tools/debs.sh, with lintian), install
# them, check that nothing was started or enabled, mount from an fstab line,
# compile the example against the installed library with pkg-config, run
# shmfsctl as a normal user, verify the installed units, unmount, purge, and
# check nothing is left. TAP lines, then "N passed, N failed".
#
# It installs packages, edits /etc/fstab and adds a user: run it only where
# that does not matter, as CI does:
#   tools/chroot-test.sh trixie 'SHMFS_THROWAWAY=1 tools/pkg-test.sh'
# It changes no huge page pool (regions here use normal pages).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${SHMFS_THROWAWAY:-}" != 1 ]; then
	echo "pkg-test.sh: installs packages and edits /etc/fstab; run it in a throwaway root" >&2
	echo "  (tools/chroot-test.sh trixie 'SHMFS_THROWAWAY=1 tools/pkg-test.sh')" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "pkg-test.sh: run as root" >&2
	exit 1
fi

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {   # check DESC CMD...
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/# /' | head -n 20; fi
}
is() {      # is DESC EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; printf '# expected: %s\n#      got: %s\n' "$2" "$3"; fi
}

debs=/tmp/shmfs-debs
mnt=/mnt/shmfs
[ -e /etc/mtab ] || ln -s ../proc/self/mounts /etc/mtab

# ---------------------------------------------------------------- build
if tools/debs.sh "$debs" >/tmp/debs.out 2>&1; then
	ok "tools/debs.sh builds the source and binary packages, lintian -EvIL +pedantic clean"
else
	not_ok "tools/debs.sh builds the source and binary packages, lintian -EvIL +pedantic clean"
	tail -n 30 /tmp/debs.out | sed 's/^/# /'
	echo "$((n - failed)) passed, $failed failed"
	exit 1
fi
sed -n '/=== lintian/,$p' /tmp/debs.out | sed 's/^/# /'
check "the source package is complete (.dsc, .orig.tar.gz, .debian.tar.xz)" \
	ls "$debs"/shmfs_*.dsc "$debs"/shmfs_*.orig.tar.gz "$debs"/shmfs_*.debian.tar.xz

# ---------------------------------------------------------------- install
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev pkgconf systemd \
	"$debs"/shmfs_*_amd64.deb "$debs"/libshmfs0_*_amd64.deb "$debs"/libshmfs-dev_*_amd64.deb \
	>/tmp/install.out 2>&1
is "the three packages install" 0 "$?"
is "installing mounts nothing" "" "$(awk '$3 == "fuse.shmfs"' /proc/mounts)"
is "installing enables no unit" "" \
	"$(find /etc/systemd/system -name 'shmfs*' -o -name 'mnt-shmfs*' 2>/dev/null)"
check "shmfsctl is in /usr/bin" test -x /usr/bin/shmfsctl
check "mount.fuse.shmfs has a man page" test -e /usr/share/man/man8/mount.fuse.shmfs.8.gz
check "/etc/shmfs/pools.conf is a conffile" grep -qx /etc/shmfs/pools.conf /var/lib/dpkg/info/shmfs.conffiles
check "the shipped pools.conf applies (nothing in it)" shmfsctl apply-config -n

unitdir=$(dirname "$(dpkg -L shmfs | grep '/shmfs-pools.service$')")
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$unitdir/shmfs-pools.service" "$unitdir/shmfs@.service" \
		"$unitdir/mnt-shmfs.mount" 2>&1)
	is "systemd-analyze verify accepts the installed units, no warning" "" "$out"
else
	ok "systemd-analyze verify accepts the installed units # SKIP systemd is not installed here"
fi

# ---------------------------------------------------------------- library
check "<shmfs/shmfs.h> compiles alone with -std=c11" \
	sh -c 'printf "#include <shmfs/shmfs.h>\nint x;\n" | gcc -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c -'
ex=$(dpkg -L libshmfs-dev | grep '/shmfs-share.c')
check "the example compiles and links with pkg-config" \
	sh -c "gcc -Wall -Wextra -Werror -o /tmp/shmfs-share '$ex' \$(pkg-config --cflags --libs libshmfs)"
is "libshmfs.pc names no libnuma" "" "$(pkg-config --print-requires-private --libs --static libshmfs | grep -i numa)"

# ---------------------------------------------------------------- mount from fstab
mkdir -p "$mnt"
cp /etc/fstab /tmp/fstab.saved 2>/dev/null || : >/tmp/fstab.saved
echo "shmfs $mnt fuse.shmfs defaults,allow_other,nofail 0 0" >>/etc/fstab
check "mount $mnt mounts from the fstab line" mount "$mnt"
is "it is shmfs" "fuse.shmfs" "$(awk -v m="$mnt" '$2 == m { print $3 }' /proc/mounts)"
check "root makes a normal region" sh -c "truncate -s 1M $mnt/normal/node0/pkgdemo && chmod 644 $mnt/normal/node0/pkgdemo"
check "the example writes into it through libshmfs" /tmp/shmfs-share write normal/node0/pkgdemo "hello from the package test"

useradd --create-home --shell /bin/sh shmfs-pkgtest >/dev/null 2>&1
as_user() { su -s /bin/sh shmfs-pkgtest -c "$1"; }
check "a normal user finds shmfsctl and runs info" as_user "shmfsctl info"
if shmfsctl ls --help >/dev/null 2>&1; then
	check "a normal user runs shmfsctl ls" as_user "shmfsctl ls"
else
	ok "a normal user runs shmfsctl ls # SKIP this shmfsctl has no ls command"
fi
is "a normal user reads the region with the example" "hello from the package test" \
	"$(as_user "/tmp/shmfs-share read normal/node0/pkgdemo" 2>&1)"
df_root=$(df -B1 --output=size "$mnt" | tail -n 1 | tr -d ' ')
check "df of the mount root shows a size" test "${df_root:-0}" -gt 0

check "umount $mnt" umount "$mnt"
is "the mount is gone" "" "$(awk -v m="$mnt" '$2 == m' /proc/mounts)"
# the backing store outlives the daemon (regions survive): take it down
for m in $(awk '$2 ~ "^/run/shmfs/" { print $2 }' /proc/mounts | sort -r); do
	umount -l "$m"
done
cp /tmp/fstab.saved /etc/fstab

# ---------------------------------------------------------------- purge
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq shmfs libshmfs0 libshmfs-dev >/tmp/purge.out 2>&1
is "the packages purge" 0 "$?"
is "nothing of them is left" "" \
	"$(ls -d /usr/bin/shmfsctl /usr/sbin/shmfs /usr/sbin/mount.fuse.shmfs /etc/shmfs \
		/usr/include/shmfs "$unitdir/shmfs-pools.service" 2>/dev/null)"

# ---------------------------------------------------------------- meson install, as the README says
readme=$(sed -n '/^meson setup build-install/,/ldconfig$/p' README.md)
check "the README's meson install works (prefix /usr, multiarch libdir, ldconfig)" bash -ec "$readme"
is "a normal user runs the installed shmfsctl (it finds libshmfs.so.0)" 0 \
	"$(as_user "shmfsctl --version" >/dev/null 2>&1; echo $?)"
check "mount.fuse.shmfs is installed" test -e /usr/sbin/mount.fuse.shmfs
ninja -C build-install uninstall >/dev/null 2>&1
userdel -r shmfs-pkgtest >/dev/null 2>&1

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
