/* backing.c - the backing store under the backing root: as root, one tmpfs
 * for normal pages and one hugetlbfs per huge page type with the page size the
 * kernel reports, mounted at <backing>/.normal, .huge and .gigantic (the
 * fd_shmem layout) and reused when a previous daemon left them mounted;
 * without root, backing mounts named by options, linked into the same layout.
 * Also the metadata directory <backing>/.shmfs, the owner and mode the
 * mount options give the type directories (as fd_shmem_cfg init does), and
 * the record of stray objects found in the backing store (logged once each,
 * never removed: they belong to someone else). Backing mounts are never
 * unmounted here: regions outlive the daemon. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing_path.h"
#include "mountinfo.h"
#include "util.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int shmfs_mount_dev(const char *path, dev_t *ret)
{
	struct shmfs_mount m;
	int r = shmfs_mountinfo_at(path, &m);

	if (r < 0)
		return r;
	if (strncmp(m.fstype, "fuse", 4) != 0)
		return -ENOENT;
	*ret = m.dev;
	return 0;
}

static bool opts_has(const char *opts, const char *want)
{
	const char *p = strstr(opts, want);

	return p && (p == opts || p[-1] == ',') &&
	       (p[strlen(want)] == '\0' || p[strlen(want)] == ',');
}

/* The kernel shows the page size in K or M ("1024M" for 1 GiB pages); take
 * every exact spelling so a future kernel's choice does not matter. */
static bool opts_has_pagesize(const char *opts, uint64_t page_sz)
{
	static const struct { uint64_t shift; char unit; } units[] = { { 10, 'K' }, { 20, 'M' }, { 30, 'G' } };
	char want[64];

	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(units); i++) {
		if (page_sz % (UINT64_C(1) << units[i].shift))
			continue;
		snprintf(want, sizeof(want), "pagesize=%" PRIu64 "%c", page_sz >> units[i].shift,
			 units[i].unit);
		if (opts_has(opts, want))
			return true;
	}
	return false;
}

