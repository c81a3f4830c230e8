/* test_policy.c - placement policies: bind to one node, or split page runs
 * over several nodes, in canonical form only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon.h"

static void parses_bind(void **state)
{
	struct shmfs_policy p;
	uint64_t end;

	assert_int_equal(shmfs_policy_parse("bind:2", &p), 0);
	assert_int_equal(p.cnt, 1);
	assert_int_equal(shmfs_policy_node(&p, 0, 0, &end), 2);
	assert_int_equal(shmfs_policy_node(&p, 0, 1000000, &end), 2);
}

static void splits_page_runs_then_home(void **state)
{
	struct shmfs_policy p;
	uint64_t end;

	assert_int_equal(shmfs_policy_parse("split:1=2,0=3", &p), 0);
	assert_int_equal(p.cnt, 2);
	assert_int_equal(shmfs_policy_node(&p, 7, 0, &end), 1);
	assert_int_equal(end, 2);
	assert_int_equal(shmfs_policy_node(&p, 7, 1, &end), 1);
	assert_int_equal(shmfs_policy_node(&p, 7, 2, &end), 0);
	assert_int_equal(end, 5);
	assert_int_equal(shmfs_policy_node(&p, 7, 4, &end), 0);
	assert_int_equal(shmfs_policy_node(&p, 7, 5, &end), 7);
	assert_int_equal(end, UINT64_MAX);
}

static void no_policy_is_home(void **state)
{
	struct shmfs_policy p = { 0 };
	uint64_t end;

	assert_int_equal(shmfs_policy_node(&p, 3, 9, &end), 3);
}

static void refuses_non_canonical(void **state)
{
	struct shmfs_policy p;

	assert_int_equal(shmfs_policy_parse("", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("bind:", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("bind:01", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("bind:1024", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("interleave:0,1", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=0", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=1,", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=1,0=2", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=1 ", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=+1", &p), -EINVAL);
	assert_int_equal(shmfs_policy_parse("split:0=1=2", &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_bind),
		cmocka_unit_test(splits_page_runs_then_home),
		cmocka_unit_test(no_policy_is_home),
		cmocka_unit_test(refuses_non_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
