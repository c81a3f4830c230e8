/* cmd_info.c - REDHAWK shminfo/shmclean parity, done right: info [-a] shows
 * the filesystems and every region the caller may see (with -a also those it
 * may not read and the foreign files of the backing store); clean removes
 * orphaned regions - orphaned as the daemon decides it from the kernel by
 * the region's lifetime (persistent: never; process: creator's pid AND start
 * time gone, nobody mapping; lock, another program's file such as DPDK's:
 * nobody holding a lock on it or mapping it), never kill(pid, 0) - and exits
 * non-zero when anything it was asked to remove is still there. Also the one
 * rendering of a region for people and for --json. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "name.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

/* ------------------------------------------------------------ rendering */

static const char *created_text(const char *created, char *buf, size_t sz)
{
	char *end;
	long long s = strtoll(created, &end, 10);
	struct tm tm;
	time_t t = (time_t)s;

	if (!created[0] || end == created || !localtime_r(&t, &tm))
		return created;
	strftime(buf, sz, "%Y-%m-%d %H:%M:%S %z", &tm);
	return buf;
}

/* "dpdk:rte" -> "dpdk (file prefix rte)" */
static const char *program_text(const char *program, char *buf, size_t sz)
{
	const char *colon = strchr(program, ':');

	if (colon && strncmp(program, "dpdk:", 5) == 0)
		snprintf(buf, sz, "dpdk (file prefix %s)", colon + 1);
	else
		snprintf(buf, sz, "%s", program);
	return buf;
}

static const char *lifetime_text(const struct ctl_region *g, char *buf, size_t sz)
{
	if (strcmp(g->lifetime, "persistent") == 0)
		snprintf(buf, sz, "persistent (kept until removed)");
	else if (strcmp(g->lifetime, "process") == 0)
		snprintf(buf, sz, "process (orphaned once its creator is gone and nothing maps it)");
	else if (strcmp(g->lifetime, "lock") == 0)
		snprintf(buf, sz, "lock (orphaned once nobody holds a lock on it or maps it)");
	else if (g->shared)
		snprintf(buf, sz, "shared (the master's: kept until it removes it)");
	else
		snprintf(buf, sz, "%s", g->lifetime[0] ? g->lifetime : "unknown");
	return buf;
}

/* Whether a creator runs: /proc asked at most every 100 ms per creator (the
 * last one asked), as a listing shows many regions of one creator in a row. */
static bool creator_alive(pid_t pid, uint64_t start)
{
	static struct {
		pid_t pid;
		uint64_t start;
		bool alive;
		struct timespec at;
	} last;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (last.pid == pid && last.start == start && last.pid > 0 &&
	    (now.tv_sec - last.at.tv_sec) * 1000000000LL + (now.tv_nsec - last.at.tv_nsec) < 100000000LL)
		return last.alive;
	last.pid = pid;
	last.start = start;
	last.alive = shmfs_proc_alive(pid, start);
	last.at = now;
	return last.alive;
}

