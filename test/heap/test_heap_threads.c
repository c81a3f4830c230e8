/* test_heap_threads.c - threads of one process on one heap: through one
 * shared handle and through a handle each, allocating, handing blocks to
 * each other, verifying contents and freeing; racing frees of the same
 * blocks into a span another thread holds, and of large runs a thread
 * keeps for reuse. Run under ThreadSanitizer in
 * CI (suite 'threads'). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "heap_test.h"

#define MEM_SZ   (32ull << 20)
#define SLOT_CNT 1024
#define NTHREAD  4

struct ctx {
	uint8_t *mem;
	shmfs_heap_t *shared; /* NULL: each thread joins itself */
	_Atomic uint64_t slots[SLOT_CNT];
	uint64_t ops;
	_Atomic int errors;
};

struct targ {
	struct ctx *ctx;
	uint64_t seed;
};

static void *worker(void *p)
{
	struct targ *a = p;
	struct ctx *c = a->ctx;
	shmfs_heap_t *h = c->shared;
	uint64_t rs = a->seed;

	if (!h && shmfs_heap_join(c->mem, MEM_SZ, &h) < 0) {
		c->errors++;
		return NULL;
	}
	for (uint64_t i = 0; i < c->ops; i++) {
		uint64_t r = ht_rand(&rs);
		/* 8 B to 32 KiB: small classes and large runs (kept and reused) */
		uint64_t sz = 8 + ((r >> 8) & ((1ull << (3 + (r >> 40) % 13)) - 1));
		uint64_t off = shmfs_heap_malloc(h, sz), old;
		uint8_t *ptr;

		if (!off) {
			c->errors++;
			break;
		}
		ptr = shmfs_heap_ptr(h, off);
		memcpy(ptr, &sz, 8);
		ht_fill(ptr + 8, sz - 8, off);
		/* Release pairs with the acquire of whoever takes it. */
		old = atomic_exchange(&c->slots[r % SLOT_CNT], off);
		if (!old)
			continue;
		ptr = shmfs_heap_ptr(h, old);
		memcpy(&sz, ptr, 8);
		if (ht_verify(ptr + 8, sz - 8, old) < 0 || shmfs_heap_free(h, old) < 0)
			c->errors++;
	}
	if (!c->shared)
		shmfs_heap_leave(h);
	return NULL;
}

