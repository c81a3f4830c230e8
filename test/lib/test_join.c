/* test_join.c - the join table and its rules, without a shmfs mount: regions
 * are tmpfs files in a look-alike tree (fixture.h) and caller memory
 * (anonymous joins). Reference counts, every path form reaching one mapping,
 * queries, iteration, callbacks and their cycle detection, the identity check
 * that refuses a swapped backing file, options, and the errors. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <shmfs/shmfs.h>

#include "fixture.h"
#include "join_path.h"
#include "join_table.h"

#define SZ (64 * 4096)

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || fx_init(fx) < 0)
		return -1;
	if (fx_region(fx, "a", SZ, 0xa) < 0 || fx_region(fx, "b", SZ, 0xb) < 0)
		return -1;
	*state = fx;
	return 0;
}

/* Leave whatever a failed test left joined, so the next starts clean. */
static int leave_any(const shmfs_join_info_t *info, void *ctx)
{
	if (info->anonymous)
		shmfs_leave_anonymous(info->join, NULL);
	else
		while (shmfs_leave(info->join) == 0)
			;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	size_t left = shmfs_join_cnt();

	shmfs_join_iter(leave_any, NULL);
	fx_fini(fx);
	free(fx);
	/* Every test leaves what it joined. */
	return left == 0 ? 0 : -1;
}

static char *backing_of(struct fixture *fx, const char *name, char *buf)
{
	fx_path(buf, fx->backing, name);
	return buf;
}

static char *tree_of(struct fixture *fx, const char *name, char *buf)
{
	fx_path(buf, fx->node, name);
	return buf;
}

/* ---------------------------------------------------------------- joins */

static void join_maps_the_backing_file(void **state)
{
	struct fixture *fx = *state;
	shmfs_join_info_t info;
	char b[PATH_MAX];
	struct stat st;
	uint64_t *p = shmfs_join_opts("normal/node0/a", SHMFS_JOIN_RDONLY, NULL, &info);

	assert_non_null(p);
	assert_int_equal(p[0], 0xa);
	assert_ptr_equal(info.join, p);
	assert_ptr_equal(info.shmem, p);
	assert_int_equal(info.ref_cnt, 1);
	assert_int_equal(info.page_sz, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(info.sz, SZ);
	assert_int_equal(info.page_cnt * info.page_sz, SZ);
	assert_int_equal(info.anonymous, 0);
	assert_int_equal(info.flags, SHMFS_JOIN_RDONLY);
	assert_string_equal(info.name, "a");
	/* the join is the backing file's: its identity, no path kept */
	assert_int_equal(stat(backing_of(fx, "a", b), &st), 0);
	assert_true(info.dev == st.st_dev && info.ino == st.st_ino);
	assert_int_equal(shmfs_leave(p), 0);
}

static void second_join_returns_the_same_mapping_and_counts(void **state)
{
	shmfs_join_info_t info;
	void *p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDWR);
	void *q = shmfs_join("normal/node0/a", SHMFS_JOIN_RDWR);

	assert_non_null(p);
	assert_ptr_equal(p, q);
	assert_int_equal(shmfs_join_cnt(), 1);
	assert_int_equal(shmfs_join_query_by_join(p, &info), 0);
	assert_int_equal(info.ref_cnt, 2);
	assert_int_equal(shmfs_leave(p), 0);
	assert_int_equal(shmfs_join_query_by_join(p, &info), 0);
	assert_int_equal(info.ref_cnt, 1);
	assert_int_equal(shmfs_leave(q), 0);
	assert_int_equal(shmfs_join_query_by_join(p, &info), -ENOENT);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void every_path_form_reaches_one_mapping(void **state)
{
	struct fixture *fx = *state;
	char t[PATH_MAX], b[PATH_MAX];
	shmfs_join_info_t info;
	void *p1 = shmfs_join("a", SHMFS_JOIN_RDONLY);
	void *p2 = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);
	void *p3 = shmfs_join(tree_of(fx, "a", t), SHMFS_JOIN_RDONLY);
	void *p4 = shmfs_join(backing_of(fx, "a", b), SHMFS_JOIN_RDONLY);

	assert_non_null(p1);
	assert_ptr_equal(p1, p2);
	assert_ptr_equal(p1, p3);
	assert_ptr_equal(p1, p4);
	assert_int_equal(shmfs_join_query_by_path("a", &info), 0);
	assert_int_equal(info.ref_cnt, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(shmfs_leave(p1), 0);
}

static void different_regions_get_different_mappings(void **state)
{
	uint64_t *a = shmfs_join("a", SHMFS_JOIN_RDONLY);
	uint64_t *b = shmfs_join("b", SHMFS_JOIN_RDONLY);

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a[0], 0xa);
	assert_int_equal(b[0], 0xb);
	assert_int_equal(shmfs_join_cnt(), 2);
	assert_int_equal(shmfs_leave(a), 0);
	assert_int_equal(shmfs_leave(b), 0);
}

static void last_leave_unmaps(void **state)
{
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_int_equal(shmfs_leave(p), 0);
	/* msync on an address with no mapping fails with ENOMEM. */
	assert_int_equal(msync(p, 4096, MS_ASYNC), -1);
	assert_int_equal(errno, ENOMEM);
}

