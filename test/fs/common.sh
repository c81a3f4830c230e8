# common.sh - sourced by the daemon's integration tests after test/harness.sh.
# Knows the machine's page types and memory nodes (read from the kernel, the
# way the daemon must) and gives the small helpers every fs test needs: a
# process that maps a region, the kernel page size of that mapping, an xattr
# value, a stat field, the backing path of a region.

export LC_ALL=C   # byte order for sort and ls, ASCII messages
umask 022         # modes the tests expect

# Page sizes in bytes. "huge" is the kernel's default huge page size,
# "gigantic" the largest one when it is larger (the tree's naming).
FS_NORMAL_SZ=$(getconf PAGESIZE)
FS_HUGE_SZ=$(( $(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo) * 1024 ))
FS_GIG_KB=$(ls /sys/kernel/mm/hugepages | sed 's/hugepages-\([0-9]*\)kB/\1/' | sort -n | tail -n 1)
FS_GIG_SZ=$(( FS_GIG_KB * 1024 ))
[ "$FS_GIG_SZ" -gt "$FS_HUGE_SZ" ] || FS_GIG_SZ=0
FS_TYPES="huge normal"
[ "$FS_GIG_SZ" -gt 0 ] && FS_TYPES="gigantic $FS_TYPES"
FS_PROBE=$SHMFS_BUILD_ROOT/test/fs/fsprobe

# Why this machine cannot run the gigantic-page checks ("" when it can).
FS_GIG_SKIP=
[ "$FS_GIG_SZ" -gt 0 ] || FS_GIG_SKIP="the kernel has no huge page size larger than $((FS_HUGE_SZ / 1024)) kB"

# fs_expand_list "0-2,4": the node numbers of a kernel list, one per line.
fs_expand_list() {
	local part a b
	local IFS=,
	for part in $1; do
		case $part in
		*-*) a=${part%-*}; b=${part#*-}; seq "$a" "$b" ;;
		?*) echo "$part" ;;
		esac
	done
}

# Every node with memory (CPU-less nodes too) and the first of them.
FS_NODES=$(fs_expand_list "$(cat /sys/devices/system/node/has_memory)")
FS_N0=$(echo "$FS_NODES" | head -n 1)

# fs_page_sz TYPE: page size in bytes of a page type.
fs_page_sz() {
	case $1 in
	normal) echo "$FS_NORMAL_SZ" ;;
	huge) echo "$FS_HUGE_SZ" ;;
	gigantic) echo "$FS_GIG_SZ" ;;
	esac
}

# fs_backing TYPE NAME: the backing file of a region (Firedancer's layout).
fs_backing() { echo "$T_BACKING/.$1/$2"; }

# fs_x PATH NAME: the value of an xattr ("" when absent or empty; assert
# presence separately with t_errno when it matters).
fs_x() { "$TSYS" getxattr "$1" "$2" 2>/dev/null | sed -n '1s/^OK //p'; }

# fs_st FMT PATH: one stat(1) format of a path.
fs_st() { stat -c "$1" -- "$2" 2>&1; }

# fs_map VAR PATH r|w [SIZE]: start a process that maps PATH (shared) and
# holds the mapping until killed; its pid goes into VAR once it has mapped.
fs_map() {
	local var=$1 out; shift
	out=$(mktemp "$T_DIR/map.XXXXXX")
	t_bg "$TSYS" map "$@" >"$out" 2>&1 </dev/null
	printf -v "$var" '%s' "$!"
	if ! t_wait_for 20 grep -q '^OK' "$out"; then
		{ echo "tsys map $* did not map:"; cat "$out"; } | t_diag
		return 1
	fi
}

# fs_unmap PID: end a mapper started by fs_map and wait until it is gone (its
# mappings are torn down before wait returns).
fs_unmap() {
	local p keep=()
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	for p in "${T_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	T_PIDS=("${keep[@]}")
}

# fs_kernel_page_kb PID FILE: KernelPageSize (kB) of PID's mapping of FILE.
fs_kernel_page_kb() {
	awk -v f="$2" '
		/^[0-9a-f]+-[0-9a-f]+ / { inside = ($NF == f) }
		inside && /^KernelPageSize:/ { print $2; exit }' "/proc/$1/smaps"
}

# fs_meminfo_free: HugePages_Free of /proc/meminfo (default huge page size).
fs_meminfo_free() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }

# fs_no_overcommit: no surplus huge pages, so pool numbers are exact.
fs_no_overcommit() {
	local f
	for f in /sys/kernel/mm/hugepages/hugepages-*/nr_overcommit_hugepages; do
		[ "$(cat "$f")" = 0 ] || echo 0 >"$f"
	done
}

# fs_setup PAGES: the usual start of a test: exact pool numbers (no
# overcommit), at least PAGES free huge pages on node $FS_N0, shmfs mounted,
# and H / R set to its huge and normal node directories. Exits on failure.
fs_setup() {
	fs_no_overcommit
	t_check "$1 free huge pages can be reserved for the test" t_pool_grow huge "$FS_N0" "$1"
	t_mount || exit 1
	H=$T_MNT/huge/node$FS_N0
	R=$T_MNT/normal/node$FS_N0
}

# fs_pattern NAME SIZE: SIZE bytes that depend on NAME (to tell regions apart).
fs_pattern() { yes "$1" | head -c "$2"; }

# fs_errno_as_user DESC ERRNAME TSYS-ARGS...: like t_errno, as the second user.
fs_errno_as_user() {
	local desc=$1 want=$2 got; shift 2
	got=$(t_as_user "$TSYS" "$@" 2>&1 | head -n 1 | cut -d' ' -f1)
	t_is "$desc" "$want" "$got"
}

# fs_pid_mapped PID FILE: PID maps FILE now.
fs_pid_mapped() { awk -v f="$2" '$NF == f { found = 1 } END { exit !found }' "/proc/$1/maps"; }
