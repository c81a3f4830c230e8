/* passthrough.c - region files served by the kernel straight from their
 * backing files (FUSE passthrough, Linux 6.9+). A passed-through file maps
 * the backing file's own pages on mmap, and, unless FOPEN_DIRECT_IO is kept
 * (the kernel lets it win for read and write), reads them in the kernel: one
 * copy, no round trip through the daemon. The kernel refuses hugetlbfs
 * backing files (hugetlbfs sets the deepest stacking depth so nothing stacks
 * on it), so this serves normal regions; huge ones stay with direct I/O
 * through the daemon, and are not even offered (no ioctl, no log line).
 * Registering needs CAP_SYS_ADMIN: for a non-root daemon nothing is asked.
 *
 * Two ways, chosen at build time (meson: SHMFS_LIBFUSE_PASSTHROUGH):
 *   - libfuse >= 3.16 has its own API: FUSE_CAP_PASSTHROUGH asked in init
 *     with a stacking depth of one (shmfs stays stackable under overlayfs),
 *     fuse_passthrough_open() registers a backing file, and fi->backing_id
 *     makes libfuse's open or create reply carry FOPEN_PASSTHROUGH;
 *   - older libfuse (Debian 12 has 3.14) cannot ask for it: the daemon talks
 *     to /dev/fuse through libfuse's custom I/O hooks and patches the INIT
 *     reply (FUSE_PASSTHROUGH, max_stack_depth) and the open or create reply
 *     (FOPEN_PASSTHROUGH and the backing id, registered with
 *     FUSE_DEV_IOC_BACKING_OPEN) itself.
 * Both close a backing id with the FUSE_DEV_IOC_BACKING_CLOSE ioctl: a
 * region is freed outside any request, and libfuse's close wants one. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/fuse.h>
#include <linux/magic.h>

#include "daemon.h"

/* The parts of the kernel's FUSE ABI (7.40) that Debian 12's headers lack. */
#define PT_FLAGS2_PASSTHROUGH (1U << (37 - 32)) /* FUSE_PASSTHROUGH, in flags2 */
#define PT_FOPEN_PASSTHROUGH (1U << 7)
#define PT_STACK_DEPTH 1

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)


/* hugetlbfs files cannot back a FUSE file: do not ask */
static bool backing_ok(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type != HUGETLBFS_MAGIC;
}

#if SHMFS_LIBFUSE_PASSTHROUGH
/* ------------------------------------------------ libfuse >= 3.16: its API */

int shmfs_passthrough_setup(struct shmfs_fs *fs)
{
	fs->passthrough.dev_fd = fuse_session_fd(fs->se);
	return 0;
}

void shmfs_passthrough_init(struct shmfs_fs *fs, struct fuse_conn_info *conn)
{
	/* the kernel takes passthrough only without writeback caching */
	if (geteuid() != 0 || !(conn->capable & FUSE_CAP_PASSTHROUGH) ||
	    (conn->want & FUSE_CAP_WRITEBACK_CACHE))
		return;
	conn->want |= FUSE_CAP_PASSTHROUGH;
	/* libfuse adds the FUSE layer itself: the kernel gets PT_STACK_DEPTH */
	conn->max_backing_stack_depth = PT_STACK_DEPTH - 1;
	atomic_store(&fs->passthrough.enabled, true);
}

int shmfs_passthrough_open(fuse_req_t req, int backing_fd)
{
	struct shmfs_fs *fs = fuse_req_userdata(req);
	int id;

	if (!atomic_load(&fs->passthrough.enabled))
		return -EOPNOTSUPP;
	if (!backing_ok(backing_fd))
		return -ELOOP;
	/* 0 and errno on failure (libfuse logs it too) */
	errno = 0;
	id = fuse_passthrough_open(req, backing_fd);
	return id > 0 ? id : -(errno ? errno : EIO);
}

void shmfs_passthrough_arm(struct fuse_file_info *fi, int id, bool keep_direct_io)
{
	fi->backing_id = id;
	fi->direct_io = keep_direct_io;
}

#else
/* ------------------------------------------------ older libfuse: patch replies */

/* fuse_init_out up to max_stack_depth, which follows what libfuse fills */
struct pt_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
};

/* fuse_open_out, whose padding became backing_id */
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* The open or create reply this thread sends next: fuse_reply_open and
 * fuse_reply_create write from the calling thread. */