/* Run fn(p) in a child process, which exits with fn's result; returns the
 * child's wait status. */
static int in_child(int (*fn)(volatile uint64_t *p), volatile uint64_t *p)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(p));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int child_joins_and_writes(volatile uint64_t *p)
{
	uint64_t *c;

	/* The child joins on its own (after leaving its inherited copy). */
	shmfs_leave((void *)p);
	c = shmfs_join("normal/node0/a", SHMFS_JOIN_RDWR);
	if (!c)
		return 1;
	c[1] = 0xfeed;
	return shmfs_leave(c) == 0 ? 0 : 2;
}

static void writes_are_seen_by_another_process(void **state)
{
	volatile uint64_t *p = shmfs_join("a", SHMFS_JOIN_RDWR);
	int status;

	assert_non_null(p);
	status = in_child(child_joins_and_writes, p);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(p[1], 0xfeed);
	assert_int_equal(shmfs_leave((void *)p), 0);
}

static int child_writes(volatile uint64_t *p)
{
	signal(SIGSEGV, SIG_DFL);
	p[0] = 1;
	return 0;
}

static void rdonly_join_cannot_write(void **state)
{
	volatile uint64_t *p = shmfs_join("a", SHMFS_JOIN_RDONLY);
	int status;

	assert_non_null(p);
	status = in_child(child_writes, p);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_int_equal(p[0], 0xa);
	assert_int_equal(shmfs_leave((void *)p), 0);
}

static void rdwr_join_of_a_rdonly_joined_region_is_erofs(void **state)
{
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_null(shmfs_join("a", SHMFS_JOIN_RDWR));
	assert_int_equal(errno, EROFS);
	assert_int_equal(shmfs_leave(p), 0);
}

static void rdonly_join_of_a_rdwr_joined_region_shares_it(void **state)
{
	void *p = shmfs_join("a", SHMFS_JOIN_RDWR);
	void *q = shmfs_join("a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_ptr_equal(p, q);
	assert_int_equal(shmfs_leave(q), 0);
	assert_int_equal(shmfs_leave(p), 0);
}

/* --------------------------------------------------------------- options */

/* The smaps VmFlags line of the mapping holding addr. */
static int vmflags(const void *addr, char *buf, size_t buf_sz)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			size_t n = strnlen(line + 8, buf_sz - 1);
			memcpy(buf, line + 8, n);
			buf[n] = '\0';
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static void mlock_and_dontdump_are_applied(void **state)
{
	char flags[256];
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY | SHMFS_JOIN_MLOCK | SHMFS_JOIN_DONTDUMP);

	assert_non_null(p);
	assert_int_equal(vmflags(p, flags, sizeof(flags)), 0);
	assert_non_null(strstr(flags, " lo"));
	assert_non_null(strstr(flags, " dd"));
	assert_int_equal(shmfs_leave(p), 0);
}

static void options_of_a_later_join_are_applied_to_the_mapping(void **state)
{
	char flags[256];
	shmfs_join_info_t info;
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY);
	void *q = shmfs_join_opts("a", SHMFS_JOIN_RDONLY | SHMFS_JOIN_DONTDUMP, NULL, &info);

	assert_ptr_equal(p, q);
	assert_true(info.flags & SHMFS_JOIN_DONTDUMP);
	assert_int_equal(vmflags(p, flags, sizeof(flags)), 0);
	assert_non_null(strstr(flags, " dd"));
	assert_int_equal(shmfs_leave(p), 0);
	assert_int_equal(shmfs_leave(p), 0);
}

static void random_address_is_page_aligned_and_varies(void **state)
{
	uintptr_t seen[8];
	int distinct = 0;

	for (int i = 0; i < 8; i++) {
		uint64_t *p = shmfs_join("a", SHMFS_JOIN_RDONLY | SHMFS_JOIN_RANDOM_ADDR);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
		assert_true((uintptr_t)p < (UINT64_C(1) << 47));
		assert_int_equal(p[0], 0xa);
		seen[i] = (uintptr_t)p;
		assert_int_equal(shmfs_leave(p), 0);
	}
	for (int i = 1; i < 8; i++)
		distinct += seen[i] != seen[0];
	/* 2^35 possible places: eight equal draws do not happen. */
	assert_true(distinct > 0);
}

/* ---------------------------------------------------------------- errors */

