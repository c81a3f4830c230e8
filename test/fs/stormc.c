/* stormc.c - the kill-storm driver of the crash tests (storm.sh, durable.sh,
 * bench/fs/storm.sh). It runs the daemon itself, so that it knows exactly
 * when it was killed:
 *
 *   stormc storm ...   clients create, size, write, append, rename, unlink,
 *                      tag regions and resize the pool while the daemon is
 *                      SIGKILLed at random points and restarted. Every client
 *                      keeps a journal (a model) of what its completed
 *                      operations left; after each restart the tree is checked
 *                      against it: names, bytes, sizes, modes, tags, the pages
 *                      each backing file holds, the pool's accounting. The one
 *                      operation a client had in flight may show its state
 *                      before or after (a write: any mix of old and new bytes).
 *   stormc reads FILE SECONDS THREADS
 *                      open, read 1 MiB, close, from many threads: a region's
 *                      release racing the reply of a read (issue 10, item 1).
 *   stormc unlink-kill PID PATH | rename-kill PID OLD NEW
 *                      the call, then SIGKILL to PID at once (durable.sh).
 *
 * Sizes are whole pages and writes stay inside the size, so the checks hold
 * whether st_size is kept in bytes or in pages; a write past the end is only
 * done as an append of whole pages. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define IO_MAX (1U << 20)   /* one FUSE request (max_write) */
#define NAMES 6             /* per client: even huge, odd normal */
#define TAG_MAX 32

