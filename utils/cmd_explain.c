/* cmd_explain.c - `shmfsctl explain` (alias doctor), the counterpart of
 * `hugeadm --explain`: what the kernel offers for huge pages and what stands
 * in the way - pools and free pages per node and page size, surplus and
 * overcommit, fragmentation per node (/proc/buddyinfo), the THP mode, the
 * locked-memory limit, other hugetlbfs mounts and who uses them, the kernel
 * command line's hugepage settings - and advice, each line a thing to do.
 * It reads the kernel directly and only reads: it works with no shmfs
 * mounted, which is when it is needed most. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "mountinfo.h"
#include "parse.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

#define EX_SIZES_MAX  8
#define EX_MOUNTS_MAX 32
#define EX_ORDERS_MAX 16
#define EX_USERS_MAX  16
#define EX_ADVICE_MAX 32

/* One huge page size the kernel offers (all of them, as hugeadm shows; shmfs
 * presents the default one as huge and the largest as gigantic). */
struct ex_size {
	uint64_t page_sz;
	char dir[48];               /* hugepages-2048kB */
	const char *type;           /* shmfs type name, NULL when shmfs does not present it */
	uint64_t total, free, surplus, resv, overcommit;  /* system-wide */
	uint64_t node_total[SHMFS_NODE_MAX], node_free[SHMFS_NODE_MAX], node_surplus[SHMFS_NODE_MAX];
};

/* Free memory of one node by block size (all zones together). */
struct ex_buddy {
	int node;
	int order_cnt;
	uint64_t blocks[EX_ORDERS_MAX];
};

struct ex_mount {
	char path[4096];
	dev_t dev;
	uint64_t page_sz;           /* from its pagesize= option; 0 unknown */
	uint64_t files, bytes, unmapped_files, unmapped_bytes;
	pid_t users[EX_USERS_MAX];
	size_t user_cnt;            /* processes mapping its files (users[] holds the first) */
};

struct explain {
	struct ctl *c;
	uint64_t base_page;
	uint64_t default_huge;      /* Hugepagesize */
	int nodes[SHMFS_NODE_MAX];
	int node_cnt;
	struct ex_size size[EX_SIZES_MAX];
	int size_cnt;
	struct ex_buddy buddy[SHMFS_NODE_MAX];
	int buddy_cnt;
	char thp_enabled[64], thp_defrag[64];
	struct rlimit memlock;
	uint64_t shm_group;
	bool have_shm_group;
	char cmdline[1024];         /* the hugepage words only, blank-separated */
	struct ex_mount mount[EX_MOUNTS_MAX];
	int mount_cnt;
	bool shmfs_mounted;
	char backing[4096];
	size_t region_cnt, orphan_cnt;
	uint64_t orphan_bytes;
	char advice[EX_ADVICE_MAX][320];
	int advice_cnt;
};

