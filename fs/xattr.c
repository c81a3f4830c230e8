/* xattr.c - the extended attributes of the tree, exactly as
 * lib/core/xattr_names.h names them: on regions what the kernel knows now
 * (pages allocated, nodes the pages sit on, mappers - pids only to whom
 * /proc would show them - orphaned, heap statistics) and what meta.c
 * remembers (creator, creation time, policy, lifetime, foreign program),
 * plus user.* attributes that users set and the daemon persists; on
 * directories the pools (with surplus and overcommit); on the mount root the
 * backing root. One namespace is served (user.); names in it that do not
 * exist are ENODATA, other namespaces ENOTSUP, never ENOSYS.
 * user.shmfs.* is the daemon's (set_ours): its current value is accepted as a
 * no-op and another is EOPNOTSUPP, so copy tools stay quiet, but for three
 * writes: creator_pid "0" (disown), lifetime (owner or root) and, on an empty
 * region, policy "split:..." (placement). Made-up user.shmfs.* names and
 * removals: EPERM. */
#include "shmfs.h"

#include <errno.h>
#include <stdarg.h>
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

static const char *const region_names[] = {
	SHMFS_XATTR_PAGE_TYPE, SHMFS_XATTR_PAGE_SZ, SHMFS_XATTR_PAGE_CNT, SHMFS_XATTR_NUMA_NODES,
	SHMFS_XATTR_POLICY, SHMFS_XATTR_CREATOR_PID, SHMFS_XATTR_CREATOR_START, SHMFS_XATTR_CTIME,
	SHMFS_XATTR_MAPPER_CNT, SHMFS_XATTR_MAPPER_PIDS, SHMFS_XATTR_LIFETIME, SHMFS_XATTR_ORPHANED,
	SHMFS_XATTR_BACKING, SHMFS_XATTR_BACKING_ID,
};

static const char *const heap_names[] = {
	SHMFS_XATTR_HEAP_SZ, SHMFS_XATTR_HEAP_USED, SHMFS_XATTR_HEAP_FREE, SHMFS_XATTR_HEAP_ALLOC_CNT,
};

static const char *const dir_names[] = {
	SHMFS_XATTR_PAGE_TYPE, SHMFS_XATTR_PAGE_SZ, SHMFS_XATTR_POOL_TOTAL, SHMFS_XATTR_POOL_FREE,
	SHMFS_XATTR_POOL_RESERVED, SHMFS_XATTR_POOL_SURPLUS, SHMFS_XATTR_POOL_OVERCOMMIT,
};

static bool is_user(const char *name)
{
	return strncmp(name, SHMFS_XATTR_USER, strlen(SHMFS_XATTR_USER)) == 0;
}

static bool is_ours(const char *name)
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

/* Node N's memory from /sys/devices/system/node/nodeN/meminfo, in bytes. */
static int node_mem(int node, uint64_t *ret_total, uint64_t *ret_free)
{
	char path[96], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	uint64_t total = 0, free_kb = 0;
	int have = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		int n;
		if (sscanf(line, "Node %d MemTotal: %llu kB", &n, &v) == 2) {
			total = v;
			have |= 1;
		} else if (sscanf(line, "Node %d MemFree: %llu kB", &n, &v) == 2) {
			free_kb = v;
			have |= 2;
		}
	}
	if (have != 3)
		return -ENODATA;
	*ret_total = total * 1024;
	*ret_free = free_kb * 1024;
	return 0;
}

int shmfs_normal_pool(struct shmfs_fs *fs, int node, uint64_t *ret_total, uint64_t *ret_free)
{
	const struct shmfs_page_type *pt = fs->type[SHMFS_PAGE_NORMAL].pt;
	struct statvfs sv;
	uint64_t total, avail;

	if (!pt)
		return -ENOENT;
	if (fstatvfs(fs->type[SHMFS_PAGE_NORMAL].dirfd, &sv) < 0)
		return -errno;
	total = (uint64_t)sv.f_blocks * sv.f_frsize;
	avail = (uint64_t)sv.f_bfree * sv.f_frsize;
	/* what normal/nodeN can take: the tmpfs's room, but no more than the node has */
	if (node >= 0) {
		uint64_t nt = 0, nf = 0;
		if (node_mem(node, &nt, &nf) == 0) {
			total = total < nt ? total : nt;
			avail = avail < nf ? avail : nf;
		}
	}
	*ret_total = total / pt->page_sz;
	*ret_free = avail / pt->page_sz;
	return 0;
}

