/* join_path.h - from a path the user gave (absolute, relative to the mount,
 * bare name, backing path) to the region's backing file, and opening that
 * file with the identity check that refuses a swapped file. Shared by joins
 * (join.c) and region operations (region.c). */
#ifndef SHMFS_LIB_JOIN_PATH_H
#define SHMFS_LIB_JOIN_PATH_H

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <shmfs/shmfs.h>

#include "pagetype.h"

struct shmfs_region_ref {
	char tree[PATH_MAX];    /* absolute path in the shmfs tree; "" for a backing path */
	char backing[PATH_MAX]; /* the backing file */
	char name[SHMFS_REGION_NAME_MAX + 1];
	enum shmfs_page_kind kind;
	int node;               /* from the tree path; -1 for a backing path */
	bool have_id;           /* dev/ino known (from the daemon or the cache) */
	bool from_cache;        /* the tree path was resolved from the cache, not the daemon */
	bool check_fs;          /* a backing path: the open file must be on tmpfs or hugetlbfs */
	dev_t dev;              /* the backing file's identity */
	ino_t ino;
	dev_t tree_dev;         /* the tree file's identity (which mount, which region) */
	ino_t tree_ino;
	uint64_t page_sz;       /* bytes per page of the backing file; 0 until opened or cached */
};

/* Copy src into dst of dst_sz bytes, truncating; always terminated. (The
 * hot join path avoids snprintf's formatting machinery.) */
static inline void shmfs_strlcpy(char *dst, const char *src, size_t dst_sz)
{
	size_t n = strnlen(src, dst_sz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Make path absolute in the tree: relative paths are taken from the mount.
 * Bare names (no slash) are -EINVAL here: they name no node. 0 or -errno. */
int shmfs_tree_path(const char *path, char *buf, size_t buf_sz);

/* Resolve path (any form) to the region it names. 0 or -errno (see the PATHS
 * and ERRORS sections of shmfs.h). Never logs. */
int shmfs_region_resolve(const char *path, struct shmfs_region_ref *ret);

/* Open ref's backing file with oflags (O_RDONLY or O_RDWR; O_CLOEXEC is
 * added) and check it is the file the daemon names: a regular file with
 * ref's dev/ino when known, on tmpfs or hugetlbfs for a backing path. On
 * success returns the fd with its stat in *ret_st and ref->page_sz set.
 * -ESTALE on an identity mismatch. When ref came from the cache and the
 * check fails, ref is resolved again from the daemon and the open retried
 * once. */
int shmfs_region_open(struct shmfs_region_ref *ref, int oflags, struct stat *ret_st);

/* Bytes per page of files on the file system sfs describes: the hugetlbfs
 * block size, or the base page size for anything else. */
uint64_t shmfs_statfs_page_size(const struct statfs *sfs);

/* The page types of the running kernel, loaded once. */
const struct shmfs_page_types *shmfs_lib_page_types(void);

/* Forget every cached resolution (for tests). */
void shmfs_region_cache_flush(void);

#endif