static void advise(struct explain *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void advise(struct explain *e, const char *fmt, ...)
{
	va_list ap;

	if (e->advice_cnt >= EX_ADVICE_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(e->advice[e->advice_cnt++], sizeof(e->advice[0]), fmt, ap);
	va_end(ap);
}

static uint64_t read_u64_or0(const char *dir, const char *file)
{
	char path[640];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	(void)shmfs_read_u64(path, &v);
	return v;
}

/* ------------------------------------------------------------ gathering */

static int size_cmp(const void *a, const void *b)
{
	const struct ex_size *x = a, *y = b;

	return x->page_sz < y->page_sz ? -1 : x->page_sz > y->page_sz;
}

static void gather_pools(struct explain *e)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/kernel/mm/hugepages");
	struct dirent *de;

	while (d && (de = readdir(d)) && e->size_cnt < EX_SIZES_MAX) {
		struct ex_size *s = &e->size[e->size_cnt];
		char dir[512];
		unsigned long long kb;
		char tail[8];

		if (sscanf(de->d_name, "hugepages-%llukB%7s", &kb, tail) != 1 || kb == 0)
			continue;
		memset(s, 0, sizeof(*s));
		s->page_sz = (uint64_t)kb * 1024;
		snprintf(s->dir, sizeof(s->dir), "%.47s", de->d_name);
		snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages/%s", de->d_name);
		s->total = read_u64_or0(dir, "nr_hugepages");
		s->free = read_u64_or0(dir, "free_hugepages");
		s->surplus = read_u64_or0(dir, "surplus_hugepages");
		s->resv = read_u64_or0(dir, "resv_hugepages");
		s->overcommit = read_u64_or0(dir, "nr_overcommit_hugepages");
		for (int i = 0; i < e->node_cnt; i++) {
			int n = e->nodes[i];

			snprintf(dir, sizeof(dir), "/sys/devices/system/node/node%d/hugepages/%s", n, de->d_name);
			s->node_total[n] = read_u64_or0(dir, "nr_hugepages");
			s->node_free[n] = read_u64_or0(dir, "free_hugepages");
			s->node_surplus[n] = read_u64_or0(dir, "surplus_hugepages");
		}
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
			if (e->c->types.type[k].page_sz == s->page_sz && shmfs_page_type_is_huge(&e->c->types.type[k]))
				s->type = e->c->types.type[k].name;
		e->size_cnt++;
	}
	if (e->size_cnt > 1)
		qsort(e->size, (size_t)e->size_cnt, sizeof(e->size[0]), size_cmp);
}

/* "Node 0, zone   Normal      1      2 ..." : blocks of each order. */
static void gather_buddy(struct explain *e)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/buddyinfo", "re");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		int node, off = 0, o = 0;
		char zone[32];
		struct ex_buddy *b = NULL;
		const char *p;

		if (sscanf(line, "Node %d, zone %31s %n", &node, zone, &off) != 2 || off == 0 || node < 0)
			continue;
		for (int i = 0; i < e->buddy_cnt; i++)
			if (e->buddy[i].node == node)
				b = &e->buddy[i];
		if (!b) {
			if (e->buddy_cnt >= SHMFS_NODE_MAX)
				continue;
			b = &e->buddy[e->buddy_cnt++];
			memset(b, 0, sizeof(*b));
			b->node = node;
		}
		for (p = line + off; o < EX_ORDERS_MAX; o++) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			b->blocks[o] += v;
			p = end;
		}
		if (o > b->order_cnt)
			b->order_cnt = o;
	}
}

static uint64_t buddy_free_bytes(const struct explain *e, const struct ex_buddy *b)
{
	uint64_t sum = 0;

	for (int o = 0; o < b->order_cnt; o++)
		sum += (b->blocks[o] << o) * e->base_page;
	return sum;
}

/* How many pages of page_sz the node's free blocks could give right now,
 * without compaction; -1 when the buddy allocator has no block that large
 * (gigantic pages come from contiguous ranges, not from these lists). */
static int64_t buddy_capacity(const struct explain *e, const struct ex_buddy *b, uint64_t page_sz)
{
	int h = 0;
	uint64_t cap = 0;

	while (((uint64_t)1 << h) * e->base_page < page_sz && h < 63)
		h++;
	if (h >= b->order_cnt)
		return -1;
	for (int o = h; o < b->order_cnt; o++)
		cap += b->blocks[o] << (o - h);
	return (int64_t)cap;
}

/* "always [madvise] never" -> "madvise" */
static void read_bracketed(const char *path, char *buf, size_t sz)
{
	char text[256];
	char *open, *close;

	buf[0] = '\0';
	if (shmfs_read_text(path, text, sizeof(text)) < 0)
		return;
	open = strchr(text, '[');
	close = open ? strchr(open, ']') : NULL;
	if (open && close)
		snprintf(buf, sz, "%.*s", (int)(close - open - 1), open + 1);
}