static void join_errors_are_precise(void **state)
{
	struct fixture *fx = *state;
	char p[PATH_MAX];
	int fd;

	assert_null(shmfs_join(NULL, 0));
	assert_int_equal(errno, EINVAL);
	assert_null(shmfs_join("", 0));
	assert_int_equal(errno, EINVAL);
	assert_null(shmfs_join("-bad", 0));
	assert_int_equal(errno, EINVAL);
	assert_null(shmfs_join("A234567890123456789012345678901234567890", 0));
	assert_int_equal(errno, ENAMETOOLONG);
	assert_null(shmfs_join("a", 0x100));
	assert_int_equal(errno, EINVAL);
	assert_null(shmfs_join("nosuch", 0));
	assert_int_equal(errno, ENOENT);
	assert_null(shmfs_join("normal/node0/nosuch", 0));
	assert_int_equal(errno, ENOENT);
	assert_null(shmfs_join("normal/node0", 0));
	assert_int_equal(errno, EISDIR);
	assert_null(shmfs_join(fx->backing, 0));
	assert_int_equal(errno, EISDIR);

	/* A file that is neither a region nor a backing file. */
	fx_path(p, fx->dir, "plain");
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	assert_null(shmfs_join(p, 0));
	assert_int_equal(errno, ENOTSUP);
	assert_null(shmfs_join("/proc/self/status", 0));
	assert_int_equal(errno, ENOTSUP);

	/* A backing file with a name no region can have. */
	fx_path(p, fx->backing, "_x");
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_null(shmfs_join(p, 0));
	assert_int_equal(errno, ENOTSUP);

	/* An empty region has nothing to map. */
	assert_int_equal(fx_region(fx, "empty", 0, 0), 0);
	assert_null(shmfs_join("empty", 0));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(shmfs_join_cnt(), 0);
}

/* Opening a FIFO blocks until a writer comes: a backing path (or a backing
 * file swapped behind the daemon's back) that is one must be refused at
 * once, not hang the join. */
static void a_fifo_in_place_of_a_backing_file_is_refused_without_blocking(void **state)
{
	struct fixture *fx = *state;
	char p[PATH_MAX];

	fx_path(p, fx->backing, "fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_null(shmfs_join(p, SHMFS_JOIN_RDONLY));
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(fx_link(fx, "fifo", "1:2"), 0);
	assert_null(shmfs_join("normal/node0/fifo", SHMFS_JOIN_RDONLY));
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void a_swapped_backing_file_is_refused(void **state)
{
	struct fixture *fx = *state;

	/* The daemon names another inode than the file found there. */
	assert_int_equal(fx_link(fx, "a", "1:2"), 0);
	assert_null(shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY));
	assert_int_equal(errno, ESTALE);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void a_region_swapped_after_a_join_is_refused(void **state)
{
	struct fixture *fx = *state;
	char b[PATH_MAX], moved[PATH_MAX];
	void *p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_int_equal(shmfs_leave(p), 0);
	/* Another file takes the backing name behind the daemon's back: the
	 * daemon (xattr) still names the old inode. The cached resolution
	 * must not let the new file through. */
	fx_path(moved, fx->dir, "old-a");
	assert_int_equal(rename(backing_of(fx, "a", b), moved), 0);
	assert_int_equal(fx_region(fx, "a2", SZ, 0xa2), 0);
	fx_path(moved, fx->backing, "a2");
	assert_int_equal(rename(moved, b), 0);
	assert_null(shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY));
	assert_int_equal(errno, ESTALE);
}

static void a_recreated_region_is_joined_afresh(void **state)
{
	struct fixture *fx = *state;
	uint64_t *p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_int_equal(shmfs_leave(p), 0);
	/* Unlinked and created again (new inode, daemon updated): the next
	 * join maps the new file, not a cached idea of the old one. */
	{
		char b[PATH_MAX];
		assert_int_equal(unlink(backing_of(fx, "a", b)), 0);
	}
	assert_int_equal(fx_region(fx, "a", SZ, 0xa3), 0);
	p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);
	assert_non_null(p);
	assert_int_equal(p[0], 0xa3);
	assert_int_equal(shmfs_leave(p), 0);
}

static void a_tree_path_naming_another_region_now_joins_that_one(void **state)
{
	struct fixture *fx = *state;
	char t[PATH_MAX], b[PATH_MAX];
	uint64_t *p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);

	assert_non_null(p);
	assert_int_equal(p[0], 0xa);
	assert_int_equal(shmfs_leave(p), 0);
	/* The tree now has another file at that path (a remount, a region
	 * moved in from elsewhere), naming b's backing file; a's backing
	 * file is still there and valid. The remembered resolution must
	 * not be used. */
	assert_int_equal(unlink(tree_of(fx, "a", t)), 0);
	assert_int_equal(rename(tree_of(fx, "b", b), t), 0);
	p = shmfs_join("normal/node0/a", SHMFS_JOIN_RDONLY);
	assert_non_null(p);
	assert_int_equal(p[0], 0xb);
	assert_int_equal(shmfs_leave(p), 0);
}

static void leave_refuses_what_is_not_a_join(void **state)
{
	int x;
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY);

	assert_int_equal(shmfs_leave(NULL), -EINVAL);
	assert_int_equal(shmfs_leave(&x), -EINVAL);
	assert_int_equal(shmfs_leave((char *)p + 1), -EINVAL);
	assert_int_equal(shmfs_leave(p), 0);
	assert_int_equal(shmfs_leave(p), -EINVAL);
}

/* ---------------------------------------------------------------- queries */

