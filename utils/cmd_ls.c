/* cmd_ls.c - `shmfsctl ls`: one line per region (name, type, nodes, size,
 * owner, mappers, lifetime, orphaned, age), sortable, human sizes or exact
 * bytes, or the same regions as JSON. What it shows is what the tree serves
 * (tree.c reads it; info's region rendering gives the JSON), nothing more:
 * a listing for people, where info is the full record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "util.h"

enum ls_sort { LS_SORT_NAME, LS_SORT_SIZE, LS_SORT_AGE, LS_SORT_TYPE };

static const char *const sort_names[] = { "name", "size", "age", "type" };

/* Creation time from "SECONDS.NANOSECONDS" (ns since the epoch in *ret_ns,
 * for ordering regions made within one second); -1 when unknown (not
 * readable, or a daemon that does not keep it). */
static int64_t created_sec(const struct ctl_region *g, int64_t *ret_ns)
{
	char *end;
	long long s, ns = 0;

	if (!g->created[0])
		return -1;
	errno = 0;
	s = strtoll(g->created, &end, 10);
	if (errno || end == g->created || (*end && *end != '.') || s < 0)
		return -1;
	if (*end == '.') {
		const char *p = end + 1;
		int digits = 0;

		/* up to nine digits of fraction, as nanoseconds */
		for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
			ns = ns * 10 + (*p - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (ret_ns)
		*ret_ns = (int64_t)s * 1000000000LL + ns;
	return s;
}

static int cmp_name(const struct ctl_region *x, const struct ctl_region *y)
{
	int r = strcmp(x->name, y->name);

	/* the same name may exist once per page type: largest pages first */
	return r ? r : x->t->kind > y->t->kind ? -1 : x->t->kind < y->t->kind;
}

static enum ls_sort sort_key;
static bool sort_reverse;

static int ls_cmp(const void *a, const void *b)
{
	const struct ctl_region *x = a, *y = b;
	int r = 0;

	switch (sort_key) {
	case LS_SORT_SIZE:          /* largest first, like ls -S */
		r = x->size > y->size ? -1 : x->size < y->size;
		break;
	case LS_SORT_AGE: {         /* oldest first; unknown ages last */
		int64_t nx = 0, ny = 0, cx = created_sec(x, &nx), cy = created_sec(y, &ny);

		if (cx < 0 || cy < 0)
			r = (cx < 0) - (cy < 0);
		else
			r = nx < ny ? -1 : nx > ny;
		break;
	}
	case LS_SORT_TYPE:          /* largest pages first, as query lists */
		r = x->t->kind > y->t->kind ? -1 : x->t->kind < y->t->kind;
		break;
	case LS_SORT_NAME:
		break;
	}
	if (r == 0)
		r = cmp_name(x, y);
	return sort_reverse ? -r : r;
}

/* "45s", "12m", "3h", "5d": the largest unit that is at least one. */
static const char *age_text(int64_t created, time_t now, char *buf, size_t sz)
{
	int64_t a = (int64_t)now - created;

	if (created < 0)
		return "?";
	if (a < 0)
		a = 0;  /* a clock set back: not negative ages */
	if (a < 120)
		snprintf(buf, sz, "%llds", (long long)a);
	else if (a < 2 * 3600)
		snprintf(buf, sz, "%lldm", (long long)(a / 60));
	else if (a < 2 * 86400)
		snprintf(buf, sz, "%lldh", (long long)(a / 3600));
	else
		snprintf(buf, sz, "%lldd", (long long)(a / 86400));
	return buf;
}

static const char *nodes_text(const struct ctl_region *g)
{
	if (!g->readable)
		return "?";
	return g->numa_nodes[0] ? g->numa_nodes : "-";  /* "-": no pages yet */
}

static void ls_json(struct ctl *c, const struct ctl_region *regs, size_t cnt, time_t now)
{
	struct json j;

	ctl_json_open(c, &j, "ls");
	json_str(&j, "mount", c->mount);
	json_str(&j, "sort", sort_names[sort_key]);
	json_bool(&j, "reverse", sort_reverse);
	json_arr_open(&j, "regions");
	for (size_t i = 0; i < cnt; i++) {
		int64_t cr = created_sec(&regs[i], NULL);

		json_obj_open(&j, NULL);
		ctl_region_json(&j, &regs[i]);
		if (cr >= 0)
			json_i64(&j, "age_seconds", (int64_t)now - cr < 0 ? 0 : (int64_t)now - cr);
		else
			json_null(&j, "age_seconds");
		json_obj_close(&j);
	}
	json_arr_close(&j);
	ctl_json_close(c, &j);
}

static void ls_table(const struct ctl_region *regs, size_t cnt, bool bytes, time_t now)
{
	int wn = 4, wt = 4, wd = 5, ws = 4, wo = 5;
	char size[32], owner[64], age[32], mappers[24];

	for (size_t i = 0; i < cnt; i++) {
		const struct ctl_region *g = &regs[i];
		int n;

		n = (int)strlen(g->name);
		wn = n > wn ? n : wn;
		n = (int)strlen(ctl_region_type(g));
		wt = n > wt ? n : wt;
		n = (int)strlen(nodes_text(g));
		wd = n > wd ? n : wd;
		n = snprintf(size, sizeof(size), "%llu", (unsigned long long)g->size);
		if (!bytes)
			n = (int)strlen(ctl_size(g->size));
		ws = n > ws ? n : ws;
		n = (int)strlen(ctl_user(g->uid, owner, sizeof(owner)));
		wo = n > wo ? n : wo;
	}
	printf("%-*s %-*s %-*s %*s %-*s %7s %-10s %-8s %5s\n", wn, "NAME", wt, "TYPE", wd, "NODES", ws,
	       "SIZE", wo, "OWNER", "MAPPERS", "LIFETIME", "ORPHANED", "AGE");
	for (size_t i = 0; i < cnt; i++) {
		const struct ctl_region *g = &regs[i];

		if (bytes)
			snprintf(size, sizeof(size), "%llu", (unsigned long long)g->size);
		else
			snprintf(size, sizeof(size), "%s", ctl_size(g->size));
		if (g->readable)
			snprintf(mappers, sizeof(mappers), "%llu", (unsigned long long)g->mapper_cnt);
		else
			snprintf(mappers, sizeof(mappers), "?");
		printf("%-*s %-*s %-*s %*s %-*s %7s %-10s %-8s %5s\n", wn, g->name, wt, ctl_region_type(g), wd,
		       nodes_text(g), ws, size, wo, ctl_user(g->uid, owner, sizeof(owner)), mappers,
		       g->lifetime[0] ? g->lifetime : "-",
		       g->orphaned == 1 ? "yes" : g->orphaned == 0 ? "no" : "?",
		       age_text(created_sec(g, NULL), now, age, sizeof(age)));
	}
}

static int run_ls(struct ctl *c, const struct ctl_args *a)
{
	_cleanup_free_ struct ctl_region *regs = NULL;
	size_t cnt = 0;
	time_t now;
	int r;

	sort_key = LS_SORT_NAME;
	sort_reverse = a->opt[2];
	if (a->opt[0]) {
		size_t k;

		for (k = 0; k < sizeof(sort_names) / sizeof(sort_names[0]); k++)
			if (strcmp(a->val[0], sort_names[k]) == 0)
				break;
		if (k == sizeof(sort_names) / sizeof(sort_names[0]))
			return ctl_usage("ls", "cannot sort by '%s'; sort by name, size, age or type",
					 a->val[0]);
		sort_key = (enum ls_sort)k;
	}
	r = ctl_regions_load(c, "ls", &regs, &cnt);
	if (r)
		return r;
	if (cnt > 1)
		qsort(regs, cnt, sizeof(*regs), ls_cmp);
	now = time(NULL);
	if (c->json)
		ls_json(c, regs, cnt, now);
	else
		ls_table(regs, cnt, a->opt[1], now);
	return 0;
}

const struct ctl_cmd ctl_ls_cmds[] = {
	{ "ls", "", "list the regions, one line each",
	  "Per region: name, page type, the NUMA nodes its pages sit on, size, owner, the\n"
	  "number of processes mapping it, its lifetime (- when the daemon does not say),\n"
	  "orphaned (yes, no, ? when you may not read it) and age. Sorted by name unless\n"
	  "--sort says otherwise: size (largest first), age (oldest first), type (largest\n"
	  "pages first). Regions you may not read show ? where they cannot be known.\n",
	  0, 0, true, { { 's', "sort=KEY", "sort by name, size, age or type" },
			{ 'b', "bytes", "exact sizes in bytes instead of 4.0M" },
			{ 'r', "reverse", "reverse the order" } },
	  run_ls },
	{ NULL },
};