static void gather_cmdline(struct explain *e)
{
	static const char *const words[] = {
		"hugepages=", "hugepagesz=", "default_hugepagesz=", "hugetlb_cma=",
		"hugetlb_free_vmemmap=", "transparent_hugepage=", "hugetlb_cma_only",
	};
	char text[4096], *save = NULL;

	e->cmdline[0] = '\0';
	if (shmfs_read_text("/proc/cmdline", text, sizeof(text)) < 0)
		return;
	for (char *w = strtok_r(text, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strncmp(w, words[i], strlen(words[i])) == 0 &&
			    strlen(e->cmdline) + strlen(w) + 2 < sizeof(e->cmdline)) {
				if (e->cmdline[0])
					strcat(e->cmdline, " ");
				strcat(e->cmdline, w);
			}
}

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return root[0] && strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int collect_mount(const struct shmfs_mount *m, void *arg)
{
	struct explain *e = arg;
	struct ex_mount *x;
	const char *ps;

	if (strcmp(m->fstype, "hugetlbfs") != 0 || e->mount_cnt >= EX_MOUNTS_MAX)
		return 0;
	/* this shmfs's own backing mounts are not "other" mounts */
	if (e->shmfs_mounted && under(m->path, e->backing))
		return 0;
	x = &e->mount[e->mount_cnt++];
	memset(x, 0, sizeof(*x));
	snprintf(x->path, sizeof(x->path), "%s", m->path);
	x->dev = m->dev;
	ps = strstr(m->opts, "pagesize=");
	if (ps) {
		char val[32];

		snprintf(val, sizeof(val), "%.*s", (int)strcspn(ps + 9, ","), ps + 9);
		/* the kernel writes "2M", "1024M": the one size parser reads it */
		(void)shmfs_parse_size(val, &x->page_sz);
	}
	return 0;
}

/* nftw has no context argument: the walk in progress. */
static struct {
	struct ex_mount *m;
	const struct shmfs_mapping *maps;
	size_t map_cnt;
} walk;

static int walk_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t n;

	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	walk.m->files++;
	walk.m->bytes += (uint64_t)st->st_blocks * 512;
	shmfs_mappings_lookup(walk.maps, walk.map_cnt, st->st_dev, st->st_ino, &n);
	if (n == 0) {
		walk.m->unmapped_files++;
		walk.m->unmapped_bytes += (uint64_t)st->st_blocks * 512;
	}
	return 0;
}

static void gather_mounts(struct explain *e)
{
	_cleanup_free_ struct shmfs_mapping *maps = NULL;
	dev_t devs[EX_MOUNTS_MAX];
	size_t map_cnt = 0;

	(void)shmfs_mountinfo_each(collect_mount, e);
	if (e->mount_cnt == 0)
		return;
	for (int i = 0; i < e->mount_cnt; i++)
		devs[i] = e->mount[i].dev;
	/* one scan of /proc for every mount's users */
	if (shmfs_proc_mappings(devs, (size_t)e->mount_cnt, &maps, &map_cnt) < 0)
		map_cnt = 0;
	for (int i = 0; i < e->mount_cnt; i++) {
		struct ex_mount *m = &e->mount[i];

		walk.m = m;
		walk.maps = maps;
		walk.map_cnt = map_cnt;
		(void)nftw(m->path, walk_file, 16, FTW_PHYS | FTW_MOUNT);
		for (size_t k = 0; k < map_cnt; k++) {
			bool seen = false;

			if (maps[k].dev != m->dev)
				continue;
			for (size_t u = 0; u < m->user_cnt && u < EX_USERS_MAX && !seen; u++)
				seen = m->users[u] == maps[k].pid;
			if (seen)
				continue;
			if (m->user_cnt < EX_USERS_MAX)
				m->users[m->user_cnt] = maps[k].pid;
			m->user_cnt++;
		}
	}
}

