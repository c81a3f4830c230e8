/* shared_ops.c - the FUSE handlers of the shared branch (shared.c), installed
 * in front of ops.c's: a request for an inode of the branch (shared/,
 * shared/NAME, its regions) is served here, anything else is passed on to
 * shmfs_ops. Changes to the tree are the master's (EROFS elsewhere); region
 * bytes are read and written at the region's extent of the device. */
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
#define READ_MAX        (1U << 20)

struct dir_snap {
	size_t cnt;
	struct { char name[SHMFS_NAME_MAX + 1]; uint64_t ino; mode_t type; } e[];
};

static struct shmfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

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

static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
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

static void sh_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct stat st;
	int rc;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.open(req, ino, fi);
		return;
	}
	rc = shmfs_shared_stat(fs, ino, &st);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		reply_err(req, -EISDIR);
		return;
	}
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY && st.st_size &&
	    !fs->shared->master) {
		reply_err(req, -EROFS);
		return;
	}
	fi->fh = 0;
	/* every read and write comes here: no page cache that another host's
	 * writes would not reach */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void sh_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r;
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	int rc = 0;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.read(req, ino, size, off, fi);
		return;
	}
	if (size > READ_MAX)
		size = READ_MAX;
	buf = malloc(size ? size : 1);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find_id(&s->st, ino & ~INO_REGION_TAG);
	if (!r) {
		rc = -ENOENT;
	} else if (off >= 0 && (uint64_t)off < r->size) {
		const char *src = s->base + r->offset + off;

		n = r->size - (uint64_t)off < size ? r->size - (uint64_t)off : size;
		/* any other host may have written these bytes (replicas write
		 * inside a region too): read memory, not this CPU's cache */
		rc = shmfs_shared_bytes(SHMFS_BYTES_READ, buf, src, n);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, n);
}

static void sh_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r;
	uint64_t id = ino & ~INO_REGION_TAG, end;
	int rc = 0;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.write(req, ino, buf, size, off, fi);
		return;
	}
	if (off < 0 || (uint64_t)off > UINT64_MAX - size) {
		reply_err(req, -EINVAL);
		return;
	}
	end = (uint64_t)off + size;
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find_id(&s->st, id);
	if (fi->flags & O_APPEND && r) {
		off = (off_t)r->size;
		end = r->size + size;
	}
	if (!r)
		rc = -ENOENT;
	else if (end > r->size && !s->master)
		rc = -EROFS;    /* growing is a change to the tree */
	else if (end > r->size)
		rc = shmfs_shared_resize_locked(s, id, end);
	if (rc == 0) {
		r = shmfs_shared_find_id(&s->st, id);
		rc = shmfs_shared_bytes(SHMFS_BYTES_WRITE, s->base + r->offset + off, buf, size);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void sh_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		reply_err(req, 0);
	else
		shmfs_ops.flush(req, ino, fi);
}

static void sh_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		reply_err(req, 0);   /* every write was flushed to memory already */
	else
		shmfs_ops.fsync(req, ino, datasync, fi);
}

static void sh_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (shmfs_shared_is_ours(fs_of(req), ino))
		reply_err(req, 0);
	else
		shmfs_ops.release(req, ino, fi);
}