static void query_by_addr_finds_overlapping_ranges(void **state)
{
	char *p = shmfs_join("a", SHMFS_JOIN_RDONLY);
	shmfs_join_info_t info;

	assert_non_null(p);
	assert_int_equal(shmfs_join_query_by_addr(p, 1, &info), 0);
	assert_ptr_equal(info.shmem, p);
	assert_int_equal(shmfs_join_query_by_addr(p + SZ - 1, 1, NULL), 0);
	assert_int_equal(shmfs_join_query_by_addr(p - 10, 11, NULL), 0);
	assert_int_equal(shmfs_join_query_by_addr(p - 10, 10, NULL), -ENOENT);
	assert_int_equal(shmfs_join_query_by_addr(p + SZ, 4096, NULL), -ENOENT);
	assert_int_equal(shmfs_join_query_by_addr(p, 0, NULL), -ENOENT);
	assert_int_equal(shmfs_join_query_by_addr((void *)UINTPTR_MAX, 2, NULL), -EINVAL);
	assert_int_equal(shmfs_leave(p), 0);
	assert_int_equal(shmfs_join_query_by_addr(p, 1, NULL), -ENOENT);
}

static void query_by_path_and_join(void **state)
{
	shmfs_join_info_t info;
	void *p = shmfs_join("a", SHMFS_JOIN_RDONLY);

	assert_int_equal(shmfs_join_query_by_path("normal/node0/a", &info), 0);
	assert_ptr_equal(info.join, p);
	assert_int_equal(shmfs_join_query_by_path("b", NULL), -ENOENT);   /* exists, not joined */
	assert_int_equal(shmfs_join_query_by_path("nosuch", NULL), -ENOENT);
	assert_int_equal(shmfs_join_query_by_path(NULL, NULL), -EINVAL);
	assert_int_equal(shmfs_join_query_by_join(p, NULL), 0);
	assert_int_equal(shmfs_join_query_by_join(NULL, NULL), -EINVAL);
	assert_int_equal(shmfs_join_query_by_join(&info, NULL), -ENOENT);
	assert_int_equal(shmfs_leave(p), 0);
}

struct seen {
	int cnt;
	int a, b, anon;
	int stop_after;
};

static int count_joins(const shmfs_join_info_t *info, void *ctx)
{
	struct seen *s = ctx;

	s->cnt++;
	s->a += strcmp(info->name, "a") == 0;
	s->b += strcmp(info->name, "b") == 0;
	s->anon += info->anonymous;
	return s->stop_after && s->cnt == s->stop_after ? 42 : 0;
}

static int leave_each(const shmfs_join_info_t *info, void *ctx)
{
	(*(int *)ctx)++;
	if (info->anonymous)
		return shmfs_leave_anonymous(info->join, NULL);
	return shmfs_leave(info->join);
}

static void iteration_visits_every_join_once(void **state)
{
	static char mem[2 * 65536] __attribute__((aligned(65536)));
	struct seen s = { 0 };
	int left = 0;

	assert_non_null(shmfs_join("a", SHMFS_JOIN_RDONLY));
	assert_non_null(shmfs_join("a", SHMFS_JOIN_RDONLY));   /* one join, two references */
	assert_non_null(shmfs_join("b", SHMFS_JOIN_RDONLY));
	assert_int_equal(shmfs_join_anonymous("anon", SHMFS_JOIN_RDWR, mem, mem, 4096, 4), 0);
	assert_int_equal(shmfs_join_iter(count_joins, &s), 0);
	assert_int_equal(s.cnt, 3);
	assert_int_equal(s.a, 1);
	assert_int_equal(s.b, 1);
	assert_int_equal(s.anon, 1);

	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(shmfs_join_iter(count_joins, &s), 42);
	assert_int_equal(s.cnt, 2);
	assert_int_equal(shmfs_join_iter(NULL, NULL), -EINVAL);

	/* The callback may leave: it walks a snapshot. */
	assert_int_equal(shmfs_join_iter(leave_each, &left), 0);
	assert_int_equal(left, 3);
	assert_int_equal(shmfs_join_cnt(), 1);   /* "a" had two references */
	assert_int_equal(shmfs_leave(shmfs_join("a", 0)), 0);
	{
		shmfs_join_info_t info;
		assert_int_equal(shmfs_join_query_by_path("a", &info), 0);
		assert_int_equal(shmfs_leave(info.join), 0);
	}
}

/* --------------------------------------------------------------- anonymous */

static void anonymous_joins_are_queryable_and_never_unmapped(void **state)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *mem = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shmfs_join_info_t info;
	int handle;

	assert_true(mem != MAP_FAILED);
	assert_int_equal(shmfs_join_anonymous("mine", SHMFS_JOIN_RDWR, &handle, mem, pg, 4), 0);
	assert_int_equal(shmfs_join_query_by_join(&handle, &info), 0);
	assert_int_equal(info.anonymous, 1);
	assert_int_equal(info.ref_cnt, 1);
	assert_ptr_equal(info.shmem, mem);
	assert_int_equal(info.sz, 4 * pg);
	assert_string_equal(info.name, "mine");
	assert_int_equal(info.dev, 0);
	assert_int_equal(info.ino, 0);
	assert_int_equal(shmfs_join_query_by_path("mine", NULL), 0);
	assert_int_equal(shmfs_join_query_by_addr(mem + pg, 1, NULL), 0);

	/* shmfs_leave is for mapped regions, not caller memory. */
	assert_int_equal(shmfs_leave(&handle), -EINVAL);
	assert_int_equal(shmfs_leave_anonymous(&handle, &info), 0);
	assert_int_equal(info.ref_cnt, 0);
	assert_ptr_equal(info.shmem, mem);
	assert_int_equal(shmfs_join_query_by_join(&handle, NULL), -ENOENT);
	assert_int_equal(shmfs_leave_anonymous(&handle, NULL), -EINVAL);
	mem[0] = 1;   /* still the caller's */
	munmap(mem, 4 * pg);
}