static void gather_shmfs(struct explain *e)
{
	_cleanup_free_ struct ctl_region *regs = NULL;
	size_t cnt = 0;

	if (ctl_xattr(e->c->mount, SHMFS_XATTR_BACKING, e->backing, sizeof(e->backing)) < 0) {
		e->backing[0] = '\0';
		return;
	}
	e->shmfs_mounted = true;
	if (ctl_regions_list(e->c, &regs, &cnt) < 0)
		return;
	e->region_cnt = cnt;
	for (size_t i = 0; i < cnt; i++)
		if (regs[i].orphaned == 1) {
			e->orphan_cnt++;
			e->orphan_bytes += regs[i].allocated;
		}
}

static const char *comm_of(pid_t pid, char *buf, size_t sz)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = shmfs_read_text(path, buf, sz);
	if (n <= 0)
		return "?";
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* ------------------------------------------------------------ advice */

static const struct ex_size *size_of_type(const struct explain *e, const char *type)
{
	for (int i = 0; i < e->size_cnt; i++)
		if (e->size[i].type && strcmp(e->size[i].type, type) == 0)
			return &e->size[i];
	return NULL;
}

/* A page size as the kernel command line writes it: "2M", "1G". */
static const char *kernel_size(uint64_t sz, char *buf, size_t buf_sz)
{
	if (sz % (1ULL << 30) == 0)
		snprintf(buf, buf_sz, "%lluG", (unsigned long long)(sz >> 30));
	else if (sz % (1ULL << 20) == 0)
		snprintf(buf, buf_sz, "%lluM", (unsigned long long)(sz >> 20));
	else
		snprintf(buf, buf_sz, "%lluK", (unsigned long long)(sz >> 10));
	return buf;
}

