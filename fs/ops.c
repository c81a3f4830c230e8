/* ops.c - the FUSE low-level handlers: decode the inode, call the file that
 * does the work, and reply once. This is the one place where -errno becomes a
 * FUSE error reply. Also the helper thread that tells the kernel to drop
 * cached entries and attributes changed behind its back (reset, clean,
 * changes made directly in the backing store), because such notifications
 * must never be sent from inside a handler. */
#include "shmfs.h"

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

/* What only the daemon changes is cached long; the kernel is told when
 * something changes behind its back. Control files change all the time. */
#define TTL_LONG 86400.0
#define TTL_NEG  TTL_LONG /* watch.c reports names made behind our back */

#define READ_MAX (1U << 20)

enum handle_kind { HANDLE_REGION, HANDLE_CONTROL, HANDLE_DIR };

struct dirent_snap {
	char *name;
	uint64_t ino;
	mode_t type;
};

/* An open file. A region's handle is shared by the request threads serving
 * that open file; refs counts the release still to come plus every read in
 * flight, and the last of them frees it. The kernel sends RELEASE as soon as
 * the reader has its bytes, which can be before the thread that wrote them to
 * /dev/fuse has returned from writev (a sanitizer checks the reply buffer
 * only after the write), so nothing of a handle may go while a read runs. */
struct handle {
	enum handle_kind kind;
	unsigned int refs;            /* atomic: the open file + reads in flight */
	/* region */
	struct shmfs_region *region;
	int fd;
	pthread_rwlock_t map_lock;    /* held for reading while a reply is sent from map */
	char *map;                    /* read-only shared mapping of the backing file */
	size_t map_len;               /* whole pages: hugetlbfs maps and unmaps no less */
	/* control file */
	struct shmfs_ino_info info;
	struct shmfs_ctl_buf buf;
	/* directory */
	struct dirent_snap *ents;
	size_t ent_cnt;
};

static struct handle *fh_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static struct shmfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, r < 0 ? -r : r);
}

static void ttl_for(const struct shmfs_ino_info *info, struct fuse_entry_param *e)
{
	bool ctl = info->obj == SHMFS_OBJ_STATUS || info->obj == SHMFS_OBJ_NR_PAGES ||
		   info->obj == SHMFS_OBJ_FREE_PAGES || info->obj == SHMFS_OBJ_CONTROL ||
		   info->obj == SHMFS_OBJ_QUOTA;

	e->attr_timeout = ctl ? 0.0 : TTL_LONG;
	e->entry_timeout = TTL_LONG;
}

static int stat_ino(struct shmfs_fs *fs, uint64_t ino, struct stat *st)
{
	struct shmfs_ino_info info;
	struct shmfs_region *r;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj != SHMFS_OBJ_REGION)
		return shmfs_tree_stat(fs, &info, ino, st);
	r = shmfs_region_get(fs, ino);
	if (!r)
		return -ENOENT;
	rc = shmfs_region_stat(fs, r, st);
	shmfs_region_put(fs, r, 1);
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
	shmfs_passthrough_init(conn);
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shmfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct shmfs_region *r = NULL;
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
		rc = shmfs_region_stat(fs, r, &e.attr);
		if (rc < 0) {
			shmfs_region_put(fs, r, 1);
			reply_err(req, rc == -ESTALE ? -ENOENT : rc);
			return;
		}
	} else {
		rc = shmfs_tree_stat(fs, &info, ino, &e.attr);
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
		shmfs_region_put(fs, r, 1);
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
	static unsigned int pending; /* under fs->lock */
	bool trim;

	pthread_mutex_lock(&fs->lock);
	pending++;
	trim = pending >= TRIM_EVERY || (fs->region_cnt == 0 && pending >= TRIM_EMPTY);
	if (trim)
		pending = 0;
	pthread_mutex_unlock(&fs->lock);
	if (trim)
		malloc_trim(0);
}

