/* shared_ops.c - the FUSE handlers of the shared branch (shared.c), installed
 * in front of ops.c's: a request for an inode of the branch (shared/,
 * shared/NAME, its regions) is served here, anything else is passed on to
 * shmfs_ops. Here: names, attributes and directories; changes to the tree
 * are the master's (EROFS elsewhere). A region's bytes and xattrs are
 * shared_io.c's. */
#include "shared_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "shared_dev.h"
#include "util.h"
#include "xattr_names.h"

#define SHARED_DIR_NAME "shared"

struct dir_snap {
	size_t cnt;
	struct { char name[SHMFS_NAME_MAX + 1]; uint64_t ino; mode_t type; } e[];
};


/* Nothing of the branch is cached: another host changes it, and a replica
 * learns of it only by reading the log. */
static void reply_entry_of(fuse_req_t req, uint64_t ino, const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.generation = 1;
	if (st)
		e.attr = *st;
	fuse_reply_entry(req, &e);
}


/* ------------------------------------------------------------ handlers */

static void sh_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r;
	struct stat st;

	if (parent == SHMFS_INO_ROOT && strcmp(name, SHARED_DIR_NAME) == 0) {
		shmfs_shared_dir_stat(fs, SHMFS_INO_SHARED, &st);
		reply_entry_of(req, SHMFS_INO_SHARED, &st);
		return;
	}
	if (!shmfs_shared_is_ours(fs, parent) || shmfs_shared_is_region_ino(parent)) {
		shmfs_ops.lookup(req, parent, name);
		return;
	}
	if (parent == SHMFS_INO_SHARED) {
		if (strcmp(name, s->name) != 0) {
			reply_entry_of(req, 0, NULL);
			return;
		}
		shmfs_shared_dir_stat(fs, SHMFS_INO_SHARED_NS, &st);
		reply_entry_of(req, SHMFS_INO_SHARED_NS, &st);
		return;
	}
	if (strlen(name) > SHMFS_NAME_MAX) {
		reply_err(req, -ENAMETOOLONG);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find(&s->st, name);
	if (r)
		shmfs_shared_region_stat(r, &st);
	pthread_mutex_unlock(&s->lock);
	if (!r)
		reply_entry_of(req, 0, NULL);
	else
		reply_entry_of(req, st.st_ino, &st);
}

static void sh_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		fuse_reply_none(req);
	else
		shmfs_ops.forget(req, ino, nlookup);
}

static void sh_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct shmfs_fs *fs = fs_of(req);
	size_t n = 0;

	/* the branch keeps no lookup counts: pass on the others only */
	for (size_t i = 0; i < count; i++)
		if (!shmfs_shared_is_ours(fs, forgets[i].ino))
			forgets[n++] = forgets[i];
	if (n == 0)
		fuse_reply_none(req);
	else
		shmfs_ops.forget_multi(req, n, forgets);
}

static void sh_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct stat st;
	int rc;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.getattr(req, ino, fi);
		return;
	}
	rc = shmfs_shared_stat(fs, ino, &st);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, 0);
}

static void sh_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r;
	struct stat st;
	int rc = 0;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.setattr(req, ino, attr, to_set, fi);
		return;
	}
	if (!shmfs_shared_is_region_ino(ino)) {
		reply_err(req, -EPERM);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find_id(&s->st, ino & ~INO_REGION_TAG);
	if (!r) {
		rc = -ENOENT;
		goto out;
	}
	/* times are not kept per region: the record times are its times */
	if (!(to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			FUSE_SET_ATTR_GID)))
		goto out;
	if (!s->master) {
		rc = -EROFS;
		goto out;
	}
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		struct shmfs_shared_rec rec;

		memset(&rec, 0, sizeof(rec));
		rec.op = SHMFS_SHARED_OP_SETATTR;
		rec.id = r->id;
		rec.mode = to_set & FUSE_SET_ATTR_MODE ? attr->st_mode & 07777 : r->mode;
		rec.uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : r->uid;
		rec.gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : r->gid;
		rc = shmfs_shared_append_locked(s, &rec);
		if (rc < 0)
			goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE)
		rc = shmfs_shared_resize_locked(s, ino & ~INO_REGION_TAG, (uint64_t)attr->st_size);
