/* test_mountinfo.c - reading /proc/self/mountinfo (the escapes are covered
 * by the integration tests: the default backing root holds a backslash). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "mountinfo.h"

static void finds_the_mount_at_a_path(void **state)
{
	struct shmfs_mount m;
	struct stat st;

	assert_int_equal(shmfs_mountinfo_at("/proc", &m), 0);
	assert_string_equal(m.path, "/proc");
	assert_string_equal(m.fstype, "proc");
	assert_int_equal(stat("/proc", &st), 0);
	assert_true(m.dev == st.st_dev);
}

static void a_path_without_a_mount_is_enoent(void **state)
{
	struct shmfs_mount m;

	assert_int_equal(shmfs_mountinfo_at("/proc/self", &m), -ENOENT);
	assert_int_equal(shmfs_mountinfo_at("/no/such/mount", &m), -ENOENT);
}

static int count(const struct shmfs_mount *m, void *arg)
{
	return ++*(int *)arg == 2 ? 7 : 0;
}

static void a_walk_stops_at_a_non_zero_return(void **state)
{
	int n = 0;

	assert_int_equal(shmfs_mountinfo_each(count, &n), 7);
	assert_int_equal(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_the_mount_at_a_path),
		cmocka_unit_test(a_path_without_a_mount_is_enoent),
		cmocka_unit_test(a_walk_stops_at_a_non_zero_return),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
