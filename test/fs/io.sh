#!/bin/bash
# io.sh - a region's bytes through the real tools (SPEC 4): cat, cp in and
# out with identical bytes, dd at offsets, writes past the end growing the
# region to the byte written last (pages rounded up underneath); what the
# mount shows is what the backing file holds.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
fs_setup 24
W=$T_DIR/work
mkdir -p "$W"

head -c $((3 * HP)) /dev/urandom >"$W/huge3"
head -c $((5 * PG)) /dev/urandom >"$W/norm5"
head -c $((HP + 12345)) /dev/urandom >"$W/odd"

for type in huge normal; do
	d=$T_MNT/$type/node$N
	pg=$(fs_page_sz "$type")
	src=$W/huge3; [ "$type" = normal ] && src=$W/norm5
	len=$(stat -c %s "$src")

	truncate -s "$pg" "$d/zero"
	t_check "$type: cat of a new region reads zeros" cmp -n "$pg" "$d/zero" /dev/zero
	t_is "$type: cat reads exactly st_size bytes" "$pg" "$(cat "$d/zero" | wc -c)"

	t_check "$type: cp into a new region works" cp "$src" "$d/cp"
	t_is "$type: the region has the file's size" "$len" "$(fs_st %s "$d/cp")"
	t_check "$type: the region holds the file's bytes" cmp "$src" "$d/cp"
	t_check "$type: the backing file holds the same bytes" cmp "$src" "$(fs_backing "$type" cp)"
	t_check "$type: cp out of the region works" cp "$d/cp" "$W/out.$type"
	t_check "$type: cp out gives identical bytes" cmp "$src" "$W/out.$type"
	t_check "$type: cat gives identical bytes" sh -c 'cat "$1" | cmp "$2" -' sh "$d/cp" "$src"

	other=$W/huge3; [ "$type" = huge ] && other=$W/norm5
	olen=$(stat -c %s "$other")
	t_check "$type: cp over an existing region works" cp "$other" "$d/cp"
	t_is "$type: ... and gives it the new size in bytes" "$olen" "$(fs_st %s "$d/cp")"
	t_is "$type: ... in whole pages underneath" $(( (olen + pg - 1) / pg * pg )) \
		"$(fs_st %s "$(fs_backing "$type" cp)")"
	t_check "$type: ... and holds the new bytes" cmp "$other" "$d/cp"

	# dd in the middle of a region, without truncating it.
	truncate -s $((4 * pg)) "$d/dd"
	t_check "$type: dd into the second page works" \
		dd if="$W/norm5" of="$d/dd" bs="$PG" count=1 seek=$((pg / PG)) conv=notrunc status=none
	t_is "$type: dd conv=notrunc keeps the size" $((4 * pg)) "$(fs_st %s "$d/dd")"
	t_check "$type: dd reads back the bytes written" sh -c \
		'dd if="$1" bs="$2" count=1 skip="$3" status=none | cmp - "$4" -n "$2"' \
		sh "$d/dd" "$PG" $((pg / PG)) "$W/norm5"
	t_check "$type: the bytes before stay zero" cmp -n "$pg" "$d/dd" /dev/zero

	# Writing past the end grows the region to the last byte written.
	truncate -s "$pg" "$d/grow"
	t_errno "$type: a write past the end works" OK pwrite "$d/grow" $((pg + 10)) hello
	t_is "$type: ... and grows the region to its last byte" $((pg + 15)) "$(fs_st %s "$d/grow")"
	t_is "$type: ... taking a page for it" $((2 * pg)) "$(fs_st %s "$(fs_backing "$type" grow)")"
	t_is "$type: ... with the bytes where they were written" "OK hello" \
		"$("$TSYS" pread "$d/grow" $((pg + 10)) 5)"
	t_check "$type: ... and zeros around them" \
		sh -c 'dd if="$1" bs=1 skip="$2" count=10 status=none | cmp -n 10 - /dev/zero' sh "$d/grow" "$pg"
	touch "$d/grow0"
	t_errno "$type: a one-byte write into an empty region works" OK pwrite "$d/grow0" 0 x
	t_is "$type: ... and makes it one byte" 1 "$(fs_st %s "$d/grow0")"
	t_is "$type: ... on one page" "$pg" "$(fs_st %s "$(fs_backing "$type" grow0)")"
	t_check "$type: echo >> appends at the end" sh -c 'echo tail >>"$1"' sh "$d/grow0"
	t_is "$type: ... growing by its bytes" 6 "$(fs_st %s "$d/grow0")"
	t_is "$type: ... right after the first byte" "xtail" "$(cat "$d/grow0")"

	t_check "$type: cp of a file that is not a page multiple works" cp "$W/odd" "$d/odd"
	t_is "$type: ... and the size is the file's" $((HP + 12345)) "$(fs_st %s "$d/odd")"
	t_is "$type: ... on whole pages underneath" $(( (HP + 12345 + pg - 1) / pg * pg )) \
		"$(fs_st %s "$(fs_backing "$type" odd)")"
	t_check "$type: ... and reads back identical" cmp "$W/odd" "$d/odd"
	t_check "$type: ... the rest of the last page is zeros" \
		sh -c 'tail -c +$(($2 + 1)) "$1" | tr -d "\0" | cmp - /dev/null' \
		sh "$(fs_backing "$type" odd)" $((HP + 12345))

	t_check "$type: reading at the end gives nothing" \
		test "$("$TSYS" pread "$d/zero" "$pg" 10)" = "OK "
	rm -f "$d"/*
done

# A huge region of 16 pages through cat and dd in one piece.
head -c $((8 * HP)) /dev/urandom >"$W/big"
t_check "huge: dd of 8 pages with bs=1M works" dd if="$W/big" of="$H/big" bs=1M status=none
t_check "huge: cat of the 8 pages gives them back" sh -c 'cat "$1" | cmp - "$2"' sh "$H/big" "$W/big"
t_is "huge: the 8 pages are all that were taken" $((8 * HP / 512)) "$(fs_st %b "$H/big")"

# A mapping of the backing file (what libshmfs gives its users) and the
# mount see the same bytes at once, both ways.
for type in huge normal; do
	d=$T_MNT/$type/node$N
	pg=$(fs_page_sz "$type")
	truncate -s $((2 * pg)) "$d/shared"
	t_is "$type: bytes written through a mapping of the backing file" "OK " \
		"$("$FS_PROBE" poke "$(fs_backing "$type" shared)" $((pg + 3)) from-map)"
	t_is "$type: ... are read through the mount at once" "OK from-map" \
		"$("$TSYS" pread "$d/shared" $((pg + 3)) 8)"
	"$TSYS" pwrite "$d/shared" 5 from-mount >/dev/null
	t_is "$type: bytes written through the mount are seen by a mapping at once" "OK from-mount" \
		"$("$FS_PROBE" peek "$(fs_backing "$type" shared)" 5 10)"
done

# Bytes written through the backing file (what libshmfs maps) are what the mount reads.
truncate -s $((2 * PG)) "$R/side"
dd if="$W/norm5" of="$(fs_backing normal side)" bs="$PG" count=2 conv=notrunc status=none
t_check "normal: bytes written to the backing file are read through the mount" \
	cmp -n $((2 * PG)) "$R/side" "$W/norm5"

# Normal regions pass through to their tmpfs backing file (a root daemon on
# Linux 6.9+): a mapping made through the mount is a mapping of the region's
# own pages (reads stay with the daemon, which ends them at the byte size).
# Huge regions cannot (the kernel refuses hugetlbfs backing files): their
# mapping is refused.
truncate -s $((2 * PG)) "$R/via"
skip=$(t_passthrough_skip)
if [ -n "$skip" ]; then
	t_skip "normal: a shared mapping through the mount maps the region's own pages" "$skip"
else
	t_is "normal: a shared mapping through the mount can be written" "OK " \
		"$("$FS_PROBE" poke "$R/via" 7 via-mount)"
	t_is "normal: ... and the backing file holds those bytes at once" "OK via-mount" \
		"$("$FS_PROBE" peek "$(fs_backing normal via)" 7 9)"
	"$FS_PROBE" poke "$(fs_backing normal via)" $((PG + 1)) via-backing >/dev/null
	t_is "normal: bytes written to the backing file are seen by a mapping through the mount" \
		"OK via-backing" "$("$FS_PROBE" peek "$R/via" $((PG + 1)) 11)"
	fs_map M "$R/via" r
	t_is "normal: a mapping through the mount has the region's 4 kB pages" 4 \
		"$(fs_kernel_page_kb "$M" "$R/via")"
	fs_unmap "$M"
fi
truncate -s "$HP" "$H/via"
t_is "huge: a mapping through the mount is refused (map the backing file)" ENODEV \
	"$("$FS_PROBE" peek "$H/via" 0 1)"

# A read-only open and a writable one of the same region at once.
exec 3<"$R/via"
t_errno "normal: a write through the mount while a reader has the region open works" \
	OK pwrite "$R/via" 0 both-opens
t_is "normal: ... and the reader reads it" "both-opens" "$(head -c 10 <&3)"
t_check "normal: shrinking a region a reader has open works" truncate -s "$PG" "$R/via"
t_is "normal: ... and the reader stops at the new end" 0 \
	"$(tail -c +$((PG + 1)) <&3 | wc -c)"
exec 3<&-
t_check "normal: cat of a region reads its bytes" sh -c 'cat "$1" | cmp - "$2"' sh "$R/side" \
	"$(fs_backing normal side)"

t_done