/* ------------------------------------------------------------ small helpers */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "stormc: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t rnd_next(uint64_t *s)
{
	/* splitmix64: reproducible from --seed */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd_next(s) % n : 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void *xmalloc(size_t n)
{
	void *p = NULL;

	/* page-aligned: a write of up to 1 MiB is then one FUSE request */
	if (posix_memalign(&p, 4096, n ? n : 1))
		die("out of memory");
	return p;
}

/* memcpy and memcmp of nothing, where the pointers may be NULL */
static void copy(void *dst, const void *src, size_t n)
{
	if (n)
		memcpy(dst, src, n);
}

static bool same(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static uint64_t sysfs_u64(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long v = 0;

	if (!f || fscanf(f, "%llu", &v) != 1)
		die("cannot read %s", path);
	fclose(f);
	return v;
}

/* ------------------------------------------------------------ the model */

struct rstate {
	bool exists;
	mode_t mode;
	uint64_t size;
	unsigned char *data;  /* size bytes */
	char tag[TAG_MAX];    /* "" when none */
};

enum op {
	OP_CREATE, OP_SIZE, OP_WRITE, OP_APPEND, OP_RENAME, OP_UNLINK, OP_TAG, OP_READ, OP_POOL,
	OP_CNT
};
static const char *op_name[OP_CNT] = {
	"create", "size", "write", "append", "rename", "unlink", "tag", "read", "nr_pages"
};

struct client {
	int id;
	pthread_t thread;
	uint64_t rnd;
	struct rstate st[NAMES];
	FILE *journal;
	uint64_t seq;
	/* the operation that did not complete (the daemon died under it) */
	bool inflight;
	enum op op;
	int a, b;                 /* names involved (b: rename target, -1) */
	struct rstate before[2];  /* their states before */
	uint64_t w_off, w_len;    /* write/append range; size: w_off the new size */
	unsigned char *w_data;
	char w_tag[TAG_MAX];      /* tag: the new tag */
	uint64_t ops_done;
	uint64_t bad_reads;
};

struct storm {
	const char *mnt, *backing, *bin, *opts, *err;
	int node;
	uint64_t huge_sz, page_sz;
	char hp_dir[256];
	int clients;
	struct client *cl;
	int killing;              /* set before the daemon is killed (atomic) */
	pid_t daemon;
	uint64_t used0;           /* huge pages used by others at the start */
	/* results */
	uint64_t kills, crashes, lost, resurrected, corrupt, partial, leaked, bad_reads, ops;
	bool verbose;
};

static struct storm S;

/* Set (before the kill) by the main thread, read by the clients. */
static bool killing(void)
{
	return __atomic_load_n(&S.killing, __ATOMIC_SEQ_CST);
}

static void state_free(struct rstate *s)
{
	free(s->data);
	memset(s, 0, sizeof(*s));
}

static void state_copy(struct rstate *dst, const struct rstate *src)
{
	*dst = *src;
	dst->data = xmalloc(src->size);
	copy(dst->data, src->data, src->size);
}

static bool is_huge(int k)
{
	return k % 2 == 0;
}

static uint64_t pg_of(int k)
{
	return is_huge(k) ? S.huge_sz : S.page_sz;
}

static void path_of(const struct client *c, int k, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s/node%d/c%dn%d", S.mnt, is_huge(k) ? "huge" : "normal", S.node,
		 c->id, k);
}

static void backing_of(const struct client *c, int k, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/.%s/c%dn%d", S.backing, is_huge(k) ? "huge" : "normal", c->id, k);
}

static void journal(struct client *c, const char *what, int k)
{
	const struct rstate *s = &c->st[k];

	fprintf(c->journal, "%llu %s c%dn%d %s size=%llu mode=%o tag=%s fnv=%016llx\n",
		(unsigned long long)c->seq, what, c->id, k, s->exists ? "present" : "absent",
		(unsigned long long)s->size, (unsigned)s->mode, s->tag[0] ? s->tag : "-",
		(unsigned long long)fnv(s->data, s->size));
	fflush(c->journal);
}

/* ------------------------------------------------------------ client operations */

static int write_all_at(int fd, const unsigned char *p, uint64_t len, uint64_t off)
{
	while (len) {
		size_t n = len > IO_MAX ? IO_MAX : (size_t)len;
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0)
			return -errno;
		p += w;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int append_all(int fd, const unsigned char *p, uint64_t len)
{
	while (len) {
		size_t n = len > IO_MAX ? IO_MAX : (size_t)len;
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return -errno;
		p += w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* Read a whole file through the mount, 1 MiB per read. */
static int read_file(const char *path, unsigned char **ret, uint64_t *ret_len)
{
	struct stat st;
	unsigned char *buf;
	uint64_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	buf = xmalloc((size_t)st.st_size + IO_MAX);
	for (;;) {
		ssize_t n = read(fd, buf + done, IO_MAX);
		if (n < 0) {
			int e = -errno;
			close(fd);
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
		if (done > (uint64_t)st.st_size)
			break; /* more than stat said: reported by the caller */
	}
	close(fd);
	*ret = buf;
	*ret_len = done;
	return 0;
}

static void fill(struct client *c, unsigned char *p, uint64_t len)
{
	uint64_t v = 0;

	for (uint64_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rnd_next(&c->rnd);
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

/* One operation. 0 when it completed (the model is updated), 1 when it was
 * refused while the daemon lived (nothing may have changed), -1 when the
 * daemon died under it (recorded as in flight; the client stops). */
static int client_op(struct client *c)
{
	char path[512], path2[512];
	enum op op = (enum op)rnd_below(&c->rnd, OP_CNT);
	int k = (int)rnd_below(&c->rnd, NAMES), k2 = -1, fd, rc = 0;
	struct rstate *s = &c->st[k];
	uint64_t pg = pg_of(k), maxpg = is_huge(k) ? 3 : 24;

	/* an operation that fits the name's state */
	if (!s->exists)
		op = rnd_below(&c->rnd, 4) ? OP_CREATE : OP_POOL;
	else if (op == OP_CREATE)
		op = OP_WRITE;
	if (op == OP_WRITE && s->size == 0)
		op = OP_SIZE;
	if (op == OP_APPEND && s->size / pg >= maxpg)
		op = OP_SIZE;
	if (op == OP_RENAME) {
		/* within the page type: a name of the same parity */
		k2 = (int)rnd_below(&c->rnd, NAMES / 2) * 2 + (k % 2);
		if (k2 == k)
			op = OP_TAG;
	}
	path_of(c, k, path, sizeof(path));
	c->inflight = false;
	c->op = op;
	c->a = k;
	c->b = op == OP_RENAME ? k2 : -1;
	state_copy(&c->before[0], s);
	if (c->b >= 0)
		state_copy(&c->before[1], &c->st[k2]);
	c->w_len = 0;

	switch (op) {
	case OP_CREATE: {
		static const mode_t modes[] = { 0600, 0640, 0644 };
		mode_t m = modes[rnd_below(&c->rnd, 3)];
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, m);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		if (close(fd) < 0)
			rc = -errno;
		if (rc == 0) {
			s->exists = true;
			s->mode = m;
		}
		break;
	}
	case OP_SIZE: {
		uint64_t size = rnd_below(&c->rnd, maxpg + 1) * pg;
		c->w_off = size;
		if (truncate(path, (off_t)size) < 0) {
			rc = -errno;
			break;
		}
		unsigned char *d = xmalloc(size);
		copy(d, s->data, size < s->size ? size : s->size);
		if (size > s->size)
			memset(d + s->size, 0, size - s->size);
		free(s->data);
		s->data = d;
		s->size = size;
		break;
	}
	case OP_WRITE: {
		uint64_t off = rnd_below(&c->rnd, s->size);
		uint64_t len = 1 + rnd_below(&c->rnd, s->size - off < IO_MAX ? s->size - off : IO_MAX);
		c->w_off = off;
		c->w_len = len;
		c->w_data = xmalloc(len);
		fill(c, c->w_data, len);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		rc = write_all_at(fd, c->w_data, len, off);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0)
			memcpy(s->data + off, c->w_data, len);
		break;
	}
	case OP_APPEND: {
		uint64_t len = pg * (is_huge(k) ? 1 : 1 + rnd_below(&c->rnd, 4));
		c->w_off = s->size;
		c->w_len = len;
		c->w_data = xmalloc(len);
		fill(c, c->w_data, len);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		rc = append_all(fd, c->w_data, len);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0) {
			unsigned char *d = xmalloc(s->size + len);
			copy(d, s->data, s->size);
			memcpy(d + s->size, c->w_data, len);
			free(s->data);
			s->data = d;
			s->size += len;
		}
		break;
	}
	case OP_RENAME:
		path_of(c, k2, path2, sizeof(path2));
		if (rename(path, path2) < 0) {
			rc = -errno;
			break;
		}
		state_free(&c->st[k2]);
		c->st[k2] = *s;
		memset(s, 0, sizeof(*s));
		break;
	case OP_UNLINK:
		if (unlink(path) < 0) {
			rc = -errno;
			break;
		}
		state_free(s);
		break;
	case OP_TAG: {
		char tag[TAG_MAX];
		snprintf(tag, sizeof(tag), "t%llx", (unsigned long long)rnd_next(&c->rnd));
		snprintf(c->w_tag, sizeof(c->w_tag), "%s", tag);
		if (setxattr(path, "user.tag", tag, strlen(tag), 0) < 0) {
			rc = -errno;
			break;
		}
		snprintf(s->tag, sizeof(s->tag), "%s", tag);
		break;
	}
	case OP_READ: {
		unsigned char *d;
		uint64_t n;
		rc = read_file(path, &d, &n);
		if (rc < 0)
			break;
		if (n != s->size || !same(d, s->data, n)) {
			c->bad_reads++;
			fprintf(stderr, "stormc: client %d read c%dn%d: %llu bytes, fnv %016llx; journal: %llu bytes, fnv %016llx\n",
				c->id, c->id, k, (unsigned long long)n, (unsigned long long)fnv(d, n),
				(unsigned long long)s->size, (unsigned long long)fnv(s->data, s->size));
		}
		free(d);
		break;
	}
	case OP_POOL: {
		char f[300];
		const char *cmd = rnd_below(&c->rnd, 2) ? "+1\n" : "-1\n";
		snprintf(f, sizeof(f), "%s/huge/node%d/.nr_pages", S.mnt, S.node);
		fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		if (write(fd, cmd, 3) < 0)
			rc = -errno;
		close(fd);
		break;
	}
	default:
		break;
	}
	if (rc < 0 && (killing() || rc == -ENOTCONN || rc == -ECONNABORTED)) {
		/* the daemon died under it: either state may be there */
		c->inflight = true;
		/* the model holds the state before (create set it early: undo) */
		state_free(&c->st[k]);
		state_copy(&c->st[k], &c->before[0]);
		if (c->b >= 0) {
			state_free(&c->st[c->b]);
			state_copy(&c->st[c->b], &c->before[1]);
		}
		fprintf(c->journal, "%llu inflight %s c%dn%d%s\n", (unsigned long long)++c->seq,
			op_name[op], c->id, k, c->b >= 0 ? " (rename target)" : "");
		fflush(c->journal);
		return -1;
	}
	state_free(&c->before[0]);
	state_free(&c->before[1]);
	free(c->w_data);
	c->w_data = NULL;
	c->seq++;
	if (rc < 0) {
		fprintf(c->journal, "%llu refused %s c%dn%d %s\n", (unsigned long long)c->seq,
			op_name[op], c->id, k, strerrorname_np(-rc));
		fflush(c->journal);
		return 1;
	}
	c->ops_done++;
	if (op != OP_READ && op != OP_POOL) {
		journal(c, op_name[op], k);
		if (c->b >= 0)
			journal(c, op_name[op], c->b);
	}
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	while (!killing())
		if (client_op(c) < 0)
			break;
	return NULL;
}

/* ------------------------------------------------------------ checking */

struct actual {
	bool exists;
	mode_t mode;
	uint64_t size;
	unsigned char *data;
	uint64_t data_len;
	char tag[TAG_MAX];
	bool read_failed;
};

static void actual_load(const struct client *c, int k, struct actual *a)
{
	char path[512];
	struct stat st;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	path_of(c, k, path, sizeof(path));
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			die("stat %s: %s", path, strerror(errno));
		return;
	}
	a->exists = true;
	a->mode = st.st_mode & 07777;
	a->size = (uint64_t)st.st_size;
	if (read_file(path, &a->data, &a->data_len) < 0)
		a->read_failed = true;
	n = getxattr(path, "user.tag", a->tag, sizeof(a->tag) - 1);
	a->tag[n > 0 ? n : 0] = '\0';
}

/* Does the actual state equal s? With w_len, bytes of [w_off, w_off+w_len)
 * may each be s's or w_data's (a write cut short), and when grow, the size
 * may be anything from s's to w_off + w_len (an append cut short; its new
 * bytes zero or written). */
static bool matches(const struct actual *a, const struct rstate *s, uint64_t w_off, uint64_t w_len,
		    const unsigned char *w_data, bool grow)
{
	if (a->exists != s->exists)
		return false;
	if (!a->exists)
		return true;
	if (a->read_failed || a->mode != s->mode || strcmp(a->tag, s->tag) != 0)
		return false;
	if (a->size != a->data_len)
		return false;
	if (grow ? (a->size < s->size || a->size > w_off + w_len) : a->size != s->size)
		return false;
	for (uint64_t i = 0; i < a->size; i++) {
		unsigned char want = i < s->size ? s->data[i] : 0;
		if (a->data[i] == want)
			continue;
		if (w_len && i >= w_off && i < w_off + w_len && a->data[i] == w_data[i - w_off])
			continue;
		return false;
	}
	return true;
}

static void adopt(struct rstate *s, struct actual *a)
{
	state_free(s);
	s->exists = a->exists;
	s->mode = a->mode;
	s->size = a->data_len;
	s->data = a->data;
	a->data = NULL;
	snprintf(s->tag, sizeof(s->tag), "%s", a->tag);
}

/* Check one client's names against its journal; take the in-flight
 * operation's outcome into the journal. */
static void check_client(struct client *c)
{
	struct actual act[NAMES];
	bool resolved[NAMES] = { false };

	for (int k = 0; k < NAMES; k++)
		actual_load(c, k, &act[k]);
	/* the in-flight operation: the states it allows, after */
	if (c->inflight) {
		int a = c->a, b = c->b;
		bool ok_before = matches(&act[a], &c->before[0], 0, 0, NULL, false) &&
				 (b < 0 || matches(&act[b], &c->before[1], 0, 0, NULL, false));
		bool ok_after = false;

		switch (c->op) {
		case OP_CREATE:
			ok_after = act[a].exists && act[a].size == 0 && act[a].tag[0] == '\0';
			break;
		case OP_SIZE: {
			/* the new size, the old bytes kept, zeros after them */
			struct rstate aft;
			uint64_t keep = c->w_off < c->before[0].size ? c->w_off : c->before[0].size;

			aft = c->before[0];
			aft.size = c->w_off;
			aft.data = xmalloc(c->w_off);
			copy(aft.data, c->before[0].data, keep);
			memset(aft.data + keep, 0, c->w_off - keep);
			ok_after = matches(&act[a], &aft, 0, 0, NULL, false);
			free(aft.data);
			break;
		}
		case OP_WRITE:
			ok_after = matches(&act[a], &c->before[0], c->w_off, c->w_len, c->w_data, false);
			break;
		case OP_APPEND:
			ok_after = matches(&act[a], &c->before[0], c->w_off, c->w_len, c->w_data, true);
			break;
		case OP_RENAME:
			ok_after = !act[a].exists && matches(&act[b], &c->before[0], 0, 0, NULL, false);
			break;
		case OP_UNLINK:
			ok_after = !act[a].exists;
			break;
		case OP_TAG: {
			struct rstate aft = c->before[0];

			snprintf(aft.tag, sizeof(aft.tag), "%s", c->w_tag);
			ok_after = matches(&act[a], &aft, 0, 0, NULL, false);
			break;
		}
		default:
			ok_after = ok_before;
		}
		if (!ok_before && !ok_after) {
			S.corrupt++;
			fprintf(stderr, "stormc: client %d: in-flight %s of c%dn%d left neither its before nor its after state\n",
				c->id, op_name[c->op], c->id, a);
		}
		if (S.verbose)
			fprintf(stderr, "stormc: client %d: in-flight %s of c%dn%d: %s\n", c->id,
				op_name[c->op], c->id, a, ok_after && !ok_before ? "done" : "not done");
		/* whatever is there now is the journal's next state */
		adopt(&c->st[a], &act[a]);
		resolved[a] = true;
		if (b >= 0) {
			adopt(&c->st[b], &act[b]);
			resolved[b] = true;
		}
		c->seq++;
		journal(c, "resolved", a);
		if (b >= 0)
			journal(c, "resolved", b);
		state_free(&c->before[0]);
		state_free(&c->before[1]);
		free(c->w_data);
		c->w_data = NULL;
		c->inflight = false;
	}
	for (int k = 0; k < NAMES; k++) {
		struct rstate *s = &c->st[k];
		struct actual *a = &act[k];

		if (resolved[k])
			continue;
		if (!s->exists && a->exists) {
			S.resurrected++;
			fprintf(stderr, "stormc: c%dn%d is back after its unlink or rename\n", c->id, k);
		} else if (s->exists && !a->exists) {
			S.lost++;
			fprintf(stderr, "stormc: c%dn%d is lost\n", c->id, k);
		} else if (!matches(a, s, 0, 0, NULL, false)) {
			S.corrupt++;
			fprintf(stderr, "stormc: c%dn%d differs from its journal: size %llu (read %llu) mode %o tag '%s' fnv %016llx; journal: size %llu mode %o tag '%s' fnv %016llx\n",
				c->id, k, (unsigned long long)a->size, (unsigned long long)a->data_len,
				(unsigned)a->mode, a->tag, (unsigned long long)fnv(a->data, a->data_len),
				(unsigned long long)s->size, (unsigned)s->mode, s->tag,
				(unsigned long long)fnv(s->data, s->size));
		} else {
			continue;
		}
		adopt(s, a); /* go on from what is there */
	}
	for (int k = 0; k < NAMES; k++)
		free(act[k].data);
}

/* Pages: every region holds exactly its pages, the backing store holds
 * nothing else, and the pool's used pages are exactly the huge regions'. */
static void check_pages(void)
{
	uint64_t want = 0, used;
	char path[512];
	struct stat st;

	for (int i = 0; i < S.clients; i++) {
		struct client *c = &S.cl[i];
		for (int k = 0; k < NAMES; k++) {
			uint64_t pg = pg_of(k), need;
			if (!c->st[k].exists)
				continue;
			need = (c->st[k].size + pg - 1) / pg * pg;
			if (is_huge(k))
				want += need / pg;
			backing_of(c, k, path, sizeof(path));
			if (stat(path, &st) < 0 || (uint64_t)st.st_blocks * 512 != need) {
				S.partial++;
				fprintf(stderr, "stormc: %s holds %llu bytes of pages, not %llu\n", path,
					(unsigned long long)(stat(path, &st) < 0 ? 0 : (uint64_t)st.st_blocks * 512),
					(unsigned long long)need);
			}
		}
	}
	for (int t = 0; t < 2; t++) {
		char dir[400];
		DIR *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s/.%s", S.backing, t ? "normal" : "huge");
		d = opendir(dir);
		if (!d)
			die("opendir %s: %s", dir, strerror(errno));
		while ((e = readdir(d))) {
			int id, k;
			char extra;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (sscanf(e->d_name, "c%dn%d%c", &id, &k, &extra) == 2 && id >= 0 &&
			    id < S.clients && k >= 0 && k < NAMES && is_huge(k) == !t &&
			    S.cl[id].st[k].exists)
				continue;
			S.partial++;
			fprintf(stderr, "stormc: %s/%s: in the backing store but not in the journal\n", dir,
				e->d_name);
		}
		closedir(d);
	}
	/* Pages go back to the pool when the last mapping and descriptor of an
	 * unlinked file go: a killed daemon's, or a release the kernel sends
	 * after close() returned, may still be on its way. A leak stays; give
	 * the teardown two seconds. */
	for (int tries = 0;; tries++) {
		snprintf(path, sizeof(path), "%s/nr_hugepages", S.hp_dir);
		used = sysfs_u64(path);
		snprintf(path, sizeof(path), "%s/free_hugepages", S.hp_dir);
		used -= sysfs_u64(path);
		if (used == S.used0 + want || tries == 40)
			break;
		usleep(50 * 1000);
	}
	if (used != S.used0 + want) {
		S.leaked++;
		fprintf(stderr, "stormc: the pool has %llu huge pages in use; the regions hold %llu (and %llu were in use before)\n",
			(unsigned long long)used, (unsigned long long)want, (unsigned long long)S.used0);
	}
}

/* ------------------------------------------------------------ the daemon */

static bool mounted(void)
{
	struct stat a, b;
	char parent[512];

	snprintf(parent, sizeof(parent), "%s/..", S.mnt);
	return stat(S.mnt, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* The daemon ended on its own (a crash), not by our SIGKILL. */
static void daemon_died(int status)
{
	S.crashes++;
	if (WIFSIGNALED(status))
		fprintf(stderr, "stormc: the daemon died of signal %d\n", WTERMSIG(status));
	else
		fprintf(stderr, "stormc: the daemon exited with status %d\n", WEXITSTATUS(status));
	S.daemon = 0;
}

static void daemon_start(void)
{
	char opts[1024];
	uint64_t t0 = now_ms();
	pid_t pid;

	snprintf(opts, sizeof(opts), "backing=%s,allow_other%s%s", S.backing, S.opts[0] ? "," : "",
		 S.opts);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(S.err, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		/* never outlive the storm */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 2);
		execl(S.bin, S.bin, "-f", "-o", opts, S.mnt, (char *)NULL);
		_exit(127);
	}
	S.daemon = pid;
	while (!mounted()) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			daemon_died(status);
			die("the daemon did not start (see %s)", S.err);
		}
		if (now_ms() - t0 > 60000)
			die("the daemon did not mount within 60 s");
		sleep_ms(5);
	}
}

static void daemon_kill(void)
{
	int status;

	if (waitpid(S.daemon, &status, WNOHANG) == S.daemon) {
		daemon_died(status);
	} else {
		kill(S.daemon, SIGKILL);
		waitpid(S.daemon, &status, 0);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			daemon_died(status);
		else
			S.kills++;
	}
	S.daemon = 0;
	umount2(S.mnt, MNT_DETACH);
}

static void daemon_stop(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", S.mnt, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	waitpid(S.daemon, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		daemon_died(status);
	S.daemon = 0;
}

/* ------------------------------------------------------------ storm */

static int storm_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mnt", 1, 0, 'm' }, { "backing", 1, 0, 'b' }, { "bin", 1, 0, 'x' },
		{ "opts", 1, 0, 'o' }, { "err", 1, 0, 'e' }, { "node", 1, 0, 'n' },
		{ "seconds", 1, 0, 's' }, { "kills", 1, 0, 'k' }, { "journal", 1, 0, 'j' },
		{ "seed", 1, 0, 'r' }, { "clients", 1, 0, 'c' }, { "max-ms", 1, 0, 'M' },
		{ "verbose", 0, 0, 'v' }, { 0, 0, 0, 0 }
	};
	uint64_t seconds = 60, max_kills = UINT64_MAX, seed = (uint64_t)time(NULL), max_ms = 300;
	const char *jdir = NULL;
	uint64_t rnd, t0;
	int o;

	S.opts = "";
	S.clients = 3;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'm': S.mnt = optarg; break;
		case 'b': S.backing = optarg; break;
		case 'x': S.bin = optarg; break;
		case 'o': S.opts = optarg; break;
		case 'e': S.err = optarg; break;
		case 'n': S.node = atoi(optarg); break;
		case 's': seconds = strtoull(optarg, NULL, 0); break;
		case 'k': max_kills = strtoull(optarg, NULL, 0); break;
		case 'j': jdir = optarg; break;
		case 'r': seed = strtoull(optarg, NULL, 0); break;
		case 'c': S.clients = atoi(optarg); break;
		case 'M': max_ms = strtoull(optarg, NULL, 0); break;
		case 'v': S.verbose = true; break;
		default: return 2;
		}
	}
	if (!S.mnt || !S.backing || !S.bin || !S.err || !jdir || S.clients < 1 || S.clients > 16 ||
	    max_ms < 1)
		die("usage: stormc storm --mnt DIR --backing DIR --bin SHMFS --err FILE --journal DIR [--node N] [--seconds S] [--kills N] [--seed X] [--clients N] [--max-ms MS] [--opts O] [--verbose]");
	printf("# seed %llu\n", (unsigned long long)seed);
	rnd = seed;
	S.page_sz = (uint64_t)sysconf(_SC_PAGESIZE);
	{
		FILE *f = fopen("/proc/meminfo", "re");
		char line[256];
		unsigned long long kb = 0;
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1)
				break;
		if (f)
			fclose(f);
		if (!kb)
			die("no huge pages");
		S.huge_sz = kb * 1024;
		snprintf(S.hp_dir, sizeof(S.hp_dir), "/sys/devices/system/node/node%d/hugepages/hugepages-%llukB",
			 S.node, kb);
	}
	S.cl = calloc((size_t)S.clients, sizeof(*S.cl));
	for (int i = 0; i < S.clients; i++) {
		char p[600];
		S.cl[i].id = i;
		S.cl[i].rnd = rnd_next(&rnd);
		snprintf(p, sizeof(p), "%s/client%d.journal", jdir, i);
		S.cl[i].journal = fopen(p, "we");
		if (!S.cl[i].journal)
			die("%s: %s", p, strerror(errno));
	}
	{
		char p[300];
		snprintf(p, sizeof(p), "%s/nr_hugepages", S.hp_dir);
		S.used0 = sysfs_u64(p);
		snprintf(p, sizeof(p), "%s/free_hugepages", S.hp_dir);
		S.used0 -= sysfs_u64(p);
	}
	daemon_start();
	t0 = now_ms();
	while (S.kills + S.crashes < max_kills && now_ms() - t0 < seconds * 1000) {
		__atomic_store_n(&S.killing, 0, __ATOMIC_SEQ_CST);
		for (int i = 0; i < S.clients; i++)
			pthread_create(&S.cl[i].thread, NULL, client_main, &S.cl[i]);
		sleep_ms(1 + rnd_below(&rnd, max_ms));
		__atomic_store_n(&S.killing, 1, __ATOMIC_SEQ_CST);
		daemon_kill();
		for (int i = 0; i < S.clients; i++)
			pthread_join(S.cl[i].thread, NULL);
		daemon_start();
		for (int i = 0; i < S.clients; i++)
			check_client(&S.cl[i]);
		check_pages();
		if (S.verbose || (S.kills + S.crashes) % 50 == 0)
			printf("# %llu kills, %llu crashes, %llu lost, %llu resurrected, %llu corrupt, %llu partial, %llu pool mismatches\n",
			       (unsigned long long)S.kills, (unsigned long long)S.crashes,
			       (unsigned long long)S.lost, (unsigned long long)S.resurrected,
			       (unsigned long long)S.corrupt, (unsigned long long)S.partial,
			       (unsigned long long)S.leaked);
		fflush(stdout);
	}
	/* last check with a quiet daemon: every region removed gives every page back */
	for (int i = 0; i < S.clients; i++) {
		struct client *c = &S.cl[i];
		S.ops += c->ops_done;
		S.bad_reads += c->bad_reads;
		for (int k = 0; k < NAMES; k++) {
			char path[512];
			path_of(c, k, path, sizeof(path));
			if (c->st[k].exists && unlink(path) < 0)
				fprintf(stderr, "stormc: unlink %s: %s\n", path, strerror(errno));
			state_free(&c->st[k]);
		}
		fclose(c->journal);
	}
	check_pages();
	daemon_stop();
	printf("storm: kills %llu, crashes %llu, lost %llu, resurrected %llu, corrupt %llu, partial %llu, pool mismatches %llu, bad reads %llu, operations %llu\n",
	       (unsigned long long)S.kills, (unsigned long long)S.crashes, (unsigned long long)S.lost,
	       (unsigned long long)S.resurrected, (unsigned long long)S.corrupt,
	       (unsigned long long)S.partial, (unsigned long long)S.leaked,
	       (unsigned long long)S.bad_reads, (unsigned long long)S.ops);
	return S.crashes || S.lost || S.resurrected || S.corrupt || S.partial || S.leaked || S.bad_reads;
}

