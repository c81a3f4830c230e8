/* file.c - open files: the FUSE handlers from create and open to release.
 * A region's open file holds its backing file and a read-only mapping of it
 * that serves reads (the mmap read cache); a control file's holds the
 * content rendered at open (lxcfs-style), and its writes go to control.c. */
#include "daemon.h"
#include "handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

/* An open region. Shared by the request threads serving that open file;
 * refs counts the release still to come plus every read in flight, and the
 * last of them frees it. The kernel sends RELEASE as soon as the reader has
 * its bytes, which can be before the thread that wrote them to /dev/fuse has
 * returned from writev (a sanitizer checks the reply buffer only after the
 * write), so nothing of a handle may go while a read runs. */
struct region_file {
	unsigned int refs;            /* atomic: the open file + reads in flight */
	struct shmfsd_region *region;
	int fd;
	pthread_rwlock_t map_lock;    /* held for reading while a reply is sent from map */
	char *map;                    /* read-only shared mapping of the backing file */
	size_t map_len;               /* whole pages: hugetlbfs maps and unmaps no less */
};

/* An open control file: what it is, and its content as rendered at open. */
struct ctl_file {
	struct shmfs_ino_info info;
	struct shmfs_ctl_buf buf;
};

static struct region_file *region_of(struct fuse_file_info *fi)
{
	return (struct region_file *)(uintptr_t)fi->fh;
}

static struct ctl_file *ctl_of(struct fuse_file_info *fi)
{
	return (struct ctl_file *)(uintptr_t)fi->fh;
}

/* Region I/O bypasses the kernel's page cache of the FUSE file: the bytes
 * live in the backing file, where mappers change them at any moment, so a
 * cached copy would be stale. Where the kernel passes a region through to its
 * backing file (passthrough.c: tmpfs, that is normal pages; the kernel refuses
 * hugetlbfs), mmap of the FUSE file maps the real pages; read and write stay
 * in the daemon, which ends the region at its byte size and checks writes.
 * Elsewhere mmap of the FUSE file is refused (ENODEV): map the backing file
 * (user.shmfs.backing, libshmfs) instead. */
static void region_open_flags(fuse_req_t req, struct shmfs_fs *fs, struct shmfsd_region *r,
			      int fd, struct fuse_file_info *fi)
{
	int id;

	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* flush has nothing to do (memory is written through): the kernel
	 * skips the FLUSH request on every close */
	fi->noflush = 1;
	pthread_mutex_lock(&fs->lock);
	/* registered once per region: the kernel wants one backing file for
	 * every open of an inode; a refusal is remembered too */
	if (r->passthrough_id == 0)
		r->passthrough_id = shmfs_passthrough_open(req, fd);
	id = r->passthrough_id;
	pthread_mutex_unlock(&fs->lock);
	/* read and write stay with the daemon: the backing file is whole pages,
	 * the region ends at its byte size (a passed-through read would return
	 * the page's tail); mmap, which maps whole pages, passes through */
	if (id > 0)
		shmfs_passthrough_arm(fi, id, true);
}

static struct region_file *region_file_new(void)
{
	struct region_file *h = calloc(1, sizeof(*h));

