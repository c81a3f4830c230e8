/* bench_join.c - what libshmfs costs, against baselines run side by side in
 * this process:
 *   bench_join reads LIB_PATH RAW_FILE TMPFS_FILE
 *       random dependent 8-byte reads over a region joined through libshmfs,
 *       the same region's backing file mapped raw (RAW_FILE: mmap of the
 *       hugetlbfs file, same physical pages, so only the mapping path
 *       differs), and a 4 KiB-page tmpfs file of the same size; prints ns
 *       per read and the ratios.
 *   bench_join latency LIB_PATH BACKING_FILE
 *       shmfs_join + shmfs_leave against open + mmap + munmap + close of the
 *       backing file; prints us per cycle and the ratio.
 * Rounds alternate between the contenders and the best round of each counts,
 * so a noisy neighbour hurts all alike. (Why the same pages for the raw
 * baseline: in a VM, read latency over huge pages depends on how the host
 * backs each guest page; two different 1 GiB sets of 2 MiB pages were seen
 * to differ by 30% either way, which would drown what the library adds.) */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

#define ROUNDS 7
#define READ_ROUNDS 21

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *on)
{
	fprintf(stderr, "bench_join: %s '%s': %s\n", what, on, strerror(errno));
	exit(1);
}

static uint64_t *map_raw(const char *path, size_t *ret_sz)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("cannot open", path);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("cannot map", path);
	close(fd);
	*ret_sz = (size_t)st.st_size;
	return p;
}

/* Fill with a random permutation-free pattern and fault every page in, so
 * no round pays for first touches. */
static void fill(uint64_t *p, size_t words)
{
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

/* Dependent random reads: each address depends on the value just read, so
 * every read waits for its TLB walk and cache miss (latency, not bandwidth). */
static double reads(const uint64_t *p, size_t words, uint64_t n)
{
	uint64_t mask = words - 1, x = 0x9e3779b97f4a7c15ull, v = 0;
	double t0 = now();

	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = p[(x ^ v) & mask];
	}
	__asm__ volatile("" : : "r"(v));
	return (now() - t0) * 1e9 / (double)n;
}

static int cmd_reads(const char *lib_path, const char *raw_path, const char *tmpfs_path)
{
	shmfs_join_info_t info;
	uint64_t *lib = shmfs_join_opts(lib_path, SHMFS_JOIN_RDWR, NULL, &info);
	size_t raw_sz, tmp_sz, words;
	uint64_t *raw, *tmp, n = 5u * 1000 * 1000;
	double best[3] = { 1e30, 1e30, 1e30 };

	if (!lib)
		die("cannot join", lib_path);
	raw = map_raw(raw_path, &raw_sz);
	tmp = map_raw(tmpfs_path, &tmp_sz);
	if (raw_sz != info.sz || tmp_sz != info.sz || (info.sz & (info.sz - 1))) {
		fprintf(stderr, "bench_join: the three files must have one power-of-two size\n");
		return 1;
	}
	words = info.sz / 8;
	fill(lib, words);   /* raw maps the same pages: filled too */
	fill(tmp, words);
	for (int r = 0; r < READ_ROUNDS; r++) {
		/* Rotate who goes first, so none always follows the same one. */
		for (int k = 0; k < 3; k++) {
			int who = (r + k) % 3;
			const uint64_t *m = who == 0 ? lib : who == 1 ? raw : tmp;
			double t = reads(m, words, n);
			if (t < best[who])
				best[who] = t;
		}
	}
	printf("random 8-byte reads over %zu MiB (best of %d rounds of %llu):\n", info.sz >> 20, READ_ROUNDS,
	       (unsigned long long)n);
	printf("  libshmfs join (%llu KiB pages)  %7.2f ns/read\n", (unsigned long long)(info.page_sz >> 10), best[0]);
	printf("  raw mmap of the backing file  %7.2f ns/read\n", best[1]);
	printf("  tmpfs (4 KiB pages)           %7.2f ns/read\n", best[2]);
	printf("  ratio libshmfs/raw (speed)    %7.3f   (goal >= 0.98)\n", best[1] / best[0]);
	printf("  huge-page speed-up over tmpfs %7.2fx\n", best[2] / best[0]);
	shmfs_leave(lib);
	return 0;
}

/* Microseconds per shmfs_join()+shmfs_leave() of path, over n pairs. */
static double join_leave_us(const char *path, int n)
{
	double t0 = now();

	for (int i = 0; i < n; i++) {
		void *p = shmfs_join(path, SHMFS_JOIN_RDWR);
		if (!p)
			die("cannot join", path);
		shmfs_leave(p);
	}
	return (now() - t0) * 1e6 / n;
}

/* The same for what a program does without the library (map_raw). */
static double raw_map_us(const char *backing, int n)
{
	double t0 = now();

	for (int i = 0; i < n; i++) {
		size_t sz;
		uint64_t *p = map_raw(backing, &sz);

		munmap(p, sz);
	}
	return (now() - t0) * 1e6 / n;
}

static double min2(double a, double b)
{
	return a < b ? a : b;
}

static int cmd_latency(const char *lib_path, const char *backing)
{
	const int n = 20000;
	double best_lib = 1e30, best_raw = 1e30, best_back = 1e30;

	/* Interleaved rounds: a noisy moment hurts one round of each, not
	 * all of one kind. */
	for (int r = 0; r < ROUNDS; r++) {
		best_lib = min2(best_lib, join_leave_us(lib_path, n));
		best_back = min2(best_back, join_leave_us(backing, n));
		best_raw = min2(best_raw, raw_map_us(backing, n));
	}
	printf("join + leave (best of %d rounds of %d):\n", ROUNDS, n);
	printf("  shmfs_join(tree path)+leave         %7.2f us\n", best_lib);
	printf("  shmfs_join(backing path)+leave      %7.2f us\n", best_back);
	printf("  open+fstat+mmap+close+munmap (raw)  %7.2f us\n", best_raw);
	printf("  ratio tree-path join / raw          %7.2fx  (goal <= 1.5)\n", best_lib / best_raw);
	printf("  ratio backing-path join / raw       %7.2fx\n", best_back / best_raw);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "reads") == 0)
		return cmd_reads(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_join reads LIB_PATH RAW_FILE TMPFS_FILE | latency LIB_PATH BACKING_FILE\n");
	return 2;
}
