#!/bin/bash
# perms.sh - access control (SPEC 2 and 4): a region's backing file carries
# its real owner and mode, the mount enforces normal permission checks
# (default_permissions), so a second user cannot read, write, read xattrs of,
# unlink or chmod another user's 0600 region - through the mount or through
# the backing path - while still owning and using its own regions.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
U=$T_UID
fs_setup 4

t_check "the second user can reach the mount" t_as_user ls "$H"

for type in huge normal; do
	d=$T_MNT/$type/node$N
	r=$d/secret
	b=$(fs_backing "$type" secret)
	pg=$(fs_page_sz "$type")
	"$TSYS" open "$r" cx 0600 >/dev/null
	truncate -s "$pg" "$r"
	"$TSYS" pwrite "$r" 0 root-data >/dev/null
	setfattr -n user.tag -v mine "$r"

	t_is "$type: the backing file carries owner root and mode 0600" "0 0 600" "$(fs_st '%u %g %a' "$b")"
	fs_errno_as_user "$type: another user cannot open it for reading" EACCES open "$r" r
	fs_errno_as_user "$type: ... nor for writing" EACCES open "$r" w
	fs_errno_as_user "$type: ... nor truncate it" EACCES truncate "$r" $((2 * pg))
	fs_errno_as_user "$type: ... nor read its shmfs xattrs" EACCES getxattr "$r" user.shmfs.page_size
	fs_errno_as_user "$type: ... nor its user xattrs" EACCES getxattr "$r" user.tag
	fs_errno_as_user "$type: ... nor set an xattr" EACCES setxattr "$r" user.tag theirs
	fs_errno_as_user "$type: ... nor chmod it" EPERM chmod "$r" 0666
	t_like "$type: ... nor disown it" '^(EACCES|EPERM)$' \
		"$(t_as_user "$TSYS" setxattr "$r" user.shmfs.creator_pid 0 | head -n 1)"
	t_like "$type: ... nor unlink it" '^(EACCES|EPERM)$' "$(t_as_user "$TSYS" unlink "$r" | head -n 1)"
	t_like "$type: ... nor rename it" '^(EACCES|EPERM)$' "$(t_as_user "$TSYS" rename "$r" "$d/stolen" | head -n 1)"
	t_fails "$type: ... nor chown it to itself" t_as_user chown "$U" "$r"
	t_fails "$type: cat as the other user fails" t_as_user cat "$r"
	fs_errno_as_user "$type: the backing file cannot be opened for reading by them" EACCES open "$b" r
	fs_errno_as_user "$type: ... nor for writing" EACCES open "$b" w
	t_is "$type: ... nor mapped" EACCES "$(t_as_user "$FS_PROBE" map "$b" r | head -n 1)"
	t_like "$type: ... nor unlinked" '^(EACCES|EPERM)$' "$(t_as_user "$TSYS" unlink "$b" | head -n 1)"
	fs_errno_as_user "$type: ... nor its xattrs read" EACCES getxattr "$b" user.tag

	t_is "$type: the region is unchanged: mode and owner" "600 0 0" "$(fs_st '%a %u %g' "$r")"
	t_is "$type: ... size" "$pg" "$(fs_st %s "$r")"
	t_is "$type: ... bytes" "OK root-data" "$("$TSYS" pread "$r" 0 9)"
	t_is "$type: ... xattr" "mine" "$(fs_x "$r" user.tag)"
	t_like "$type: ... creator" '^[1-9][0-9]*$' "$(fs_x "$r" user.shmfs.creator_pid)"
	t_check "$type: ... name" test -f "$r"
	t_errno "$type: ... nothing was stolen" ENOENT stat "$d/stolen"

	# The second user's own region: theirs, with their uid, and usable by them.
	t_check "$type: the other user can create a region" t_as_user "$TSYS" open "$d/theirs" cx 0600
	t_is "$type: ... owned by them in the mount" "$U $U 600" "$(fs_st '%u %g %a' "$d/theirs")"
	t_is "$type: ... and in the backing store" "$U $U 600" "$(fs_st '%u %g %a' "$(fs_backing "$type" theirs)")"
	t_check "$type: ... size it" t_as_user truncate -s "$pg" "$d/theirs"
	t_check "$type: ... write it" t_as_user "$TSYS" pwrite "$d/theirs" 0 their-data
	t_is "$type: ... read it" "OK their-data" "$(t_as_user "$TSYS" pread "$d/theirs" 0 10)"
	t_check "$type: ... map its backing file" t_as_user "$FS_PROBE" map "$(fs_backing "$type" theirs)" w
	t_is "$type: ... read its xattrs" "OK $pg" "$(t_as_user "$TSYS" getxattr "$d/theirs" user.shmfs.page_size)"
	t_check "$type: ... set a user xattr" t_as_user setfattr -n user.t -v 1 "$d/theirs"
	t_check "$type: ... chmod it" t_as_user chmod 0640 "$d/theirs"
	t_check "$type: ... disown it" t_as_user "$TSYS" setxattr "$d/theirs" user.shmfs.creator_pid 0
	t_is "$type: ... so it reads creator 0" "0" "$(fs_x "$d/theirs" user.shmfs.creator_pid)"
	t_errno "$type: root still reads it" OK open "$d/theirs" r
	t_check "$type: ... and the other user removes it" t_as_user rm "$d/theirs"
	t_errno "$type: ... and its backing file is gone" ENOENT stat "$(fs_backing "$type" theirs)"
done

# A region others may write: they can write and size it, not chmod it.
"$TSYS" open "$H/open" cx >/dev/null
chmod 0666 "$H/open"
t_check "a user can size root's 0666 region" t_as_user truncate -s "$HP" "$H/open"
t_check "... and write it" t_as_user "$TSYS" pwrite "$H/open" 0 shared
t_is "... root reads what they wrote" "OK shared" "$("$TSYS" pread "$H/open" 0 6)"
fs_errno_as_user "... but cannot chmod it" EPERM chmod "$H/open" 0600
t_is "... it still belongs to root" "0 666" "$(fs_st '%u %a' "$H/open")"

# Pools and control files are root's.
before=$(ls "$H" | xargs)
t_fails "the other user cannot write reset to .control" t_as_user sh -c 'echo reset >"$1"' sh "$T_MNT/.control"
t_is "... and no region went" "$before" "$(ls "$H" | xargs)"
tot=$(t_hp_total huge "$N")
t_fails "the other user cannot resize a pool" t_as_user sh -c 'echo 0 >"$1"' sh "$H/.nr_pages"
t_is "... and the pool is unchanged" "$tot" "$(t_hp_total huge "$N")"

t_done