/* Pool numbers of a type on one node, or summed over every node (node -1).
 * Normal pages have no pool: the tmpfs's size and free space stand in. */
static int pool_of(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, struct shmfs_pool_stat *ret)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	struct shmfs_pool_stat sum = { 0 };

	if (!shmfs_page_type_is_huge(pt)) {
		int r = shmfs_normal_pool(fs, node, &sum.total, &sum.free);

		if (r < 0)
			return r;
		*ret = sum;
		return 0;
	}
	for (int n = 0; n < SHMFS_NODE_MAX; n++) {
		struct shmfs_pool_stat s;
		int r;

		if (!shmfs_node_valid(fs, n) || (node >= 0 && n != node))
			continue;
		r = shmfs_pool_stat(pt, n, &s);
		if (r < 0)
			return r;
		sum.total += s.total;
		sum.free += s.free;
		sum.surplus += s.surplus;
		sum.reserved = s.reserved; /* system-wide already */
		sum.overcommit = s.overcommit;
	}
	*ret = sum;
	return 0;
}

static int dir_get(struct shmfs_fs *fs, const struct shmfs_ino_info *info, const char *name,
		   char **ret_val, size_t *ret_len)
{
	const struct shmfs_page_type *pt = fs->type[info->kind].pt;
	struct shmfs_pool_stat ps = { 0 };
	int r;

	if (strcmp(name, SHMFS_XATTR_PAGE_TYPE) == 0)
		return ret_str(ret_val, ret_len, "%s", pt->name);
	if (strcmp(name, SHMFS_XATTR_PAGE_SZ) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, pt->page_sz);
	r = pool_of(fs, info->kind, info->obj == SHMFS_OBJ_NODE ? info->node : -1, &ps);
	if (r < 0)
		return r;
	if (strcmp(name, SHMFS_XATTR_POOL_TOTAL) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, ps.total);
	if (strcmp(name, SHMFS_XATTR_POOL_FREE) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, ps.free);
	if (strcmp(name, SHMFS_XATTR_POOL_RESERVED) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, ps.reserved);
	if (strcmp(name, SHMFS_XATTR_POOL_SURPLUS) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, ps.surplus);
	if (strcmp(name, SHMFS_XATTR_POOL_OVERCOMMIT) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, ps.overcommit);
	return -ENODATA;
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

struct peek_args {
	const void *mem;
	size_t len;
	shmfs_heap_stats_t *stats;
};

static int do_peek(void *p)
{
	struct peek_args *a = p;

	return shmfs_heap_peek(a->mem, a->len, a->stats);
}

/* Heap statistics, when the region holds a libshmfs heap: peeked through a
 * short-lived read-only mapping. */
static int heap_peek(struct shmfs_fs *fs, struct shmfs_region *r, shmfs_heap_stats_t *ret)
{
	_cleanup_close_ int fd = shmfs_region_open_backing(fs, r, O_RDONLY);
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
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	{
		struct peek_args a = { map, (size_t)st.st_size, ret };
		rc = shmfs_guarded_call(do_peek, &a);
	}
	munmap(map, (size_t)st.st_size);
	return rc;
}

static int region_get(struct shmfs_fs *fs, struct shmfs_region *r, const struct fuse_ctx *ctx,
		      const char *name, char **ret_val, size_t *ret_len)
{
	const struct shmfs_page_type *pt = fs->type[r->kind].pt;
	pid_t caller = ctx ? ctx->pid : 0;
	struct stat st;
	int rc;

	if (!is_ours(name)) {
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
	if (strcmp(name, SHMFS_XATTR_PAGE_TYPE) == 0)
		return ret_str(ret_val, ret_len, "%s", pt->name);
	if (strcmp(name, SHMFS_XATTR_PAGE_SZ) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64, pt->page_sz);
	if (strcmp(name, SHMFS_XATTR_PAGE_CNT) == 0) {
		rc = shmfs_region_stat(fs, r, &st);
		if (rc < 0)
			return rc;
		/* the pages the kernel holds for it, as it counts them: a sparse
		 * file (DPDK --single-file-segments) has fewer than its size says */
		return ret_str(ret_val, ret_len, "%" PRIu64,
			       ((uint64_t)st.st_blocks * 512 + pt->page_sz - 1) / pt->page_sz);
	}
	if (strcmp(name, SHMFS_XATTR_NUMA_NODES) == 0) {
		_cleanup_close_ int fd = shmfs_region_open_backing(fs, r, O_RDONLY);
		shmfs_nodemask_t m;
		char buf[4096];

		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0)
			return -errno;
		/* a sparse file (made by another program) is probed without
		 * filling its holes */
		rc = -ENOTSUP;
		if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
			/* userfaultfd takes only mappings that may be written */
			_cleanup_close_ int wfd = shmfs_region_open_backing(fs, r, O_RDWR);

			rc = wfd < 0 ? wfd : shmfs_sparse_nodes(wfd, pt->page_sz, (uint64_t)st.st_size, &m, NULL);
		}
		if (rc < 0)
			rc = shmfs_region_nodes(fs, fd, pt->page_sz, (uint64_t)st.st_size, &m);
		if (rc < 0)
			return rc;
		rc = shmfs_format_list(m.bits, SHMFS_NODE_MAX, buf, sizeof(buf));
		if (rc < 0)
			return rc;
		return ret_str(ret_val, ret_len, "%s", buf);
	}
	if (strcmp(name, SHMFS_XATTR_BACKING) == 0) {
		pthread_mutex_lock(&fs->lock);
		rc = ret_str(ret_val, ret_len, "%s/%s", fs->type[r->kind].path, r->name);
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	if (strcmp(name, SHMFS_XATTR_BACKING_ID) == 0)
		return ret_str(ret_val, ret_len, "%" PRIu64 ":%" PRIu64,
			       (uint64_t)fs->type[r->kind].dev, (uint64_t)r->backing_ino);
	if (strcmp(name, SHMFS_XATTR_MAPPER_CNT) == 0 || strcmp(name, SHMFS_XATTR_MAPPER_PIDS) == 0) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t cnt = 0;

		rc = shmfs_region_mappers_for(fs, r, caller, &pids, &cnt);
		if (rc < 0)
			return rc;
		if (strcmp(name, SHMFS_XATTR_MAPPER_CNT) == 0)
			return ret_str(ret_val, ret_len, "%zu", cnt);
		return format_pids(pids, cnt, ctx, ret_val, ret_len);
	}
	if (strcmp(name, SHMFS_XATTR_ORPHANED) == 0)
		return ret_str(ret_val, ret_len, "%s", shmfs_region_orphaned_for(fs, r, caller) ? "true" : "false");
	if (strncmp(name, "user.shmfs.heap.", 16) == 0) {
		shmfs_heap_stats_t hs = { .sz = sizeof(hs) };
		uint64_t v;

		if (heap_peek(fs, r, &hs) < 0)
			return -ENODATA;
		if (strcmp(name, SHMFS_XATTR_HEAP_SZ) == 0)
			v = hs.size;
		else if (strcmp(name, SHMFS_XATTR_HEAP_USED) == 0)
			v = hs.used;
		else if (strcmp(name, SHMFS_XATTR_HEAP_FREE) == 0)
			v = hs.free;
		else if (strcmp(name, SHMFS_XATTR_HEAP_ALLOC_CNT) == 0)
			v = hs.alloc_cnt;
		else
			return -ENODATA;
		return ret_str(ret_val, ret_len, "%" PRIu64, v);
	}

	pthread_mutex_lock(&fs->lock);
	if (strcmp(name, SHMFS_XATTR_POLICY) == 0)
		rc = ret_str(ret_val, ret_len, "%s", r->meta.policy[0] ? r->meta.policy : "default");
	else if (strcmp(name, SHMFS_XATTR_CREATOR_PID) == 0)
		rc = ret_str(ret_val, ret_len, "%d", (int)r->meta.creator_pid);
	else if (strcmp(name, SHMFS_XATTR_CREATOR_START) == 0)
		rc = ret_str(ret_val, ret_len, "%" PRIu64, r->meta.creator_start);
	else if (strcmp(name, SHMFS_XATTR_CTIME) == 0)
		rc = ret_str(ret_val, ret_len, "%lld.%09ld", (long long)r->meta.created.tv_sec,
			     r->meta.created.tv_nsec);
	else if (strcmp(name, SHMFS_XATTR_LIFETIME) == 0)
		rc = ret_str(ret_val, ret_len, "%s", shmfs_lifetime_name(r->meta.lifetime));
	else if (strcmp(name, SHMFS_XATTR_PROGRAM) == 0 && r->meta.program[0])
		rc = ret_str(ret_val, ret_len, "%s", r->meta.program);
	else
		rc = -ENODATA;
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

int shmfs_xattr_get_for(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			const char *name, char **ret_val, size_t *ret_len)
{
	struct shmfs_ino_info info;
	struct shmfs_region *r;
	int rc;

	if (!is_user(name))
		return -ENOTSUP;
	shmfs_ino_decode(fs, ino, &info);
	switch (info.obj) {
	case SHMFS_OBJ_ROOT:
		if (strcmp(name, SHMFS_XATTR_BACKING) == 0)
			return ret_str(ret_val, ret_len, "%s", fs->backing);
		return -ENODATA;
	case SHMFS_OBJ_TYPE:
	case SHMFS_OBJ_NODE:
		return dir_get(fs, &info, name, ret_val, ret_len);
	case SHMFS_OBJ_REGION:
		r = shmfs_region_get(fs, ino);
		if (!r)
			return -ENOENT;
		rc = region_get(fs, r, ctx, name, ret_val, ret_len);
		shmfs_region_put(fs, r, 1);
		return rc;
	case SHMFS_OBJ_NONE:
		return -ENOENT;
	default:
		return -ENODATA;
	}
}

static int list_add(FILE *f, const char *name)
{
	return fwrite(name, 1, strlen(name) + 1, f) == strlen(name) + 1 ? 0 : -ENOMEM;
}

int shmfs_xattr_list(struct shmfs_fs *fs, uint64_t ino, char **ret_list, size_t *ret_len)
{
	struct shmfs_ino_info info;
	struct shmfs_region *r;
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	f = open_memstream(&s, &len);
	if (!f)
		return -ENOMEM;
	switch (info.obj) {
	case SHMFS_OBJ_ROOT:
		list_add(f, SHMFS_XATTR_BACKING);
		break;
	case SHMFS_OBJ_TYPE:
	case SHMFS_OBJ_NODE:
		for (size_t i = 0; i < SHMFS_ARRAY_SIZE(dir_names); i++)
			list_add(f, dir_names[i]);
		break;
	case SHMFS_OBJ_REGION: {
		shmfs_heap_stats_t hs = { .sz = sizeof(hs) };

		r = shmfs_region_get(fs, ino);
		if (!r)
			break;
		for (size_t i = 0; i < SHMFS_ARRAY_SIZE(region_names); i++)
			list_add(f, region_names[i]);
		if (heap_peek(fs, r, &hs) == 0)
			for (size_t i = 0; i < SHMFS_ARRAY_SIZE(heap_names); i++)
				list_add(f, heap_names[i]);
		pthread_mutex_lock(&fs->lock);
		if (r->meta.program[0])
			list_add(f, SHMFS_XATTR_PROGRAM);
		for (size_t i = 0; i < r->meta.xattr_cnt; i++)
			list_add(f, r->meta.xattr[i].name);
		pthread_mutex_unlock(&fs->lock);
		shmfs_region_put(fs, r, 1);
		break;
	}
	default:
		break;
	}
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	*ret_list = s;
	*ret_len = len;
	return 0;
}

/* Change a region's user xattrs: edit a copy, persist it, then publish it,
 * so a failed save changes nothing. */
static int region_edit(struct shmfs_fs *fs, struct shmfs_region *r, const char *name,
		       const void *val, size_t len, int flags, bool remove)
{
	struct shmfs_meta m;
	int rc;
	bool linked;

	pthread_mutex_lock(&r->op_lock);
	pthread_mutex_lock(&fs->lock);
	/* linked changes under the fs lock (unlink, a rename over it) */
	linked = r->linked;
	rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		goto out;
	rc = remove ? shmfs_meta_xattr_remove(&m, name) : shmfs_meta_xattr_set(&m, name, val, len, flags);
	if (rc == 0 && !linked)
		rc = -ENOENT;
	if (rc == 0)
		rc = shmfs_region_meta_commit(fs, r, &m);
	else
		shmfs_meta_free(&m);
out:
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

/* user.shmfs.policy is writable in one case: an empty region may be given
 * a split placement (shmfs_policy_parse) before it is sized. */
static int set_policy(struct shmfs_fs *fs, struct shmfs_region *r, const char *val, size_t len)
{
	char text[sizeof(r->meta.policy)];
	struct shmfs_policy pol;
	struct shmfs_meta m;
	struct stat st;
	int rc;

	if (len == 0 || len >= sizeof(text) || memchr(val, 0, len))
		return -EINVAL;
	memcpy(text, val, len);
	text[len] = '\0';
	if (shmfs_policy_parse(text, &pol) < 0)
		return -EINVAL;
	for (size_t i = 0; i < pol.cnt; i++)
		if (!shmfs_node_valid(fs, pol.node[i]))
			return -EINVAL;
	pthread_mutex_lock(&r->op_lock);
	rc = shmfs_region_stat(fs, r, &st);
	if (rc == 0 && st.st_size != 0)
		rc = -EBUSY; /* pages already placed */
	pthread_mutex_lock(&fs->lock);
	if (rc == 0 && pol.cnt == 1 && pol.pages[0] == UINT64_MAX && pol.node[0] != r->meta.node)
		rc = -EOPNOTSUPP; /* bind follows the directory (mv moves it): derived, as above */
	if (rc == 0)
		rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc == 0) {
		m.known = true;
		snprintf(m.policy, sizeof(m.policy), "%s", text);
		rc = shmfs_region_meta_commit(fs, r, &m);
	}
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

/* user.shmfs.creator_pid may be set to "0" by the region's owner or root:
 * the region is disowned, meant to outlive its creator (fd_shmem_ctl style,
 * shmfsctl create), and is never orphaned from then on. */
static int disown(struct shmfs_fs *fs, struct shmfs_region *r, uid_t uid, const char *val, size_t len)
{
	struct shmfs_meta m;
	struct stat st;
	int rc;

	if (len != 1 || val[0] != '0')
		return -EPERM;
	pthread_mutex_lock(&r->op_lock);
	rc = shmfs_region_stat(fs, r, &st);
	if (rc == 0 && uid != 0 && uid != st.st_uid)
		rc = -EPERM;
	if (rc == 0) {
		pthread_mutex_lock(&fs->lock);
		rc = shmfs_meta_copy(&r->meta, &m);
		pthread_mutex_unlock(&fs->lock);
	}
	if (rc == 0) {
		m.known = true;
		m.creator_pid = 0;
		m.creator_start = 0;
		rc = shmfs_region_meta_commit(fs, r, &m);
	}
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

/* user.shmfs.lifetime, by the region's owner or root. "persistent" may be
 * written at any time: keeping a region is always safe. "process" only while
 * the recorded creator still runs (ESRCH otherwise): opting in is the
 * creator's decision at creation (libshmfs SHMFS_CREATE_PROCESS_LIFETIME,
 * shmfsctl create --lifetime process), and a region whose creator is gone
 * must not become removable by flipping a word - rm removes it. "lock" is
 * the daemon's finding about another program's file, never written. */
static int set_lifetime(struct shmfs_fs *fs, struct shmfs_region *r, uid_t uid, const char *val,
			size_t len)
{
	char text[16];
	enum shmfs_lifetime want;
	struct shmfs_meta m;
	struct stat st;
	int rc;

	if (len == 0 || len >= sizeof(text) || memchr(val, 0, len))
		return -EINVAL;
	memcpy(text, val, len);
	text[len] = '\0';
	if (shmfs_lifetime_parse(text, &want) < 0 || want == SHMFS_LIFETIME_LOCK)
		return -EINVAL;
	pthread_mutex_lock(&r->op_lock);
	rc = shmfs_region_stat(fs, r, &st);
	if (rc == 0 && uid != 0 && uid != st.st_uid)
		rc = -EPERM;
	if (rc == 0) {
		pthread_mutex_lock(&fs->lock);
		rc = r->linked ? shmfs_meta_copy(&r->meta, &m) : -ENOENT;
		pthread_mutex_unlock(&fs->lock);
	}
	if (rc == 0 && want == SHMFS_LIFETIME_PROCESS &&
	    (m.creator_pid <= 0 || !shmfs_proc_alive(m.creator_pid, m.creator_start))) {
		shmfs_meta_free(&m);
		rc = -ESRCH;
	}
	if (rc == 0) {
		m.known = true;
		m.lifetime = want;
		m.program[0] = '\0';
		rc = shmfs_region_meta_commit(fs, r, &m);
	}
	if (rc == 0) {
		/* a DPDK file kept as persistent is guarded like any region */
		pthread_mutex_lock(&fs->lock);
		shmfs_guard_update_locked(fs, r);
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

static bool is_derived(const char *name)
{
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(region_names); i++)
		if (strcmp(name, region_names[i]) == 0)
			return true;
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(heap_names); i++)
		if (strcmp(name, heap_names[i]) == 0)
			return true;
	return false;
}

/* A write of one of the region's own attributes (user.shmfs.*, listed by
 * listxattr so that getfattr -d shows them). Copy tools (mv across page
 * types, cp -a, rsync -X) copy every listed attribute; libattr's
 * attr_copy_fd, which coreutils uses, reports any failure but ENOTSUP and
 * ENODATA. So: the value the attribute has now is accepted and changes
 * nothing; another value of an attribute the daemon derives is EOPNOTSUPP
 * (this filesystem does not keep that attribute as given); the two writes
 * that mean something keep their own answers (disown, placement). */
static int set_ours(struct shmfs_fs *fs, struct shmfs_region *r, const struct fuse_ctx *ctx,
		    const char *name, const void *val, size_t len)
{
	uid_t uid = ctx ? ctx->uid : 0;
	_cleanup_free_ char *cur = NULL;
	size_t cur_len = 0;
	int rc;

	if (!is_derived(name))
		return -EPERM; /* no such attribute, and none may be made up */
	rc = region_get(fs, r, ctx, name, &cur, &cur_len);
	if (rc == 0 && cur_len == len && memcmp(cur, val, len) == 0)
		return 0;
	if (rc < 0 && rc != -ENODATA)
		return rc;
	if (strcmp(name, SHMFS_XATTR_POLICY) == 0)
		return set_policy(fs, r, val, len);
	if (strcmp(name, SHMFS_XATTR_LIFETIME) == 0)
		return set_lifetime(fs, r, uid, val, len);
	if (strcmp(name, SHMFS_XATTR_CREATOR_PID) == 0 && len == 1 && ((const char *)val)[0] == '0')
		return disown(fs, r, uid, val, len);
	return -EOPNOTSUPP;
}

static int set_or_remove(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			 const char *name, const void *val, size_t len, int flags, bool remove)
{
	struct shmfs_ino_info info;
	struct shmfs_region *r;
	int rc;

	if (!is_user(name))
		return -ENOTSUP;
	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	if (info.obj == SHMFS_OBJ_REGION && !remove && is_ours(name)) {
		r = shmfs_region_get(fs, ino);
		if (!r)
			return -ENOENT;
		rc = set_ours(fs, r, ctx, name, val, len);
		shmfs_region_put(fs, r, 1);
		return rc;
	}
	/* the daemon's own attributes are read-only */
	if (is_ours(name) || strcmp(name, SHMFS_XATTR_BACKING) == 0)
		return -EPERM;
	if (info.obj != SHMFS_OBJ_REGION)
		return remove ? -ENODATA : -EPERM;
	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	if (len > XATTR_SIZE_MAX)
		return -E2BIG;
	r = shmfs_region_get(fs, ino);
	if (!r)
		return -ENOENT;
	rc = region_edit(fs, r, name, val, len, flags, remove);
	shmfs_region_put(fs, r, 1);
	return rc;
}

int shmfs_xattr_set(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name,
		    const void *val, size_t len, int flags)
{
	return set_or_remove(fs, ino, ctx, name, val, len, flags, false);
}

int shmfs_xattr_remove(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name)
{
	return set_or_remove(fs, ino, ctx, name, NULL, 0, 0, true);
}