out:
	if (rc == 0)
		rc = shmfs_shared_stat_locked(fs, ino, &st);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, 0);
}

static void sh_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct shmfs_shared_rec rec;
	struct fuse_entry_param e;
	int rc;

	if (!shmfs_shared_is_ours(fs, parent)) {
		shmfs_ops.create(req, parent, name, mode, fi);
		return;
	}
	if (parent != SHMFS_INO_SHARED_NS) {
		reply_err(req, -EPERM);
		return;
	}
	if (!S_ISREG(mode)) {
		reply_err(req, -EPERM);
		return;
	}
	rc = shmfs_name_check(name);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_CREATE;
	strcpy(rec.name, name);
	rec.mode = mode & 07777;
	rec.uid = ctx->uid;
	rec.gid = ctx->gid;
	memset(&e, 0, sizeof(e));
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	if (shmfs_shared_find(&s->st, name))
		rc = -EEXIST;
	else if (!s->master)
		rc = -EROFS;
	else
		rc = shmfs_shared_append_locked(s, &rec);
	if (rc == 0) {
		shmfs_shared_region_stat(shmfs_shared_find_id(&s->st, rec.id), &e.attr);
		e.ino = e.attr.st_ino;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	if (rc == 0)
		shmfs_audit(fs, ctx->uid, ctx->pid, "shared create %s/%s", s->name, name);
	e.generation = 1;
	fi->fh = 0;
	fi->direct_io = 1;
	fuse_reply_create(req, &e, fi);
}

static void sh_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const struct shmfs_shared_region *r;
	int rc;

	if (!shmfs_shared_is_ours(fs, parent)) {
		shmfs_ops.unlink(req, parent, name);
		return;
	}
	if (parent != SHMFS_INO_SHARED_NS) {
		reply_err(req, parent == SHMFS_INO_SHARED ? -EISDIR : -ENOTDIR);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find(&s->st, name);
	if (!r) {
		rc = -ENOENT;
	} else if (!s->master) {
		rc = -EROFS;
	} else {
		struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_UNLINK, .id = r->id };
		rc = shmfs_shared_append_locked(s, &rec);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		shmfs_audit(fs, ctx->uid, ctx->pid, "shared unlink %s/%s", s->name, name);
	reply_err(req, rc);
}

static void sh_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r, *o;
	int rc;

	if (!shmfs_shared_is_ours(fs, parent) && !shmfs_shared_is_ours(fs, newparent)) {
		shmfs_ops.rename(req, parent, name, newparent, newname, flags);
		return;
	}
	if (parent != SHMFS_INO_SHARED_NS || newparent != SHMFS_INO_SHARED_NS) {
		reply_err(req, shmfs_shared_is_ours(fs, parent) && shmfs_shared_is_ours(fs, newparent) ? -EPERM : -EXDEV);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		reply_err(req, -EINVAL);
		return;
	}
	rc = shmfs_name_check(newname);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find(&s->st, name);
	o = shmfs_shared_find(&s->st, newname);
	if (!r) {
		rc = -ENOENT;
	} else if (!s->master) {
		rc = -EROFS;
	} else if (o == r) {
		rc = 0;
	} else if (o && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else {
		struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_RENAME, .id = r->id };

		/* replacing: the old one goes first (a master killed between
		 * the two records leaves the source under its old name) */
		if (o) {
			struct shmfs_shared_rec un = { .op = SHMFS_SHARED_OP_UNLINK, .id = o->id };
			rc = shmfs_shared_append_locked(s, &un);
		}
		strcpy(rec.name, newname);
		if (rc == 0)
			rc = shmfs_shared_append_locked(s, &rec);
	}
	pthread_mutex_unlock(&s->lock);
	reply_err(req, rc);
}
/* ------------------------------------------------------------ directories */

