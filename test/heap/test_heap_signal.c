/* test_heap_signal.c - allocation from a signal handler that interrupted the
 * same thread inside shmfs_heap_malloc or shmfs_heap_free on the same heap
 * handle: a fast interval timer fires while the main loop allocates and
 * frees; the handler allocates, fills, verifies and frees. Counts only the
 * signals that really landed inside an operation. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "heap_test.h"

#define MEM_SZ (16ull << 20)

static shmfs_heap_t *heap;
static volatile sig_atomic_t in_op, inside_hits, handler_errors;
static uint64_t keep[64];
static unsigned keep_pos;

static void on_timer(int sig)
{
	int saved = errno;
	uint64_t sz = 16 + (keep_pos * 131) % 3000, off;

	(void)sig;
	if (in_op)
		inside_hits++;
	off = shmfs_heap_malloc(heap, sz);
	if (!off) {
		handler_errors++;
		goto out;
	}
	ht_fill(shmfs_heap_ptr(heap, off), sz, off);
	if (ht_verify(shmfs_heap_ptr(heap, off), sz, off) < 0)
		handler_errors++;
	/* Keep some, so the handler also frees spans the main loop uses. */
	if (keep[keep_pos % 64] && shmfs_heap_free(heap, keep[keep_pos % 64]) < 0)
		handler_errors++;
	keep[keep_pos++ % 64] = off;
out:
	errno = saved;
}

static void handler_allocates_while_the_thread_is_inside_malloc_or_free(void **state)
{
	uint8_t *mem = ht_map(MEM_SZ);
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct itimerspec its = { { 0, 20000 }, { 0, 20000 } };
	struct sigaction sa = { .sa_handler = on_timer, .sa_flags = SA_RESTART };
	uint64_t rs = 5, held[256] = { 0 }, want = ht_scale(20000);
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	timer_t t;
	char msg[256];

	assert_int_equal(shmfs_heap_format(mem, MEM_SZ, NULL), 0);
	assert_int_equal(shmfs_heap_join(mem, MEM_SZ, &heap), 0);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
	assert_int_equal(timer_settime(t, 0, &its, NULL), 0);

	for (uint64_t i = 0; inside_hits < (sig_atomic_t)want && i < 2000000000ull; i++) {
		unsigned k = ht_rand(&rs) % 256;
		int r;

		if (held[k]) {
			if (ht_verify(shmfs_heap_ptr(heap, held[k]), 24, held[k]) < 0)
				fail_msg("block %#llx overwritten", (unsigned long long)held[k]);
			in_op = 1;
			r = shmfs_heap_free(heap, held[k]);
			in_op = 0;
			assert_int_equal(r, 0);
			held[k] = 0;
		} else {
			in_op = 1;
			held[k] = shmfs_heap_malloc(heap, 24 + k * 8);
			in_op = 0;
			assert_true(held[k]);
			ht_fill(shmfs_heap_ptr(heap, held[k]), 24, held[k]);
		}
	}
	timer_delete(t);
	signal(SIGALRM, SIG_IGN);
	assert_int_equal(handler_errors, 0);
	assert_true(inside_hits >= (sig_atomic_t)want);
	assert_int_equal(shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)), 0);
	for (int k = 0; k < 256; k++)
		assert_int_equal(shmfs_heap_free(heap, held[k]), 0);
	for (int k = 0; k < 64; k++)
		assert_int_equal(shmfs_heap_free(heap, keep[k]), 0);
	assert_int_equal(shmfs_heap_stats(heap, &st), 0);
	assert_int_equal(st.used, 0);
	shmfs_heap_leave(heap);
	ht_unmap(mem, MEM_SZ);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handler_allocates_while_the_thread_is_inside_malloc_or_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