void ctl_region_print(const struct ctl_region *g, bool all)
{
	char u[64], gr[64], when[64], rel[128];

	printf("%s\n", g->name);
	printf("  path:        %s\n", ctl_region_rel(g, rel, sizeof(rel)));
	printf("  type:        %s (%s pages)\n", ctl_region_type(g), ctl_size(g->page_sz));
	printf("  file size:   %s\n", ctl_size(g->size));
	printf("  allocated:   %s\n", ctl_size(g->allocated));
	if (g->readable) {
		printf("  pages:       %llu\n", (unsigned long long)g->page_cnt);
		printf("  nodes:       %s\n", g->numa_nodes[0] ? g->numa_nodes : "-");
		if (g->policy[0])
			printf("  policy:      %s\n", g->policy);
		if (g->has_heap) {
			printf("  heap size:   %s\n", ctl_size(g->heap_sz));
			printf("  heap used:   %s (%.1f%%)\n", ctl_size(g->heap_used),
			       g->heap_sz ? 100.0 * (double)g->heap_used / (double)g->heap_sz : 0.0);
			printf("  heap blocks: %llu\n", (unsigned long long)g->heap_alloc_cnt);
		}
		if (g->shared) {
			printf("  device:      %s\n", g->backing);
			printf("  offset:      %llu\n", (unsigned long long)g->shared_off);
			printf("  extent:      %s\n", ctl_size(g->shared_extent));
			printf("  master:      %s%s\n", g->shared_master,
			       strcmp(g->shared_role, "master") == 0 ? " (this host)" : "");
			printf("  this host:   %s (%s)\n", g->shared_host, g->shared_role);
		}
		if (g->shared)
			; /* the log names no creator process */
		else if (g->creator_pid > 0)
			printf("  creator:     %lld (%s)\n", (long long)g->creator_pid,
			       creator_alive((pid_t)g->creator_pid, g->creator_start) ? "running" : "gone");
		else if (g->creator_pid == 0)
			printf("  creator:     none\n");
		else
			printf("  creator:     unknown\n");
		if (g->created[0])
			printf("  created:     %s\n", created_text(g->created, when, sizeof(when)));
		printf("  lifetime:    %s\n", lifetime_text(g, when, sizeof(when)));
		if (g->program[0])
			printf("  program:     %s\n", program_text(g->program, u, sizeof(u)));
		printf("  orphaned:    %s\n", g->orphaned == 1 ? "true" : g->orphaned == 0 ? "false" : "unknown");
		printf("  mappers:     %llu%s%s%s\n", (unsigned long long)g->mapper_cnt,
		       g->mapper_pids[0] ? " (pids " : "", g->mapper_pids, g->mapper_pids[0] ? ")" : "");
	} else {
		printf("  details:     not readable by you (owner %s, mode %04o)\n",
		       ctl_user(g->uid, u, sizeof(u)), (unsigned)g->mode);
	}
	printf("  user:        %s\n", ctl_user(g->uid, u, sizeof(u)));
	printf("  group:       %s\n", ctl_group(g->gid, gr, sizeof(gr)));
	printf("  mode:        %04o\n", (unsigned)g->mode);
	if (all && g->backing[0] && !g->shared)
		printf("  backing:     %s\n", g->backing);
}

void ctl_region_json(struct json *j, const struct ctl_region *g)
{
	char u[64], gr[64], mode[8], rel[128];

	ctl_region_rel(g, rel, sizeof(rel));
	snprintf(mode, sizeof(mode), "%04o", (unsigned)g->mode);
	json_str(j, "name", g->name);
	json_str(j, "path", rel);
	json_str(j, "type", ctl_region_type(g));
	json_i64(j, "node", g->node);
	json_u64(j, "page_size", g->page_sz);
	json_u64(j, "page_count", g->page_cnt);
	json_u64(j, "size", g->size);
	json_u64(j, "allocated", g->allocated);
	json_str(j, "user", ctl_user(g->uid, u, sizeof(u)));
	json_u64(j, "uid", g->uid);
	json_str(j, "group", ctl_group(g->gid, gr, sizeof(gr)));
	json_u64(j, "gid", g->gid);
	json_str(j, "mode", mode);
	json_bool(j, "readable", g->readable);
	if (!g->readable)
		return;
	json_list(j, "numa_nodes", g->numa_nodes);
	json_str(j, "policy", g->policy);
	if (g->creator_pid >= 0) {
		json_i64(j, "creator_pid", g->creator_pid);
		json_u64(j, "creator_start", g->creator_start);
	} else {
		json_null(j, "creator_pid");
		json_null(j, "creator_start");
	}
	json_str(j, "created", g->created[0] ? g->created : NULL);
	json_str(j, "lifetime", g->lifetime[0] ? g->lifetime : NULL);
	json_str(j, "program", g->program[0] ? g->program : NULL);
	if (g->orphaned >= 0)
		json_bool(j, "orphaned", g->orphaned == 1);
	else
		json_null(j, "orphaned");
	json_u64(j, "mapper_count", g->mapper_cnt);
	json_list(j, "mapper_pids", g->mapper_pids);
	json_str(j, "backing", g->backing);
	if (g->shared) {
		json_obj_open(j, "shared");
		json_str(j, "device", g->backing);
		json_u64(j, "offset", g->shared_off);
		json_u64(j, "extent", g->shared_extent);
		json_str(j, "master", g->shared_master);
		json_str(j, "host", g->shared_host);
		json_str(j, "role", g->shared_role);
		json_obj_close(j);
	} else {
		json_null(j, "shared");
	}
	if (g->has_heap) {
		json_obj_open(j, "heap");
		json_u64(j, "size", g->heap_sz);
		json_u64(j, "used", g->heap_used);
		json_u64(j, "free", g->heap_free);
		json_u64(j, "alloc_count", g->heap_alloc_cnt);
		json_obj_close(j);
	} else {
		json_null(j, "heap");
	}
}

