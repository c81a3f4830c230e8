/* xattr.c - reading the extended attributes of the tree, exactly as
 * lib/core/xattr_names.h names them, from one table of names and getters:
 * on regions what the kernel knows now (pages allocated, nodes the pages sit
 * on, mappers - pids only to whom /proc would show them - orphaned, heap
 * statistics) and what meta.c remembers (creator, creation time, policy,
 * lifetime, foreign program), plus user.* attributes that users set and the
 * daemon persists; on directories the pools (with surplus and overcommit);
 * on the mount root the backing root. One namespace is served (user.); names
 * in it that do not exist are ENODATA, other namespaces ENOTSUP, never
 * ENOSYS. Writes are xattr_set.c's. */
#include "daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <shmfs/heap.h>

#include "parse.h"
#include "pool.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

bool shmfs_xattr_is_user(const char *name)
{
	return strncmp(name, SHMFS_XATTR_USER, strlen(SHMFS_XATTR_USER)) == 0;
}

bool shmfs_xattr_is_ours(const char *name)
{
	return strncmp(name, SHMFS_XATTR_PREFIX, strlen(SHMFS_XATTR_PREFIX)) == 0;
}

static int ret_str(char **ret_val, size_t *ret_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ret_str(char **ret_val, size_t *ret_len, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	*ret_val = s;
	*ret_len = (size_t)n;
	return 0;
}

/* The pids the asker may see in /proc: the others are counted by
 * mapper_count only. */
static int format_pids(const pid_t *pids, size_t cnt, const struct fuse_ctx *ctx, char **ret_val,
		       size_t *ret_len)
{
	char *s = NULL;
	size_t len = 0, shown = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++)
		if (!ctx || shmfs_pid_visible(pids[i], ctx->uid, ctx->gid))
			fprintf(f, "%s%d", shown++ ? "," : "", (int)pids[i]);
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	*ret_val = s;
	*ret_len = len;
	return 0;
}

/* Heap statistics, when the region holds a libshmfs heap: peeked through a
 * short-lived read-only mapping. */
static int heap_peek(struct shmfs_fs *fs, struct shmfsd_region *r, shmfs_heap_stats_t *ret)
{
	_cleanup_close_ int fd = shmfsd_region_open_backing(fs, r, O_RDONLY);
	struct stat st;
	void *map;
	int rc;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return -ENOMSG;
	/* a hole read through a mapping would take a page (or SIGBUS on an
	 * empty pool): regions the daemon sized have none */
	if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size)
		return -ENOMSG;
	/* most regions hold no heap: its first word says so without a mapping
	 * (the library's own check, on a copy of that word) */
	{
		_Alignas(16) uint64_t first = 0;

		if (pread(fd, &first, sizeof(first), 0) == (ssize_t)sizeof(first) &&
		    shmfs_heap_peek(&first, sizeof(first), ret) == -ENOMSG)
			return -ENOMSG;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	rc = shmfs_guarded_heap_peek(map, (size_t)st.st_size, ret);
	munmap(map, (size_t)st.st_size);
	return rc;
}

/* ------------------------------------------------------------ the attributes
 *
 * One table: each attribute's name, the objects that have it, and its
 * getter. Listing goes through it in order, so its order is what
 * listxattr shows. */

/* What a getter is asked about: a region (r, held), or a directory or the
 * root (r NULL); kind is the page type of a region or directory. */
struct xattr_q {
	struct shmfs_fs *fs;
	const struct shmfs_ino_info *info;
	enum shmfs_page_kind kind;
	struct shmfsd_region *r;
	const struct fuse_ctx *ctx;     /* the asker, or NULL (the daemon itself) */
};

typedef int (*xattr_get_fn)(const struct xattr_q *q, char **ret_val, size_t *ret_len);

static int get_page_type(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	return ret_str(ret_val, ret_len, "%s", q->fs->type[q->kind].pt->name);
}

static int get_page_sz(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	return ret_str(ret_val, ret_len, "%" PRIu64, q->fs->type[q->kind].pt->page_sz);
}

