/* dir.c - directories: the FUSE handlers opendir, readdir(plus) and
 * releasedir. A listing is taken whole at opendir from the tree's children
 * (tree.c), so offsets stay valid however the directory changes while it is
 * read; readdirplus gives each entry's attributes as lookup would. */
#include "daemon.h"
#include "handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct dirent_snap {
	char *name;
	uint64_t ino;
	mode_t type;
};

/* An open directory: its listing as taken at opendir. */
struct dir_handle {
	struct dirent_snap *ents;
	size_t ent_cnt;
};

static struct dir_handle *dir_of(struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

static void dir_handle_free(struct dir_handle *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->ent_cnt; i++)
		free(h->ents[i].name);
	free(h->ents);
	free(h);
}

static int snap_add(struct dir_handle *h, size_t *cap, const char *name, uint64_t ino, mode_t type)
{
	if (h->ent_cnt == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct dirent_snap *v = realloc(h->ents, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->ents = v;
		*cap = c;
	}
	h->ents[h->ent_cnt].name = strdup(name);
	if (!h->ents[h->ent_cnt].name)
		return -ENOMEM;
	h->ents[h->ent_cnt].ino = ino;
	h->ents[h->ent_cnt].type = type;
	h->ent_cnt++;
	return 0;
}

struct snap_ctx {
	struct dir_handle *h;
	size_t cap;
};

static int snap_visit(void *ctx, const struct shmfs_tree_child *c)
{
	struct snap_ctx *s = ctx;

	return snap_add(s->h, &s->cap, c->name, c->ino, c->type);
}

/* The listing is taken whole at opendir, so offsets stay valid however the
 * directory changes while it is read. */
static int snapshot(struct shmfs_fs *fs, uint64_t ino, struct dir_handle *h)
{
	struct shmfs_ino_info info;
	struct snap_ctx s = { .h = h };
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	rc = snap_add(h, &s.cap, ".", ino, S_IFDIR);
	if (rc == 0)
		rc = snap_add(h, &s.cap, "..",
			      info.obj == SHMFS_OBJ_NODE ? SHMFS_INO_TYPE(info.kind) : SHMFS_INO_ROOT,
			      S_IFDIR);
	if (rc < 0)
		return rc;
	rc = shmfs_tree_children(fs, ino, NULL, snap_visit, &s);
	return rc == -ESTALE ? -ENOENT : rc;
}

void shmfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct dir_handle *h = calloc(1, sizeof(*h));
	int rc;

	if (!h) {
		reply_err(req, -ENOMEM);
		return;
	}
	rc = snapshot(fs, ino, h);
	if (rc < 0) {
		dir_handle_free(h);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) != 0)
		dir_handle_free(h);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct shmfs_fs *fs = fs_of(req);
	struct dir_handle *h = dir_of(fi);
	_cleanup_free_ char *buf = NULL;
	/* the regions whose entries this reply carries, each held once: the
	 * kernel counts them as lookups, unless the reply never reaches it */
	_cleanup_free_ struct shmfsd_region **held = NULL;
	size_t used = 0, held_cnt = 0;

	buf = malloc(size);
	/* a readdirplus entry is more than its 128-byte entry_out */
	held = plus ? calloc(size / 128 + 1, sizeof(*held)) : NULL;
	if (!buf || (plus && !held)) {
		reply_err(req, -ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; off >= 0 && i < h->ent_cnt; i++) {
		struct dirent_snap *d = &h->ents[i];
		size_t need;

		if (!plus) {
			struct stat st = { .st_ino = d->ino, .st_mode = d->type };
			need = fuse_add_direntry(req, buf + used, size - used, d->name, &st, (off_t)i + 1);
		} else {
			struct fuse_entry_param e;
			struct shmfs_ino_info info;
			struct shmfsd_region *r = NULL;
			bool dot = strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0;

			memset(&e, 0, sizeof(e));
			shmfs_ino_decode(fs, d->ino, &info);
			if (dot) {
				e.attr.st_ino = d->ino;
				e.attr.st_mode = d->type;
			} else if (shmfs_shared_ino(fs, d->ino)) {
				if (shmfs_shared_stat(fs, d->ino, &e.attr) < 0)
					continue;
				e.ino = d->ino;
			} else if (info.obj == SHMFS_OBJ_REGION) {
				r = shmfsd_region_get(fs, d->ino);
				if (!r || shmfsd_region_stat(fs, r, &e.attr) < 0) {
					shmfsd_region_put(fs, r, 1);
					continue; /* gone since opendir */
				}
				e.ino = d->ino;
			} else {
				if (shmfs_control_stat(fs, &info, d->ino, &e.attr) < 0)
					continue;
				e.ino = d->ino;
			}
			e.generation = 1;
			ttl_for(&info, &e);
			need = fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e,
						      (off_t)i + 1);
			/* an entry that fits counts as a lookup: keep the hold */
			if (need > size - used)
				shmfsd_region_put(fs, r, 1);
			else if (r)
				held[held_cnt++] = r;
		}
		if (need > size - used)
			break;
		used += need;
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		for (size_t i = 0; i < held_cnt; i++)
			shmfsd_region_put(fs, held[i], 1);
}

void shmfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, false);
}

void shmfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, true);
}

void shmfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dir_handle_free(dir_of(fi));
	reply_err(req, 0);
}