static __thread struct {
	bool armed;
	bool keep_direct_io;
	int32_t backing_id;
} pending;

/* userdata: what the session was made with, the daemon's struct shmfs_fs */
static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	struct shmfs_fs *fs = userdata;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;
	const struct fuse_init_in *init = (const void *)(in + 1);

	if (n >= (ssize_t)(sizeof(*in) + sizeof(*init)) && in->opcode == FUSE_INIT &&
	    (init->flags & FUSE_INIT_EXT) && (init->flags2 & PT_FLAGS2_PASSTHROUGH))
		atomic_store(&fs->passthrough.init_unique, in->unique);
	return n;
}

static void patch_init(struct shmfs_fs *fs, struct iovec *iov, int count)
{
	struct pt_init_out *out;

	if (count != 2 || iov[1].iov_len < sizeof(*out))
		return;
	out = iov[1].iov_base;
	/* the kernel takes passthrough only without writeback caching */
	if (out->flags & FUSE_WRITEBACK_CACHE)
		return;
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= PT_FLAGS2_PASSTHROUGH;
	out->max_stack_depth = PT_STACK_DEPTH;
	atomic_store(&fs->passthrough.enabled, true);
}

static void patch_open(struct iovec *iov, int count)
{
	struct pt_open_out *out;
	size_t len;

	if (count != 2)
		return;
	/* an open reply is an open_out, a create reply an entry_out and one */
	len = iov[1].iov_len;
	if (len != sizeof(*out) && len != sizeof(struct fuse_entry_out) + sizeof(*out))
		return;
	out = (void *)((char *)iov[1].iov_base + len - sizeof(*out));
	out->open_flags |= PT_FOPEN_PASSTHROUGH;
	if (!pending.keep_direct_io)
		out->open_flags &= ~FOPEN_DIRECT_IO;
	out->backing_id = pending.backing_id;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct shmfs_fs *fs = userdata;
	const struct fuse_out_header *hdr = iov[0].iov_base;
	uint64_t init = atomic_load(&fs->passthrough.init_unique);

	if (init && hdr->unique == init) {
		atomic_store(&fs->passthrough.init_unique, 0);
		if (hdr->error == 0)
			patch_init(fs, iov, count);
	} else if (pending.armed && hdr->error == 0) {
		patch_open(iov, count);
	}
	pending.armed = false;
	return writev(fd, iov, count);
}

int shmfs_passthrough_setup(struct shmfs_fs *fs)
{
	static const struct fuse_custom_io io = {
		.read = pt_read,
		.writev = pt_writev,
	};
	struct fuse_session *se = fs->se;
	int fd = fuse_session_fd(se);

	if (geteuid() != 0 || fd < 0)
		return 0;
	fs->passthrough.dev_fd = fd;
	return fuse_session_custom_io(se, &io, fd);
}

void shmfs_passthrough_init(struct shmfs_fs *fs, struct fuse_conn_info *conn)
{
	(void)conn; /* negotiated in the INIT reply (patch_init) */
}

int shmfs_passthrough_open(fuse_req_t req, int backing_fd)
{
	struct shmfs_fs *fs = fuse_req_userdata(req);
	struct pt_backing_map map = { .fd = backing_fd };
	int id;

	(void)req;
	if (!atomic_load(&fs->passthrough.enabled))
		return -EOPNOTSUPP;
	if (!backing_ok(backing_fd))
		return -ELOOP;
	id = ioctl(fs->passthrough.dev_fd, PT_IOC_BACKING_OPEN, &map);
	return id < 0 ? -errno : id;
}

void shmfs_passthrough_arm(struct fuse_file_info *fi, int id, bool keep_direct_io)
{
	(void)fi; /* the reply is patched on its way out (patch_open) */
	pending.armed = true;
	pending.keep_direct_io = keep_direct_io;
	pending.backing_id = id;
}
#endif

void shmfs_passthrough_stop(struct shmfs_fs *fs)
{
	atomic_store(&fs->passthrough.enabled, false);
	fs->passthrough.dev_fd = -1;
}

void shmfs_passthrough_close(struct shmfs_fs *fs, int id)
{
	uint32_t v = (uint32_t)id;

	if (id > 0 && fs->passthrough.dev_fd >= 0)
		ioctl(fs->passthrough.dev_fd, PT_IOC_BACKING_CLOSE, &v);
}
