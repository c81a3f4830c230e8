#!/bin/bash
# names.sh - region names (SPEC 3): first character [A-Za-z0-9], then
# [A-Za-z0-9_.-], at most 39 characters; anything else is refused with the
# exact errno and creates nothing. Names are unique per page type (across
# its nodes) and independent between types.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

t_mount || exit 1

n39=$(printf 'a%.0s' $(seq 39))
n40=${n39}b
n255=$(printf 'c%.0s' $(seq 255))

for type in $FS_TYPES; do
	d=$T_MNT/$type/node$FS_N0
	before=$(ls -A "$d" | xargs)

	t_errno "$type: a one-letter name is accepted" OK open "$d/a" cx
	t_errno "$type: upper case and digits are accepted" OK open "$d/Z9" cx
	t_errno "$type: names differing in case are distinct" OK open "$d/A" cx
	t_errno "$type: _ . - are accepted after the first character" OK open "$d/x_y.z-1" cx
	t_errno "$type: a digit may come first" OK open "$d/0lead" cx
	t_errno "$type: 39 characters are accepted" OK open "$d/$n39" cx
	t_errno "$type: 40 characters are too long" ENAMETOOLONG open "$d/$n40" cx
	t_errno "$type: 255 characters are too long" ENAMETOOLONG open "$d/$n255" cx
	t_errno "$type: a leading dot is refused" EINVAL open "$d/.hidden" cx
	t_errno "$type: a leading dash is refused" EINVAL open "$d/-a" cx
	t_errno "$type: a leading underscore is refused" EINVAL open "$d/_a" cx
	t_errno "$type: '..x' is refused" EINVAL open "$d/..x" cx
	t_errno "$type: a space is refused" EINVAL open "$d/a b" cx
	t_errno "$type: a colon is refused" EINVAL open "$d/a:b" cx
	t_errno "$type: a star is refused" EINVAL open "$d/a*" cx
	t_errno "$type: a newline is refused" EINVAL open "$d/a"$'\n'"b" cx
	t_errno "$type: a non-ASCII name is refused" EINVAL open "$d/"$'\xc3\xa9' cx
	t_errno "$type: a non-ASCII character after ASCII is refused" EINVAL open "$d/a"$'\xc3\xa9' cx
	t_errno "$type: a high byte is refused" EINVAL open "$d/b"$'\xff' cx
	# Names the kernel resolves before shmfs sees them: still nothing created.
	t_errno "$type: an empty name is the directory itself" EISDIR open "$d/" cx
	t_errno "$type: '..' is the parent directory" EISDIR open "$d/.." c
	t_errno "$type: a name with '/' needs a directory that does not exist" ENOENT open "$d/nodir/x" cx
	t_errno "$type: a name with '/' under a region is not a directory" ENOTDIR open "$d/a/x" cx

	t_is "$type: only the accepted names exist" \
		"$(echo $before 0lead A Z9 a $n39 x_y.z-1 | tr ' ' '\n' | sort | xargs)" \
		"$(ls -A "$d" | xargs)"
	t_is "$type: only the accepted names have backing files" \
		"$(echo 0lead A Z9 a $n39 x_y.z-1 | tr ' ' '\n' | sort | xargs)" \
		"$(ls -A "$T_BACKING/.$type" | xargs)"

	# Unique per type: O_EXCL on the same node, and any create on another node.
	t_errno "$type: O_EXCL on an existing region gives EEXIST" EEXIST open "$d/a" cx
	t_errno "$type: O_CREAT without O_EXCL opens the existing region" OK open "$d/a" c
	for n in $FS_NODES; do
		[ "$n" = "$FS_N0" ] && continue
		t_errno "$type: the same name on node$n gives EEXIST" EEXIST \
			open "$T_MNT/$type/node$n/a" cx
		t_errno "$type: the same name on node$n gives EEXIST without O_EXCL" EEXIST \
			open "$T_MNT/$type/node$n/a" c
		t_is "$type: node$n stays without it" "" "$(ls "$T_MNT/$type/node$n")"
	done

	# Renames obey the same rule and change nothing when refused.
	t_errno "$type: rename to a leading dot is refused" EINVAL rename "$d/a" "$d/.a"
	t_errno "$type: rename to 40 characters is refused" ENAMETOOLONG rename "$d/a" "$d/$n40"
	t_errno "$type: rename to a non-ASCII name is refused" EINVAL rename "$d/a" "$d/"$'\xc3\xa9'
	t_errno "$type: rename to a space is refused" EINVAL rename "$d/a" "$d/a b"
	t_check "$type: the refused renames left the region in place" test -f "$d/a"
	t_check "$type: ... and its backing file" test -f "$(fs_backing "$type" a)"
done

# Names are unique per type, not across types: every type may hold "same".
for type in $FS_TYPES; do
	t_errno "$type: a name used in other page types can be created" OK \
		open "$T_MNT/$type/node$FS_N0/same" cx
done

# Racing creates of one name: exactly one wins, the others see EEXIST.
for type in $FS_TYPES; do
	racers=()
	for i in 1 2 3 4 5 6 7 8; do
		"$TSYS" open "$T_MNT/$type/node$FS_N0/race" cx >"$T_DIR/race.$i" &
		racers+=("$!")
	done
	wait "${racers[@]}"
	t_is "$type: of 8 racing O_EXCL creates of one name exactly one succeeds" \
		"1 OK, 7 EEXIST" \
		"$(cat "$T_DIR"/race.* | grep -cx OK) OK, $(cat "$T_DIR"/race.* | grep -cx EEXIST) EEXIST"
	rm -f "$T_DIR"/race.*
done

# The control files cannot be replaced by regions.
t_errno "a region named like a control file does not replace it" EEXIST \
	open "$T_MNT/huge/node$FS_N0/.nr_pages" cx
t_errno "a region cannot be created at the root" EPERM open "$T_MNT/rootfile" cx
t_errno "a region cannot be created in a type directory" EPERM open "$T_MNT/huge/typefile" cx
t_is "nothing was created at the root" ".control .quota .status $(echo $FS_TYPES | tr ' ' '\n' | sort | xargs)" \
	"$(ls -A "$T_MNT" | xargs)"

t_done
