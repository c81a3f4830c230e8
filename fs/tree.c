/* tree.c - the inodes of the tree: the root, one directory per page type, one
 * per memory node (CPU-less nodes included), the control files, and the
 * region table (by name per page type, by inode number) with the reference
 * counts that keep a region's record alive while the kernel still knows its
 * inode. At start-up the table is loaded from the backing store, cleaning up
 * what an interrupted daemon left half-done and skipping (logged once, left
 * alone) whatever else is found there: directories, FIFOs, sockets, links,
 * device nodes, names that are not region names. */
#include "shmfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

bool shmfs_node_valid(const struct shmfs_fs *fs, int node)
{
	return node >= 0 && node < SHMFS_NODE_MAX && shmfs_bit_test(fs->nodes.bits, (size_t)node);
}

static bool kind_present(const struct shmfs_fs *fs, uint64_t k)
{
	return k < SHMFS_PAGE_KIND_CNT && fs->type[k].pt;
}

void shmfs_ino_decode(const struct shmfs_fs *fs, uint64_t ino, struct shmfs_ino_info *ret)
{
	struct shmfs_ino_info i = { .obj = SHMFS_OBJ_NONE, .node = -1 };

	if (ino == SHMFS_INO_ROOT) {
		i.obj = SHMFS_OBJ_ROOT;
	} else if (ino == SHMFS_INO_STATUS) {
		i.obj = SHMFS_OBJ_STATUS;
	} else if (ino == SHMFS_INO_CONTROL) {
		i.obj = SHMFS_OBJ_CONTROL;
	} else if (ino == SHMFS_INO_QUOTA) {
		i.obj = SHMFS_OBJ_QUOTA;
	} else if (ino >= SHMFS_INO_TYPE(0) && ino < SHMFS_INO_TYPE(SHMFS_PAGE_KIND_CNT)) {
		if (kind_present(fs, ino - SHMFS_INO_TYPE(0))) {
			i.obj = SHMFS_OBJ_TYPE;
			i.kind = (enum shmfs_page_kind)(ino - SHMFS_INO_TYPE(0));
		}
	} else if (ino >> SHMFS_INO_REGION_SHIFT) {
		uint64_t k = (ino >> SHMFS_INO_REGION_SHIFT) - 1;
		if (kind_present(fs, k)) {
			i.obj = SHMFS_OBJ_REGION;
			i.kind = (enum shmfs_page_kind)k;
		}
	} else if (ino & SHMFS_INO_NODE_BASE) {
		uint64_t k = (ino >> 24) & 0xff, node = (ino >> 4) & 0xfffff, sub = ino & 0xf;
		uint64_t rest = ino & ~(SHMFS_INO_NODE_BASE | (0xffULL << 24) | (0xfffffULL << 4) | 0xf);
		if (!rest && kind_present(fs, k) && shmfs_node_valid(fs, (int)node)) {
			i.kind = (enum shmfs_page_kind)k;
			i.node = (int)node;
			if (sub == SHMFS_SUB_DIR)
				i.obj = SHMFS_OBJ_NODE;
			else if (shmfs_page_type_is_huge(fs->type[k].pt) && sub == SHMFS_SUB_NR_PAGES)
				i.obj = SHMFS_OBJ_NR_PAGES;
			else if (shmfs_page_type_is_huge(fs->type[k].pt) && sub == SHMFS_SUB_FREE_PAGES)
				i.obj = SHMFS_OBJ_FREE_PAGES;
		}
	}
	*ret = i;
}

