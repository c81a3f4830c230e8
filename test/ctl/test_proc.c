/* test_proc.c - process facts from /proc: the maps and stat parsers, mappers
 * of a file, start times, and liveness that zombies and reused pids cannot
 * fool. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc.h"

/* A stat line of a process whose command name is "a) b (c" - spaces and
 * parentheses, as a user may name a thread. Field 22 (start time) = 4242. */
static const char stat_tricky[] =
	"1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 "
	"10000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

static void stat_fields_are_read_after_the_last_paren(void **state)
{
	char st = 0;
	uint64_t start = 0;

	assert_int_equal(shmfs_proc_parse_stat(stat_tricky, &st, &start), 0);
	assert_int_equal(st, 'S');
	assert_int_equal(start, 4242);
}

static void stat_of_a_zombie_reports_state_z(void **state)
{
	char st = 0;

	assert_int_equal(shmfs_proc_parse_stat("77 (sh) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0",
					       &st, NULL), 0);
	assert_int_equal(st, 'Z');
}

static void stat_truncated_or_garbled_is_einval(void **state)
{
	static const char *bad[] = {
		"", "1234", "1234 (x", "1234 (x) S 1 2 3", "1234 (x)S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x 0",
		"1 (x) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	};
	char st = '?';
	uint64_t start = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_proc_parse_stat(bad[i], &st, &start), -EINVAL);
	assert_int_equal(st, '?');
	assert_int_equal(start, 7);
}

static void maps_line_gives_device_and_inode(void **state)
{
	dev_t dev;
	ino_t ino;

	assert_int_equal(shmfs_proc_parse_maps_line(
		"7f0000000000-7f0000200000 rw-s 00000000 00:2f 1234567  /run/shmfs/x/.huge/wksp (deleted)\n",
		&dev, &ino), 0);
	assert_true(dev == makedev(0, 0x2f));
	assert_true(ino == 1234567);
	assert_int_equal(shmfs_proc_parse_maps_line(
		"00400000-00452000 r-xp 00000000 fd:1a 8 /usr/bin/x", &dev, &ino), 0);
	assert_true(dev == makedev(0xfd, 0x1a));
	assert_true(ino == 8);
	/* anonymous mapping: inode 0, no path */
	assert_int_equal(shmfs_proc_parse_maps_line(
		"7ffd0000-7ffd1000 rw-p 00000000 00:00 0\n", &dev, &ino), 0);
	assert_true(ino == 0);
}

static void maps_line_garbled_is_einval(void **state)
{
	dev_t dev;
	ino_t ino;

	assert_int_equal(shmfs_proc_parse_maps_line("", &dev, &ino), -EINVAL);
	assert_int_equal(shmfs_proc_parse_maps_line("a-b rw-p 0 00-00 0", &dev, &ino), -EINVAL);
	assert_int_equal(shmfs_proc_parse_maps_line("a-b rw-p 0 00:00 x", &dev, &ino), -EINVAL);
	assert_int_equal(shmfs_proc_parse_maps_line("a-b rw-p 0 00:00", &dev, &ino), -EINVAL);
}

static void own_start_time_is_readable(void **state)
{
	uint64_t start = 0;

	assert_int_equal(shmfs_proc_start_time(getpid(), &start), 0);
	assert_true(start > 0);
}

static void missing_pid_has_no_start_time(void **state)
{
	uint64_t start = 5;

	assert_int_equal(shmfs_proc_start_time(0, &start), -ESRCH);
	assert_int_equal(shmfs_proc_start_time(-3, &start), -ESRCH);
	assert_int_equal(start, 5);
}

static void a_live_process_is_alive(void **state)
{
	uint64_t start;

	assert_int_equal(shmfs_proc_start_time(getpid(), &start), 0);
	assert_true(shmfs_proc_alive(getpid(), start));
	assert_true(shmfs_proc_alive(getpid(), 0));
	assert_true(shmfs_proc_alive(1, 0));
}

static void a_reused_pid_with_another_start_time_is_dead(void **state)
{
	uint64_t start;

	assert_int_equal(shmfs_proc_start_time(getpid(), &start), 0);
	assert_false(shmfs_proc_alive(getpid(), start + 1));
	assert_false(shmfs_proc_alive(getpid(), start - 1));
}

