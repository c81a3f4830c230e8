/* bench_heap.c - the libshmfs heap against glibc malloc, measured side by
 * side in the same run, reported as ratios (issue 5 goals):
 *   pairs   malloc+free pairs of 32, 256, 4096 bytes, one process
 *   pairs2  the same with 2 processes on one heap: aggregate vs one process
 *           (control: glibc in 1 and 2 processes shows what the cores allow)
 *   mixed   random sizes 16 B - 64 KiB, 10,000 live blocks, 10 M operations
 *           (each a malloc or a free): speed, last tenth vs first tenth, and
 *           heap bytes in use vs bytes requested; log-uniform and uniform
 *           size distributions.
 * Single-process rates are in CPU time, best of interleaved rounds (the
 * machine is shared); the 2-process aggregate is wall time, with a glibc
 * control run and a per-CPU-second rate that shows contention directly.
 *   pairs64k  malloc+free pairs of 64 KiB (the large path)
 *   prodcons  producer -> consumer across two processes, 64 B, every free
 *           remote, on 64 MiB, 1 GiB and 4 GiB heaps: the printed ratio
 *           4 GiB / 64 MiB shows whether cost grows with the heap's size
 *   format  bytes made resident by formatting a 1 GiB heap in shared memory
 *   pairs16 malloc+free pairs of 16, 64, 512 B (medians)
 *   churn   10,000 live blocks, random 8 - 4096 B, replaced at random
 *   frag    1 M blocks of 16 - 1016 B, every other freed, refilled with
 *           2 KiB blocks: bytes live / memory taken
 * The "malloc" side is glibc, or whatever allocator is preloaded:
 * bench/heap/anchors.sh runs it with jemalloc, mimalloc, tcmalloc too.
 * Usage: bench_heap [SCALE_PERCENT [pairs|mixed|pairs16|churn|frag|pairs64k|prodcons|format]]
 * (build with -O2: debugoptimized) */
#include <stdatomic.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmfs/heap.h>

#define HEAP_SZ  (1ull << 30)
#define LIVE     10000
#define ROUNDS   5

static uint64_t scale = 100;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Single-process measures use the thread's CPU time: on a shared machine,
 * time spent preempted says nothing about either allocator. */
static double cpu_thread(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

static void *map_heap(void)
{
	void *m = mmap(NULL, HEAP_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED || shmfs_heap_format(m, HEAP_SZ, NULL) < 0) {
		perror("heap");
		exit(1);
	}
	return m;
}

/* Rates in pairs per second. */
static double pairs_glibc(size_t sz, uint64_t n)
{
	double t = cpu_thread();

	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(sz);

		*(volatile char *)p = 1;
		free(p);
	}
	return n / (cpu_thread() - t);
}

static double pairs_heap(shmfs_heap_t *h, size_t sz, uint64_t n)
{
	double t = cpu_thread();

	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = shmfs_heap_malloc(h, sz);

		*(volatile char *)shmfs_heap_ptr(h, off) = 1;
		shmfs_heap_free(h, off);
	}
	return n / (cpu_thread() - t);
}

/* nproc processes on one heap (mem NULL: glibc in each, the control),
 * started together; each times its own loop, so fork and exit costs stay
 * out. Aggregate pairs/s = all pairs / (last end - first start). */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Pairs per CPU-second of the last pairs_procs() run, averaged over its
 * processes: equal for 1 and 2 processes means they do not slow each other
 * down, whatever share of the cores the machine gave them. */
static double per_cpu_rate;