int shmfs_tree_stat(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uint64_t ino,
		    struct stat *ret)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	/* the daemon's owner: root, or the user running it without root */
	st.st_uid = fs->is_root ? 0 : geteuid();
	st.st_gid = fs->is_root ? 0 : getegid();
	st.st_atim = st.st_mtim = st.st_ctim = fs->tree_time;
	st.st_blksize = 4096;
	switch (info->obj) {
	case SHMFS_OBJ_ROOT:
		st.st_mode = S_IFDIR | 0755;
		st.st_nlink = 2 + SHMFS_PAGE_KIND_CNT;
		break;
	case SHMFS_OBJ_TYPE:
		st.st_mode = S_IFDIR | 0755;
		st.st_nlink = 2;
		break;
	case SHMFS_OBJ_NODE:
		/* anyone may make regions; the sticky bit keeps them the owner's */
		st.st_mode = S_IFDIR | 01777;
		st.st_nlink = 2;
		st.st_blksize = (blksize_t)fs->type[info->kind].pt->page_sz;
		break;
	case SHMFS_OBJ_STATUS:
	case SHMFS_OBJ_FREE_PAGES:
		st.st_mode = S_IFREG | 0444;
		st.st_nlink = 1;
		break;
	case SHMFS_OBJ_NR_PAGES:
	case SHMFS_OBJ_QUOTA:
		st.st_mode = S_IFREG | 0644;
		st.st_nlink = 1;
		break;
	case SHMFS_OBJ_CONTROL:
		st.st_mode = S_IFREG | 0200;
		st.st_nlink = 1;
		break;
	default:
		return -ENOENT;
	}
	if (S_ISDIR(st.st_mode) && fs->have_dir_mode) {
		st.st_mode = S_IFDIR | fs->dir_mode;
		st.st_uid = fs->dir_uid;
		st.st_gid = fs->dir_gid;
	}
	if (S_ISREG(st.st_mode) && info->obj != SHMFS_OBJ_CONTROL) {
		/* an honest size: render the content now */
		struct shmfs_ctl_buf b = { 0 };
		if (shmfs_control_render(fs, info, &b) == 0)
			st.st_size = (off_t)b.len;
		free(b.data);
	}
	*ret = st;
	return 0;
}

/* ------------------------------------------------------------ region table */

