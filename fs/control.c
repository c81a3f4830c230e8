/* control.c - the control files of the tree, lxcfs-style: the content of a
 * readable one (.nr_pages, .free_pages, .status) is rendered whole at open
 * into a per-open buffer; a write (.nr_pages, .control) must come at offset 0
 * in one piece, is bounded, loses one trailing newline, is parsed strictly
 * into its canonical form and validated, and only then acted upon. Anything
 * else is EINVAL and changes nothing. Writers must be root (EACCES). */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "pool.h"
#include "util.h"
#include "xattr_names.h"

#define CONTROL_WRITE_MAX 64

/* The head of .status: the backing store and every pool (types x nodes). */
static int render_pools(struct shmfs_fs *fs, FILE *f)
{
	int r;

	fprintf(f, "backing %s\n", fs->backing);
	/* overcommit: surplus pages the kernel may add beyond total on demand
	 * (system-wide per page size); sizing a region may use them */
	fprintf(f, "%-9s %12s %6s %10s %10s %10s %10s %10s\n", "type", "page_size", "node", "total", "free",
		"reserved", "surplus", "overcommit");
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		const struct shmfs_page_type *pt = fs->type[k].pt;

		if (!pt)
			continue;
		for (int n = 0; n < SHMFS_NODE_MAX; n++) {
			struct shmfs_pool_stat ps;

			if (!shmfs_node_valid(fs, n))
				continue;
			if (!shmfs_page_type_is_huge(pt)) {
				uint64_t total, free_pages;
				/* no pool: the tmpfs's room, capped by the node's memory */
				r = shmfs_normal_pool(fs, n, &total, &free_pages);
				if (r < 0)
					return r;
				fprintf(f, "%-9s %12" PRIu64 " %6d %10" PRIu64 " %10" PRIu64 " %10s %10s %10s\n",
					pt->name, pt->page_sz, n, total, free_pages, "-", "-", "-");
				continue;
			}
			r = shmfs_pool_stat(pt, n, &ps);
			if (r < 0)
				return r;
			fprintf(f, "%-9s %12" PRIu64 " %6d %10" PRIu64 " %10" PRIu64 " %10" PRIu64
				   " %10" PRIu64 " %10" PRIu64 "\n",
				pt->name, pt->page_sz, n, ps.total, ps.free, ps.reserved, ps.surplus,
				ps.overcommit);
		}
	}
	return 0;
}

static int render_status(struct shmfs_fs *fs, FILE *f)
{
	struct shmfsd_region **v = NULL;
	size_t cnt = 0;
	int r;

	r = render_pools(fs, f);
	if (r < 0)
		return r;
	r = shmfs_table_list(fs, -1, -1, &v, &cnt);
	if (r < 0)
		return r;
	fprintf(f, "regions %zu\n", cnt);
	for (size_t i = 0; i < cnt; i++) {
		struct stat st;
		const struct shmfs_page_type *pt = fs->type[v[i]->kind].pt;

		if (shmfsd_region_stat(fs, v[i], &st) == 0) {
			pthread_mutex_lock(&fs->lock);
			/* path, bytes, pages allocated (as the kernel counts them), lifetime */
			fprintf(f, "%s/node%d/%s %" PRIu64 " %" PRIu64 " %s\n", pt->name, v[i]->meta.node,
				v[i]->name, (uint64_t)st.st_size,
				((uint64_t)st.st_blocks * 512 + pt->page_sz - 1) / pt->page_sz,
				shmfs_lifetime_name(v[i]->meta.lifetime));
			pthread_mutex_unlock(&fs->lock);
		}
		shmfsd_region_put(fs, v[i], 1);
	}
	free(v);
	return shmfs_quota_render_usage(fs, f);
}

/* The longest line a region adds to .status: its own line ("TYPE/nodeN/NAME
 * BYTES PAGES LIFETIME") and at most one user and one group usage line
 * ("usage TYPE user|group ID PAGES LIMIT") of its own. */
#define STATUS_TYPE_MAX 32
#define STATUS_REGION_LINE_MAX                                                                       \
	(STATUS_TYPE_MAX + sizeof("/node") + 11 + 1 + SHMFS_NAME_MAX + 2 * 21 + 16 + 1)
#define STATUS_CREATES_MAX 256 /* far above libfuse's worker threads */
#define STATUS_USAGE_LINE_MAX (sizeof("usage ") + STATUS_TYPE_MAX + sizeof(" group ") + 11 + 2 * 21 + 1)

/* The size stat gives .status and .quota: an upper bound of what a read at
 * this moment returns (both are served direct_io: a reader reads to EOF),
 * found without statting every region - the head (pools, rules) as it is,
 * and the longest lines the regions in the table could add (.quota: their
 * usage lines only). Rendering them whole on every stat or lookup made each
 * getattr of one file cost O(regions) syscalls. */
static int bounded_size(struct shmfs_fs *fs, enum shmfs_obj obj, off_t *ret)
{
	char *s = NULL;
	size_t len = 0, per_region;
	uint64_t cnt;
	FILE *f;
	int r;

	f = open_memstream(&s, &len);
	if (!f)
		return -ENOMEM;
	r = obj == SHMFS_OBJ_STATUS ? render_pools(fs, f) : shmfs_quota_render_head(fs, f);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	free(s);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->lock);
	cnt = fs->region_cnt;
	pthread_mutex_unlock(&fs->lock);
	per_region = 2 * STATUS_USAGE_LINE_MAX;
	if (obj == SHMFS_OBJ_STATUS) {
		len += sizeof("regions 18446744073709551615\n");
		per_region += STATUS_REGION_LINE_MAX;
	}
	/* usage counts every file of the backing store: the table's regions
	 * and the temporaries of creates in flight (one per FUSE worker) */
	len += SHMFS_PAGE_KIND_CNT * STATUS_CREATES_MAX * 2 * STATUS_USAGE_LINE_MAX;
	*ret = (off_t)(len + cnt * per_region);
	return 0;
}

