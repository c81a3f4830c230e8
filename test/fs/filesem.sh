#!/bin/bash
# filesem.sh - files as users know them (SPEC 4, issue 10 items 4 and 5): a
# region is exactly the bytes it was given (st_size, cat, cp out, wc -c),
# with whole pages underneath (the backing file, page_count); any size on
# any page type; O_APPEND lands at the byte end; a write by another user
# clears the set-ID bits; names of 40-255 bytes are ENAMETOOLONG everywhere;
# mv across page types and cp -a print nothing; sizes survive a SIGKILL of
# the daemon; .nr_pages refuses what no memory could hold without asking the
# kernel and takes the units people type, as shmfsctl does.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
fs_setup 8
W=$T_DIR/work
mkdir -p "$W"

# pages_of BYTES PAGE: BYTES rounded up to whole pages of PAGE.
pages_of() { echo $(( ($1 + $2 - 1) / $2 * $2 )); }

# ---------------------------------------------------------------- cp in and out

# cp_round_trip TYPE: for each size, cp in and out byte-identical, the size
# exact by every tool, whole pages underneath. One region at a time (a
# gigantic page each).
cp_round_trip() {
	local type=$1 d=$T_MNT/$1/node$N pg sz f b
	pg=$(fs_page_sz "$type")
	for sz in 0 1 3 4095 4097 $((2 * 1024 * 1024 + 1)); do
		f=$W/in.$sz
		[ -e "$f" ] || head -c "$sz" /dev/urandom >"$f"
		b=$(fs_backing "$type" "cp$sz")
		t_check "$type: cp of $sz bytes into a region works" cp "$f" "$d/cp$sz"
		t_is "$type: ... st_size is $sz" "$sz" "$(fs_st %s "$d/cp$sz")"
		t_is "$type: ... wc -c counts $sz" "$sz" "$(wc -c <"$d/cp$sz")"
		t_check "$type: ... cat gives the same bytes" sh -c 'cat "$1" | cmp - "$2"' sh "$d/cp$sz" "$f"
		t_check "$type: ... cp out is byte-identical" sh -c 'cp "$1" "$2" && cmp "$2" "$3"' \
			sh "$d/cp$sz" "$W/out" "$f"
		t_is "$type: ... the backing file is whole pages" "$(pages_of "$sz" "$pg")" "$(fs_st %s "$b")"
		t_is "$type: ... page_count counts them" $(( $(pages_of "$sz" "$pg") / pg )) \
			"$(fs_x "$d/cp$sz" user.shmfs.page_count)"
		rm -f "$d/cp$sz" "$W/out"
	done
}

cp_round_trip normal
cp_round_trip huge
if [ "$FS_GIG_SZ" -gt 0 ] && t_pool_grow gigantic "$N" 1; then
	cp_round_trip gigantic
	t_check "gigantic: truncate -s 1000 works" truncate -s 1000 "$T_MNT/gigantic/node$N/g"
	t_is "gigantic: ... st_size is 1000" 1000 "$(fs_st %s "$T_MNT/gigantic/node$N/g")"
	t_is "gigantic: ... on one page" 1 "$(fs_x "$T_MNT/gigantic/node$N/g" user.shmfs.page_count)"
	rm -f "$T_MNT/gigantic/node$N/g"
else
	echo "ok $((T_N + 1)) # SKIP gigantic: no 1 GiB page could be reserved on node$N (or the kernel has none)"
	T_N=$((T_N + 1))
fi

# The issue's own examples.
if [ -s /etc/hostname ]; then
	t_check "cp /etc/hostname into a normal region works" cp /etc/hostname "$R/host"
	t_check "... and cmp finds it identical (no NUL padding)" cmp /etc/hostname "$R/host"
	t_is "... and sizes it as the file" "$(fs_st %s /etc/hostname)" "$(fs_st %s "$R/host")"
fi
t_check "printf abc > a region works" sh -c 'printf abc >"$1"' sh "$R/abc"
t_is "... and gives size 3" 3 "$(fs_st %s "$R/abc")"
t_is "... and cat reads abc" abc "$(cat "$R/abc")"
t_check "huge: truncate -s 1000 works" truncate -s 1000 "$H/t1000"
t_is "huge: ... st_size is 1000" 1000 "$(fs_st %s "$H/t1000")"
t_is "huge: ... on one huge page" "$HP" "$(fs_st %s "$(fs_backing huge t1000)")"
t_is "huge: ... cat reads 1000 bytes" 1000 "$(cat "$H/t1000" | wc -c)"
t_check "huge: ... all zeros" cmp -n 1000 "$H/t1000" /dev/zero

# Growing over bytes a mapper left past the end: they read as zeros.
truncate -s "$HP" "$H/tail"
t_check "huge: shrinking inside the last page works" truncate -s 10 "$H/tail"
"$FS_PROBE" poke "$(fs_backing huge tail)" 100 junk >/dev/null
t_check "huge: ... growing back works" truncate -s 200 "$H/tail"
t_check "huge: ... and what lay past the end reads as zeros" cmp -n 190 -i 10:0 "$H/tail" /dev/zero
rm -f "$H/t1000" "$H/tail"

