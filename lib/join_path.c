/* join_path.c - turn the path a user gave into the region's backing file.
 *
 * A path in a shmfs tree is asked of the daemon: the region's
 * user.shmfs.backing_id says which file (device and inode) backs it and
 * user.shmfs.backing where it is. Regions are the only files carrying
 * backing_id (the mount root carries backing, but is a directory), so one
 * getxattr tells a region from everything else. Directories and files that
 * do not carry it are classified with stat(2) for a precise error; a file in
 * a .normal/.huge/.gigantic directory on tmpfs or hugetlbfs is a backing path
 * and needs no daemon.
 *
 * Resolutions the daemon vouched for are cached per process: a join through
 * the tree then costs a stat of the (kernel-cached) tree entry instead of two
 * round trips to the daemon. The stat must find the same tree inode on the
 * same mount (so a remount, a re-created or moved region miss), and every
 * open checks the backing file's identity; a mismatch goes back to the
 * daemon. A backing path costs nothing beyond the open itself: the file
 * system is checked on the open file. */
#include "join_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "name.h"
#include "parse.h"
#include "util.h"
#include "xattr_names.h"

/* ---------------------------------------------------------------- page types */

static struct shmfs_page_types page_types;
static pthread_once_t page_types_once = PTHREAD_ONCE_INIT;

static void page_types_init(void)
{
	/* Page sizes are fixed for the life of the kernel. On failure every
	 * huge type stays absent and only normal pages are known. */
	if (shmfs_page_types_load(&page_types) < 0) {
		memset(&page_types, 0, sizeof(page_types));
		page_types.type[SHMFS_PAGE_NORMAL].kind = SHMFS_PAGE_NORMAL;
		page_types.type[SHMFS_PAGE_NORMAL].name = "normal";
		page_types.type[SHMFS_PAGE_NORMAL].backing_dir = ".normal";
		page_types.type[SHMFS_PAGE_NORMAL].page_sz = (uint64_t)sysconf(_SC_PAGESIZE);
	}
}

const struct shmfs_page_types *shmfs_lib_page_types(void)
{
	pthread_once(&page_types_once, page_types_init);
	return &page_types;
}

/* ---------------------------------------------------------------- the cache */

#define CACHE_CNT 16

struct cache_entry {
	char *tree;
	char *backing;
	dev_t dev;
	ino_t ino;
	dev_t tree_dev;
	ino_t tree_ino;
	uint64_t page_sz;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[CACHE_CNT];
static unsigned cache_next;

static void cache_entry_free(struct cache_entry *c)
{
	free(c->tree);
	free(c->backing);
	c->tree = c->backing = NULL;
}

static bool cache_get(const char *tree, struct shmfs_region_ref *ref)
{
	bool hit = false;

	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_CNT; i++) {
		struct cache_entry *c = &cache[i];
		if (!c->tree || strcmp(c->tree, tree) != 0)
			continue;
		shmfs_strlcpy(ref->backing, c->backing, sizeof(ref->backing));
		ref->dev = c->dev;
		ref->ino = c->ino;
		ref->tree_dev = c->tree_dev;
		ref->tree_ino = c->tree_ino;
		ref->page_sz = c->page_sz;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_drop(const char *tree)
{
	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_CNT; i++)
		if (cache[i].tree && strcmp(cache[i].tree, tree) == 0)
			cache_entry_free(&cache[i]);
	pthread_mutex_unlock(&cache_lock);
}

static void cache_put(const struct shmfs_region_ref *ref)
{
	char *tree = strdup(ref->tree), *backing = strdup(ref->backing);
	struct cache_entry *c = NULL;

	if (!tree || !backing) {
		/* Only a hint: without memory, do without it. */
		free(tree);
		free(backing);
		return;
	}
	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_CNT && !c; i++)
		if (cache[i].tree && strcmp(cache[i].tree, tree) == 0)
			c = &cache[i];
	if (!c)
		c = &cache[cache_next++ % CACHE_CNT];
	cache_entry_free(c);
	c->tree = tree;
	c->backing = backing;
	c->dev = ref->dev;
	c->ino = ref->ino;
	c->tree_dev = ref->tree_dev;
	c->tree_ino = ref->tree_ino;
	c->page_sz = ref->page_sz;
	pthread_mutex_unlock(&cache_lock);
}

void shmfs_region_cache_flush(void)
{
	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_CNT; i++)
		cache_entry_free(&cache[i]);
	pthread_mutex_unlock(&cache_lock);
}