	if (h) {
		pthread_rwlockattr_t a;

		h->refs = 1;
		h->fd = -1;
		/* a remap must not wait behind an endless run of readers of one file */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&h->map_lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	return h;
}

static void region_file_free(struct shmfs_fs *fs, struct region_file *h)
{
	if (!h)
		return;
	if (h->map)
		munmap(h->map, h->map_len);
	pthread_rwlock_destroy(&h->map_lock);
	if (h->fd >= 0)
		close(h->fd);
	if (h->region)
		shmfsd_region_put(fs, h->region, 1);
	free(h);
}

static void region_file_hold(struct region_file *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
}

/* Drop a reference; the last one (the release, or a read that outlived it)
 * frees the handle, its mapping and its descriptor. */
static void region_file_put(struct shmfs_fs *fs, struct region_file *h)
{
	if (h && __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		region_file_free(fs, h);
}

static void ctl_file_free(struct ctl_file *h)
{
	if (!h)
		return;
	free(h->buf.data);
	free(h);
}

/* Whether the open file fi of inode ino is a region's (else a control
 * file's): only a region's inode is ever opened as a region. */
static bool is_region(struct shmfs_fs *fs, fuse_ino_t ino)
{
	struct shmfs_ino_info info;

	shmfs_ino_decode(fs, ino, &info);
	return info.obj == SHMFS_OBJ_REGION;
}

int shmfs_file_stat(struct shmfs_fs *fs, struct fuse_file_info *fi, struct stat *ret)
{
	struct region_file *h = region_of(fi);
	int rc = fstat(h->fd, ret) < 0 ? -errno : 0;

	if (rc == 0) {
		shmfsd_region_told(fs, h->region, ret);
		shmfsd_region_attr(fs, h->region, ret);
	}
	return rc;
}

void shmfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct shmfs_ino_info pi;
	struct fuse_entry_param e;
	struct shmfsd_region *r;
	struct region_file *h;
	int fd, rc;

	shmfs_ino_decode(fs, parent, &pi);
	if (pi.obj != SHMFS_OBJ_NODE) {
		reply_err(req, pi.obj == SHMFS_OBJ_NONE ? -ENOENT : -EPERM);
		return;
	}
	if (!S_ISREG(mode)) {
		reply_err(req, -EPERM);
		return;
	}
	h = region_file_new();
	if (!h) {
		reply_err(req, -ENOMEM);
		return;
	}
	rc = shmfsd_region_create(fs, pi.kind, pi.node, name, mode & 07777, ctx->uid, ctx->gid, ctx->pid,
				  &r, &fd);
	shmfs_xattr_stash_changed(fs);   /* the node's pool */
	if (rc < 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	rc = shmfsd_region_stat(fs, r, &e.attr);
	if (rc < 0) {
		close(fd);
		shmfsd_region_put(fs, r, 1);
		free(h);
		reply_err(req, rc);
		return;
	}
	e.ino = r->ino;
	e.generation = 1;
	e.attr_timeout = e.entry_timeout = TTL_LONG;
	h->region = r;
	h->fd = fd;
	region_open_flags(req, fs, r, fd, fi);
	/* one hold for the kernel's lookup reference, one for the open file */
	shmfsd_region_hold(fs, r, 1);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) != 0) {
		shmfsd_region_put(fs, r, 1);
		region_file_free(fs, h);
	}
}

void shmfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info info;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE) {
		reply_err(req, -ENOENT);
		return;
	}
	if (info.obj == SHMFS_OBJ_ROOT || info.obj == SHMFS_OBJ_TYPE || info.obj == SHMFS_OBJ_NODE) {
		reply_err(req, -EISDIR);
		return;
	}
	if (info.obj == SHMFS_OBJ_REGION) {
		struct region_file *h = region_file_new();

		if (!h) {
			reply_err(req, -ENOMEM);
			return;
		}
		h->region = shmfsd_region_get(fs, ino);
		if (!h->region) {
			free(h);
			reply_err(req, -ENOENT);
			return;
		}
		/* the kernel checked the caller's permission; writes go through a
		 * shared mapping, which needs the file open for reading too */
		rc = shmfsd_region_open_backing(fs, h->region,
						(fi->flags & O_ACCMODE) == O_RDONLY ? O_RDONLY : O_RDWR);
		if (rc < 0) {
			region_file_free(fs, h);
			reply_err(req, rc == -ESTALE ? -ENOENT : rc);
			return;
		}
		h->fd = rc;
		region_open_flags(req, fs, h->region, h->fd, fi);
		fi->fh = (uintptr_t)h;
		if (fuse_reply_open(req, fi) != 0)
			region_file_free(fs, h);
	} else {
		struct ctl_file *h = calloc(1, sizeof(*h));

		if (!h) {
			reply_err(req, -ENOMEM);
			return;
		}
		h->info = info;
		if ((fi->flags & O_ACCMODE) != O_WRONLY) {
			rc = shmfs_control_render(fs, &info, &h->buf);
			if (rc < 0) {
				ctl_file_free(h);
				reply_err(req, rc);
				return;
			}
		}
		/* the snapshot is the content: no page cache, sizes may differ */
		fi->direct_io = 1;
		fi->nonseekable = 0;
		fi->noflush = 1;   /* writes act at write and release, never at flush */
		fi->fh = (uintptr_t)h;
		if (fuse_reply_open(req, fi) != 0)
			ctl_file_free(h);
	}
}

