/* vmshared.c - the mailbox two qemu guests of the shared-memory test (shared.sh)
 * coordinate through: a second ivshmem device, apart from the one shmfs
 * uses, mapped through its sysfs BAR file (resource2) as shmfs maps its own.
 * Nothing in it depends on shmfs working, so a guest waiting for the other
 * can always say how far the other got.
 *
 * The mailbox: 32-bit words at offset 0 (word 0 is guest A's stage, word 1
 * guest B's; a stage only grows, and VMSHARED_ABORT says its guest gave up),
 * then a text area at offset 1024 for one line a guest tells the other.
 *
 *   vmshared post MBOX WORD VALUE     store VALUE in WORD
 *   vmshared get MBOX WORD            print WORD
 *   vmshared wait MBOX WORD VALUE SECONDS
 *                                     until WORD >= VALUE: exit 0; 3 when it
 *                                     reads VMSHARED_ABORT, 1 on the time limit
 *                                     (printing what it last read)
 *   vmshared say MBOX                 stdin (up to 3 KiB) into the text area
 *   vmshared heard MBOX               print the text area
 *   vmshared create MBOX WORD START COMMIT PATH
 *                                     create the file PATH (O_EXCL), storing
 *                                     START in WORD just before and COMMIT
 *                                     just after: the other guest's watch
 *                                     then knows when the create returned;
 *                                     prints "create_us=T", its duration
 *   vmshared watch MBOX WORD START COMMIT PATH SECONDS [POSTWORD POSTVALUE]
 *                                     how long a new file takes to appear:
 *                                     post POSTVALUE first (so the other
 *                                     guest knows the watch runs), then read
 *                                     WORD and stat(PATH) in turn until PATH
 *                                     exists. Prints "start_us=S commit_us=C
 *                                     failed_after_commit=F stats=N": the
 *                                     time from first reading WORD >= START
 *                                     (the other guest is about to create
 *                                     PATH) and from first reading WORD >=
 *                                     COMMIT (its create returned) to the end
 *                                     of the stat that found PATH (a time is
 *                                     -1 when PATH was there before that word
 *                                     was read), how many stats failed after
 *                                     COMMIT was read, how many were made,
 *                                     and how long the last took ("stat_us=
 *                                     U"); exit 1 on the limit
 *
 * Exit status: 0 done, 1 a failure or time limit, 2 bad usage, 3 abort. */
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

#define VMSHARED_ABORT 999999u
#define WORD_CNT       256
#define TEXT_OFF       1024
#define TEXT_MAX       3072
#define MBOX_SZ        4096

static uint32_t *words;
static char *text;

static int usage(void)
{
	fprintf(stderr, "usage: vmshared post|get|wait|say|heard|create|watch MBOX ...\n");
	return 2;
}

static int map_mbox(const char *path)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < MBOX_SZ) {
		fprintf(stderr, "vmshared: %s: %s\n", path, fd < 0 ? strerror(errno) : "too small");
		return -1;
	}
	p = mmap(NULL, MBOX_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "vmshared: cannot map %s: %s\n", path, strerror(errno));
		return -1;
	}
	words = p;
	text = (char *)p + TEXT_OFF;
	return 0;
}

static long word_idx(const char *s)
{
	char *end;
	long w = strtol(s, &end, 10);

	return *s && !*end && w >= 0 && w < WORD_CNT ? w : -1;
}

static uint32_t value(const char *s)
{
	return (uint32_t)strtoul(s, NULL, 10);
}

static uint32_t load(long w)
{
	return __atomic_load_n(&words[w], __ATOMIC_ACQUIRE);
}

static void store(long w, uint32_t v)
{
	__atomic_store_n(&words[w], v, __ATOMIC_RELEASE);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int wait_for(long w, uint32_t want, long secs)
{
	int64_t end = now_us() + secs * 1000000;
	uint32_t v;

	for (;;) {
		v = load(w);
		if (v == VMSHARED_ABORT)
			return 3;
		if (v >= want)
			return 0;
		if (now_us() > end)
			break;
		usleep(20000);
	}
	printf("word %ld is %u after %lds, not %u\n", w, v, secs, want);
	return 1;
}

static int watch(long w, uint32_t start, uint32_t commit, const char *path, long secs)
{
	int64_t t0 = now_us(), t_start = -1, t_commit = -1, t_stat, t;
	long failed_after = 0, stats = 0;
	struct stat st;

	for (;;) {
		uint32_t v = load(w);

		t = now_us();
		if (v == VMSHARED_ABORT) {
			printf("the other guest gave up\n");
			return 3;
		}
		if (v >= start && t_start < 0)
			t_start = t;
		if (v >= commit && t_commit < 0)
			t_commit = t;
		stats++;
		t_stat = now_us();
		if (stat(path, &st) == 0)
			break;
		if (t_commit >= 0)
			failed_after++;
		if (t - t0 > secs * 1000000) {
			printf("%s did not appear in %lds (word %ld is %u)\n", path, secs, w, v);
			return 1;
		}
	}
	t = now_us();
	printf("start_us=%lld commit_us=%lld failed_after_commit=%ld stats=%ld stat_us=%lld\n",
	       t_start < 0 ? -1LL : (long long)(t - t_start), t_commit < 0 ? -1LL : (long long)(t - t_commit),
	       failed_after, stats, (long long)(t - t_stat));
	return 0;
}

static int create(long w, uint32_t start, uint32_t commit, const char *path)
{
	int64_t t;
	int fd;

	store(w, start);
	t = now_us();
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	t = now_us() - t;
	if (fd < 0) {
		fprintf(stderr, "vmshared: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	store(w, commit);
	close(fd);
	printf("create_us=%lld\n", (long long)t);
	return 0;
}

int main(int argc, char **argv)
{
	long w;

	if (argc < 3 || map_mbox(argv[2]) < 0)
		return argc < 3 ? usage() : 1;
	if (!strcmp(argv[1], "post") && argc == 5 && (w = word_idx(argv[3])) >= 0) {
		store(w, value(argv[4]));
		return 0;
	}
	if (!strcmp(argv[1], "get") && argc == 4 && (w = word_idx(argv[3])) >= 0) {
		printf("%u\n", load(w));
		return 0;
	}
	if (!strcmp(argv[1], "wait") && argc == 6 && (w = word_idx(argv[3])) >= 0)
		return wait_for(w, value(argv[4]), atol(argv[5]));
	if (!strcmp(argv[1], "say") && argc == 3) {
		char buf[TEXT_MAX];
		size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);

		buf[n] = '\0';
		memcpy(text, buf, n + 1);
		return 0;
	}
	if (!strcmp(argv[1], "heard") && argc == 3) {
		char buf[TEXT_MAX];

		memcpy(buf, text, sizeof(buf));
		buf[sizeof(buf) - 1] = '\0';   /* the other guest's bytes: bounded */
		fputs(buf, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "create") && argc == 7 && (w = word_idx(argv[3])) >= 0)
		return create(w, value(argv[4]), value(argv[5]), argv[6]);
	if (!strcmp(argv[1], "watch") && (argc == 8 || argc == 10) && (w = word_idx(argv[3])) >= 0) {
		if (argc == 10) {
			long pw = word_idx(argv[8]);

			if (pw < 0)
				return usage();
			store(pw, value(argv[9]));
		}
		return watch(w, value(argv[4]), value(argv[5]), argv[6], atol(argv[7]));
	}
	return usage();
}
