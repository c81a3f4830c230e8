/* test_escape.c - the default backing root comes from the mountpoint the way
 * systemd-escape --path writes it, so two mounts never share one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backing_path.h"

static const char *esc(const char *in)
{
	static char buf[256];

	assert_int_equal(shmfs_escape_path(in, buf, sizeof(buf)), 0);
	return buf;
}

static void matches_systemd_escape(void **state)
{
	assert_string_equal(esc("/mnt/shmfs"), "mnt-shmfs");
	assert_string_equal(esc("/"), "-");
	assert_string_equal(esc("/tmp/shmfs-mount.AbC/mnt"), "tmp-shmfs\\x2dmount.AbC-mnt");
	assert_string_equal(esc("/a//b/"), "a-b");
	assert_string_equal(esc("/a/.hidden"), "a-.hidden");
	assert_string_equal(esc("/.a"), "\\x2ea");
	assert_string_equal(esc("/a b"), "a\\x20b");
}

static void default_backing_is_under_run_shmfs(void **state)
{
	char *p;

	assert_int_equal(shmfs_backing_default("/mnt/shmfs", true, &p), 0);
	assert_string_equal(p, "/run/shmfs/mnt-shmfs");
	free(p);
}

static void refuses_what_does_not_fit(void **state)
{
	char buf[4];

	assert_int_equal(shmfs_escape_path("/abcdef", buf, sizeof(buf)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matches_systemd_escape),
		cmocka_unit_test(default_backing_is_under_run_shmfs),
		cmocka_unit_test(refuses_what_does_not_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
