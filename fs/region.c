/* region.c - regions as files of the backing store: create one so that it is
 * never visible half-made, size it with pages taken at once from its node's
 * pool and verified there, change its mode, owner and times, write into it
 * (through a mapping: hugetlbfs has no write()), unlink, rename (over another
 * region too: that one goes exactly as an unlink would take it), and migrate
 * its pages to another node. Also what the kernel knows about a region: the
 * nodes its pages sit on and the processes that map it. Every change either
 * completes or leaves the region and the pool exactly as they were. */
#include "shmfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numaif.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "pool.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

#define MOVE_PAGES_BATCH 1024

uint64_t shmfs_page_sz(const struct shmfs_fs *fs, enum shmfs_page_kind k)
{
	return fs->type[k].pt->page_sz;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int shmfs_region_open_backing(struct shmfs_fs *fs, struct shmfs_region *r, int flags)
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

/* ------------------------------------------------------------ byte size
 *
 * A region is as many bytes as it was sized or written to (st_size, what
 * reads return); its backing file holds that rounded up to whole pages, so
 * joins, fd_shmem and page_count see whole pages. The byte size lives in the
 * metadata (shmfs_meta_byte_size: a backing file sized behind the daemon's
 * back shows its own size). Bytes between the size and the end of its last
 * page are kept zero by every resize that grows into them. */

static uint64_t byte_size_locked(struct shmfs_fs *fs, struct shmfs_region *r, uint64_t backing)
{
	return shmfs_meta_byte_size(&r->meta, backing, shmfs_page_sz(fs, r->kind));
}

/* Backing file attributes made the region's, under fs->lock. */
static void attr_locked(struct shmfs_fs *fs, struct shmfs_region *r, struct stat *st)
{
	st->st_size = (off_t)byte_size_locked(fs, r, (uint64_t)st->st_size);
	st->st_ino = r->ino;
	st->st_nlink = r->linked ? 1 : 0;
	st->st_blksize = (blksize_t)shmfs_page_sz(fs, r->kind);
}

void shmfs_region_attr(struct shmfs_fs *fs, struct shmfs_region *r, struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	attr_locked(fs, r, st);
	pthread_mutex_unlock(&fs->lock);
}

int shmfs_region_size(struct shmfs_fs *fs, struct shmfs_region *r, int fd, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&fs->lock);
	*ret = byte_size_locked(fs, r, (uint64_t)st.st_size);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int shmfs_region_stat(struct shmfs_fs *fs, struct shmfs_region *r, struct stat *ret)
{
	struct stat st;
	int rc;

	pthread_mutex_lock(&fs->lock);
	if (!r->linked) {
		rc = r->gone_fd >= 0 && fstat(r->gone_fd, &st) == 0 ? 0 : -ENOENT;
		if (rc == 0)
			attr_locked(fs, r, &st);
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			return rc;
		*ret = st;
		return 0;
	}
	rc = fstatat(fs->type[r->kind].dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW);
	if (rc < 0) {
		rc = -errno;
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	if (st.st_ino != r->backing_ino) {
		pthread_mutex_unlock(&fs->lock);
		return -ESTALE;
	}
	r->told_ctime = st.st_ctim;
	attr_locked(fs, r, &st);
	pthread_mutex_unlock(&fs->lock);
	*ret = st;
	return 0;
}

void shmfs_region_told(struct shmfs_fs *fs, struct shmfs_region *r, const struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	r->told_ctime = st->st_ctim;
	pthread_mutex_unlock(&fs->lock);
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

int shmfs_region_setattr(struct shmfs_fs *fs, struct shmfs_region *r, const struct stat *attr,
			 int to_set, struct stat *ret)
{
	bool sizing = to_set & FUSE_SET_ATTR_SIZE;
	_cleanup_close_ int fd = -1;
	char path[64];
	int rc;

	if (sizing && attr->st_size < 0)
		return -EINVAL;
	fd = shmfs_region_open_backing(fs, r, sizing ? O_RDWR : O_PATH);
	if (fd < 0)
		return fd;
	rc = fd_path(fd, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (sizing) {
		pthread_mutex_lock(&r->op_lock);
		rc = shmfs_region_resize(fs, r, fd, (uint64_t)attr->st_size);
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
	shmfs_region_told(fs, r, ret);
	shmfs_region_attr(fs, r, ret);
	return 0;
}

/* ------------------------------------------------------------ SIGBUS
 *
 * The daemon touches region memory itself in two places: copying a write
 * into a huge page mapping and peeking at a heap header. A region truncated
 * behind its back at that moment would SIGBUS the whole daemon; instead the
 * access fails with EFAULT. */

static __thread sigjmp_buf *bus_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

int shmfs_sigbus_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

int shmfs_guarded_call(int (*fn)(void *), void *arg)
{
	sigjmp_buf jb;
	int r;

	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		return -EFAULT;
	}
	bus_jmp = &jb;
	r = fn(arg);
	bus_jmp = NULL;
	return r;
}

struct copy_args {
	void *dst;
	const void *src;
	size_t len;
};

static int do_copy(void *p)
{
	struct copy_args *a = p;

	memcpy(a->dst, a->src, a->len);
	return 0;
}

int shmfs_guarded_copy(void *dst, const void *src, size_t len)
{
	struct copy_args a = { dst, src, len };

	return shmfs_guarded_call(do_copy, &a);
}

struct set_args {
	void *dst;
	int c;
	size_t len;
};

static int do_set(void *p)
{
	struct set_args *a = p;

	memset(a->dst, a->c, a->len);
	return 0;
}

int shmfs_guarded_set(void *dst, int c, size_t len)
{
	struct set_args a = { dst, c, len };

	return shmfs_guarded_call(do_set, &a);
}

/* ------------------------------------------------------------ placement */

/* Huge pages come from the pools, so binding to the node is exact and a short
 * pool is a plain ENOSPC. Normal pages are only preferred on the node: under
 * MPOL_BIND a node that runs out makes the kernel OOM-kill inside the bound
 * set (the daemon first); preferred pages spill to other nodes instead, the
 * verification sees them there, and the resize fails with ENOMEM. */
static int bind_node(int node, bool huge)
{
	unsigned long mask[SHMFS_NODE_MAX / (8 * sizeof(unsigned long))];

	memset(mask, 0, sizeof(mask));
	mask[(size_t)node / (8 * sizeof(unsigned long))] |= 1UL << ((size_t)node % (8 * sizeof(unsigned long)));
	if (set_mempolicy(huge ? MPOL_BIND : MPOL_PREFERRED, mask, SHMFS_NODE_MAX) < 0)
		return -errno;
	return 0;
}

/* Whether some pages of the file's size are not allocated. Faulting such a
 * hole through a mapping (populating it to ask where pages are, or to move
 * them) would allocate it, so those paths leave sparse files alone. Files
 * the daemon sizes never have holes; fd_shmem may leave some. */
static bool file_sparse(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return true;
	return (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
}

static void unbind(void)
{
	/* handler threads are pooled: never leave a binding behind */
	set_mempolicy(MPOL_DEFAULT, NULL, 0);
}

/* Where the pages of [off, off+len) of fd sit, by asking the kernel about a
 * short-lived read-only mapping. Pages not allocated are not counted; if
 * ret_missing is given it gets their number, if ret_elsewhere is given the
 * number of allocated pages not on node. */
static int range_nodes(int fd, uint64_t page_sz, uint64_t off, uint64_t len, shmfs_nodemask_t *ret,
		       uint64_t *ret_missing, int node, uint64_t *ret_elsewhere)
{
	shmfs_nodemask_t m;
	uint64_t missing = 0, elsewhere = 0, cnt;
	void *pages[MOVE_PAGES_BATCH];
	int status[MOVE_PAGES_BATCH];
	char *map;
	int r = 0;

	memset(&m, 0, sizeof(m));
	if (len == 0)
		goto out;
	/* a sparse file is only asked about (pages it lacks count as missing) */
	map = mmap(NULL, len, PROT_READ,
		   MAP_SHARED | MAP_NORESERVE | (file_sparse(fd) ? 0 : MAP_POPULATE), fd, (off_t)off);
	if (map == MAP_FAILED)
		return -errno;
	cnt = len / page_sz;
	for (uint64_t i = 0; i < cnt; i += MOVE_PAGES_BATCH) {
		unsigned long n = (unsigned long)(cnt - i < MOVE_PAGES_BATCH ? cnt - i : MOVE_PAGES_BATCH);
		for (unsigned long j = 0; j < n; j++)
			pages[j] = map + (i + j) * page_sz;
		if (move_pages(0, n, pages, NULL, status, 0) < 0) {
			r = -errno;
			break;
		}
		for (unsigned long j = 0; j < n; j++) {
			if (status[j] >= 0 && status[j] < SHMFS_NODE_MAX)
				shmfs_bit_set(m.bits, (size_t)status[j]);
			else
				missing++;
			if (status[j] >= 0 && status[j] != node)
				elsewhere++;
		}
	}
	munmap(map, len);
	if (r < 0)
		return r;
out:
	*ret = m;
	if (ret_missing)
		*ret_missing = missing;
	if (ret_elsewhere)
		*ret_elsewhere = elsewhere;
	return 0;
}

int shmfs_region_nodes(const struct shmfs_fs *fs, int fd, uint64_t page_sz, uint64_t size,
		       shmfs_nodemask_t *ret)
{
	return range_nodes(fd, page_sz, 0, size / page_sz * page_sz, ret, NULL, -1, NULL);
}

static bool only_node(const shmfs_nodemask_t *m, int node)
{
	for (size_t i = 0; i < SHMFS_NODE_MAX / 64; i++) {
		uint64_t want = i == (size_t)node / 64 ? UINT64_C(1) << (node % 64) : 0;
		if (m->bits[i] != want)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ mappers
 *
 * Who maps a region is read from every process's /proc/PID/maps, which
 * costs the same for one region as for all of them. getfattr -d asks for
 * three attributes built on it (mapper_count, mapper_pids, orphaned) and
 * shmfsctl info asks for them over every region, so one scan of /proc serves
 * one asking process for MAPPERS_TTL_NS: a table of every mapped file of the
 * backing store. Another process always gets a fresh scan (a test, or a
 * person, who maps a region and then asks sees the mapping), and decisions
 * (refusing a shrink, removing orphans) never use the table. */
#define MAPPERS_TTL_NS ((int64_t)SHMFS_XATTR_MAPPERS_TTL_MS * 1000 * 1000)
#define MAPPERS_SLOTS  4

struct mapper_snap {
	pid_t caller;                /* 0: slot empty */
	struct timespec taken;       /* CLOCK_MONOTONIC */
	struct shmfs_mapping *maps;
	size_t cnt;
};

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapper_snap snaps[MAPPERS_SLOTS];

static int64_t age_ns(const struct timespec *then, const struct timespec *now)
{
	return (int64_t)(now->tv_sec - then->tv_sec) * 1000000000LL + (now->tv_nsec - then->tv_nsec);
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The mappers of r in a table, ascending, leaving out the daemon. A region is
 * mapped through its backing file (libshmfs, fd_shmem) or, where the kernel
 * passes mmap of the FUSE file through, through the mount: /proc/PID/maps
 * then names the mount's device and the region's FUSE inode. */
static int snap_pids(struct shmfs_fs *fs, struct shmfs_region *r, const struct shmfs_mapping *maps,
		     size_t cnt, pid_t **ret_pids, size_t *ret_cnt)
{
	size_t n1, n2 = 0, first1, first2 = 0, o = 0;
	pid_t *pids = NULL;

	first1 = shmfs_mappings_lookup(maps, cnt, fs->type[r->kind].dev, r->backing_ino, &n1);
	if (fs->fuse_dev)
		first2 = shmfs_mappings_lookup(maps, cnt, fs->fuse_dev, (ino_t)r->ino, &n2);
	if (n1 + n2) {
		pids = malloc((n1 + n2) * sizeof(*pids));
		if (!pids)
			return -ENOMEM;
	}
	/* the daemon maps regions for moments (verify, write, heap peek) */
	for (size_t i = 0; i < n1; i++)
		if (maps[first1 + i].pid != fs->pid)
			pids[o++] = maps[first1 + i].pid;
	for (size_t i = 0; i < n2; i++)
		if (maps[first2 + i].pid != fs->pid)
			pids[o++] = maps[first2 + i].pid;
	if (n2 && o > 1) {
		size_t u = 0;

		qsort(pids, o, sizeof(*pids), pid_cmp);
		for (size_t i = 0; i < o; i++)
			if (u == 0 || pids[u - 1] != pids[i])
				pids[u++] = pids[i];
		o = u;
	}
	*ret_pids = pids;
	*ret_cnt = o;
	return 0;
}

/* The slot of caller's table if it is young enough, under snap_lock. */
static struct mapper_snap *snap_find_locked(pid_t caller, const struct timespec *now)
{
	for (size_t i = 0; i < MAPPERS_SLOTS; i++)
		if (snaps[i].caller == caller && age_ns(&snaps[i].taken, now) < MAPPERS_TTL_NS)
			return &snaps[i];
	return NULL;
}

/* Keep a new table for caller in its own slot, else the oldest. */
static struct mapper_snap *snap_install_locked(pid_t caller, const struct timespec *now,
					       struct shmfs_mapping *maps, size_t cnt)
{
	struct mapper_snap *s = &snaps[0];

	for (size_t i = 0; i < MAPPERS_SLOTS; i++) {
		if (snaps[i].caller == caller) {
			s = &snaps[i];
			break;
		}
		if (age_ns(&snaps[i].taken, &s->taken) > 0)
			s = &snaps[i];
	}
	free(s->maps);
	*s = (struct mapper_snap){ .caller = caller, .taken = *now, .maps = maps, .cnt = cnt };
	return s;
}

int shmfs_region_mappers_for(struct shmfs_fs *fs, struct shmfs_region *r, pid_t caller,
			     pid_t **ret_pids, size_t *ret_cnt)
{
	dev_t devs[SHMFS_PAGE_KIND_CNT + 1];
	struct shmfs_mapping *maps = NULL;
	struct mapper_snap *s;
	struct timespec now;
	size_t cnt = 0, dev_cnt = 0;
	int rc;

	if (caller <= 0) {
		devs[dev_cnt++] = fs->type[r->kind].dev;
		if (fs->fuse_dev)
			devs[dev_cnt++] = fs->fuse_dev;
		rc = shmfs_proc_mappings(devs, dev_cnt, &maps, &cnt);
		if (rc < 0)
			return rc;
		rc = snap_pids(fs, r, maps, cnt, ret_pids, ret_cnt);
		free(maps);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&snap_lock);
	s = snap_find_locked(caller, &now);
	if (s) {
		rc = snap_pids(fs, r, s->maps, s->cnt, ret_pids, ret_cnt);
		pthread_mutex_unlock(&snap_lock);
		return rc;
	}
	pthread_mutex_unlock(&snap_lock);

	/* scanned without the lock: other callers are not held up by it */
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (fs->type[k].pt)
			devs[dev_cnt++] = fs->type[k].dev;
	if (fs->fuse_dev)
		devs[dev_cnt++] = fs->fuse_dev;
	rc = shmfs_proc_mappings(devs, dev_cnt, &maps, &cnt);
	if (rc < 0)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&snap_lock);
	s = snap_install_locked(caller, &now, maps, cnt);
	rc = snap_pids(fs, r, s->maps, s->cnt, ret_pids, ret_cnt);
	pthread_mutex_unlock(&snap_lock);
	return rc;
}

int shmfs_region_mappers(struct shmfs_fs *fs, struct shmfs_region *r, pid_t **ret_pids,
			 size_t *ret_cnt)
{
	return shmfs_region_mappers_for(fs, r, 0, ret_pids, ret_cnt);
}

/* ------------------------------------------------------------ size */

/* Take the pages for [old, size) from the pools of the nodes the policy
 * names, at once, and check they are there. The pages are allocated beyond
 * the end first (KEEP_SIZE) and the size set only when all are there:
 * hugetlbfs sets the full size even when a fallocate is interrupted, and a
 * daemon killed here must leave the old size (start-up trims pages beyond
 * it). On any failure the file is put back to old, which also returns pages
 * an interrupted hugetlbfs fallocate kept (it does not undo itself). */
static int grow(struct shmfs_fs *fs, int fd, uint64_t page_sz, bool huge, uint64_t old,
		uint64_t size, const struct shmfs_policy *pol, int home)
{
	uint64_t pos;
	int r, err = 0;

	for (pos = old; pos < size && err == 0;) {
		uint64_t run_end, chunk_end;
		int node = shmfs_policy_node(pol, home, pos / page_sz, &run_end);

		chunk_end = run_end > size / page_sz ? size : run_end * page_sz;
		if (!huge) {
			uint64_t total, free_pages;
			/* plainly too big for the node: refuse before filling it and
			 * spilling over (the verification catches the racy rest) */
			if (shmfs_normal_pool(fs, node, &total, &free_pages) == 0 &&
			    free_pages < (chunk_end - pos + page_sz - 1) / page_sz) {
				err = -ENOMEM;
				break;
			}
		}
		r = bind_node(node, huge);
		if (r < 0) {
			err = r;
			break;
		}
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)(chunk_end - pos)) < 0)
			err = -errno;
		unbind();
		pos = chunk_end;
	}
	if (err == 0 && ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	for (pos = old; pos < size && err == 0;) {
		uint64_t run_end, chunk_end, vstart, missing = 0;
		shmfs_nodemask_t where;
		int node = shmfs_policy_node(pol, home, pos / page_sz, &run_end);

		chunk_end = run_end > size / page_sz ? size : run_end * page_sz;
		vstart = pos / page_sz * page_sz;
		r = range_nodes(fd, page_sz, vstart, chunk_end - vstart, &where, &missing, -1, NULL);
		if (r < 0)
			err = r;
		else if (missing || !only_node(&where, node))
			err = -ENOMEM;
		pos = chunk_end;
	}
	if (err < 0) {
		if (ftruncate(fd, (off_t)old) < 0)
			SHMFS_LOG("Failed to give back pages after a failed resize: %m");
		return err;
	}
	return 0;
}

/* Allocate the pages of [start, end) a file made behind our back may lack
 * (holes), on r's home node, before the daemon touches them through a
 * mapping: touching a hole would allocate it unplaced, or SIGBUS on an
 * empty pool. Files the daemon sizes have no holes. */
static int fill_holes(struct shmfs_fs *fs, struct shmfs_region *r, int fd, uint64_t start, uint64_t end)
{
	int node, rc;

	if (!file_sparse(fd))
		return 0;
	pthread_mutex_lock(&fs->lock);
	node = r->meta.node;
	pthread_mutex_unlock(&fs->lock);
	rc = bind_node(node, shmfs_page_type_is_huge(fs->type[r->kind].pt));
	if (rc < 0)
		return rc;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)start, (off_t)(end - start)) < 0)
		rc = -errno;
	unbind();
	return rc;
}

/* Zero [from, to) of the page holding from: bytes past the size that a
 * mapper may have written, about to become part of the region. */
static int zero_tail(struct shmfs_fs *fs, struct shmfs_region *r, int fd, uint64_t from, uint64_t to)
{
	uint64_t page_sz = shmfs_page_sz(fs, r->kind), start = from / page_sz * page_sz;
	char *map;
	int rc;

	if (to > start + page_sz)
		to = start + page_sz;
	if (to <= from)
		return 0;
	rc = fill_holes(fs, r, fd, start, start + page_sz);
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
 * metadata file is gone for good. Caller holds r->op_lock (linked stable). */
static int save_size(struct shmfs_fs *fs, struct shmfs_region *r, uint64_t size, uint64_t prev)
{
	struct shmfs_meta m;
	bool linked;
	int rc;

	pthread_mutex_lock(&fs->lock);
	linked = r->linked;
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
	return shmfs_region_meta_commit(fs, r, &m);
}

int shmfs_region_resize(struct shmfs_fs *fs, struct shmfs_region *r, int fd, uint64_t size)
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
	old = byte_size_locked(fs, r, backing);
	home = r->meta.node;
	if (shmfs_policy_parse(r->meta.policy, &pol) < 0)
		pol.cnt = 0;
	pthread_mutex_unlock(&fs->lock);
	if (size == old && want == backing)
		return 0;
	if (want < backing) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t cnt = 0;

		rc = shmfs_region_mappers(fs, r, &pids, &cnt);
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
	rc = save_size(fs, r, size, old);
	if (rc < 0)
		return rc;
	if (want == backing)
		return 0;
	if (want < backing) {
		rc = ftruncate(fd, (off_t)want) < 0 ? -errno : 0;
	} else {
		/* a bind policy always means the home node (a migration moves both) */
		if (pol.cnt == 1 && pol.pages[0] == UINT64_MAX)
			pol.cnt = 0;
		rc = grow(fs, fd, page_sz, shmfs_page_type_is_huge(fs->type[r->kind].pt), backing,
			  want, &pol, home);
	}
	if (rc < 0 && save_size(fs, r, old, old) < 0)
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

int shmfs_region_write(struct shmfs_fs *fs, struct shmfs_region *r, int fd, const void *buf,
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
	rc = shmfs_region_size(fs, r, fd, &size);
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
		rc = shmfs_region_resize(fs, r, fd, end);
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
	rc = fill_holes(fs, r, fd, start, round_up(end, page_sz));
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

int shmfs_region_create(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, const char *name,
			mode_t mode, uid_t uid, gid_t gid, pid_t pid,
			struct shmfs_region **ret_region, int *ret_fd)
{
	struct shmfs_type_state *ts = &fs->type[k];
	char tmp[64];
	uint64_t rnd;
	struct shmfs_region *r;
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
	/* the daemon's umask must not narrow what the caller asked for */
	if (fchmod(fd, mode & 07777) < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_ino >> SHMFS_INO_REGION_SHIFT) {
		rc = -EOVERFLOW;
		goto fail;
	}
	r = shmfs_region_new(k, st.st_ino, name);
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
static int open_gone_locked(struct shmfs_fs *fs, struct shmfs_region *r)
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
static void gone_locked(struct shmfs_fs *fs, struct shmfs_region *r, int gone)
{
	if (r->gone_fd >= 0)
		close(r->gone_fd);
	r->gone_fd = gone;
	shmfs_table_unlink_locked(fs, r);
}

int shmfs_region_unlink(struct shmfs_fs *fs, struct shmfs_region *r)
{
	ino_t bino = r->backing_ino;
	int rc = 0;

	pthread_mutex_lock(&r->op_lock);
	pthread_mutex_lock(&fs->lock);
	if (!r->linked) {
		rc = -ENOENT;
	} else {
		int gone = open_gone_locked(fs, r);

		if (unlinkat(fs->type[r->kind].dirfd, r->name, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			if (gone >= 0)
				close(gone);
		} else {
			gone_locked(fs, r, gone);
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

/* ------------------------------------------------------------ migrate, rename */

static int move_range(int fd, uint64_t page_sz, uint64_t len, int node, uint64_t *ret_failed)
{
	void *pages[MOVE_PAGES_BATCH];
	int nodes[MOVE_PAGES_BATCH], status[MOVE_PAGES_BATCH];
	uint64_t cnt = len / page_sz, failed = 0;
	char *map;
	int r = 0;

	map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	for (uint64_t i = 0; i < cnt; i += MOVE_PAGES_BATCH) {
		unsigned long n = (unsigned long)(cnt - i < MOVE_PAGES_BATCH ? cnt - i : MOVE_PAGES_BATCH);
		for (unsigned long j = 0; j < n; j++) {
			pages[j] = map + (i + j) * page_sz;
			nodes[j] = node;
		}
		/* MOVE_ALL: the pages are shared with every process mapping the region */
		if (move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		for (unsigned long j = 0; j < n; j++)
			if (status[j] != node)
				failed++;
	}
	munmap(map, len);
	*ret_failed = failed;
	return r;
}

/* Move every page of the open backing file to node to; all or nothing: on a
 * shortfall the pages go back to from and -ENOMEM is returned. */
int shmfs_region_migrate_fd(struct shmfs_fs *fs, enum shmfs_page_kind k, int fd, int from, int to)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	uint64_t page_sz = pt->page_sz, size, failed = 0, need = 0;
	shmfs_nodemask_t where;
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	size = (uint64_t)st.st_size / page_sz * page_sz;
	if (size == 0)
		return 0;
	if (file_sparse(fd))
		return -ENOMEM; /* its missing pages could not be placed anyway */
	rc = range_nodes(fd, page_sz, 0, size, &where, NULL, to, &need);
	if (rc < 0)
		return rc;
	if (need == 0)
		return 0;
	if (shmfs_page_type_is_huge(pt)) {
		struct shmfs_pool_stat ps;
		/* do not start what the target pool cannot finish */
		if (shmfs_pool_stat(pt, to, &ps) < 0 || ps.free < need)
			return -ENOMEM;
	}
	rc = move_range(fd, page_sz, size, to, &failed);
	if (rc == 0 && failed == 0)
		return 0;
	if (from >= 0)
		move_range(fd, page_sz, size, from, &failed);
	return rc < 0 ? rc : -ENOMEM;
}

/* Persist new metadata for r, then publish it: a failed save changes
 * nothing that readers see. Takes ownership of *m either way. The caller
 * holds r->op_lock so edits of one region do not interleave. */
int shmfs_region_meta_commit(struct shmfs_fs *fs, struct shmfs_region *r, struct shmfs_meta *m)
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

/* Persist a new home for the region (node, policy, migration intent) and
 * publish it. */
static int set_home(struct shmfs_fs *fs, struct shmfs_region *r, int node, int migrate_to,
		    const char *migrate_name)
{
	struct shmfs_meta m;
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		return rc;
	m.known = true;
	m.node = node;
	m.migrating = migrate_to >= 0;
	m.migrate_to = migrate_to >= 0 ? migrate_to : 0;
	snprintf(m.migrate_name, sizeof(m.migrate_name), "%s", migrate_to >= 0 ? migrate_name : "");
	snprintf(m.policy, sizeof(m.policy), "bind:%d", node);
	return shmfs_region_meta_commit(fs, r, &m);
}

/* Rename r's backing file to new_name. A region already there (victim, its
 * op_lock held by the caller) is replaced exactly as unlink would remove it:
 * out of the tables, its open files kept answering through an O_PATH
 * descriptor, its metadata removed after the name. */
static int rename_backing(struct shmfs_fs *fs, struct shmfs_region *r, struct shmfs_region *victim,
			  int new_node, const char *new_name, unsigned int flags)
{
	struct shmfs_type_state *ts = &fs->type[r->kind];
	struct shmfs_region *there, *late = NULL;
	ino_t victim_bino = 0;
	bool late_locked = false;
	int gone = -1, rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (strcmp(r->name, new_name) == 0)
		goto out;
	there = shmfs_table_find_locked(fs, r->kind, new_name);
	if (there && there != victim) {
		/* made under that name since the caller looked (a create takes no
		 * op_lock): serialise with its sizing if it is idle, else go on
		 * without (its metadata may then be saved once more and is dropped
		 * at the next start). Held: the tables may drop it below. */
		late = there;
		late->refs++;
		late_locked = pthread_mutex_trylock(&late->op_lock) == 0;
	}
	if (there && ((flags & RENAME_NOREPLACE) || there->meta.node != new_node)) {
		rc = -EEXIST; /* names are unique per page type, across nodes */
		goto out;
	}
	if (there)
		gone = open_gone_locked(fs, there);
	if (renameat2(ts->dirfd, r->name, ts->dirfd, new_name, flags & RENAME_NOREPLACE) < 0) {
		rc = -errno; /* NOREPLACE: also a name the watch has not adopted yet */
		if (gone >= 0)
			close(gone);
		goto out;
	}
	if (there) {
		victim_bino = there->backing_ino;
		gone_locked(fs, there, gone);
	}
	shmfs_table_rename_locked(fs, r, new_name);
out:
	if (late_locked)
		pthread_mutex_unlock(&late->op_lock);
	pthread_mutex_unlock(&fs->lock);
	shmfs_region_put(fs, late, 1);
	if (victim_bino)
		shmfs_meta_remove(fs, r->kind, victim_bino);
	return rc;
}

/* Take r's op_lock and, when another region holds new_name, that region's
 * too (returned held; NULL when none), in address order so that two renames
 * over each other cannot deadlock. */
static struct shmfs_region *lock_with_victim(struct shmfs_fs *fs, struct shmfs_region *r,
					     const char *new_name)
{
	for (;;) {
		struct shmfs_region *v;
		bool same;

		pthread_mutex_lock(&fs->lock);
		v = shmfs_table_find_locked(fs, r->kind, new_name);
		if (v == r)
			v = NULL;
		if (v)
			v->refs++;
		pthread_mutex_unlock(&fs->lock);
		if (!v) {
			pthread_mutex_lock(&r->op_lock);
			return NULL;
		}
		pthread_mutex_lock((uintptr_t)v < (uintptr_t)r ? &v->op_lock : &r->op_lock);
		pthread_mutex_lock((uintptr_t)v < (uintptr_t)r ? &r->op_lock : &v->op_lock);
		pthread_mutex_lock(&fs->lock);
		same = shmfs_table_find_locked(fs, r->kind, new_name) == v;
		pthread_mutex_unlock(&fs->lock);
		if (same)
			return v;
		/* renamed or removed while we waited: look again */
		pthread_mutex_unlock(&v->op_lock);
		pthread_mutex_unlock(&r->op_lock);
		shmfs_region_put(fs, v, 1);
	}
}

int shmfs_region_rename(struct shmfs_fs *fs, struct shmfs_region *r, int new_node,
			const char *new_name, unsigned int flags)
{
	struct shmfs_region *victim;
	_cleanup_close_ int fd = -1;
	int old_node, rc = 0;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	rc = shmfs_name_check(new_name);
	if (rc < 0)
		return rc;
	victim = lock_with_victim(fs, r, new_name);
	pthread_mutex_lock(&fs->lock);
	old_node = r->meta.node;
	if (!r->linked)
		rc = -ENOENT;
	else if (victim && ((flags & RENAME_NOREPLACE) || victim->meta.node != new_node))
		rc = -EEXIST;
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0 || new_node == old_node) {
		if (rc == 0)
			rc = rename_backing(fs, r, victim, new_node, new_name, flags);
		goto out;
	}

	/* Another node: the pages move. The intent is recorded first, so a
	 * daemon killed in the middle finishes or undoes the move at its next
	 * start (tree.c) instead of showing a region half on each node. The
	 * tree shows the new directory only once everything is done. */
	fd = shmfs_region_open_backing(fs, r, O_RDONLY);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = set_home(fs, r, old_node, new_node, new_name);
	if (rc < 0)
		goto out;
	rc = shmfs_region_migrate_fd(fs, r->kind, fd, old_node, new_node);
	if (rc == 0) {
		rc = rename_backing(fs, r, victim, new_node, new_name, flags);
		if (rc < 0) {
			uint64_t failed;
			struct stat st;
			if (fstat(fd, &st) == 0)
				move_range(fd, shmfs_page_sz(fs, r->kind),
					   (uint64_t)st.st_size / shmfs_page_sz(fs, r->kind) *
						   shmfs_page_sz(fs, r->kind),
					   old_node, &failed);
		}
	}
	if (rc == 0)
		rc = set_home(fs, r, new_node, -1, NULL);
	else
		set_home(fs, r, old_node, -1, NULL);
out:
	if (victim)
		pthread_mutex_unlock(&victim->op_lock);
	pthread_mutex_unlock(&r->op_lock);
	shmfs_region_put(fs, victim, 1);
	return rc;
}
