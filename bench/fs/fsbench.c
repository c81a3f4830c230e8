/* fsbench.c - the timed loops of bench/fs/fs.sh, in one process so that the
 * numbers measure the filesystem and not process start-up. Each mode prints
 * its result: nanoseconds per operation (stat: one for each of two paths,
 * cycle) or files made (mkfiles).
 * bench/fs/meta.sh uses mkfiles to lay out its region counts.
 * The script runs every mode against shmfs and against its baseline (tmpfs,
 * raw hugetlbfs) in the same run and reports the ratios. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (*s == '\0' || *end || errno || v <= 0) {
		fprintf(stderr, "fsbench: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static long long num0(const char *s)
{
	return strcmp(s, "0") ? num(s) : 0;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "fsbench: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

/* stat A B N: warm stat of A and of B, N calls a round, rounds alternating
 * between them so that load from the rest of the machine hits both alike;
 * prints the best round of each. */
static int stat_round(const char *path, long long n, long long *best)
{
	struct stat st;
	long long t = now_ns();

	for (long long i = 0; i < n; i++)
		if (stat(path, &st))
			return die("stat", path);
	t = now_ns() - t;
	if (*best < 0 || t < *best)
		*best = t;
	return 0;
}

static int bench_stat(const char *a, const char *b, long long n)
{
	long long best_a = -1, best_b = -1, warm = -1;

	if (stat_round(a, 1000, &warm) || stat_round(b, 1000, &warm))
		return 1;
	for (int round = 0; round < 10; round++)
		if (stat_round(a, n, &best_a) || stat_round(b, n, &best_b))
			return 1;
	printf("%.1f %.1f\n", (double)best_a / n, (double)best_b / n);
	return 0;
}

/* cycle DIR N SIZE truncate|fallocate: create, size, close, unlink N times.
 * Sizing takes the pages: shmfs populates on truncate, raw hugetlbfs only
 * on fallocate, so the baseline uses fallocate to do the same work. */
static int bench_cycle(const char *dir, long long n, long long size, int falloc)
{
	char path[4096];
	long long t = now_ns();

	for (long long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/cycle%lld", dir, i);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return die("create", path);
		if (falloc ? fallocate(fd, 0, 0, size) : ftruncate(fd, size))
			return die("size", path);
		close(fd);
		if (unlink(path))
			return die("unlink", path);
	}
	t = now_ns() - t;
	printf("%.1f\n", (double)t / n);
	return 0;
}

/* mkfiles DIR N [SIZE [XATTRS]]: create N files r0..rN-1, each sized to
 * SIZE bytes (default 0: empty) and carrying XATTRS attributes user.bN
 * (default none; a tmpfs baseline with as many attributes as a region
 * shows). */
static int bench_mkfiles(const char *dir, long long n, long long size, long long xattrs)
{
	char path[4096], name[32], val[32];

	for (long long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/r%lld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return die("create", path);
		if (size && ftruncate(fd, size))
			return die("size", path);
		for (long long k = 0; k < xattrs; k++) {
			int len = snprintf(val, sizeof(val), "%lld", i * 100 + k);

			snprintf(name, sizeof(name), "user.b%lld", k);
			if (fsetxattr(fd, name, val, (size_t)len, 0))
				return die("setxattr", path);
		}
		close(fd);
	}
	printf("%lld\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "stat"))
		return bench_stat(argv[2], argv[3], num(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "cycle"))
		return bench_cycle(argv[2], num(argv[3]), num(argv[4]), !strcmp(argv[5], "fallocate"));
	if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "mkfiles"))
		return bench_mkfiles(argv[2], num(argv[3]), argc > 4 ? num0(argv[4]) : 0,
				     argc > 5 ? num0(argv[5]) : 0);
	fprintf(stderr,
		"usage: fsbench stat PATH_A PATH_B N\n"
		"       fsbench cycle DIR N SIZE truncate|fallocate\n"
		"       fsbench mkfiles DIR N [SIZE [XATTRS]]\n");
	return 2;
}
