/* join.c - joins: map a region's backing file into this process once, hand
 * out the same mapping to every later join, unmap on the last leave; plus
 * anonymous joins of caller memory, queries and iteration. One recursive
 * lock guards the table (join_table.c); join and leave callbacks run under
 * it, and an entry whose callback is running has ref_cnt -1, which is how a
 * callback that re-enters its own region is caught (a cycle). */
#include <shmfs/shmfs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "join_path.h"
#include "join_shared.h"
#include "join_table.h"
#include "log.h"
#include "name.h"
#include "util.h"

#define JOIN_OPTIONS (SHMFS_JOIN_MLOCK | SHMFS_JOIN_DONTDUMP | SHMFS_JOIN_RANDOM_ADDR)
#define JOIN_FLAGS   (SHMFS_JOIN_RDWR | JOIN_OPTIONS)

/* Random addresses are drawn below this: the 47-bit user address space every
 * x86-64 and arm64 (48-bit VA) kernel gives without asking for more. */
#define RANDOM_ADDR_LIMIT (UINT64_C(1) << 47)
#define RANDOM_ADDR_TRIES 1000

/* Recursive: a callback runs with the lock held and may join or leave other
 * regions on the same thread. */
static pthread_mutex_t join_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct shmfs_join_table join_table = SHMFS_JOIN_TABLE_INIT;

static void *fail_null(int r)
{
	errno = -r;
	return NULL;
}

/* Read the options a caller's struct holds: fields past opts->sz were not
 * known to the caller's version and count as zero. */
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetof(__typeof__(*(opts)), field) + sizeof((opts)->field))
#define OPTS_GET(opts, field) (OPTS_HAS(opts, field) ? (opts)->field : 0)

/* ------------------------------------------------------------------ mapping */

static void *map_random(int fd, size_t sz, uint64_t align, int prot, off_t off)
{
	for (int i = 0; i < RANDOM_ADDR_TRIES; i++) {
		uint64_t a;
		void *p;

		if (getrandom(&a, sizeof(a), 0) != (ssize_t)sizeof(a))
			return MAP_FAILED;
		a &= RANDOM_ADDR_LIMIT - 1;
		a = (a + align - 1) & ~(align - 1);
		if (a == 0 || a + sz > RANDOM_ADDR_LIMIT || a + sz < a)
			continue;
		p = mmap((void *)(uintptr_t)a, sz, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, off);
		if (p == MAP_FAILED) {
			/* Taken, or below mmap_min_addr: draw again. */
			if (errno == EEXIST || errno == EPERM)
				continue;
			return MAP_FAILED;
		}
		if (p == (void *)(uintptr_t)a)
			return p;
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(p, sz);
	}
	errno = ENOMEM;
	return MAP_FAILED;
}

/* Options that act on an existing mapping; both may be applied again. */
static int apply_options(void *addr, size_t sz, unsigned flags)
{
	/* The system call itself: sanitizer runtimes intercept mlock() and
	 * make it a no-op, and a caller asking for resident pages gets them. */
	if ((flags & SHMFS_JOIN_MLOCK) && syscall(SYS_mlock, addr, sz) < 0)
		return -errno;
	if ((flags & SHMFS_JOIN_DONTDUMP) && madvise(addr, sz, MADV_DONTDUMP) < 0)
		return -errno;
	return 0;
}

/* Map the file open at fd as a new join entry, in progress (ref_cnt -1). */
static int map_region(int fd, const struct shmfs_region_ref *ref, const struct stat *st,
		      off_t off, unsigned flags, shmfs_join_info_t **ret)
{
	int prot = PROT_READ | (flags & SHMFS_JOIN_RDWR ? PROT_WRITE : 0);
	shmfs_join_info_t info;
	uint64_t page_sz = ref->page_sz, page_cnt;
	size_t sz;
	void *p;
	int r;

	if (st->st_size <= 0 || page_sz == 0)
		return -EINVAL;
	page_cnt = ((uint64_t)st->st_size + page_sz - 1) / page_sz;
	if (page_cnt > SIZE_MAX / page_sz)
		return -ENOMEM;
	sz = (size_t)(page_cnt * page_sz);

	if (flags & SHMFS_JOIN_RANDOM_ADDR)
		p = map_random(fd, sz, page_sz, prot, off);
	else
		p = mmap(NULL, sz, prot, MAP_SHARED, fd, off);
	if (p == MAP_FAILED)
		return -errno;
	r = apply_options(p, sz, flags);
	if (r < 0) {
		munmap(p, sz);
		return r;
	}

	memset(&info, 0, sizeof(info));
	info.ref_cnt = -1;
	info.shmem = p;
	info.page_sz = page_sz;
	info.page_cnt = page_cnt;
	info.sz = sz;
	info.flags = flags;
	info.dev = st->st_dev;
	info.ino = st->st_ino;
	shmfs_strlcpy(info.name, ref->name, sizeof(info.name));
	r = shmfs_join_table_add(&join_table, &info, ret);
	if (r < 0)
		munmap(p, sz);
	return r;
}