static int cmp_ino(const void *a, const void *b)
{
	const struct shmfs_region *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int cmp_name(const void *a, const void *b)
{
	const struct shmfs_region *x = a, *y = b;
	return strcmp(x->name, y->name);
}

struct shmfs_region *shmfs_region_new(enum shmfs_page_kind k, ino_t bino, const char *name)
{
	struct shmfs_region *r = calloc(1, sizeof(*r));

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

static void region_free(struct shmfs_region *r)
{
	shmfs_passthrough_close(r->passthrough_id);
	shmfs_guard_drop_locked(r);
	if (r->gone_fd >= 0)
		close(r->gone_fd);
	shmfs_meta_free(&r->meta);
	pthread_mutex_destroy(&r->op_lock);
	free(r);
}

static void region_free_void(void *p)
{
	region_free(p);
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
	tdestroy(fs->by_ino, region_free_void);
	fs->by_ino = NULL;
	fs->region_cnt = 0;
}

struct shmfs_region *shmfs_table_insert_locked(struct shmfs_fs *fs, struct shmfs_region *r)
{
	void **p = tfind(r, &fs->by_ino, cmp_ino);

	if (p) {
		struct shmfs_region *old = *(struct shmfs_region **)p;

		/* the same inode under a second name (a hard link made behind our back) */
		if (old->linked) {
			region_free(r);
			return NULL;
		}
		/* An inode the kernel still knows comes back (renamed behind our
		 * back): revive its record, so the kernel's lookup counts stay on
		 * the one record of that node id. */
		shmfs_meta_free(&old->meta);
		old->meta = r->meta;
		memset(&r->meta, 0, sizeof(r->meta));
		snprintf(old->name, sizeof(old->name), "%s", r->name);
		region_free(r);
		r = old;
	} else {
		tsearch(r, &fs->by_ino, cmp_ino);
	}
	tsearch(r, &fs->by_name[r->kind], cmp_name);
	r->linked = true;
	r->refs++;
	fs->region_cnt++;
	shmfs_guard_update_locked(fs, r);
	return r;
}

static void put_locked(struct shmfs_fs *fs, struct shmfs_region *r, uint64_t n)
{
	r->refs -= n;
	if (r->refs == 0) {
		tdelete(r, &fs->by_ino, cmp_ino);
		region_free(r);
	}
}

void shmfs_table_unlink_locked(struct shmfs_fs *fs, struct shmfs_region *r)
{
	if (!r->linked)
		return;
	tdelete(r, &fs->by_name[r->kind], cmp_name);
	r->linked = false;
	shmfs_guard_drop_locked(r);
	fs->region_cnt--;
	put_locked(fs, r, 1);
}

void shmfs_table_rename_locked(struct shmfs_fs *fs, struct shmfs_region *r, const char *name)
{
	if (r->linked)
		tdelete(r, &fs->by_name[r->kind], cmp_name);
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (r->linked)
		tsearch(r, &fs->by_name[r->kind], cmp_name);
	shmfs_guard_update_locked(fs, r);
}

struct shmfs_region *shmfs_table_find_locked(struct shmfs_fs *fs, enum shmfs_page_kind k,
					     const char *name)
{
	struct shmfs_region key;
	void **p;

	if (strlen(name) > SHMFS_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	p = tfind(&key, &fs->by_name[k], cmp_name);
	return p ? *(struct shmfs_region **)p : NULL;
}

struct shmfs_region *shmfs_region_find(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name)
{
	struct shmfs_region *r;

	pthread_mutex_lock(&fs->lock);
	r = shmfs_table_find_locked(fs, k, name);
	if (r)
		r->refs++;
	pthread_mutex_unlock(&fs->lock);
	return r;
}

struct shmfs_region *shmfs_region_get(struct shmfs_fs *fs, uint64_t ino)
{
	struct shmfs_region key = { .ino = ino }, *r = NULL;
	void **p;

	pthread_mutex_lock(&fs->lock);
	p = tfind(&key, &fs->by_ino, cmp_ino);
	if (p) {
		r = *(struct shmfs_region **)p;
		r->refs++;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

void shmfs_region_hold(struct shmfs_fs *fs, struct shmfs_region *r, uint64_t n)
{
	pthread_mutex_lock(&fs->lock);
	r->refs += n;
	pthread_mutex_unlock(&fs->lock);
}

void shmfs_region_put(struct shmfs_fs *fs, struct shmfs_region *r, uint64_t n)
{
	if (!r)
		return;
	pthread_mutex_lock(&fs->lock);
	put_locked(fs, r, n);
	pthread_mutex_unlock(&fs->lock);
}

struct list_ctx {
	int node;
	struct shmfs_region **v;
	size_t cnt, cap;
	int err;
};

static __thread struct list_ctx *list_cur;

static void list_walk(const void *nodep, VISIT which, int depth)
{
	struct shmfs_region *r = *(struct shmfs_region *const *)nodep;
	struct list_ctx *c = list_cur;

	if (which != postorder && which != leaf)
		return;
	if (c->err || (c->node >= 0 && r->meta.node != c->node))
		return;
	if (c->cnt == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct shmfs_region **v = realloc(c->v, cap * sizeof(*v));
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

int shmfs_table_list(struct shmfs_fs *fs, int kind, int node, struct shmfs_region ***ret,
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

/* ------------------------------------------------------------ lookup */

static int parse_node_name(const char *name, int *ret)
{
	uint64_t n;

	if (strncmp(name, "node", 4) != 0 || shmfs_parse_u64(name + 4, &n) < 0 || n >= SHMFS_NODE_MAX)
		return -ENOENT;
	*ret = (int)n;
	return 0;
}

int shmfs_tree_lookup(struct shmfs_fs *fs, uint64_t parent, const char *name, uint64_t *ret_ino,
		      struct shmfs_region **ret_region)
{
	struct shmfs_ino_info pi;
	struct shmfs_region *r;
	int node;

	*ret_region = NULL;
	shmfs_ino_decode(fs, parent, &pi);
	switch (pi.obj) {
	case SHMFS_OBJ_ROOT:
		if (strcmp(name, SHMFS_FILE_STATUS) == 0) {
			*ret_ino = SHMFS_INO_STATUS;
			return 0;
		}
		if (strcmp(name, SHMFS_FILE_CONTROL) == 0) {
			*ret_ino = SHMFS_INO_CONTROL;
			return 0;
		}
		if (strcmp(name, SHMFS_FILE_QUOTA) == 0) {
			*ret_ino = SHMFS_INO_QUOTA;
			return 0;
		}
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
			if (fs->type[k].pt && strcmp(name, fs->type[k].pt->name) == 0) {
				*ret_ino = SHMFS_INO_TYPE(k);
				return 0;
			}
		}
		return -ENOENT;
	case SHMFS_OBJ_TYPE:
		if (parse_node_name(name, &node) < 0 || !shmfs_node_valid(fs, node))
			return -ENOENT;
		*ret_ino = SHMFS_INO_NODE(pi.kind, node, SHMFS_SUB_DIR);
		return 0;
	case SHMFS_OBJ_NODE:
		if (shmfs_page_type_is_huge(fs->type[pi.kind].pt)) {
			if (strcmp(name, SHMFS_FILE_NR_PAGES) == 0) {
				*ret_ino = SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_NR_PAGES);
				return 0;
			}
			if (strcmp(name, SHMFS_FILE_FREE_PAGES) == 0) {
				*ret_ino = SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_FREE_PAGES);
				return 0;
			}
		}
		pthread_mutex_lock(&fs->lock);
		r = shmfs_table_find_locked(fs, pi.kind, name);
		if (r && r->meta.node == pi.node) {
			r->refs++;
			*ret_ino = r->ino;
			*ret_region = r;
			pthread_mutex_unlock(&fs->lock);
			return 0;
		}
		pthread_mutex_unlock(&fs->lock);
		return -ENOENT;
	case SHMFS_OBJ_NONE:
		return -ESTALE;
	default:
		return -ENOTDIR;
	}
}

/* ------------------------------------------------------------ start-up */

/* Drop pages a killed resize left beyond the size (region.c allocates beyond
 * the end first, and hugetlbfs keeps what an interrupted fallocate got):
 * truncating to the current size gives them back to the pool. */
static void trim_beyond_size(int fd, const struct stat *st, uint64_t page_sz)
{
	uint64_t size_pages = ((uint64_t)st->st_size + page_sz - 1) / page_sz;
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if ((uint64_t)st->st_blocks * 512 <= size_pages * page_sz)
		return;
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return; /* not ours to repair (a foreign file a non-root daemon cannot write) */
	if (ftruncate(fd, st->st_size) < 0)
		SHMFS_LOG("Failed to trim pages beyond the size of a backing file: %m");
	/* a repair, not a change: keep the times the region had */
	futimens(fd, times);
}

/* A daemon killed while moving a region's pages to another node (mv to
 * another node dir). The rename of the backing file comes after the pages
 * moved, so the name tells how far it got: under the new name the move is
 * finished, otherwise every page goes back home. Either way the region is
 * whole, in one directory, as if the mv had completed or never started. */
static void finish_migration(struct shmfs_fs *fs, enum shmfs_page_kind k, int fd, ino_t bino,
			     const char *name, struct shmfs_meta *m)
{
	int to = m->migrate_to;

	if (strcmp(name, m->migrate_name) == 0 && shmfs_node_valid(fs, to) &&
	    shmfs_region_migrate_fd(fs, k, fd, -1, to) == 0)
		m->node = to;
	else if (shmfs_region_migrate_fd(fs, k, fd, -1, m->node) < 0)
		SHMFS_LOG("Failed to move the pages of an interrupted migration back to node %d", m->node);
	m->migrating = false;
	m->migrate_to = 0;
	m->migrate_name[0] = '\0';
	snprintf(m->policy, sizeof(m->policy), "bind:%d", m->node);
	if (shmfs_meta_save(fs, k, bino, m) < 0)
		SHMFS_LOG("Failed to save the metadata of an interrupted migration");
}

/* Not a region: said once, left alone (it is someone else's). */
static int stray(struct shmfs_type_state *ts, const char *name, const struct stat *st, const char *why)
{
	char what[160];

	snprintf(what, sizeof(what), "%s, %s: not a region, left as it is",
		 shmfs_backing_kind(st->st_mode), why);
	shmfs_backing_stray(ts->path, name, st->st_ino, what);
	return 0;
}

int shmfs_tree_adopt(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name, bool startup,
		     uint64_t *ret_parent)
{
	struct shmfs_type_state *ts = &fs->type[k];
	_cleanup_close_ int fd = -1;
	struct shmfs_region *r;
	struct stat st;
	int ret;

	/* hidden names are never regions (our own temporaries among them) */
	if (name[0] == '.')
		return 0;
	/* look before opening: opening a device node or a FIFO has effects */
	if (fstatat(ts->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = shmfs_name_check(name);
	if (ret < 0)
		return stray(ts, name, &st, ret == -ENAMETOOLONG ? "a name longer than region names"
							   : "a name that is not a region name");
	if (!S_ISREG(st.st_mode))
		return stray(ts, name, &st, "found where regions are");
	fd = openat(ts->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == EACCES)
		fd = openat(ts->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* swapped for a link or a socket since the look, or refused */
		return stray(ts, name, &st, "that cannot be opened");
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return stray(ts, name, &st, "found where regions are");
	if (startup)
		trim_beyond_size(fd, &st, ts->pt->page_sz);
	if ((uint64_t)st.st_ino >> SHMFS_INO_REGION_SHIFT)
		return stray(ts, name, &st, "with an inode number too large for the tree");
	r = shmfs_region_new(k, st.st_ino, name);
	if (!r)
		return -ENOMEM;
	/* metadata is keyed by inode: a region renamed behind our back keeps it */
	ret = shmfs_meta_load(fs, k, st.st_ino, &r->meta);
	if (ret < 0 || !shmfs_node_valid(fs, r->meta.node)) {
		shmfs_nodemask_t where;
		int n = fs->first_node;

		if (ret == 0)
			shmfs_meta_free(&r->meta);
		/* made behind our back (fd_shmem): home it where its pages are */
		memset(&r->meta, 0, sizeof(r->meta));
		if (shmfs_region_nodes(fs, fd, ts->pt->page_sz, (uint64_t)st.st_size, &where) == 0) {
			for (int i = 0; i < SHMFS_NODE_MAX; i++) {
				if (shmfs_bit_test(where.bits, (size_t)i) && shmfs_node_valid(fs, i)) {
					n = i;
					break;
				}
			}
		}
		r->meta.node = n;
		r->meta.created = st.st_ctim;
		shmfs_lifetime_classify_foreign(name, st.st_uid, &r->meta);
		/* remembered from first sight: its ctime moves with every change,
		 * the creation time must not (creator stays 0: never orphaned) */
		if (shmfs_meta_save(fs, k, st.st_ino, &r->meta) == 0)
			r->meta.known = true;
	}
	if (startup && r->meta.known && r->meta.migrating)
		finish_migration(fs, k, fd, st.st_ino, name, &r->meta);
	pthread_mutex_lock(&fs->lock);
	/* the daemon's own create may have won the race for this name */
	if (shmfs_table_find_locked(fs, k, name)) {
		pthread_mutex_unlock(&fs->lock);
		shmfs_meta_free(&r->meta);
		pthread_mutex_destroy(&r->op_lock);
		free(r);
		return 0;
	}
	r = shmfs_table_insert_locked(fs, r);
	if (!r) {
		pthread_mutex_unlock(&fs->lock);
		return stray(ts, name, &st, "a second name (hard link) of a region's file");
	}
	if (ret_parent)
		*ret_parent = SHMFS_INO_NODE(k, r->meta.node, SHMFS_SUB_DIR);
	pthread_mutex_unlock(&fs->lock);
	return 1;
}

int shmfs_tree_load(struct shmfs_fs *fs)
{
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		struct shmfs_type_state *ts = &fs->type[k];
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		int r;

		if (!ts->pt)
			continue;
		r = shmfs_opendir_dup(ts->dirfd, &d);
		if (r < 0)
			return r;
		while ((de = readdir(d))) {
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			/* a create killed before it committed: never visible, remove it
			 * (only a file: nothing else by that name is ours) */
			if (strncmp(de->d_name, SHMFS_TMP_PREFIX, strlen(SHMFS_TMP_PREFIX)) == 0) {
				if (fstatat(ts->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISREG(st.st_mode))
					unlinkat(ts->dirfd, de->d_name, 0);
				continue;
			}
			r = shmfs_tree_adopt(fs, (enum shmfs_page_kind)k, de->d_name, true, NULL);
			if (r == -ENOMEM)
				return r;
			/* one file the daemon cannot take must not keep the others away */
			if (r < 0 && fstatat(ts->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				char what[128];
				snprintf(what, sizeof(what), "cannot be loaded (%s): not shown", strerror(-r));
				shmfs_backing_stray(ts->path, de->d_name, st.st_ino, what);
			}
		}
		r = shmfs_meta_reconcile(fs, (enum shmfs_page_kind)k);
		if (r < 0)
			return r;
	}
	return 0;
}
