/* tjoin.c - drive libshmfs from the integration tests: one operation per
 * run, printing "OK" (plus a result) or the errno name, like tsys does for
 * system calls. Built against the shared library, so the tests exercise the
 * installed ABI.
 *   tjoin join PATH r|w            join and leave
 *   tjoin create PATH SIZE MODE [process]  shmfs_region_create (MODE octal); with
 *                                  "process": SHMFS_CREATE_PROCESS_LIFETIME
 *   tjoin create-opts PATH SIZE MODE [OPT]...  shmfs_region_create_opts; OPT is
 *                                  process, disown, exact (SHMFS_CREATE_*), or
 *                                  split=N:C[,N:C]... (runs of C pages on node N)
 *   tjoin path PATH                shmfs_region_path: "OK ABSOLUTE-PATH"
 *   tjoin unlink PATH              shmfs_region_unlink
 *   tjoin info PATH                shmfs_region_info: "OK page_type page_sz sz node name"
 *   tjoin pagesize PATH            join, touch, print the mapping's KernelPageSize from smaps
 *   tjoin rowrite PATH             a child joins read-only and writes: prints the signal it got
 *   tjoin randaddr PATH            join at a random address: "OK ALIGNED" when page aligned
 *   tjoin hold PATH r|w            join, print "OK PID", then obey stdin lines:
 *                                  "write TEXT", "check TEXT" (SAME | DIFF got), "leave" (LEFT),
 *                                  "join PATH r|w" (join another region from the same
 *                                  process: "OK TEXT" its first bytes, then leave it;
 *                                  or the errno name); EOF exits. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

static int fail(int err)
{
	const char *n = strerrorname_np(err);

	printf("%s\n", n ? n : "EUNKNOWN");
	return 1;
}

static unsigned mode_flags(const char *s)
{
	return strcmp(s, "w") == 0 ? SHMFS_JOIN_RDWR : SHMFS_JOIN_RDONLY;
}

/* PATH SIZE MODE [OPT]... */
static int op_create_opts(int argc, char **argv)
{
	struct shmfs_node_pages split[SHMFS_SPLIT_MAX + 1];
	struct shmfs_region_create_opts opts = { .sz = sizeof(opts) };
	int r;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "process")) {
			opts.flags |= SHMFS_CREATE_PROCESS_LIFETIME;
		} else if (!strcmp(argv[i], "disown")) {
			opts.flags |= SHMFS_CREATE_DISOWN;
		} else if (!strcmp(argv[i], "exact")) {
			opts.flags |= SHMFS_CREATE_EXACT_MODE;
		} else if (!strncmp(argv[i], "split=", 6)) {
			char *p = argv[i] + 6;

			opts.split = split;
			while (*p && opts.split_cnt < SHMFS_SPLIT_MAX + 1) {
				split[opts.split_cnt].node = (int)strtol(p, &p, 10);
				split[opts.split_cnt].page_cnt = strtoull(p + 1, &p, 10);
				opts.split_cnt++;
				if (*p == ',')
					p++;
			}
		} else {
			fprintf(stderr, "tjoin: unknown create option '%s'\n", argv[i]);
			return 2;
		}
	}
	r = shmfs_region_create_opts(argv[0], strtoull(argv[1], NULL, 0), (mode_t)strtoul(argv[2], NULL, 8),
				     &opts);
	return r < 0 ? fail(-r) : (printf("OK\n"), 0);
}

static int op_join(const char *path, const char *mode)
{
	void *p = shmfs_join(path, mode_flags(mode));

	if (!p)
		return fail(errno);
	if (shmfs_leave(p) < 0)
		return fail(errno);
	printf("OK\n");
	return 0;
}

static int op_pagesize(const char *path)
{
	volatile char *p = shmfs_join(path, SHMFS_JOIN_RDONLY);
	char line[512];
	FILE *f;
	int in = 0;

	if (!p)
		return fail(errno);
	(void)p[0];   /* fault a page in */
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return fail(errno);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		unsigned long kb;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %lu kB", &kb) == 1) {
			printf("OK %lu kB\n", kb);
			fclose(f);
			shmfs_leave((void *)p);
			return 0;
		}
	}
	fclose(f);
	printf("NOTFOUND\n");
	return 1;
}

