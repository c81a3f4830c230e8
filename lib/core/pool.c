/* pool.c - per-node huge page pools: read the kernel's per-node counters and
 * resize a pool all-or-nothing. The kernel's own nr_hugepages write is
 * best-effort (it stops silently when it cannot find contiguous memory, and
 * quietly turns in-use pages into surplus when asked to shrink below them);
 * this file turns it into a transaction: reach the target exactly, or put the
 * pool back and say why. */
#include "pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* How many steps a reservation is split into when someone watches its
 * progress. Each step is one write to nr_hugepages; the kernel allocates the
 * pages of one write without returning, so steps are what make progress
 * visible. */
#define POOL_PROGRESS_STEPS 32

static int node_file(const struct shmfs_page_type *t, int node, const char *file,
		     char *buf, size_t buf_sz)
{
	char dir[200];
	int r, n;

	r = shmfs_page_type_node_dir(t, node, dir, sizeof(dir));
	if (r < 0)
		return r;
	n = snprintf(buf, buf_sz, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= buf_sz ? -ENAMETOOLONG : 0;
}

static int node_read(const struct shmfs_page_type *t, int node, const char *file, uint64_t *ret)
{
	char path[256];
	int r = node_file(t, node, file, path, sizeof(path));

	return r < 0 ? r : shmfs_read_u64(path, ret);
}

int shmfs_pool_stat(const struct shmfs_page_type *t, int node, struct shmfs_pool_stat *ret)
{
	struct shmfs_pool_stat s = { 0 };
	char path[256];
	int r;

	if (!t || !shmfs_page_type_is_huge(t) || !shmfs_page_type_present(t))
		return -EINVAL;
	if (node < 0)
		return -ENOENT;
	r = node_read(t, node, "nr_hugepages", &s.total);
	if (r < 0)
		return r;
	r = node_read(t, node, "free_hugepages", &s.free);
	if (r < 0)
		return r;
	r = node_read(t, node, "surplus_hugepages", &s.surplus);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/resv_hugepages", t->sysfs_dir);
	r = shmfs_read_u64(path, &s.reserved);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/nr_overcommit_hugepages", t->sysfs_dir);
	if (shmfs_read_u64(path, &s.overcommit) < 0)
		s.overcommit = 0; /* gigantic pages of old kernels: none */
	*ret = s;
	return 0;
}

int shmfs_compact_memory(void)
{
	return shmfs_write_text("/proc/sys/vm/compact_memory", "1");
}

uint64_t shmfs_pool_persistent(const struct shmfs_pool_stat *s)
{
	/* the two counters are separate sysfs reads: never let them underflow */
	return s->total >= s->surplus ? s->total - s->surplus : 0;
}

static uint64_t persistent(const struct shmfs_pool_stat *s)
{
	return shmfs_pool_persistent(s);
}

/* MemTotal in kB from a meminfo file ("Node N MemTotal:" or "MemTotal:"). */
static int meminfo_total_kb(const char *path, uint64_t *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[256];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "MemTotal:");
		unsigned long long kb;

		if (p && sscanf(p + strlen("MemTotal:"), "%llu kB", &kb) == 1) {
			*ret = kb;
			return 0;
		}
	}
	return -ENODATA;
}

