/* cmd_cfg.c - fd_shmem_cfg parity: init (mount shmfs with a permission, user
 * and group), fini (tear it down, refusing while processes still map
 * regions), alloc / free (size a node's huge page pool through its .nr_pages
 * file, with progress), query (pools and regions), reset (remove every
 * region through .control). Only init and fini act outside the tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backing_path.h"
#include <shmfs/shmfs.h>

#include "ctl.h"
#include "mountinfo.h"
#include "parse.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

/* ------------------------------------------------------------ pool sizes */

struct watch {
	struct ctl *c;
	char sysfs[256];
	uint64_t target;
	bool stop;                  /* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shown;
};

/* While the daemon reserves pages (one blocking write), show how far the
 * kernel has got. Read-only look at the kernel's counter: the action itself
 * goes through the tree. Appears only after 0.3 s. */
static void *watch_thread(void *arg)
{
	struct watch *w = arg;
	struct timespec until;
	int ticks = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		uint64_t have;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
		if (w->stop || ++ticks < 3)
			continue;
		if (shmfs_read_u64(w->sysfs, &have) == 0) {
			ctl_progress(w->c, "reserving", have, w->target, false);
			w->shown = true;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Write a target to .nr_pages, with progress. 0 or -errno from the daemon. */
static int pool_write(struct ctl *c, const struct shmfs_page_type *t, int node, uint64_t target)
{
	struct watch w = { .c = c, .target = target };
	char path[4096], dir[200], text[32];
	pthread_t th;
	bool watching = false;
	int r;

	snprintf(path, sizeof(path), "%s/%s/node%d/" SHMFS_FILE_NR_PAGES, c->mount, t->name, node);
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)target);
	if (c->progress_tty && !c->quiet && shmfs_page_type_node_dir(t, node, dir, sizeof(dir)) == 0) {
		snprintf(w.sysfs, sizeof(w.sysfs), "%s/nr_hugepages", dir);
		pthread_mutex_init(&w.lock, NULL);
		pthread_cond_init(&w.cond, NULL);
		watching = pthread_create(&th, NULL, watch_thread, &w) == 0;
	}
	r = shmfs_write_text(path, text);
	if (watching) {
		pthread_mutex_lock(&w.lock);
		w.stop = true;
		pthread_cond_signal(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(th, NULL);
		if (w.shown) {
			uint64_t have = 0;

			(void)shmfs_read_u64(w.sysfs, &have);
			ctl_progress(c, "reserving", have, target, true);
		}
	}
	return r;
}

static int pool_fail(int r, const char *cmd, const struct ctl_pool *before, uint64_t target)
{
	char on[64];

	snprintf(on, sizeof(on), "%s/node%d", before->t->name, before->node);
	switch (r) {
	case -ENOMEM:
	case -ENOSPC:
		return ctl_fail(r, cmd, on, "The kernel could not find enough contiguous memory on that node, "
				"even after compaction; the pool is unchanged. Free memory (stop programs, "
				"'echo 3 > /proc/sys/vm/drop_caches') and retry, or reserve at boot "
				"(hugepages= on the kernel command line).",
				"cannot make the pool %llu pages (%s) (it stays %llu) on",
				(unsigned long long)target, ctl_size(target * before->t->page_sz),
				(unsigned long long)before->total);
	case -EBUSY:
		return ctl_fail(r, cmd, on, "Regions use (or have reserved) those pages; the pool is unchanged. "
				"See which with 'shmfsctl info', remove them, or ask for more pages.",
				"cannot shrink the pool to %llu pages: %llu are in use on",
				(unsigned long long)target,
				(unsigned long long)(before->total - before->free));
	case -EACCES:
	case -EPERM:
		return ctl_fail(r, cmd, on, "Only root may resize pools; run it with sudo.",
				"cannot resize the pool");
	default:
		return ctl_fail(r, cmd, on, NULL, "cannot resize the pool to %llu pages on",
				(unsigned long long)target);
	}
}

static int pool_args(struct ctl *c, const char *cmd, const char *type, const char *node_s,
		     const struct shmfs_page_type **ret_t, int *ret_node)
{
	int r;

	*ret_t = ctl_page_type(c, cmd, type, true);
	if (!*ret_t)
		return CTL_EXIT_USAGE;
	r = ctl_node(cmd, node_s, ret_node);
	if (r)
		return r;
	return ctl_mount_check(c, cmd);
}

static void pool_report(struct ctl *c, const char *cmd, const struct ctl_pool *p)
{
	struct json j;

	if (c->json) {
		ctl_json_open(c, &j, cmd);
		json_str(&j, "type", p->t->name);
		json_i64(&j, "node", p->node);
		json_u64(&j, "page_size", p->t->page_sz);
		json_u64(&j, "total", p->total);
		json_u64(&j, "free", p->free);
		json_u64(&j, "used", p->total - p->free);
		ctl_json_close(c, &j);
		return;
	}
	ctl_say(c, "%s pages on node %d: %llu (%s), %llu free, %llu in use", p->t->name, p->node,
		(unsigned long long)p->total, ctl_size(p->total * p->t->page_sz),
		(unsigned long long)p->free, (unsigned long long)(p->total - p->free));
}

static int run_alloc(struct ctl *c, const struct ctl_args *a)
{
	const struct shmfs_page_type *t;
	struct ctl_pool before, after;
	uint64_t target;
	int node, sign, r;

	t = ctl_page_type(c, "alloc", a->argv[1], true);
	if (!t)
		return CTL_EXIT_USAGE;
	r = ctl_parse_pages_rel("alloc", a->argv[0], t, &sign, &target);
	if (r)
		return r;
	r = pool_args(c, "alloc", a->argv[1], a->argv[2], &t, &node);
	if (r)
		return r;
	r = ctl_pool_read(c, t, node, &before);
	if (r < 0)
		return ctl_fail(r, "alloc", c->mount, NULL, "cannot read the %s pool of node %d in",
				t->name, node);
	r = ctl_pool_target("alloc", &before, sign, target, &target);
	if (r)
		return r;
	r = pool_write(c, t, node, target);
	if (r < 0)
		return pool_fail(r, "alloc", &before, target);
	if (ctl_pool_read(c, t, node, &after) < 0)
		after = before;
	pool_report(c, "alloc", &after);
	return 0;
}

static int run_free(struct ctl *c, const struct ctl_args *a)
{
	const struct shmfs_page_type *t;
	struct ctl_pool p;
	int node, r;

	r = pool_args(c, "free", a->argv[0], a->argv[1], &t, &node);
	if (r)
		return r;
	/* Release every page no region uses. A region may grow between the
	 * read and the write; the daemon then refuses (EBUSY) and one fresh
	 * look settles it. */
	for (int tries = 0; tries < 2; tries++) {
		r = ctl_pool_read(c, t, node, &p);
		if (r < 0)
			return ctl_fail(r, "free", c->mount, NULL, "cannot read the %s pool of node %d in",
					t->name, node);
		r = pool_write(c, t, node, p.total - p.free);
		if (r != -EBUSY)
			break;
	}
	if (r < 0)
		return pool_fail(r, "free", &p, p.total - p.free);
	if (ctl_pool_read(c, t, node, &p) < 0)
		return 0;
	pool_report(c, "free", &p);
	return 0;
}

/* ------------------------------------------------------------ query */

/* One pool's line of query, or its object in j (--json). */
static int query_pool(const struct ctl_pool *p, void *ctx)
{
	const struct shmfs_page_type *t = p->t;
	struct json *j = ctx;

	if (j) {
		json_obj_open(j, NULL);
		json_str(j, "type", t->name);
		json_i64(j, "node", p->node);
		json_u64(j, "page_size", t->page_sz);
		json_u64(j, "total", p->total);
		json_u64(j, "free", p->free);
		json_u64(j, "used", p->total - p->free);
		json_u64(j, "reserved", p->reserved);
		json_u64(j, "surplus", p->surplus);
		json_obj_close(j);
	} else {
		printf("  %-9s %4d %9s %8llu %8llu %8llu %10s %10s\n", t->name, p->node,
		       ctl_size(t->page_sz), (unsigned long long)p->total, (unsigned long long)p->free,
		       (unsigned long long)(p->total - p->free), ctl_size(p->total * t->page_sz),
		       ctl_size(p->free * t->page_sz));
	}
	return 0;
}

static int run_query(struct ctl *c, const struct ctl_args *a)
{
	_cleanup_free_ struct ctl_region *regs = NULL;
	size_t reg_cnt = 0;
	char backing[4096] = "";
	struct json j;
	int r;

	if (a->argc > 0)
		return ctl_region_query(c, a);
	r = ctl_regions_load(c, "query", &regs, &reg_cnt);
	if (r)
		return r;
	(void)ctl_xattr(c->mount, SHMFS_XATTR_BACKING, backing, sizeof(backing));
	if (c->json) {
		ctl_json_open(c, &j, "query");
		json_str(&j, "mount", c->mount);
		json_str(&j, "backing", backing);
		json_arr_open(&j, "pools");
	} else {
		printf("shmfs at %s (backing %s)\n\npools:\n", c->mount, backing);
		printf("  %-9s %4s %9s %8s %8s %8s %10s %10s\n", "TYPE", "NODE", "PAGE", "TOTAL", "FREE",
		       "USED", "SIZE", "FREE SIZE");
	}
	r = ctl_pools_each(c, "query", query_pool, c->json ? &j : NULL);
	if (r)
		return r;
	if (c->json) {
		json_arr_close(&j);
		json_arr_open(&j, "regions");
		for (size_t i = 0; i < reg_cnt; i++) {
			json_obj_open(&j, NULL);
			ctl_region_json(&j, &regs[i]);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		ctl_json_close(c, &j);
		return 0;
	}
	printf("\nregions:\n");
	if (reg_cnt == 0) {
		printf("  (none)\n");
		return 0;
	}
	printf("  %-9s %4s %-39s %10s %8s %-10s %-10s %5s\n", "TYPE", "NODE", "NAME", "SIZE", "PAGES",
	       "USER", "GROUP", "MODE");
	for (size_t i = 0; i < reg_cnt; i++) {
		const struct ctl_region *g = &regs[i];
		char u[64], gr[64];

		printf("  %-9s %4d %-39s %10s %8llu %-10s %-10s %04o\n", g->t->name, g->node, g->name,
		       ctl_size(g->size), (unsigned long long)g->page_cnt, ctl_user(g->uid, u, sizeof(u)),
		       ctl_group(g->gid, gr, sizeof(gr)), (unsigned)g->mode);
	}
	return 0;
}

/* ------------------------------------------------------------ reset */

static int run_reset(struct ctl *c, const struct ctl_args *a)
{
	_cleanup_free_ struct ctl_region *regs = NULL;
	size_t before = 0, after = 0;
	char path[4096];
	int r;

	r = ctl_mount_check(c, "reset");
	if (r)
		return r;
	(void)ctl_regions_list(c, &regs, &before);
	free(TAKE_PTR(regs));
	snprintf(path, sizeof(path), "%s/" SHMFS_FILE_CONTROL, c->mount);
	r = shmfs_write_text(path, "reset\n");
	if (r == -EACCES || r == -EPERM)
		return ctl_fail(r, "reset", path, "Only root may remove every region; run it with sudo.",
				"cannot write 'reset' to");
	if (r < 0)
		return ctl_fail(r, "reset", path, "Some regions may be left; see 'shmfsctl query'.",
				"reset failed writing to");
	(void)ctl_regions_list(c, &regs, &after);
	before = after < before ? before - after : 0;
	if (c->json) {
		struct json j;

		ctl_json_open(c, &j, "reset");
		json_u64(&j, "removed", before);
		ctl_json_close(c, &j);
	}
	ctl_say(c, "removed %zu region%s", before, before == 1 ? "" : "s");
	return 0;
}

/* ------------------------------------------------------------ init / fini */

/* The daemon binary: next to shmfsctl in the build tree (build/utils/shmfsctl
 * and build/fs/shmfs), next to it when installed (both in sbindir), else from
 * PATH (as mount.fuse3 would find it). */
static int find_daemon(char *buf, size_t sz)
{
	char self[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *path_env = getenv("PATH");

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		snprintf(dir, sizeof(dir), "%s", self);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			int w = snprintf(buf, sz, "%s/../fs/shmfs", dir);

			if (w > 0 && (size_t)w < sz && access(buf, X_OK) == 0)
				return 0;
			w = snprintf(buf, sz, "%s/shmfs", dir);
			if (w > 0 && (size_t)w < sz && access(buf, X_OK) == 0)
				return 0;
		}
	}
	if (!path_env)
		path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path_env; *p;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len > 0 && len < 1024) {
			snprintf(buf, sz, "%.*s/shmfs", (int)len, p);
			if (access(buf, X_OK) == 0)
				return 0;
		}
		p += len + (e ? 1 : 0);
	}
	return -ENOENT;
}