static double pairs_procs(void *mem, int nproc, size_t sz, uint64_t n)
{
	int go[2], ready[2], done[2];
	double first = 1e300, last = 0, cpu = 0;
	pid_t pids[8];
	char c = 0;

	if (pipe(go) || pipe(ready) || pipe(done))
		exit(1);
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			shmfs_heap_t *h = NULL;
			double t[3];

			if (mem && shmfs_heap_join(mem, HEAP_SZ, &h) < 0)
				_exit(1);
			if (h)
				pairs_heap(h, sz, 100000); /* warm up */
			else
				pairs_glibc(sz, 100000);
			if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(1);
			t[0] = now();
			t[2] = cpu_now();
			if (h)
				pairs_heap(h, sz, n);
			else
				pairs_glibc(sz, n);
			t[1] = now();
			t[2] = cpu_now() - t[2];
			if (write(done[1], t, sizeof(t)) != sizeof(t))
				_exit(1);
			if (h)
				shmfs_heap_leave(h);
			_exit(0);
		}
	}
	for (int i = 0; i < nproc; i++)
		if (read(ready[0], &c, 1) != 1)
			exit(1);
	for (int i = 0; i < nproc; i++)
		if (write(go[1], &c, 1) != 1)
			exit(1);
	for (int i = 0; i < nproc; i++) {
		double t[3];

		if (read(done[0], t, sizeof(t)) != sizeof(t))
			exit(1);
		cpu += t[2];
		first = t[0] < first ? t[0] : first;
		last = t[1] > last ? t[1] : last;
	}
	for (int i = 0; i < nproc; i++)
		waitpid(pids[i], NULL, 0);
	close(go[0]); close(go[1]); close(ready[0]); close(ready[1]); close(done[0]); close(done[1]);
	per_cpu_rate = nproc * n / cpu;
	return nproc * n / (last - first);
}

static size_t mixed_size(uint64_t *rs, int uniform)
{
	uint64_t r = xrand(rs);

	if (uniform)
		return 16 + r % (65536 - 16 + 1);
	/* log-uniform: a power-of-two range 16..64 KiB, then uniform in it */
	{
		unsigned p = 4 + (r >> 40) % 12;

		return ((size_t)1 << p) + (r & (((size_t)1 << p) - 1)) + 1 > 65536 ?
			65536 : ((size_t)1 << p) + (r & (((size_t)1 << p) - 1));
	}
}

struct mixed_res {
	double total, first, last, in_use_ratio, footprint_ratio;
};

/* 10,000 slots filled, then every step frees a random slot and refills it:
 * 2 operations per step. heap NULL = glibc. */
static struct mixed_res mixed(shmfs_heap_t *h, uint64_t ops, int uniform);

/* Size of a churn replacement: uniform 8 - 4096 B. */
static int churn_sizes;

static struct mixed_res mixed(shmfs_heap_t *h, uint64_t ops, int uniform)
{
	static void *ptrs[LIVE];
	static uint64_t offs[LIVE], req[LIVE];
	uint64_t rs = 0x51f15eedull + uniform, requested = 0, tenth = ops / 10;
	struct mixed_res r = { 0 };
	double t0, tt;

	for (int i = 0; i < LIVE; i++) {
		req[i] = churn_sizes ? 8 + xrand(&rs) % 4089 : mixed_size(&rs, uniform);
		requested += req[i];
		if (h) {
			offs[i] = shmfs_heap_malloc(h, req[i]);
			*(volatile char *)shmfs_heap_ptr(h, offs[i]) = 1;
		} else {
			ptrs[i] = malloc(req[i]);
			*(volatile char *)ptrs[i] = 1;
		}
	}
	t0 = tt = cpu_thread();
	for (uint64_t op = 0; op < ops; op += 2) {
		unsigned i = xrand(&rs) % LIVE;
		size_t sz = churn_sizes ? 8 + xrand(&rs) % 4089 : mixed_size(&rs, uniform);

		requested += sz - req[i];
		req[i] = sz;
		if (h) {
			shmfs_heap_free(h, offs[i]);
			offs[i] = shmfs_heap_malloc(h, sz);
			if (!offs[i]) {
				fprintf(stderr, "heap out of memory\n");
				exit(1);
			}
			*(volatile char *)shmfs_heap_ptr(h, offs[i]) = 1;
		} else {
			free(ptrs[i]);
			ptrs[i] = malloc(sz);
			*(volatile char *)ptrs[i] = 1;
		}
		if ((op + 2) % tenth < 2) {
			double t = cpu_thread();

			if (op < tenth)
				r.first = t - tt;
			r.last = t - tt;
			tt = t;
		}
	}
	r.total = cpu_thread() - t0;
	if (h) {
		shmfs_heap_stats_t st = { .sz = sizeof(st) };

		shmfs_heap_stats(h, &st);
		r.in_use_ratio = (double)st.used / requested;
		r.footprint_ratio = (double)st.footprint / requested;
		for (int i = 0; i < LIVE; i++)
			shmfs_heap_free(h, offs[i]);
	} else {
		for (int i = 0; i < LIVE; i++)
			free(ptrs[i]);
	}
	return r;
}