static int op_rowrite(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return fail(errno);
	if (pid == 0) {
		volatile char *p = shmfs_join(path, SHMFS_JOIN_RDONLY);
		if (!p)
			_exit(3);
		signal(SIGSEGV, SIG_DFL);
		p[0] = 'x';
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail(errno);
	if (WIFSIGNALED(status)) {
		printf("%s\n", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "SIG?");
		return 0;
	}
	printf(WEXITSTATUS(status) == 3 ? "NOJOIN\n" : "WROTE\n");
	return 1;
}

static int op_randaddr(const char *path)
{
	shmfs_join_info_t info;
	void *p = shmfs_join_opts(path, SHMFS_JOIN_RDONLY | SHMFS_JOIN_RANDOM_ADDR, NULL, &info);

	if (!p)
		return fail(errno);
	printf("OK %s\n", (uintptr_t)p % info.page_sz == 0 ? "ALIGNED" : "MISALIGNED");
	shmfs_leave(p);
	return 0;
}

static int op_hold(const char *path, const char *mode)
{
	shmfs_join_info_t info;
	char *p = shmfs_join_opts(path, mode_flags(mode), NULL, &info);
	char line[4096];

	if (!p)
		return fail(errno);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("OK %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "write ", 6) == 0 && p) {
			size_t n = strlen(line + 6) + 1;
			if (n > info.sz)
				n = info.sz;
			memcpy(p, line + 6, n);
			printf("OK\n");
		} else if (strncmp(line, "check ", 6) == 0 && p) {
			size_t n = strnlen(p, info.sz < 4000 ? info.sz : 4000);
			if (strlen(line + 6) == n && memcmp(p, line + 6, n) == 0)
				printf("SAME\n");
			else
				printf("DIFF %.*s\n", (int)n, p);
		} else if (strncmp(line, "join ", 5) == 0 && strlen(line) > 7 &&
			   line[strlen(line) - 2] == ' ') {
			shmfs_join_info_t oi;
			char *o;

			line[strlen(line) - 2] = '\0';
			o = shmfs_join_opts(line + 5, mode_flags(line + strlen(line) + 1), NULL, &oi);
			if (!o) {
				fail(errno);
			} else {
				printf("OK %.*s\n", (int)strnlen(o, oi.sz < 64 ? oi.sz : 64), o);
				shmfs_leave(o);
			}
		} else if (strcmp(line, "leave") == 0 && p) {
			int r = shmfs_leave(p);
			p = NULL;
			if (r < 0)
				fail(-r);
			else
				printf("LEFT\n");
		} else {
			printf("BAD %s\n", line);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	shmfs_region_info_t info;
	int r;

	if (!strcmp(op, "join") && argc == 4)
		return op_join(argv[2], argv[3]);
	if (!strcmp(op, "create") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "process")))) {
		r = shmfs_region_create_flags(argv[2], strtoull(argv[3], NULL, 0),
					      (mode_t)strtoul(argv[4], NULL, 8),
					      argc == 6 ? SHMFS_CREATE_PROCESS_LIFETIME : 0);
		return r < 0 ? fail(-r) : (printf("OK\n"), 0);
	}
	if (!strcmp(op, "create-opts") && argc >= 5)
		return op_create_opts(argc - 2, argv + 2);
	if (!strcmp(op, "path") && argc == 3) {
		char path[4096];

		r = shmfs_region_path(argv[2], path, sizeof(path));
		return r < 0 ? fail(-r) : (printf("OK %s\n", path), 0);
	}
	if (!strcmp(op, "unlink") && argc == 3) {
		r = shmfs_region_unlink(argv[2]);
		return r < 0 ? fail(-r) : (printf("OK\n"), 0);
	}
	if (!strcmp(op, "info") && argc == 3) {
		r = shmfs_region_info(argv[2], &info);
		if (r < 0)
			return fail(-r);
		printf("OK %s %llu %llu %d %s\n", info.page_type, (unsigned long long)info.page_sz,
		       (unsigned long long)info.sz, info.node, info.name);
		return 0;
	}
	if (!strcmp(op, "pagesize") && argc == 3)
		return op_pagesize(argv[2]);
	if (!strcmp(op, "rowrite") && argc == 3)
		return op_rowrite(argv[2]);
	if (!strcmp(op, "randaddr") && argc == 3)
		return op_randaddr(argv[2]);
	if (!strcmp(op, "hold") && argc == 4)
		return op_hold(argv[2], argv[3]);
	fprintf(stderr, "usage: see the comment at the top of tjoin.c\n");
	return 2;
}