static void a_zombie_child_is_dead(void **state)
{
	uint64_t start;
	char path[64], buf[512];
	pid_t child = fork();
	int status, fd;
	ssize_t n;

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	/* Wait until the kernel shows it as a zombie, without reaping it. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
	for (int i = 0; i < 10000; i++) {
		char st = 0;

		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_int_equal(shmfs_proc_parse_stat(buf, &st, &start), 0);
		if (st == 'Z')
			break;
		usleep(1000);
	}
	assert_false(shmfs_proc_alive(child, start));
	assert_false(shmfs_proc_alive(child, 0));
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_false(shmfs_proc_alive(child, start));
}

static int map_tmpfile(struct stat *st, void **addr)
{
	char path[] = "/dev/shm/shmfs-test-proc-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(fstat(fd, st), 0);
	*addr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(*addr != MAP_FAILED);
	return fd;
}

static void a_mapper_of_a_file_is_found(void **state)
{
	struct stat st;
	void *addr;
	int fd = map_tmpfile(&st, &addr);
	pid_t *pids = NULL;
	size_t cnt = 0;

	assert_int_equal(shmfs_proc_mappers(st.st_dev, st.st_ino, &pids, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(pids[0], getpid());
	free(pids);

	munmap(addr, 4096);
	assert_int_equal(shmfs_proc_mappers(st.st_dev, st.st_ino, &pids, &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_null(pids);
	close(fd);
}

static void mappers_are_listed_ascending_once_each(void **state)
{
	struct stat st;
	void *addr, *addr2;
	int fd = map_tmpfile(&st, &addr);
	int pfd[2];
	pid_t child, *pids = NULL;
	size_t cnt = 0;
	char c;

	/* a second mapping in this process must not list it twice */
	addr2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(addr2 != MAP_FAILED);
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(pfd[1]);
		(void)!read(pfd[0], &c, 1); /* hold the inherited mapping until told */
		_exit(0);
	}
	close(pfd[0]);
	assert_int_equal(shmfs_proc_mappers(st.st_dev, st.st_ino, &pids, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_true(pids[0] < pids[1]);
	assert_true((pids[0] == getpid() && pids[1] == child) || (pids[1] == getpid() && pids[0] == child));
	free(pids);
	close(pfd[1]);
	waitpid(child, NULL, 0);
	munmap(addr2, 4096);
	munmap(addr, 4096);
	close(fd);
}

static void multi_scan_matches_each_file(void **state)
{
	struct stat st1, st2;
	void *a1, *a2;
	int fd1 = map_tmpfile(&st1, &a1), fd2 = map_tmpfile(&st2, &a2);
	struct shmfs_file_id ids[3] = {
		{ .dev = st1.st_dev, .ino = st1.st_ino },
		{ .dev = st2.st_dev, .ino = st2.st_ino },
		{ .dev = st2.st_dev, .ino = st2.st_ino + 100000 },
	};

	munmap(a2, 4096);
	assert_int_equal(shmfs_proc_mappers_multi(ids, 3), 0);
	assert_int_equal(ids[0].pid_cnt, 1);
	assert_int_equal(ids[0].pids[0], getpid());
	assert_int_equal(ids[1].pid_cnt, 0);
	assert_int_equal(ids[2].pid_cnt, 0);
	shmfs_file_mappers_free(ids, 3);
	munmap(a1, 4096);
	close(fd1);
	close(fd2);
}

/* One scan gives a table of every mapped file of the devices asked for:
 * one entry per (file, process) however many mappings, found by lookup. */
static void mappings_table_has_one_entry_per_file_and_process(void **state)
{
	struct stat st1, st2;
	void *a1, *a1b, *a2;
	int fd1 = map_tmpfile(&st1, &a1), fd2 = map_tmpfile(&st2, &a2);
	struct shmfs_mapping *m = NULL;
	size_t cnt = 0, n, first;

	a1b = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd1, 0);
	assert_true(a1b != MAP_FAILED);
	assert_int_equal(shmfs_proc_mappings(&st1.st_dev, 1, &m, &cnt), 0);
	first = shmfs_mappings_lookup(m, cnt, st1.st_dev, st1.st_ino, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[first].pid, getpid());
	first = shmfs_mappings_lookup(m, cnt, st2.st_dev, st2.st_ino, &n);
	assert_int_equal(n, 1);
	assert_int_equal(m[first].pid, getpid());
	shmfs_mappings_lookup(m, cnt, st2.st_dev, st2.st_ino + 100000, &n);
	assert_int_equal(n, 0);
	for (size_t i = 1; i < cnt; i++)
		assert_true(m[i - 1].dev < m[i].dev ||
			    (m[i - 1].dev == m[i].dev && (m[i - 1].ino < m[i].ino ||
			     (m[i - 1].ino == m[i].ino && m[i - 1].pid < m[i].pid))));
	free(m);
	munmap(a1b, 4096);
	munmap(a1, 4096);
	munmap(a2, 4096);
	close(fd1);
	close(fd2);
}

