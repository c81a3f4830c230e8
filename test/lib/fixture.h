/* fixture.h - a shmfs look-alike the unit tests build on tmpfs (/dev/shm) so
 * joins can be tested without a daemon: a backing store <dir>/backing/.normal
 * and a tree <dir>/mnt/normal/node0 whose files carry the daemon's
 * user.shmfs.backing and user.shmfs.backing_id xattrs (tmpfs keeps user
 * xattrs). SHMFS_PATH points at the tree. */
#ifndef SHMFS_TEST_LIB_FIXTURE_H
#define SHMFS_TEST_LIB_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "xattr_names.h"

struct fixture {
	char dir[PATH_MAX];
	char backing[PATH_MAX];   /* <dir>/backing/.normal */
	char node[PATH_MAX];      /* <dir>/mnt/normal/node0 */
	char mnt[PATH_MAX];
};

static inline int fx_path(char *buf, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, a, la);
	buf[la] = '/';
	memcpy(buf + la + 1, b, lb + 1);
	return 0;
}

static inline int fx_init(struct fixture *fx)
{
	char p[PATH_MAX];

	snprintf(fx->dir, sizeof(fx->dir), "/dev/shm/shmfs-test-lib.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -errno;
	fx_path(fx->mnt, fx->dir, "mnt");
	fx_path(p, fx->dir, "backing");
	if (mkdir(p, 0755) < 0)
		return -errno;
	fx_path(fx->backing, p, ".normal");
	if (mkdir(fx->backing, 0755) < 0 || mkdir(fx->mnt, 0755) < 0)
		return -errno;
	fx_path(p, fx->mnt, "normal");
	if (mkdir(p, 0755) < 0)
		return -errno;
	fx_path(fx->node, p, "node0");
	if (mkdir(fx->node, 0755) < 0)
		return -errno;
	/* Node directories carry the page type, as the daemon's do. */
	if (setxattr(fx->node, SHMFS_XATTR_PAGE_TYPE, "normal", 6, 0) < 0)
		return -errno;
	return setenv("SHMFS_PATH", fx->mnt, 1) < 0 ? -errno : 0;
}

/* Point the tree file for name at the backing file with identity id
 * ("DEV:INO"; NULL: the backing file's real one). */
static inline int fx_link(struct fixture *fx, const char *name, const char *id)
{
	char tree[PATH_MAX], back[PATH_MAX], idbuf[64];
	struct stat st;
	int fd;

	fx_path(tree, fx->node, name);
	fx_path(back, fx->backing, name);
	if (!id) {
		if (stat(back, &st) < 0)
			return -errno;
		snprintf(idbuf, sizeof(idbuf), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		id = idbuf;
	}
	fd = open(tree, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	if (setxattr(tree, SHMFS_XATTR_BACKING, back, strlen(back), 0) < 0 ||
	    setxattr(tree, SHMFS_XATTR_BACKING_ID, id, strlen(id), 0) < 0)
		return -errno;
	return 0;
}

/* Make region name: a backing file of sz bytes whose first 8 bytes hold tag,
 * and its tree file. */
static inline int fx_region(struct fixture *fx, const char *name, size_t sz, unsigned long long tag)
{
	char back[PATH_MAX];
	int fd;

	fx_path(back, fx->backing, name);
	fd = open(back, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)sz) < 0 || (sz >= 8 && pwrite(fd, &tag, 8, 0) != 8)) {
		close(fd);
		return -errno;
	}
	close(fd);
	return fx_link(fx, name, NULL);
}

static inline void fx_fini(struct fixture *fx)
{
	char cmd[PATH_MAX + 32];

	if (strncmp(fx->dir, "/dev/shm/shmfs-test-lib.", 24) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", fx->dir);
	}
}

#endif
