/* test_heap_procs.c - several processes on one heap in a shared mapping:
 * they allocate, fill, hand offsets to each other, verify and free; then
 * processes are SIGKILLed at random moments, after which the heap passes
 * check and reclaim returns exactly what the dead held. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "heap_test.h"

#define MEM_SZ   (64ull << 20)
#define SLOT_CNT 4096
#define NPROC    3

/* An allocation carries its size and offset, so whoever frees it can verify
 * it without knowing who wrote it. */
static void block_fill(shmfs_heap_t *h, uint64_t off, uint64_t sz)
{
	uint8_t *p = shmfs_heap_ptr(h, off);

	memcpy(p, &sz, 8);
	ht_fill(p + 8, sz - 8, off);
}

static int block_verify(shmfs_heap_t *h, uint64_t off)
{
	uint8_t *p = shmfs_heap_ptr(h, off);
	uint64_t sz;

	memcpy(&sz, p, 8);
	if (sz < 8 || sz > shmfs_heap_usable_size(h, off))
		return -1;
	return ht_verify(p + 8, sz - 8, off);
}

static uint64_t random_size(uint64_t *rs)
{
	uint64_t r = ht_rand(rs);

	if (r % 32 == 0)
		return 8 + (r >> 8) % 60000;
	return 8 + ((r >> 8) & ((1ull << (3 + (r >> 40) % 10)) - 1));
}

/* Child of the sharing test: exchange blocks through the shared slots. */
static int sharer(uint8_t *mem, _Atomic uint64_t *slots, uint64_t ops, uint64_t seed)
{
	shmfs_heap_t *h;
	uint64_t rs = seed;

	if (shmfs_heap_join(mem, MEM_SZ, &h) < 0)
		return 10;
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t sz = random_size(&rs), off = shmfs_heap_malloc(h, sz), old;

		if (!off)
			return 11;
		block_fill(h, off, sz);
		old = atomic_exchange(&slots[ht_rand(&rs) % SLOT_CNT], off);
		if (old && block_verify(h, old) < 0)
			return 12;
		if (old && shmfs_heap_free(h, old) < 0)
			return 13;
	}
	shmfs_heap_leave(h);
	return 0;
}