static void run(bool shared_handle)
{
	static struct ctx c;
	struct targ args[NTHREAD];
	pthread_t th[NTHREAD];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h;
	char msg[256];

	memset(&c, 0, sizeof(c));
	c.mem = ht_map(MEM_SZ);
	c.ops = ht_scale(200000);
	assert_int_equal(shmfs_heap_format(c.mem, MEM_SZ, NULL), 0);
	assert_int_equal(shmfs_heap_join(c.mem, MEM_SZ, &h), 0);
	c.shared = shared_handle ? h : NULL;
	for (int i = 0; i < NTHREAD; i++) {
		args[i] = (struct targ) { &c, 0x2545f4914f6cdd1dull * (i + 3) };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < NTHREAD; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(c.errors, 0);
	assert_int_equal(shmfs_heap_check(c.mem, MEM_SZ, msg, sizeof(msg)), 0);
	for (int i = 0; i < SLOT_CNT; i++)
		if (c.slots[i])
			assert_int_equal(shmfs_heap_free(h, c.slots[i]), 0);
	assert_int_equal(shmfs_heap_stats(h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_int_equal(shmfs_heap_check(c.mem, MEM_SZ, msg, sizeof(msg)), 0);
	shmfs_heap_leave(h);
	ht_unmap(c.mem, MEM_SZ);
}

static void threads_share_one_handle(void **state)
{
	run(true);
	(void)state;
}

static void threads_with_a_handle_each(void **state)
{
	run(false);
	(void)state;
}

struct race {
	shmfs_heap_t *h;
	uint64_t *offs;
	int n;
	pthread_barrier_t *bar;
	int ok;
	_Atomic int *done;
};

static void *free_everything(void *p)
{
	struct race *r = p;

	pthread_barrier_wait(r->bar);
	for (int i = 0; i < r->n; i++)
		r->ok += shmfs_heap_free(r->h, r->offs[i]) == 0;
	(*r->done)++;
	return NULL;
}

/* Two threads free the same blocks at once while a third (the holder of the
 * spans) keeps allocating and freeing in them, collecting the units the two
 * give back and handing them out again: every allocation is freed exactly
 * once, by whichever free reaches it first; every other free is refused.
 *
 * Not "the holder's own free always succeeds": an offset is the only name
 * of an allocation, so when a unit freed by A is collected and handed to
 * the holder again while B's (double) free of it is still in flight, B's
 * free lands on the holder's new block, and the holder's free of it is
 * then the refused one. A sequence that does this, step by step:
 *   B: reads `freed` (unit u clear, epoch e)          -- B's free of u starts
 *   A: CAS `freed` |= u (epoch e)                     -- A frees u
 *   H: collects: `alloc` &= ~u, CAS `freed` = 0, epoch e+1
 *   H: malloc takes u again (`alloc` |= u)            -- H's new block u
 *   B: reads `alloc` (u set), CAS fails (epoch moved), retries: sees u
 *      allocated and not freed at e+1, CAS succeeds   -- B frees H's block
 *   H: free(u) is refused (-EINVAL): u is no longer allocated.
 * B's free and H's malloc overlap in time, and the outcome is the one of
 * H's malloc happening first: allocation and free stay exact (nothing
 * leaks, nothing is freed twice), which is what this test counts.
 *
 * With large runs (sz > 8 KiB) the holder's pairs go through the runs its
 * thread keeps: each malloc takes one back with a plain store (no CAS),
 * each free keeps it again with one CAS, racing the two threads' frees,
 * which keep the runs they win in their own caches or release them. */
static void race_frees(int n, size_t sz0, size_t step)
{
	enum { N_MAX = 2000, HOLDER_OPS = 200 };
	_Atomic int done;
	int holder_ops;
	uint8_t *mem = ht_map(MEM_SZ);
	static uint64_t offs[N_MAX];
	struct race r[2];
	pthread_barrier_t bar;
	pthread_t th[2];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h;
	char msg[256];
	int holder_ok;

	assert_int_equal(shmfs_heap_format(mem, MEM_SZ, NULL), 0);
	assert_int_equal(shmfs_heap_join(mem, MEM_SZ, &h), 0);
	pthread_barrier_init(&bar, NULL, 3);
	for (int round = 0; round < (int)ht_scale(20); round++) {
		for (int i = 0; i < n; i++)
			assert_true(offs[i] = shmfs_heap_malloc(h, sz0 + (i % 4) * step));
		done = 0;
		for (int k = 0; k < 2; k++) {
			r[k] = (struct race) { h, offs, n, &bar, 0, &done };
			assert_int_equal(pthread_create(&th[k], NULL, free_everything, &r[k]), 0);
		}
		pthread_barrier_wait(&bar);
		holder_ok = 0;
		/* The holder collects and reuses units for as long as the two
		 * free (at least HOLDER_OPS times): the window is the whole race. */
		for (holder_ops = 0; holder_ops < HOLDER_OPS || done < 2; holder_ops++) {
			uint64_t off = shmfs_heap_malloc(h, sz0 + (holder_ops % 4) * step);
			int e;

			assert_true(off);
			e = shmfs_heap_free(h, off);
			assert_true(e == 0 || e == -EINVAL);
			holder_ok += e == 0;
		}
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		/* Every allocation freed once: n raced ones and the holder's. */
		assert_int_equal(r[0].ok + r[1].ok + holder_ok, n + holder_ops);
		assert_true(r[0].ok + r[1].ok >= n);
		assert_int_equal(shmfs_heap_stats(h, &st), 0);
		assert_int_equal(st.alloc_cnt, 0);
		assert_int_equal(shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)), 0);
	}
	pthread_barrier_destroy(&bar);
	shmfs_heap_leave(h);
	ht_unmap(mem, MEM_SZ);
}

static void racing_frees_free_every_allocation_exactly_once(void **state)
{
	race_frees(2000, 16, 16);
	(void)state;
}

static void racing_frees_of_kept_large_runs_free_each_exactly_once(void **state)
{
	race_frees(500, 8192 + 1, 4096); /* 3 to 6 blocks: 9 MiB of 32 */
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threads_share_one_handle),
		cmocka_unit_test(threads_with_a_handle_each),
		cmocka_unit_test(racing_frees_free_every_allocation_exactly_once),
		cmocka_unit_test(racing_frees_of_kept_large_runs_free_each_exactly_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