static void anonymous_join_arguments_are_checked(void **state)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *mem = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int h1, h2;

	assert_true(mem != MAP_FAILED);
	assert_int_equal(shmfs_join_anonymous(NULL, 0, &h1, mem, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("bad name", 0, &h1, mem, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", SHMFS_JOIN_MLOCK, &h1, mem, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, NULL, mem, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, NULL, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem, 12345, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem + 1, pg, 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem, pg, 0), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem, pg, UINT64_MAX / pg + 1), -EINVAL);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem, pg, UINT64_MAX / pg), -EINVAL); /* wraps */

	assert_int_equal(shmfs_join_anonymous("x", 0, &h1, mem, pg, 4), 0);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h2, mem + 4 * pg, pg, 4), -EEXIST);    /* name */
	assert_int_equal(shmfs_join_anonymous("y", 0, &h1, mem + 4 * pg, pg, 4), -EEXIST);    /* handle */
	assert_int_equal(shmfs_join_anonymous("y", 0, &h2, mem + 3 * pg, pg, 4), -EEXIST);    /* overlap */
	assert_int_equal(shmfs_join_anonymous("y", 0, &h2, mem + 4 * pg, pg, 4), 0);
	assert_int_equal(shmfs_join_cnt(), 2);
	assert_int_equal(shmfs_leave_anonymous(&h1, NULL), 0);
	assert_int_equal(shmfs_leave_anonymous(&h2, NULL), 0);
	munmap(mem, 8 * pg);
}

static void anonymous_join_cannot_take_a_joined_range_or_handle(void **state)
{
	static char mem[65536] __attribute__((aligned(65536)));
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	char *p = shmfs_join("a", SHMFS_JOIN_RDONLY);
	int h;

	assert_non_null(p);
	assert_int_equal(shmfs_join_anonymous("x", 0, &h, p, pg, 1), -EEXIST);
	assert_int_equal(shmfs_join_anonymous("x", 0, p, mem, pg, 1), -EEXIST);
	assert_int_equal(shmfs_leave(p), 0);
}

/* --------------------------------------------------------------- callbacks */

struct cb {
	int join_calls, leave_calls;
	long ref_seen;
	const char *path;   /* what the callback tries to join or leave */
	int err;            /* errno (or -r) of that nested attempt */
	void *nested;       /* a region the callback joined */
	int mode;           /* 0 plain, 1 join self, 2 leave self, 3 join other, 4 return NULL,
			       5 return the handle `nested` (of another join) */
};

/* What both callbacks do first: count the call, note the reference count
 * they were shown and, in mode 1, try to join c->path. */
static void cb_enter(struct cb *c, int *calls, const shmfs_join_info_t *info)
{
	void *q;

	(*calls)++;
	c->ref_seen = info->ref_cnt;
	if (c->mode == 1) {
		q = shmfs_join(c->path, SHMFS_JOIN_RDONLY);
		c->err = q ? 0 : errno;
	}
}

static void *join_cb(void *ctx, const shmfs_join_info_t *info)
{
	struct cb *c = ctx;

	cb_enter(c, &c->join_calls, info);
	switch (c->mode) {
	case 2:
		c->err = -shmfs_leave(info->shmem);
		break;
	case 3:
		c->nested = shmfs_join(c->path, SHMFS_JOIN_RDONLY);
		c->err = c->nested ? 0 : errno;
		break;
	case 4:
		return NULL;
	case 5:
		return c->nested;
	}
	return (char *)info->shmem + 64;   /* a handle inside the region */
}

static void leave_cb(void *ctx, const shmfs_join_info_t *info)
{
	struct cb *c = ctx;

	cb_enter(c, &c->leave_calls, info);
	switch (c->mode) {
	case 2:
		c->err = -shmfs_leave(info->join);
		break;
	case 3:
		c->err = -shmfs_leave(c->nested);
		break;
	}
}

static void *join_with(const char *path, struct cb *c)
{
	struct shmfs_join_opts o = { .sz = sizeof(o), .join_fn = join_cb, .ctx = c };

	return shmfs_join_opts(path, SHMFS_JOIN_RDONLY, &o, NULL);
}

static int leave_with(void *join, struct cb *c)
{
	struct shmfs_leave_opts o = { .sz = sizeof(o), .leave_fn = leave_cb, .ctx = c };

	return shmfs_leave_opts(join, &o, NULL);
}

