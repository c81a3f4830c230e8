/* region.c - a region's life as a file of the backing store: create it so
 * that it is never visible half-made, size it (pages placed by place.c,
 * within the owner's quota), change its mode, owner and times, write into it
 * (through a mapping: hugetlbfs has no write()), unlink it, and commit new
 * metadata. Every change either completes or leaves the region and the pool
 * exactly as they were. Renames are rename.c's, attributes attr.c's. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"
#include "xattr_names.h"


static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int shmfsd_region_open_backing(struct shmfs_fs *fs, struct shmfsd_region *r, int flags)
{
	struct stat st;
	int fd, err;

	pthread_mutex_lock(&fs->lock);
	if (!r->linked) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOENT;
	}
	/* a FIFO or device put in its place behind our back is not opened */
	if (fstatat(fs->type[r->kind].dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!S_ISREG(st.st_mode) || st.st_ino != r->backing_ino)) {
		pthread_mutex_unlock(&fs->lock);
		return -ESTALE;
	}
	fd = openat(fs->type[r->kind].dirfd, r->name, flags | O_CLOEXEC | O_NOFOLLOW);
	err = errno;
	pthread_mutex_unlock(&fs->lock);
	if (fd < 0)
		return -err;
	/* replaced behind our back (fd_shmem recreated the name): not ours */
	if (fstat(fd, &st) < 0 || st.st_ino != r->backing_ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* ------------------------------------------------------------ setattr
 *
 * Only a size change needs the backing file open for writing. chmod, chown
 * and utimes need ownership (or CAP_FOWNER), never write access, so they act
 * on an O_PATH descriptor: a daemon that may not open the file for writing
 * (not root, or without CAP_DAC_OVERRIDE) can still make a 0444 region
 * writable again. fchmod() and futimens() refuse O_PATH descriptors; the
 * descriptor's /proc/self/fd link reaches the same inode without a second
 * path lookup that a rename could race. */

static int fd_path(int fd, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "/proc/self/fd/%d", fd);

	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

static int apply_times(const char *path, const struct stat *attr, int to_set)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	return utimensat(AT_FDCWD, path, ts, 0) < 0 ? -errno : 0;
}

/* A change of r by the daemon, whose reply gives the kernel the new
 * attributes: the watch leaves r's events to its end instead of telling the
 * kernel to drop attributes the reply is about to give it. At the end, if
 * anything happened meanwhile, r is looked at once as an event would (a
 * change by another program during ours, or ours failing half-way). */
static void change_begin(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	pthread_mutex_lock(&fs->lock);
	r->changing++;
	pthread_mutex_unlock(&fs->lock);
}

static void change_end(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	char name[SHMFS_NAME_MAX + 1];
	bool recheck = false;

	pthread_mutex_lock(&fs->lock);
	if (--r->changing == 0 && r->change_seen) {
		r->change_seen = false;
		recheck = r->linked;
		memcpy(name, r->name, sizeof(name));
	}
	pthread_mutex_unlock(&fs->lock);
	if (recheck)
		shmfs_watch_reconcile(fs, r->kind, name);
}