static void sh_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	struct dir_snap *d;
	size_t cnt;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.opendir(req, ino, fi);
		return;
	}
	if (shmfs_shared_is_region_ino(ino)) {
		reply_err(req, -ENOTDIR);
		return;
	}
	/* the whole listing at opendir: offsets stay valid while it changes */
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	cnt = 2 + (ino == SHMFS_INO_SHARED ? 1 : s->st.cnt);
	d = malloc(sizeof(*d) + cnt * sizeof(d->e[0]));
	if (d) {
		d->cnt = 0;
#define ADD(n, i, t) do { \
		snprintf(d->e[d->cnt].name, sizeof(d->e[0].name), "%s", (n)); \
		d->e[d->cnt].ino = (i); d->e[d->cnt].type = (t); d->cnt++; } while (0)
		ADD(".", ino, S_IFDIR);
		ADD("..", ino == SHMFS_INO_SHARED ? SHMFS_INO_ROOT : SHMFS_INO_SHARED, S_IFDIR);
		if (ino == SHMFS_INO_SHARED)
			ADD(s->name, SHMFS_INO_SHARED_NS, S_IFDIR);
		else
			for (size_t i = 0; i < s->st.cnt; i++)
				ADD(s->st.v[i].name, INO_REGION(s->st.v[i].id), S_IFREG);
#undef ADD
	}
	pthread_mutex_unlock(&s->lock);
	if (!d) {
		reply_err(req, -ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) != 0)
		free(d);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct shmfs_fs *fs = fs_of(req);
	struct dir_snap *d = (struct dir_snap *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; off >= 0 && i < d->cnt; i++) {
		size_t need;

		if (!plus) {
			struct stat st = { .st_ino = d->e[i].ino, .st_mode = d->e[i].type };
			need = fuse_add_direntry(req, buf + used, size - used, d->e[i].name, &st,
						 (off_t)i + 1);
		} else {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			if (i < 2) {
				e.attr.st_ino = d->e[i].ino;
				e.attr.st_mode = d->e[i].type;
			} else {
				if (shmfs_shared_stat(fs, d->e[i].ino, &e.attr) < 0)
					continue;   /* gone since opendir */
				e.ino = d->e[i].ino;
				e.generation = 1;
			}
			need = fuse_add_direntry_plus(req, buf + used, size - used, d->e[i].name, &e,
						      (off_t)i + 1);
		}
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void sh_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		do_readdir(req, ino, size, off, fi, false);
	else
		shmfs_ops.readdir(req, ino, size, off, fi);
}

static void sh_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		do_readdir(req, ino, size, off, fi, true);
	else
		shmfs_ops.readdirplus(req, ino, size, off, fi);
}

static void sh_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino)) {
		free((void *)(uintptr_t)fi->fh);
		reply_err(req, 0);
	} else {
		shmfs_ops.releasedir(req, ino, fi);
	}
}

static void sh_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	struct statvfs sv;
	uint64_t total, used;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.statfs(req, ino);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	total = (s->st.sb.size - s->st.sb.extent_start) / A;
	used = shmfs_shared_used(&s->st) / A;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = A;
	sv.f_blocks = total;
	sv.f_bfree = sv.f_bavail = total > used ? total - used : 0;
	sv.f_files = s->st.rec_cap;
	sv.f_ffree = sv.f_favail = s->st.rec_cap - s->st.seq;
	sv.f_namemax = SHMFS_NAME_MAX;
	pthread_mutex_unlock(&s->lock);
	fuse_reply_statfs(req, &sv);
}

/* ------------------------------------------------------------ the table */

static void ops_fill(struct fuse_lowlevel_ops *ops)
{
	*ops = shmfs_ops;
	ops->lookup = sh_lookup;
	ops->forget = sh_forget;
	ops->forget_multi = sh_forget_multi;
	ops->getattr = sh_getattr;
	ops->setattr = sh_setattr;
	ops->create = sh_create;
	ops->unlink = sh_unlink;
	ops->rename = sh_rename;
	ops->opendir = sh_opendir;
	ops->readdir = sh_readdir;
	ops->readdirplus = sh_readdirplus;
	ops->releasedir = sh_releasedir;
	ops->statfs = sh_statfs;
	shmfs_shared_io_fill(ops);
}

/* Called once, before the session starts: the table is filled in the
 * shared state, which lives as long as the session. */
const struct fuse_lowlevel_ops *shmfs_shared_ops(struct shmfs_fs *fs)
{
	if (!fs->shared)
		return &shmfs_ops;
	ops_fill(&fs->shared->ops);
	return &fs->shared->ops;
}
