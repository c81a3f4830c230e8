/* fuzz_driver.c - runs the heap fuzz target without libFuzzer, with any
 * compiler (so the normal and sanitizer suites run it): replays every file
 * of the corpus directories, then mutates them for a bounded number of runs
 * with a seeded PRNG (byte flips and sets, inserts, deletes, splices, runs of
 * random operation bytes). The same seed gives the same inputs, so a failure
 * is reproduced by running again; under AddressSanitizer the input that
 * failed is also written to fuzz-heap-crash.bin in the working directory.
 * Usage: fuzz_heap_driver [-runs N] [-seed S] CORPUS_DIR... */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 4096

struct input {
	uint8_t *b;
	size_t n;
};

static struct input *corpus;
static size_t corpus_cnt;
static const uint8_t *cur;
static size_t cur_n;

/* Keep the input that failed (from a signal handler: syscalls only). */
static void on_death(void)
{
	static const char say[] = "fuzz_heap_driver: the failing input is in fuzz-heap-crash.bin\n";
	int fd = open("fuzz-heap-crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, cur, cur_n) == (ssize_t)cur_n)
			(void)!write(2, say, sizeof(say) - 1);
		close(fd);
	}
}

static void on_signal(int sig)
{
	on_death();
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "fuzz_heap_driver: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct input in = { NULL, 0 };
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		in.b = malloc(INPUT_MAX);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f || !in.b) {
			free(in.b);
			if (f)
				fclose(f);
			continue;
		}
		in.n = fread(in.b, 1, INPUT_MAX, f);
		fclose(f);
		corpus = realloc(corpus, (corpus_cnt + 1) * sizeof(*corpus));
		if (!corpus)
			abort();
		corpus[corpus_cnt++] = in;
	}
	closedir(d);
	return 0;
}

static void run(const uint8_t *b, size_t n)
{
	cur = b;
	cur_n = n;
	LLVMFuzzerTestOneInput(b, n);
}

/* One to eight mutations of buf (n bytes, room for INPUT_MAX). */
static size_t mutate(uint8_t *buf, size_t n, uint64_t *s)
{
	for (int k = 1 + (int)(rnd(s) % 8); k > 0; k--) {
		uint64_t r = rnd(s);
		size_t pos = n ? (size_t)(r >> 16) % n : 0, len = 1 + (r >> 40) % 16;

		switch (r % 6) {
		case 0: /* flip a bit */
			if (n)
				buf[pos] ^= (uint8_t)(1u << ((r >> 8) % 8));
			break;
		case 1: /* set a byte */
			if (n)
				buf[pos] = (uint8_t)(r >> 8);
			break;
		case 2: /* insert random bytes */
			if (n + len > INPUT_MAX)
				break;
			memmove(buf + pos + len, buf + pos, n - pos);
			for (size_t i = 0; i < len; i++)
				buf[pos + i] = (uint8_t)rnd(s);
			n += len;
			break;
		case 3: /* delete */
			if (len > n - pos)
				len = n - pos;
			memmove(buf + pos, buf + pos + len, n - pos - len);
			n -= len;
			break;
		case 4: { /* splice from another input */
			const struct input *o = &corpus[(r >> 8) % corpus_cnt];
			size_t from = o->n ? (size_t)(rnd(s) % o->n) : 0;

			if (len > o->n - from)
				len = o->n - from;
			if (n + len > INPUT_MAX)
				break;
			memmove(buf + pos + len, buf + pos, n - pos);
			memcpy(buf + pos, o->b + from, len);
			n += len;
			break;
		}
		default: /* append operations */
			for (size_t i = 0; i < len * 4 && n < INPUT_MAX; i++)
				buf[n++] = (uint8_t)rnd(s);
			break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	uint64_t runs = 10000, seed = 1;
	static uint8_t buf[INPUT_MAX];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-runs") == 0 && i + 1 < argc)
			runs = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "-seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0) | 1;
		else if (load_dir(argv[i]) < 0)
			return 2;
	}
	if (!corpus_cnt) {
		fprintf(stderr, "usage: fuzz_heap_driver [-runs N] [-seed S] CORPUS_DIR...\n");
		return 2;
	}
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_set_death_callback(on_death);
#endif
	signal(SIGABRT, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	printf("1..1\n");
	for (size_t i = 0; i < corpus_cnt; i++)
		run(corpus[i].b, corpus[i].n);
	for (uint64_t i = 0; i < runs; i++) {
		const struct input *in = &corpus[rnd(&seed) % corpus_cnt];
		size_t n;

		memcpy(buf, in->b, in->n);
		n = mutate(buf, in->n, &seed);
		run(buf, n);
	}
	printf("ok 1 - %zu corpus inputs and %llu mutations ran clean\n", corpus_cnt, (unsigned long long)runs);
	for (size_t i = 0; i < corpus_cnt; i++)
		free(corpus[i].b);
	free(corpus);
	return 0;
}