static int parse_id(const char *cmd, const char *s, bool group, unsigned *ret)
{
	uint64_t v;

	if (s[0] == '\0')
		return 1; /* "" = leave as is, like fd_shmem_cfg */
	if (shmfs_parse_u64(s, &v) == 0 && v < UINT32_MAX) {
		*ret = (unsigned)v;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(s);

		if (g) {
			*ret = g->gr_gid;
			return 0;
		}
		return -ctl_usage(cmd, "no group named '%s'", s);
	}
	struct passwd *pw = getpwnam(s);

	if (pw) {
		*ret = pw->pw_uid;
		return 0;
	}
	return -ctl_usage(cmd, "no user named '%s'", s);
}

/* The mountpoint as the daemon saw it (absolute, resolved), even when the
 * dead mount itself cannot be stat'ed: resolve the parent, keep the name. */
static int mount_abs(const char *mount, char *buf, size_t sz)
{
	_cleanup_free_ char *copy = strdup(mount);
	char parent[PATH_MAX];
	const char *name;
	char *slash;
	int n;

	if (!copy)
		return -ENOMEM;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash == copy) {
		strcpy(parent, "");
		name = copy + 1;
	} else {
		if (slash)
			*slash = '\0';
		if (!realpath(slash ? copy : ".", parent))
			return -errno;
		if (strcmp(parent, "/") == 0)
			parent[0] = '\0';
		name = slash ? slash + 1 : copy;
	}
	n = snprintf(buf, sz, "%s/%s", parent, name);
	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

