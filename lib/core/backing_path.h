/* backing_path.h - where a mount's backing store lives by default, so the
 * daemon (which creates it) and shmfsctl (which tears it down, even when the
 * daemon is dead) agree: /run/shmfs/<mountpoint escaped like
 * `systemd-escape --path`>, or $XDG_RUNTIME_DIR/shmfs/... without root. */
#ifndef SHMFS_CORE_BACKING_PATH_H
#define SHMFS_CORE_BACKING_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* systemd-escape --path: "/mnt/shmfs" -> "mnt-shmfs", "/" -> "-".
 * 0 or -ENAMETOOLONG. */
int shmfs_escape_path(const char *path, char *buf, size_t buf_sz);

/* The default backing root for mountpoint (malloc'ed into *ret). Without
 * root it lives under $XDG_RUNTIME_DIR (-ENOENT when that is unset). */
int shmfs_backing_default(const char *mountpoint, bool is_root, char **ret);

#endif
