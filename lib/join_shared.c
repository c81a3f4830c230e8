/* join_shared.c - resolving a region of a shared backing for a join:
 * MOUNT/shared/NAME/REGION is an extent of a device several hosts map, so a
 * join maps the device itself at the region's offset, and two hosts joining
 * the same region share the same bytes.
 *
 * The region is found in the device's own metadata log, not through the
 * daemon: per process, each backing (keyed by MOUNT/shared/NAME) keeps the
 * device open, its superblock and log mapped read-only, and the tree the
 * log's replay built (the daemon's replay code: every byte of the device is
 * untrusted and checked there). A join re-reads the superblock and the
 * log's tail (only records new since the last join are replayed), so a
 * region the master removed before the join began is gone for it; then it
 * checks the caller against the region's mode, owner and group the way the
 * kernel checks an open of the tree file. The first join of a backing asks
 * the daemon, once, which device NAME is (its directory's
 * user.shmfs.shared.device; that lookup is also where the kernel checks
 * the caller may reach the tree). Anything unexpected - no such directory,
 * a device the caller cannot open, a superblock that does not check or
 * names another master, a region the log does not hold, a mode check that
 * refuses (the kernel may still allow: root, capabilities) - falls back to
 * resolving through the tree (open + xattrs), today's answers included. */
#include "join_shared.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "parse.h"
#include "shared_dev.h"
#include "shared_log.h"
#include "util.h"
#include "xattr_names.h"

/* ------------------------------------------------------------ the log's index */

/* A shared backing as this process knows it (never freed: a process names
 * few backings; its fd and mapping are inherited across fork, and the
 * child's joins use them too). */
struct backing {
	struct backing *next;
	char *dir;              /* MOUNT/shared/NAME, as joins name it */
	char *device;
	dev_t tree_dev;         /* the mount's: a join's identity is (tree_dev, region ino) */
	int fd;                 /* the device, O_RDWR when the caller could */
	bool fd_rw, regular;
	const char *base;       /* superblock + log, read-only */
	uint64_t map_len, dev_size;
	struct shmfs_shared_state st;
	struct shmfs_shared_sb sb_seen; /* the superblock last checked, as read */
	bool broken;            /* its log no longer maps as when opened: resolve through the tree */
};

static pthread_mutex_t backings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct backing *backings;

static void backing_drop(struct backing *b)
{
	if (b->base)
		munmap((void *)b->base, b->map_len);
	if (b->fd >= 0)
		close(b->fd);
	shmfs_shared_state_free(&b->st);
	free(b->dir);
	free(b->device);
	free(b);
}

/* Learn which device dir (MOUNT/shared/NAME) presents, open it and map its
 * superblock and log: 0, or -errno (the caller resolves through the tree). */