/* Producer -> consumer: a ring of offsets in shared memory, one process
 * allocating 64 B blocks, the other freeing them. Wall-clock rate of the
 * median of three rounds, in blocks per second. */
#define RING 65536
struct ring {
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t slot[RING];
};

static double prodcons_once(size_t heap_sz, uint64_t n)
{
	void *m = mmap(NULL, heap_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct ring *rg = mmap(NULL, sizeof(*rg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double t0, t1;
	pid_t pid;

	if (m == MAP_FAILED || rg == MAP_FAILED || shmfs_heap_format(m, heap_sz, NULL) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) { /* consumer */
		shmfs_heap_t *h;

		if (shmfs_heap_join(m, heap_sz, &h) < 0)
			_exit(1);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t = atomic_load_explicit(&rg->tail, memory_order_relaxed);

			while (atomic_load_explicit(&rg->head, memory_order_acquire) == t)
				;
			shmfs_heap_free(h, rg->slot[t % RING]);
			atomic_store_explicit(&rg->tail, t + 1, memory_order_release);
		}
		shmfs_heap_leave(h);
		_exit(0);
	}
	{
		shmfs_heap_t *h;

		if (shmfs_heap_join(m, heap_sz, &h) < 0)
			exit(1);
		t0 = now();
		for (uint64_t i = 0; i < n; i++) {
			uint64_t off = shmfs_heap_malloc(h, 64);

			if (!off)
				exit(1);
			while (i - atomic_load_explicit(&rg->tail, memory_order_acquire) >= RING)
				;
			rg->slot[i % RING] = off;
			atomic_store_explicit(&rg->head, i + 1, memory_order_release);
		}
		waitpid(pid, NULL, 0);
		t1 = now();
		shmfs_heap_leave(h);
	}
	munmap(m, heap_sz);
	munmap(rg, sizeof(*rg));
	return n / (t1 - t0);
}

static double median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

static void prodcons(void)
{
	static const size_t szs[] = { 64ull << 20, 1ull << 30, 4ull << 30 };
	uint64_t n = 5000000ull * scale / 100;
	double r[3][3];

	/* Interleaved: round k runs every heap size once. */
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 3; i++)
			r[i][k] = prodcons_once(szs[i], n);
	for (int i = 0; i < 3; i++)
		printf("prodcons 64 B, 2 procs, remote frees, %4zu MiB heap: %6.1f M/s (median of 3)\n",
		       szs[i] >> 20, median3(r[i][0], r[i][1], r[i][2]) / 1e6);
	printf("      4 GiB / 64 MiB heap: %.2fx (goal 0.9-1.1: cost does not grow with heap size)\n",
	       median3(r[2][0], r[2][1], r[2][2]) / median3(r[0][0], r[0][1], r[0][2]));
}

static void pairs64k(shmfs_heap_t *h)
{
	uint64_t n = 2000000ull * scale / 100;
	double g[ROUNDS], s[ROUNDS], gm, sm;

	for (int r = 0; r < ROUNDS; r++) {
		g[r] = pairs_glibc(65536, n / ROUNDS);
		s[r] = pairs_heap(h, 65536, n / ROUNDS);
	}
	gm = median3(g[1], g[2], g[3]);
	sm = median3(s[1], s[2], s[3]);
	printf("pairs 64 KiB, 1 proc: malloc %6.2f M/s  heap %6.2f M/s  ratio %.2fx (goal >= 1.0x; median of rounds 2-4)\n",
	       gm / 1e6, sm / 1e6, sm / gm);
}

/* Fragmentation: 1 M random 16-1016 B blocks, every other one freed, then
 * 2 KiB blocks allocated until they make up the bytes freed: requested
 * bytes live / memory taken (heap footprint; glibc arena and mmapped
 * chunks, less the releasable top). 1.0 is ideal; an allocator that cannot
 * reuse the holes at all gets 1 / 1.5 = 0.67. */
static double frag(shmfs_heap_t *h)
{
	enum { N = 1000000 };
	static uint64_t offs[N + N / 2];
	static void *ptrs[N + N / 2];
	uint64_t rs = 0xf4a9ull, live = 0, freed = 0, taken;
	size_t cnt = N;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	struct mallinfo2 mi;

	for (int i = 0; i < N; i++) {
		size_t sz = 16 + xrand(&rs) % 1001;

		if (h)
			offs[i] = shmfs_heap_malloc(h, sz);
		else
			ptrs[i] = malloc(sz);
		if (i % 2)
			freed += sz;
		else
			live += sz;
	}
	for (int i = 1; i < N; i += 2)
		if (h)
			shmfs_heap_free(h, offs[i]), offs[i] = 0;
		else
			free(ptrs[i]), ptrs[i] = NULL;
	for (uint64_t refill = 0; refill < freed && cnt < N + N / 2; refill += 2048, live += 2048, cnt++)
		if (h)
			offs[cnt] = shmfs_heap_malloc(h, 2048);
		else
			ptrs[cnt] = malloc(2048);
	if (h) {
		shmfs_heap_stats(h, &st);
		taken = st.footprint;
	} else {
		mi = mallinfo2();
		taken = mi.arena + mi.hblkhd - mi.keepcost;
	}
	for (size_t i = 0; i < cnt; i++)
		if (h && offs[i])
			shmfs_heap_free(h, offs[i]);
		else if (!h)
			free(ptrs[i]);
	if (h)
		shmfs_heap_trim(h);
	return taken ? (double)live / taken : 0; /* 0: a preloaded malloc without mallinfo2 */
}

static void format_resident(void)
{
	size_t sz = 1ull << 30, pages = sz / 4096, res = 0;
	uint8_t *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned char *vec = malloc(pages);

	if (m == MAP_FAILED || !vec || shmfs_heap_format(m, sz, NULL) < 0 || mincore(m, sz, vec) < 0)
		exit(1);
	for (size_t i = 0; i < pages; i++)
		res += vec[i] & 1;
	printf("format of a 1 GiB heap (shared memory): %.2f MB resident (goal <= 1 MB)\n", res * 4096 / 1e6);
	free(vec);
	munmap(m, sz);
}

int main(int argc, char **argv)
{
	size_t sizes[] = { 32, 256, 4096 };
	shmfs_heap_t *h;
	void *mem;

	const char *only = argc > 2 ? argv[2] : NULL;

	if (argc > 1)
		scale = strtoull(argv[1], NULL, 10);
	mem = map_heap();
	if (shmfs_heap_join(mem, HEAP_SZ, &h) < 0)
		return 1;

	printf("# libshmfs heap vs glibc malloc (same run); ratio = heap / glibc\n");
	for (int i = 0; i < 3 && (!only || !strcmp(only, "pairs")); i++) {
		uint64_t n = 20000000ull * scale / 100;
		double g, s, s1, s2, c1, c2;

		/* Interleaved rounds, best of each: the machine is shared, and
		 * a preempted round says nothing about the allocator. */
		g = s = 0;
		for (int r = 0; r < ROUNDS; r++) {
			double x = pairs_glibc(sizes[i], n / ROUNDS), y = pairs_heap(h, sizes[i], n / ROUNDS);

			g = x > g ? x : g;
			s = y > s ? y : s;
		}
		printf("pairs %5zu B, 1 proc : glibc %6.1f M/s  heap %6.1f M/s  ratio %.2fx (goal >= 0.8x)\n",
		       sizes[i], g / 1e6, s / 1e6, s / g);
		s1 = s2 = c1 = c2 = 0;
		for (int r = 0; r < 3; r++) {
			double x = pairs_procs(mem, 1, sizes[i], n / 2), cx = per_cpu_rate;
			double y = pairs_procs(mem, 2, sizes[i], n / 2), cy = per_cpu_rate;

			s1 = x > s1 ? x : s1;
			s2 = y > s2 ? y : s2;
			c1 = cx > c1 ? cx : c1;
			c2 = cy > c2 ? cy : c2;
		}
		printf("pairs %5zu B, 2 procs: 1 proc %6.1f M/s  2 procs %6.1f M/s aggregate  %.2fx (goal >= 1.6x)\n",
		       sizes[i], s1 / 1e6, s2 / 1e6, s2 / s1);
		printf("      per CPU-second: 1 proc %6.1f M  2 procs %6.1f M each  %.2fx (1.0 = no contention)\n",
		       c1 / 1e6, c2 / 1e6, c2 / c1);
		s1 = s2 = 0;
		for (int r = 0; r < 3; r++) {
			double x = pairs_procs(NULL, 1, sizes[i], n / 2), y = pairs_procs(NULL, 2, sizes[i], n / 2);

			s1 = x > s1 ? x : s1;
			s2 = y > s2 ? y : s2;
		}
		printf("      control, glibc in 1 and 2 processes: %6.1f / %6.1f M/s  %.2fx (what the machine allows)\n",
		       s1 / 1e6, s2 / 1e6, s2 / s1);
	}
	for (int uniform = 0; uniform < 2 && (!only || !strcmp(only, "mixed")); uniform++) {
		uint64_t ops = 10000000ull * scale / 100;
		struct mixed_res g = mixed(NULL, ops, uniform), s = mixed(h, ops, uniform);

		printf("mixed %s 16 B-64 KiB, %d live, %llu ops: glibc %.2f s  heap %.2f s  ratio %.2fx (goal >= 0.5x)\n",
		       uniform ? "uniform    " : "log-uniform", LIVE, (unsigned long long)ops, g.total, s.total,
		       g.total / s.total);
		printf("      last tenth / first tenth speed: heap %.2f (glibc %.2f) (goal >= 0.9)\n",
		       s.first / s.last, g.first / g.last);
		printf("      heap bytes in use / requested: %.3f (blocks taken / requested %.3f) (goal <= 1.5)\n",
		       s.in_use_ratio, s.footprint_ratio);
	}
	if (!only || !strcmp(only, "pairs16")) {
		static const size_t psz[] = { 16, 64, 512 };

		for (int i = 0; i < 3; i++) {
			uint64_t n = 20000000ull * scale / 100;
			double g[ROUNDS], s[ROUNDS];

			for (int r = 0; r < ROUNDS; r++) {
				g[r] = pairs_glibc(psz[i], n / ROUNDS);
				s[r] = pairs_heap(h, psz[i], n / ROUNDS);
			}
			printf("pairs %4zu B, 1 proc: malloc %6.1f M/s  heap %6.1f M/s  ratio %.2fx (median of rounds 2-4)\n",
			       psz[i], median3(g[1], g[2], g[3]) / 1e6, median3(s[1], s[2], s[3]) / 1e6,
			       median3(s[1], s[2], s[3]) / median3(g[1], g[2], g[3]));
		}
	}
	if (!only || !strcmp(only, "churn")) {
		uint64_t ops = 10000000ull * scale / 100;
		double rg[3], rh[3];

		churn_sizes = 1;
		for (int r = 0; r < 3; r++) {
			rg[r] = mixed(NULL, ops, 0).total;
			rh[r] = mixed(h, ops, 0).total;
		}
		churn_sizes = 0;
		printf("churn %d live, 8-4096 B, %llu replacements: malloc %.2f s  heap %.2f s  ratio %.2fx (median of 3)\n",
		       LIVE, (unsigned long long)ops / 2, median3(rg[0], rg[1], rg[2]), median3(rh[0], rh[1], rh[2]),
		       median3(rg[0], rg[1], rg[2]) / median3(rh[0], rh[1], rh[2]));
	}
	if (!only || !strcmp(only, "pairs64k"))
		pairs64k(h);
	if (!only || !strcmp(only, "frag")) {
		double g = frag(NULL), s = frag(h);

		printf("frag 1 M blocks 16-1016 B, every other freed, refilled with 2 KiB:\n"
		       "      bytes live / memory taken: malloc %.2f  heap %.2f (goal >= 0.66)\n", g, s);
	}
	if (!only || !strcmp(only, "format"))
		format_resident();
	if (!only || !strcmp(only, "prodcons"))
		prodcons();
	shmfs_heap_leave(h);
	munmap(mem, HEAP_SZ);
	return 0;
}