/* ------------------------------------------------------------ reads */

static const char *reads_path;
static uint64_t reads_end;
static uint64_t reads_total, reads_failed;

static void *reads_main(void *arg)
{
	unsigned char *buf = xmalloc(IO_MAX);

	(void)arg;
	while (now_ms() < reads_end) {
		int fd;

		/* all threads pause together now and then: the daemon's idle
		 * workers exit, and the next burst starts new ones with fresh
		 * buffers (what took the place of an unmapped mapping) */
		if (now_ms() % 100 < 10)
			sleep_ms(10);
		fd = open(reads_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || pread(fd, buf, IO_MAX, 0) < 0) {
			__atomic_add_fetch(&reads_failed, 1, __ATOMIC_RELAXED);
			if (fd >= 0)
				close(fd);
			break; /* the daemon is gone */
		}
		close(fd);
		__atomic_add_fetch(&reads_total, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

static int reads(int argc, char **argv)
{
	pthread_t t[64];
	int n;

	if (argc != 5)
		die("usage: stormc reads FILE SECONDS THREADS");
	reads_path = argv[2];
	reads_end = now_ms() + strtoull(argv[3], NULL, 0) * 1000;
	n = atoi(argv[4]);
	if (n < 1 || n > 64)
		die("1 to 64 threads");
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, reads_main, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("%llu reads, %llu failed\n", (unsigned long long)reads_total,
	       (unsigned long long)reads_failed);
	return reads_failed != 0;
}

/* ------------------------------------------------------------ op then kill */

static int op_kill(int argc, char **argv)
{
	pid_t pid;
	int rc;

	if ((strcmp(argv[1], "unlink-kill") == 0 && argc != 4) ||
	    (strcmp(argv[1], "rename-kill") == 0 && argc != 5))
		die("usage: stormc unlink-kill PID PATH | rename-kill PID OLD NEW");
	pid = (pid_t)atoi(argv[2]);
	rc = argv[1][0] == 'u' ? unlink(argv[3]) : rename(argv[3], argv[4]);
	/* at once: no other system call between the reply and the kill */
	kill(pid, SIGKILL);
	if (rc < 0) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "storm") == 0)
		return storm_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "reads") == 0)
		return reads(argc, argv);
	if (argc >= 2 && (strcmp(argv[1], "unlink-kill") == 0 || strcmp(argv[1], "rename-kill") == 0))
		return op_kill(argc, argv);
	die("usage: stormc storm ... | reads FILE SECONDS THREADS | unlink-kill PID PATH | rename-kill PID OLD NEW");
	return 2;
}
