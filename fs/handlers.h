/* handlers.h - what the three files of FUSE handlers (ops.c, file.c, dir.c)
 * share: cache lifetimes, the request helpers, and the handlers file.c and
 * dir.c give ops.c's table. Not for the rest of fs/: nothing below the
 * handlers speaks FUSE replies. */
#ifndef SHMFSD_HANDLERS_H
#define SHMFSD_HANDLERS_H

#include "daemon.h"

/* What only the daemon changes is cached long; the kernel is told when
 * something changes behind its back. Control files change all the time. */
#define TTL_LONG 86400.0
#define TTL_NEG  TTL_LONG /* watch.c reports names made behind our back */

#define READ_MAX (1U << 20)

static inline struct shmfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline void reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, r < 0 ? -r : r);
}

static inline void ttl_for(const struct shmfs_ino_info *info, struct fuse_entry_param *e)
{
	bool ctl = info->obj == SHMFS_OBJ_STATUS || info->obj == SHMFS_OBJ_NR_PAGES ||
		   info->obj == SHMFS_OBJ_FREE_PAGES || info->obj == SHMFS_OBJ_CONTROL ||
		   info->obj == SHMFS_OBJ_QUOTA;

	e->attr_timeout = ctl ? 0.0 : TTL_LONG;
	e->entry_timeout = TTL_LONG;
}

/* file.c: open files (regions and control files) */
void shmfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     struct fuse_file_info *fi);
void shmfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void shmfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void shmfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi);
void shmfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void shmfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void shmfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void shmfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			struct fuse_file_info *fi);
/* The attributes of the region open as fi (a getattr with a file: fstat of
 * its backing file, no table lookup). */
int shmfs_file_stat(struct shmfs_fs *fs, struct fuse_file_info *fi, struct stat *ret);

/* dir.c: directories */
void shmfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void shmfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi);
void shmfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi);
void shmfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