int shmfs_control_stat(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uint64_t ino,
		       struct stat *ret)
{
	int r = shmfs_tree_stat(fs, info, ino, ret);

	if (r == 0 && (info->obj == SHMFS_OBJ_STATUS || info->obj == SHMFS_OBJ_QUOTA)) {
		off_t size;

		if (bounded_size(fs, info->obj, &size) == 0)
			ret->st_size = size;
	} else if (r == 0 && S_ISREG(ret->st_mode) && info->obj != SHMFS_OBJ_CONTROL) {
		/* an honest size: render the content now */
		struct shmfs_ctl_buf b = { 0 };
		if (shmfs_control_render(fs, info, &b) == 0)
			ret->st_size = (off_t)b.len;
		free(b.data);
	}
	return r;
}

int shmfs_control_render(struct shmfs_fs *fs, const struct shmfs_ino_info *info,
			 struct shmfs_ctl_buf *ret)
{
	struct shmfs_pool_stat ps;
	char *s = NULL;
	size_t len = 0;
	FILE *f;
	int r = 0;

	f = open_memstream(&s, &len);
	if (!f)
		return -ENOMEM;
	switch (info->obj) {
	case SHMFS_OBJ_NR_PAGES:
	case SHMFS_OBJ_FREE_PAGES:
		r = shmfs_pool_stat(fs->type[info->kind].pt, info->node, &ps);
		if (r == 0)
			fprintf(f, "%" PRIu64 "\n", info->obj == SHMFS_OBJ_NR_PAGES ? ps.total : ps.free);
		break;
	case SHMFS_OBJ_STATUS:
		r = render_status(fs, f);
		break;
	case SHMFS_OBJ_CONTROL:
		break;
	case SHMFS_OBJ_QUOTA:
		r = shmfs_quota_render(fs, f);
		break;
	default:
		r = -EINVAL;
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(s);
		return r;
	}
	ret->data = s;
	ret->len = len;
	return 0;
}

/* Remove every region (reset) or the orphaned ones (clean: by the rule of
 * each region's lifetime, so a persistent region - anything made with
 * truncate, cp, shmfsctl create - is never removed). Stops at nothing:
 * reports the first failure after trying them all. */
static int remove_regions(struct shmfs_fs *fs, bool orphans_only, uid_t uid, pid_t pid)
{
	struct shmfs_clean_scan scan = { 0 };
	struct shmfsd_region **v = NULL;
	size_t cnt = 0;
	int r, first_err = 0;

	r = shmfs_table_list(fs, -1, -1, &v, &cnt);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cnt; i++) {
		struct shmfsd_region *reg = v[i];
		char name[SHMFS_NAME_MAX + 1];
		int node;

		if (!orphans_only || shmfsd_region_orphaned_in(fs, reg, &scan)) {
			pthread_mutex_lock(&fs->lock);
			node = reg->meta.node;
			snprintf(name, sizeof(name), "%s", reg->name);
			pthread_mutex_unlock(&fs->lock);
			r = shmfsd_region_unlink(fs, reg);
			if (r == 0)
				shmfs_audit(fs, uid, pid, "%s removed %s/node%d/%s", orphans_only ? "clean" : "reset",
					    fs->type[reg->kind].pt->name, node, name);
			if (r == 0)
				shmfs_notify_inval_entry(fs, SHMFS_INO_NODE(reg->kind, node, SHMFS_SUB_DIR),
							 name);
			else if (r != -ENOENT && first_err == 0)
				first_err = r;
		}
		shmfsd_region_put(fs, reg, 1);
	}
	free(v);
	shmfs_clean_scan_free(&scan);
	return first_err;
}

int shmfs_control_write(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uid_t uid,
			pid_t pid, const char *buf, size_t len, off_t off)
{
	char text[CONTROL_WRITE_MAX];
	int r;

	if (info->obj == SHMFS_OBJ_QUOTA)
		return shmfs_audit_quota(shmfs_quota_write(fs, uid, buf, len, off), fs, uid, pid, buf, len);
	if (uid != 0)
		return -EACCES;
	if (off != 0)
		return -EINVAL;
	r = shmfs_control_text(buf, len, text, sizeof(text));
	if (r < 0)
		return r;
	switch (info->obj) {
	case SHMFS_OBJ_NR_PAGES:
		r = shmfs_pool_write(fs, info, text);
		shmfs_audit_pool(fs, uid, pid, info, text, r);
		return r;
	case SHMFS_OBJ_CONTROL:
		if (strcmp(text, "reset") == 0)
			return remove_regions(fs, false, uid, pid);
		if (strcmp(text, "clean") == 0)
			return remove_regions(fs, true, uid, pid);
		if (strcmp(text, "compact") == 0)
			return shmfs_audit_ok(shmfs_compact_memory(), fs, uid, pid, "compact");
		return -EINVAL;
	default:
		return -EACCES;
	}
}
