#!/bin/bash
# size.sh - sizing regions (SPEC 4): truncate, ftruncate and fallocate size a
# region to any byte size and take the pages under it (rounded up to whole
# pages) from the node's pool at once; a region
# sized through shmfs is genuinely huge-page memory (a process mapping the
# backing file sees the huge KernelPageSize, HugePages_Free drops by exactly
# the page count); pool exhaustion fails cleanly with the pool unchanged;
# shrinking a mapped region is EBUSY; a 1 GiB gigantic region works.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
fs_setup 8

# ---------------------------------------------------------------- sizes

# Any byte size: st_size is the size asked, the backing file (and the pool)
# holds it rounded up to whole pages.
touch "$H/s1" "$R/s1"
t_errno "huge: truncate to one page works" OK truncate "$H/s1" "$HP"
t_is "huge: st_size is one page" "$HP" "$(fs_st %s "$H/s1")"
t_errno "huge: truncate to half a page works" OK truncate "$H/s1" $((HP / 2))
t_is "huge: ... st_size is half a page" $((HP / 2)) "$(fs_st %s "$H/s1")"
t_is "huge: ... on one whole page" "$HP" "$(fs_st %s "$(fs_backing huge s1)")"
t_errno "huge: truncate to a page plus one byte works" OK truncate "$H/s1" $((HP + 1))
t_is "huge: ... st_size is a page plus one byte" $((HP + 1)) "$(fs_st %s "$H/s1")"
t_is "huge: ... on two whole pages" $((2 * HP)) "$(fs_st %s "$(fs_backing huge s1)")"
t_is "huge: ... page_count says 2" 2 "$(fs_x "$H/s1" user.shmfs.page_count)"
t_errno "huge: ftruncate to two pages works" OK ftruncate "$H/s1" $((2 * HP))
t_is "huge: st_size is two pages" $((2 * HP)) "$(fs_st %s "$H/s1")"
t_errno "huge: ftruncate to 4 KiB works" OK ftruncate "$H/s1" 4096
t_is "huge: ... st_size is 4 KiB" 4096 "$(fs_st %s "$H/s1")"
t_is "huge: ... on one whole page" "$HP" "$(fs_st %s "$(fs_backing huge s1)")"
t_errno "huge: fallocate to two pages works" OK fallocate "$H/s1" 0 $((2 * HP))
t_errno "huge: fallocate of a third page works" OK fallocate "$H/s1" $((2 * HP)) "$HP"
t_is "huge: st_size is three pages after fallocate" $((3 * HP)) "$(fs_st %s "$H/s1")"
t_errno "huge: fallocate of a partial page past the end works" OK fallocate "$H/s1" $((3 * HP)) 4096
t_is "huge: ... and sizes the region to its end" $((3 * HP + 4096)) "$(fs_st %s "$H/s1")"
t_errno "huge: fallocate at an unaligned offset inside works" OK fallocate "$H/s1" 4096 "$HP"
t_is "huge: ... and keeps the size" $((3 * HP + 4096)) "$(fs_st %s "$H/s1")"
t_check "huge: fallocate --keep-size inside the last page works" \
	fallocate -n -o $((3 * HP)) -l 8192 "$H/s1"
t_is "huge: ... and keeps the size" $((3 * HP + 4096)) "$(fs_st %s "$H/s1")"
t_errno "huge: ftruncate back to three pages works" OK ftruncate "$H/s1" $((3 * HP))
t_check "huge: truncate(1) -s sizes a new region" truncate -s $((2 * HP)) "$H/s2"
t_is "huge: ... to the size asked" $((2 * HP)) "$(fs_st %s "$H/s2")"
t_check "huge: fallocate(1) -l sizes a new region" fallocate -l "$HP" "$H/s3"
t_is "huge: ... to the size asked" "$HP" "$(fs_st %s "$H/s3")"
t_check "huge: truncate(1) -s 0 empties a region" truncate -s 0 "$H/s3"
t_is "huge: ... to size 0" "0" "$(fs_st %s "$H/s3")"
t_is "huge: ... with no page" "0" "$(fs_st %s "$(fs_backing huge s3)")"