# ---------------------------------------------------------------- O_APPEND

for type in normal huge; do
	d=$T_MNT/$type/node$N
	printf 0123456789 >"$d/app"
	t_check "$type: a first append works" sh -c 'printf abc >>"$1"' sh "$d/app"
	t_check "$type: a second append works" sh -c 'printf def >>"$1"' sh "$d/app"
	t_is "$type: ... both land at the byte end" 0123456789abcdef "$(cat "$d/app")"
	t_is "$type: ... and the size counts them" 16 "$(fs_st %s "$d/app")"
	exec 3>>"$d/app"
	truncate -s 2 "$d/app"
	printf X >&3
	exec 3>&-
	t_is "$type: an append after another process shrank the region lands at the new end" \
		01X "$(cat "$d/app")"
	rm -f "$d/app"
done

# ---------------------------------------------------------------- set-ID bits

printf x >"$R/suid"
chmod 06777 "$R/suid"
t_check "a write by another user works" t_as_user sh -c 'printf y >>"$1"' sh "$R/suid"
t_is "... and clears set-user-ID and set-group-ID" 777 "$(fs_st %a "$R/suid")"
chmod 02767 "$R/suid"
t_as_user sh -c 'printf y >>"$1"' sh "$R/suid"
t_is "set-group-ID without group execute is kept (not a privilege)" 2767 "$(fs_st %a "$R/suid")"
chmod 06777 "$R/suid"
printf z >>"$R/suid"
t_is "a write by root keeps the set-ID bits" 6777 "$(fs_st %a "$R/suid")"
t_check "a truncate by another user works" t_as_user truncate -s 1 "$R/suid"
t_is "... and clears set-user-ID and set-group-ID" 777 "$(fs_st %a "$R/suid")"
rm -f "$R/suid"

# ---------------------------------------------------------------- long names