/* ------------------------------------------------------------ info */

struct fs_usage {
	const struct shmfs_page_type *t;
	uint64_t size, free;
	bool huge;
	uint64_t surplus, overcommit;   /* pages (huge types) */
};

static int fs_usage(struct ctl *c, const struct shmfs_page_type *t, struct fs_usage *ret)
{
	char path[4096];
	struct statvfs sv;

	snprintf(path, sizeof(path), "%s/%s", c->mount, t->name);
	if (statvfs(path, &sv) < 0)
		return -errno;
	ret->t = t;
	ret->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->free = (uint64_t)sv.f_bavail * sv.f_frsize;
	ret->huge = shmfs_page_type_is_huge(t);
	ret->surplus = ret->overcommit = 0;
	if (ret->huge) {
		(void)ctl_xattr_u64(path, SHMFS_XATTR_POOL_SURPLUS, &ret->surplus);
		(void)ctl_xattr_u64(path, SHMFS_XATTR_POOL_OVERCOMMIT, &ret->overcommit);
	}
	return 0;
}

/* Files in the backing store that the tree does not present as regions:
 * left by something other than the daemon. Read-only look. Each file is
 * looked up in the (sorted) listing: O(files log regions), not O(files x
 * regions). */
static void foreign_files(struct ctl *c, const struct ctl_region_scan *scan, struct json *j,
			  bool *printed)
{
	char backing[4096];

	if (ctl_xattr(c->mount, SHMFS_XATTR_BACKING, backing, sizeof(backing)) < 0)
		return;
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		const struct shmfs_page_type *t = &c->types.type[k];
		char dir[4200];
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		if (!shmfs_page_type_present(t))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", backing, t->backing_dir);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			char path[4500], u[64], gr[64], mode[8];
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (ctl_regions_scan_has(scan, t, de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (lstat(path, &st) < 0)
				continue;
			/* Files the tree shows as regions the caller cannot read are
			 * already listed; only true foreigners here. */
			if (S_ISREG(st.st_mode) && shmfs_name_check(de->d_name) == 0 && de->d_name[0] != '.')
				continue;
			snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
			if (j) {
				json_obj_open(j, NULL);
				json_str(j, "path", path);
				json_str(j, "type", t->name);
				json_u64(j, "size", (uint64_t)st.st_size);
				json_u64(j, "allocated", (uint64_t)st.st_blocks * 512);
				json_str(j, "user", ctl_user(st.st_uid, u, sizeof(u)));
				json_str(j, "group", ctl_group(st.st_gid, gr, sizeof(gr)));
				json_str(j, "mode", mode);
				json_obj_close(j);
				continue;
			}
			if (!*printed)
				printf("\nforeign files in the backing store (not regions):\n");
			*printed = true;
			printf("%s\n  type:        other (%s store)\n  file size:   %s\n  allocated:   %s\n"
			       "  user:        %s\n  group:       %s\n  mode:        %s\n", path, t->name,
			       ctl_size((uint64_t)st.st_size), ctl_size((uint64_t)st.st_blocks * 512),
			       ctl_user(st.st_uid, u, sizeof(u)), ctl_group(st.st_gid, gr, sizeof(gr)), mode);
		}
	}
}

/* DPDK finds no hugetlbfs in the tree: it is given the backing store's
 * directory of the default huge page size instead (shmfs(8), "With DPDK"). */
static void dpdk_hint(struct ctl *c, struct json *j)
{
	const struct shmfs_page_type *t = &c->types.type[SHMFS_PAGE_HUGE];
	char backing[4096];

	if (!shmfs_page_type_present(t) || ctl_xattr(c->mount, SHMFS_XATTR_BACKING, backing, sizeof(backing)) < 0)
		return;
	if (j) {
		char dir[4200];

		snprintf(dir, sizeof(dir), "%s/%s", backing, t->backing_dir);
		json_str(j, "dpdk_huge_dir", dir);
	} else {
		printf("  for DPDK:  --huge-dir %s/%s\n", backing, t->backing_dir);
	}
}