/* A shmfs mount at exactly path (absolute) whose daemon is gone: mountinfo
 * names it, but the tree does not answer. */
static bool dead_shmfs_at(const char *path)
{
	struct shmfs_mount m;
	char buf[PATH_MAX];

	if (shmfs_mountinfo_at(path, &m) < 0 || strcmp(m.fstype, "fuse.shmfs") != 0)
		return false;
	return ctl_xattr(path, SHMFS_XATTR_BACKING, buf, sizeof(buf)) == -ENOTCONN;
}

/* Detach every dead shmfs stacked at path (a daemon killed, and another
 * mounted over it, leaves several). The number removed, or -errno. */
static int dead_mounts_clear(const char *path)
{
	int n = 0;

	/* each pass takes the top one; a mount stack is finite, but bound it */
	while (n < 64 && dead_shmfs_at(path)) {
		if (umount2(path, MNT_DETACH) < 0)
			return -errno;
		n++;
	}
	return n;
}

/* The daemons serving backing: the processes holding its metadata
 * directory (<backing>/.shmfs) open, which only a daemon does. */
static size_t backing_daemons(const char *backing, pid_t *ret, size_t max)
{
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	char want[PATH_MAX + 16];
	struct dirent *pe;
	size_t cnt = 0, wlen;

	if (!proc)
		return 0;
	snprintf(want, sizeof(want), "%s/.shmfs", backing);
	wlen = strlen(want);
	while (cnt < max && (pe = readdir(proc))) {
		char dir[64];
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		pid_t pid = (pid_t)atoi(pe->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
		fds = opendir(dir);
		while (fds && (fe = readdir(fds))) {
			char link[PATH_MAX + 32];
			ssize_t n = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);

			if (n <= 0)
				continue;
			link[n] = '\0';
			/* the directory, its type subdirectories, or " (deleted)" */
			if (strncmp(link, want, wlen) == 0 &&
			    (link[wlen] == '\0' || link[wlen] == '/' || link[wlen] == ' ')) {
				ret[cnt++] = pid;
				break;
			}
		}
	}
	return cnt;
}