t_errno "normal: truncate to 3 pages works" OK truncate "$R/s1" $((3 * FS_NORMAL_SZ))
t_errno "normal: truncate to 4097 bytes works" OK truncate "$R/s1" $((FS_NORMAL_SZ + 1))
t_is "normal: ... st_size is 4097" $((FS_NORMAL_SZ + 1)) "$(fs_st %s "$R/s1")"
t_is "normal: ... on two whole pages" $((2 * FS_NORMAL_SZ)) "$(fs_st %s "$(fs_backing normal s1)")"
t_errno "normal: truncate to 100 bytes works" OK truncate "$R/s1" 100
t_is "normal: ... st_size is 100" 100 "$(fs_st %s "$R/s1")"
t_errno "normal: fallocate of a partial page works" OK fallocate "$R/s1" 0 200
t_is "normal: ... and sizes the region to its end" 200 "$(fs_st %s "$R/s1")"
t_errno "normal: truncate to 3 pages works again" OK truncate "$R/s1" $((3 * FS_NORMAL_SZ))
t_is "normal: st_size is 3 pages" $((3 * FS_NORMAL_SZ)) "$(fs_st %s "$R/s1")"
t_check "normal: fallocate(1) -l 1M sizes a region" fallocate -l 1M "$R/s2"
t_is "normal: ... to 1 MiB" 1048576 "$(fs_st %s "$R/s2")"
t_errno "a negative size is EINVAL" EINVAL truncate "$R/s1" -4096
huge_max=$(( (1 << 62) / HP * HP ))
t_like "huge: an absurd size (2^62) fails cleanly" '^(ENOMEM|ENOSPC|EFBIG|EINVAL)$' \
	"$("$TSYS" truncate "$H/s1" "$huge_max" | head -n 1)"
t_like "huge: the largest off_t fails cleanly" '^(ENOMEM|ENOSPC|EFBIG|EINVAL)$' \
	"$("$TSYS" truncate "$H/s1" $(( 0x7fffffffffffffff )) | head -n 1)"
t_like "huge: fallocate at an offset that overflows fails cleanly" '^(ENOMEM|ENOSPC|EFBIG|EINVAL)$' \
	"$("$TSYS" fallocate "$H/s1" $(( 0x7fffffffffffffff / HP * HP )) "$HP" | head -n 1)"
t_is "huge: ... and the region keeps its size" $((3 * HP)) "$(fs_st %s "$H/s1")"
t_like "normal: an absurd size (2^62) fails cleanly" '^(ENOMEM|ENOSPC|EFBIG|EINVAL)$' \
	"$("$TSYS" truncate "$R/s1" $(( 1 << 62 )) | head -n 1)"
t_is "normal: ... and the region keeps its size" $((3 * FS_NORMAL_SZ)) "$(fs_st %s "$R/s1")"

# Modes that would give a region pages beyond its size or holes in it are
# refused and change nothing.
truncate -s $((2 * HP)) "$H/s4"
f0=$(t_hp_free huge "$N")
t_fails "huge: fallocate --keep-size is refused" fallocate -n -o $((2 * HP)) -l "$HP" "$H/s4"
t_fails "huge: fallocate --punch-hole is refused" fallocate -p -o 0 -l "$HP" "$H/s4"
t_fails "huge: fallocate --zero-range is refused" fallocate -z -o 0 -l "$HP" "$H/s4"
t_is "huge: ... and size and pages are as before" "$((2 * HP)) $((2 * HP / 512)) $f0" \
	"$(fs_st '%s %b' "$H/s4") $(t_hp_free huge "$N")"

# ---------------------------------------------------------------- huge memory, exactly

rm -f "$H"/s*
f0=$(t_hp_free huge "$N"); m0=$(fs_meminfo_free)
t_check "huge: sizing a region to 3 pages works" truncate -s $((3 * HP)) "$H/mem"
t_is "huge: the node's free pages drop by exactly 3 at once" $((f0 - 3)) "$(t_hp_free huge "$N")"
t_is "huge: HugePages_Free drops by exactly 3" $((m0 - 3)) "$(fs_meminfo_free)"
t_is "huge: st_blocks counts the 3 pages" $((3 * HP / 512)) "$(fs_st %b "$H/mem")"
t_is "huge: the pages sit on node$N" "$N" "$(fs_x "$H/mem" user.shmfs.numa_nodes)"
b=$(fs_backing huge mem)
t_is "huge: user.shmfs.backing names the backing file" "$b" "$(fs_x "$H/mem" user.shmfs.backing)"
fs_map mapper "$b" w
t_check "huge: a process maps the backing file" fs_pid_mapped "$mapper" "$b"
t_is "huge: its mapping has KernelPageSize $((HP / 1024)) kB" \
	$((HP / 1024)) "$(fs_kernel_page_kb "$mapper" "$b")"