static int run_info(struct ctl *c, const struct ctl_args *a)
{
	bool all = a->opt[0];
	_cleanup_free_ struct ctl_region *g = NULL;
	struct ctl_region_scan scan;
	struct json j;
	bool printed = false;
	int r;

	if (a->opt[1] && c->json)
		return ctl_usage("info", "--prometheus and --json are two formats; choose one");
	if (a->opt[1])
		return ctl_info_prometheus(c);
	r = ctl_mount_check(c, "info");
	if (r)
		return r;
	/* the names now, each region read as it is shown: memory per name,
	 * not per region (a struct ctl_region is 13 KB) */
	g = malloc(sizeof(*g));
	r = g ? ctl_regions_scan(c, &scan) : -ENOMEM;
	if (r < 0)
		return ctl_fail(r, "info", c->mount, NULL, "cannot list the regions of");
	if (c->json) {
		ctl_json_open(c, &j, "info");
		json_str(&j, "mount", c->mount);
		json_arr_open(&j, "filesystems");
	} else {
		printf("%s\n", c->mount);
	}
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		struct fs_usage u;

		if (!shmfs_page_type_present(&c->types.type[k]) || fs_usage(c, &c->types.type[k], &u) < 0)
			continue;
		if (c->json) {
			json_obj_open(&j, NULL);
			json_str(&j, "type", u.t->name);
			json_u64(&j, "page_size", u.t->page_sz);
			json_u64(&j, "size", u.size);
			json_u64(&j, "free", u.free);
			if (u.huge) {
				json_u64(&j, "surplus", u.surplus);
				json_u64(&j, "overcommit", u.overcommit);
			}
			json_obj_close(&j);
		} else {
			printf("  %-9s size: %-8s free: %s (%.1f%%)", u.t->name, ctl_size(u.size),
			       ctl_size(u.free), u.size ? 100.0 * (double)u.free / (double)u.size : 0.0);
			/* surplus pages are in size already; overcommit is what the
			 * kernel may still add on demand (sizing may use it) */
			if (u.huge && (u.surplus || u.overcommit))
				printf(" surplus: %llu overcommit: %llu pages", (unsigned long long)u.surplus,
				       (unsigned long long)u.overcommit);
			putchar('\n');
		}
	}
	if (c->json)
		json_arr_close(&j);
	dpdk_hint(c, c->json ? &j : NULL);
	if (c->json)
		json_arr_open(&j, "regions");
	while (ctl_regions_scan_next(&scan, g) > 0) {
		if (!g->readable && !all)
			continue;
		if (c->json) {
			json_obj_open(&j, NULL);
			ctl_region_json(&j, g);
			json_obj_close(&j);
		} else {
			putchar('\n');
			ctl_region_print(g, all);
		}
	}
	if (c->json) {
		json_arr_close(&j);
		if (all) {
			json_arr_open(&j, "foreign");
			foreign_files(c, &scan, &j, &printed);
			json_arr_close(&j);
		}
		ctl_quota_report(c, &j);
		ctl_json_close(c, &j);
	} else {
		if (all)
			foreign_files(c, &scan, NULL, &printed);
		ctl_quota_report(c, NULL);
	}
	ctl_regions_scan_free(&scan);
	return 0;
}

/* ------------------------------------------------------------ clean */

struct clean_report {
	struct ctl *c;
	bool dry_run;
	struct json j;
	int failed;
	struct timespec read_at;    /* when regions were last read (CLOCK_MONOTONIC) */
};

static void mark_read(struct clean_report *rep)
{
	clock_gettime(CLOCK_MONOTONIC, &rep->read_at);
}

/* Decide again just before removing: the region may have been mapped since
 * the listing. The daemon answers this process from the scan of /proc it
 * made for the listing for SHMFS_XATTR_MAPPERS_TTL_MS: let that pass first
 * (once: every later scan is newer than the listing). */
static bool still_orphaned(struct clean_report *rep, const struct ctl_region *g)
{
	struct timespec now;
	int64_t ms;
	char buf[16];

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - rep->read_at.tv_sec) * 1000 +
	     (now.tv_nsec - rep->read_at.tv_nsec) / 1000000;
	if (ms <= SHMFS_XATTR_MAPPERS_TTL_MS) {
		struct timespec w = { 0, (long)(SHMFS_XATTR_MAPPERS_TTL_MS + 1 - ms) * 1000000L };

		while (nanosleep(&w, &w) < 0 && errno == EINTR)
			;
		rep->read_at.tv_sec = 0; /* long past from now on */
	}
	return ctl_xattr(g->path, SHMFS_XATTR_ORPHANED, buf, sizeof(buf)) == 0 && strcmp(buf, "true") == 0;
}