/* umount returns before the daemon has exited (the kernel does not wait
 * for a FUSE daemon), and a daemon still running holds its backing mounts
 * busy and may still write metadata there: wait until it is gone. */
static int daemons_wait(const pid_t *pids, size_t cnt, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		size_t alive = 0;

		for (size_t i = 0; i < cnt; i++)
			if (kill(pids[i], 0) == 0)
				alive++;
		if (alive == 0)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}

static int run_init(struct ctl *c, const struct ctl_args *a)
{
	char daemon[PATH_MAX], opts[256], backing[PATH_MAX], abs_mnt[PATH_MAX];
	unsigned mode = 0755, uid = 0, gid = 0;
	bool have_uid = false, have_gid = false;
	struct stat st;
	pid_t pid;
	int status, r;

	if (a->argc >= 1) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(a->argv[0], &end, 8);
		/* strtoul would also take blanks and a sign before the digits */
		if (a->argv[0][0] < '0' || a->argv[0][0] > '7' || *end || errno || m > 07777)
			return ctl_usage("init", "permission '%s' is not an octal mode like 0770", a->argv[0]);
		mode = (unsigned)m;
	}
	if (a->argc >= 2) {
		r = parse_id("init", a->argv[1], false, &uid);
		if (r < 0)
			return -r;
		have_uid = r == 0;
	}
	if (a->argc >= 3) {
		r = parse_id("init", a->argv[2], true, &gid);
		if (r < 0)
			return -r;
		have_gid = r == 0;
	}
	if (geteuid() != 0)
		return ctl_fail(0, "init", c->mount, "Run it as root (sudo shmfsctl init ...).",
				"init mounts filesystems, which needs root; cannot mount");
	/* A shmfs whose daemon was killed is replaced, not stacked over: the new
	 * daemon takes the same backing root, so the regions are kept. */
	if (mount_abs(c->mount, abs_mnt, sizeof(abs_mnt)) == 0) {
		r = dead_mounts_clear(abs_mnt);
		if (r < 0)
			return ctl_fail(r, "init", c->mount, "Unmount it with 'umount -l' first.",
					"cannot remove the dead shmfs mounted at");
		if (r > 0)
			ctl_say(c, "replacing the dead shmfs mounted at %s (its regions are kept)", c->mount);
	}
	if (stat(c->mount, &st) == 0) {
		if (ctl_xattr(c->mount, SHMFS_XATTR_BACKING, backing, sizeof(backing)) == 0)
			return ctl_fail(0, "init", c->mount, "Use it as it is, or 'shmfsctl fini' first.",
					"shmfs is already mounted at");
		if (!S_ISDIR(st.st_mode))
			return ctl_fail(-ENOTDIR, "init", c->mount, "Choose another place with --mount DIR.",
					"cannot mount on");
	} else if (errno == ENOTCONN) {
		return ctl_fail(-ENOTCONN, "init", c->mount, "A dead shmfs is still mounted there; run "
				"'shmfsctl fini' first.", "cannot mount on");
	} else if (mkdir(c->mount, 0755) < 0 && errno != EEXIST) {
		return ctl_fail(-errno, "init", c->mount, NULL, "cannot create the mount point");
	}
	r = find_daemon(daemon, sizeof(daemon));
	if (r < 0)
		return ctl_fail(r, "init", "shmfs", "Install shmfs, or put it in PATH.",
				"cannot find the daemon");
	snprintf(opts, sizeof(opts), "allow_other,mode=%04o", mode);
	if (have_uid)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",uid=%u", uid);
	if (have_gid)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",gid=%u", gid);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return ctl_fail(-errno, "init", daemon, NULL, "cannot start");
	if (pid == 0) {
		execl(daemon, "shmfs", "-o", opts, c->mount, (char *)NULL);
		fprintf(stderr, "shmfsctl init: cannot run '%s': %s\n", daemon, strerror(errno));
		_exit(127);
	}
	/* Without -f the daemon returns once the mount is up (or failed). */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ctl_fail(0, "init", c->mount, "The daemon's own message above says why.",
				"the daemon '%s' failed to mount", daemon);
	r = ctl_mount_check(c, "init");
	if (r)
		return r;
	ctl_json_fields(c, "init", "mount", c->mount, "options", opts, NULL);
	ctl_say(c, "mounted shmfs at %s (mode %04o)", c->mount, mode);
	return 0;
}