static void forget_one(struct shmfs_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct shmfs_ino_info info;
	struct shmfs_region *r;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj != SHMFS_OBJ_REGION)
		return;
	r = shmfs_region_get(fs, ino);
	if (r) {
		shmfs_region_put(fs, r, nlookup + 1);
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
	if (fi && fh_of(fi) && fh_of(fi)->kind == HANDLE_REGION) {
		struct handle *h = fh_of(fi);
		rc = fstat(h->fd, &st) < 0 ? -errno : 0;
		if (rc == 0) {
			shmfs_region_told(fs, h->region, &st);
			shmfs_region_attr(fs, h->region, &st);
		}
	} else {
		rc = stat_ino(fs, ino, &st);
	}
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
	struct shmfs_region *r;
	struct stat st;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	switch (info.obj) {
	case SHMFS_OBJ_REGION:
		r = shmfs_region_get(fs, ino);
		if (!r) {
			reply_err(req, -ENOENT);
			return;
		}
		rc = shmfs_region_setattr(fs, r, attr, to_set, &st);
		shmfs_region_put(fs, r, 1);
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
		rc = shmfs_tree_stat(fs, &info, ino, &st);
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
	struct shmfs_region *r = NULL;
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
	rc = shmfs_region_unlink(fs, r);
	if (rc == 0)
		shmfs_audit_unlink(fs, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid, parent, name);
	shmfs_region_put(fs, r, 1);
	reply_err(req, rc);
	if (rc == 0)
		mem_release(fs);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info pi, npi;
	struct shmfs_region *r = NULL;
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
	rc = shmfs_region_rename(fs, r, npi.node, newname, flags);
out:
	shmfs_region_put(fs, r, 1);
	reply_err(req, rc);
}

/* ------------------------------------------------------------ files */

/* Region I/O bypasses the kernel's page cache of the FUSE file: the bytes
 * live in the backing file, where mappers change them at any moment, so a
 * cached copy would be stale. Where the kernel passes a region through to its
 * backing file (passthrough.c: tmpfs, that is normal pages; the kernel refuses
 * hugetlbfs), mmap of the FUSE file maps the real pages; read and write stay
 * in the daemon, which ends the region at its byte size and checks writes.
 * Elsewhere mmap of the FUSE file is refused (ENODEV): map the backing file
 * (user.shmfs.backing, libshmfs) instead. */
static void region_open_flags(fuse_req_t req, struct shmfs_fs *fs, struct shmfs_region *r,
			      int fd, struct fuse_file_info *fi)
{
	int id;

	fi->direct_io = 1;
	fi->keep_cache = 0;
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

static struct handle *handle_new(enum handle_kind kind)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h) {
		pthread_rwlockattr_t a;

		h->kind = kind;
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

static void handle_free(struct shmfs_fs *fs, struct handle *h)
{
	if (!h)
		return;
	if (h->map)
		munmap(h->map, h->map_len);
	pthread_rwlock_destroy(&h->map_lock);
	if (h->fd >= 0)
		close(h->fd);
	if (h->region)
		shmfs_region_put(fs, h->region, 1);
	free(h->buf.data);
	for (size_t i = 0; i < h->ent_cnt; i++)
		free(h->ents[i].name);
	free(h->ents);
	free(h);
}

static void handle_hold(struct handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
}

/* Drop a reference; the last one (the release, or a read that outlived it)
 * frees the handle, its mapping and its descriptor. */
static void handle_put(struct shmfs_fs *fs, struct handle *h)
{
	if (h && __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		handle_free(fs, h);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct shmfs_ino_info pi;
	struct fuse_entry_param e;
	struct shmfs_region *r;
	struct handle *h;
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
	h = handle_new(HANDLE_REGION);
	if (!h) {
		reply_err(req, -ENOMEM);
		return;
	}
	rc = shmfs_region_create(fs, pi.kind, pi.node, name, mode & 07777, ctx->uid, ctx->gid, ctx->pid,
				 &r, &fd);
	if (rc < 0) {
		free(h);
		reply_err(req, rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	rc = shmfs_region_stat(fs, r, &e.attr);
	if (rc < 0) {
		close(fd);
		shmfs_region_put(fs, r, 1);
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
	shmfs_region_hold(fs, r, 1);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) != 0) {
		shmfs_region_put(fs, r, 1);
		handle_free(fs, h);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info info;
	struct handle *h;
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
		h = handle_new(HANDLE_REGION);
		if (!h) {
			reply_err(req, -ENOMEM);
			return;
		}
		h->region = shmfs_region_get(fs, ino);
		if (!h->region) {
			free(h);
			reply_err(req, -ENOENT);
			return;
		}
		/* the kernel checked the caller's permission; writes go through a
		 * shared mapping, which needs the file open for reading too */
		rc = shmfs_region_open_backing(fs, h->region,
					       (fi->flags & O_ACCMODE) == O_RDONLY ? O_RDONLY : O_RDWR);
		if (rc < 0) {
			handle_free(fs, h);
			reply_err(req, rc == -ESTALE ? -ENOENT : rc);
			return;
		}
		h->fd = rc;
		region_open_flags(req, fs, h->region, h->fd, fi);
	} else {
		h = handle_new(HANDLE_CONTROL);
		if (!h) {
			reply_err(req, -ENOMEM);
			return;
		}
		h->info = info;
		if ((fi->flags & O_ACCMODE) != O_WRONLY) {
			rc = shmfs_control_render(fs, &info, &h->buf);
			if (rc < 0) {
				handle_free(fs, h);
				reply_err(req, rc);
				return;
			}
		}
		/* the snapshot is the content: no page cache, sizes may differ */
		fi->direct_io = 1;
		fi->nonseekable = 0;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, h);
}

/* Make h->map cover at least end bytes; called with map_lock held for
 * writing, so no reply is being sent from the mapping it replaces. */
static int map_cover(struct shmfs_fs *fs, struct handle *h, uint64_t end, uint64_t size)
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
static bool read_mapped(struct shmfs_fs *fs, fuse_req_t req, struct handle *h, size_t size,
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
static bool clamp_to_size(fuse_req_t req, struct handle *h, size_t *size, off_t off)
{
	uint64_t bytes;
	int rc = off < 0 ? -EINVAL : shmfs_region_size(fs_of(req), h->region, h->fd, &bytes);

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
static void read_copied(fuse_req_t req, struct handle *h, size_t size, off_t off)
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

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct handle *h = fh_of(fi);
	_cleanup_free_ char *buf = NULL;

	if (h->kind == HANDLE_CONTROL) {
		if (off < 0 || (size_t)off >= h->buf.len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		size = size < h->buf.len - (size_t)off ? size : h->buf.len - (size_t)off;
		/* reply from memory the handle does not own: the release may free
		 * the snapshot while fuse_reply_buf is still returning */
		buf = malloc(size);
		if (!buf) {
			reply_err(req, -ENOMEM);
			return;
		}
		memcpy(buf, h->buf.data + off, size);
		fuse_reply_buf(req, buf, size);
		return;
	}
	if (size > READ_MAX)
		size = READ_MAX;
	/* the reply frees req: fs is taken first */
	handle_hold(h);
	if (clamp_to_size(req, h, &size, off) && !read_mapped(fs, req, h, size, off))
		read_copied(req, h, size, off);
	handle_put(fs, h);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct handle *h = fh_of(fi);
	unsigned flags;
	int rc;

	if (h->kind == HANDLE_CONTROL) {
		rc = shmfs_control_write(fs, &h->info, fuse_req_ctx(req)->uid, fuse_req_ctx(req)->pid,
					 buf, size, off);
		if (rc < 0)
			reply_err(req, rc);
		else
			fuse_reply_write(req, size);
		return;
	}
	/* FUSE does not say whether the writer has CAP_FSETID: root is taken
	 * to have it, everyone else not (the kernel leaves the set-ID bits of a
	 * direct-I/O write to the filesystem) */
	flags = (fi->flags & O_APPEND ? SHMFS_WRITE_APPEND : 0) |
		(fuse_req_ctx(req)->uid != 0 ? SHMFS_WRITE_KILL_PRIV : 0);
	rc = shmfs_region_write(fs, h->region, h->fd, buf, size, off, flags);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	reply_err(req, 0); /* memory: nothing to flush */
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	handle_put(fs_of(req), fh_of(fi));
	reply_err(req, 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct handle *h = fh_of(fi);
	uint64_t end, size, page_sz;
	int rc = 0;

	if (h->kind != HANDLE_REGION) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
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
	rc = shmfs_region_size(fs, h->region, h->fd, &size);
	/* any byte range: the pages under the size exist already, and a range
	 * past it sizes the region to its end, as ftruncate would */
	if (rc == 0 && end > size && !(mode & FALLOC_FL_KEEP_SIZE))
		rc = shmfs_region_resize(fs, h->region, h->fd, end);
	else if (rc == 0 && end > (size + page_sz - 1) / page_sz * page_sz)
		rc = -EOPNOTSUPP; /* pages beyond the last one would be invisible to everyone */
	pthread_mutex_unlock(&h->region->op_lock);
	reply_err(req, rc);
}

/* ------------------------------------------------------------ directories */

static int snap_add(struct handle *h, size_t *cap, const char *name, uint64_t ino, mode_t type)
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

/* The listing is taken whole at opendir, so offsets stay valid however the
 * directory changes while it is read. */
static int snapshot(struct shmfs_fs *fs, uint64_t ino, struct handle *h)
{
	struct shmfs_ino_info info;
	size_t cap = 0;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	rc = snap_add(h, &cap, ".", ino, S_IFDIR);
	if (rc == 0)
		rc = snap_add(h, &cap, "..",
			      info.obj == SHMFS_OBJ_NODE ? SHMFS_INO_TYPE(info.kind) : SHMFS_INO_ROOT,
			      S_IFDIR);
	if (rc < 0)
		return rc;
	switch (info.obj) {
	case SHMFS_OBJ_ROOT:
		rc = snap_add(h, &cap, SHMFS_FILE_STATUS, SHMFS_INO_STATUS, S_IFREG);
		if (rc == 0)
			rc = snap_add(h, &cap, SHMFS_FILE_CONTROL, SHMFS_INO_CONTROL, S_IFREG);
		if (rc == 0)
			rc = snap_add(h, &cap, SHMFS_FILE_QUOTA, SHMFS_INO_QUOTA, S_IFREG);
		if (rc == 0 && fs->shared)
			rc = snap_add(h, &cap, SHMFS_SHARED_DIR, SHMFS_INO_SHARED, S_IFDIR);
		for (int k = SHMFS_PAGE_KIND_CNT - 1; rc == 0 && k >= 0; k--)
			if (fs->type[k].pt)
				rc = snap_add(h, &cap, fs->type[k].pt->name, SHMFS_INO_TYPE(k), S_IFDIR);
		return rc;
	case SHMFS_OBJ_TYPE:
		for (int n = 0; rc == 0 && n < SHMFS_NODE_MAX; n++) {
			char name[32];
			if (!shmfs_node_valid(fs, n))
				continue;
			snprintf(name, sizeof(name), "node%d", n);
			rc = snap_add(h, &cap, name, SHMFS_INO_NODE(info.kind, n, SHMFS_SUB_DIR), S_IFDIR);
		}
		return rc;
	case SHMFS_OBJ_NODE: {
		struct shmfs_region **v = NULL;
		size_t cnt = 0;

		if (shmfs_page_type_is_huge(fs->type[info.kind].pt)) {
			rc = snap_add(h, &cap, SHMFS_FILE_NR_PAGES,
				      SHMFS_INO_NODE(info.kind, info.node, SHMFS_SUB_NR_PAGES), S_IFREG);
			if (rc == 0)
				rc = snap_add(h, &cap, SHMFS_FILE_FREE_PAGES,
					      SHMFS_INO_NODE(info.kind, info.node, SHMFS_SUB_FREE_PAGES),
					      S_IFREG);
			if (rc < 0)
				return rc;
		}
		rc = shmfs_table_list(fs, info.kind, info.node, &v, &cnt);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < cnt; i++) {
			if (rc == 0) {
				pthread_mutex_lock(&fs->lock);
				rc = snap_add(h, &cap, v[i]->name, v[i]->ino, S_IFREG);
				pthread_mutex_unlock(&fs->lock);
			}
			shmfs_region_put(fs, v[i], 1);
		}
		free(v);
		return rc;
	}
	case SHMFS_OBJ_NONE:
		return -ENOENT;
	default:
		return -ENOTDIR;
	}
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shmfs_fs *fs = fs_of(req);
	struct handle *h = handle_new(HANDLE_DIR);
	int rc;

	if (!h) {
		reply_err(req, -ENOMEM);
		return;
	}
	rc = snapshot(fs, ino, h);
	if (rc < 0) {
		handle_free(fs, h);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, h);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct shmfs_fs *fs = fs_of(req);
	struct handle *h = fh_of(fi);
	_cleanup_free_ char *buf = NULL;
	/* the regions whose entries this reply carries, each held once: the
	 * kernel counts them as lookups, unless the reply never reaches it */
	_cleanup_free_ struct shmfs_region **held = NULL;
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
			struct shmfs_region *r = NULL;
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
				r = shmfs_region_get(fs, d->ino);
				if (!r || shmfs_region_stat(fs, r, &e.attr) < 0) {
					shmfs_region_put(fs, r, 1);
					continue; /* gone since opendir */
				}
				e.ino = d->ino;
			} else {
				if (shmfs_tree_stat(fs, &info, d->ino, &e.attr) < 0)
					continue;
				e.ino = d->ino;
			}
			e.generation = 1;
			ttl_for(&info, &e);
			need = fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e,
						      (off_t)i + 1);
			/* an entry that fits counts as a lookup: keep the hold */
			if (need > size - used)
				shmfs_region_put(fs, r, 1);
			else if (r)
				held[held_cnt++] = r;
		}
		if (need > size - used)
			break;
		used += need;
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		for (size_t i = 0; i < held_cnt; i++)
			shmfs_region_put(fs, held[i], 1);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	handle_free(fs_of(req), fh_of(fi));
	reply_err(req, 0);
}

/* ------------------------------------------------------------ statfs, xattr */

/* The pool of page type K on NODE (-1: every node) in pages of that type.
 * Normal pages have no pool: the tmpfs's room stands in. */
static int statfs_pool(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, uint64_t *ret_total,
		       uint64_t *ret_free)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	uint64_t total = 0, free_pages = 0;

	if (!shmfs_page_type_is_huge(pt))
		return shmfs_normal_pool(fs, node, ret_total, ret_free);
	for (int n = 0; n < SHMFS_NODE_MAX; n++) {
		struct shmfs_pool_stat ps;
		if (!shmfs_node_valid(fs, n) || (node >= 0 && n != node))
			continue;
		if (shmfs_pool_stat(pt, n, &ps) == 0) {
			total += ps.total;
			free_pages += ps.free;
		}
	}
	*ret_total = total;
	*ret_free = free_pages;
	return 0;
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct shmfs_fs *fs = fs_of(req);
	struct shmfs_ino_info info;
	struct statvfs sv;
	enum shmfs_page_kind k = SHMFS_PAGE_NORMAL;
	uint64_t total = 0, free_pages = 0;
	int node = -1, rc;

	memset(&sv, 0, sizeof(sv));
	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_REGION) {
		struct shmfs_region *r = shmfs_region_get(fs, ino);
		k = info.kind;
		if (r) {
			pthread_mutex_lock(&fs->lock);
			node = r->meta.node;
			pthread_mutex_unlock(&fs->lock);
			shmfs_region_put(fs, r, 1);
		}
	} else if (info.obj == SHMFS_OBJ_TYPE || info.obj == SHMFS_OBJ_NODE ||
		   info.obj == SHMFS_OBJ_NR_PAGES || info.obj == SHMFS_OBJ_FREE_PAGES) {
		k = info.kind;
		node = info.node;
	} else {
		/* the root: every type's pool added up, in bytes counted in base
		 * pages, so `df -h` of the mount says how much memory shmfs has
		 * and how much of it is used */
		uint64_t bsize = (uint64_t)getpagesize();

		for (int i = 0; i < SHMFS_PAGE_KIND_CNT; i++) {
			uint64_t t, f;

			if (!fs->type[i].pt)
				continue;
			rc = statfs_pool(fs, (enum shmfs_page_kind)i, -1, &t, &f);
			if (rc < 0) {
				reply_err(req, rc);
				return;
			}
			total += t * (fs->type[i].pt->page_sz / bsize);
			free_pages += f * (fs->type[i].pt->page_sz / bsize);
		}
		sv.f_bsize = sv.f_frsize = (unsigned long)bsize;
		goto out;
	}
	if (!fs->type[k].pt) {
		reply_err(req, -ENOENT);
		return;
	}
	rc = statfs_pool(fs, k, node, &total, &free_pages);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	sv.f_bsize = sv.f_frsize = (unsigned long)fs->type[k].pt->page_sz;
out:
	sv.f_blocks = total;
	sv.f_bfree = sv.f_bavail = free_pages;
	pthread_mutex_lock(&fs->lock);
	sv.f_files = fs->region_cnt + 1000000;
	sv.f_ffree = sv.f_favail = 1000000;
	pthread_mutex_unlock(&fs->lock);
	sv.f_namemax = SHMFS_NAME_MAX;
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

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *val = NULL;
	size_t len = 0;
	int rc = shmfs_xattr_get_for(fs_of(req), ino, fuse_req_ctx(req), name, &val, &len);

	reply_xattr_data(req, rc, val, len, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *val = NULL;
	size_t len = 0;
	int rc = shmfs_xattr_list(fs_of(req), ino, &val, &len);

	reply_xattr_data(req, rc, val, len, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	reply_err(req, shmfs_xattr_set(fs_of(req), ino, ctx, name, value, size, flags));
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_err(req, shmfs_xattr_remove(fs_of(req), ino, fuse_req_ctx(req), name));
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
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.fallocate = op_fallocate,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};

/* ------------------------------------------------------------ notifications */

struct notify_item {
	struct notify_item *next;
	uint64_t parent; /* 0: attributes of ino */
	uint64_t ino;
	char name[SHMFS_NAME_MAX + 1];
};

static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notify_cond = PTHREAD_COND_INITIALIZER;
static struct notify_item *notify_head, **notify_tail = &notify_head;
static bool notify_stopping;
static pthread_t notify_thread;
static bool notify_running;

static void notify_push(uint64_t parent, uint64_t ino, const char *name)
{
	struct notify_item *it = calloc(1, sizeof(*it));

	if (!it)
		return; /* the cache times out eventually */
	it->parent = parent;
	it->ino = ino;
	if (name)
		snprintf(it->name, sizeof(it->name), "%s", name);
	pthread_mutex_lock(&notify_lock);
	*notify_tail = it;
	notify_tail = &it->next;
	pthread_cond_signal(&notify_cond);
	pthread_mutex_unlock(&notify_lock);
}

void shmfs_notify_inval_entry(struct shmfs_fs *fs, uint64_t parent, const char *name)
{
	notify_push(parent, 0, name);
}

void shmfs_notify_inval_inode(struct shmfs_fs *fs, uint64_t ino)
{
	notify_push(0, ino, NULL);
}

static void *notify_main(void *arg)
{
	struct shmfs_fs *fs = arg;

	pthread_mutex_lock(&notify_lock);
	for (;;) {
		struct notify_item *it;

		while (!notify_head && !notify_stopping)
			pthread_cond_wait(&notify_cond, &notify_lock);
		if (notify_stopping)
			break;
		it = notify_head;
		notify_head = it->next;
		if (!notify_head)
			notify_tail = &notify_head;
		pthread_mutex_unlock(&notify_lock);
		/* -ENOENT only means the kernel had nothing cached */
		if (it->parent)
			fuse_lowlevel_notify_inval_entry(fs->se, it->parent, it->name, strlen(it->name));
		else
			fuse_lowlevel_notify_inval_inode(fs->se, it->ino, -1, 0);
		free(it);
		pthread_mutex_lock(&notify_lock);
	}
	while (notify_head) {
		struct notify_item *it = notify_head;
		notify_head = it->next;
		free(it);
	}
	notify_tail = &notify_head;
	pthread_mutex_unlock(&notify_lock);
	return NULL;
}

int shmfs_notify_start(struct shmfs_fs *fs)
{
	int r = pthread_create(&notify_thread, NULL, notify_main, fs);

	if (r)
		return -r;
	notify_running = true;
	return 0;
}

void shmfs_notify_stop(struct shmfs_fs *fs)
{
	if (!notify_running)
		return;
	pthread_mutex_lock(&notify_lock);
	notify_stopping = true;
	pthread_cond_signal(&notify_cond);
	pthread_mutex_unlock(&notify_lock);
	pthread_join(notify_thread, NULL);
	notify_running = false;
}