/* A join of a region this process has mapped already. */
static int join_again(shmfs_join_info_t *e, unsigned flags)
{
	unsigned more = flags & (SHMFS_JOIN_MLOCK | SHMFS_JOIN_DONTDUMP) & ~e->flags;
	int r;

	if (e->ref_cnt < 0)
		return -EDEADLK;
	if ((flags & SHMFS_JOIN_RDWR) && !(e->flags & SHMFS_JOIN_RDWR))
		return -EROFS;
	r = apply_options(e->shmem, e->sz, more);
	if (r < 0)
		return r;
	e->flags |= more;
	e->ref_cnt++;
	return 0;
}

SHMFS_API void *shmfs_join_opts(const char *path, unsigned flags,
				const struct shmfs_join_opts *opts, shmfs_join_info_t *opt_info)
{
	shmfs_join_fn_t join_fn = OPTS_GET(opts, join_fn);
	void *ctx = OPTS_GET(opts, ctx);
	struct shmfs_region_ref ref;
	shmfs_join_info_t *e, snap;
	_cleanup_close_ int fd = -1;
	int map_fd = -1;
	struct stat st;
	uint64_t map_off = 0;
	void *join;
	int r;

	if (flags & ~JOIN_FLAGS)
		return fail_null(-EINVAL);
	if (opts && opts->sz == 0)
		return fail_null(-EINVAL);
	/* a region of a shared backing: the device at the region's offset */
	r = shmfs_shared_join_resolve(path, flags & SHMFS_JOIN_RDWR ? O_RDWR : O_RDONLY,
				      shmfs_mount_path(), &ref, &st, &map_off, &map_fd);
	if (r < 0)
		return fail_null(r);
	if (r == 1)
		fd = map_fd;    /* ours to close */
	if (r == 0) {
		r = shmfs_region_resolve(path, &ref);
		if (r < 0)
			return fail_null(r);
		/* Opening checks the caller's permission the kernel's way, on
		 * the backing file, before anything is shared with earlier
		 * joins. */
		fd = shmfs_region_open(&ref, flags & SHMFS_JOIN_RDWR ? O_RDWR : O_RDONLY, &st);
		if (fd < 0)
			return fail_null(fd);
		map_fd = fd;
	}

	pthread_mutex_lock(&join_lock);
	e = shmfs_join_table_find_file(&join_table, st.st_dev, st.st_ino);
	if (e) {
		r = join_again(e, flags);
		if (r < 0) {
			pthread_mutex_unlock(&join_lock);
			if (r == -EDEADLK)
				shmfs_log(SHMFS_LOG_WARNING, "join of %s refused: its join or leave callback is running (a cycle)", ref.name);
			return fail_null(r);
		}
		if (opt_info)
			*opt_info = *e;
		join = e->join;
		pthread_mutex_unlock(&join_lock);
		return join;
	}

	r = map_region(map_fd, &ref, &st, (off_t)map_off, flags, &e);
	if (r < 0) {
		pthread_mutex_unlock(&join_lock);
		shmfs_log(SHMFS_LOG_WARNING, "join of %s (%s) failed: %s", ref.name, ref.backing, strerror(-r));
		return fail_null(r);
	}
	join = e->shmem;
	if (join_fn) {
		/* The callback sees a copy: a join it makes may grow the table. */
		snap = *e;
		join = join_fn(ctx, &snap);
		/* Handles name joins (leave, query_by_join): one that another
		 * join has already would make a leave drop the wrong region. */
		if (!join || shmfs_join_table_find_join(&join_table, join)) {
			r = join ? -EEXIST : -ECANCELED;
			munmap(e->shmem, e->sz);
			shmfs_join_table_remove(&join_table, e);
			pthread_mutex_unlock(&join_lock);
			shmfs_log(SHMFS_LOG_WARNING, "join of %s refused: %s", ref.name,
				  join ? "its join callback returned the handle of another join" :
					 "its join callback returned NULL");
			return fail_null(r);
		}
	}
	e->ref_cnt = 1;
	e->join = join;
	if (opt_info)
		*opt_info = *e;
	shmfs_log(SHMFS_LOG_DEBUG, "joined %s (%s): %" PRIu64 " bytes at %p, %s", e->name, ref.backing,
		  e->sz, e->shmem, flags & SHMFS_JOIN_RDWR ? "read-write" : "read-only");
	pthread_mutex_unlock(&join_lock);
	return join;
}