static void note(struct clean_report *rep, const struct ctl_region *g, const char *action, int err,
		 const char *why)
{
	char rel[128];

	ctl_region_rel(g, rel, sizeof(rel));
	if (rep->c->json) {
		json_obj_open(&rep->j, NULL);
		json_str(&rep->j, "path", rel);
		json_str(&rep->j, "action", action);
		if (err)
			json_str(&rep->j, "error", strerror(-err));
		else
			json_null(&rep->j, "error");
		json_str(&rep->j, "reason", why);
		json_obj_close(&rep->j);
	} else if (err) {
		/* reported on stderr by the caller */
	} else if (!rep->c->quiet) {
		printf("%s %s (%s)\n", action, rel, why);
	}
}

static void clean_one(struct clean_report *rep, const struct ctl_region *g, bool force,
		      const char *why)
{
	char rel[128];
	int r;

	ctl_region_rel(g, rel, sizeof(rel));
	if (rep->dry_run) {
		note(rep, g, "would remove", 0, why);
		return;
	}
	if (!force && !still_orphaned(rep, g)) {
		rep->failed++;
		note(rep, g, "kept", -EBUSY, "no longer orphaned");
		ctl_fail(-EBUSY, "clean", rel, NULL, "not removed, it was mapped or changed meanwhile:");
		return;
	}
	if (unlink(g->path) < 0) {
		r = -errno;
		rep->failed++;
		note(rep, g, "failed", r, why);
		ctl_fail(r, "clean", rel, r == -EACCES || r == -EPERM ?
			 "Only its owner (or root) may remove it." : NULL, "cannot remove");
		return;
	}
	note(rep, g, "removed", 0, why);
}

/* Why a region is orphaned, for the report. */
static const char *orphan_reason(const struct ctl_region *g, char *buf, size_t sz)
{
	char p[96];

	if (g->program[0])
		snprintf(buf, sz, "left by %s: nobody holds its lock or maps it",
			 program_text(g->program, p, sizeof(p)));
	else if (strcmp(g->lifetime, "lock") == 0)
		snprintf(buf, sz, "orphaned: nobody holds its lock or maps it");
	else
		snprintf(buf, sz, "orphaned: creator %lld gone, nothing maps it", (long long)g->creator_pid);
	return buf;
}

static const char *not_orphan_reason(const struct ctl_region *g, char *buf, size_t sz)
{
	if (!g->readable)
		snprintf(buf, sz, "you may not read it");
	else if (g->mapper_cnt && g->mapper_pids[0])
		snprintf(buf, sz, "mapped by pid %s", g->mapper_pids);
	else if (g->mapper_cnt)
		snprintf(buf, sz, "mapped by %llu process%s", (unsigned long long)g->mapper_cnt,
			 g->mapper_cnt == 1 ? "" : "es");
	else if (strcmp(g->lifetime, "persistent") == 0)
		snprintf(buf, sz, "it is persistent: kept until removed");
	else if (strcmp(g->lifetime, "lock") == 0)
		snprintf(buf, sz, "a process holds a lock on it");
	else if (g->creator_pid == 0)
		snprintf(buf, sz, "it has no creator process: kept until removed");
	else if (g->orphaned == 0 && g->creator_pid > 0)
		snprintf(buf, sz, "its creator %lld is running", (long long)g->creator_pid);
	else
		snprintf(buf, sz, "its creator is unknown");
	return buf;
}