/* A number of the directory's pool: its node's, or every node's for a type
 * directory. */
static int pool_value(const struct xattr_q *q, size_t field, char **ret_val, size_t *ret_len)
{
	struct shmfs_pool_stat ps = { 0 };
	int r = shmfs_pool_of(q->fs, q->kind, q->info->obj == SHMFS_OBJ_NODE ? q->info->node : -1, &ps);

	if (r < 0)
		return r;
	return ret_str(ret_val, ret_len, "%" PRIu64, *(const uint64_t *)((const char *)&ps + field));
}

#define POOL_GETTER(member)                                                                     \
	static int get_pool_##member(const struct xattr_q *q, char **ret_val, size_t *ret_len) \
	{                                                                                       \
		_Static_assert(sizeof(((struct shmfs_pool_stat *)0)->member) == 8, #member);  \
		return pool_value(q, offsetof(struct shmfs_pool_stat, member), ret_val, ret_len); \
	}
POOL_GETTER(total)
POOL_GETTER(free)
POOL_GETTER(reserved)
POOL_GETTER(surplus)
POOL_GETTER(overcommit)

static int get_page_cnt(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	const struct shmfs_page_type *pt = q->fs->type[q->kind].pt;
	struct stat st;
	int rc = shmfsd_region_stat(q->fs, q->r, &st);

	if (rc < 0)
		return rc;
	/* the pages the kernel holds for it, as it counts them: a sparse
	 * file (DPDK --single-file-segments) has fewer than its size says */
	return ret_str(ret_val, ret_len, "%" PRIu64,
		       ((uint64_t)st.st_blocks * 512 + pt->page_sz - 1) / pt->page_sz);
}

static int get_numa_nodes(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	const struct shmfs_page_type *pt = q->fs->type[q->kind].pt;
	_cleanup_close_ int fd = -1;
	shmfs_nodemask_t m;
	struct stat st;
	char buf[4096];
	int rc;

	/* O(1) while the recorded placement is known to hold */
	if (shmfs_place_known(q->fs, q->r, q->ctx ? q->ctx->pid : -1, &m))
		goto format;
	fd = shmfsd_region_open_backing(q->fs, q->r, O_RDONLY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* a sparse file (made by another program) is probed without
	 * filling its holes */
	rc = -ENOTSUP;
	if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
		/* userfaultfd takes only mappings that may be written */
		_cleanup_close_ int wfd = shmfsd_region_open_backing(q->fs, q->r, O_RDWR);

		rc = wfd < 0 ? wfd : shmfs_sparse_nodes(wfd, pt->page_sz, (uint64_t)st.st_size, &m, NULL);
	}
	if (rc < 0)
		rc = shmfs_place_nodes(q->fs, q->r, fd, pt->page_sz, &st, q->ctx ? q->ctx->pid : -1, &m);
	if (rc < 0)
		return rc;
format:
	rc = shmfs_format_list(m.bits, SHMFS_NODE_MAX, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	return ret_str(ret_val, ret_len, "%s", buf);
}

/* The mount root's is the backing root; a region's its backing file. */
static int get_backing(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	int rc;

	if (!q->r)
		return ret_str(ret_val, ret_len, "%s", q->fs->backing);
	pthread_mutex_lock(&q->fs->lock);
	rc = ret_str(ret_val, ret_len, "%s/%s", q->fs->type[q->kind].path, q->r->name);
	pthread_mutex_unlock(&q->fs->lock);
	return rc;
}

static int get_backing_id(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	return ret_str(ret_val, ret_len, "%" PRIu64 ":%" PRIu64, (uint64_t)q->fs->type[q->kind].dev,
		       (uint64_t)q->r->backing_ino);
}

static int mappers(const struct xattr_q *q, pid_t **ret_pids, size_t *ret_cnt)
{
	return shmfsd_region_mappers_for(q->fs, q->r, q->ctx ? q->ctx->pid : 0, ret_pids, ret_cnt);
}

static int get_mapper_cnt(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t cnt = 0;
	int rc = mappers(q, &pids, &cnt);

	return rc < 0 ? rc : ret_str(ret_val, ret_len, "%zu", cnt);
}

static int get_mapper_pids(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t cnt = 0;
	int rc = mappers(q, &pids, &cnt);

	return rc < 0 ? rc : format_pids(pids, cnt, q->ctx, ret_val, ret_len);
}

static int get_orphaned(const struct xattr_q *q, char **ret_val, size_t *ret_len)
{
	bool orphaned = shmfsd_region_orphaned_for(q->fs, q->r, q->ctx ? q->ctx->pid : 0);

	return ret_str(ret_val, ret_len, "%s", orphaned ? "true" : "false");
}

static int heap_value(const struct xattr_q *q, size_t field, char **ret_val, size_t *ret_len)
{
	shmfs_heap_stats_t hs = { .sz = sizeof(hs) };

	if (heap_peek(q->fs, q->r, &hs) < 0)
		return -ENODATA;
	return ret_str(ret_val, ret_len, "%" PRIu64, (uint64_t)*(const uint64_t *)((const char *)&hs + field));
}

#define HEAP_GETTER(member)                                                                    \
	static int get_heap_##member(const struct xattr_q *q, char **ret_val, size_t *ret_len) \
	{                                                                                      \
		_Static_assert(sizeof(((shmfs_heap_stats_t *)0)->member) == 8, #member);       \
		return heap_value(q, offsetof(shmfs_heap_stats_t, member), ret_val, ret_len);   \
	}
HEAP_GETTER(size)
HEAP_GETTER(used)
HEAP_GETTER(free)
HEAP_GETTER(alloc_cnt)

/* What meta.c remembers, read under the fs lock. */
static int meta_value(const struct xattr_q *q, const char *name, char **ret_val, size_t *ret_len)
{
	const struct shmfs_meta *m = &q->r->meta;
	int rc;

	pthread_mutex_lock(&q->fs->lock);
	if (strcmp(name, SHMFS_XATTR_POLICY) == 0)
		rc = ret_str(ret_val, ret_len, "%s", m->policy[0] ? m->policy : "default");
	else if (strcmp(name, SHMFS_XATTR_CREATOR_PID) == 0)
		rc = ret_str(ret_val, ret_len, "%d", (int)m->creator_pid);
	else if (strcmp(name, SHMFS_XATTR_CREATOR_START) == 0)
		rc = ret_str(ret_val, ret_len, "%" PRIu64, m->creator_start);
	else if (strcmp(name, SHMFS_XATTR_CTIME) == 0)
		rc = ret_str(ret_val, ret_len, "%lld.%09ld", (long long)m->created.tv_sec,
			     m->created.tv_nsec);
	else if (strcmp(name, SHMFS_XATTR_LIFETIME) == 0)
		rc = ret_str(ret_val, ret_len, "%s", shmfs_lifetime_name(m->lifetime));
	else if (strcmp(name, SHMFS_XATTR_PROGRAM) == 0 && m->program[0])
		rc = ret_str(ret_val, ret_len, "%s", m->program);
	else
		rc = -ENODATA;
	pthread_mutex_unlock(&q->fs->lock);
	return rc;
}

#define META_GETTER(fn, name)                                                   \
	static int fn(const struct xattr_q *q, char **ret_val, size_t *ret_len) \
	{                                                                       \
		return meta_value(q, name, ret_val, ret_len);                   \
	}
META_GETTER(get_policy, SHMFS_XATTR_POLICY)
META_GETTER(get_creator_pid, SHMFS_XATTR_CREATOR_PID)
META_GETTER(get_creator_start, SHMFS_XATTR_CREATOR_START)
META_GETTER(get_ctime, SHMFS_XATTR_CTIME)
META_GETTER(get_lifetime, SHMFS_XATTR_LIFETIME)
META_GETTER(get_program, SHMFS_XATTR_PROGRAM)

enum {
	XA_ROOT = 1 << 0,       /* the mount root has it */
	XA_DIR = 1 << 1,        /* type and node directories have it */
	XA_REGION = 1 << 2,     /* regions have it (derived: a write must match, set_ours) */
	XA_HEAP = 1 << 3,       /* listed only on a region that holds a libshmfs heap */
	XA_PROGRAM = 1 << 4,    /* listed only on another program's file; not derived */
};

static const struct xattr_def {
	const char *name;
	unsigned int on;
	xattr_get_fn get;
} xattrs[] = {
	{ SHMFS_XATTR_PAGE_TYPE, XA_DIR | XA_REGION, get_page_type },
	{ SHMFS_XATTR_PAGE_SZ, XA_DIR | XA_REGION, get_page_sz },
	{ SHMFS_XATTR_POOL_TOTAL, XA_DIR, get_pool_total },
	{ SHMFS_XATTR_POOL_FREE, XA_DIR, get_pool_free },
	{ SHMFS_XATTR_POOL_RESERVED, XA_DIR, get_pool_reserved },
	{ SHMFS_XATTR_POOL_SURPLUS, XA_DIR, get_pool_surplus },
	{ SHMFS_XATTR_POOL_OVERCOMMIT, XA_DIR, get_pool_overcommit },
	{ SHMFS_XATTR_PAGE_CNT, XA_REGION, get_page_cnt },
	{ SHMFS_XATTR_NUMA_NODES, XA_REGION, get_numa_nodes },
	{ SHMFS_XATTR_POLICY, XA_REGION, get_policy },
	{ SHMFS_XATTR_CREATOR_PID, XA_REGION, get_creator_pid },
	{ SHMFS_XATTR_CREATOR_START, XA_REGION, get_creator_start },
	{ SHMFS_XATTR_CTIME, XA_REGION, get_ctime },
	{ SHMFS_XATTR_MAPPER_CNT, XA_REGION, get_mapper_cnt },
	{ SHMFS_XATTR_MAPPER_PIDS, XA_REGION, get_mapper_pids },
	{ SHMFS_XATTR_LIFETIME, XA_REGION, get_lifetime },
	{ SHMFS_XATTR_ORPHANED, XA_REGION, get_orphaned },
	{ SHMFS_XATTR_BACKING, XA_ROOT | XA_REGION, get_backing },
	{ SHMFS_XATTR_BACKING_ID, XA_REGION, get_backing_id },
	{ SHMFS_XATTR_HEAP_SZ, XA_REGION | XA_HEAP, get_heap_size },
	{ SHMFS_XATTR_HEAP_USED, XA_REGION | XA_HEAP, get_heap_used },
	{ SHMFS_XATTR_HEAP_FREE, XA_REGION | XA_HEAP, get_heap_free },
	{ SHMFS_XATTR_HEAP_ALLOC_CNT, XA_REGION | XA_HEAP, get_heap_alloc_cnt },
	{ SHMFS_XATTR_PROGRAM, XA_REGION | XA_PROGRAM, get_program },
};

/* Which of XA_ROOT, XA_DIR, XA_REGION an object is; 0 for one without
 * attributes of ours (control files). */
static unsigned int xattr_obj(enum shmfs_obj obj)
{
	switch (obj) {
	case SHMFS_OBJ_ROOT:
		return XA_ROOT;
	case SHMFS_OBJ_TYPE:
	case SHMFS_OBJ_NODE:
		return XA_DIR;
	case SHMFS_OBJ_REGION:
		return XA_REGION;
	default:
		return 0;
	}
}

static const struct xattr_def *xattr_find(const char *name, unsigned int obj)
{
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(xattrs); i++)
		if ((xattrs[i].on & obj) && strcmp(xattrs[i].name, name) == 0)
			return &xattrs[i];
	return NULL;
}

/* A user attribute of a region (not the daemon's): its value as kept. */
static int user_get(struct shmfs_fs *fs, struct shmfsd_region *r, const char *name, char **ret_val,
		    size_t *ret_len)
{
	const struct shmfs_xattr *x;

	pthread_mutex_lock(&fs->lock);
	x = shmfs_meta_xattr_get(&r->meta, name);
	if (x) {
		*ret_val = malloc(x->size ? x->size : 1);
		if (*ret_val) {
			memcpy(*ret_val, x->value, x->size);
			*ret_len = x->size;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (!x)
		return -ENODATA;
	return *ret_val ? 0 : -ENOMEM;
}

int shmfs_xattr_region_get(struct shmfs_fs *fs, struct shmfsd_region *r, const struct fuse_ctx *ctx,
			   const char *name, char **ret_val, size_t *ret_len)
{
	struct shmfs_ino_info info = { .obj = SHMFS_OBJ_REGION, .kind = r->kind, .node = -1 };
	struct xattr_q q = { .fs = fs, .info = &info, .kind = r->kind, .r = r, .ctx = ctx };
	const struct xattr_def *d;

	if (!shmfs_xattr_is_ours(name))
		return user_get(fs, r, name, ret_val, ret_len);
	d = xattr_find(name, XA_REGION);
	return d ? d->get(&q, ret_val, ret_len) : -ENODATA;
}

int shmfs_xattr_get_for(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			const char *name, char **ret_val, size_t *ret_len)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	const struct xattr_def *d;
	int rc;

	if (!shmfs_xattr_is_user(name))
		return -ENOTSUP;
	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	if (info.obj == SHMFS_OBJ_REGION) {
		r = shmfsd_region_get(fs, ino);
		if (!r)
			return -ENOENT;
		rc = shmfs_xattr_region_get(fs, r, ctx, name, ret_val, ret_len);
		shmfsd_region_put(fs, r, 1);
		return rc;
	}
	d = xattr_find(name, xattr_obj(info.obj));
	if (!d)
		return -ENODATA;
	{
		struct xattr_q q = { .fs = fs, .info = &info, .kind = info.kind, .ctx = ctx };
		return d->get(&q, ret_val, ret_len);
	}
}

static int list_add(FILE *f, const char *name)
{
	return fwrite(name, 1, strlen(name) + 1, f) == strlen(name) + 1 ? 0 : -ENOMEM;
}

/* The region's attributes: the table's (heap ones only over a heap, the
 * program only when it has one), then the user attributes kept for it. */
static void list_region(struct shmfs_fs *fs, struct shmfsd_region *r, FILE *f)
{
	shmfs_heap_stats_t hs = { .sz = sizeof(hs) };
	bool heap = heap_peek(fs, r, &hs) == 0;

	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(xattrs); i++) {
		const struct xattr_def *d = &xattrs[i];

		if (!(d->on & XA_REGION) || ((d->on & XA_HEAP) && !heap) ||
		    ((d->on & XA_PROGRAM) && !r->meta.program[0]))
			continue;
		list_add(f, d->name);
	}
	for (size_t i = 0; i < r->meta.xattr_cnt; i++)
		list_add(f, r->meta.xattr[i].name);
	pthread_mutex_unlock(&fs->lock);
}

int shmfs_xattr_list(struct shmfs_fs *fs, uint64_t ino, char **ret_list, size_t *ret_len)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	f = open_memstream(&s, &len);
	if (!f)
		return -ENOMEM;
	if (info.obj == SHMFS_OBJ_REGION) {
		r = shmfsd_region_get(fs, ino);
		if (r) {
			list_region(fs, r, f);
			shmfsd_region_put(fs, r, 1);
		}
	} else {
		for (size_t i = 0; i < SHMFS_ARRAY_SIZE(xattrs); i++)
			if (xattrs[i].on & xattr_obj(info.obj))
				list_add(f, xattrs[i].name);
	}
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	*ret_list = s;
	*ret_len = len;
	return 0;
}

/* An attribute the daemon derives for every region (not the program tag,
 * which only some have and none may set). */
bool shmfs_xattr_derived(const char *name)
{
	const struct xattr_def *d = xattr_find(name, XA_REGION);

	return d && !(d->on & XA_PROGRAM);
}