/* Make h->map cover at least end bytes; called with map_lock held for
 * writing, so no reply is being sent from the mapping it replaces. */
static int map_cover(struct shmfs_fs *fs, struct region_file *h, uint64_t end, uint64_t size)
{
	uint64_t page_sz = shmfs_page_sz(fs, h->region->kind);
	size_t len = (size_t)((size + page_sz - 1) / page_sz * page_sz);
	char *m;

	if (h->map_len >= end)
		return 0;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_NORESERVE, h->fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	if (h->map)
		munmap(h->map, h->map_len);
	h->map = m;
	h->map_len = len;
	return 0;
}

/* Reply straight from a mapping of the backing file: the kernel copies the
 * bytes once, from the region's own pages into the reader's buffer. The
 * daemon never touches them itself, so a region shrunk meanwhile makes the
 * copy fail (EIO to the reader), never a SIGBUS here. Only for files whose
 * pages all exist: faulting a hole through a mapping would allocate it.
 * The mapping stays until the reply is sent (map_lock held for reading; the
 * caller holds the handle). Returns false when the caller must read another
 * way. */
static bool read_mapped(struct shmfs_fs *fs, fuse_req_t req, struct region_file *h, size_t size,
			off_t off)
{
	struct stat st;
	uint64_t end;

	if (fstat(h->fd, &st) < 0 || off < 0)
		return false;
	if ((uint64_t)off >= (uint64_t)st.st_size) {
		fuse_reply_buf(req, NULL, 0);
		return true;
	}
	if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size)
		return false;
	end = (uint64_t)off + size < (uint64_t)st.st_size ? (uint64_t)off + size : (uint64_t)st.st_size;
	pthread_rwlock_rdlock(&h->map_lock);
	while (h->map_len < end) {
		int rc;

		pthread_rwlock_unlock(&h->map_lock);
		pthread_rwlock_wrlock(&h->map_lock);
		rc = map_cover(fs, h, end, (uint64_t)st.st_size);
		pthread_rwlock_unlock(&h->map_lock);
		if (rc < 0)
			return false;
		pthread_rwlock_rdlock(&h->map_lock);
	}
	fuse_reply_buf(req, h->map + off, (size_t)(end - (uint64_t)off));
	pthread_rwlock_unlock(&h->map_lock);
	return true;
}

/* A region ends at its byte size, inside its last page: cut the read
 * there. False when the reply is already sent (at or past the end). */
static bool clamp_to_size(fuse_req_t req, struct region_file *h, size_t *size, off_t off)
{
	uint64_t bytes;
	int rc = off < 0 ? -EINVAL : shmfsd_region_size(fs_of(req), h->region, h->fd, &bytes);

	if (rc < 0) {
		reply_err(req, rc);
		return false;
	}
	if ((uint64_t)off >= bytes) {
		fuse_reply_buf(req, NULL, 0);
		return false;
	}
	if (*size > bytes - (uint64_t)off)
		*size = (size_t)(bytes - (uint64_t)off);
	return true;
}