static int run_clean(struct ctl *c, const struct ctl_args *a)
{
	bool force = a->opt[0];
	struct clean_report rep = { .c = c, .dry_run = a->opt[1] };
	int r;

	/* -f names what to force; a forced scan would remove every region. */
	if (force && a->argc == 0)
		return ctl_usage("clean", "-f applies to named regions (clean -f NAME...); without names "
				 "clean removes only orphaned regions");
	for (int i = 0; i < a->argc; i++)
		if (!strchr(a->argv[i], '/') && shmfs_name_check(a->argv[i]) < 0)
			return ctl_usage("clean", "'%s' is not a valid region name", a->argv[i]);
	r = ctl_mount_check(c, "clean");
	if (r)
		return r;
	if (c->json) {
		ctl_json_open(c, &rep.j, "clean");
		json_bool(&rep.j, "dry_run", rep.dry_run);
		json_arr_open(&rep.j, "regions");
	}
	if (a->argc == 0) {
		_cleanup_free_ struct ctl_region *regs = NULL;
		size_t cnt = 0;

		r = ctl_regions_list(c, &regs, &cnt);
		mark_read(&rep);
		if (r < 0) {
			rep.failed++;
			ctl_fail(r, "clean", c->mount, NULL, "cannot list the regions of");
		}
		for (size_t i = 0; i < cnt; i++) {
			char why[256];

			if (regs[i].orphaned == 1 && !regs[i].shared)
				clean_one(&rep, &regs[i], false, orphan_reason(&regs[i], why, sizeof(why)));
		}
	}
	for (int i = 0; i < a->argc; i++) {
		struct ctl_region g;
		char why[4200];

		r = ctl_region_find(c, a->argv[i], &g);
		mark_read(&rep);
		if (r < 0) {
			rep.failed++;
			ctl_fail(r, "clean", a->argv[i], r == -ENOENT ? "See the regions with 'shmfsctl info'." : NULL,
				 "cannot find region");
			if (c->json) {
				json_obj_open(&rep.j, NULL);
				json_str(&rep.j, "path", a->argv[i]);
				json_str(&rep.j, "action", "failed");
				json_str(&rep.j, "error", strerror(-r));
				json_str(&rep.j, "reason", "not found");
				json_obj_close(&rep.j);
			}
			continue;
		}
		if (g.shared) {
			/* The master's: in the log every host replays. Not even
			 * -f: removing it is 'rm' through the master's mount. */
			char rel[128];

			snprintf(why, sizeof(why), "a region of the shared backing%s%.3900s, in its log: only its "
				 "master%s%s removes it", g.backing[0] ? " " : "", g.backing,
				 g.shared_master[0] ? " " : "", g.shared_master);
			ctl_region_rel(&g, rel, sizeof(rel));
			rep.failed++;
			note(&rep, &g, "kept", -EPERM, why);
			ctl_fail(0, "clean", rel, "Remove it with rm through the master's mount.", "not removing %s",
				 why);
		} else if (g.orphaned == 1) {
			clean_one(&rep, &g, false, orphan_reason(&g, why, sizeof(why)));
		} else if (force) {
			clean_one(&rep, &g, true, "forced");
		} else {
			char rel[128];

			not_orphan_reason(&g, why, sizeof(why));
			ctl_region_rel(&g, rel, sizeof(rel));
			rep.failed++;
			note(&rep, &g, "kept", -EBUSY, why);
			ctl_fail(0, "clean", rel, "Use -f to remove it anyway (mappings stay valid until "
				 "they end).", "not orphaned (%s), not removing", why);
		}
	}
	if (c->json) {
		json_arr_close(&rep.j);
		json_u64(&rep.j, "failed", (uint64_t)rep.failed);
		ctl_json_close(c, &rep.j);
	}
	return rep.failed ? CTL_EXIT_FAIL : 0;
}

const struct ctl_cmd ctl_info_cmds[] = {
	{ "info", "", "show the filesystems and every region you may see",
	  "Per region: path, type, file size, bytes allocated, pages allocated, nodes,\n"
	  "heap usage, creator, lifetime, the program whose file it is (DPDK's), orphaned,\n"
	  "mappers (pids only of processes you may see in /proc), user, group, mode.\n"
	  "Regions you may not read are left out unless -a is given.\n"
	  "With --prometheus: the pools, regions, orphans and usage per owner as\n"
	  "Prometheus text (node_exporter's textfile collector; see shmfsctl(8)).\n",
	  0, 0, true, { { 'a', "all", "also regions you may not read and foreign files of the backing store" },
			{ 0, "prometheus", "metrics in Prometheus text format" } },
	  run_info },
	{ "clean", "[NAME...]", "remove orphaned regions",
	  "Without NAME: remove every orphaned region you may see. Only a region whose\n"
	  "creator asked for process lifetime can be orphaned (creator gone - pid and start\n"
	  "time - and nobody maps it, as the kernel says), or a file DPDK left in the\n"
	  "backing store (nobody holds its lock or maps it). Persistent regions - made\n"
	  "with truncate, cp, touch, 'shmfsctl create' - are never removed, nor are the\n"
	  "regions of a shared backing (shared/NAME/REGION: the master's, even with -f).\n"
	  "With NAMEs: remove those if orphaned, or with -f anyway. The exit status is 1 when anything\n"
	  "asked for was not removed. NAMEs take the rest of the command line.\n",
	  0, -1, true, { { 'f', "force", "remove named regions even when not orphaned" },
			 { 0, "dry-run", "only say what would be removed" } }, run_clean },
	{ NULL },
};
