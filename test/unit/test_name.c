/* test_name.c - the region name rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "name.h"

static void accepts_fd_shmem_names(void **state)
{
	assert_int_equal(shmfs_name_check("a"), 0);
	assert_int_equal(shmfs_name_check("wksp"), 0);
	assert_int_equal(shmfs_name_check("0test.wksp_1-x"), 0);
	assert_int_equal(shmfs_name_check("A23456789012345678901234567890123456789"), 0); /* 39 */
}

static void refuses_bad_first_character(void **state)
{
	assert_int_equal(shmfs_name_check(""), -EINVAL);
	assert_int_equal(shmfs_name_check(".hidden"), -EINVAL);
	assert_int_equal(shmfs_name_check("_x"), -EINVAL);
	assert_int_equal(shmfs_name_check("-x"), -EINVAL);
	assert_int_equal(shmfs_name_check(".."), -EINVAL);
}

static void refuses_bad_characters(void **state)
{
	assert_int_equal(shmfs_name_check("a/b"), -EINVAL);
	assert_int_equal(shmfs_name_check("a b"), -EINVAL);
	assert_int_equal(shmfs_name_check("caf\xc3\xa9"), -EINVAL);
	assert_int_equal(shmfs_name_check("a\nb"), -EINVAL);
}

static void refuses_long_names(void **state)
{
	assert_int_equal(shmfs_name_check("A234567890123456789012345678901234567890"), -ENAMETOOLONG); /* 40 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_fd_shmem_names),
		cmocka_unit_test(refuses_bad_first_character),
		cmocka_unit_test(refuses_bad_characters),
		cmocka_unit_test(refuses_long_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
