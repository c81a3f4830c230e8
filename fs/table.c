/* table.c - the region table: every region by name per page type and by
 * inode number, with the reference counts that keep a region's record alive
 * while the kernel still knows its inode. Every table change also updates
 * the daemon's flock on the region (lifetime.c). */
#include "daemon.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_ino(const void *a, const void *b)
{
	const struct shmfsd_region *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int cmp_name(const void *a, const void *b)
{
	const struct shmfsd_region *x = a, *y = b;
	return strcmp(x->name, y->name);
}

struct shmfsd_region *shmfsd_region_new(enum shmfs_page_kind k, ino_t bino, const char *name)
{
	struct shmfsd_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->kind = k;
	r->backing_ino = bino;
	r->ino = SHMFS_INO_REGION(k, bino);
	r->gone_fd = -1;
	r->guard_fd = -1;
	snprintf(r->name, sizeof(r->name), "%s", name);
	pthread_mutex_init(&r->op_lock, NULL);
	return r;
}

/* Everything of a record but its passthrough backing id. */
static void region_release(struct shmfsd_region *r)
{
	shmfs_guard_drop_locked(r);
	if (r->gone_fd >= 0)
		close(r->gone_fd);
	shmfs_meta_free(&r->meta);
	pthread_mutex_destroy(&r->op_lock);
	free(r);
}

static void region_free(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	shmfs_passthrough_close(fs, r->passthrough_id);
	region_release(r);
}

/* At exit the session is gone (shmfs_passthrough_stop), and every backing id
 * with it: nothing is left to close. */
static void region_release_void(void *p)
{
	region_release(p);
}

static void no_free(void *p)
{
}

void shmfs_table_free(struct shmfs_fs *fs)
{
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		tdestroy(fs->by_name[k], no_free);
		fs->by_name[k] = NULL;
	}
	/* every record, linked or only still known to the kernel, is in by_ino */
	tdestroy(fs->by_ino, region_release_void);
	fs->by_ino = NULL;
	fs->region_cnt = 0;
}

struct shmfsd_region *shmfs_table_insert_locked(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	void **p = tfind(r, &fs->by_ino, cmp_ino);

	if (p) {
		struct shmfsd_region *old = *(struct shmfsd_region **)p;

		/* the same inode under a second name (a hard link made behind our back) */
		if (old->linked) {
			region_free(fs, r);
			return NULL;
		}
		/* An inode the kernel still knows comes back (renamed behind our
		 * back): revive its record, so the kernel's lookup counts stay on
		 * the one record of that node id. */
		shmfs_meta_free(&old->meta);
		old->meta = r->meta;
		memset(&r->meta, 0, sizeof(r->meta));
		snprintf(old->name, sizeof(old->name), "%s", r->name);
		region_free(fs, r);
		r = old;
	} else {
		tsearch(r, &fs->by_ino, cmp_ino);
		/* a table of mappers may name its inode number for a freed file */
		shmfs_mappers_invalidate(fs);
	}
	tsearch(r, &fs->by_name[r->kind], cmp_name);
	r->linked = true;
	r->refs++;
	fs->region_cnt++;
	shmfs_guard_update_locked(fs, r);
	return r;
}

static void put_locked(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t n)
{
	r->refs -= n;
	if (r->refs == 0) {
		tdelete(r, &fs->by_ino, cmp_ino);
		region_free(fs, r);
	}
}

void shmfs_table_unlink_locked(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	if (!r->linked)
		return;
	tdelete(r, &fs->by_name[r->kind], cmp_name);
	r->linked = false;
	shmfs_guard_drop_locked(r);
	fs->region_cnt--;
	put_locked(fs, r, 1);
}

void shmfs_table_rename_locked(struct shmfs_fs *fs, struct shmfsd_region *r, const char *name)
{
	if (r->linked)
		tdelete(r, &fs->by_name[r->kind], cmp_name);
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (r->linked)
		tsearch(r, &fs->by_name[r->kind], cmp_name);
	shmfs_guard_update_locked(fs, r);
}

struct shmfsd_region *shmfs_table_find_locked(struct shmfs_fs *fs, enum shmfs_page_kind k,
					      const char *name)
{
	struct shmfsd_region key;
	void **p;

	if (strlen(name) > SHMFS_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	p = tfind(&key, &fs->by_name[k], cmp_name);
	return p ? *(struct shmfsd_region **)p : NULL;
}

struct shmfsd_region *shmfsd_region_find(struct shmfs_fs *fs, enum shmfs_page_kind k,
					 const char *name)
{
	struct shmfsd_region *r;

	pthread_mutex_lock(&fs->lock);
	r = shmfs_table_find_locked(fs, k, name);
	if (r)
		r->refs++;
	pthread_mutex_unlock(&fs->lock);
	return r;
}

struct shmfsd_region *shmfsd_region_get(struct shmfs_fs *fs, uint64_t ino)
{
	struct shmfsd_region key = { .ino = ino }, *r = NULL;
	void **p;

	pthread_mutex_lock(&fs->lock);
	p = tfind(&key, &fs->by_ino, cmp_ino);
	if (p) {
		r = *(struct shmfsd_region **)p;
		r->refs++;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

void shmfsd_region_hold(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t n)
{
	pthread_mutex_lock(&fs->lock);
	r->refs += n;
	pthread_mutex_unlock(&fs->lock);
}

void shmfsd_region_put(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t n)
{
	if (!r)
		return;
	pthread_mutex_lock(&fs->lock);
	put_locked(fs, r, n);
	pthread_mutex_unlock(&fs->lock);
}

struct list_ctx {
	int node;
	struct shmfsd_region **v;
	size_t cnt, cap;
	int err;
};

static __thread struct list_ctx *list_cur;

static void list_walk(const void *nodep, VISIT which, int depth)
{
	struct shmfsd_region *r = *(struct shmfsd_region *const *)nodep;
	struct list_ctx *c = list_cur;

	if (which != postorder && which != leaf)
		return;
	if (c->err || (c->node >= 0 && r->meta.node != c->node))
		return;
	if (c->cnt == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct shmfsd_region **v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	r->refs++;
	c->v[c->cnt++] = r;
}

int shmfs_table_list(struct shmfs_fs *fs, int kind, int node, struct shmfsd_region ***ret,
		     size_t *ret_cnt)
{
	struct list_ctx c = { .node = node };

	pthread_mutex_lock(&fs->lock);
	list_cur = &c;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (kind < 0 || k == kind)
			twalk(fs->by_name[k], list_walk);
	list_cur = NULL;
	if (c.err) {
		for (size_t i = 0; i < c.cnt; i++)
			put_locked(fs, c.v[i], 1);
		free(c.v);
		pthread_mutex_unlock(&fs->lock);
		return c.err;
	}
	pthread_mutex_unlock(&fs->lock);
	*ret = c.v;
	*ret_cnt = c.cnt;
	return 0;
}
