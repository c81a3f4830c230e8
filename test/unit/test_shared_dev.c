/* test_shared_dev.c - opening and sizing a shared backing (shared_dev.c):
 * a file grows to the size asked for, and a file of fixed size is not taken
 * for bigger than it is. A PCI BAR's sysfs file (an ivshmem device in a VM)
 * accepts ftruncate and ignores it; /proc/self/comm does the same for any
 * user, so it stands for one here. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared_dev.h"

#define MIB (1ULL << 20)

static uint64_t size_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

static void grows_a_file(void **state)
{
	int fd = memfd_create("shared_dev", MFD_CLOEXEC);
	uint64_t size = 1;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(shmfs_shared_dev_grow(fd, 4 * MIB, &size), 0);
	assert_int_equal(size, 4 * MIB);
	assert_int_equal(size_of(fd), 4 * MIB);
	close(fd);
}

static void never_shrinks(void **state)
{
	int fd = memfd_create("shared_dev", MFD_CLOEXEC);
	uint64_t size = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * MIB), 0);
	assert_int_equal(shmfs_shared_dev_grow(fd, 2 * MIB, &size), 0);
	assert_int_equal(size, 8 * MIB);
	assert_int_equal(size_of(fd), 8 * MIB);
	close(fd);
}

static void fixed_size_file_keeps_its_size(void **state)
{
	int fd = open("/proc/self/comm", O_RDWR | O_CLOEXEC);
	uint64_t before, size = 1;

	(void)state;
	assert_true(fd >= 0);
	before = size_of(fd);
	/* the kernel takes the truncate and ignores it ... */
	assert_int_equal(ftruncate(fd, 64 * MIB), 0);
	assert_int_equal(size_of(fd), before);
	/* ... and grow says what the file really is */
	assert_int_equal(shmfs_shared_dev_grow(fd, 64 * MIB, &size), 0);
	assert_int_equal(size, before);
	close(fd);
}

static void refused_growth_is_an_error(void **state)
{
	int fd = memfd_create("shared_dev", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint64_t size = 7;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * MIB), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	assert_int_equal(shmfs_shared_dev_grow(fd, 4 * MIB, &size), -EPERM);
	assert_int_equal(size, 7);   /* not clobbered on failure */
	assert_int_equal(size_of(fd), 2 * MIB);
	close(fd);
}

static void not_a_regular_file(void **state)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	uint64_t size = 7;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(shmfs_shared_dev_grow(fd, 4 * MIB, &size), -ENODEV);
	assert_int_equal(size, 7);
	close(fd);
}

static void open_tells_the_size(void **state)
{
	char path[] = "/tmp/test_shared_dev.XXXXXX";
	int tmp = mkstemp(path), fd = -1;
	uint64_t size = 0;

	(void)state;
	assert_true(tmp >= 0);
	assert_int_equal(ftruncate(tmp, 6 * MIB), 0);
	assert_int_equal(shmfs_shared_dev_open(path, true, &fd, &size), 0);
	assert_int_equal(size, 6 * MIB);
	close(fd);
	close(tmp);
	unlink(path);
	/* a character device without a sysfs size (not a DAX device), a directory */
	assert_int_equal(shmfs_shared_dev_open("/dev/null", true, &fd, &size), -ENODEV);
	assert_int_equal(shmfs_shared_dev_open("/tmp", true, &fd, &size), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grows_a_file),
		cmocka_unit_test(never_shrinks),
		cmocka_unit_test(fixed_size_file_keeps_its_size),
		cmocka_unit_test(refused_growth_is_an_error),
		cmocka_unit_test(not_a_regular_file),
		cmocka_unit_test(open_tells_the_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
