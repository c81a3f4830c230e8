/* ops.c - the table of FUSE low-level handlers, and the handlers of names
 * and attributes: lookup, forget, getattr, setattr, unlink, rename, statfs,
 * the xattr calls, and the refusals. Each decodes the inode, calls the file
 * that does the work, and replies once: with file.c (open files) and dir.c
 * (directories) the one place where -errno becomes a FUSE error reply. */
#include "daemon.h"
#include "handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"
#include "xattr_names.h"

static int stat_ino(struct shmfs_fs *fs, uint64_t ino, struct stat *st)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj != SHMFS_OBJ_REGION)
		return shmfs_control_stat(fs, &info, ino, st);
	r = shmfsd_region_get(fs, ino);
	if (!r)
		return -ENOENT;
	rc = shmfsd_region_stat(fs, r, st);
	shmfsd_region_put(fs, r, 1);
	return rc;
}

/* ------------------------------------------------------------ lifecycle */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = READ_MAX;
	conn->max_readahead = READ_MAX;
	/* an O_TRUNC open becomes a size change we check like any other */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* permissions are the kernel's job (default_permissions) */
	conn->want &= ~FUSE_CAP_POSIX_ACL;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	shmfs_passthrough_init(userdata, conn);
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shmfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct shmfsd_region *r = NULL;
	struct shmfs_ino_info info;
	uint64_t ino;
	int rc;

	memset(&e, 0, sizeof(e));
	/* a name longer than any region's (the kernel passes up to 255 bytes):
	 * ENAMETOOLONG, as for a create, so stat, unlink, rename, truncate,
	 * chmod and chown all say why rather than ENOENT */
	shmfs_ino_decode(fs, parent, &info);
	if (info.obj == SHMFS_OBJ_NODE && strlen(name) > SHMFS_NAME_MAX) {
		reply_err(req, -ENAMETOOLONG);
		return;
	}
	rc = shmfs_tree_lookup(fs, parent, name, &ino, &r);
	if (rc == -ENOENT) {
		/* a negative entry, cached too */
		e.ino = 0;
		e.entry_timeout = TTL_NEG;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	shmfs_ino_decode(fs, ino, &info);
	if (r) {
		rc = shmfsd_region_stat(fs, r, &e.attr);
		if (rc < 0) {
			shmfsd_region_put(fs, r, 1);
			reply_err(req, rc == -ESTALE ? -ENOENT : rc);
			return;
		}
	} else {
		rc = shmfs_control_stat(fs, &info, ino, &e.attr);
		if (rc < 0) {
			reply_err(req, rc);
			return;
		}
	}
	e.ino = ino;
	e.generation = 1;
	ttl_for(&info, &e);
	/* the hold taken by lookup becomes the kernel's lookup reference */
	if (fuse_reply_entry(req, &e) != 0 && r)
		shmfsd_region_put(fs, r, 1);
}

/* Memory of removed regions goes back to the kernel. Their records are
 * freed on many request threads, and glibc keeps what a thread frees in that
 * thread's arena, so without a trim the daemon stays at its largest size
 * after the regions are gone. Trim once many records went (unlinks and
 * forgets), and when the table has emptied. */
#define TRIM_EVERY 1024
#define TRIM_EMPTY 64

static void mem_release(struct shmfs_fs *fs)
{
	bool trim;

	pthread_mutex_lock(&fs->lock);
	fs->trim_pending++;
	trim = fs->trim_pending >= TRIM_EVERY || (fs->region_cnt == 0 && fs->trim_pending >= TRIM_EMPTY);
	if (trim)
		fs->trim_pending = 0;
	pthread_mutex_unlock(&fs->lock);
	if (trim)
		malloc_trim(0);
}

static void forget_one(struct shmfs_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj != SHMFS_OBJ_REGION)
		return;
	r = shmfsd_region_get(fs, ino);
	if (r) {
		shmfsd_region_put(fs, r, nlookup + 1);
		mem_release(fs);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info info;
	struct stat st;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	/* an open region answers from its backing file (the kernel passes the
	 * file only for regular files: regions and control files) */
	if (fi && fi->fh && info.obj == SHMFS_OBJ_REGION)
		rc = shmfs_file_stat(fs, fi, &st);
	else
		rc = stat_ino(fs, ino, &st);
	if (rc < 0) {
		reply_err(req, rc == -ESTALE ? -ENOENT : rc);
		return;
	}
	fuse_reply_attr(req, &st, info.obj == SHMFS_OBJ_REGION || info.obj == SHMFS_OBJ_ROOT ||
					  info.obj == SHMFS_OBJ_TYPE || info.obj == SHMFS_OBJ_NODE
				  ? TTL_LONG : 0.0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	struct stat st;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	switch (info.obj) {
	case SHMFS_OBJ_REGION:
		r = shmfsd_region_get(fs, ino);
		if (!r) {
			reply_err(req, -ENOENT);
			return;
		}
		rc = shmfsd_region_setattr(fs, r, attr, to_set, &st);
		shmfs_xattr_stash_changed(fs);
		if (rc == 0)
			shmfs_audit_setattr(fs, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid, r, attr, to_set);
		shmfsd_region_put(fs, r, 1);
		if (rc < 0) {
			reply_err(req, rc == -ESTALE ? -ENOENT : rc);
			return;
		}
		fuse_reply_attr(req, &st, TTL_LONG);
		return;
	case SHMFS_OBJ_NONE:
		reply_err(req, -ENOENT);
		return;
	default:
		/* `echo N > .nr_pages` truncates first: harmless, the write decides */
		if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
			reply_err(req, -EINVAL);
			return;
		}
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
			reply_err(req, -EPERM);
			return;
		}
		rc = shmfs_control_stat(fs, &info, ino, &st);
		if (rc < 0) {
			reply_err(req, rc);
			return;
		}
		fuse_reply_attr(req, &st, 0.0);
	}
}

