/* pool.c - the pools of pages, as the daemon counts them: a huge page
 * type's pools per node (the kernel's) summed as a tree directory or the
 * mount shows them, and the stand-in for normal pages, which have no pool
 * (the backing tmpfs's room, capped by what the node has). Also the
 * .nr_pages write that resizes a huge page pool. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "parse.h"
#include "pool.h"
#include "util.h"

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
int shmfs_pool_of(struct shmfs_fs *fs, enum shmfs_page_kind k, int node,
		  struct shmfs_pool_stat *ret)
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

/* The pool of page type K on NODE (-1: every node) in pages of that type.
 * Normal pages have no pool: the tmpfs's room stands in. */
int shmfs_pool_pages(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, uint64_t *ret_total,
		     uint64_t *ret_free)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	uint64_t total = 0, free_pages = 0;

	if (!shmfs_page_type_is_huge(pt))
		return shmfs_normal_pool(fs, node, ret_total, ret_free);
	for (int n = 0; n < SHMFS_NODE_MAX; n++) {
		struct shmfs_pool_stat ps;
		if (!shmfs_node_valid(fs, n) || (node >= 0 && n != node))
			continue;
		if (shmfs_pool_stat(pt, n, &ps) == 0) {
			total += ps.total;
			free_pages += ps.free;
		}
	}
	*ret_total = total;
	*ret_free = free_pages;
	return 0;
}

int shmfs_nr_pages_parse(const char *text, uint64_t page_sz, uint64_t cur, uint64_t max,
			 uint64_t *ret_target)
{
	int sign;
	uint64_t n;

	/* the parser shmfsctl uses too: [+|-] a count, or a size in whole pages */
	if (shmfs_parse_pages_rel(text, page_sz, &sign, &n) < 0)
		return -EINVAL;
	if (sign > 0) {
		if (n > UINT64_MAX - cur)
			return -ENOMEM; /* more than any memory */
		n = cur + n;
	} else if (sign < 0) {
		if (n > cur)
			return -EINVAL;
		n = cur - n;
	}
	/* checked before the kernel is asked: a pool grown beyond the node's
	 * memory can never be reached, and asking would first take all of it */
	if (n > cur && n > max)
		return -ENOMEM;
	*ret_target = n;
	return 0;
}

/* Writes of .nr_pages are read-modify-write: +N is applied to the pool as
 * read, one read. Writers are serialised, so two `echo +1` both count and a
 * resize never starts from numbers another one is changing. */
int shmfs_pool_write(struct shmfs_fs *fs, const struct shmfs_ino_info *info, const char *text)
{
	const struct shmfs_page_type *pt = fs->type[info->kind].pt;
	struct shmfs_pool_stat ps;
	uint64_t target;
	uint64_t max;
	int r;

	r = shmfs_pool_max(pt, info->node, &max);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->pool_lock);
	r = shmfs_pool_stat(pt, info->node, &ps);
	/* +N and -N count from the persistent pool: surplus pages come and go */
	if (r == 0)
		r = shmfs_nr_pages_parse(text, pt->page_sz, shmfs_pool_persistent(&ps), max, &target);
	if (r == 0)
		r = shmfs_pool_resize_from(pt, info->node, &ps, target, NULL, NULL);
	pthread_mutex_unlock(&fs->pool_lock);
	return r;
}

/* statfs of ino: the pool of the page type (and node) it stands in, in its
 * pages; the mount root adds every type's pools up, in bytes counted in
 * base pages, so `df -h` of the mount says how much memory shmfs has and
 * how much of it is used. */
int shmfs_pool_statfs(struct shmfs_fs *fs, uint64_t ino, struct statvfs *ret)
{
	struct shmfs_ino_info info;
	struct statvfs sv;
	enum shmfs_page_kind k = SHMFS_PAGE_NORMAL;
	uint64_t total = 0, free_pages = 0;
	int node = -1, rc;

	memset(&sv, 0, sizeof(sv));
	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_REGION) {
		struct shmfsd_region *r = shmfsd_region_get(fs, ino);
		k = info.kind;
		if (r) {
			pthread_mutex_lock(&fs->lock);
			node = r->meta.node;
			pthread_mutex_unlock(&fs->lock);
			shmfsd_region_put(fs, r, 1);
		}
	} else if (info.obj == SHMFS_OBJ_TYPE || info.obj == SHMFS_OBJ_NODE ||
		   info.obj == SHMFS_OBJ_NR_PAGES || info.obj == SHMFS_OBJ_FREE_PAGES) {
		k = info.kind;
		node = info.node;
	} else {
		/* the root: every type's pool added up, in bytes counted in base
		 * pages, so `df -h` of the mount says how much memory shmfs has
		 * and how much of it is used */
		uint64_t bsize = (uint64_t)getpagesize();

		for (int i = 0; i < SHMFS_PAGE_KIND_CNT; i++) {
			uint64_t t, f;

			if (!fs->type[i].pt)
				continue;
			rc = shmfs_pool_pages(fs, (enum shmfs_page_kind)i, -1, &t, &f);
			if (rc < 0)
				return rc;
			total += t * (fs->type[i].pt->page_sz / bsize);
			free_pages += f * (fs->type[i].pt->page_sz / bsize);
		}
		sv.f_bsize = sv.f_frsize = (unsigned long)bsize;
		goto out;
	}
	if (!fs->type[k].pt)
		return -ENOENT;
	rc = shmfs_pool_pages(fs, k, node, &total, &free_pages);
	if (rc < 0)
		return rc;
	sv.f_bsize = sv.f_frsize = (unsigned long)fs->type[k].pt->page_sz;
out:
	sv.f_blocks = total;
	sv.f_bfree = sv.f_bavail = free_pages;
	pthread_mutex_lock(&fs->lock);
	sv.f_files = fs->region_cnt + 1000000;
	sv.f_ffree = sv.f_favail = 1000000;
	pthread_mutex_unlock(&fs->lock);
	sv.f_namemax = SHMFS_NAME_MAX;
	*ret = sv;
	return 0;
}
