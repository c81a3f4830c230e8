/* shared_io.c - the shared branch's regions as files (its FUSE handlers for
 * open, read, write, fallocate and xattrs, put in the table by
 * shared_ops.c): bytes are read and written at the region's extent of the
 * device, under the SIGBUS guard; sizing is the master's (EROFS elsewhere). */
#include "shared_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmfs/heap.h>

#include "util.h"
#include "xattr_names.h"

#define READ_MAX (1U << 20)

/* ------------------------------------------------------------ files */


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

/* A region's heap attributes, as a local region has them: listed and served
 * only while the region holds a libshmfs heap. */
static const struct {
	const char *name;
	size_t field;
} heap_xattrs[] = {
	{ SHMFS_XATTR_HEAP_SZ, offsetof(shmfs_heap_stats_t, size) },
	{ SHMFS_XATTR_HEAP_USED, offsetof(shmfs_heap_stats_t, used) },
	{ SHMFS_XATTR_HEAP_FREE, offsetof(shmfs_heap_stats_t, free) },
	{ SHMFS_XATTR_HEAP_ALLOC_CNT, offsetof(shmfs_heap_stats_t, alloc_cnt) },
};

/* The statistics of the heap region r holds (s->lock held): the library's
 * own checked read, of the device's bytes in place; a device cut short
 * under the mapping is EFAULT, not a SIGBUS. -ENOMSG: no heap. */
static int heap_stats_locked(struct shmfs_shared *s, const struct shmfs_shared_region *r,
			     shmfs_heap_stats_t *ret)
{
	if (r->size == 0 || r->offset > s->size || r->size > s->size - r->offset)
		return -ENOMSG;
	memset(ret, 0, sizeof(*ret));
	ret->sz = sizeof(*ret);
	return shmfs_guarded_heap_peek(s->base + r->offset, (size_t)r->size, ret);
}

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
	else if (r && strncmp(name, "user.shmfs.heap.", 16) == 0) {
		shmfs_heap_stats_t hs;
		size_t i;

		for (i = 0; i < SHMFS_ARRAY_SIZE(heap_xattrs); i++)
			if (strcmp(name, heap_xattrs[i].name) == 0)
				break;
		if (i == SHMFS_ARRAY_SIZE(heap_xattrs) || heap_stats_locked(s, r, &hs) < 0)
			return -ENODATA;
		snprintf(out, out_sz, "%" PRIu64,
			 *(const uint64_t *)((const char *)&hs + heap_xattrs[i].field));
	} else if (!r && strcmp(name, XA_SEQ) == 0)
		snprintf(out, out_sz, "%" PRIu64, s->st.seq);
	else if (!r && strcmp(name, XA_FLUSH) == 0)
		snprintf(out, out_sz, "%s", shmfs_shared_flush_name());
	else
		return strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP;
	return 0;
}

/* "user.NAME" outside user.shmfs.*: an attribute the log keeps; NAME, or
 * NULL. */
static const char *user_name(const char *name)
{
	if (strncmp(name, "user.", 5) != 0 || strncmp(name, "user.shmfs.", 11) == 0)
		return NULL;
	return name + 5;
}

/* A user attribute of a region: the log's (binary-safe). */
static void user_getxattr(fuse_req_t req, struct shmfs_shared *s, uint64_t id, const char *uname,
			  size_t size)
{
	const struct shmfs_shared_xattr *x;
	char *val = NULL;
	uint32_t len = 0;
	bool region;

	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	region = shmfs_shared_find_id(&s->st, id) != NULL;
	x = region ? shmfs_shared_xattr_find(&s->st, id, uname) : NULL;
	if (x) {
		len = x->len;
		val = len ? malloc(len) : NULL;
		if (val)
			memcpy(val, x->value, len);
	}
	pthread_mutex_unlock(&s->lock);
	if (!x)
		reply_err(req, region ? -ENODATA : -ENOENT);
	else if (len && !val)
		reply_err(req, -ENOMEM);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, val, len);
	free(val);
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
	if (shmfs_shared_is_region_ino(ino) && user_name(name)) {
		user_getxattr(req, s, ino & ~INO_REGION_TAG, user_name(name), size);
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
	struct shmfs_shared *s = fs->shared;
	const char *const *v;
	size_t cnt, len = 0;
	/* the branch's own names, and SHMFS_SHARED_XATTR_MAX user names */
	char buf[1024 + SHMFS_SHARED_XATTR_MAX * (SHMFS_NAME_MAX + 6)];
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
	if (shmfs_shared_is_region_ino(ino)) {
		uint64_t id = ino & ~INO_REGION_TAG;

		const struct shmfs_shared_region *r;
		shmfs_heap_stats_t hs;

		pthread_mutex_lock(&s->lock);
		r = shmfs_shared_find_id(&s->st, id);
		if (r && heap_stats_locked(s, r, &hs) == 0)
			for (size_t i = 0; i < SHMFS_ARRAY_SIZE(heap_xattrs); i++) {
				size_t n = strlen(heap_xattrs[i].name) + 1;

				memcpy(buf + len, heap_xattrs[i].name, n);
				len += n;
			}
		for (size_t i = 0; i < s->st.xcnt; i++) {
			const struct shmfs_shared_xattr *x = &s->st.xv[i];
			size_t n = strlen(x->name) + 1;

			if (x->id != id || len + 5 + n > sizeof(buf))
				continue;
			memcpy(buf + len, "user.", 5);
			memcpy(buf + len + 5, x->name, n);
			len += 5 + n;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

/* Set or remove (value NULL) a user attribute of a region: a record of
 * the log, so only the master; user.shmfs.* are the daemon's. */
static void user_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			  size_t size, int flags)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_shared *s = fs->shared;
	const char *uname = user_name(name);
	int rc;

	if (strncmp(name, "user.", 5) != 0) {
		reply_err(req, -ENOTSUP);
		return;
	}
	if (!shmfs_shared_is_region_ino(ino) || !uname) {
		/* the directories' and the daemon's attributes are read-only */
		reply_err(req, !value && uname ? -ENODATA : -EPERM);
		return;
	}
	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	if (!shmfs_shared_find_id(&s->st, ino & ~INO_REGION_TAG))
		rc = -ENOENT;
	else if (!s->master)
		rc = -EROFS;
	else
		rc = shmfs_shared_xattr_set_locked(s, ino & ~INO_REGION_TAG, uname, value, size, flags);
	pthread_mutex_unlock(&s->lock);
	reply_err(req, rc);
}

static void sh_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	if (!shmfs_shared_is_ours(fs_of(req), ino)) {
		shmfs_ops.setxattr(req, ino, name, value, size, flags);
		return;
	}
	user_setxattr(req, ino, name, value ? value : "", size, flags);
}

static void sh_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (!shmfs_shared_is_ours(fs_of(req), ino)) {
		shmfs_ops.removexattr(req, ino, name);
		return;
	}
	user_setxattr(req, ino, name, NULL, 0, 0);
}

void shmfs_shared_io_fill(struct fuse_lowlevel_ops *ops)
{
	ops->open = sh_open;
	ops->read = sh_read;
	ops->write = sh_write;
	ops->flush = sh_flush;
	ops->fsync = sh_fsync;
	ops->release = sh_release;
	ops->fallocate = sh_fallocate;
	ops->getxattr = sh_getxattr;
	ops->listxattr = sh_listxattr;
	ops->setxattr = sh_setxattr;
	ops->removexattr = sh_removexattr;
}