/* ------------------------------------------------------------ refusals */

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	reply_err(req, -EPERM);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_err(req, -EPERM);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, -EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	reply_err(req, -EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	reply_err(req, -EPERM);
}

/* ------------------------------------------------------------ names */

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfsd_region *r = NULL;
	uint64_t ino;
	int rc;

	rc = shmfs_tree_lookup(fs, parent, name, &ino, &r);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	if (!r) {
		reply_err(req, -EPERM); /* control files and directories stay */
		return;
	}
	rc = shmfsd_region_unlink(fs, r);
	shmfs_xattr_stash_changed(fs);
	if (rc == 0)
		shmfs_audit_unlink(fs, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid, parent, name);
	shmfsd_region_put(fs, r, 1);
	reply_err(req, rc);
	if (rc == 0)
		mem_release(fs);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info pi, npi;
	struct shmfsd_region *r = NULL;
	uint64_t ino;
	int rc;

	shmfs_ino_decode(fs, parent, &pi);
	shmfs_ino_decode(fs, newparent, &npi);
	rc = shmfs_tree_lookup(fs, parent, name, &ino, &r);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	if (!r || npi.obj != SHMFS_OBJ_NODE) {
		rc = npi.obj == SHMFS_OBJ_NONE ? -ENOENT : -EPERM;
		goto out;
	}
	if (npi.kind != r->kind) {
		rc = -EXDEV; /* other page size: mv falls back to copy and unlink */
		goto out;
	}
	if (flags & RENAME_EXCHANGE) {
		rc = -EINVAL;
		goto out;
	}
	rc = shmfsd_region_rename(fs, r, npi.node, newname, flags);
	shmfs_xattr_stash_changed(fs);
	shmfs_audit_ok(rc, fs, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid, "%s %s/node%d/%s -> %s/node%d/%s",
		       npi.node != pi.node ? "migrate" : "rename", fs->type[r->kind].pt->name, pi.node, name,
		       fs->type[r->kind].pt->name, npi.node, newname);
out:
	shmfsd_region_put(fs, r, 1);
	reply_err(req, rc);
}

/* ------------------------------------------------------------ statfs, xattr */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = shmfs_pool_statfs(fs_of(req), ino, &sv);

	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void reply_xattr_data(fuse_req_t req, int rc, char *val, size_t len, size_t size)
{
	if (rc < 0)
		reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, val, len);
	free(val);
}

/* A size probe (size 0) leaves its value for the read that follows it from
 * the same process (xattr_stash.c): getfattr asks each value twice. */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct shmfs_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	uint64_t gen = shmfs_xattr_stash_gen(fs);
	char *val = NULL;
	size_t len = 0;
	int rc = 0;

	/* user.shmfs.all: every attribute of the object in one reply (shmfsctl) */
	if (size == 0 || !shmfs_xattr_stash_take(fs, ino, ctx->pid, name, &val, &len))
		rc = strcmp(name, SHMFS_XATTR_ALL) == 0 ? shmfs_xattr_all_get(fs, ino, ctx, &val, &len)
							: shmfs_xattr_get_for(fs, ino, ctx, name, &val, &len);
	if (rc == 0 && size == 0)
		shmfs_xattr_stash_put(fs, gen, ino, ctx->pid, name, val, len);
	reply_xattr_data(req, rc, val, len, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct shmfs_fs *fs = fs_of(req);
	pid_t pid = fuse_req_ctx(req)->pid;
	uint64_t gen = shmfs_xattr_stash_gen(fs);
	char *val = NULL;
	size_t len = 0;
	int rc = 0;

	if (size == 0 || !shmfs_xattr_stash_take(fs, ino, pid, NULL, &val, &len))
		rc = shmfs_xattr_list(fs, ino, &val, &len);
	if (rc == 0 && size == 0)
		shmfs_xattr_stash_put(fs, gen, ino, pid, NULL, val, len);
	reply_xattr_data(req, rc, val, len, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int rc = shmfs_xattr_set(fs_of(req), ino, ctx, name, value, size, flags);

	shmfs_xattr_stash_changed(fs_of(req));
	reply_err(req, rc);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int rc = shmfs_xattr_remove(fs_of(req), ino, fuse_req_ctx(req), name);

	shmfs_xattr_stash_changed(fs_of(req));
	reply_err(req, rc);
}

const struct fuse_lowlevel_ops shmfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.link = op_link,
	.rename = op_rename,
	.create = shmfs_op_create,
	.open = shmfs_op_open,
	.read = shmfs_op_read,
	.write = shmfs_op_write,
	.flush = shmfs_op_flush,
	.fsync = shmfs_op_fsync,
	.release = shmfs_op_release,
	.fallocate = shmfs_op_fallocate,
	.opendir = shmfs_op_opendir,
	.readdir = shmfs_op_readdir,
	.readdirplus = shmfs_op_readdirplus,
	.releasedir = shmfs_op_releasedir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};
