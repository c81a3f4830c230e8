/* bench_shared.c - what a region of a shared backing (MOUNT/shared/NAME/
 * REGION, issue 16) costs against a raw mmap of the same device bytes:
 *   bench_shared reads TREE_PATH DEVICE OFFSET
 *       random dependent 8-byte reads over the region joined through
 *       libshmfs and over DEVICE mapped raw at OFFSET for the region's size
 *       (the same bytes: only the path to the mapping differs); ns per read,
 *       median of interleaved rounds, and the ratio.
 *   bench_shared join TREE_PATH DEVICE OFFSET
 *       shmfs_join + shmfs_leave of the tree path (relative to SHMFS_PATH,
 *       the way programs name regions) against open + mmap at
 *       OFFSET + munmap + close of the device; us per cycle, median of
 *       interleaved rounds, and the ratio.
 *   bench_shared visible MASTER_DIR REPLICA_DIR COUNT
 *       how long a replica takes to show a region the master created: COUNT
 *       times, create MASTER_DIR/vN, then stat REPLICA_DIR/vN until it is
 *       there; median and max microseconds from the create's return (and
 *       from its start), then removes what it made.
 * Rounds alternate between the contenders (who goes first alternates too),
 * so a noisy neighbour hurts both alike; the median of each counts. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

#define ROUNDS      15
#define READ_ROUNDS 15

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *on)
{
	fprintf(stderr, "bench_shared: %s '%s': %s\n", what, on, strerror(errno));
	exit(1);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t parse_off(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "bench_shared: bad offset '%s'\n", s);
		exit(2);
	}
	return v;
}

static void *map_dev(const char *dev, uint64_t off, size_t sz)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		die("cannot open", dev);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		die("cannot map", dev);
	close(fd);
	return p;
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

static int cmd_reads(const char *tree, const char *dev, uint64_t off)
{
	shmfs_join_info_t info;
	uint64_t *lib = shmfs_join_opts(tree, SHMFS_JOIN_RDWR, NULL, &info), *raw;
	uint64_t x = 88172645463325252ull, n = 4u * 1000 * 1000;
	double t[2][READ_ROUNDS];
	size_t words;

	if (!lib)
		die("cannot join", tree);
	if (info.sz & (info.sz - 1)) {
		fprintf(stderr, "bench_shared: the region's size must be a power of two\n");
		return 1;
	}
	raw = map_dev(dev, off, info.sz);
	words = info.sz / 8;
	/* fill through the join, so every page is faulted in on both sides
	 * before timing (the raw mapping shares them) */
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		lib[i] = x;
	}
	if (memcmp(lib, raw, info.sz) != 0) {
		fprintf(stderr, "bench_shared: the join and the raw mapping at %" PRIu64 " differ\n", off);
		return 1;
	}
	for (int r = 0; r < READ_ROUNDS; r++)
		for (int k = 0; k < 2; k++) {
			int who = (r + k) % 2;

			t[who][r] = reads(who == 0 ? lib : raw, words, n);
		}
	double ml = median(t[0], READ_ROUNDS), mr = median(t[1], READ_ROUNDS);
	printf("random 8-byte reads over a %zu MiB shared region (median of %d interleaved rounds of %llu):\n",
	       info.sz >> 20, READ_ROUNDS, (unsigned long long)n);
	printf("  libshmfs join of the tree path      %7.2f ns/read\n", ml);
	printf("  raw mmap of the device at %-10" PRIu64 "%7.2f ns/read\n", off, mr);
	printf("  ratio join/raw (time)               %7.3fx  (goal 1.00x)\n", ml / mr);
	munmap(raw, info.sz);
	shmfs_leave(lib);
	return 0;
}

static double join_us(const char *tree, int n)
{
	double t0 = now();

	for (int i = 0; i < n; i++) {
		void *p = shmfs_join(tree, SHMFS_JOIN_RDWR);

		if (!p)
			die("cannot join", tree);
		shmfs_leave(p);
	}
	return (now() - t0) * 1e6 / n;
}

