/* join_shared.c - resolving a region of a shared backing for a join:
 * MOUNT/shared/NAME/REGION is an extent of a device several hosts map, so a
 * join maps the device itself at the region's offset (from the daemon's
 * xattrs), and two hosts joining the same region share the same bytes. */
#include "join_shared.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "parse.h"
#include "shared_log.h"
#include "util.h"
#include "xattr_names.h"

/* Does abs end in /shared/NAME/REGION? (the only shape a shared region has;
 * a local region's path never matches, so its joins cost nothing more) */
static bool shared_shape(const char *abs)
{
	const char *end = abs + strlen(abs), *p = end;
	int slashes = 0;

	while (p > abs && slashes < 3) {
		p--;
		if (*p == '/')
			slashes++;
	}
	if (slashes < 3 || end - p < 8)
		return false;
	return strncmp(p, "/" "shared" "/", 8) == 0;
}

/* Read from the open tree file, not by path: a path would be looked up
 * again, component by component (the branch has no entry cache). */
static int xattr_u64(int fd, const char *name, uint64_t *ret)
{
	char buf[32];
	ssize_t n = fgetxattr(fd, name, buf, sizeof(buf) - 1);

	if (n < 0)
		return errno == ENODATA ? -EBADMSG : -errno;
	buf[n] = '\0';
	return shmfs_parse_u64(buf, ret) < 0 ? -EBADMSG : 0;
}

int shmfs_shared_join_resolve(const char *path, int oflags, const char *mount,
			      struct shmfs_region_ref *ref, struct stat *ret_st, uint64_t *ret_off,
			      int *ret_fd)
{
	char abs[PATH_MAX];
	_cleanup_close_ int tree_fd = -1;
	uint64_t off, ext;
	struct stat st;
	const char *name;
	size_t ml;
	ssize_t n;
	int fd, r;

	if (!path)
		return 0;       /* the local resolution says why */
	if (path[0] == '/')
		r = snprintf(abs, sizeof(abs), "%s", path);
	else if (strchr(path, '/') && mount)
		r = snprintf(abs, sizeof(abs), "%s/%s", mount, path);
	else
		return 0;
	if (r < 0 || (size_t)r >= sizeof(abs))
		return -ENAMETOOLONG;
	if (!shared_shape(abs))
		return 0;
	ml = mount ? strlen(mount) : 0;
	if (ml && strncmp(abs, mount, ml) == 0 && strncmp(abs + ml, "/shared/", 8) == 0) {
		/* In the tree: open first (the caller's right to the region:
		 * the kernel checks the tree file's mode on this open), then
		 * ask the open file, one path lookup in all. */
		tree_fd = open(abs, oflags | O_CLOEXEC);
		if (tree_fd < 0)
			return -errno;
		n = fgetxattr(tree_fd, SHMFS_XATTR_SHARED_DEVICE, ref->backing, sizeof(ref->backing) - 1);
		if (n < 0)
			return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	} else {
		/* Anywhere else: ask before opening (a path of that shape
		 * outside shmfs is no business of this function). */
		n = getxattr(abs, SHMFS_XATTR_SHARED_DEVICE, ref->backing, sizeof(ref->backing) - 1);
		if (n < 0)
			return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
		tree_fd = open(abs, oflags | O_CLOEXEC);
		if (tree_fd < 0)
			return -errno;
	}
	ref->backing[n] = '\0';
	if (ref->backing[0] != '/')
		return -EBADMSG;
	if (fstat(tree_fd, &st) < 0)
		return -errno;
	r = xattr_u64(tree_fd, SHMFS_XATTR_SHARED_OFFSET, &off);
	if (r == 0)
		r = xattr_u64(tree_fd, SHMFS_XATTR_SHARED_EXTENT, &ext);
	if (r < 0)
		return r;
	if (st.st_size <= 0 || (uint64_t)st.st_size > ext || off % SHMFS_SHARED_ALIGN)
		return -EINVAL;
	name = strrchr(abs, '/') + 1;
	if (strlen(name) >= sizeof(ref->name))
		return -ENAMETOOLONG;
	memset(ref->name, 0, sizeof(ref->name));
	strcpy(ref->name, name);
	snprintf(ref->tree, sizeof(ref->tree), "%s", abs);
	ref->kind = SHMFS_PAGE_HUGE;
	ref->node = -1;
	ref->have_id = true;
	ref->from_cache = false;
	ref->check_fs = false;
	ref->page_sz = SHMFS_SHARED_ALIGN;
	ref->tree_dev = ref->dev = st.st_dev;
	ref->tree_ino = ref->ino = st.st_ino;
	fd = open(ref->backing, oflags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the join table keys joins by the tree's identity: one per region */
	*ret_st = st;
	*ret_off = off;
	*ret_fd = fd;
	return 1;
}
