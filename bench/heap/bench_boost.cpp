/* bench_boost.cpp - the libshmfs heap against the shared-memory allocator
 * most C++ code reaches for: Boost.Interprocess managed shared memory with
 * rbtree_best_fit (its default: a best-fit tree under a process-shared
 * mutex, in a POSIX shared memory object), against the heap in MAP_SHARED
 * anonymous memory, measured side by side in the same run and reported as
 * ratios (heap / boost, above 1 = the heap is faster). The workloads are
 * bench_heap's:
 *   pairs     malloc+free pairs of 16, 64, 512 B and 64 KiB (CPU time,
 *             median of rounds 2-4 of 5 interleaved rounds)
 *   churn     10,000 live blocks, random 8 - 4096 B, replaced at random
 *             (median of 3)
 *   prodcons  producer -> consumer across two processes, 64 B, every free
 *             remote (wall time, median of 3)
 * Usage: bench_boost [SCALE_PERCENT [pairs|churn|prodcons]]
 * Built only when the Boost headers are found (Debian: libboost-dev). */
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmfs/heap.h>

namespace bip = boost::interprocess;

/* managed_shared_memory, its allocation algorithm spelled out. The mapping
 * is inherited by fork, as the heap's is. */
typedef bip::basic_managed_shared_memory<char,
	bip::rbtree_best_fit<bip::mutex_family, bip::offset_ptr<void>>, bip::iset_index> boost_shm;

static const size_t MEM_SZ = 1ull << 30;
static const int LIVE = 10000, ROUNDS = 5;
static uint64_t scale = 100;

/* The two allocators behind one interface: offsets from the start of the
 * mapping, 0 = none, as the heap names its allocations. */
struct alloc {
	uint8_t *mem;
	shmfs_heap_t *heap;  /* the libshmfs heap, or */
	boost_shm *boost;    /* Boost.Interprocess */

	uint64_t get(size_t sz)
	{
		if (heap)
			return shmfs_heap_malloc(heap, sz);
		void *p = boost->allocate(sz, std::nothrow);
		return p ? (uint64_t)((uint8_t *)p - mem) : 0;
	}
	void put(uint64_t off)
	{
		if (heap)
			shmfs_heap_free(heap, off);
		else
			boost->deallocate(mem + off);
	}
};

static void *map_shared(size_t sz)
{
	void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return m;
}

static char shm_name[64];

/* A fresh allocator of each kind in memory of its own. */
static alloc make(bool heap, size_t sz)
{
	alloc a = { NULL, NULL, NULL };

	if (heap) {
		a.mem = (uint8_t *)map_shared(sz);
		if (shmfs_heap_format(a.mem, sz, NULL) < 0 || shmfs_heap_join(a.mem, sz, &a.heap) < 0) {
			fprintf(stderr, "heap: format or join failed\n");
			exit(1);
		}
	} else {
		snprintf(shm_name, sizeof(shm_name), "shmfs-bench-boost-%d", (int)getpid());
		bip::shared_memory_object::remove(shm_name);
		a.boost = new boost_shm(bip::create_only, shm_name, sz);
		a.mem = (uint8_t *)a.boost->get_address();
	}
	return a;
}

static void unmake(alloc &a, size_t sz)
{
	if (a.heap) {
		shmfs_heap_leave(a.heap);
		munmap(a.mem, sz);
	} else {
		delete a.boost;
		bip::shared_memory_object::remove(shm_name);
	}
}

static double now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t xrand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* Pairs per second of thread CPU time (the machine may be shared). */
static double pairs(alloc &a, size_t sz, uint64_t n)
{
	double t = now(CLOCK_THREAD_CPUTIME_ID);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = a.get(sz);

		*(volatile char *)(a.mem + off) = 1;
		a.put(off);
	}
	return n / (now(CLOCK_THREAD_CPUTIME_ID) - t);
}

/* Seconds of CPU time for ops operations (half frees, half mallocs). */
static double churn(alloc &a, uint64_t ops)
{
	static uint64_t offs[LIVE];
	uint64_t rs = 0x51f15eedull;
	double t;

	for (int i = 0; i < LIVE; i++)
		offs[i] = a.get(8 + xrand(&rs) % 4089);
	t = now(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t op = 0; op < ops; op += 2) {
		unsigned i = xrand(&rs) % LIVE;
		size_t sz = 8 + xrand(&rs) % 4089;

		a.put(offs[i]);
		offs[i] = a.get(sz);
		if (!offs[i]) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
		*(volatile char *)(a.mem + offs[i]) = 1;
	}
	t = now(CLOCK_THREAD_CPUTIME_ID) - t;
	for (int i = 0; i < LIVE; i++)
		a.put(offs[i]);
	return t;
}

