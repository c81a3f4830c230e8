/* prometheus.c - `shmfsctl info --prometheus`: the pools and regions of a
 * mount as Prometheus text exposition (the format node_exporter's textfile
 * collector reads): pool pages per type and node, regions, their bytes and
 * orphans per type, and usage per owner. Every number comes from the tree,
 * read the same way query and info read it. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util.h"

/* A label value: backslash, double quote and newline escaped, as the format
 * requires (a mount path may hold any of them). */
static void put_label(FILE *f, const char *key, const char *val, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* name{mount="...",type="...",node="..."} value; node < 0 leaves it out */
static void sample(FILE *f, const char *name, const char *mount, const struct shmfs_page_type *t,
		   int node, uint64_t v)
{
	char n[16];

	fprintf(f, "%s{", name);
	put_label(f, "mount", mount, true);
	if (t) {
		put_label(f, "type", t->name, false);
		snprintf(n, sizeof(n), "%" PRIu64, t->page_sz);
		put_label(f, "page_size", n, false);
	}
	if (node >= 0) {
		snprintf(n, sizeof(n), "%d", node);
		put_label(f, "node", n, false);
	}
	fprintf(f, "} %" PRIu64 "\n", v);
}

struct per_user {
	uid_t uid;
	const struct shmfs_page_type *t;
	uint64_t regions, bytes;
};

static int user_cmp(const void *a, const void *b)
{
	const struct per_user *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->t->kind > y->t->kind ? -1 : x->t->kind < y->t->kind;
}

/* Families per page type, in the order of the values region_sums gives. */
static const char *const reg_fam[][2] = {
	{ "shmfs_regions", "Regions of a page type." },
	{ "shmfs_region_bytes", "Sum of the regions' sizes (st_size) of a page type." },
	{ "shmfs_region_allocated_bytes", "Memory the regions of a page type hold (whole pages)." },
	{ "shmfs_regions_orphaned", "Orphaned regions (creator gone, nobody maps them): "
	  "'shmfsctl clean' removes them." },
	{ "shmfs_region_orphaned_bytes", "Memory orphaned regions hold." },
};

/* Count, bytes, allocated, orphans and their memory of the regions of t. */
static void region_sums(const struct ctl_region *regs, size_t cnt, const struct shmfs_page_type *t,
			uint64_t v[5])
{
	memset(v, 0, 5 * sizeof(v[0]));
	for (size_t i = 0; i < cnt; i++) {
		if (regs[i].t != t)
			continue;
		v[0]++;
		v[1] += regs[i].size;
		v[2] += regs[i].allocated;
		if (regs[i].orphaned == 1) {
			v[3]++;
			v[4] += regs[i].allocated;
		}
	}
}

/* One pool's sample of the family name: the ctl_pool field at off. */
struct pool_sample {
	FILE *f;
	const char *mount, *name;
	size_t off;
};

static int pool_sample(const struct ctl_pool *p, void *ctx)
{
	const struct pool_sample *ps = ctx;

	sample(ps->f, ps->name, ps->mount, p->t, p->node, *(const uint64_t *)((const char *)p + ps->off));
	return 0;
}

int ctl_info_prometheus(struct ctl *c)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} pool_fam[] = {
		{ "shmfs_pool_pages", "Huge pages in the pool of a page type on a NUMA node (persistent and surplus).",
		  offsetof(struct ctl_pool, total) },
		{ "shmfs_pool_free_pages", "Free huge pages in the pool.", offsetof(struct ctl_pool, free) },
		{ "shmfs_pool_surplus_pages", "Surplus (overcommitted) huge pages in the pool.",
		  offsetof(struct ctl_pool, surplus) },
		{ "shmfs_pool_reserved_pages", "Huge pages promised to mappings but not yet touched "
		  "(the kernel counts them per page type, not per node).", offsetof(struct ctl_pool, reserved) },
	};
	_cleanup_free_ struct ctl_region *regs = NULL;
	_cleanup_free_ struct per_user *users = NULL;
	size_t reg_cnt = 0, user_cnt = 0, unreadable = 0;
	FILE *f = stdout;
	int r;

	r = ctl_regions_load(c, "info", &regs, &reg_cnt);
	if (r)
		return r;
	/* The families are per page type of this host's pools: a shared
	 * backing's regions (another memory, the master's) are not theirs. */
	{
		size_t n = 0;

		for (size_t i = 0; i < reg_cnt; i++)
			if (!regs[i].shared)
				regs[n++] = regs[i];
		reg_cnt = n;
	}

	for (size_t fi = 0; fi < sizeof(pool_fam) / sizeof(pool_fam[0]); fi++) {
		struct pool_sample ps = { f, c->mount, pool_fam[fi].name, pool_fam[fi].off };

		family(f, pool_fam[fi].name, pool_fam[fi].help);
		r = ctl_pools_each(c, "info", pool_sample, &ps);
		if (r)
			return r;
	}

	/* per type: regions, bytes, orphans */
	for (size_t fi = 0; fi < sizeof(reg_fam) / sizeof(reg_fam[0]); fi++) {
		family(f, reg_fam[fi][0], reg_fam[fi][1]);
		for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
			const struct shmfs_page_type *t = &c->types.type[k];
			uint64_t v[5];

			if (!shmfs_page_type_present(t))
				continue;
			region_sums(regs, reg_cnt, t, v);
			sample(f, reg_fam[fi][0], c->mount, t, -1, v[fi]);
		}
	}
	for (size_t i = 0; i < reg_cnt; i++)
		unreadable += !regs[i].readable;
	family(f, "shmfs_regions_unreadable", "Regions whose details this scrape could not read "
	       "(not counted as orphaned); run the collector as root to see all.");
	sample(f, "shmfs_regions_unreadable", c->mount, NULL, -1, unreadable);

	/* usage per owner and page type */
	if (reg_cnt) {
		users = calloc(reg_cnt, sizeof(*users));
		if (!users)
			return ctl_fail(-ENOMEM, "info", NULL, NULL, "out of memory");
	}
	for (size_t i = 0; i < reg_cnt; i++) {
		size_t u;

		for (u = 0; u < user_cnt; u++)
			if (users[u].uid == regs[i].uid && users[u].t == regs[i].t)
				break;
		if (u == user_cnt) {
			users[u].uid = regs[i].uid;
			users[u].t = regs[i].t;
			user_cnt++;
		}
		users[u].regions++;
		users[u].bytes += regs[i].allocated;
	}
	if (user_cnt > 1)
		qsort(users, user_cnt, sizeof(*users), user_cmp);
	for (int fi = 0; fi < 2; fi++) {
		const char *name = fi ? "shmfs_user_allocated_bytes" : "shmfs_user_regions";

		family(f, name, fi ? "Memory the regions a user owns hold, per page type."
				   : "Regions a user owns, per page type.");
		for (size_t u = 0; u < user_cnt; u++) {
			char id[16], uname[64];

			snprintf(id, sizeof(id), "%u", (unsigned)users[u].uid);
			fprintf(f, "%s{", name);
			put_label(f, "mount", c->mount, true);
			put_label(f, "type", users[u].t->name, false);
			put_label(f, "uid", id, false);
			put_label(f, "user", ctl_user(users[u].uid, uname, sizeof(uname)), false);
			fprintf(f, "} %" PRIu64 "\n", fi ? users[u].bytes : users[u].regions);
		}
	}
	return 0;
}