int shmfs_pool_max(const struct shmfs_page_type *t, int node, uint64_t *ret)
{
	char path[96];
	uint64_t kb;
	int r;

	if (!t || t->page_sz == 0 || node < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	r = meminfo_total_kb(path, &kb);
	/* a kernel without NUMA has no node directories: all memory is node 0 */
	if (r == -ENOENT && node == 0)
		r = meminfo_total_kb("/proc/meminfo", &kb);
	if (r < 0)
		return r;
	if (kb > UINT64_MAX / 1024)
		return -ERANGE;
	*ret = kb * 1024 / t->page_sz;
	return 0;
}

/* One write of the per-node nr_hugepages, then read back the result. The
 * kernel returns success even when it reached fewer pages than asked. */
static int pool_write(const struct shmfs_page_type *t, int node, uint64_t target,
		      struct shmfs_pool_stat *ret)
{
	char path[256];
	int r;

	r = node_file(t, node, "nr_hugepages", path, sizeof(path));
	if (r < 0)
		return r;
	r = shmfs_write_u64(path, target);
	if (r < 0)
		return r;
	return shmfs_pool_stat(t, node, ret);
}

/* Grow (or keep) the pool to exactly target, compacting once when the kernel
 * falls short. 0, -ENOMEM when still short, or another -errno. */
static int pool_reach(const struct shmfs_page_type *t, int node, uint64_t target)
{
	struct shmfs_pool_stat s;
	int r;

	r = pool_write(t, node, target, &s);
	if (r < 0)
		return r;
	if (persistent(&s) >= target)
		return 0;
	/* Fragmentation: contiguous runs are missing, not memory. Compaction
	 * is best effort (it may be disabled in the kernel); retry anyway. */
	(void)shmfs_compact_memory();
	r = pool_write(t, node, target, &s);
	if (r < 0)
		return r;
	return persistent(&s) >= target ? 0 : -ENOMEM;
}

/* Put the pool back to prev after a failed resize. Errors are not reported:
 * the caller's error is the one that matters, and there is nothing more to
 * try. */
static void pool_restore(const struct shmfs_page_type *t, int node, uint64_t prev)
{
	struct shmfs_pool_stat s;

	(void)pool_write(t, node, prev, &s);
}

static int pool_shrink(const struct shmfs_page_type *t, int node, const struct shmfs_pool_stat *old,
		       uint64_t target)
{
	struct shmfs_pool_stat s;
	int r;

	r = pool_write(t, node, target, &s);
	if (r < 0) {
		pool_restore(t, node, persistent(old));
		return r;
	}
	/* Pages reserved by mappings (counted only system-wide) look free on
	 * the node but cannot be released; the kernel then keeps them as
	 * surplus, which would silently shrink the pool later. Refuse. */
	if (s.total != target) {
		pool_restore(t, node, persistent(old));
		return -EBUSY;
	}
	return 0;
}

static int pool_grow(const struct shmfs_page_type *t, int node, const struct shmfs_pool_stat *old,
		     uint64_t target, shmfs_pool_progress_fn progress, void *ctx)
{
	uint64_t prev = persistent(old), have = prev, step;
	int r;

	step = progress ? (target - prev + POOL_PROGRESS_STEPS - 1) / POOL_PROGRESS_STEPS : target - prev;
	if (step == 0)
		step = 1;
	if (progress)
		progress(have, target, ctx);
	while (have < target) {
		uint64_t next = target - have > step ? have + step : target;

		r = pool_reach(t, node, next);
		if (r < 0) {
			pool_restore(t, node, prev);
			return r;
		}
		have = next;
		if (progress)
			progress(have, target, ctx);
	}
	return 0;
}

int shmfs_pool_resize(const struct shmfs_page_type *t, int node, uint64_t target,
		      shmfs_pool_progress_fn progress, void *ctx)
{
	struct shmfs_pool_stat old;
	int r;

	r = shmfs_pool_stat(t, node, &old);
	if (r < 0)
		return r;
	return shmfs_pool_resize_from(t, node, &old, target, progress, ctx);
}

int shmfs_pool_resize_from(const struct shmfs_page_type *t, int node,
			   const struct shmfs_pool_stat *cur, uint64_t target,
			   shmfs_pool_progress_fn progress, void *ctx)
{
	struct shmfs_pool_stat old = *cur;
	uint64_t in_use, max;

	/* Pages in use by mappings (surplus ones included) can never be
	 * released: the kernel would keep them and shrink the pool behind our
	 * back when they are freed. */
	in_use = old.total >= old.free ? old.total - old.free : 0;
	if (target < in_use)
		return -EBUSY;
	if (target == persistent(&old) && old.surplus == 0) {
		if (progress)
			progress(target, target, ctx);
		return 0;
	}
	if (target <= old.total)
		return pool_shrink(t, node, &old, target);
	/* what the node could never hold: refused before the kernel is asked,
	 * which would first take all of its memory and then give it back */
	if (shmfs_pool_max(t, node, &max) == 0 && target > max)
		return -ENOMEM;
	return pool_grow(t, node, &old, target, progress, ctx);
}