/* Holes (a file sized behind our back) read as zeros without taking pages. */
static void read_copied(fuse_req_t req, struct region_file *h, size_t size, off_t off)
{
	_cleanup_free_ char *buf = malloc(size ? size : 1);
	size_t done = 0;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	while (done < size) {
		ssize_t n = pread(h->fd, buf + done, size - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			reply_err(req, -errno);
			return;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	fuse_reply_buf(req, buf, done);
}

void shmfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct region_file *h;
	_cleanup_free_ char *buf = NULL;

	if (!is_region(fs, ino)) {
		struct ctl_file *c = ctl_of(fi);


		if (off < 0 || (size_t)off >= c->buf.len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		size = size < c->buf.len - (size_t)off ? size : c->buf.len - (size_t)off;
		/* reply from memory the handle does not own: the release may free
		 * the snapshot while fuse_reply_buf is still returning */
		buf = malloc(size);
		if (!buf) {
			reply_err(req, -ENOMEM);
			return;
		}
		memcpy(buf, c->buf.data + off, size);
		fuse_reply_buf(req, buf, size);
		return;
	}
	h = region_of(fi);
	if (size > READ_MAX)
		size = READ_MAX;
	/* the reply frees req: fs is taken first */
	region_file_hold(h);
	if (clamp_to_size(req, h, &size, off) && !read_mapped(fs, req, h, size, off))
		read_copied(req, h, size, off);
	region_file_put(fs, h);
}

void shmfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct region_file *h;
	unsigned flags;
	int rc;

	if (!is_region(fs, ino)) {
		rc = shmfs_control_write(fs, &ctl_of(fi)->info, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid,
					 buf, size, off);
		shmfs_xattr_stash_changed(fs);
		if (rc < 0)
			reply_err(req, rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	h = region_of(fi);
	/* FUSE does not say whether the writer has CAP_FSETID: root is taken
	 * to have it, everyone else not (the kernel leaves the set-ID bits of a
	 * direct-I/O write to the filesystem) */
	flags = (fi->flags & O_APPEND ? SHMFS_WRITE_APPEND : 0) |
		(fuse_req_ctx(req)->uid != 0 ? SHMFS_WRITE_KILL_PRIV : 0);
	rc = shmfsd_region_write(fs, h->region, h->fd, buf, size, off, flags);
	shmfs_xattr_stash_changed(fs);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

void shmfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_err(req, 0);
}

void shmfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	reply_err(req, 0); /* memory: nothing to flush */
}

void shmfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);

	if (is_region(fs, ino))
		region_file_put(fs, region_of(fi));
	else
		ctl_file_free(ctl_of(fi));
	reply_err(req, 0);
}

void shmfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct region_file *h;
	uint64_t end, size, page_sz;
	int rc = 0;

	if (!is_region(fs, ino)) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
	h = region_of(fi);
	/* only plain allocation: holes in a region would hand pages back behind
	 * the pool accounting and mappers' backs */
	if ((mode & ~FALLOC_FL_KEEP_SIZE) || offset < 0 || length <= 0) {
		reply_err(req, (mode & ~FALLOC_FL_KEEP_SIZE) ? -EOPNOTSUPP : -EINVAL);
		return;
	}
	end = (uint64_t)offset + (uint64_t)length;
	if (end > (uint64_t)INT64_MAX) {
		reply_err(req, -EFBIG);
		return;
	}
	page_sz = shmfs_page_sz(fs, h->region->kind);
	pthread_mutex_lock(&h->region->op_lock);
	rc = shmfsd_region_size(fs, h->region, h->fd, &size);
	/* any byte range: the pages under the size exist already, and a range
	 * past it sizes the region to its end, as ftruncate would */
	if (rc == 0 && end > size && !(mode & FALLOC_FL_KEEP_SIZE))
		rc = shmfsd_region_resize(fs, h->region, h->fd, end);
	else if (rc == 0 && end > (size + page_sz - 1) / page_sz * page_sz)
		rc = -EOPNOTSUPP; /* pages beyond the last one would be invisible to everyone */
	pthread_mutex_unlock(&h->region->op_lock);
	shmfs_xattr_stash_changed(fs);
	if (rc == 0 && end > size && !(mode & FALLOC_FL_KEEP_SIZE))
		shmfs_audit_region(0, fs, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid, h->region, "fallocate",
				   "size %llu", (unsigned long long)end);
	reply_err(req, rc);
}
