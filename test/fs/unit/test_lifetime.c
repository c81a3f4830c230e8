/* test_lifetime.c - the pure parts of region lifetimes: which file names are
 * DPDK's hugepage files (and their file prefix), and the lines of
 * /proc/locks that say who holds a lock on which file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "daemon.h"

static void dpdk_prefix_of_its_file_names(void **state)
{
	char p[64];

	assert_int_equal(shmfs_dpdk_prefix("rtemap_0", p, sizeof(p)), 0);
	assert_string_equal(p, "rte");
	assert_int_equal(shmfs_dpdk_prefix("othermap_12", p, sizeof(p)), 0);
	assert_string_equal(p, "other");
	/* the last "map_" counts: a prefix may contain one */
	assert_int_equal(shmfs_dpdk_prefix("my_map_map_3", p, sizeof(p)), 0);
	assert_string_equal(p, "my_map_");
}

static void other_names_are_not_dpdk_files(void **state)
{
	const char *no[] = { "bitmap_x", "map_0", "rtemap_", "rtemap_1a", "rtemap", "heatmap_-1", "wksp" };
	char p[64];

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(shmfs_dpdk_prefix(no[i], p, sizeof(p)), -EINVAL);
	assert_int_equal(shmfs_dpdk_prefix("longprefixmap_0", p, 4), -ENAMETOOLONG);
}

static void parses_lock_holders(void **state)
{
	pid_t pid;
	dev_t dev;
	ino_t ino;

	assert_int_equal(shmfs_locks_parse_line("2: FLOCK  ADVISORY  READ 12007 00:28:52455 0 EOF\n",
						&pid, &dev, &ino), 0);
	assert_int_equal(pid, 12007);
	assert_int_equal(major(dev), 0);
	assert_int_equal(minor(dev), 0x28);
	assert_int_equal(ino, 52455);
	assert_int_equal(shmfs_locks_parse_line("7: POSIX  ADVISORY  WRITE 99 fe:01:123 0 4095\n",
						&pid, &dev, &ino), 0);
	assert_int_equal(pid, 99);
	assert_int_equal(major(dev), 0xfe);
	assert_int_equal(minor(dev), 1);
	/* open file description locks have no owning pid */
	assert_int_equal(shmfs_locks_parse_line("3: OFDLCK ADVISORY  READ -1 00:05:77 0 EOF\n",
						&pid, &dev, &ino), 0);
	assert_int_equal(pid, -1);
}

static void a_waiter_holds_nothing_and_junk_is_refused(void **state)
{
	pid_t pid;
	dev_t dev;
	ino_t ino;

	assert_int_equal(shmfs_locks_parse_line("2: -> FLOCK  ADVISORY  WRITE 4242 00:28:52455 0 EOF\n",
						&pid, &dev, &ino), -ENOENT);
	assert_int_equal(shmfs_locks_parse_line("", &pid, &dev, &ino), -EINVAL);
	assert_int_equal(shmfs_locks_parse_line("2: FLOCK ADVISORY READ x 00:28:1 0 EOF", &pid, &dev, &ino),
			 -EINVAL);
	assert_int_equal(shmfs_locks_parse_line("2: FLOCK ADVISORY READ 1 0028:1 0 EOF", &pid, &dev, &ino),
			 -EINVAL);
}

static void lifetime_names_round_trip(void **state)
{
	enum shmfs_lifetime l;

	for (int i = SHMFS_LIFETIME_PERSISTENT; i <= SHMFS_LIFETIME_LOCK; i++) {
		assert_int_equal(shmfs_lifetime_parse(shmfs_lifetime_name((enum shmfs_lifetime)i), &l), 0);
		assert_int_equal(l, i);
	}
	assert_int_equal(shmfs_lifetime_parse("Process", &l), -EINVAL);
	assert_int_equal(shmfs_lifetime_parse("process\n", &l), -EINVAL);
	assert_int_equal(shmfs_lifetime_parse("", &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dpdk_prefix_of_its_file_names),
		cmocka_unit_test(other_names_are_not_dpdk_files),
		cmocka_unit_test(parses_lock_holders),
		cmocka_unit_test(a_waiter_holds_nothing_and_junk_is_refused),
		cmocka_unit_test(lifetime_names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