/* Processes that map any region: a report for fini. */
static size_t mapped_regions(struct ctl *c, FILE *out)
{
	_cleanup_free_ struct ctl_region *regs = NULL;
	size_t cnt = 0, mapped = 0;

	if (ctl_regions_list(c, &regs, &cnt) < 0)
		return 0;
	for (size_t i = 0; i < cnt; i++) {
		if (regs[i].mapper_cnt == 0)
			continue;
		mapped++;
		if (out)
			fprintf(out, "  %s/node%d/%s mapped by pid %s\n", regs[i].t->name, regs[i].node,
				regs[i].name, regs[i].mapper_pids);
	}
	return mapped;
}

struct under_arg {
	const char *backing;
	char (*mounts)[PATH_MAX];
	int cnt;
};

static int collect_under(const struct shmfs_mount *m, void *arg)
{
	struct under_arg *a = arg;
	size_t blen = strlen(a->backing);

	if (a->cnt < 16 && strncmp(m->path, a->backing, blen) == 0 &&
	    (m->path[blen] == '/' || m->path[blen] == '\0'))
		snprintf(a->mounts[a->cnt++], PATH_MAX, "%s", m->path);
	return 0;
}

/* Unmount every mount under the backing root (deepest first) and remove it. */
static int backing_remove(const char *backing)
{
	char mounts[16][PATH_MAX];
	struct under_arg ua = { .backing = backing, .mounts = mounts };
	int r = shmfs_mountinfo_each(collect_under, &ua);

	if (r < 0)
		return r;
	for (int i = ua.cnt - 1; i >= 0; i--)
		if (umount2(mounts[i], MNT_DETACH) < 0 && errno != EINVAL && r == 0)
			r = -errno;
	if (r < 0)
		return r;
	/* What is left is the daemon's metadata (plain files and directories). */
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--one-file-system", "--", backing, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The device of what is mounted at path (absolute, as mountinfo has it): a
 * FUSE mount whose daemon died cannot be stat'ed. 0 when none. */
static dev_t mount_dev(const char *path)
{
	struct shmfs_mount m;

	return shmfs_mountinfo_at(path, &m) == 0 ? m.dev : 0;
}

/* With the daemon dead nobody answers through the tree: ask the kernel who
 * maps the backing files directly (read-only), in one scan of /proc. A
 * mapping made through the mount (FUSE passthrough of a normal region)
 * names the mount's device instead: every file there is a region. */
static size_t mapped_backing(struct ctl *c, const char *backing, dev_t fuse_dev, FILE *out)
{
	_cleanup_free_ struct shmfs_mapping *maps = NULL;
	size_t mapped = 0, map_cnt = 0;

	if (shmfs_proc_mappings(NULL, 0, &maps, &map_cnt) < 0)
		return 0;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		const struct shmfs_page_type *t = &c->types.type[k];
		char dir[PATH_MAX + 16];
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		if (!shmfs_page_type_present(t))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", backing, t->backing_dir);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			struct stat st;
			size_t n, first;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;
			first = shmfs_mappings_lookup(maps, map_cnt, st.st_dev, st.st_ino, &n);
			if (n == 0)
				continue;
			mapped++;
			if (out) {
				fprintf(out, "  %s/%s mapped by pid", t->name, de->d_name);
				for (size_t i = 0; i < n; i++)
					fprintf(out, "%s%d", i ? "," : " ", (int)maps[first + i].pid);
				fputc('\n', out);
			}
		}
	}
	/* the table is sorted by device, inode, pid: one line per file */
	for (size_t i = 0; fuse_dev && i < map_cnt; i++) {
		size_t n;

		if (maps[i].dev != fuse_dev)
			continue;
		for (n = 1; i + n < map_cnt && maps[i + n].dev == fuse_dev &&
			    maps[i + n].ino == maps[i].ino; n++)
			;
		mapped++;
		if (out) {
			fprintf(out, "  a region (inode %llu) mapped through the mount by pid",
				(unsigned long long)maps[i].ino);
			for (size_t j = 0; j < n; j++)
				fprintf(out, "%s%d", j ? "," : " ", (int)maps[i + j].pid);
			fputc('\n', out);
		}
		i += n - 1;
	}
	return mapped;
}