static void processes_share_blocks_and_patterns_survive(void **state)
{
	uint8_t *mem = ht_map(MEM_SZ);
	_Atomic uint64_t *slots = ht_map(SLOT_CNT * 8);
	uint64_t ops = ht_scale(300000);
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h;
	pid_t pids[NPROC];
	char msg[256];

	assert_int_equal(shmfs_heap_format(mem, MEM_SZ, NULL), 0);
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(sharer(mem, slots, ops, 0x9e3779b97f4a7c15ull * (i + 1)));
	}
	for (int i = 0; i < NPROC; i++) {
		int ws;

		assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
		assert_true(WIFEXITED(ws));
		assert_int_equal(WEXITSTATUS(ws), 0);
	}
	assert_int_equal(shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)), 0);
	assert_int_equal(shmfs_heap_join(mem, MEM_SZ, &h), 0);
	for (int i = 0; i < SLOT_CNT; i++) {
		if (!slots[i])
			continue;
		assert_int_equal(block_verify(h, slots[i]), 0);
		assert_int_equal(shmfs_heap_free(h, slots[i]), 0);
	}
	assert_int_equal(shmfs_heap_stats(h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	shmfs_heap_leave(h);
	ht_unmap(slots, SLOT_CNT * 8);
	ht_unmap(mem, MEM_SZ);
	(void)state;
}

/* Child of the kill test: private churn until killed. */
static _Noreturn void churner(uint8_t *mem, uint64_t seed, int ready_fd)
{
	static uint64_t held[512];
	shmfs_heap_t *h;
	uint64_t rs = seed;

	if (shmfs_heap_join(mem, MEM_SZ, &h) < 0)
		_exit(10);
	if (write(ready_fd, "j", 1) != 1)
		_exit(13);
	for (;;) {
		unsigned i = ht_rand(&rs) % 512;

		if (held[i]) {
			if (block_verify(h, held[i]) < 0 || shmfs_heap_free(h, held[i]) < 0)
				_exit(12);
			held[i] = 0;
		} else {
			uint64_t sz = random_size(&rs);

			held[i] = shmfs_heap_malloc(h, sz);
			if (!held[i])
				_exit(11);
			block_fill(h, held[i], sz);
		}
	}
}

static void killed_processes_leave_a_consistent_heap_and_are_reclaimed_exactly(void **state)
{
	uint8_t *mem = ht_map(MEM_SZ);
	uint64_t rs = 77, mine[64], mine_bytes = 0, rounds = ht_scale(12);
	shmfs_heap_reclaim_stats_t rc = { .sz = sizeof(rc) };
	shmfs_heap_stats_t before = { .sz = sizeof(before) }, after = { .sz = sizeof(after) };
	shmfs_heap_t *h;
	char msg[256];

	assert_int_equal(shmfs_heap_format(mem, MEM_SZ, NULL), 0);
	assert_int_equal(shmfs_heap_join(mem, MEM_SZ, &h), 0);
	for (int i = 0; i < 64; i++) {
		uint64_t sz = random_size(&rs);

		mine[i] = shmfs_heap_malloc(h, sz);
		assert_true(mine[i]);
		block_fill(h, mine[i], sz);
		mine_bytes += shmfs_heap_usable_size(h, mine[i]);
	}
	for (uint64_t round = 0; round < rounds; round++) {
		pid_t pids[NPROC];
		int ready[2];
		char c;

		assert_int_equal(pipe(ready), 0);
		for (int i = 0; i < NPROC; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0)
				churner(mem, ht_rand(&rs) | 1, ready[1]);
		}
		/* Kill only joined processes: a process killed before it
		 * joined owns nothing and would not be counted. */
		for (int i = 0; i < NPROC; i++)
			assert_int_equal(read(ready[0], &c, 1), 1);
		close(ready[0]);
		close(ready[1]);
		for (int i = 0; i < NPROC; i++) {
			struct timespec ts = { 0, (long)(1 + ht_rand(&rs) % 30) * 1000000L };
			int ws;

			nanosleep(&ts, NULL);
			kill(pids[i], SIGKILL);
			assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
			if (!WIFSIGNALED(ws))
				fail_msg("child exited with %d before being killed", WEXITSTATUS(ws));
		}
		if (shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)) < 0)
			fail_msg("check after kills: %s", msg);
		assert_int_equal(shmfs_heap_stats(h, &before), 0);
		assert_int_equal(shmfs_heap_reclaim(mem, MEM_SZ, &rc), 0);
		assert_int_equal(rc.owner_cnt, NPROC);
		assert_int_equal(shmfs_heap_stats(h, &after), 0);
		/* Exactly the dead processes' blocks went; ours stayed. */
		assert_int_equal(after.used, mine_bytes);
		assert_int_equal(after.alloc_cnt, 64);
		assert_int_equal(rc.bytes, before.used - mine_bytes);
		assert_int_equal(rc.alloc_cnt, before.alloc_cnt - 64);
		assert_int_equal(after.owner_cnt, 1);
		if (shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)) < 0)
			fail_msg("check after reclaim: %s", msg);
		for (int i = 0; i < 64; i++)
			assert_int_equal(block_verify(h, mine[i]), 0);
	}
	for (int i = 0; i < 64; i++)
		assert_int_equal(shmfs_heap_free(h, mine[i]), 0);
	assert_int_equal(shmfs_heap_stats(h, &after), 0);
	assert_int_equal(after.used, 0);
	/* Nothing leaked: nearly the whole heap is one allocation again. */
	mine[0] = shmfs_heap_malloc(h, after.size - 256 * 4096);
	assert_true(mine[0]);
	assert_int_equal(shmfs_heap_free(h, mine[0]), 0);
	shmfs_heap_leave(h);
	ht_unmap(mem, MEM_SZ);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(processes_share_blocks_and_patterns_survive),
		cmocka_unit_test(killed_processes_leave_a_consistent_heap_and_are_reclaimed_exactly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