static int mount_type(struct shmfs_type_state *ts)
{
	const struct shmfs_page_type *pt = ts->pt;
	struct shmfs_mount m;
	char data[128];
	int r;

	r = mkdir_p(ts->path, 0755);
	if (r < 0)
		return r;
	r = shmfs_mountinfo_at(ts->path, &m);
	if (r == 0) {
		if (!shmfs_page_type_is_huge(pt) && strcmp(m.fstype, "tmpfs") == 0)
			return 0;
		if (shmfs_page_type_is_huge(pt) && strcmp(m.fstype, "hugetlbfs") == 0 &&
		    opts_has_pagesize(m.opts, pt->page_sz))
			return 0;
		SHMFS_LOG("'%s' already has a %s mount (%s) that is not the %s backing store",
			  ts->path, m.fstype, m.opts, pt->name);
		return -EEXIST;
	}
	if (r != -ENOENT)
		return r;
	if (shmfs_page_type_is_huge(pt)) {
		snprintf(data, sizeof(data), "pagesize=%" PRIu64 ",mode=0755", pt->page_sz);
		r = mount("shmfs", ts->path, "hugetlbfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data);
	} else {
		r = mount("shmfs", ts->path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
	}
	if (r < 0) {
		r = -errno;
		SHMFS_LOG("Failed to mount the %s backing store on '%s': %s", pt->name, ts->path,
			  strerror(-r));
		return r;
	}
	return 0;
}

/* Non-root: the directory the user named for this type, linked into the
 * fd_shmem layout so FD_SHMEM_PATH=<backing> still works. */
static int link_type(struct shmfs_type_state *ts, const char *dir)
{
	struct statfs sfs;
	char target[PATH_MAX];
	ssize_t n;

	if (statfs(dir, &sfs) < 0)
		return -errno;
	if (shmfs_page_type_is_huge(ts->pt) ? sfs.f_type != HUGETLBFS_MAGIC
					    : sfs.f_type != TMPFS_MAGIC) {
		SHMFS_LOG("'%s' is not a %s mount", dir,
			  shmfs_page_type_is_huge(ts->pt) ? "hugetlbfs" : "tmpfs");
		return -EINVAL;
	}
	if (shmfs_page_type_is_huge(ts->pt) && (uint64_t)sfs.f_bsize != ts->pt->page_sz) {
		SHMFS_LOG("'%s' has %lu byte pages, %s pages are %" PRIu64 " bytes", dir,
			  (unsigned long)sfs.f_bsize, ts->pt->name, ts->pt->page_sz);
		return -EINVAL;
	}
	n = readlink(ts->path, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strcmp(target, dir) == 0)
			return 0;
		if (unlink(ts->path) < 0)
			return -errno;
	}
	if (symlink(dir, ts->path) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* fd_shmem_cfg init PERM USER GROUP chowns and chmods its whole path, so
 * USER creates and joins regions in <path>/.huge directly; -o mode,uid,gid
 * (what shmfsctl init passes) do the same to the backing root and the type
 * directories, as they do to the tree's directories. Without the options
 * the directories keep what they have. */
static int apply_dir_owner(struct shmfs_fs *fs, int fd, const char *path)
{
	struct stat st;
	bool chown_it;
	int r = 0;

	if (!fs->is_root || !fs->have_dir_mode)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	chown_it = st.st_uid != fs->dir_uid || st.st_gid != fs->dir_gid;
	if (chown_it && fchown(fd, fs->dir_uid, fs->dir_gid) < 0)
		r = -errno;
	/* after the chown, which may clear set-group-ID */
	else if ((chown_it || (st.st_mode & 07777) != (fs->dir_mode & 07777)) &&
		 fchmod(fd, fs->dir_mode & 07777) < 0)
		r = -errno;
	if (r < 0)
		SHMFS_LOG("Failed to give '%s' mode %04o, uid %u, gid %u: %s", path,
			  (unsigned)fs->dir_mode, (unsigned)fs->dir_uid, (unsigned)fs->dir_gid,
			  strerror(-r));
	return r;
}

int shmfs_backing_setup(struct shmfs_fs *fs)
{
	char path[PATH_MAX];
	int r;

	r = mkdir_p(fs->backing, 0755);
	if (r < 0) {
		SHMFS_LOG("Failed to create the backing root '%s': %s", fs->backing, strerror(-r));
		return r;
	}
	if (fs->is_root && fs->have_dir_mode) {
		_cleanup_close_ int fd = open(fs->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		r = fd < 0 ? -errno : apply_dir_owner(fs, fd, fs->backing);
		if (r < 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s/.shmfs", fs->backing);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		SHMFS_LOG("Failed to create '%s': %s", path, strerror(-r));
		return r;
	}
	fs->metafd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fs->metafd < 0) {
		r = -errno;
		SHMFS_LOG("Cannot use '%s' as the metadata directory: %s", path, strerror(-r));
		return r;
	}

	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		struct shmfs_type_state *ts = &fs->type[k];
		const struct shmfs_page_type *pt = &fs->types.type[k];
		struct stat st;

		ts->dirfd = -1;
		ts->metafd = -1;
		if (!shmfs_page_type_present(pt))
			continue;
		if (!fs->is_root && !fs->opt_dir[k])
			continue;
		ts->pt = pt;
		snprintf(ts->path, sizeof(ts->path), "%s/%s", fs->backing, pt->backing_dir);
		r = fs->is_root ? mount_type(ts) : link_type(ts, fs->opt_dir[k]);
		if (r < 0)
			return r;
		ts->dirfd = open(ts->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ts->dirfd < 0)
			return -errno;
		if (fstat(ts->dirfd, &st) < 0)
			return -errno;
		ts->dev = st.st_dev;
		r = apply_dir_owner(fs, ts->dirfd, ts->path);
		if (r < 0)
			return r;
		if (mkdirat(fs->metafd, pt->name, 0700) < 0 && errno != EEXIST)
			return -errno;
		ts->metafd = openat(fs->metafd, pt->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ts->metafd < 0) {
			r = -errno;
			SHMFS_LOG("Cannot use '%s/%s' as a metadata directory: %s", path, pt->name,
				  strerror(-r));
			return r;
		}
	}
	{
		struct stat st;
		if (fstat(fs->metafd, &st) < 0)
			return -errno;
		/* when the backing root was first set up: the same after every restart */
		fs->tree_time = st.st_mtim;
	}
	if (!fs->is_root) {
		bool any = false;
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
			any |= fs->type[k].pt != NULL;
		if (!any) {
			SHMFS_LOG("Without root, name existing backing mounts with "
				  "-o normal=DIR,huge=DIR,gigantic=DIR");
			return -EPERM;
		}
	}
	return 0;
}

void shmfs_backing_close(struct shmfs_fs *fs)
{
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		if (fs->type[k].dirfd >= 0)
			close(fs->type[k].dirfd);
		if (fs->type[k].metafd >= 0)
			close(fs->type[k].metafd);
		fs->type[k].dirfd = fs->type[k].metafd = -1;
	}
	if (fs->metafd >= 0)
		close(fs->metafd);
	fs->metafd = -1;
}

/* ------------------------------------------------------------ strays */

struct stray {
	char *dir;
	char *name;
	ino_t ino;
};

#define STRAY_MAX 4096

static pthread_mutex_t stray_lock = PTHREAD_MUTEX_INITIALIZER;
static void *stray_tree;
static size_t stray_cnt;
static bool stray_full_told;

static int stray_cmp(const void *a, const void *b)
{
	const struct stray *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);

	return c ? c : strcmp(x->name, y->name);
}

const char *shmfs_backing_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	default: return "an object of unknown type";
	}
}

void shmfs_backing_stray(const char *dir, const char *name, ino_t ino, const char *what)
{
	struct stray key = { .dir = (char *)dir, .name = (char *)name }, *s;
	void **p;
	bool tell = true;

	pthread_mutex_lock(&stray_lock);
	p = tfind(&key, &stray_tree, stray_cmp);
	if (p) {
		s = *(struct stray **)p;
		/* the same object again (another event for it): said already */
		tell = s->ino != ino;
		s->ino = ino;
	} else if (stray_cnt >= STRAY_MAX) {
		if (!stray_full_told)
			SHMFS_LOG("More than %d stray objects in the backing store: no more are logged",
				  STRAY_MAX);
		stray_full_told = true;
		tell = false;
	} else if ((s = calloc(1, sizeof(*s))) && (s->dir = strdup(dir)) && (s->name = strdup(name))) {
		s->ino = ino;
		tsearch(s, &stray_tree, stray_cmp);
		stray_cnt++;
	} else if (s) {
		free(s->dir);
		free(s);
	}
	if (tell)
		SHMFS_LOG("'%s/%s' in the backing store: %s", dir, name, what);
	pthread_mutex_unlock(&stray_lock);
}

void shmfs_backing_stray_gone(const char *dir, const char *name)
{
	struct stray key = { .dir = (char *)dir, .name = (char *)name }, *s;
	void **p;

	pthread_mutex_lock(&stray_lock);
	p = tfind(&key, &stray_tree, stray_cmp);
	if (p) {
		s = *(struct stray **)p;
		tdelete(&key, &stray_tree, stray_cmp);
		stray_cnt--;
		free(s->dir);
		free(s->name);
		free(s);
	}
	pthread_mutex_unlock(&stray_lock);
}
