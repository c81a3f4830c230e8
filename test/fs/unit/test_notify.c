/* test_notify.c - the notify queue: one pending invalidation per inode and
 * per (directory, name), a bound, and no invalidation lost at the bound. No
 * FUSE session: nothing is sent, the queue is only filled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "daemon.h"

static struct shmfs_fs *fs_new(void)
{
	struct shmfs_fs *fs = calloc(1, sizeof(*fs));

	assert_non_null(fs);
	shmfs_notify_init(fs);
	return fs;
}

static void fs_free(struct shmfs_fs *fs)
{
	shmfs_notify_stop(fs); /* no thread: drops what is queued */
	free(fs);
}

static void one_item_per_inode(void **state)
{
	struct shmfs_fs *fs = fs_new();

	for (int i = 0; i < 1000; i++)
		shmfs_notify_inval_inode(fs, 42);
	assert_int_equal(shmfs_notify_pending(fs), 1);
	shmfs_notify_inval_inode(fs, 43);
	assert_int_equal(shmfs_notify_pending(fs), 2);
	assert_int_equal(fs->notify.coalesced, 999);
	fs_free(fs);
}

static void one_item_per_name(void **state)
{
	struct shmfs_fs *fs = fs_new();

	for (int i = 0; i < 100; i++)
		shmfs_notify_inval_entry(fs, 7, "a");
	assert_int_equal(shmfs_notify_pending(fs), 1);
	shmfs_notify_inval_entry(fs, 7, "b");
	shmfs_notify_inval_entry(fs, 8, "a");
	/* an entry and an inode of the same number are different things */
	shmfs_notify_inval_inode(fs, 7);
	assert_int_equal(shmfs_notify_pending(fs), 4);
	fs_free(fs);
}

static void bounded_and_nothing_lost(void **state)
{
	struct shmfs_fs *fs = fs_new();
	struct timespec t0, t1;
	int64_t ms;

	/* as if the helper thread ran but sent nothing: a sender waits */
	fs->notify.running = true;
	for (uint64_t i = 1; i <= SHMFS_NOTIFY_MAX; i++)
		shmfs_notify_inval_inode(fs, i);
	assert_int_equal(shmfs_notify_pending(fs), SHMFS_NOTIFY_MAX);
	/* full: a key already pending costs nothing and does not wait */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	shmfs_notify_inval_inode(fs, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 50);
	assert_int_equal(shmfs_notify_pending(fs), SHMFS_NOTIFY_MAX);
	/* a new one waits a bounded time for room, then is queued anyway */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	shmfs_notify_inval_entry(fs, 1, "late");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 90 && ms < 5000);
	assert_int_equal(shmfs_notify_pending(fs), SHMFS_NOTIFY_MAX + 1);
	assert_int_equal(fs->notify.overflowed, 1);
	fs->notify.running = false;
	fs_free(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_item_per_inode),
		cmocka_unit_test(one_item_per_name),
		cmocka_unit_test(bounded_and_nothing_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
