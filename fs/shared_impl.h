/* shared_impl.h - what the files of the shared branch share: its state
 * (the device, the log's tree, master or replica) and the operations on it
 * that the handlers call. Everything with _locked needs s->lock held. */
#ifndef SHMFS_FS_SHARED_IMPL_H
#define SHMFS_FS_SHARED_IMPL_H

#include "daemon.h"
#include "shared_log.h"

#define INO_REGION_TAG  SHMFS_SHARED_INO_TAG
#define INO_REGION(id)  SHMFS_SHARED_INO(id)
#define A               SHMFS_SHARED_ALIGN

struct shmfs_shared {
	char *path;                     /* the device, absolute */
	char *name;                     /* its directory under shared/ */
	char host[SHMFS_SHARED_HOST_MAX + 1];
	int fd;
	uint64_t size;                  /* bytes mapped */
	char *base;
	bool master;
	pthread_mutex_t lock;           /* st, and every write of the log */
	struct shmfs_shared_state st;
	int logged_stop;                /* the replay refusal last logged (once each) */
	uint64_t logged_seq;
	struct fuse_lowlevel_ops ops;
};

static inline bool shmfs_shared_is_region_ino(uint64_t ino)
{
	return (ino & INO_REGION_TAG) == INO_REGION_TAG;
}

static inline bool shmfs_shared_is_ours(const struct shmfs_fs *fs, uint64_t ino)
{
	return fs->shared && (ino == SHMFS_INO_SHARED || ino == SHMFS_INO_SHARED_NS ||
			      shmfs_shared_is_region_ino(ino));
}

static inline struct shmfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

/* Put the handlers of a region's bytes and xattrs (shared_io.c) in ops. */
void shmfs_shared_io_fill(struct fuse_lowlevel_ops *ops);

/* Replay what the master appended since (a replica; nothing on the master). */
void shmfs_shared_catch_up_locked(struct shmfs_shared *s);
/* Append rec (stamped with the time) as the next record (master). */
int shmfs_shared_append_locked(struct shmfs_shared *s, struct shmfs_shared_rec *rec);
/* Set (value, len) or, value NULL, remove user attribute name (without
 * "user.") of region id (master): records of the log. */
int shmfs_shared_xattr_set_locked(struct shmfs_shared *s, uint64_t id, const char *name, const void *value,
				  size_t len, int flags);
/* Size region id to size bytes (master): in place or moved, new bytes zero. */
int shmfs_shared_resize_locked(struct shmfs_shared *s, uint64_t id, uint64_t size);
/* Attributes: of the two directories, of a region, of any inode of the branch. */
void shmfs_shared_dir_stat(struct shmfs_fs *fs, uint64_t ino, struct stat *st);
void shmfs_shared_region_stat(const struct shmfs_shared_region *r, struct stat *st);
int shmfs_shared_stat_locked(struct shmfs_fs *fs, uint64_t ino, struct stat *st);
/* Move bytes of the device, under the SIGBUS guard (a shared file cut
 * short is -EFAULT): READ evicts src's lines first (another host may have
 * written them), WRITE and ZERO write dst's back to memory after. */
enum shmfs_shared_bytes { SHMFS_BYTES_READ, SHMFS_BYTES_WRITE, SHMFS_BYTES_ZERO };
int shmfs_shared_bytes(enum shmfs_shared_bytes how, void *dst, const void *src, size_t len);

#endif