t_is "huge: mapping takes no further pages" $((f0 - 3)) "$(t_hp_free huge "$N")"

t_errno "huge: shrinking a mapped region is EBUSY" EBUSY truncate "$H/mem" "$HP"
t_errno "huge: shrinking a mapped region to 0 is EBUSY" EBUSY ftruncate "$H/mem" 0
t_is "huge: the refused shrink kept the size" $((3 * HP)) "$(fs_st %s "$H/mem")"
t_is "huge: the refused shrink kept the pages" $((f0 - 3)) "$(t_hp_free huge "$N")"
t_fails "huge: open with O_TRUNC of a mapped region fails" sh -c ': >"$1"' sh "$H/mem"
t_is "huge: ... and keeps the size" $((3 * HP)) "$(fs_st %s "$H/mem")"
t_errno "huge: growing a mapped region works" OK truncate "$H/mem" $((4 * HP))
t_is "huge: ... taking exactly one more page" $((f0 - 4)) "$(t_hp_free huge "$N")"
fs_unmap "$mapper"
t_errno "huge: shrinking works once nobody maps it" OK truncate "$H/mem" "$HP"
t_is "huge: the shrink gives exactly 3 pages back" $((f0 - 1)) "$(t_hp_free huge "$N")"
t_check "huge: rm of the region works" rm "$H/mem"
t_is "huge: rm gives the last page back" "$f0" "$(t_hp_free huge "$N")"

# Normal regions are mapped with the base page size.
truncate -s $((4 * FS_NORMAL_SZ)) "$R/mem"
b=$(fs_backing normal mem)
fs_map mapper "$b" w
t_is "normal: a mapping of the backing file has KernelPageSize $((FS_NORMAL_SZ / 1024)) kB" \
	$((FS_NORMAL_SZ / 1024)) "$(fs_kernel_page_kb "$mapper" "$b")"
t_errno "normal: shrinking a mapped region is EBUSY" EBUSY truncate "$R/mem" "$FS_NORMAL_SZ"
fs_unmap "$mapper"
t_errno "normal: shrinking works once nobody maps it" OK truncate "$R/mem" "$FS_NORMAL_SZ"

# Placement is verified on a sample of pages, not by mapping the region: the
# daemon's peak RSS does not grow by the region's 64 MiB when sizing it, nor
# when asked where its pages sit; the answer follows a change made through
# the backing file behind the daemon's back.
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$T_DAEMON_PID/status"; }
h0=$(hwm)
t_check "normal: sizing a 64 MiB region works" truncate -s $((64 << 20)) "$R/big64"
t_is "normal: ... its pages sit on node$N" "$N" "$(fs_x "$R/big64" user.shmfs.numa_nodes)"
h1=$(hwm)
t_check "normal: ... and the daemon never held it mapped (VmHWM $h0 -> $h1 kB)" \
	test $((h1 - h0)) -lt $((16 << 10))
# the answer just given is recorded: a hole punched behind the daemon's back
# (same size) must still be seen, and the pages put back too
fallocate -p -o 0 -l $((64 << 20)) "$(fs_backing normal big64)"
t_is "normal: every page punched out behind the daemon: numa_nodes is empty" "" \
	"$(fs_x "$R/big64" user.shmfs.numa_nodes)"
fallocate -o 0 -l $((64 << 20)) "$(fs_backing normal big64)"
t_is "normal: ... and put back: numa_nodes names node$N again" "$N" \
	"$(fs_x "$R/big64" user.shmfs.numa_nodes)"
truncate -s 0 "$(fs_backing normal big64)"
t_is "normal: the backing file emptied behind the daemon: numa_nodes is empty" "" \
	"$(fs_x "$R/big64" user.shmfs.numa_nodes)"
rm -f "$R/big64"