static void make_advice(struct explain *e)
{
	const struct ex_size *huge = size_of_type(e, "huge"), *gig = size_of_type(e, "gigantic");
	int n0 = e->node_cnt ? e->nodes[0] : 0;
	char ksz[32], word[64] = "";

	if (e->size_cnt == 0)
		advise(e, "This kernel offers no huge pages (no /sys/kernel/mm/hugepages): build it with "
		       "CONFIG_HUGETLBFS, or use normal pages (shmfsctl create NAME CNT normal ...).");
	if (huge && huge->total == 0)
		advise(e, "No %s huge pages are reserved: reserve them now with 'shmfsctl alloc 512 huge %d' "
		       "(%s), or at boot with 'hugepages=512' on the kernel command line.",
		       ctl_size(huge->page_sz), n0, ctl_size(512 * huge->page_sz));
	if (gig)
		snprintf(word, sizeof(word), "hugepagesz=%s", kernel_size(gig->page_sz, ksz, sizeof(ksz)));
	if (gig && gig->total == 0 && !strstr(e->cmdline, word))
		advise(e, "%s pages are best reserved at boot, before memory fragments: add '%s "
		       "hugepages=N' to the kernel command line. At runtime 'shmfsctl alloc N gigantic %d' "
		       "needs %s of contiguous free memory per page.", ctl_size(gig->page_sz), word, n0,
		       ctl_size(gig->page_sz));
	for (int i = 0; i < e->size_cnt; i++) {
		const struct ex_size *s = &e->size[i];

		if (s->overcommit)
			advise(e, "Overcommit is %llu pages for %s pages: surplus pages are taken only when "
			       "touched and can fail then (SIGBUS). For memory that must be there, reserve "
			       "it with 'shmfsctl alloc' and set 0 in /sys/kernel/mm/hugepages/%s/"
			       "nr_overcommit_hugepages.", (unsigned long long)s->overcommit,
			       ctl_size(s->page_sz), s->dir);
		if (s->type == NULL && s->total)
			advise(e, "%llu pages of %s are reserved, a size shmfs does not present: release "
			       "them with 'echo 0 > /sys/kernel/mm/hugepages/%s/nr_hugepages' if nothing "
			       "uses them.", (unsigned long long)s->total, ctl_size(s->page_sz), s->dir);
	}
	for (int i = 0; huge && i < e->buddy_cnt; i++) {
		const struct ex_buddy *b = &e->buddy[i];
		uint64_t free_b = buddy_free_bytes(e, b);
		int64_t cap = buddy_capacity(e, b, huge->page_sz);

		/* free memory worth some huge pages, but little of it in blocks
		 * that large: growing the pool will need compaction */
		if (cap >= 0 && free_b >= 64 * huge->page_sz &&
		    (uint64_t)cap * huge->page_sz < free_b / 2)
			advise(e, "Node %d's free memory is fragmented: of %s free only %s is in blocks of "
			       "%s. Compact it before reserving: 'echo 1 > /proc/sys/vm/compact_memory' (or "
			       "write 'compact' to %s/.control); shmfs compacts by itself before giving up.",
			       b->node, ctl_size(free_b), ctl_size((uint64_t)cap * huge->page_sz),
			       ctl_size(huge->page_sz), e->c->mount);
	}
	if (strcmp(e->thp_enabled, "always") == 0)
		advise(e, "Transparent huge pages are 'always': shmfs regions do not depend on them "
		       "(hugetlbfs), but latency-sensitive programs usually prefer 'madvise': "
		       "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled.");
	if (e->memlock.rlim_cur != RLIM_INFINITY && e->memlock.rlim_cur < 64ULL << 20 && geteuid() != 0)
		advise(e, "Your locked-memory limit is %s: joins with mlock of larger regions fail. Raise "
		       "it (LimitMEMLOCK= in the service, 'ulimit -l', /etc/security/limits.conf).",
		       ctl_size((uint64_t)e->memlock.rlim_cur));
	for (int i = 0; i < e->mount_cnt; i++) {
		const struct ex_mount *m = &e->mount[i];

		if (m->unmapped_files)
			advise(e, "%llu file%s in %s hold%s %s that no process maps (left by a program that "
			       "ended?): remove them (rm) to return the pages to the pool.",
			       (unsigned long long)m->unmapped_files, m->unmapped_files == 1 ? "" : "s",
			       m->path, m->unmapped_files == 1 ? "s" : "", ctl_size(m->unmapped_bytes));
	}
	if (!e->shmfs_mounted)
		advise(e, "shmfs is not mounted at %s: mount it with 'shmfsctl init 0770 USER GROUP' (or "
		       "say where it is with --mount DIR).", e->c->mount);
	if (e->orphan_cnt)
		advise(e, "%zu orphaned region%s in %s hold%s %s: remove them with 'shmfsctl clean' "
		       "('shmfsctl clean --dry-run' lists them).", e->orphan_cnt,
		       e->orphan_cnt == 1 ? "" : "s", e->c->mount, e->orphan_cnt == 1 ? "s" : "",
		       ctl_size(e->orphan_bytes));
}

/* ------------------------------------------------------------ output */

