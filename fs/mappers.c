/* mappers.c - which processes map a region, from /proc/PID/maps, and the
 * short-lived per-caller cache of those scans (its slots live in struct
 * shmfs_fs). */
#include "daemon.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

/* ------------------------------------------------------------ mappers
 *
 * Who maps a region is read from every process's /proc/PID/maps, which
 * costs the same for one region as for all of them. getfattr -d asks for
 * three attributes built on it (mapper_count, mapper_pids, orphaned) and
 * shmfsctl info asks for them over every region, so one scan of /proc serves
 * one asking process for MAPPERS_TTL_NS: a table of every mapped file of the
 * backing store. Another process always gets a fresh scan (a test, or a
 * person, who maps a region and then asks sees the mapping), and decisions
 * (refusing a shrink, removing orphans) never use the table. The table is
 * sorted by device and inode (shmfs_mappings_lookup), so a burst of queries
 * for N regions by one process costs one scan per MAPPERS_TTL_NS plus N
 * lookups. The daemon's own events that make tables wrong drop them all
 * (shmfs_mappers_invalidate: a new region, whose backing inode number may
 * have been a freed file's that a table still names). */
#define MAPPERS_TTL_NS ((int64_t)SHMFS_XATTR_MAPPERS_TTL_MS * 1000 * 1000)

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
static int snap_pids(struct shmfs_fs *fs, struct shmfsd_region *r, const struct shmfs_mapping *maps,
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

/* The slot of caller's table if it is young enough, under fs->mappers.lock. */
static struct shmfs_mapper_snap *snap_find_locked(struct shmfs_fs *fs, pid_t caller,
						  const struct timespec *now)
{
	for (size_t i = 0; i < SHMFS_MAPPERS_SLOTS; i++)
		if (fs->mappers.slot[i].caller == caller &&
		    fs->mappers.slot[i].gen == atomic_load(&fs->mappers.gen) &&
		    age_ns(&fs->mappers.slot[i].taken, now) < MAPPERS_TTL_NS)
			return &fs->mappers.slot[i];
	return NULL;
}

/* Keep a new table for caller in its own slot, else the oldest. */
static struct shmfs_mapper_snap *snap_install_locked(struct shmfs_fs *fs, pid_t caller,
						     const struct timespec *now, uint64_t gen,
						     struct shmfs_mapping *maps, size_t cnt)
{
	struct shmfs_mapper_snap *s = &fs->mappers.slot[0];

	for (size_t i = 0; i < SHMFS_MAPPERS_SLOTS; i++) {
		if (fs->mappers.slot[i].caller == caller) {
			s = &fs->mappers.slot[i];
			break;
		}
		if (age_ns(&fs->mappers.slot[i].taken, &s->taken) > 0)
			s = &fs->mappers.slot[i];
	}
	free(s->maps);
	*s = (struct shmfs_mapper_snap){
		.caller = caller, .taken = *now, .gen = gen, .maps = maps, .cnt = cnt
	};
	return s;
}

int shmfsd_region_mappers_for(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller,
			      pid_t **ret_pids, size_t *ret_cnt)
{
	dev_t devs[SHMFS_PAGE_KIND_CNT + 1];
	struct shmfs_mapping *maps = NULL;
	struct shmfs_mapper_snap *s;
	struct timespec now;
	size_t cnt = 0, dev_cnt = 0;
	uint64_t gen;
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
	pthread_mutex_lock(&fs->mappers.lock);
	s = snap_find_locked(fs, caller, &now);
	if (s) {
		rc = snap_pids(fs, r, s->maps, s->cnt, ret_pids, ret_cnt);
		pthread_mutex_unlock(&fs->mappers.lock);
		return rc;
	}

	/* scanned without the lock: other callers are not held up by it; an
	 * invalidation during the scan leaves the table stale at once */
	gen = atomic_load(&fs->mappers.gen);
	pthread_mutex_unlock(&fs->mappers.lock);
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (fs->type[k].pt)
			devs[dev_cnt++] = fs->type[k].dev;
	if (fs->fuse_dev)
		devs[dev_cnt++] = fs->fuse_dev;
	rc = shmfs_proc_mappings(devs, dev_cnt, &maps, &cnt);
	if (rc < 0)
		return rc;
	/* its age counts from the start of the scan: what it shows is at least
	 * that recent */
	pthread_mutex_lock(&fs->mappers.lock);
	s = snap_install_locked(fs, caller, &now, gen, maps, cnt);
	rc = snap_pids(fs, r, s->maps, s->cnt, ret_pids, ret_cnt);
	pthread_mutex_unlock(&fs->mappers.lock);
	return rc;
}

int shmfsd_region_mappers(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t **ret_pids,
			  size_t *ret_cnt)
{
	return shmfsd_region_mappers_for(fs, r, 0, ret_pids, ret_cnt);
}
/* ------------------------------------------------------------ page moves
 *
 * A page of a file changes node only by a migration (move_pages, mbind,
 * NUMA balancing, demotion, compaction, memory going offline: all counted
 * in pgmigrate_success), by being swapped out and read back (pswpin, zswpin)
 * or copied into a collapsed huge page (thp_collapse_alloc); truncating,
 * punching or filling the file changes its ctime or blocks. While neither
 * count nor file changed, a placement known true is still true. */

/* The sum of those counts in /proc/vmstat. */
static int read_moves(uint64_t *ret)
{
	static const char *const names[] = { "pgmigrate_success", "pswpin", "zswpin",
					     "thp_collapse_alloc" };
	char buf[16384];
	ssize_t n = shmfs_read_text("/proc/vmstat", buf, sizeof(buf));
	uint64_t sum = 0;
	bool any = false;

	if (n <= 0)
		return n < 0 ? (int)n : -EIO;
	for (char *line = buf, *end; line && *line; line = end) {
		char *sp = strchr(line, ' ');

		end = strchr(line, '\n');
		if (end)
			*end++ = '\0';
		if (!sp)
			continue;
		*sp = '\0';
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			uint64_t v;

			if (strcmp(line, names[i]) == 0 && shmfs_parse_u64(sp + 1, &v) == 0) {
				sum += v;
				any |= i == 0;
			}
		}
	}
	/* no migration count: nothing to tell a move by */
	if (!any)
		return -ENOTSUP;
	*ret = sum;
	return 0;
}

