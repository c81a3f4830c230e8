/* test_pool.c - all-or-nothing resizing of the kernel's per-node huge page
 * pools, against the real kernel. It changes machine-wide pools, so it takes
 * the integration tests' lock and puts every pool back afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "pagetype.h"
#include "pool.h"
#include "util.h"

static struct shmfs_page_types types;
static const struct shmfs_page_type *huge, *gigantic;
static uint64_t saved_huge, saved_gigantic;
static int lock_fd = -1;

static uint64_t sysfs_pages(const struct shmfs_page_type *t, const char *file)
{
	char dir[200], path[256];
	uint64_t v = 0;

	assert_int_equal(shmfs_page_type_node_dir(t, 0, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(shmfs_read_u64(path, &v), 0);
	return v;
}

static void sysfs_set(const struct shmfs_page_type *t, uint64_t n)
{
	char dir[200], path[256];

	if (shmfs_page_type_node_dir(t, 0, dir, sizeof(dir)) < 0)
		return;
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	(void)shmfs_write_u64(path, n);
}

static int group_setup(void **state)
{
	mkdir("/run/lock", 0755);
	lock_fd = open("/run/lock/shmfs-tests.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
		return -1;
	/* meson gives this test no timeout (the wait for the lock may be long);
	 * its own limit starts once the lock is held */
	alarm(600);
	if (shmfs_page_types_load(&types) < 0)
		return -1;
	huge = shmfs_page_type_by_name(&types, "huge");
	gigantic = shmfs_page_type_by_name(&types, "gigantic");
	if (!huge || !gigantic)
		return -1;
	saved_huge = sysfs_pages(huge, "nr_hugepages");
	saved_gigantic = sysfs_pages(gigantic, "nr_hugepages");
	return 0;
}

static int group_teardown(void **state)
{
	sysfs_set(huge, saved_huge);
	sysfs_set(gigantic, saved_gigantic);
	close(lock_fd);
	return 0;
}

/* Each test starts from the pools as found. */
static int restore_pools(void **state)
{
	sysfs_set(huge, saved_huge);
	sysfs_set(gigantic, saved_gigantic);
	return 0;
}

static void stat_refuses_normal_pages_and_missing_nodes(void **state)
{
	struct shmfs_pool_stat s = { .total = 7 };

	assert_int_equal(shmfs_pool_stat(&types.type[SHMFS_PAGE_NORMAL], 0, &s), -EINVAL);
	assert_int_equal(shmfs_pool_stat(huge, 1023, &s), -ENOENT);
	assert_int_equal(shmfs_pool_stat(huge, -1, &s), -ENOENT);
	assert_int_equal(s.total, 7);
}

/* total and surplus are two sysfs reads: surplus may be read larger. */
static void persistent_pages_never_underflow(void **state)
{
	struct shmfs_pool_stat s = { .total = 5, .surplus = 2 };

	assert_int_equal(shmfs_pool_persistent(&s), 3);
	s.surplus = 7;
	assert_int_equal(shmfs_pool_persistent(&s), 0);
}

static void stat_matches_sysfs(void **state)
{
	struct shmfs_pool_stat s;

	assert_int_equal(shmfs_pool_resize(huge, 0, saved_huge + 3, NULL, NULL), 0);
	assert_int_equal(shmfs_pool_stat(huge, 0, &s), 0);
	assert_int_equal(s.total, sysfs_pages(huge, "nr_hugepages"));
	assert_int_equal(s.free, sysfs_pages(huge, "free_hugepages"));
	assert_int_equal(s.surplus, sysfs_pages(huge, "surplus_hugepages"));
}

static void resize_reaches_exactly_the_target(void **state)
{
	assert_int_equal(shmfs_pool_resize(huge, 0, saved_huge + 8, NULL, NULL), 0);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), saved_huge + 8);
	assert_int_equal(shmfs_pool_resize(huge, 0, saved_huge + 2, NULL, NULL), 0);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), saved_huge + 2);
	assert_int_equal(shmfs_pool_resize(huge, 0, saved_huge + 2, NULL, NULL), 0);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), saved_huge + 2);
}

struct progress_log {
	uint64_t last, target;
	int calls;
	int backwards;
};

static void progress_cb(uint64_t have, uint64_t target, void *ctx)
{
	struct progress_log *l = ctx;

	if (l->calls && have < l->last)
		l->backwards++;
	l->last = have;
	l->target = target;
	l->calls++;
}

static void progress_is_reported_as_pages_arrive(void **state)
{
	struct progress_log l = { 0 };
	uint64_t target = saved_huge + 64;

	assert_int_equal(shmfs_pool_resize(huge, 0, target, progress_cb, &l), 0);
	assert_true(l.calls > 2);
	assert_int_equal(l.backwards, 0);
	assert_int_equal(l.last, target);
	assert_int_equal(l.target, target);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), target);
}