static void mappings_table_leaves_out_other_devices(void **state)
{
	struct stat st;
	void *a;
	int fd = map_tmpfile(&st, &a);
	dev_t other = makedev(major(st.st_dev) + 1, minor(st.st_dev));
	struct shmfs_mapping *m = NULL;
	size_t cnt = 0, n;

	assert_int_equal(shmfs_proc_mappings(&other, 1, &m, &cnt), 0);
	shmfs_mappings_lookup(m, cnt, st.st_dev, st.st_ino, &n);
	assert_int_equal(n, 0);
	for (size_t i = 0; i < cnt; i++)
		assert_true(m[i].dev == other);
	free(m);
	munmap(a, 4096);
	close(fd);
}

static void lookup_in_an_empty_table_finds_nothing(void **state)
{
	size_t n = 7;

	assert_int_equal(shmfs_mappings_lookup(NULL, 0, 1, 2, &n), 0);
	assert_int_equal(n, 0);
}

static pthread_barrier_t thread_barrier;

static void *thread_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	pthread_barrier_wait(&thread_barrier); /* tid published */
	pthread_barrier_wait(&thread_barrier); /* checked: may end */
	return NULL;
}

static void a_thread_maps_to_its_process(void **state)
{
	pid_t tid = 0, tgid = 0;
	pthread_t th;

	assert_int_equal(shmfs_proc_tgid(getpid(), &tgid), 0);
	assert_int_equal(tgid, getpid());
	pthread_barrier_init(&thread_barrier, NULL, 2);
	assert_int_equal(pthread_create(&th, NULL, thread_tid, &tid), 0);
	pthread_barrier_wait(&thread_barrier);
	assert_true(tid != getpid());
	assert_int_equal(shmfs_proc_tgid(tid, &tgid), 0);
	assert_int_equal(tgid, getpid());
	pthread_barrier_wait(&thread_barrier);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&thread_barrier);
	assert_int_equal(shmfs_proc_tgid(-1, &tgid), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stat_fields_are_read_after_the_last_paren),
		cmocka_unit_test(stat_of_a_zombie_reports_state_z),
		cmocka_unit_test(stat_truncated_or_garbled_is_einval),
		cmocka_unit_test(maps_line_gives_device_and_inode),
		cmocka_unit_test(maps_line_garbled_is_einval),
		cmocka_unit_test(own_start_time_is_readable),
		cmocka_unit_test(missing_pid_has_no_start_time),
		cmocka_unit_test(a_live_process_is_alive),
		cmocka_unit_test(a_reused_pid_with_another_start_time_is_dead),
		cmocka_unit_test(a_zombie_child_is_dead),
		cmocka_unit_test(a_mapper_of_a_file_is_found),
		cmocka_unit_test(mappers_are_listed_ascending_once_each),
		cmocka_unit_test(multi_scan_matches_each_file),
		cmocka_unit_test(mappings_table_has_one_entry_per_file_and_process),
		cmocka_unit_test(mappings_table_leaves_out_other_devices),
		cmocka_unit_test(lookup_in_an_empty_table_finds_nothing),
		cmocka_unit_test(a_thread_maps_to_its_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