/* fini -f after a plain umount: nothing is mounted at the mountpoint, but
 * the default backing root of it may still hold mounts and regions. */
static int fini_unmounted(struct ctl *c, bool force, const char *abs_mnt)
{
	_cleanup_free_ char *def = NULL;
	struct stat st;
	int r = shmfs_backing_default(abs_mnt, true, &def);

	if (r < 0 || stat(def, &st) < 0)
		return ctl_fail(0, "fini", c->mount, "Name the mount with --mount DIR or SHMFS_PATH.",
				"no shmfs is mounted at");
	if (!force)
		return ctl_fail(0, "fini", c->mount, "Its backing store is still there; 'shmfsctl fini "
				"-f' removes it with every region in it.", "no shmfs is mounted at");
	r = backing_remove(def);
	if (r < 0)
		return ctl_fail(r, "fini", def, "Unmount what is left under it and remove it by hand.",
				"cannot remove the backing root");
	ctl_say(c, "no shmfs was mounted at %s; removed its backing %s", c->mount, def);
	return 0;
}

static int run_fini(struct ctl *c, const struct ctl_args *a)
{
	bool force = a->opt[0], dead = false;
	char backing[PATH_MAX] = "", path[PATH_MAX + 32], abs_mnt[PATH_MAX];
	pid_t daemons[16];
	size_t mapped, daemon_cnt = 0;
	int r;

	if (geteuid() != 0)
		return ctl_fail(0, "fini", c->mount, "Run it as root (sudo shmfsctl fini).",
				"fini unmounts filesystems, which needs root; cannot unmount");
	r = mount_abs(c->mount, abs_mnt, sizeof(abs_mnt));
	if (r < 0)
		return ctl_fail(r, "fini", c->mount, NULL, "cannot resolve");
	r = ctl_xattr(c->mount, SHMFS_XATTR_BACKING, backing, sizeof(backing));
	if (r == -ENOTCONN) {
		_cleanup_free_ char *def = NULL;

		/* The daemon died: its backing root is the default one for this
		 * mountpoint (a custom backing= cannot be known now). */
		dead = true;
		r = shmfs_backing_default(abs_mnt, true, &def);
		if (r < 0)
			return ctl_fail(r, "fini", c->mount, "Unmount it with 'umount -l' and remove its "
					"backing root by hand.", "the daemon died and the backing root of");
		snprintf(backing, sizeof(backing), "%s", def);
	} else if (r < 0) {
		return fini_unmounted(c, force, abs_mnt);
	}
	mapped = dead ? mapped_backing(c, backing, mount_dev(abs_mnt), NULL) : mapped_regions(c, NULL);
	if (!force && mapped > 0) {
		ctl_fail(-EBUSY, "fini", c->mount, NULL, "processes still map regions of");
		if (dead)
			mapped_backing(c, backing, mount_dev(abs_mnt), stderr);
		else
			mapped_regions(c, stderr);
		fprintf(stderr, "  Stop them, or use 'shmfsctl fini -f' (their mappings stay valid until "
			"they exit; the memory returns then).\n");
		return CTL_EXIT_FAIL;
	}
	if (!dead) {
		/* Regions go through the daemon, as any removal does. */
		snprintf(path, sizeof(path), "%s/" SHMFS_FILE_CONTROL, c->mount);
		r = shmfs_write_text(path, "reset\n");
		if (r < 0 && !force)
			return ctl_fail(r, "fini", path, "Use -f to tear down anyway.",
					"cannot remove the regions via");
		daemon_cnt = backing_daemons(backing, daemons, sizeof(daemons) / sizeof(daemons[0]));
		if (umount2(c->mount, force ? MNT_DETACH : 0) < 0) {
			r = -errno;
			return ctl_fail(r, "fini", c->mount, r == -EBUSY ? "Something has a file open or its "
					"working directory in it ('fuser -vm MOUNT' shows what); stop it, or use -f." : NULL,
					"cannot unmount");
		}
		r = daemons_wait(daemons, daemon_cnt, 30 * 1000);
		if (r < 0)
			return ctl_fail(r, "fini", c->mount, "See what it is doing, or end it; then run "
					"'shmfsctl fini -f'.", "unmounted, but the daemon did not exit after 30 s:");
	}
	/* dead mounts: the one reached, and any stacked under a live one */
	r = dead_mounts_clear(abs_mnt);
	if (r < 0)
		return ctl_fail(r, "fini", c->mount, NULL, "cannot unmount the dead shmfs at");
	r = backing_remove(backing);
	if (r < 0)
		return ctl_fail(r, "fini", backing, "Unmount what is left under it and remove it by hand.",
				"unmounted, but cannot remove the backing root");
	ctl_json_fields(c, "fini", "mount", c->mount, "backing", backing, NULL);
	ctl_say(c, "unmounted shmfs at %s and removed its backing %s", c->mount, backing);
	return 0;
}