static int setattr_do(struct shmfs_fs *fs, struct shmfsd_region *r, const struct stat *attr,
		      int to_set, struct stat *ret)
{
	bool sizing = to_set & FUSE_SET_ATTR_SIZE;
	_cleanup_close_ int fd = -1;
	char path[64];
	int rc;

	if (sizing && attr->st_size < 0)
		return -EINVAL;
	fd = shmfsd_region_open_backing(fs, r, sizing ? O_RDWR : O_PATH);
	if (fd < 0)
		return fd;
	rc = fd_path(fd, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (sizing) {
		pthread_mutex_lock(&r->op_lock);
		rc = shmfsd_region_resize(fs, r, fd, (uint64_t)attr->st_size);
		pthread_mutex_unlock(&r->op_lock);
		if (rc < 0)
			return rc;
	}
	if ((to_set & FUSE_SET_ATTR_MODE) && fchmodat(AT_FDCWD, path, attr->st_mode & 07777, 0) < 0)
		return -errno;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		/* the pages' charge moves with the owner (EDQUOT when it cannot) */
		rc = shmfs_quota_chown(fs, r, fd, (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
				       (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1);
		if (rc < 0)
			return rc;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		rc = apply_times(path, attr, to_set);
		if (rc < 0)
			return rc;
	}
	if (fstat(fd, ret) < 0)
		return -errno;
	shmfsd_region_told(fs, r, ret);
	shmfsd_region_attr(fs, r, ret);
	return 0;
}

int shmfsd_region_setattr(struct shmfs_fs *fs, struct shmfsd_region *r, const struct stat *attr,
			  int to_set, struct stat *ret)
{
	int rc;

	change_begin(fs, r);
	rc = setattr_do(fs, r, attr, to_set, ret);
	change_end(fs, r);
	return rc;
}

/* ------------------------------------------------------------ size */

/* Zero [from, to) of the page holding from: bytes past the size that a
 * mapper may have written, about to become part of the region. */
static int zero_tail(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t from,
		     uint64_t to)
{
	uint64_t page_sz = shmfs_page_sz(fs, r->kind), start = from / page_sz * page_sz;
	char *map;
	int rc;

	if (to > start + page_sz)
		to = start + page_sz;
	if (to <= from)
		return 0;
	rc = shmfs_place_fill_holes(fs, r, fd, start, start + page_sz);
	if (rc < 0)
		return rc;
	map = mmap(NULL, page_sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (map == MAP_FAILED)
		return -errno;
	rc = shmfs_guarded_set(map + (from - start), 0, to - from);
	munmap(map, page_sz);
	return rc;
}

/* Record the byte size (and the one before it, which stays the size while
 * the backing file still has its pages: a daemon killed before resizing the
 * backing file). An unlinked region's size is only kept in memory: its
 * metadata file is gone for good. Nothing is written when the record already
 * gives prev for the backing size now and size for the backing size after
 * (whole pages, or no record of a byte size at all: the size is the backing
 * file's): a daemon killed at any point between shows the truth either way.
 * Caller holds r->op_lock (linked stable). */
static int save_size(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t size, uint64_t prev,
		     uint64_t backing_now, uint64_t backing_after)
{
	uint64_t page_sz = shmfs_page_sz(fs, r->kind);
	struct shmfs_meta m;
	bool linked;
	int rc;

	pthread_mutex_lock(&fs->lock);
	linked = r->linked;
	if (linked && shmfs_meta_byte_size(&r->meta, backing_now, page_sz) == prev &&
	    shmfs_meta_byte_size(&r->meta, backing_after, page_sz) == size) {
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	if (!linked) {
		r->meta.has_size = true;
		r->meta.size = size;
		r->meta.size_prev = prev;
	}
	rc = linked ? shmfs_meta_copy(&r->meta, &m) : 0;
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0 || !linked)
		return rc;
	m.known = true;
	m.has_size = true;
	m.size = size;
	m.size_prev = prev;
	return shmfsd_region_meta_commit(fs, r, &m);
}

int shmfsd_region_resize(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t size)
{
	uint64_t page_sz = shmfs_page_sz(fs, r->kind);
	__attribute__((cleanup(shmfs_quota_release))) struct shmfs_quota_hold hold = { 0 };
	struct shmfs_policy pol = { 0 };
	uint64_t backing, old, want;
	struct stat st;
	int home, rc;

	/* the backing file holds whole pages: that must fit an off_t too */
	if (size > (uint64_t)INT64_MAX - page_sz)
		return -EFBIG;
	if (fstat(fd, &st) < 0)
		return -errno;
	backing = (uint64_t)st.st_size;
	want = round_up(size, page_sz);
	pthread_mutex_lock(&fs->lock);
	old = shmfs_meta_byte_size(&r->meta, backing, page_sz);
	home = r->meta.node;
	if (shmfs_policy_parse(r->meta.policy, &pol) < 0)
		pol.cnt = 0;
	pthread_mutex_unlock(&fs->lock);
	if (size == old && want == backing)
		return 0;
	if (want < backing) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t cnt = 0;

		rc = shmfsd_region_mappers(fs, r, &pids, &cnt);
		if (rc < 0)
			return rc;
		/* taking pages from under a mapping would SIGBUS it */
		if (cnt)
			return -EBUSY;
	} else if (want > backing) {
		/* within the owner's quota, held until the pages are there */
		rc = shmfs_quota_charge(fs, r, fd, want, &hold);
		if (rc < 0)
			return rc;
	}
	/* what the last page holds past the old size becomes region bytes */
	if (size > old && old % page_sz && backing % page_sz == 0 && old < backing) {
		rc = zero_tail(fs, r, fd, old, size);
		if (rc < 0)
			return rc;
	}
	/* the size first: until the backing file has its new pages, old is
	 * still what a restarted daemon shows (shmfs_meta_byte_size) */
	rc = save_size(fs, r, size, old, backing, want);
	if (rc < 0)
		return rc;
	if (want == backing)
		return 0;
	if (want < backing) {
		rc = ftruncate(fd, (off_t)want) < 0 ? -errno : 0;
	} else {
		/* a bind policy always means the home node (a migration moves both) */
		uint64_t nodes = 0, moves = 0;
		bool have_moves;
		struct stat after;

		if (pol.cnt == 1 && pol.pages[0] == UINT64_MAX)
			pol.cnt = 0;
		/* counted before the pages are taken: the stamp of the record,
		 * which then also speaks for the pages there before (a grow adds
		 * to their record) only if theirs still held */
		have_moves = shmfs_page_moves(fs, 0, &moves) == 0 &&
			     (backing == 0 || shmfs_place_stamp_holds(fs, r, moves, &st));
		rc = shmfs_place_grow(fs, fd, page_sz, shmfs_page_type_is_huge(fs->type[r->kind].pt), backing,
			  want, &pol, home, &nodes, &after);
		if (rc == 0) {
			shmfs_place_record(fs, r, nodes, backing != 0);
			if (have_moves)
				shmfs_place_stamp(fs, r, moves, &after);
		}
	}
	if (rc < 0 && save_size(fs, r, old, old, backing, backing) < 0)
		SHMFS_LOG("Failed to record a region's size after a failed resize (it shows %" PRIu64
			  " bytes anyway)", old);
	return rc;
}

/* ------------------------------------------------------------ write */

/* What every Linux filesystem does before a write by a process without
 * CAP_FSETID (should_remove_suid): drop set-user-ID, and set-group-ID when
 * group execute is set (without it the bit means mandatory locking). */
static int kill_priv(int fd)
{
	struct stat st;
	mode_t mode;

	if (fstat(fd, &st) < 0)
		return -errno;
	mode = st.st_mode & 07777;
	if (mode & S_ISUID)
		mode &= ~(mode_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(mode_t)S_ISGID;
	if (mode == (st.st_mode & 07777))
		return 0;
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

int shmfsd_region_write(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, const void *buf,
			size_t len, off_t off, unsigned flags)
{
	uint64_t page_sz = shmfs_page_sz(fs, r->kind);
	uint64_t end, start, size;
	char *map;
	int rc = 0;

	if (len == 0)
		return 0;
	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&r->op_lock);
	if (flags & SHMFS_WRITE_KILL_PRIV) {
		rc = kill_priv(fd);
		if (rc < 0)
			goto out;
	}
	rc = shmfsd_region_size(fs, r, fd, &size);
	if (rc < 0)
		goto out;
	/* O_APPEND: at the byte end as it is now, whatever offset the kernel
	 * computed from the size it last heard */
	if (flags & SHMFS_WRITE_APPEND)
		off = (off_t)size;
	end = (uint64_t)off + len;
	if (end < (uint64_t)off || end > (uint64_t)INT64_MAX - page_sz) {
		rc = -EFBIG;
		goto out;
	}
	/* writing past the end grows the region (pages as needed) */
	if (end > size) {
		rc = shmfsd_region_resize(fs, r, fd, end);
		if (rc < 0)
			goto out;
	}
	if (!shmfs_page_type_is_huge(fs->type[r->kind].pt)) {
		size_t done = 0;
		while (done < len) {
			ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				goto out;
			}
			done += (size_t)n;
		}
		goto out;
	}
	/* hugetlbfs has no write(): copy through a mapping of the pages touched */
	start = (uint64_t)off / page_sz * page_sz;
	rc = shmfs_place_fill_holes(fs, r, fd, start, round_up(end, page_sz));
	if (rc < 0)
		goto out;
	map = mmap(NULL, round_up(end, page_sz) - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)start);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	rc = shmfs_guarded_copy(map + ((uint64_t)off - start), buf, len);
	munmap(map, round_up(end, page_sz) - start);
out:
	pthread_mutex_unlock(&r->op_lock);
	return rc < 0 ? rc : (int)len;
}

/* ------------------------------------------------------------ create */

int shmfsd_region_create(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, const char *name,
			 mode_t mode, uid_t uid, gid_t gid, pid_t pid,
			 struct shmfsd_region **ret_region, int *ret_fd)
{
	struct shmfs_type_state *ts = &fs->type[k];
	char tmp[64];
	uint64_t rnd;
	struct shmfsd_region *r;
	struct stat st;
	_cleanup_close_ int fd = -1;
	int rc;

	rc = shmfs_name_check(name);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	r = shmfs_table_find_locked(fs, k, name);
	pthread_mutex_unlock(&fs->lock);
	if (r)
		return -EEXIST;

	/* Made under a hidden name, owned and described, then renamed into place:
	 * a daemon killed before the rename leaves only a temporary that the next
	 * start removes. */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)random() << 32 ^ (uint64_t)random();
	snprintf(tmp, sizeof(tmp), SHMFS_TMP_PREFIX "%016" PRIx64, rnd);
	fd = openat(ts->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
	if (fd < 0)
		return -errno;
	if (fs->is_root && fchown(fd, uid, gid) < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	/* the daemon's umask must not narrow what the caller asked for (nor
	 * fchown drop its set-ID bits) */
	if ((st.st_mode & 07777) != (mode & 07777) && (fchmod(fd, mode & 07777) < 0 || fstat(fd, &st) < 0)) {
		rc = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_ino >> SHMFS_INO_REGION_SHIFT) {
		rc = -EOVERFLOW;
		goto fail;
	}
	r = shmfsd_region_new(k, st.st_ino, name);
	if (!r) {
		rc = -ENOMEM;
		goto fail;
	}
	r->meta.known = true;
	r->meta.node = node;
	snprintf(r->meta.policy, sizeof(r->meta.policy), "bind:%d", node);
	/* FUSE names the calling thread; the creator is its process */
	if (pid > 0 && shmfs_proc_tgid(pid, &r->meta.creator_pid) < 0)
		r->meta.creator_pid = pid;
	if (r->meta.creator_pid > 0 &&
	    shmfs_proc_start_time(r->meta.creator_pid, &r->meta.creator_start) < 0)
		r->meta.creator_start = 0;
	clock_gettime(CLOCK_REALTIME, &r->meta.created);
	rc = shmfs_meta_save(fs, k, st.st_ino, &r->meta);
	if (rc < 0)
		goto fail_region;

	pthread_mutex_lock(&fs->lock);
	if (shmfs_table_find_locked(fs, k, name)) {
		pthread_mutex_unlock(&fs->lock);
		rc = -EEXIST;
		goto fail_meta;
	}
	if (renameat2(ts->dirfd, tmp, ts->dirfd, name, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		pthread_mutex_unlock(&fs->lock);
		goto fail_meta;
	}
	r = shmfs_table_insert_locked(fs, r);
	if (!r) {
		/* cannot happen for a new inode; refuse rather than guess */
		unlinkat(ts->dirfd, name, 0);
		pthread_mutex_unlock(&fs->lock);
		shmfs_meta_remove(fs, k, st.st_ino);
		return -EIO;
	}
	r->refs++; /* the caller's hold */
	/* the rename changed ctime; the create reply gives the kernel these */
	if (fstat(fd, &st) == 0)
		r->told_ctime = st.st_ctim;
	pthread_mutex_unlock(&fs->lock);
	shmfs_audit(fs, uid, pid, "create %s/node%d/%s mode %04o", ts->pt->name, node, name,
		    (unsigned)(mode & 07777));
	*ret_region = r;
	*ret_fd = TAKE_FD(fd);
	return 0;

fail_meta:
	shmfs_meta_remove(fs, k, st.st_ino);
fail_region:
	shmfs_meta_free(&r->meta);
	pthread_mutex_destroy(&r->op_lock);
	free(r);
fail:
	unlinkat(ts->dirfd, tmp, 0);
	return rc;
}

/* ------------------------------------------------------------ unlink */

/* An O_PATH descriptor of r's backing file, taken before its name goes, so
 * files still open on the region go on answering fstat() (the kernel asks
 * without the open file). -1 when the name holds another inode now (replaced
 * behind our back). Caller holds fs->lock. */
int shmfsd_region_open_gone_locked(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	struct stat st;
	int fd = openat(fs->type[r->kind].dirfd, r->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_ino != r->backing_ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* r's name has gone from the backing store (unlink, or a rename over it):
 * take it out of the tables, keeping gone for its open files. Caller holds
 * fs->lock; the metadata is removed after (shmfs_meta_remove). */
void shmfsd_region_gone_locked(struct shmfs_fs *fs, struct shmfsd_region *r, int gone)
{
	if (r->gone_fd >= 0)
		close(r->gone_fd);
	r->gone_fd = gone;
	shmfs_table_unlink_locked(fs, r);
}

int shmfsd_region_unlink(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	ino_t bino = r->backing_ino;
	int rc = 0;

	pthread_mutex_lock(&r->op_lock);
	pthread_mutex_lock(&fs->lock);
	if (!r->linked) {
		rc = -ENOENT;
	} else {
		int gone = shmfsd_region_open_gone_locked(fs, r);

		if (unlinkat(fs->type[r->kind].dirfd, r->name, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			if (gone >= 0)
				close(gone);
		} else {
			shmfsd_region_gone_locked(fs, r, gone);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_unlock(&r->op_lock);
	/* after the name: a crash in between leaves stale metadata, which the next
	 * start drops, never a region without its metadata */
	if (rc == 0)
		shmfs_meta_remove(fs, r->kind, bino);
	return rc;
}

/* ------------------------------------------------------------ metadata */

/* Persist new metadata for r, then publish it: a failed save changes
 * nothing that readers see. Takes ownership of *m either way. The caller
 * holds r->op_lock so edits of one region do not interleave. */
int shmfsd_region_meta_commit(struct shmfs_fs *fs, struct shmfsd_region *r, struct shmfs_meta *m)
{
	int rc = shmfs_meta_save(fs, r->kind, r->backing_ino, m);

	if (rc < 0) {
		shmfs_meta_free(m);
		return rc;
	}
	pthread_mutex_lock(&fs->lock);
	shmfs_meta_free(&r->meta);
	r->meta = *m;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}
