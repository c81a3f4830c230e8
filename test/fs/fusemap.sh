#!/bin/bash
# fusemap.sh - a normal region mapped through the mount (FUSE passthrough
# hands the mapping the backing file's pages) is mapped as surely as one
# mapped through its backing file: /proc/PID/maps names the mount's device
# and the region's inode there, and the daemon counts it in mapper_count,
# mapper_pids and orphaned, and refuses to shrink the region under it.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

PG=$FS_NORMAL_SZ
skip=$(t_passthrough_skip)
if [ -n "$skip" ]; then
	t_skip "a normal region mapped through the mount counts as mapped" "$skip"
	t_done
fi
fs_setup 0

# A region of process lifetime whose creator is gone: only a mapper keeps it
# from being orphaned.
sh -c 'exec 3>"$1" && "$TSYS" setxattr "$1" user.shmfs.lifetime process >/dev/null &&
	truncate -s $(( 4 * $2 )) "$1"' sh "$R/m" "$PG"
t_is "with no mapper the region is orphaned" "true" "$(fs_x "$R/m" user.shmfs.orphaned)"
fs_map mapper "$R/m" w || exit 1
t_check "the mapper maps the region through the mount" fs_pid_mapped "$mapper" "$R/m"
t_is "mapper_count counts a mapping through the mount" "1" "$(fs_x "$R/m" user.shmfs.mapper_count)"
t_is "mapper_pids names it" "$mapper" "$(fs_x "$R/m" user.shmfs.mapper_pids)"
t_is "the region is not orphaned while mapped through the mount" "false" \
	"$(fs_x "$R/m" user.shmfs.orphaned)"
t_errno "shrinking it is refused while mapped through the mount" EBUSY truncate "$R/m" "$PG"
t_is "... and its size is unchanged" "$((4 * PG))" "$(fs_st %s "$(fs_backing normal m)")"

# Mapped both ways by two processes: each once, ascending.
fs_map m2 "$(fs_backing normal m)" r || exit 1
t_is "a second mapper through the backing file is counted too" "2" \
	"$(fs_x "$R/m" user.shmfs.mapper_count)"
t_is "mapper_pids lists both, ascending" "$(printf '%s\n' "$mapper" "$m2" | sort -n | paste -sd,)" \
	"$(fs_x "$R/m" user.shmfs.mapper_pids)"
fs_unmap "$m2"
fs_unmap "$mapper"
t_is "mapper_count is 0 once both are gone" "0" "$(fs_x "$R/m" user.shmfs.mapper_count)"
t_is "orphaned again" "true" "$(fs_x "$R/m" user.shmfs.orphaned)"
t_check "shrinking works once nobody maps it" truncate -s "$PG" "$R/m"

t_done