/* ---------------------------------------------------------------- paths */

SHMFS_API const char *shmfs_mount_path(void)
{
	const char *p = getenv("SHMFS_PATH");

	return p && *p ? p : SHMFS_DEFAULT_PATH;
}

static int path_check(const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int shmfs_tree_path(const char *path, char *buf, size_t buf_sz)
{
	int r = path_check(path), n;

	if (r < 0)
		return r;
	if (path[0] == '/')
		n = snprintf(buf, buf_sz, "%s", path);
	else if (!strchr(path, '/'))
		return -EINVAL;
	else
		n = snprintf(buf, buf_sz, "%s/%s", shmfs_mount_path(), path);
	return n < 0 || (size_t)n >= buf_sz ? -ENAMETOOLONG : 0;
}

/* Copy the last component of path into buf (path has no trailing slash). */
static void last_component(const char *path, const char **ret_start, size_t *ret_len)
{
	const char *end = path + strlen(path), *s = end;

	while (s > path && s[-1] != '/')
		s--;
	*ret_start = s;
	*ret_len = (size_t)(end - s);
}

/* The directory components above the file: parent and grandparent names,
 * "" when the path is too short. */
static void parent_names(const char *path, char *parent, size_t parent_sz, char *grand, size_t grand_sz)
{
	const char *comp[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 };
	const char *end = path + strlen(path);

	/* Walk back over three components: file, parent, grandparent. */
	for (int i = 0; i < 3; i++) {
		const char *s;
		while (end > path && end[-1] == '/')
			end--;
		s = end;
		while (s > path && s[-1] != '/')
			s--;
		comp[i] = s;
		len[i] = (size_t)(end - s);
		end = s;
	}
	if (len[1] >= parent_sz)
		len[1] = parent_sz - 1;
	if (len[2] >= grand_sz)
		len[2] = grand_sz - 1;
	memcpy(parent, comp[1], len[1]);
	parent[len[1]] = '\0';
	memcpy(grand, comp[2], len[2]);
	grand[len[2]] = '\0';
}

static int set_name(const char *path, struct shmfs_region_ref *ref)
{
	const char *s;
	size_t len;

	last_component(path, &s, &len);
	if (len == 0 || len > SHMFS_REGION_NAME_MAX)
		return -ENOTSUP;
	memcpy(ref->name, s, len);
	ref->name[len] = '\0';
	return shmfs_name_check(ref->name) < 0 ? -ENOTSUP : 0;
}

/* Where a tree path sits: TYPE/nodeN/NAME. The daemon served the xattrs, so
 * the shape is right; unknown parts are left at "normal" and -1. */
static void set_tree_location(struct shmfs_region_ref *ref)
{
	char parent[NAME_MAX + 1], grand[NAME_MAX + 1];
	const struct shmfs_page_type *t;

	parent_names(ref->tree, parent, sizeof(parent), grand, sizeof(grand));
	ref->node = -1;
	(void)shmfs_parse_node_name(parent, &ref->node);
	t = shmfs_page_type_by_name(shmfs_lib_page_types(), grand);
	ref->kind = t && grand[0] != '.' ? t->kind : SHMFS_PAGE_NORMAL;
}

/* "DEV:INO", both decimal, as xattr_names.h defines backing_id. */
static int parse_id(const char *s, dev_t *ret_dev, ino_t *ret_ino)
{
	char buf[64];
	char *colon;
	uint64_t dev, ino;

	if (strlen(s) >= sizeof(buf))
		return -EBADMSG;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return -EBADMSG;
	*colon = '\0';
	if (shmfs_parse_u64(buf, &dev) < 0 || shmfs_parse_u64(colon + 1, &ino) < 0)
		return -EBADMSG;
	*ret_dev = (dev_t)dev;
	*ret_ino = (ino_t)ino;
	return 0;
}

/* The page type whose backing directory (".huge") is abs's parent, if any. */
static const struct shmfs_page_type *backing_type(const char *abs)
{
	char parent[NAME_MAX + 1], grand[NAME_MAX + 1];

	parent_names(abs, parent, sizeof(parent), grand, sizeof(grand));
	return parent[0] == '.' ? shmfs_page_type_by_name(shmfs_lib_page_types(), parent) : NULL;
}

/* A file in <backing>/.TYPE/ named like a region. That it is a regular file
 * on tmpfs or hugetlbfs is checked on the open file (check_fs), which costs
 * no path walk. */
static int resolve_backing(const char *abs, const struct shmfs_page_type *t, struct shmfs_region_ref *ref)
{
	if (set_name(abs, ref) < 0)
		return -ENOTSUP;
	ref->tree[0] = '\0';
	shmfs_strlcpy(ref->backing, abs, sizeof(ref->backing));
	ref->kind = t->kind;
	ref->node = -1;
	ref->have_id = false;
	ref->from_cache = false;
	ref->check_fs = true;
	ref->page_sz = 0;
	return 0;
}

/* The path carries no backing_id (err is getxattr's errno): say precisely
 * what it is instead. */
static int classify(const char *abs, int err, struct shmfs_region_ref *ref)
{
	struct stat st;

	if (err != ENODATA && err != EOPNOTSUPP)
		return -err;
	if (stat(abs, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return -ENOTSUP;
}

/* Ask the daemon (the xattrs of the tree file) which file backs abs. */
static int resolve_fresh(const char *abs, struct shmfs_region_ref *ref)
{
	struct stat st;
	char id[64];
	ssize_t n;
	int r;

	n = getxattr(abs, SHMFS_XATTR_BACKING_ID, id, sizeof(id) - 1);
	if (n < 0)
		return classify(abs, errno, ref);
	id[n] = '\0';
	r = parse_id(id, &ref->dev, &ref->ino);
	if (r < 0)
		return r;
	n = getxattr(abs, SHMFS_XATTR_BACKING, ref->backing, sizeof(ref->backing) - 1);
	if (n < 0)
		return errno == ENODATA ? -EBADMSG : -errno;
	ref->backing[n] = '\0';
	if (ref->backing[0] != '/')
		return -EBADMSG;
	if (set_name(abs, ref) < 0)
		return -ENOTSUP;
	/* The tree inode pins this resolution to this mount and region. */
	if (stat(abs, &st) < 0)
		return -errno;
	shmfs_strlcpy(ref->tree, abs, sizeof(ref->tree));
	ref->tree_dev = st.st_dev;
	ref->tree_ino = st.st_ino;
	ref->have_id = true;
	ref->from_cache = false;
	ref->check_fs = false;
	ref->page_sz = 0;
	set_tree_location(ref);
	return 0;
}

static int resolve_abs(const char *abs, struct shmfs_region_ref *ref)
{
	const struct shmfs_page_type *t = backing_type(abs);
	struct stat st;

	/* No tree has a ".huge" directory: this is a backing path. */
	if (t)
		return resolve_backing(abs, t, ref);
	if (cache_get(abs, ref)) {
		/* The same tree inode must still have the name (a lookup the
		 * kernel answers from its cache); the backing file's identity
		 * is checked when it is opened. */
		if (stat(abs, &st) == 0 && st.st_dev == ref->tree_dev && st.st_ino == ref->tree_ino &&
		    set_name(abs, ref) == 0) {
			shmfs_strlcpy(ref->tree, abs, sizeof(ref->tree));
			ref->have_id = true;
			ref->from_cache = true;
			ref->check_fs = false;
			set_tree_location(ref);
			return 0;
		}
		cache_drop(abs);
	}
	return resolve_fresh(abs, ref);
}

/* A bare name: try(TYPE/nodeN/name, ctx) over every node directory of
 * gigantic, then huge, then normal, until one returns 0; -ENOENT when every
 * one did, else the first other error. */
static int search_bare(const char *name, int (*try)(const char *cand, void *ctx), void *ctx)
{
	const struct shmfs_page_types *types = shmfs_lib_page_types();
	const char *mount = shmfs_mount_path();
	int first_err = 0, r;

	r = shmfs_name_check(name);
	if (r < 0)
		return r;
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		const struct shmfs_page_type *t = &types->type[k];
		_cleanup_closedir_ DIR *d = NULL;
		char dir[PATH_MAX], cand[PATH_MAX];
		struct dirent *de;
		int node;

		if (!shmfs_page_type_present(t))
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", mount, t->name) >= (int)sizeof(dir))
			return -ENAMETOOLONG;
		d = opendir(dir);
		if (!d) {
			if (errno != ENOENT && !first_err)
				first_err = -errno;
			continue;
		}
		while ((de = readdir(d))) {
			if (shmfs_parse_node_name(de->d_name, &node) < 0)
				continue;
			if (snprintf(cand, sizeof(cand), "%s/%s/%s", dir, de->d_name, name) >= (int)sizeof(cand))
				return -ENAMETOOLONG;
			r = try(cand, ctx);
			if (r == 0)
				return 0;
			if (r != -ENOENT && !first_err)
				first_err = r;
		}
	}
	return first_err ? first_err : -ENOENT;
}

static int try_resolve(const char *cand, void *ctx)
{
	return resolve_abs(cand, ctx);
}

static int resolve_bare(const char *name, struct shmfs_region_ref *ref)
{
	return search_bare(name, try_resolve, ref);
}

struct path_buf {
	char *buf;
	size_t sz;
};

/* A candidate that exists wins, whoever may read it. */
static int try_exists(const char *cand, void *ctx)
{
	struct path_buf *p = ctx;
	struct stat st;

	if (lstat(cand, &st) < 0)
		return -errno;
	if (strlen(cand) >= p->sz)
		return -ENAMETOOLONG;
	memcpy(p->buf, cand, strlen(cand) + 1);
	return 0;
}

SHMFS_API int shmfs_region_path(const char *path, char *ret_path, size_t ret_path_sz)
{
	char abs[PATH_MAX];
	struct path_buf p = { abs, sizeof(abs) };
	int r = path_check(path);

	if (r < 0)
		return r;
	if (!ret_path)
		return -EINVAL;
	if (!strchr(path, '/'))
		r = search_bare(path, try_exists, &p);
	else
		r = shmfs_tree_path(path, abs, sizeof(abs));
	if (r < 0)
		return r;
	if (strlen(abs) >= ret_path_sz)
		return -ENAMETOOLONG;
	memcpy(ret_path, abs, strlen(abs) + 1);
	return 0;
}

int shmfs_region_resolve(const char *path, struct shmfs_region_ref *ret)
{
	char abs[PATH_MAX];
	int r = path_check(path);

	if (r < 0)
		return r;
	if (!strchr(path, '/'))
		return resolve_bare(path, ret);
	r = shmfs_tree_path(path, abs, sizeof(abs));
	if (r < 0)
		return r;
	return resolve_abs(abs, ret);
}

/* ---------------------------------------------------------------- opening */

static int open_checked(struct shmfs_region_ref *ref, int oflags, struct stat *ret_st)
{
	/* O_NONBLOCK: opening a FIFO (a backing file swapped for one, or a
	 * backing path naming one) would wait for a writer; it is refused below
	 * instead. On a regular file the flag changes nothing for mmap. */
	_cleanup_close_ int fd = open(ref->backing, oflags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct statfs sfs;
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	if (ref->have_id && (st.st_dev != ref->dev || st.st_ino != ref->ino))
		return -ESTALE;
	if (ref->check_fs || !ref->page_sz) {
		if (fstatfs(fd, &sfs) < 0)
			return -errno;
		if (ref->check_fs && sfs.f_type != HUGETLBFS_MAGIC && sfs.f_type != TMPFS_MAGIC)
			return -ENOTSUP;
		ref->page_sz = shmfs_statfs_page_size(&sfs);
	}
	*ret_st = st;
	return TAKE_FD(fd);
}

int shmfs_region_open(struct shmfs_region_ref *ref, int oflags, struct stat *ret_st)
{
	int fd = open_checked(ref, oflags, ret_st), r;

	if (ref->from_cache && (fd == -ESTALE || fd == -ENOENT)) {
		/* The cache was wrong (region re-created or renamed): ask the daemon. */
		char tree[PATH_MAX];

		shmfs_strlcpy(tree, ref->tree, sizeof(tree));
		cache_drop(tree);
		r = resolve_fresh(tree, ref);
		if (r < 0)
			return r;
		fd = open_checked(ref, oflags, ret_st);
	}
	if (fd < 0)
		return fd;
	if (!ref->have_id) {
		ref->dev = ret_st->st_dev;
		ref->ino = ret_st->st_ino;
		ref->have_id = true;
	} else if (!ref->from_cache && ref->tree[0]) {
		cache_put(ref);
	}
	return fd;
}

uint64_t shmfs_statfs_page_size(const struct statfs *sfs)
{
	/* hugetlbfs reports its page size as the block size; everything else
	 * maps base pages. */
	if (sfs->f_type == HUGETLBFS_MAGIC && sfs->f_bsize > 0)
		return (uint64_t)sfs->f_bsize;
	return (uint64_t)sysconf(_SC_PAGESIZE);
}