static void print_human(const struct explain *e)
{
	char comm[64];

	if (e->default_huge)
		printf("Huge page pools (page size %s is the default):\n", ctl_size(e->default_huge));
	else
		printf("Huge page pools:\n");
	if (e->size_cnt == 0)
		printf("  none: this kernel offers no huge pages\n");
	else
		printf("  %-9s %6s %5s %8s %8s %8s %10s %10s\n", "TYPE", "PAGE", "NODE", "TOTAL", "FREE",
		       "SURPLUS", "SIZE", "FREE SIZE");
	for (int i = 0; i < e->size_cnt; i++) {
		const struct ex_size *s = &e->size[i];

		for (int k = 0; k < e->node_cnt; k++) {
			int n = e->nodes[k];

			printf("  %-9s %6s %5d %8llu %8llu %8llu %10s %10s\n", s->type ? s->type : "-",
			       ctl_size(s->page_sz), n, (unsigned long long)s->node_total[n],
			       (unsigned long long)s->node_free[n], (unsigned long long)s->node_surplus[n],
			       ctl_size(s->node_total[n] * s->page_sz), ctl_size(s->node_free[n] * s->page_sz));
		}
	}
	for (int i = 0; i < e->size_cnt; i++)
		printf("  %s pages: %llu reserved for mappings, overcommit %llu, surplus %llu\n",
		       ctl_size(e->size[i].page_sz), (unsigned long long)e->size[i].resv,
		       (unsigned long long)e->size[i].overcommit, (unsigned long long)e->size[i].surplus);

	printf("\nFragmentation (/proc/buddyinfo, free memory by block size):\n");
	if (e->buddy_cnt == 0)
		printf("  /proc/buddyinfo is not readable\n");
	for (int i = 0; i < e->buddy_cnt; i++) {
		const struct ex_buddy *b = &e->buddy[i];
		uint64_t free_b = buddy_free_bytes(e, b);

		printf("  node %d: %s free, largest blocks %s\n", b->node, ctl_size(free_b),
		       ctl_size(((uint64_t)1 << (b->order_cnt ? b->order_cnt - 1 : 0)) * e->base_page));
		for (int k = 0; k < e->size_cnt; k++) {
			int64_t cap = buddy_capacity(e, b, e->size[k].page_sz);

			if (cap >= 0)
				printf("    %s pages it could give now, without compaction: %lld (%.0f%% of its "
				       "free memory)\n", ctl_size(e->size[k].page_sz), (long long)cap,
				       free_b ? 100.0 * (double)cap * (double)e->size[k].page_sz / (double)free_b : 0.0);
			else
				printf("    %s pages come from contiguous ranges, not these lists: only a try "
				       "tells\n", ctl_size(e->size[k].page_sz));
		}
	}

	printf("\nTransparent huge pages: enabled %s, defrag %s\n",
	       e->thp_enabled[0] ? e->thp_enabled : "(not available)",
	       e->thp_defrag[0] ? e->thp_defrag : "-");
	if (e->memlock.rlim_cur == RLIM_INFINITY)
		printf("Locked-memory limit (RLIMIT_MEMLOCK, this process): unlimited");
	else
		printf("Locked-memory limit (RLIMIT_MEMLOCK, this process): %s", ctl_size((uint64_t)e->memlock.rlim_cur));
	if (e->memlock.rlim_max == RLIM_INFINITY)
		printf(", hard unlimited\n");
	else
		printf(", hard %s\n", ctl_size((uint64_t)e->memlock.rlim_max));
	if (e->have_shm_group)
		printf("hugetlb_shm_group (may use SHM_HUGETLB): gid %llu\n", (unsigned long long)e->shm_group);
	printf("Kernel command line: %s\n", e->cmdline[0] ? e->cmdline : "no hugepage settings");

	printf("\nOther hugetlbfs mounts:\n");
	if (e->mount_cnt == 0)
		printf("  none\n");
	for (int i = 0; i < e->mount_cnt; i++) {
		const struct ex_mount *m = &e->mount[i];

		printf("  %s (page size %s): %llu file%s, %s", m->path,
		       m->page_sz ? ctl_size(m->page_sz) : "?", (unsigned long long)m->files,
		       m->files == 1 ? "" : "s", ctl_size(m->bytes));
		if (m->user_cnt == 0)
			printf(", mapped by no process\n");
		else
			printf(", mapped by %zu process%s:", m->user_cnt, m->user_cnt == 1 ? "" : "es");
		for (size_t u = 0; u < m->user_cnt && u < EX_USERS_MAX; u++)
			printf(" %d (%s)", (int)m->users[u], comm_of(m->users[u], comm, sizeof(comm)));
		if (m->user_cnt)
			printf("%s\n", m->user_cnt > EX_USERS_MAX ? " ..." : "");
	}

	if (e->shmfs_mounted)
		printf("\nshmfs at %s: mounted (backing %s), %zu region%s, %zu orphaned\n", e->c->mount,
		       e->backing, e->region_cnt, e->region_cnt == 1 ? "" : "s", e->orphan_cnt);
	else
		printf("\nshmfs at %s: not mounted\n", e->c->mount);

	printf("\nAdvice:\n");
	if (e->advice_cnt == 0)
		printf("  nothing to do\n");
	for (int i = 0; i < e->advice_cnt; i++)
		printf("  - %s\n", e->advice[i]);
}