int shmfs_page_moves(struct shmfs_fs *fs, pid_t caller, uint64_t *ret)
{
	struct shmfs_moves_seen *best = NULL, *slot;
	struct timespec now;
	uint64_t val;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&fs->mappers.lock);
	for (size_t i = 0; caller >= 0 && i < SHMFS_MAPPERS_SLOTS; i++) {
		struct shmfs_moves_seen *m = &fs->mappers.moves[i];

		if (!m->taken.tv_sec || age_ns(&m->taken, &now) >= MAPPERS_TTL_NS)
			continue;
		if (caller > 0 ? m->caller == caller : (!best || age_ns(&best->taken, &m->taken) > 0))
			best = m;
	}
	if (best) {
		*ret = best->val;
		pthread_mutex_unlock(&fs->mappers.lock);
		return 0;
	}
	pthread_mutex_unlock(&fs->mappers.lock);
	rc = read_moves(&val);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->mappers.lock);
	/* caller's own slot, else the oldest */
	slot = &fs->mappers.moves[0];
	for (size_t i = 0; i < SHMFS_MAPPERS_SLOTS; i++) {
		if (fs->mappers.moves[i].caller == caller) {
			slot = &fs->mappers.moves[i];
			break;
		}
		if (age_ns(&fs->mappers.moves[i].taken, &slot->taken) > 0)
			slot = &fs->mappers.moves[i];
	}
	*slot = (struct shmfs_moves_seen){ .caller = caller > 0 ? caller : 0, .taken = now, .val = val };
	pthread_mutex_unlock(&fs->mappers.lock);
	*ret = val;
	return 0;
}

void shmfs_mappers_init(struct shmfs_fs *fs)
{
	pthread_mutex_init(&fs->mappers.lock, NULL);
	memset(fs->mappers.slot, 0, sizeof(fs->mappers.slot));
	memset(fs->mappers.moves, 0, sizeof(fs->mappers.moves));
	atomic_init(&fs->mappers.gen, 0);
}

void shmfs_mappers_invalidate(struct shmfs_fs *fs)
{
	atomic_fetch_add(&fs->mappers.gen, 1);
}

void shmfs_mappers_free(struct shmfs_fs *fs)
{
	for (size_t i = 0; i < SHMFS_MAPPERS_SLOTS; i++) {
		free(fs->mappers.slot[i].maps);
		fs->mappers.slot[i] = (struct shmfs_mapper_snap){ 0 };
	}
	pthread_mutex_destroy(&fs->mappers.lock);
}
