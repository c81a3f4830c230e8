/* lifetime.c - how long a region lives and who may take it away: the orphan
 * rule of each lifetime (persistent: never; process: creator gone and nobody
 * maps it; lock: nobody holds a lock on it or maps it, DPDK's own rule), the
 * recognition of DPDK's hugepage files among the files other programs make
 * in the backing store, the shared lock the daemon holds on regions so that
 * DPDK's start-up (clear_hugedir: unlink every "*map_*" file it can lock
 * exclusively) passes them by, and who may see which mapper pids. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

/* ------------------------------------------------------------ DPDK's files
 *
 * DPDK's EAL names its hugepage files "<file-prefix>map_<N>" in its huge
 * directory (one per page, or one per memseg list with
 * --single-file-segments) after it has made its runtime directory
 * /run/dpdk/<file-prefix> (root; others $XDG_RUNTIME_DIR/dpdk or
 * /tmp/dpdk). At start-up it removes every file matching "*map_*" in that
 * directory that it can flock LOCK_EX|LOCK_NB; while it runs it holds a
 * shared flock (or, with --single-file-segments, an fcntl read lock) on each
 * file it uses. */
#define DPDK_FILTER "*map_*"
static const char *const dpdk_run_dirs[] = { "/run/dpdk", "/var/run/dpdk" };

int shmfs_dpdk_prefix(const char *name, char *ret, size_t ret_sz)
{
	const char *m = NULL, *p, *digits;

	/* the last "map_" followed by digits only */
	for (p = strstr(name, "map_"); p; p = strstr(p + 1, "map_"))
		m = p;
	if (!m || m == name)
		return -EINVAL;
	digits = m + 4;
	if (!*digits)
		return -EINVAL;
	for (p = digits; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if ((size_t)(m - name) >= ret_sz)
		return -ENAMETOOLONG;
	memcpy(ret, name, (size_t)(m - name));
	ret[m - name] = '\0';
	return 0;
}

/* Is dir a directory owned by uid (root's /run/dpdk, or the file owner's
 * own runtime directory: nobody else may vouch that a file is DPDK's)? */
static bool dir_of(const char *dir, uid_t uid)
{
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid;
}

void shmfs_lifetime_classify_foreign(const char *name, uid_t owner, struct shmfs_meta *m)
{
	char prefix[SHMFS_NAME_MAX + 1], dir[sizeof(prefix) + 64];
	bool dpdk = false;

	if (shmfs_dpdk_prefix(name, prefix, sizeof(prefix)) < 0)
		return;
	/* the name alone could be anyone's ("appmap_0"): DPDK's runtime
	 * directory for that prefix is the evidence. Root's DPDK keeps it in
	 * /run/dpdk; another user's in $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. */
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(dpdk_run_dirs) && !dpdk; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", dpdk_run_dirs[i], prefix);
		dpdk = dir_of(dir, 0);
	}
	if (!dpdk && owner != 0) {
		snprintf(dir, sizeof(dir), "/run/user/%u/dpdk/%s", (unsigned)owner, prefix);
		dpdk = dir_of(dir, owner);
		snprintf(dir, sizeof(dir), "/tmp/dpdk/%s", prefix);
		dpdk = dpdk || dir_of(dir, owner);
	}
	if (!dpdk)
		return;
	m->lifetime = SHMFS_LIFETIME_LOCK;
	snprintf(m->program, sizeof(m->program), "dpdk:%s", prefix);
}

/* ------------------------------------------------------------ locks */

int shmfs_locks_parse_line(const char *line, pid_t *ret_pid, dev_t *ret_dev, ino_t *ret_ino)
{
	char kind[16], mode[16], type[16];
	unsigned int maj, min;
	unsigned long long ino;
	int pid, n = 0;

	/* "1: FLOCK  ADVISORY  READ 12007 00:28:52455 0 EOF"; a waiter is
	 * "1: -> FLOCK ..." and holds nothing */
	if (strstr(line, "->"))
		return -ENOENT;
	if (sscanf(line, "%*u: %15s %15s %15s %d %x:%x:%llu%n", kind, mode, type, &pid, &maj, &min,
		   &ino, &n) != 7 || n == 0)
		return -EINVAL;
	*ret_pid = pid;
	*ret_dev = makedev(maj, min);
	*ret_ino = (ino_t)ino;
	return 0;
}