static void json_limit(struct json *j, const char *key, rlim_t v)
{
	if (v == RLIM_INFINITY)
		json_null(j, key);
	else
		json_u64(j, key, (uint64_t)v);
}

static void print_json(struct explain *e, const char *cmd)
{
	struct json j;
	char comm[64];

	ctl_json_open(e->c, &j, cmd);
	json_u64(&j, "default_huge_page_size", e->default_huge);
	json_arr_open(&j, "pools");
	for (int i = 0; i < e->size_cnt; i++) {
		const struct ex_size *s = &e->size[i];

		for (int k = 0; k < e->node_cnt; k++) {
			int n = e->nodes[k];

			json_obj_open(&j, NULL);
			json_str(&j, "type", s->type);
			json_u64(&j, "page_size", s->page_sz);
			json_i64(&j, "node", n);
			json_u64(&j, "total", s->node_total[n]);
			json_u64(&j, "free", s->node_free[n]);
			json_u64(&j, "surplus", s->node_surplus[n]);
			json_obj_close(&j);
		}
	}
	json_arr_close(&j);
	json_arr_open(&j, "page_sizes");
	for (int i = 0; i < e->size_cnt; i++) {
		json_obj_open(&j, NULL);
		json_str(&j, "type", e->size[i].type);
		json_u64(&j, "page_size", e->size[i].page_sz);
		json_u64(&j, "total", e->size[i].total);
		json_u64(&j, "free", e->size[i].free);
		json_u64(&j, "reserved", e->size[i].resv);
		json_u64(&j, "surplus", e->size[i].surplus);
		json_u64(&j, "overcommit", e->size[i].overcommit);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "fragmentation");
	for (int i = 0; i < e->buddy_cnt; i++) {
		const struct ex_buddy *b = &e->buddy[i];

		json_obj_open(&j, NULL);
		json_i64(&j, "node", b->node);
		json_u64(&j, "free_bytes", buddy_free_bytes(e, b));
		json_arr_open(&j, "free_blocks");   /* per order: blocks of 2^order base pages */
		for (int o = 0; o < b->order_cnt; o++)
			json_u64(&j, NULL, b->blocks[o]);
		json_arr_close(&j);
		json_arr_open(&j, "available");
		for (int k = 0; k < e->size_cnt; k++) {
			int64_t cap = buddy_capacity(e, b, e->size[k].page_sz);

			json_obj_open(&j, NULL);
			json_u64(&j, "page_size", e->size[k].page_sz);
			if (cap >= 0)
				json_i64(&j, "pages", cap);
			else
				json_null(&j, "pages");
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_open(&j, "thp");
	json_str(&j, "enabled", e->thp_enabled[0] ? e->thp_enabled : NULL);
	json_str(&j, "defrag", e->thp_defrag[0] ? e->thp_defrag : NULL);
	json_obj_close(&j);
	json_obj_open(&j, "memlock");      /* bytes; null = unlimited */
	json_limit(&j, "soft", e->memlock.rlim_cur);
	json_limit(&j, "hard", e->memlock.rlim_max);
	json_obj_close(&j);
	if (e->have_shm_group)
		json_u64(&j, "hugetlb_shm_group", e->shm_group);
	else
		json_null(&j, "hugetlb_shm_group");
	json_arr_open(&j, "cmdline");
	{
		char copy[sizeof(e->cmdline)], *save = NULL;

		snprintf(copy, sizeof(copy), "%s", e->cmdline);
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			json_str(&j, NULL, w);
	}
	json_arr_close(&j);
	json_arr_open(&j, "hugetlbfs_mounts");
	for (int i = 0; i < e->mount_cnt; i++) {
		const struct ex_mount *m = &e->mount[i];

		json_obj_open(&j, NULL);
		json_str(&j, "path", m->path);
		if (m->page_sz)
			json_u64(&j, "page_size", m->page_sz);
		else
			json_null(&j, "page_size");
		json_u64(&j, "files", m->files);
		json_u64(&j, "bytes", m->bytes);
		json_u64(&j, "unmapped_files", m->unmapped_files);
		json_u64(&j, "unmapped_bytes", m->unmapped_bytes);
		json_u64(&j, "user_count", m->user_cnt);
		json_arr_open(&j, "users");
		for (size_t u = 0; u < m->user_cnt && u < EX_USERS_MAX; u++) {
			json_obj_open(&j, NULL);
			json_i64(&j, "pid", m->users[u]);
			json_str(&j, "comm", comm_of(m->users[u], comm, sizeof(comm)));
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_open(&j, "shmfs");
	json_str(&j, "mount", e->c->mount);
	json_bool(&j, "mounted", e->shmfs_mounted);
	if (e->shmfs_mounted) {
		json_str(&j, "backing", e->backing);
		json_u64(&j, "regions", e->region_cnt);
		json_u64(&j, "orphaned", e->orphan_cnt);
	}
	json_obj_close(&j);
	json_arr_open(&j, "advice");
	for (int i = 0; i < e->advice_cnt; i++)
		json_str(&j, NULL, e->advice[i]);
	json_arr_close(&j);
	ctl_json_close(e->c, &j);
}

static int run_explain_as(struct ctl *c, const char *cmd)
{
	_cleanup_free_ struct explain *e = calloc(1, sizeof(*e));

	if (!e)
		return ctl_fail(-ENOMEM, cmd, NULL, NULL, "cannot look");
	e->c = c;
	e->base_page = (uint64_t)sysconf(_SC_PAGESIZE);
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (c->types.type[k].kind == SHMFS_PAGE_HUGE)
			e->default_huge = c->types.type[k].page_sz;
	e->node_cnt = ctl_memory_nodes(e->nodes, SHMFS_NODE_MAX);
	gather_shmfs(e);
	gather_pools(e);
	gather_buddy(e);
	read_bracketed("/sys/kernel/mm/transparent_hugepage/enabled", e->thp_enabled, sizeof(e->thp_enabled));
	read_bracketed("/sys/kernel/mm/transparent_hugepage/defrag", e->thp_defrag, sizeof(e->thp_defrag));
	if (getrlimit(RLIMIT_MEMLOCK, &e->memlock) < 0)
		e->memlock.rlim_cur = e->memlock.rlim_max = RLIM_INFINITY;
	e->have_shm_group = shmfs_read_u64("/proc/sys/vm/hugetlb_shm_group", &e->shm_group) == 0;
	gather_cmdline(e);
	gather_mounts(e);
	make_advice(e);
	if (c->json)
		print_json(e, cmd);
	else
		print_human(e);
	return 0;
}

static int run_explain(struct ctl *c, const struct ctl_args *a)
{
	return run_explain_as(c, "explain");
}

static int run_doctor(struct ctl *c, const struct ctl_args *a)
{
	return run_explain_as(c, "doctor");
}

#define EXPLAIN_HELP \
	"What the kernel offers for huge pages and what stands in the way, like\n" \
	"hugeadm --explain: pools and free pages per node and page size, surplus and\n" \
	"overcommit, fragmentation per node (/proc/buddyinfo), the transparent huge\n" \
	"page mode, the locked-memory limit, other hugetlbfs mounts and the processes\n" \
	"using them, the kernel command line's hugepage settings, and advice: each\n" \
	"line one thing to do. Reads the kernel only; needs no shmfs mounted (when one\n" \
	"is, its regions and orphans are counted too).\n"

const struct ctl_cmd ctl_explain_cmds[] = {
	{ "explain", "", "explain the huge page setup of this machine and advise", EXPLAIN_HELP,
	  0, 0, true, { { 0 } }, run_explain },
	{ "doctor", "", "the same as explain", EXPLAIN_HELP, 0, 0, true, { { 0 } }, run_doctor },
	{ NULL },
};
