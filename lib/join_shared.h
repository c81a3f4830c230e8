/* join_shared.h - resolve a region of a shared backing
 * (MOUNT/shared/NAME/REGION) for a join: the device to map and where. */
#ifndef SHMFS_LIB_JOIN_SHARED_H
#define SHMFS_LIB_JOIN_SHARED_H

#include <stdint.h>
#include <sys/stat.h>

#include "join_path.h"

/* 0 when path is not a shared region (the caller resolves it as a local
 * one). 1 when it is: *ret_fd the device open with oflags (2: open with
 * the access oflags asks, but the process's own, kept open for later joins:
 * the caller must not close it), *ret_off the
 * region's offset in it, *ret_st the tree file's stat (st_size the region's
 * bytes, st_dev/st_ino its identity), ref filled (backing = the device,
 * page_sz 2 MiB). -errno on failure: the kernel's answer to opening the
 * tree file with oflags (EACCES...), -EINVAL for an empty region,
 * -EBADMSG for xattrs that do not parse. mount: for a path relative to it. */
int shmfs_shared_join_resolve(const char *path, int oflags, const char *mount,
			      struct shmfs_region_ref *ref, struct stat *ret_st, uint64_t *ret_off,
			      int *ret_fd);

#endif