static void join_callback_sets_the_handle_and_runs_once(void **state)
{
	struct cb c = { 0 };
	shmfs_join_info_t info;
	char *h = join_with("a", &c), *h2;

	assert_non_null(h);
	assert_int_equal(c.join_calls, 1);
	assert_int_equal(c.ref_seen, -1);
	assert_int_equal(shmfs_join_query_by_join(h, &info), 0);
	assert_ptr_equal(info.join, h);
	assert_ptr_equal((char *)info.shmem + 64, h);
	h2 = join_with("a", &c);
	assert_ptr_equal(h2, h);
	assert_int_equal(c.join_calls, 1);   /* only the mapping join calls it */
	assert_int_equal(shmfs_leave(info.shmem), -EINVAL);   /* the handle is h */
	assert_int_equal(leave_with(h, &c), 0);
	assert_int_equal(c.leave_calls, 0);   /* not the last */
	assert_int_equal(leave_with(h, &c), 0);
	assert_int_equal(c.leave_calls, 1);
	assert_int_equal(c.ref_seen, -1);
}

static void join_callback_returning_null_fails_the_join(void **state)
{
	struct cb c = { .mode = 4 };

	assert_null(join_with("a", &c));
	assert_int_equal(errno, ECANCELED);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void join_callback_returning_another_joins_handle_fails_the_join(void **state)
{
	struct cb c = { .mode = 5 };
	shmfs_join_info_t info;

	c.nested = shmfs_join("b", SHMFS_JOIN_RDONLY);
	assert_non_null(c.nested);
	assert_null(join_with("a", &c));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(shmfs_join_cnt(), 1);
	/* The handle still names b alone, and leaving it leaves b. */
	assert_int_equal(shmfs_join_query_by_join(c.nested, &info), 0);
	assert_string_equal(info.name, "b");
	assert_int_equal(info.ref_cnt, 1);
	assert_int_equal(shmfs_leave(c.nested), 0);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void join_callback_joining_its_own_region_is_a_cycle(void **state)
{
	struct cb c = { .mode = 1, .path = "normal/node0/a" };
	void *h = join_with("a", &c);

	assert_non_null(h);   /* the outer join survives the refused inner one */
	assert_int_equal(c.err, EDEADLK);
	assert_int_equal(shmfs_leave(h), 0);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void join_callback_leaving_its_own_region_is_a_cycle(void **state)
{
	struct cb c = { .mode = 2 };
	void *h = join_with("a", &c);

	assert_non_null(h);
	assert_int_equal(c.err, EDEADLK);
	assert_int_equal(shmfs_leave(h), 0);
}

static void leave_callback_joining_or_leaving_its_region_is_a_cycle(void **state)
{
	struct cb c = { .path = "a" };
	void *h = join_with("a", &c);

	assert_non_null(h);
	c.mode = 1;
	assert_int_equal(leave_with(h, &c), 0);
	assert_int_equal(c.err, EDEADLK);
	h = join_with("a", &c);
	c.mode = 2;
	assert_int_equal(leave_with(h, &c), 0);
	assert_int_equal(c.err, EDEADLK);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void callbacks_may_join_and_leave_other_regions(void **state)
{
	struct cb c = { .mode = 3, .path = "b" };
	shmfs_join_info_t info;
	void *h = join_with("a", &c);

	assert_non_null(h);
	assert_int_equal(c.err, 0);
	assert_non_null(c.nested);
	assert_int_equal(shmfs_join_query_by_path("b", &info), 0);
	assert_int_equal(shmfs_join_cnt(), 2);
	assert_int_equal(leave_with(h, &c), 0);
	assert_int_equal(c.err, 0);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void opts_with_zero_size_are_refused(void **state)
{
	struct shmfs_join_opts o = { 0 };
	struct shmfs_leave_opts lo = { 0 };
	void *p;

	assert_null(shmfs_join_opts("a", 0, &o, NULL));
	assert_int_equal(errno, EINVAL);
	p = shmfs_join("a", 0);
	assert_int_equal(shmfs_leave_opts(p, &lo, NULL), -EINVAL);
	assert_int_equal(shmfs_leave(p), 0);
}

static void opts_shorter_than_a_field_leave_it_unused(void **state)
{
	struct cb c = { 0 };
	/* A caller built against a version that only knew sz. */
	struct shmfs_join_opts o = { .sz = sizeof(size_t), .join_fn = join_cb, .ctx = &c };
	void *p = shmfs_join_opts("a", 0, &o, NULL);

	assert_non_null(p);
	assert_int_equal(c.join_calls, 0);
	assert_int_equal(shmfs_leave(p), 0);
}

/* ------------------------------------------------------------------ logging */

struct logbuf {
	int cnt;
	char last[256];
};

static void log_cb(enum shmfs_log_level level, const char *msg, void *ctx)
{
	struct logbuf *l = ctx;

	l->cnt++;
	snprintf(l->last, sizeof(l->last), "%d %s", level, msg);
}

static void the_library_logs_only_through_the_callback(void **state)
{
	struct logbuf l = { 0 };
	struct cb c = { .mode = 1, .path = "a" };
	void *h;

	shmfs_log_set(log_cb, &l, SHMFS_LOG_WARNING);
	/* Expected misses are not news. */
	assert_int_equal(shmfs_join_query_by_path("nosuch", NULL), -ENOENT);
	assert_int_equal(shmfs_join_query_by_join(&l, NULL), -ENOENT);
	assert_int_equal(l.cnt, 0);
	h = join_with("a", &c);
	assert_int_equal(c.err, EDEADLK);
	assert_int_equal(l.cnt, 1);
	assert_non_null(strstr(l.last, "cycle"));
	assert_int_equal(shmfs_leave(h), 0);
	assert_int_equal(l.cnt, 1);   /* debug messages are above WARNING */
	shmfs_log_set(NULL, NULL, SHMFS_LOG_WARNING);
}

/* ---------------------------------------------------------------- regions */

static void region_info_describes_the_backing_file(void **state)
{
	struct fixture *fx = *state;
	char b[PATH_MAX], t[PATH_MAX];
	shmfs_region_info_t info;

	assert_int_equal(shmfs_region_info("a", &info), 0);
	assert_string_equal(info.name, "a");
	assert_string_equal(info.path, tree_of(fx, "a", t));
	assert_string_equal(info.backing, backing_of(fx, "a", b));
	assert_string_equal(info.page_type, "normal");
	assert_int_equal(info.node, 0);
	assert_int_equal(info.sz, SZ);
	assert_int_equal(info.page_sz, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(info.mode, 0644);
	assert_int_equal(info.uid, getuid());

	assert_int_equal(shmfs_region_info(b, &info), 0);
	assert_string_equal(info.path, "");
	assert_int_equal(info.node, -1);
	assert_int_equal(shmfs_region_info("nosuch", &info), -ENOENT);
	assert_int_equal(shmfs_region_info("a", NULL), -EINVAL);
}

/* shmfs_region_create_opts checks every option before it makes anything. */
static void region_create_opts_refuse_bad_options_and_make_nothing(void **state)
{
	struct fixture *fx = *state;
	struct shmfs_node_pages split[SHMFS_SPLIT_MAX + 1], one = { .page_cnt = 1, .node = 0 };
	struct shmfs_region_create_opts o;
	const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	char t[PATH_MAX];
	struct stat st;

#define BAD(...) do { \
		o = (struct shmfs_region_create_opts){ __VA_ARGS__ }; \
		o.sz = o.sz ? o.sz : sizeof(o); \
		assert_int_equal(shmfs_region_create_opts("normal/node0/n", 2 * pg, 0600, &o), -EINVAL); \
		assert_int_equal(stat(tree_of(fx, "n", t), &st), -1); \
	} while (0)
	BAD(.sz = 4);
	BAD(.flags = 0x80);
	BAD(.flags = SHMFS_CREATE_PROCESS_LIFETIME | SHMFS_CREATE_DISOWN);
	BAD(.split_cnt = 1);
	BAD(.split = &one);
	BAD(.split = &one, .split_cnt = 1);                       /* 1 page of 2 */
	for (int i = 0; i <= SHMFS_SPLIT_MAX; i++)
		split[i] = (struct shmfs_node_pages){ .page_cnt = 1, .node = 0 };
	BAD(.split = split, .split_cnt = SHMFS_SPLIT_MAX + 1);
	split[0] = (struct shmfs_node_pages){ .page_cnt = 2, .node = -1 };
	BAD(.split = split, .split_cnt = 1);
	split[0] = (struct shmfs_node_pages){ .page_cnt = 0, .node = 0 };
	split[1] = (struct shmfs_node_pages){ .page_cnt = 2, .node = 0 };
	BAD(.split = split, .split_cnt = 2);
#undef BAD
	/* the 0.1 entry point takes the 0.1 flags only */
	assert_int_equal(shmfs_region_create_flags("normal/node0/n", 0, 0600, SHMFS_CREATE_EXACT_MODE), -EINVAL);
	assert_int_equal(stat(tree_of(fx, "n", t), &st), -1);
}

static void region_create_opts_exact_mode_ignores_the_umask(void **state)
{
	struct fixture *fx = *state;
	/* an older caller's struct: only sz and flags */
	struct shmfs_region_create_opts o = { .sz = offsetof(struct shmfs_region_create_opts, flags) + sizeof(unsigned),
					      .flags = SHMFS_CREATE_EXACT_MODE };
	mode_t old = umask(022);
	char t[PATH_MAX];
	struct stat st;

	assert_int_equal(shmfs_region_create_opts("normal/node0/x1", 0, 0666, &o), 0);
	assert_int_equal(shmfs_region_create_opts("normal/node0/x2", 0, 0666, NULL), 0);
	umask(old);
	assert_int_equal(stat(tree_of(fx, "x1", t), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(stat(tree_of(fx, "x2", t), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
}

static void region_create_and_unlink_go_through_the_tree(void **state)
{
	struct fixture *fx = *state;
	char t[PATH_MAX], b[PATH_MAX], p[PATH_MAX];
	struct stat st;

	assert_int_equal(shmfs_region_create("normal/node0/new", 8192, 0600), 0);
	assert_int_equal(stat(tree_of(fx, "new", t), &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_int_equal(st.st_mode & 07777, 0600 & ~0);
	assert_int_equal(shmfs_region_create("normal/node0/new", 0, 0600), -EEXIST);
	assert_int_equal(shmfs_region_create("new2", 0, 0600), -EINVAL);             /* no node */
	assert_int_equal(shmfs_region_create("normal/node0/-x", 0, 0600), -EINVAL);
	assert_int_equal(shmfs_region_create("normal/node0/new3", 0, 010000), -EINVAL);
	assert_int_equal(shmfs_region_create(backing_of(fx, "new4", b), 0, 0600), -ENOTSUP);
	fx_path(p, fx->dir, "new5");
	assert_int_equal(shmfs_region_create(p, 0, 0600), -ENOTSUP);
	assert_int_equal(stat(p, &st), -1);

	assert_int_equal(shmfs_region_unlink("a"), 0);
	assert_int_equal(stat(tree_of(fx, "a", t), &st), -1);
	assert_int_equal(shmfs_region_unlink("a"), -ENOENT);
	assert_int_equal(shmfs_region_unlink(backing_of(fx, "b", b)), -ENOTSUP);
	assert_int_equal(stat(b, &st), 0);
}

/* ------------------------------------------------------ the table on its own */

static void table_lookups_by_key_handle_and_range(void **state)
{
	struct shmfs_join_table t = SHMFS_JOIN_TABLE_INIT;
	shmfs_join_info_t info = { .ref_cnt = 1, .shmem = (void *)0x10000, .sz = 0x1000,
				   .join = (void *)0x10040, .dev = 7, .ino = 9 };
	shmfs_join_info_t *e, *snap;
	size_t cnt;

	for (int i = 0; i < 40; i++) {   /* past the first growth */
		info.ino = 100 + i;
		info.shmem = (void *)(uintptr_t)(0x100000 * (i + 1));
		info.join = (char *)info.shmem + 8;
		assert_int_equal(shmfs_join_table_add(&t, &info, &e), 0);
	}
	assert_non_null(shmfs_join_table_find_file(&t, 7, 120));
	assert_null(shmfs_join_table_find_file(&t, 8, 120));
	e = shmfs_join_table_find_join(&t, (void *)(0x100000 * 5 + 8));
	assert_non_null(e);
	assert_int_equal(e->ino, 104);
	assert_ptr_equal(shmfs_join_table_find_addr(&t, 0x100000 * 5 + 0xfff, 0x100000 * 5 + 0xfff), e);
	assert_null(shmfs_join_table_find_addr(&t, 0x100000 * 5 + 0x1000, 0x100000 * 6 - 1));
	assert_int_equal(shmfs_join_table_snapshot(&t, &snap, &cnt), 0);
	assert_int_equal(cnt, 40);
	free(snap);
	shmfs_join_table_remove(&t, e);
	assert_null(shmfs_join_table_find_file(&t, 7, 104));
	assert_int_equal(t.cnt, 39);
	shmfs_join_table_clear(&t);
	assert_int_equal(t.cnt, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(join_maps_the_backing_file),
		T(second_join_returns_the_same_mapping_and_counts),
		T(every_path_form_reaches_one_mapping),
		T(different_regions_get_different_mappings),
		T(last_leave_unmaps),
		T(writes_are_seen_by_another_process),
		T(rdonly_join_cannot_write),
		T(rdwr_join_of_a_rdonly_joined_region_is_erofs),
		T(rdonly_join_of_a_rdwr_joined_region_shares_it),
		T(mlock_and_dontdump_are_applied),
		T(options_of_a_later_join_are_applied_to_the_mapping),
		T(random_address_is_page_aligned_and_varies),
		T(join_errors_are_precise),
		T(a_fifo_in_place_of_a_backing_file_is_refused_without_blocking),
		T(a_swapped_backing_file_is_refused),
		T(a_region_swapped_after_a_join_is_refused),
		T(a_recreated_region_is_joined_afresh),
		T(a_tree_path_naming_another_region_now_joins_that_one),
		T(leave_refuses_what_is_not_a_join),
		T(query_by_addr_finds_overlapping_ranges),
		T(query_by_path_and_join),
		T(iteration_visits_every_join_once),
		T(anonymous_joins_are_queryable_and_never_unmapped),
		T(anonymous_join_arguments_are_checked),
		T(anonymous_join_cannot_take_a_joined_range_or_handle),
		T(join_callback_sets_the_handle_and_runs_once),
		T(join_callback_returning_null_fails_the_join),
		T(join_callback_returning_another_joins_handle_fails_the_join),
		T(join_callback_joining_its_own_region_is_a_cycle),
		T(join_callback_leaving_its_own_region_is_a_cycle),
		T(leave_callback_joining_or_leaving_its_region_is_a_cycle),
		T(callbacks_may_join_and_leave_other_regions),
		T(opts_with_zero_size_are_refused),
		T(opts_shorter_than_a_field_leave_it_unused),
		T(the_library_logs_only_through_the_callback),
		T(region_info_describes_the_backing_file),
		T(region_create_and_unlink_go_through_the_tree),
		T(region_create_opts_refuse_bad_options_and_make_nothing),
		T(region_create_opts_exact_mode_ignores_the_umask),
		T(table_lookups_by_key_handle_and_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
