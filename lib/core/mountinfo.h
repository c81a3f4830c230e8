/* mountinfo.h - what is mounted where, from /proc/self/mountinfo, with the
 * kernel's octal escapes undone (\040 for a blank, \134 for a backslash: the
 * default backing root always holds one). The daemon checks its backing
 * mounts and finds its own device; shmfsctl finds a dead daemon's mount and
 * the backing mounts to remove. */
#ifndef SHMFS_CORE_MOUNTINFO_H
#define SHMFS_CORE_MOUNTINFO_H

#include <limits.h>
#include <sys/types.h>

struct shmfs_mount {
	dev_t dev;
	char path[PATH_MAX];  /* the mount point */
	char fstype[64];
	char opts[1024];      /* the superblock's options */
};

/* Call fn for every mount, in mountinfo order (a mount over another comes
 * after it); a non-zero return of fn stops the walk and is returned.
 * 0 or -errno. */
int shmfs_mountinfo_each(int (*fn)(const struct shmfs_mount *m, void *arg), void *arg);

/* The mount at exactly path (the last one there, which is the one seen);
 * -ENOENT when nothing is mounted there. */
int shmfs_mountinfo_at(const char *path, struct shmfs_mount *ret);

#endif