static void sh_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r;
	uint64_t id = ino & ~INO_REGION_TAG;
	int rc = 0;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.fallocate(req, ino, mode, offset, length, fi);
		return;
	}
	if (mode != 0) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
	if (offset < 0 || length <= 0 || offset > INT64_MAX - length) {
		reply_err(req, -EINVAL);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	r = shmfs_shared_find_id(&s->st, id);
	if (!r)
		rc = -ENOENT;
	else if ((uint64_t)(offset + length) > r->size)
		rc = s->master ? shmfs_shared_resize_locked(s, id, (uint64_t)(offset + length)) : -EROFS;
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

/* ------------------------------------------------------------ xattrs */

#define XA_DEVICE SHMFS_XATTR_SHARED_DEVICE
#define XA_OFFSET SHMFS_XATTR_SHARED_OFFSET
#define XA_EXTENT SHMFS_XATTR_SHARED_EXTENT
#define XA_MASTER SHMFS_XATTR_SHARED_MASTER
#define XA_HOST   SHMFS_XATTR_SHARED_HOST
#define XA_ROLE   SHMFS_XATTR_SHARED_ROLE
#define XA_SEQ    SHMFS_XATTR_SHARED_SEQ
#define XA_FLUSH  SHMFS_XATTR_SHARED_FLUSH

static const char *const region_xattrs[] = {
	SHMFS_XATTR_PAGE_SZ, SHMFS_XATTR_CTIME, XA_DEVICE, XA_OFFSET, XA_EXTENT, XA_MASTER, XA_HOST,
	XA_ROLE,
};
static const char *const dir_xattrs[] = {
	XA_DEVICE, XA_MASTER, XA_HOST, XA_ROLE, XA_SEQ, XA_FLUSH,
};

/* The value of xattr name of ino (s->lock held). */
static int xattr_value_locked(struct shmfs_fs *fs, uint64_t ino, const char *name, char *out,
			      size_t out_sz)
{
	struct shmfs_shared *s = fs->shared;
	const struct shmfs_shared_region *r = NULL;

	if (shmfs_shared_is_region_ino(ino)) {
		r = shmfs_shared_find_id(&s->st, ino & ~INO_REGION_TAG);
		if (!r)
			return -ENOENT;
	}
	if (strcmp(name, XA_DEVICE) == 0)
		snprintf(out, out_sz, "%s", s->path);
	else if (strcmp(name, XA_MASTER) == 0)
		snprintf(out, out_sz, "%s", s->st.sb.master);
	else if (strcmp(name, XA_HOST) == 0)
		snprintf(out, out_sz, "%s", s->host);
	else if (strcmp(name, XA_ROLE) == 0)
		snprintf(out, out_sz, "%s", s->master ? "master" : "replica");
	else if (r && strcmp(name, XA_OFFSET) == 0)
		snprintf(out, out_sz, "%" PRIu64, r->offset);
	else if (r && strcmp(name, XA_EXTENT) == 0)
		snprintf(out, out_sz, "%" PRIu64, r->extent);
	else if (r && strcmp(name, SHMFS_XATTR_PAGE_SZ) == 0)
		snprintf(out, out_sz, "%" PRIu64, (uint64_t)A);
	else if (r && strcmp(name, SHMFS_XATTR_CTIME) == 0)
		snprintf(out, out_sz, "%" PRId64 ".%09" PRId64, r->btime_ns / 1000000000,
			 r->btime_ns % 1000000000);
	else if (!r && strcmp(name, XA_SEQ) == 0)
		snprintf(out, out_sz, "%" PRIu64, s->st.seq);
	else if (!r && strcmp(name, XA_FLUSH) == 0)
		snprintf(out, out_sz, "%s", shmfs_shared_flush_name());
	else
		return strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP;
	return 0;
}

static void sh_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	char val[PATH_MAX + 64];
	size_t len;
	int rc;

	if (!shmfs_shared_is_ours(fs, ino) || ino == SHMFS_INO_SHARED) {
		if (ino == SHMFS_INO_SHARED && fs->shared)
			reply_err(req, strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP);
		else
			shmfs_ops.getxattr(req, ino, name, size);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	rc = xattr_value_locked(fs, ino, name, val, sizeof(val));
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	len = strlen(val);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

static void sh_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct shmfs_fs *fs = fs_of(req);
	const char *const *v;
	size_t cnt, len = 0;
	char buf[1024];
	struct stat st;

	if (!shmfs_shared_is_ours(fs, ino)) {
		shmfs_ops.listxattr(req, ino, size);
		return;
	}
	if (shmfs_shared_stat(fs, ino, &st) < 0) {
		reply_err(req, -ENOENT);
		return;
	}
	if (ino == SHMFS_INO_SHARED) {
		v = NULL;
		cnt = 0;
	} else if (shmfs_shared_is_region_ino(ino)) {
		v = region_xattrs;
		cnt = SHMFS_ARRAY_SIZE(region_xattrs);
	} else {
		v = dir_xattrs;
		cnt = SHMFS_ARRAY_SIZE(dir_xattrs);
	}
	for (size_t i = 0; i < cnt; i++) {
		size_t n = strlen(v[i]) + 1;
		memcpy(buf + len, v[i], n);
		len += n;
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

static void sh_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	if (!shmfs_shared_is_ours(fs_of(req), ino)) {
		shmfs_ops.setxattr(req, ino, name, value, size, flags);
		return;
	}
	/* the log keeps no user attributes (yet): read-only like user.shmfs.* */
	reply_err(req, strncmp(name, "user.", 5) == 0 ? -EPERM : -ENOTSUP);
}

static void sh_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (!shmfs_shared_is_ours(fs_of(req), ino)) {
		shmfs_ops.removexattr(req, ino, name);
		return;
	}
	reply_err(req, strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP);
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
	ops->open = sh_open;
	ops->read = sh_read;
	ops->write = sh_write;
	ops->flush = sh_flush;
	ops->fsync = sh_fsync;
	ops->release = sh_release;
	ops->fallocate = sh_fallocate;
	ops->opendir = sh_opendir;
	ops->readdir = sh_readdir;
	ops->readdirplus = sh_readdirplus;
	ops->releasedir = sh_releasedir;
	ops->statfs = sh_statfs;
	ops->getxattr = sh_getxattr;
	ops->listxattr = sh_listxattr;
	ops->setxattr = sh_setxattr;
	ops->removexattr = sh_removexattr;
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
