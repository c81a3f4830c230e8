/* shared.c - the shared branch of the tree: MOUNT/shared/NAME/REGION, the
 * regions of a backing that several hosts map (a DAX device, or a file),
 * kept by the superblock and metadata log of lib/core/shared_log.c.
 *
 * One daemon is the master (its host name, -o shared_host= or the system's,
 * is the one the superblock names): it creates, sizes, renames and removes
 * regions by appending records. Every other daemon is a replica: it replays
 * the log before answering any request about the branch (so it shows the
 * master's changes as soon as they are committed; nothing of the branch is
 * cached by the kernel) and refuses changes to the tree with EROFS. Region
 * bytes are read and written through the mapping of the device at the
 * region's extent, on any host.
 *
 * This file: set-up, the log (replay, append), sizing, attributes. The
 * handlers, installed in front of ops.c's, are in shared_ops.c. */
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

bool shmfs_shared_ino(const struct shmfs_fs *fs, uint64_t ino)
{
	return shmfs_shared_is_ours(fs, ino);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ the log */

struct replay_args {
	struct shmfs_shared *s;
	struct shmfs_shared_sb sb;
	int stop;
	struct shmfs_shared_rec *rec;
};

static int do_sb_read(void *p)
{
	struct replay_args *a = p;

	shmfs_shared_invalidate(a->s->base, sizeof(a->sb));
	return shmfs_shared_sb_read(a->s->base, a->s->size, &a->sb);
}

static int do_replay(void *p)
{
	struct replay_args *a = p;

	return shmfs_shared_replay(a->s->base, &a->s->st, true, &a->stop);
}

static int do_append(void *p)
{
	struct replay_args *a = p;

	return shmfs_shared_append(a->s->base, &a->s->st, a->rec);
}

/* Catch up with the log (a replica: the master's new records). Caller holds
 * s->lock. A record that does not replay is logged once; replay stays
 * before it, and tries again at the next request. The device is read under
 * a SIGBUS guard: a shared file truncated behind our back is an error
 * (EFAULT), not the daemon's end. */
void shmfs_shared_catch_up_locked(struct shmfs_shared *s)
{
	struct replay_args a = { .s = s };
	int rc;

	if (s->master)
		return;
	rc = shmfs_guarded_call(do_sb_read, &a);
	if (rc < 0) {
		if (rc != s->logged_stop)
			SHMFS_LOG("Shared backing '%s': its superblock is no longer valid (%s): "
				  "the tree stays as last seen", s->path, strerror(-rc));
		s->logged_stop = rc;
		return;
	}
	if (memcmp(a.sb.uuid, s->st.sb.uuid, sizeof(a.sb.uuid)) != 0) {
		SHMFS_LOG("Shared backing '%s' was formatted anew: replaying its log from the start",
			  s->path);
		shmfs_shared_state_free(&s->st);
		shmfs_shared_state_init(&s->st, &a.sb);
	}
	rc = shmfs_guarded_call(do_replay, &a);
	if (rc < 0)
		a.stop = rc;
	if (a.stop && (a.stop != s->logged_stop || s->st.seq != s->logged_seq))
		SHMFS_LOG("Shared backing '%s': record %" PRIu64 " of the log does not replay (%s); "
			  "the tree stays at record %" PRIu64, s->path, s->st.seq + 1, strerror(-a.stop),
			  s->st.seq);
	s->logged_stop = a.stop;
	s->logged_seq = s->st.seq;
}

int shmfs_shared_append_locked(struct shmfs_shared *s, struct shmfs_shared_rec *rec)
{
	struct replay_args a = { .s = s, .rec = rec };

	rec->time_ns = now_ns();
	return shmfs_guarded_call(do_append, &a);
}

struct xattr_args {
	struct shmfs_shared *s;
	uint64_t id;
	const char *name;
	const void *value;
	size_t len;
	int flags;
};

static int do_xattr_set(void *p)
{
	struct xattr_args *a = p;

	return shmfs_shared_xattr_set(a->s->base, &a->s->st, a->id, a->name, a->value, a->len, a->flags,
				      now_ns());
}

int shmfs_shared_xattr_set_locked(struct shmfs_shared *s, uint64_t id, const char *name, const void *value,
				  size_t len, int flags)
{
	struct xattr_args a = { s, id, name, value, len, flags };

	return shmfs_guarded_call(do_xattr_set, &a);
}

/* ------------------------------------------------------------ attributes */

void shmfs_shared_dir_stat(struct shmfs_fs *fs, uint64_t ino, struct stat *st)
{
	struct shmfs_ino_info info = { .obj = SHMFS_OBJ_TYPE };

	/* the page-type directories' owner and times */
	shmfs_tree_stat(fs, &info, SHMFS_INO_TYPE(SHMFS_PAGE_NORMAL), st);
	st->st_ino = ino;
	if (ino == SHMFS_INO_SHARED_NS) {
		/* like a node directory: anyone may make regions (on the
		 * master), the sticky bit keeps them the owner's */
		st->st_mode = S_IFDIR | 01777;
		st->st_blksize = (blksize_t)A;
	}
}

void shmfs_shared_region_stat(const struct shmfs_shared_region *r, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = INO_REGION(r->id);
	st->st_mode = S_IFREG | r->mode;
	st->st_nlink = 1;
	st->st_uid = r->uid;
	st->st_gid = r->gid;
	st->st_size = (off_t)r->size;
	st->st_blksize = (blksize_t)A;
	st->st_blocks = (blkcnt_t)(r->extent / 512);
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = r->ctime_ns / 1000000000;
	st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec = r->ctime_ns % 1000000000;
}

/* Attributes of an inode of the branch: 0, or -ENOENT when gone. */
int shmfs_shared_stat_locked(struct shmfs_fs *fs, uint64_t ino, struct stat *st)
{
	const struct shmfs_shared_region *r;

	if (ino == SHMFS_INO_SHARED || ino == SHMFS_INO_SHARED_NS) {
		shmfs_shared_dir_stat(fs, ino, st);
		return 0;
	}
	r = shmfs_shared_find_id(&fs->shared->st, ino & ~INO_REGION_TAG);
	if (!r)
		return -ENOENT;
	shmfs_shared_region_stat(r, st);
	return 0;
}

int shmfs_shared_stat(struct shmfs_fs *fs, uint64_t ino, struct stat *st)
{
	struct shmfs_shared *s = fs->shared;
	int rc;

	pthread_mutex_lock(&s->lock);
	shmfs_shared_catch_up_locked(s);
	rc = shmfs_shared_stat_locked(fs, ino, st);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct bytes_args {
	enum shmfs_shared_bytes how;
	void *dst;
	const void *src;
	size_t len;
};

static int do_bytes(void *p)
{
	struct bytes_args *a = p;

	switch (a->how) {
	case SHMFS_BYTES_READ:
		shmfs_shared_invalidate(a->src, a->len);
		memcpy(a->dst, a->src, a->len);
		break;
	case SHMFS_BYTES_WRITE:
		memcpy(a->dst, a->src, a->len);
		shmfs_shared_flush(a->dst, a->len);
		break;
	case SHMFS_BYTES_ZERO:
		memset(a->dst, 0, a->len);
		shmfs_shared_flush(a->dst, a->len);
		break;
	}
	return 0;
}

int shmfs_shared_bytes(enum shmfs_shared_bytes how, void *dst, const void *src, size_t len)
{
	struct bytes_args a = { how, dst, src, len };

	return len ? shmfs_guarded_call(do_bytes, &a) : 0;
}

/* [off, off + len) is on the device and no extent but id's is there. */
static bool range_free(const struct shmfs_shared *s, uint64_t off, uint64_t len, uint64_t id)
{
	if (off > s->st.sb.size || len > s->st.sb.size - off)
		return false;
	for (size_t i = 0; i < s->st.cnt; i++) {
		const struct shmfs_shared_region *o = &s->st.v[i];
		if (o->id != id && o->extent && off < o->offset + o->extent && o->offset < off + len)
			return false;
	}
	return true;
}

/* Size region id to size bytes (master, s->lock held): in place when its
 * extent has room or can grow where it is, else in a new extent (first fit)
 * that gets the bytes first. New bytes read as zeroes. The record is the
 * commit: a master killed before it leaves the region as it was. */
int shmfs_shared_resize_locked(struct shmfs_shared *s, uint64_t id, uint64_t size)
{
	const struct shmfs_shared_region *r = shmfs_shared_find_id(&s->st, id);
	struct shmfs_shared_rec rec;
	uint64_t ext, off;
	int rc;

	if (!r)
		return -ENOENT;
	if (size > s->st.sb.size)
		return -EFBIG;
	ext = (size + A - 1) / A * A;
	off = r->offset;
	if (ext > r->extent) {
		/* in place when the range after it is free, else first fit
		 * clear of its own extent too (the bytes are copied from there) */
		if (!(r->extent && range_free(s, r->offset, ext, id))) {
			rc = shmfs_shared_alloc(&s->st, ext, 0, &off);
			if (rc < 0)
				return rc;
		}
		if (off != r->offset && r->size) {
			/* a new place: the bytes go there first */
			rc = shmfs_shared_bytes(SHMFS_BYTES_WRITE, s->base + off, s->base + r->offset,
						r->size);
			if (rc < 0)
				return rc;
		}
	}
	if (size > r->size) {
		rc = shmfs_shared_bytes(SHMFS_BYTES_ZERO, s->base + off + r->size, NULL, size - r->size);
		if (rc < 0)
			return rc;
	}
	if (ext == 0)
		off = 0;
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_RESIZE;
	rec.id = id;
	rec.offset = off;
	rec.extent = ext;
	rec.size = size;
	return shmfs_shared_append_locked(s, &rec);
}

/* ------------------------------------------------------------ set-up */

/* Only one master per device on this machine: a second daemon with the
 * master's name (by mistake) would write the log at the same time. Hosts
 * cannot lock each other out: which host is master is the superblock's. */
static int master_lock(struct shmfs_shared *s)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

	if (fcntl(s->fd, F_OFD_SETLK, &fl) < 0)
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	return 0;
}

int shmfs_shared_setup(struct shmfs_fs *fs, const char *path, const char *name, const char *host)
{
	struct shmfs_shared *s;
	struct shmfs_shared_sb sb;
	const char *base_name;
	int stop = 0, rc;

	if (!path)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->base = MAP_FAILED;
	pthread_mutex_init(&s->lock, NULL);
	fs->shared = s;
	s->path = realpath(path, NULL);
	if (!s->path) {
		rc = -errno;
		SHMFS_LOG("Shared backing '%s': %s", path, strerror(-rc));
		return rc;
	}
	base_name = strrchr(s->path, '/') + 1;
	s->name = strdup(name ? name : base_name);
	if (!s->name)
		return -ENOMEM;
	rc = shmfs_name_check(s->name);
	if (rc < 0) {
		SHMFS_LOG("Shared backing '%s': '%s' is not a valid directory name: "
			  "give one with -o shared_name=NAME", s->path, s->name);
		return -EINVAL;
	}
	if (host) {
		snprintf(s->host, sizeof(s->host), "%s", host);
		if (strlen(host) > SHMFS_SHARED_HOST_MAX || !host[0]) {
			SHMFS_LOG("-o shared_host='%s': 1 to %d characters", host,
				  SHMFS_SHARED_HOST_MAX);
			return -EINVAL;
		}
	} else if (gethostname(s->host, sizeof(s->host) - 1) < 0) {
		return -errno;
	}
	rc = shmfs_shared_dev_open(s->path, false, &s->fd, &s->size);
	if (rc < 0) {
		SHMFS_LOG("Shared backing '%s': cannot open it: %s", s->path, strerror(-rc));
		return rc;
	}
	if (s->size < SHMFS_SHARED_SB_SIZE)
		rc = -EUCLEAN;
	else
		rc = shmfs_shared_dev_map(s->fd, 0, s->size, false, (void **)&s->base);
	if (rc == 0) {
		struct replay_args a = { .s = s };

		rc = shmfs_guarded_call(do_sb_read, &a);
		sb = a.sb;
	}
	if (rc < 0) {
		SHMFS_LOG("Shared backing '%s': %s%s", s->path,
			  rc == -EUCLEAN ? "not formatted" : strerror(-rc),
			  rc == -EUCLEAN || rc == -EBADMSG ?
			  " (format it with: shmfsctl shared format DEVICE)" : "");
		return rc;
	}
	shmfs_shared_state_init(&s->st, &sb);
	s->master = strcmp(sb.master, s->host) == 0;
	if (s->master) {
		rc = master_lock(s);
		if (rc < 0) {
			SHMFS_LOG("Shared backing '%s': another daemon of this host is its master "
				  "(%s)", s->path, strerror(-rc));
			return rc;
		}
	}
	{
		struct replay_args a = { .s = s };

		rc = shmfs_guarded_call(do_replay, &a);
		stop = rc < 0 ? rc : a.stop;
	}
	if (stop)
		SHMFS_LOG("Shared backing '%s': the log ends at record %" PRIu64 ", which does not "
			  "replay (%s)%s", s->path, s->st.seq + 1, strerror(-stop),
			  s->master ? ": the next change overwrites it" : "");
	s->logged_stop = stop;
	s->logged_seq = s->st.seq;
	SHMFS_LOG("Shared backing '%s' as shared/%s: %s (master %s), %" PRIu64 " regions, "
		  "%" PRIu64 " log records, flush by %s", s->path, s->name,
		  s->master ? "master" : "replica", sb.master, (uint64_t)s->st.cnt, s->st.seq,
		  shmfs_shared_flush_name());
	return 0;
}

void shmfs_shared_free(struct shmfs_fs *fs)
{
	struct shmfs_shared *s = fs->shared;

	if (!s)
		return;
	if (s->base != MAP_FAILED)
		munmap(s->base, s->size);
	if (s->fd >= 0)
		close(s->fd);
	shmfs_shared_state_free(&s->st);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s->name);
	free(s);
	fs->shared = NULL;
}