static int lock_cmp(const void *a, const void *b)
{
	const struct shmfs_lock_held *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

/* Every lock (flock, POSIX or OFD) held by a process but the daemon, as
 * /proc/locks says: every lock on the system, readable by all. OFD locks
 * show pid -1: someone holds them. */
static int locks_of_others(const struct shmfs_fs *fs, struct shmfs_lock_held **ret, size_t *ret_cnt)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
	struct shmfs_lock_held *v = NULL;
	size_t cnt = 0, cap = 0;
	char line[256];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		pid_t pid;
		dev_t d;
		ino_t i;

		if (shmfs_locks_parse_line(line, &pid, &d, &i) < 0 || pid == fs->pid)
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct shmfs_lock_held *n = realloc(v, ncap * sizeof(*v));

			if (!n) {
				free(v);
				return -ENOMEM;
			}
			v = n;
			cap = ncap;
		}
		v[cnt++] = (struct shmfs_lock_held){ .dev = d, .ino = i };
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), lock_cmp);
	*ret = v;
	*ret_cnt = cnt;
	return 0;
}

/* In a table sorted by lock_cmp. */
static bool locked_in(const struct shmfs_lock_held *v, size_t cnt, dev_t dev, ino_t ino)
{
	struct shmfs_lock_held key = { .dev = dev, .ino = ino };

	return cnt && bsearch(&key, v, cnt, sizeof(*v), lock_cmp);
}

/* Does any process but the daemon hold a lock on the file? */
static bool locked_by_others(const struct shmfs_fs *fs, dev_t dev, ino_t ino)
{
	_cleanup_free_ struct shmfs_lock_held *v = NULL;
	size_t cnt = 0;

	if (locks_of_others(fs, &v, &cnt) < 0)
		return true; /* cannot tell: never call it abandoned */
	return locked_in(v, cnt, dev, ino);
}

/* ------------------------------------------------------------ orphans */

/* ------------------------------------------------------------ clean
 *
 * clean judges every region: one look at /proc for all of them (every
 * mapping of the backing store and the mount, every lock), taken when the
 * first region whose lifetime rule asks for it comes up, instead of one
 * scan of every process per region (O(regions x processes)). A process that
 * starts mapping a region while clean runs could as well have done so just
 * after it: clean removes what was orphaned when it looked. */
void shmfs_clean_scan_free(struct shmfs_clean_scan *s)
{
	free(s->maps);
	free(s->locks);
	*s = (struct shmfs_clean_scan){ 0 };
}

static int clean_scan_take(struct shmfs_fs *fs, struct shmfs_clean_scan *s)
{
	dev_t devs[SHMFS_PAGE_KIND_CNT + 1];
	size_t dev_cnt = 0;
	int rc;

	if (s->taken)
		return s->err;
	s->taken = true;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (fs->type[k].pt)
			devs[dev_cnt++] = fs->type[k].dev;
	if (fs->fuse_dev)
		devs[dev_cnt++] = fs->fuse_dev;
	rc = shmfs_proc_mappings(devs, dev_cnt, &s->maps, &s->map_cnt);
	if (rc == 0)
		rc = locks_of_others(fs, &s->locks, &s->lock_cnt);
	s->err = rc;
	return rc;
}

/* Does anyone but the daemon map r, in the scan? */
static bool mapped_in(const struct shmfs_fs *fs, const struct shmfsd_region *r,
		      const struct shmfs_clean_scan *s)
{
	size_t first, n = 0;

	first = shmfs_mappings_lookup(s->maps, s->map_cnt, fs->type[r->kind].dev, r->backing_ino, &n);
	for (size_t i = 0; i < n; i++)
		if (s->maps[first + i].pid != fs->pid)
			return true;
	if (!fs->fuse_dev)
		return false;
	first = shmfs_mappings_lookup(s->maps, s->map_cnt, fs->fuse_dev, (ino_t)r->ino, &n);
	for (size_t i = 0; i < n; i++)
		if (s->maps[first + i].pid != fs->pid)
			return true;
	return false;
}

/* The lifetime rule of r, judged by one look at /proc for every region (s:
 * clean), or by the caller's own view of it (s NULL: an attribute read). */
static bool orphaned(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller,
		     struct shmfs_clean_scan *s)
{
	_cleanup_free_ pid_t *pids = NULL;
	enum shmfs_lifetime lifetime;
	size_t cnt = 0;
	pid_t pid;
	uint64_t start;