static double raw_us(const char *dev, uint64_t off, size_t sz, int n)
{
	double t0 = now();

	for (int i = 0; i < n; i++)
		munmap(map_dev(dev, off, sz), sz);
	return (now() - t0) * 1e6 / n;
}

static int cmd_join(const char *tree, const char *dev, uint64_t off)
{
	const int n = 2000;
	double t[2][ROUNDS];
	shmfs_join_info_t info;
	void *p = shmfs_join_opts(tree, SHMFS_JOIN_RDWR, NULL, &info);

	if (!p)
		die("cannot join", tree);
	shmfs_leave(p);
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < 2; k++) {
			int who = (r + k) % 2;

			t[who][r] = who == 0 ? join_us(tree, n) : raw_us(dev, off, info.sz, n);
		}
	double ml = median(t[0], ROUNDS), mr = median(t[1], ROUNDS);
	printf("join + leave of a shared region (median of %d interleaved rounds of %d):\n", ROUNDS, n);
	printf("  shmfs_join(tree path)+leave              %8.2f us\n", ml);
	printf("  open+mmap(device, offset)+munmap+close   %8.2f us\n", mr);
	printf("  ratio join/raw                           %8.2fx  (goal 1.00x)\n", ml / mr);
	return 0;
}

static int cmd_visible(const char *master, const char *replica, int cnt)
{
	double *from_ret = calloc((size_t)cnt, sizeof(double)), *from_start = calloc((size_t)cnt, sizeof(double));
	double max_ret = 0, max_start = 0, create = 0;
	char pa[4096], pb[4096];
	struct stat st;

	if (!from_ret || !from_start)
		die("out of memory", "");
	for (int i = 0; i < cnt; i++) {
		snprintf(pa, sizeof(pa), "%s/vis%d", master, i);
		snprintf(pb, sizeof(pb), "%s/vis%d", replica, i);
		double t0 = now();
		int fd = open(pa, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);

		if (fd < 0)
			die("cannot create", pa);
		double t1 = now();
		close(fd);
		/* a busy poll: what a program waiting for the region does at best */
		while (stat(pb, &st) < 0) {
			if (errno != ENOENT)
				die("cannot stat", pb);
			if (now() - t1 > 10)
				die("not visible after 10 s", pb);
		}
		double t2 = now();
		from_ret[i] = (t2 - t1) * 1e6;
		from_start[i] = (t2 - t0) * 1e6;
		create += (t1 - t0) * 1e6;
		if (from_ret[i] > max_ret)
			max_ret = from_ret[i];
		if (from_start[i] > max_start)
			max_start = from_start[i];
	}
	for (int i = 0; i < cnt; i++) {
		snprintf(pa, sizeof(pa), "%s/vis%d", master, i);
		if (unlink(pa) < 0)
			die("cannot remove", pa);
	}
	printf("a region created on the master, seen on the replica (%d regions):\n", cnt);
	printf("  create on the master (mean)          %8.1f us\n", create / cnt);
	printf("  seen after the create returned  median %8.1f us  max %8.1f us\n", median(from_ret, cnt), max_ret);
	printf("  seen after the create started   median %8.1f us  max %8.1f us\n", median(from_start, cnt),
	       max_start);
	free(from_ret);
	free(from_start);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "reads") == 0)
		return cmd_reads(argv[2], argv[3], parse_off(argv[4]));
	if (argc == 5 && strcmp(argv[1], "join") == 0)
		return cmd_join(argv[2], argv[3], parse_off(argv[4]));
	if (argc == 5 && strcmp(argv[1], "visible") == 0 && atoi(argv[4]) > 0)
		return cmd_visible(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: bench_shared reads|join TREE_PATH DEVICE OFFSET | visible MASTER_DIR REPLICA_DIR COUNT\n");
	return 2;
}
