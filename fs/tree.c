/* tree.c - the layout of the tree: the inode numbers of the root, one
 * directory per page type, one per memory node (CPU-less nodes included)
 * and the control files, their attributes, the names in each directory (one
 * iterator for lookup and listing), and the text of a control file write. */
#include "daemon.h"

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

uint64_t shmfs_page_sz(const struct shmfs_fs *fs, enum shmfs_page_kind k)
{
	return fs->type[k].pt->page_sz;
}

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
	*ret = st;
	return 0;
}

/* ------------------------------------------------------------ lookup */

/* One fixed child: visited when no name is asked, or when it is that name. */
static int visit(const char *want, const char *name, uint64_t ino, mode_t type,
		 shmfs_tree_visit_fn fn, void *ctx)
{
	struct shmfs_tree_child c = { .name = name, .ino = ino, .type = type };

	if (want && strcmp(want, name) != 0)
		return 0;
	return fn(ctx, &c);
}

/* The regions of a node directory: the one named want (a table lookup), or
 * every one, each visited under fs->lock. */
static int visit_regions(struct shmfs_fs *fs, const struct shmfs_ino_info *dir, const char *want,
			 shmfs_tree_visit_fn fn, void *ctx)
{
	struct shmfsd_region **v = NULL, *r;
	size_t cnt = 0;
	int rc = 0;

	if (want) {
		pthread_mutex_lock(&fs->lock);
		r = shmfs_table_find_locked(fs, dir->kind, want);
		if (r && r->meta.node == dir->node) {
			struct shmfs_tree_child c = { .name = want, .ino = r->ino, .type = S_IFREG, .region = r };
			rc = fn(ctx, &c);
		}
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	rc = shmfs_table_list(fs, dir->kind, dir->node, &v, &cnt);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < cnt; i++) {
		if (rc == 0) {
			struct shmfs_tree_child c = { .ino = v[i]->ino, .type = S_IFREG, .region = v[i] };

			pthread_mutex_lock(&fs->lock);
			c.name = v[i]->name;
			rc = fn(ctx, &c);
			pthread_mutex_unlock(&fs->lock);
		}
		shmfsd_region_put(fs, v[i], 1);
	}
	free(v);
	return rc;
}

int shmfs_tree_children(struct shmfs_fs *fs, uint64_t dir, const char *name, shmfs_tree_visit_fn fn,
			void *ctx)
{
	struct shmfs_ino_info pi;
	int rc = 0, node;

	shmfs_ino_decode(fs, dir, &pi);
	switch (pi.obj) {
	case SHMFS_OBJ_ROOT:
		rc = visit(name, SHMFS_FILE_STATUS, SHMFS_INO_STATUS, S_IFREG, fn, ctx);
		if (rc == 0)
			rc = visit(name, SHMFS_FILE_CONTROL, SHMFS_INO_CONTROL, S_IFREG, fn, ctx);
		if (rc == 0)
			rc = visit(name, SHMFS_FILE_QUOTA, SHMFS_INO_QUOTA, S_IFREG, fn, ctx);
		/* the shared branch (shared.c) answers for itself below this */
		if (rc == 0 && fs->shared)
			rc = visit(name, SHMFS_SHARED_DIR, SHMFS_INO_SHARED, S_IFDIR, fn, ctx);
		for (int k = SHMFS_PAGE_KIND_CNT - 1; rc == 0 && k >= 0; k--)
			if (fs->type[k].pt)
				rc = visit(name, fs->type[k].pt->name, SHMFS_INO_TYPE(k), S_IFDIR, fn, ctx);
		return rc;
	case SHMFS_OBJ_TYPE:
		if (name) {
			struct shmfs_tree_child c = { .name = name, .type = S_IFDIR };

			if (shmfs_parse_node_name(name, &node) < 0 || !shmfs_node_valid(fs, node))
				return 0;
			c.ino = SHMFS_INO_NODE(pi.kind, node, SHMFS_SUB_DIR);
			return fn(ctx, &c);
		}
		for (int n = 0; rc == 0 && n < SHMFS_NODE_MAX; n++) {
			char node_name[32];

			if (!shmfs_node_valid(fs, n))
				continue;
			snprintf(node_name, sizeof(node_name), "node%d", n);
			rc = visit(NULL, node_name, SHMFS_INO_NODE(pi.kind, n, SHMFS_SUB_DIR), S_IFDIR, fn, ctx);
		}
		return rc;
	case SHMFS_OBJ_NODE:
		if (shmfs_page_type_is_huge(fs->type[pi.kind].pt)) {
			rc = visit(name, SHMFS_FILE_NR_PAGES,
				   SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_NR_PAGES), S_IFREG, fn, ctx);
			if (rc == 0)
				rc = visit(name, SHMFS_FILE_FREE_PAGES,
					   SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_FREE_PAGES), S_IFREG, fn,
					   ctx);
			if (rc != 0)
				return rc;
		}
		return visit_regions(fs, &pi, name, fn, ctx);
	case SHMFS_OBJ_NONE:
		return -ESTALE;
	default:
		return -ENOTDIR;
	}
}

struct lookup_ctx {
	uint64_t ino;
	struct shmfsd_region *region;
};

static int lookup_visit(void *ctx, const struct shmfs_tree_child *c)
{
	struct lookup_ctx *l = ctx;

	l->ino = c->ino;
	if (c->region) {
		c->region->refs++; /* under fs->lock: the caller's hold */
		l->region = c->region;
	}
	return 1;
}

int shmfs_tree_lookup(struct shmfs_fs *fs, uint64_t parent, const char *name, uint64_t *ret_ino,
		      struct shmfsd_region **ret_region)
{
	struct lookup_ctx l = { 0 };
	int rc;

	*ret_region = NULL;
	rc = shmfs_tree_children(fs, parent, name, lookup_visit, &l);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	*ret_ino = l.ino;
	*ret_region = l.region;
	return 0;
}

/* ------------------------------------------------------------ control file text */

int shmfs_control_text(const char *buf, size_t len, char *out, size_t out_sz)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len >= out_sz)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		/* one token: no blanks, no second line, nothing unprintable */
		if (c <= ' ' || c >= 0x7f)
			return -EINVAL;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}