const struct ctl_cmd ctl_cfg_cmds[] = {
	{ "init", "PERM [USER [GROUP]]", "mount shmfs (as root) with a permission, user and group",
	  "Mounts shmfs on the mount (--mount, $SHMFS_PATH, " SHMFS_DEFAULT_PATH "), creating the\n"
	  "directory if needed; the daemon sets up the backing store. PERM is an octal mode\n"
	  "for the tree's directories (who may create regions); USER and GROUP own them\n"
	  "(names or numbers; \"\" leaves root). Like fd_shmem_cfg init.\n",
	  1, 3, true, { { 0 } }, run_init },
	{ "fini", "", "unmount shmfs and remove its backing store and every region",
	  "Refuses while processes map regions (and lists them) unless -f is given.\n",
	  0, 0, true, { { 'f', "force", "tear down even while regions are mapped" } }, run_fini },
	{ "alloc", "CNT TYPE NODE", "make the TYPE pool of NUMA node NODE hold CNT pages",
	  "CNT is a page count or a size with a unit (4G, 512m, 2MiB); +CNT adds to the\n"
	  "pool, -CNT takes away. TYPE is huge or gigantic; NODE is N or nodeN. The\n"
	  "reservation is all-or-nothing: if the kernel cannot reach CNT the pool stays as\n"
	  "it was. Pages regions use are never released. Progress is shown on a terminal.\n",
	  3, 3, true, { { 0 } }, run_alloc },
	{ "free", "TYPE NODE", "release every page of the pool that no region uses", "",
	  2, 2, true, { { 0 } }, run_free },
	{ "query", "[NAME [TYPE]]", "show the pools and the regions, or one region",
	  "Without NAME: every pool (type, node, pages total, free, used) and every region,\n"
	  "like fd_shmem_cfg query. With NAME: that region in detail, like fd_shmem_ctl\n"
	  "query; NAME is a bare name (largest page type first, or only TYPE) or a path\n"
	  "relative to the mount (huge/node0/NAME).\n",
	  0, 2, true, { { 0 } }, run_query },
	{ "reset", "", "remove every region (root only)", "", 0, 0, true, { { 0 } }, run_reset },
	{ NULL },
};
