/* heap_test.h - helpers shared by the heap tests: shared anonymous memory
 * holding a fresh heap, byte patterns that name their owner, a small PRNG. */
#ifndef SHMFS_HEAP_TEST_H
#define SHMFS_HEAP_TEST_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmfs/heap.h>

/* MAP_SHARED so forked children see the same heap. */
static inline void *ht_map(size_t sz)
{
	void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

static inline void ht_unmap(void *m, size_t sz)
{
	munmap(m, sz);
}

static inline uint64_t ht_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Fill / verify n bytes with a pattern derived from (seed, off). */
static inline void ht_fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (seed >> 8));
}

static inline int ht_verify(const uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed * 31 + i * 7 + (seed >> 8)))
			return -1;
	return 0;
}

/* Scale factor for randomized tests (SHMFS_HEAP_TEST_SCALE, percent;
 * sanitizer builds default to 10%). */
static inline uint64_t ht_scale(uint64_t n)
{
	const char *e = getenv("SHMFS_HEAP_TEST_SCALE");
	uint64_t pct = e ? strtoull(e, NULL, 10) : 100;

	if (!pct)
		pct = 1;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	/* Sanitizers run these 5-20x slower; CI runs them as they are. */
	if (!e)
		pct = 10;
#endif
	return n * pct / 100 ? n * pct / 100 : 1;
}

/* Run fn(arg) in a thread to its end, and return only once the kernel has
 * let go of the thread, so that trim's liveness probe (tgkill with signal 0)
 * finds it gone. pthread_join() returns when the kernel clears the thread's
 * tid word, which is early in its exit: the task stays visible to tgkill
 * until the exit completes, a moment later, or much later on a loaded
 * machine. Waiting for that condition, not for a time, keeps the tests free
 * of timing. Returns what fn returned. */
struct ht_thread {
	void *(*fn)(void *);
	void *arg;
	_Atomic pid_t tid;
};

static inline void *ht_thread_main(void *p)
{
	struct ht_thread *t = p;

	t->tid = (pid_t)syscall(SYS_gettid);
	return t->fn(t->arg);
}

static inline void *ht_thread_run(void *(*fn)(void *), void *arg)
{
	struct ht_thread t = { fn, arg, 0 };
	pthread_t th;
	void *ret = NULL;

	if (pthread_create(&th, NULL, ht_thread_main, &t) != 0)
		abort();
	pthread_join(th, &ret);
	while (syscall(SYS_tgkill, getpid(), t.tid, 0) == 0 || errno != ESRCH)
		sched_yield();
	return ret;
}

#endif