/* Producer -> consumer through a ring of offsets in shared memory; the
 * consumer (a forked process) frees what the producer allocated. The heap's
 * consumer joins on its own; Boost's needs nothing (the segment's header and
 * mutex are in the shared memory). Operations per second of wall time. */
enum { RING = 65536 };
struct ring {
	alignas(64) std::atomic<uint64_t> head;
	alignas(64) std::atomic<uint64_t> tail;
	uint64_t slot[RING];
};

static double prodcons(bool heap, uint64_t n)
{
	const size_t sz = 64ull << 20;
	alloc a = make(heap, sz);
	ring *rg = (ring *)map_shared(sizeof(ring));
	double t0, t1;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		alloc c = { a.mem, NULL, a.boost };

		if (heap && shmfs_heap_join(a.mem, sz, &c.heap) < 0)
			_exit(1);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t = rg->tail.load(std::memory_order_relaxed);

			while (rg->head.load(std::memory_order_acquire) == t)
				;
			c.put(rg->slot[t % RING]);
			rg->tail.store(t + 1, std::memory_order_release);
		}
		if (c.heap)
			shmfs_heap_leave(c.heap);
		_exit(0);
	}
	t0 = now(CLOCK_MONOTONIC);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = a.get(64);

		if (!off)
			exit(1);
		while (i - rg->tail.load(std::memory_order_acquire) >= RING)
			;
		rg->slot[i % RING] = off;
		rg->head.store(i + 1, std::memory_order_release);
	}
	waitpid(pid, NULL, 0);
	t1 = now(CLOCK_MONOTONIC);
	munmap(rg, sizeof(ring));
	unmake(a, sz);
	return n / (t1 - t0);
}

int main(int argc, char **argv)
{
	const char *only = argc > 2 ? argv[2] : NULL;

	if (argc > 1)
		scale = strtoull(argv[1], NULL, 10);
	printf("# libshmfs heap vs Boost.Interprocess rbtree_best_fit (same run); ratio = heap / boost\n");
	if (!only || !strcmp(only, "pairs")) {
		static const size_t psz[] = { 16, 64, 512, 65536 };
		alloc h = make(true, MEM_SZ), b = make(false, MEM_SZ);

		for (size_t sz : psz) {
			uint64_t n = (sz > 8192 ? 2000000ull : 20000000ull) * scale / 100 / ROUNDS;
			double g[ROUNDS], s[ROUNDS], gm, sm;

			for (int r = 0; r < ROUNDS; r++) {
				g[r] = pairs(b, sz, n);
				s[r] = pairs(h, sz, n);
			}
			gm = median3(g[1], g[2], g[3]);
			sm = median3(s[1], s[2], s[3]);
			printf("pairs %5zu B, 1 proc: boost %6.2f M/s  heap %6.2f M/s  ratio %.2fx (median of rounds 2-4)\n",
			       sz, gm / 1e6, sm / 1e6, sm / gm);
		}
		unmake(h, MEM_SZ);
		unmake(b, MEM_SZ);
	}
	if (!only || !strcmp(only, "churn")) {
		uint64_t ops = 10000000ull * scale / 100;
		alloc h = make(true, MEM_SZ), b = make(false, MEM_SZ);
		double g[3], s[3];

		for (int r = 0; r < 3; r++) {
			g[r] = churn(b, ops);
			s[r] = churn(h, ops);
		}
		printf("churn %d live, 8-4096 B, %llu replacements: boost %.2f s  heap %.2f s  ratio %.2fx (median of 3)\n",
		       LIVE, (unsigned long long)ops / 2, median3(g[0], g[1], g[2]), median3(s[0], s[1], s[2]),
		       median3(g[0], g[1], g[2]) / median3(s[0], s[1], s[2]));
		unmake(h, MEM_SZ);
		unmake(b, MEM_SZ);
	}
	if (!only || !strcmp(only, "prodcons")) {
		uint64_t n = 2000000ull * scale / 100;
		double g[3], s[3];

		for (int r = 0; r < 3; r++) {
			g[r] = prodcons(false, n);
			s[r] = prodcons(true, n);
		}
		printf("prodcons 64 B, 2 procs, remote frees, 64 MiB: boost %6.2f M/s  heap %6.2f M/s  ratio %.2fx (median of 3)\n",
		       median3(g[0], g[1], g[2]) / 1e6, median3(s[0], s[1], s[2]) / 1e6,
		       median3(s[0], s[1], s[2]) / median3(g[0], g[1], g[2]));
	}
	return 0;
}