n40=$(printf 'a%.0s' $(seq 40))
n255=$(printf 'b%.0s' $(seq 255))
n256=${n255}c
touch "$R/short"
for n in "$n40" "$n255" "$n256"; do
	l=${#n}
	t_errno "a $l-byte name: stat is ENAMETOOLONG" ENAMETOOLONG stat "$R/$n"
	t_errno "a $l-byte name: unlink is ENAMETOOLONG" ENAMETOOLONG unlink "$R/$n"
	t_errno "a $l-byte name: rename from it is ENAMETOOLONG" ENAMETOOLONG rename "$R/$n" "$R/x"
	t_errno "a $l-byte name: rename to it is ENAMETOOLONG" ENAMETOOLONG rename "$R/short" "$R/$n"
	t_errno "a $l-byte name: truncate is ENAMETOOLONG" ENAMETOOLONG truncate "$R/$n" 1
	t_errno "a $l-byte name: chmod is ENAMETOOLONG" ENAMETOOLONG chmod "$R/$n" 420
	t_like "a $l-byte name: chown is ENAMETOOLONG" 'File name too long' "$(chown 1 "$R/$n" 2>&1)"
	t_errno "a $l-byte name: create is ENAMETOOLONG" ENAMETOOLONG open "$R/$n" cx
done
t_is "... and nothing was made or renamed" short "$(ls "$R" | grep -v -e '^host$' -e '^abc$' | xargs)"
t_is "statfs gives the name limit (39)" 39 "$(stat -f -c %l "$R")"

# ---------------------------------------------------------------- copy tools

printf 'moving bytes' >"$H/mv"
setfattr -n user.color -v blue "$H/mv"
mv "$H/mv" "$R/mv" >"$T_DIR/mv.out" 2>&1
t_is "mv across page types exits 0" 0 "$?"
t_is "... and prints nothing" "" "$(cat "$T_DIR/mv.out")"
t_is "... the bytes arrived" "moving bytes" "$(cat "$R/mv")"
t_is "... the user attribute too" blue "$(fs_x "$R/mv" user.color)"
t_is "... the region is of its new type" normal "$(fs_x "$R/mv" user.shmfs.page_type)"
t_check "... and the old name is gone" test ! -e "$H/mv"
cp -a "$R/mv" "$H/cpa" >"$T_DIR/cpa.out" 2>&1
t_is "cp -a across page types exits 0" 0 "$?"
t_is "... and prints nothing" "" "$(cat "$T_DIR/cpa.out")"
t_check "getfattr -d still shows the derived attributes" \
	sh -c 'getfattr -d "$1" 2>/dev/null | grep -q "^user.shmfs.page_type=\"huge\""' sh "$H/cpa"
t_errno "setting a derived attribute to its value is a no-op" OK setxattr "$H/cpa" user.shmfs.page_type huge
t_errno "... to another value is EOPNOTSUPP" EOPNOTSUPP setxattr "$H/cpa" user.shmfs.page_type normal
t_is "... and the value stays" huge "$(fs_x "$H/cpa" user.shmfs.page_type)"
rm -f "$R/mv" "$H/cpa"

# ---------------------------------------------------------------- sizes survive a SIGKILL

for sz in 1 3 4097 $((HP + 1)); do
	head -c "$sz" /dev/urandom >"$W/k$sz"
	cp "$W/k$sz" "$H/k$sz"
	cp "$W/k$sz" "$R/k$sz"
done
truncate -s 1000 "$H/t"
# A daemon killed between recording a new size and resizing the backing
# file: the metadata says 5000 (was 3) while the backing file has one page.
printf abc >"$R/mid"
ino=$(stat -c %i "$(fs_backing normal mid)")
# A file sized behind the daemon's back shows the backing file's size.
printf abc >"$R/behind"
t_kill_daemon
sed -i 's/^size 3$/size 5000/; s/^size_prev .*/size_prev 3/' "$T_BACKING/.shmfs/normal/$ino"
truncate -s $((3 * PG)) "$(fs_backing normal behind)"
t_mount || exit 1
for sz in 1 3 4097 $((HP + 1)); do
	for type in huge normal; do
		t_is "$type: a $sz-byte region keeps its size over a SIGKILL" "$sz" \
			"$(fs_st %s "$T_MNT/$type/node$N/k$sz")"
		t_check "$type: ... and its bytes" cmp "$W/k$sz" "$T_MNT/$type/node$N/k$sz"
	done
done
t_is "huge: a truncated region keeps its size over a SIGKILL" 1000 "$(fs_st %s "$H/t")"
t_is "a size recorded before its pages were taken shows the old size" 3 "$(fs_st %s "$R/mid")"
t_is "... and its bytes" abc "$(cat "$R/mid")"
t_is "a backing file sized behind the daemon's back shows its own size" $((3 * PG)) \
	"$(fs_st %s "$R/behind")"
rm -f "$H"/k* "$R"/k* "$H/t" "$R/mid" "$R/behind"

# shmfsctl info shows the bytes and the pages.
printf abc >"$H/info"
"$SHMFSCTL_BIN" --mount "$T_MNT" --json info >"$T_DIR/info.json"
t_is "shmfsctl info gives the byte size and whole pages" "3 1" \
	"$(python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["regions"]:
    if r["name"] == "info": print(r["size"], r["page_count"])' "$T_DIR/info.json")"
rm -f "$H/info"

# ---------------------------------------------------------------- .nr_pages

NR=$H/.nr_pages
total=$(t_hp_total huge "$N")
# huge pages the kernel tried to take from the buddy allocator, ever
htlb_tries() { awk '/^htlb_buddy_alloc_(success|fail) / { n += $2; seen = 1 } END { if (seen) print n }' /proc/vmstat; }
tries0=$(htlb_tries)
t_errno "+18446744073709551615 pages is ENOMEM" ENOMEM pwrite "$NR" 0 +18446744073709551615
t_errno "more pages than the node's memory is ENOMEM" ENOMEM pwrite "$NR" 0 \
	$(( $(awk '/MemTotal/ { print $4 }' "/sys/devices/system/node/node$N/meminfo") * 1024 / HP + 1 ))
t_errno "a size beyond the node's memory is ENOMEM" ENOMEM pwrite "$NR" 0 15E
t_is "... the pool is untouched" "$total" "$(t_hp_total huge "$N")"
if [ -n "$tries0" ]; then
	t_is "... and the kernel was never asked for a page" "$tries0" "$(htlb_tries)"
fi
for u in +2m +2M +2MiB +2mib +2MB; do
	t_errno ".nr_pages takes $u" OK pwrite "$NR" 0 "$u"
	t_is "... one page more" $((total + 1)) "$(t_hp_total huge "$N")"
	t_errno "... and -${u#+} gives it back" OK pwrite "$NR" 0 "-${u#+}"
done
t_errno ".nr_pages takes an absolute size in MB" OK pwrite "$NR" 0 "$(( (total * HP / 1048576) + 4 ))MB"
t_is "... $((total + 2)) pages" $((total + 2)) "$(t_hp_total huge "$N")"
t_errno ".nr_pages refuses 3m (not whole pages)" EINVAL pwrite "$NR" 0 3m
"$SHMFSCTL_BIN" --mount "$T_MNT" alloc "$(( (total + 1) * HP / 1048576 ))mb" huge "$N" >/dev/null 2>&1
t_is "shmfsctl alloc takes the same units (mb)" $((total + 1)) "$(t_hp_total huge "$N")"
"$SHMFSCTL_BIN" --mount "$T_MNT" alloc 18446744073709551615 huge "$N" >/dev/null 2>&1
t_is "shmfsctl alloc of more than the node's memory fails" 1 "$?"
t_is "... and leaves the pool" $((total + 1)) "$(t_hp_total huge "$N")"

t_done