/* Map n huge pages of the default size and touch them (in use). */
static char *use_huge_pages(uint64_t n, bool touch)
{
	size_t sz = n * huge->page_sz;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	assert_true(p != MAP_FAILED);
	if (touch)
		for (uint64_t i = 0; i < n; i++)
			p[i * huge->page_sz] = (char)('a' + i);
	return p;
}

static void shrinking_keeps_pages_in_use(void **state)
{
	uint64_t base = saved_huge - sysfs_pages(huge, "free_hugepages"); /* in use by others */
	char *p;

	assert_int_equal(shmfs_pool_resize(huge, 0, base + 6, NULL, NULL), 0);
	p = use_huge_pages(2, true);
	assert_int_equal(shmfs_pool_resize(huge, 0, base + 2, NULL, NULL), 0);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), base + 2);
	assert_int_equal(sysfs_pages(huge, "free_hugepages"), 0);
	assert_int_equal(p[0], 'a');
	assert_int_equal(p[huge->page_sz], 'b');
	munmap(p, 2 * huge->page_sz);
}

static void shrinking_below_pages_in_use_is_ebusy_and_changes_nothing(void **state)
{
	uint64_t base = saved_huge - sysfs_pages(huge, "free_hugepages");
	char *p;

	assert_int_equal(shmfs_pool_resize(huge, 0, base + 4, NULL, NULL), 0);
	p = use_huge_pages(3, true);
	assert_int_equal(shmfs_pool_resize(huge, 0, base + 2, NULL, NULL), -EBUSY);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), base + 4);
	assert_int_equal(sysfs_pages(huge, "free_hugepages"), 1);
	assert_int_equal(sysfs_pages(huge, "surplus_hugepages"), 0);
	assert_int_equal(p[2 * huge->page_sz], 'c');
	munmap(p, 3 * huge->page_sz);
}

static void shrinking_below_reserved_pages_is_ebusy_and_changes_nothing(void **state)
{
	uint64_t base = saved_huge - sysfs_pages(huge, "free_hugepages");
	char *p;

	assert_int_equal(shmfs_pool_resize(huge, 0, base + 4, NULL, NULL), 0);
	/* mapped, not touched: reserved, still counted free on the node */
	p = use_huge_pages(3, false);
	assert_int_equal(shmfs_pool_resize(huge, 0, base, NULL, NULL), -EBUSY);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), base + 4);
	assert_int_equal(sysfs_pages(huge, "surplus_hugepages"), 0);
	munmap(p, 3 * huge->page_sz);
}

static void a_target_beyond_memory_is_refused_before_the_kernel_is_asked(void **state)
{
	struct progress_log l = { 0 };
	long phys = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t mem = (uint64_t)phys * (uint64_t)psz;
	uint64_t target = mem / gigantic->page_sz + 2; /* more than the machine has */
	uint64_t before, max;

	assert_int_equal(shmfs_pool_max(gigantic, 0, &max), 0);
	assert_true(max < target);
	assert_int_equal(shmfs_pool_resize(gigantic, 0, saved_gigantic, NULL, NULL), 0);
	before = sysfs_pages(gigantic, "nr_hugepages");
	assert_int_equal(shmfs_pool_resize(gigantic, 0, target, progress_cb, &l), -ENOMEM);
	assert_int_equal(shmfs_pool_resize(gigantic, 0, UINT64_MAX, progress_cb, &l), -ENOMEM);
	assert_int_equal(sysfs_pages(gigantic, "nr_hugepages"), before);
	assert_int_equal(sysfs_pages(gigantic, "surplus_hugepages"), 0);
	assert_int_equal(l.calls, 0); /* not one page was asked for */
}

static void an_unprivileged_caller_gets_eacces(void **state)
{
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (child == 0) {
		if (setgid(54321) < 0 || setuid(54321) < 0)
			_exit(2);
		_exit(shmfs_pool_resize(huge, 0, saved_huge + 1, NULL, NULL) == -EACCES ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sysfs_pages(huge, "nr_hugepages"), saved_huge);
}

static void compaction_can_be_asked_for(void **state)
{
	assert_int_equal(shmfs_compact_memory(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(stat_refuses_normal_pages_and_missing_nodes, restore_pools),
		cmocka_unit_test(persistent_pages_never_underflow),
		cmocka_unit_test_setup(stat_matches_sysfs, restore_pools),
		cmocka_unit_test_setup(resize_reaches_exactly_the_target, restore_pools),
		cmocka_unit_test_setup(progress_is_reported_as_pages_arrive, restore_pools),
		cmocka_unit_test_setup(shrinking_keeps_pages_in_use, restore_pools),
		cmocka_unit_test_setup(shrinking_below_pages_in_use_is_ebusy_and_changes_nothing, restore_pools),
		cmocka_unit_test_setup(shrinking_below_reserved_pages_is_ebusy_and_changes_nothing, restore_pools),
		cmocka_unit_test_setup(a_target_beyond_memory_is_refused_before_the_kernel_is_asked, restore_pools),
		cmocka_unit_test_setup(an_unprivileged_caller_gets_eacces, restore_pools),
		cmocka_unit_test_setup(compaction_can_be_asked_for, restore_pools),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