SHMFS_API void *shmfs_join(const char *path, unsigned flags)
{
	return shmfs_join_opts(path, flags, NULL, NULL);
}

SHMFS_API int shmfs_leave_opts(void *join, const struct shmfs_leave_opts *opts, shmfs_join_info_t *opt_info)
{
	shmfs_leave_fn_t leave_fn = OPTS_GET(opts, leave_fn);
	void *ctx = OPTS_GET(opts, ctx);
	shmfs_join_info_t *e, snap;
	int r = 0;

	if (!join || (opts && opts->sz == 0))
		return -EINVAL;
	pthread_mutex_lock(&join_lock);
	e = shmfs_join_table_find_join(&join_table, join);
	if (!e || e->anonymous || e->ref_cnt < 0) {
		/* A region whose join callback is running has no handle yet;
		 * leaving it by its address is the same cycle. */
		shmfs_join_info_t *busy = e ? e : shmfs_join_table_find_addr(&join_table, (uintptr_t)join, (uintptr_t)join);
		r = busy && busy->ref_cnt < 0 ? -EDEADLK : -EINVAL;
		if (r == -EDEADLK)
			shmfs_log(SHMFS_LOG_WARNING, "leave of %s refused: its join or leave callback is running (a cycle)", busy->name);
		pthread_mutex_unlock(&join_lock);
		return r;
	}
	if (opt_info)
		*opt_info = *e;
	if (e->ref_cnt > 1) {
		e->ref_cnt--;
		pthread_mutex_unlock(&join_lock);
		return 0;
	}
	e->ref_cnt = -1;
	if (leave_fn) {
		snap = *e;
		leave_fn(ctx, &snap);
	}
	if (munmap(e->shmem, e->sz) < 0) {
		r = -errno;
		shmfs_log(SHMFS_LOG_WARNING, "unmapping %s at %p failed: %s", e->name, e->shmem, strerror(-r));
	} else {
		shmfs_log(SHMFS_LOG_DEBUG, "left %s (%" PRIu64 ":%" PRIu64 ")", e->name, (uint64_t)e->dev,
			  (uint64_t)e->ino);
	}
	shmfs_join_table_remove(&join_table, e);
	pthread_mutex_unlock(&join_lock);
	return r;
}

SHMFS_API int shmfs_leave(void *join)
{
	return shmfs_leave_opts(join, NULL, NULL);
}

/* ------------------------------------------------------------------ anonymous */

static bool page_size_supported(uint64_t page_sz)
{
	const struct shmfs_page_types *types = shmfs_lib_page_types();

	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (shmfs_page_type_present(&types->type[k]) && types->type[k].page_sz == page_sz)
			return true;
	return false;
}

SHMFS_API int shmfs_join_anonymous(const char *name, unsigned flags, void *join, void *mem,
				   uint64_t page_sz, uint64_t page_cnt)
{
	shmfs_join_info_t info, *e;
	uintptr_t a0 = (uintptr_t)mem, a1;
	int r;

	if (!name || shmfs_name_check(name) < 0)
		return -EINVAL;
	if (flags & ~SHMFS_JOIN_RDWR)
		return -EINVAL;
	if (!join || !mem || !page_size_supported(page_sz) || a0 % page_sz)
		return -EINVAL;
	if (page_cnt == 0 || page_cnt > UINTPTR_MAX / page_sz)
		return -EINVAL;
	a1 = a0 + (uintptr_t)(page_cnt * page_sz) - 1;
	if (a1 < a0)
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.ref_cnt = 1;
	info.join = join;
	info.shmem = mem;
	info.page_sz = page_sz;
	info.page_cnt = page_cnt;
	info.sz = page_cnt * page_sz;
	info.flags = flags;
	info.anonymous = 1;
	shmfs_strlcpy(info.name, name, sizeof(info.name));

	pthread_mutex_lock(&join_lock);
	if (shmfs_join_table_find_anon(&join_table, name) ||
	    shmfs_join_table_find_join(&join_table, join) ||
	    shmfs_join_table_find_addr(&join_table, a0, a1))
		r = -EEXIST;
	else
		r = shmfs_join_table_add(&join_table, &info, &e);
	pthread_mutex_unlock(&join_lock);
	return r;
}