# ---------------------------------------------------------------- pool exhaustion

touch "$H/big"
f0=$(t_hp_free huge "$N"); m0=$(fs_meminfo_free)
t_like "huge: truncate beyond the free pages fails with ENOMEM or ENOSPC" '^(ENOMEM|ENOSPC)$' \
	"$("$TSYS" truncate "$H/big" $(( (f0 + 1) * HP )) | head -n 1)"
t_is "huge: ... and the node's free pages are unchanged" "$f0" "$(t_hp_free huge "$N")"
t_is "huge: ... and HugePages_Free is unchanged" "$m0" "$(fs_meminfo_free)"
t_is "huge: ... and the region keeps size 0" "0" "$(fs_st %s "$H/big")"
t_is "huge: ... and holds no pages" "0" "$(fs_st %b "$(fs_backing huge big)")"
t_like "huge: fallocate beyond the free pages fails with ENOMEM or ENOSPC" '^(ENOMEM|ENOSPC)$' \
	"$("$TSYS" fallocate "$H/big" 0 $(( (f0 + 1) * HP )) | head -n 1)"
t_is "huge: ... and the node's free pages are unchanged" "$f0" "$(t_hp_free huge "$N")"
t_is "huge: ... and the region keeps size 0" "0" "$(fs_st %s "$H/big")"
t_errno "huge: a region of exactly the free pages fits" OK truncate "$H/big" $((f0 * HP))
t_is "huge: ... and leaves the node no free page" "0" "$(t_hp_free huge "$N")"
t_like "huge: growing it by one more page fails" '^(ENOMEM|ENOSPC)$' \
	"$("$TSYS" truncate "$H/big" $(( (f0 + 1) * HP )) | head -n 1)"
t_is "huge: ... and keeps its size" $((f0 * HP)) "$(fs_st %s "$H/big")"
t_like "huge: a second region cannot take a page either" '^(ENOMEM|ENOSPC)$' \
	"$(touch "$H/big2"; "$TSYS" truncate "$H/big2" "$HP" | head -n 1)"
t_is "huge: ... and stays empty" "0" "$(fs_st %s "$H/big2")"
rm -f "$H/big" "$H/big2"
t_is "huge: removing the regions gives every page back" "$f0" "$(t_hp_free huge "$N")"

# ---------------------------------------------------------------- gigantic

# A gigantic page needs that much free, contiguous memory on the node.
[ -z "$FS_GIG_SKIP" ] && ! t_pool_grow gigantic "$N" 1 &&
	FS_GIG_SKIP="could not reserve one $((FS_GIG_SZ >> 20)) MiB page on node $N (not enough free contiguous memory)"
if [ -n "$FS_GIG_SKIP" ]; then
	t_skip "gigantic: a region of one gigantic page" "$FS_GIG_SKIP"
else
	GP=$FS_GIG_SZ
	G=$T_MNT/gigantic/node$N
	g0=$(t_hp_free gigantic "$N")
	touch "$G/gig"
	t_errno "gigantic: truncate to a huge page size works" OK truncate "$G/gig" "$HP"
	t_is "gigantic: ... st_size is that" "$HP" "$(fs_st %s "$G/gig")"
	t_errno "gigantic: truncate to one gigantic page works" OK truncate "$G/gig" "$GP"
	t_is "gigantic: st_size is $GP" "$GP" "$(fs_st %s "$G/gig")"
	t_is "gigantic: the node's free gigantic pages drop by exactly 1" $((g0 - 1)) \
		"$(t_hp_free gigantic "$N")"
	b=$(fs_backing gigantic gig)
	fs_map mapper "$b" r
	t_is "gigantic: a mapping of the backing file has KernelPageSize $((GP / 1024)) kB" \
		$((GP / 1024)) "$(fs_kernel_page_kb "$mapper" "$b")"
	fs_unmap "$mapper"
	t_is "gigantic: page_size xattr" "$GP" "$(fs_x "$G/gig" user.shmfs.page_size)"
	t_is "gigantic: page_count xattr" "1" "$(fs_x "$G/gig" user.shmfs.page_count)"
	rm -f "$G/gig"
	t_is "gigantic: rm gives the page back" "$g0" "$(t_hp_free gigantic "$N")"
fi

t_done