static int backing_open(const char *dir, struct backing **ret)
{
	char dev[PATH_MAX], master[SHMFS_SHARED_HOST_MAX + 2];
	struct shmfs_shared_sb sb;
	struct backing *b;
	struct stat st;
	ssize_t n, m;
	void *p;
	int rc;

	n = getxattr(dir, SHMFS_XATTR_SHARED_DEVICE, dev, sizeof(dev) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EBADMSG;
	dev[n] = '\0';
	m = getxattr(dir, SHMFS_XATTR_SHARED_MASTER, master, sizeof(master) - 1);
	if (m <= 0)
		return m < 0 ? -errno : -EBADMSG;
	master[m] = '\0';
	if (dev[0] != '/' || strlen(dev) != (size_t)n || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -EBADMSG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = -1;
	b->tree_dev = st.st_dev;
	b->dir = strdup(dir);
	b->device = strdup(dev);
	rc = b->dir && b->device ? 0 : -ENOMEM;
	if (rc == 0) {
		rc = shmfs_shared_dev_open(dev, false, &b->fd, &b->dev_size);
		b->fd_rw = rc == 0;
		if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
			rc = shmfs_shared_dev_open(dev, true, &b->fd, &b->dev_size);
	}
	if (rc == 0 && fstat(b->fd, &st) < 0)
		rc = -errno;
	b->regular = rc == 0 && S_ISREG(st.st_mode);
	/* the superblock first, from a mapping of its 2 MiB alone (a DAX
	 * device maps only whole aligned pages) */
	if (rc == 0 && b->dev_size < SHMFS_SHARED_ALIGN)
		rc = -EUCLEAN;
	if (rc == 0) {
		p = mmap(NULL, SHMFS_SHARED_ALIGN, PROT_READ, MAP_SHARED, b->fd, 0);
		if (p == MAP_FAILED) {
			rc = -errno;
		} else {
			shmfs_shared_invalidate(p, sizeof(sb));
			rc = shmfs_shared_sb_read(p, b->dev_size, &sb);
			munmap(p, SHMFS_SHARED_ALIGN);
		}
	}
	/* the daemon's device and this one are one backing: same master */
	if (rc == 0 && strcmp(sb.master, master) != 0)
		rc = -ESTALE;
	if (rc == 0) {
		b->map_len = sb.log_offset + sb.log_size;
		p = mmap(NULL, b->map_len, PROT_READ, MAP_SHARED, b->fd, 0);
		if (p == MAP_FAILED)
			rc = -errno;
		else
			b->base = p;
	}
	if (rc < 0) {
		backing_drop(b);
		return rc;
	}
	shmfs_shared_state_init(&b->st, &sb);
	b->sb_seen = sb;
	*ret = b;
	return 0;
}

/* Catch up with the log: the superblock again (a device formatted anew
 * replays from the start), then the records after the last one replayed.
 * 0, or -errno when the device no longer holds this log, or when the
 * replay stopped at a record that is torn or damaged: the regions before it
 * may have changed since (moved, removed, their extent reused), so nothing
 * is resolved from the log until the master writes past it; the tree
 * answers meanwhile (a replica shows the log up to the last good record,
 * the master what it wrote). */
static int backing_refresh(struct backing *b)
{
	struct shmfs_shared_sb sb;
	struct stat st;
	int rc, stop;

	/* a file cut short under the log would be SIGBUS on reading it */
	if (b->regular && (fstat(b->fd, &st) < 0 || (uint64_t)st.st_size < b->map_len))
		return -EFAULT;
	shmfs_shared_invalidate(b->base, sizeof(sb));
	/* one copy; the same bytes as last checked need no second check */
	memcpy(&sb, b->base, sizeof(sb));
	if (memcmp(&sb, &b->sb_seen, sizeof(sb)) != 0) {
		rc = shmfs_shared_sb_read(&sb, b->dev_size, &sb);
		if (rc < 0)
			return rc;
		b->sb_seen = sb;
	}
	if (memcmp(sb.uuid, b->st.sb.uuid, sizeof(sb.uuid)) != 0) {
		if (sb.log_offset + sb.log_size != b->map_len)
			return -ESTALE;
		shmfs_shared_state_free(&b->st);
		shmfs_shared_state_init(&b->st, &sb);
	}
	shmfs_shared_replay(b->base, &b->st, true, &stop);
	return stop;
}

/* The caller's credentials, for the mode check (the kernel's: fsuid = euid
 * unless the caller set it apart, which this does not see). */
static int caller_may(const struct shmfs_shared_region *r, bool want_write)
{
	uint32_t need = want_write ? 0666 : 0444, groups[64];
	gid_t g[64], gid;
	uid_t uid;
	int n;

	/* every class may: no need to know who asks */
	if ((r->mode & need) == need)
		return 0;
	uid = geteuid();
	if (uid == r->uid)
		return shmfs_shared_access(r, uid, 0, NULL, 0, want_write);
	gid = getegid();
	if (shmfs_shared_access(r, uid, gid, NULL, 0, want_write) == 0)
		return 0;
	n = getgroups(64, g);
	if (n <= 0)
		return -EACCES;
	for (int i = 0; i < n; i++)
		groups[i] = g[i];
	return shmfs_shared_access(r, uid, gid, groups, (size_t)n, want_write);
}

/* Resolve abs (= dir/REGION) from the log: 1 with the results filled (2:
 * *ret_fd is the backing's, not the caller's to close), 0 to
 * resolve through the tree instead, or -errno: -ENOENT for a region the
 * log does not hold (the daemon would say the same: it shows the log). */
static int resolve_from_log(const char *abs, size_t dir_len, int oflags, struct shmfs_region_ref *ref,
			    struct stat *ret_st, uint64_t *ret_off, int *ret_fd)
{
	bool want_write = (oflags & O_ACCMODE) != O_RDONLY;
	const struct shmfs_shared_region *found;
	struct shmfs_shared_region r;
	const char *name = abs + dir_len + 1;
	struct backing *b;
	dev_t tree_dev;
	bool borrowed;
	int fd, rc;

	if (dir_len >= PATH_MAX || strlen(name) >= sizeof(r.name) || strlen(name) >= sizeof(ref->name))
		return 0;
	pthread_mutex_lock(&backings_lock);
	for (b = backings; b; b = b->next)
		if (strncmp(b->dir, abs, dir_len) == 0 && b->dir[dir_len] == '\0')
			break;
	if (!b) {
		char dir[PATH_MAX];

		memcpy(dir, abs, dir_len);
		dir[dir_len] = '\0';
		if (backing_open(dir, &b) < 0) {
			pthread_mutex_unlock(&backings_lock);
			return 0;
		}
		b->next = backings;
		backings = b;
	}
	rc = b->broken ? -ESTALE : backing_refresh(b);
	if (rc < 0) {
		/* a log that no longer maps as it did stays the tree's */
		b->broken = rc == -ESTALE;
		pthread_mutex_unlock(&backings_lock);
		return 0;
	}
	found = shmfs_shared_find(&b->st, name);
	if (found)
		r = *found;
	tree_dev = b->tree_dev;
	/* the backing's own fd when it has the access asked (it stays open
	 * while the process lives: the caller maps it and does not close it) */
	fd = found && (!want_write || b->fd_rw) ? b->fd : -1;
	borrowed = fd >= 0;
	pthread_mutex_unlock(&backings_lock);
	if (!found)
		return -ENOENT;
	rc = caller_may(&r, want_write);
	if (rc == 0 && (r.size == 0 || r.size > r.extent || r.offset % SHMFS_SHARED_ALIGN))
		rc = -EINVAL;
	if (rc == 0 && fd < 0) {
		/* the device was only readable when first opened: the caller's
		 * own open decides, as on the tree's path */
		fd = open(b->device, oflags | O_CLOEXEC);
		if (fd < 0)
			rc = -EACCES;
	}
	if (rc) {
		if (fd >= 0 && !borrowed)
			close(fd);
		/* a refusal is the kernel's to confirm, on the tree file */
		return rc == -EINVAL ? rc : 0;
	}
	memset(ref->name, 0, sizeof(ref->name));
	strcpy(ref->name, name);
	snprintf(ref->tree, sizeof(ref->tree), "%s", abs);
	snprintf(ref->backing, sizeof(ref->backing), "%s", b->device);
	memset(ret_st, 0, sizeof(*ret_st));
	ret_st->st_dev = tree_dev;
	ret_st->st_ino = (ino_t)SHMFS_SHARED_INO(r.id);
	ret_st->st_mode = S_IFREG | (r.mode & 07777);
	ret_st->st_nlink = 1;
	ret_st->st_uid = r.uid;
	ret_st->st_gid = r.gid;
	ret_st->st_size = (off_t)r.size;
	ret_st->st_blksize = (blksize_t)SHMFS_SHARED_ALIGN;
	ret_st->st_blocks = (blkcnt_t)(r.extent / 512);
	*ret_off = r.offset;
	*ret_fd = fd;
	return borrowed ? 2 : 1;
}

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

/* What every shared region's ref holds beside its names. */
static void shared_ref_fill(struct shmfs_region_ref *ref, const struct stat *st)
{
	ref->kind = SHMFS_PAGE_HUGE;
	ref->node = -1;
	ref->have_id = true;
	ref->from_cache = false;
	ref->check_fs = false;
	ref->page_sz = SHMFS_SHARED_ALIGN;
	ref->tree_dev = ref->dev = st->st_dev;
	ref->tree_ino = ref->ino = st->st_ino;
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
	r = resolve_from_log(abs, (size_t)(strrchr(abs, '/') - abs), oflags, ref, ret_st, ret_off, ret_fd);
	if (r != 0) {
		if (r > 0)
			shared_ref_fill(ref, ret_st);
		return r;
	}
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
	shared_ref_fill(ref, &st);
	fd = open(ref->backing, oflags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the join table keys joins by the tree's identity: one per region */
	*ret_st = st;
	*ret_off = off;
	*ret_fd = fd;
	return 1;
}