SHMFS_API int shmfs_leave_anonymous(void *join, shmfs_join_info_t *opt_info)
{
	shmfs_join_info_t *e;

	if (!join)
		return -EINVAL;
	pthread_mutex_lock(&join_lock);
	e = shmfs_join_table_find_join(&join_table, join);
	if (!e || !e->anonymous) {
		pthread_mutex_unlock(&join_lock);
		return -EINVAL;
	}
	if (opt_info) {
		*opt_info = *e;
		opt_info->ref_cnt = 0;
	}
	shmfs_join_table_remove(&join_table, e);
	pthread_mutex_unlock(&join_lock);
	return 0;
}

/* ------------------------------------------------------------------ queries */

/* Copy e out under the lock; -ENOENT when there is none. */
static int found(const shmfs_join_info_t *e, shmfs_join_info_t *opt_info)
{
	if (!e)
		return -ENOENT;
	if (opt_info)
		*opt_info = *e;
	return 0;
}

SHMFS_API int shmfs_join_query_by_path(const char *path, shmfs_join_info_t *opt_info)
{
	struct shmfs_region_ref ref;
	struct stat st;
	int r;

	if (path && *path && !strchr(path, '/')) {
		pthread_mutex_lock(&join_lock);
		r = found(shmfs_join_table_find_anon(&join_table, path), opt_info);
		pthread_mutex_unlock(&join_lock);
		if (r == 0)
			return 0;
	}
	r = shmfs_region_resolve(path, &ref);
	if (r < 0)
		return r;
	if (!ref.have_id) {
		if (stat(ref.backing, &st) < 0)
			return -errno;
		ref.dev = st.st_dev;
		ref.ino = st.st_ino;
	}
	pthread_mutex_lock(&join_lock);
	r = found(shmfs_join_table_find_file(&join_table, ref.dev, ref.ino), opt_info);
	pthread_mutex_unlock(&join_lock);
	return r;
}

SHMFS_API int shmfs_join_query_by_join(const void *join, shmfs_join_info_t *opt_info)
{
	int r;

	if (!join)
		return -EINVAL;
	pthread_mutex_lock(&join_lock);
	r = found(shmfs_join_table_find_join(&join_table, join), opt_info);
	pthread_mutex_unlock(&join_lock);
	return r;
}

SHMFS_API int shmfs_join_query_by_addr(const void *addr, size_t sz, shmfs_join_info_t *opt_info)
{
	uintptr_t a0 = (uintptr_t)addr, a1;
	int r;

	if (sz == 0)
		return -ENOENT;
	a1 = a0 + sz - 1;
	if (a1 < a0)
		return -EINVAL;
	pthread_mutex_lock(&join_lock);
	r = found(shmfs_join_table_find_addr(&join_table, a0, a1), opt_info);
	pthread_mutex_unlock(&join_lock);
	return r;
}

SHMFS_API size_t shmfs_join_cnt(void)
{
	size_t cnt;

	pthread_mutex_lock(&join_lock);
	cnt = join_table.cnt;
	pthread_mutex_unlock(&join_lock);
	return cnt;
}

SHMFS_API int shmfs_join_iter(int (*fn)(const shmfs_join_info_t *info, void *ctx), void *ctx)
{
	_cleanup_free_ shmfs_join_info_t *snap = NULL;
	size_t cnt;
	int r;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&join_lock);
	r = shmfs_join_table_snapshot(&join_table, &snap, &cnt);
	pthread_mutex_unlock(&join_lock);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cnt; i++) {
		r = fn(&snap[i], ctx);
		if (r)
			return r;
	}
	return 0;
}