	pthread_mutex_lock(&fs->lock);
	lifetime = r->meta.lifetime;
	pid = r->meta.creator_pid;
	start = r->meta.creator_start;
	pthread_mutex_unlock(&fs->lock);
	switch (lifetime) {
	case SHMFS_LIFETIME_PROCESS:
		/* no known creator: never judged gone */
		if (pid <= 0 || shmfs_proc_alive(pid, start))
			return false;
		break;
	case SHMFS_LIFETIME_LOCK:
		if (s ? clean_scan_take(fs, s) < 0 ||
				locked_in(s->locks, s->lock_cnt, fs->type[r->kind].dev, r->backing_ino)
		      : locked_by_others(fs, fs->type[r->kind].dev, r->backing_ino))
			return false;
		break;
	default:
		return false; /* persistent: kept until removed */
	}
	if (s) /* a scan that failed cannot tell: never call it abandoned */
		return clean_scan_take(fs, s) == 0 && !mapped_in(fs, r, s);
	if (shmfsd_region_mappers_for(fs, r, caller, &pids, &cnt) < 0)
		return false;
	return cnt == 0;
}

bool shmfsd_region_orphaned_in(struct shmfs_fs *fs, struct shmfsd_region *r,
			       struct shmfs_clean_scan *s)
{
	return orphaned(fs, r, 0, s);
}

bool shmfsd_region_orphaned_for(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller)
{
	return orphaned(fs, r, caller, NULL);
}

bool shmfsd_region_orphaned(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	return orphaned(fs, r, 0, NULL);
}

/* ------------------------------------------------------------ the guard
 *
 * DPDK deletes the "*map_*" files of its huge directory that nobody locks.
 * Pointed at <backing>/.huge, that is other programs' regions. The daemon
 * therefore holds a shared flock on every region whose name DPDK's filter
 * matches: DPDK's LOCK_EX|LOCK_NB fails and it passes the file by. Only those
 * names, so an owner's own flock(LOCK_EX) on any other region is never held
 * up by the daemon; and never on DPDK's own files (lifetime lock): DPDK frees
 * a page by taking LOCK_EX and unlinking it, and it must go on doing that.
 * The lock is taken without waiting: a region someone holds LOCK_EX on is
 * already safe from DPDK, and the next table change of it tries again. */
static void raise_fd_limit_once(void)
{
	struct rlimit rl;

	/* one descriptor per guarded region: the soft limit (often 1024) would
	 * run out long before the hard one */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void raise_fd_limit(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, raise_fd_limit_once);
}

static bool wants_guard(const struct shmfsd_region *r)
{
	return r->linked && r->meta.lifetime != SHMFS_LIFETIME_LOCK &&
	       fnmatch(DPDK_FILTER, r->name, 0) == 0;
}

void shmfs_guard_update_locked(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	struct stat st;
	int fd;

	if (!wants_guard(r)) {
		shmfs_guard_drop_locked(r);
		return;
	}
	if (r->guard_fd >= 0)
		return; /* held on the inode: a rename does not change that */
	raise_fd_limit();
	fd = openat(fs->type[r->kind].dirfd, r->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	/* the name may already be another file's (a rename not yet in the table) */
	if (fstat(fd, &st) < 0 || st.st_ino != r->backing_ino || flock(fd, LOCK_SH | LOCK_NB) < 0) {
		close(fd);
		return;
	}
	r->guard_fd = fd;
}

void shmfs_guard_drop_locked(struct shmfsd_region *r)
{
	/* an unlinked region's pages go when its last user does: the daemon must
	 * not be one */
	if (r->guard_fd >= 0)
		close(r->guard_fd);
	r->guard_fd = -1;
}

/* ------------------------------------------------------------ mapper pids */

/* Could a process of uid/gid read /proc/pid/maps? The kernel's rule
 * (ptrace_may_access, PTRACE_MODE_READ_FSCREDS): root, or every uid and gid
 * of the target equal to the caller's, and the target dumpable. The last
 * is not in /proc for others to read; a process that made itself
 * non-dumpable is rare among mappers, so its owner still sees it. */
bool shmfs_pid_visible(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	int have = 0;

	if (uid == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, c;

		if (sscanf(line, "Uid: %lu %lu %lu", &a, &b, &c) == 3) {
			if (a != uid || b != uid || c != uid)
				return false;
			have |= 1;
		} else if (sscanf(line, "Gid: %lu %lu %lu", &a, &b, &c) == 3) {
			if (a != gid || b != gid || c != gid)
				return false;
			have |= 2;
		}
	}
	return have == 3;
}
