/* cmd_region.c - fd_shmem_ctl parity for regions: create (pages on one node,
 * or split over the nodes of a CPU list like fd_shmem_create_multi), unlink,
 * and query NAME. All of it is file operations on the tree: open(O_CREAT),
 * fchmod, an optional policy xattr, ftruncate; unlink. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

#include "ctl.h"
#include "name.h"
#include "parse.h"
#include "util.h"
#include "xattr_names.h"

#define SUB_MAX 256

struct sub {
	int node;
	uint64_t pages;
};

static int name_arg(const char *cmd, const char *name)
{
	int r = shmfs_name_check(name);

	if (r == -ENAMETOOLONG)
		return ctl_usage(cmd, "region name '%s' is longer than %d characters", name, SHMFS_NAME_MAX);
	if (r < 0)
		return ctl_usage(cmd, "region name '%s' is not valid: it must start with a letter or "
				 "digit, then letters, digits, '_', '.' or '-'", name);
	return 0;
}

/* "nodeN" names a node; "N" or "A-B" name CPUs (fd_shmem_ctl's cpu_idx),
 * each standing for its node. Appends to nodes[]. */
static int target_nodes(const char *cmd, const char *list, int *nodes, int *cnt)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	if (!copy)
		return CTL_EXIT_FAIL;
	if (list[0] == '\0' || list[strlen(list) - 1] == ',')
		return ctl_usage(cmd, "'%s' is not a CPU list (like 0,4 or 0-3) or a node (node1)", list);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t lo, hi;
		char *dash;
		int r;

		if (strncmp(tok, "node", 4) == 0) {
			int node;

			r = ctl_node(cmd, tok, &node);
			if (r)
				return r;
			if (*cnt >= SUB_MAX)
				return ctl_usage(cmd, "too many targets (at most %d)", SUB_MAX);
			nodes[(*cnt)++] = node;
			continue;
		}
		if (tok[0] == '-')
			return ctl_usage(cmd, "CPU '%s' is negative", tok);
		dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (shmfs_parse_u64(tok, &lo) < 0 || (dash && shmfs_parse_u64(dash + 1, &hi) < 0))
			return ctl_usage(cmd, "'%s' is not a CPU list (like 0,4 or 0-3) or a node (node1)", list);
		if (!dash)
			hi = lo;
		if (hi < lo)
			return ctl_usage(cmd, "CPU range '%s-%s' runs backwards", tok, dash + 1);
		for (uint64_t cpu = lo; cpu <= hi; cpu++) {
			int node = cpu < SHMFS_CPU_MAX ? shmfs_numa_cpu_node((int)cpu) : -ENOENT;

			if (node < 0)
				return ctl_usage(cmd, "CPU %llu does not exist (this machine has %d CPUs)",
						 (unsigned long long)cpu, shmfs_numa_cpu_cnt());
			if (!shmfs_numa_node_has_memory(node))
				return ctl_usage(cmd, "CPU %llu is on node %d, which has no memory; name a "
						 "memory node with nodeN", (unsigned long long)cpu, node);
			if (*cnt >= SUB_MAX)
				return ctl_usage(cmd, "too many targets (at most %d)", SUB_MAX);
			nodes[(*cnt)++] = node;
		}
	}
	return 0;
}

/* Pair the page counts with the targets: as many counts as targets, or one
 * total split as evenly as possible (the first ones get the remainder).
 * Neighbours on the same node merge. */
static int plan(const char *cmd, const char *counts, const struct shmfs_page_type *t,
		const int *nodes, int node_cnt, struct sub *subs, int *sub_cnt, uint64_t *total)
{
	_cleanup_free_ char *copy = strdup(counts);
	uint64_t pages[SUB_MAX];
	int cnt = 0;
	char *save = NULL;

	if (!copy)
		return CTL_EXIT_FAIL;
	if (counts[0] == '\0' || counts[strlen(counts) - 1] == ',')
		return ctl_usage(cmd, "'%s' is not a page count", counts);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int r;

		if (cnt >= SUB_MAX)
			return ctl_usage(cmd, "too many page counts (at most %d)", SUB_MAX);
		r = ctl_parse_pages(cmd, tok, t, &pages[cnt]);
		if (r)
			return r;
		if (pages[cnt] == 0)
			return ctl_usage(cmd, "page count must be at least 1 (got '%s')", tok);
		cnt++;
	}
	if (cnt != 1 && cnt != node_cnt)
		return ctl_usage(cmd, "%d page counts for %d CPUs/nodes: give one count per CPU, or one "
				 "total", cnt, node_cnt);
	*sub_cnt = 0;
	*total = 0;
	for (int i = 0; i < node_cnt; i++) {
		uint64_t p;

		if (cnt == 1) {
			p = pages[0] / (uint64_t)node_cnt + ((uint64_t)i < pages[0] % (uint64_t)node_cnt);
			if (p == 0)
				continue;
		} else {
			p = pages[i];
		}
		/* the size becomes an off_t: INT64_MAX, not UINT64_MAX */
		if (*total + p < *total || (*total + p) > (uint64_t)INT64_MAX / t->page_sz)
			return ctl_usage(cmd, "%s pages do not fit in memory", counts);
		*total += p;
		if (*sub_cnt > 0 && subs[*sub_cnt - 1].node == nodes[i]) {
			subs[*sub_cnt - 1].pages += p;
			continue;
		}
		subs[*sub_cnt].node = nodes[i];
		subs[*sub_cnt].pages = p;
		(*sub_cnt)++;
	}
	return 0;
}

static int parse_mode(const char *cmd, const char *s, mode_t *ret)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(s, &end, 8);
	/* strtoul would also take blanks before the digits */
	if (s[0] < '0' || s[0] > '7' || *end || errno || m > 07777)
		return ctl_usage(cmd, "mode '%s' is not an octal permission like 0600", s);
	*ret = (mode_t)m;
	return 0;
}

/* For a pool that fell short: which nodes lack how many pages, and the alloc
 * that would fix each (pools read through the tree, after the failure). */
static void shortfall_hint(struct ctl *c, const struct shmfs_page_type *t, const struct sub *subs,
			   int sub_cnt, char *hint, size_t sz)
{
	size_t len = 0;

	hint[0] = '\0';
	for (int i = 0; i < sub_cnt; i++) {
		struct ctl_pool p;

		if (ctl_pool_read(c, t, subs[i].node, &p) < 0 || p.free >= subs[i].pages)
			continue;
		len += (size_t)snprintf(hint + len, len < sz ? sz - len : 0,
					"%sNode %d has %llu free %s page%s, %llu needed: 'shmfsctl alloc %llu %s %d'.",
					len ? " " : "", subs[i].node, (unsigned long long)p.free, t->name,
					p.free == 1 ? "" : "s", (unsigned long long)subs[i].pages,
					(unsigned long long)(p.total + subs[i].pages - p.free), t->name, subs[i].node);
	}
	if (len < sz)
		snprintf(hint + len, sz - len, "%sNothing was created.", len ? " " : "");
}

static int create_fail(struct ctl *c, int r, const char *path, const struct shmfs_page_type *t,
		       const struct sub *subs, int sub_cnt, uint64_t total)
{
	char hint[1024];

	switch (r) {
	case -EEXIST:
		return ctl_fail(r, "create", path, "Region names are unique per page type; pick another "
				"name or remove the old one ('shmfsctl unlink NAME').", "cannot create");
	case -ENOMEM:
	case -ENOSPC:
		if (!shmfs_page_type_is_huge(t))
			return ctl_fail(r, "create", path, "Not enough memory on that node. Nothing was created.",
					"cannot size");
		shortfall_hint(c, t, subs, sub_cnt, hint, sizeof(hint));
		return ctl_fail(r, "create", path, hint, "cannot get %llu %s pages (%s) for",
				(unsigned long long)total, t->name, ctl_size(total * t->page_sz));
	case -EACCES:
	case -EPERM:
		return ctl_fail(r, "create", path, "The directory's permissions decide who may create "
				"regions (see 'shmfsctl init PERM USER GROUP').", "cannot create");
	default:
		return ctl_fail(r, "create", path, NULL, "cannot create");
	}
}

static int run_create(struct ctl *c, const struct ctl_args *a)
{
	const char *name = a->argv[0];
	const struct shmfs_page_type *t;
	int nodes[SUB_MAX], node_cnt = 0, sub_cnt = 0, r;
	struct sub subs[SUB_MAX];
	uint64_t total = 0;
	char path[4096];
	struct shmfs_region_create_opts opts = { .sz = sizeof(opts) };
	struct shmfs_node_pages split[SUB_MAX];
	mode_t mode = 0;

	r = name_arg("create", name);
	if (r)
		return r;
	t = ctl_page_type(c, "create", a->argv[2], false);
	if (!t)
		return CTL_EXIT_USAGE;
	r = target_nodes("create", a->argv[3], nodes, &node_cnt);
	if (r)
		return r;
	r = plan("create", a->argv[1], t, nodes, node_cnt, subs, &sub_cnt, &total);
	if (r)
		return r;
	r = parse_mode("create", a->argv[4], &mode);
	if (r)
		return r;
	r = ctl_mount_check(c, "create");
	if (r)
		return r;

	snprintf(path, sizeof(path), "%s/%s/node%d/%s", c->mount, t->name, subs[0].node, name);
	/* The mode is what the admin asked for, not what the umask leaves.
	 * Like fd_shmem_ctl's, regions are made to outlive this command:
	 * persistent and disowned, unless the process lifetime is asked for
	 * (this command is the creator: orphaned once nothing maps it). */
	opts.flags = SHMFS_CREATE_EXACT_MODE |
		     (a->opt[0] ? SHMFS_CREATE_PROCESS_LIFETIME : SHMFS_CREATE_DISOWN);
	if (sub_cnt > 1) {
		for (int i = 0; i < sub_cnt; i++)
			split[i] = (struct shmfs_node_pages){ .node = subs[i].node, .page_cnt = subs[i].pages };
		opts.split = split;
		opts.split_cnt = (size_t)sub_cnt;
	}
	r = shmfs_region_create_opts(path, total * t->page_sz, mode, &opts);
	if (r == -ENOTSUP && a->opt[0])
		return ctl_fail(r, "create", path, "This shmfs daemon does not know region lifetimes; "
				"create it without --process-lifetime. Nothing was created.",
				"cannot give process lifetime to");
	if (r == -ENOTSUP && sub_cnt > 1)
		return ctl_fail(r, "create", path, "This shmfs daemon cannot split a region over "
				"several nodes; create one region per node instead. Nothing was "
				"created.", "cannot split pages over nodes for");
	if (r < 0)
		return create_fail(c, r, path, t, subs, sub_cnt, total);
	if (c->json) {
		struct ctl_region g;
		struct json j;

		ctl_json_open(c, &j, "create");
		if (ctl_region_read(c, path, t, subs[0].node, &g) == 0) {
			json_obj_open(&j, "region");
			ctl_region_json(&j, &g);
			json_obj_close(&j);
		}
		ctl_json_close(c, &j);
	} else {
		char where[256] = "";

		for (int i = 0; i < sub_cnt; i++)
			snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%llu on node %d",
				 i ? ", " : "", (unsigned long long)subs[i].pages, subs[i].node);
		ctl_say(c, "created %s/node%d/%s: %llu %s page%s (%s): %s", t->name, subs[0].node, name,
			(unsigned long long)total, t->name, total == 1 ? "" : "s",
			ctl_size(total * t->page_sz), where);
	}
	return 0;
}

static const struct shmfs_page_type *type_arg(struct ctl *c, const char *cmd, const struct ctl_args *a)
{
	return a->argc >= 2 ? ctl_page_type(c, cmd, a->argv[1], false) : NULL;
}

/* Find NAME (optionally only of TYPE) and report a miss properly. */
static int find_region(struct ctl *c, const char *cmd, const struct ctl_args *a, struct ctl_region *g)
{
	const char *name = a->argv[0];
	const struct shmfs_page_type *only = type_arg(c, cmd, a);
	int r;

	if (a->argc >= 2 && !only)
		return CTL_EXIT_USAGE;
	if (!strchr(name, '/')) {
		r = name_arg(cmd, name);
		if (r)
			return r;
	}
	r = ctl_mount_check(c, cmd);
	if (r)
		return r;
	if (only) {
		char rel[256];
		int nodes[SHMFS_NODE_MAX], cnt = ctl_memory_nodes(nodes, SHMFS_NODE_MAX);

		r = -ENOENT;
		for (int i = 0; i < cnt && r == -ENOENT; i++) {
			snprintf(rel, sizeof(rel), "%s/node%d/%s", only->name, nodes[i], name);
			r = ctl_region_find(c, rel, g);
		}
	} else {
		r = ctl_region_find(c, name, g);
	}
	if (r == -EINVAL)
		return ctl_usage(cmd, "'%s' is neither a region name nor TYPE/nodeN/NAME", name);
	if (r == -ENOENT)
		return ctl_fail(r, cmd, name, "See the regions with 'shmfsctl query'.",
				only ? "no region of that type named" : "no region named");
	if (r < 0)
		return ctl_fail(r, cmd, name, NULL, "cannot look up region");
	return 0;
}

static int run_unlink(struct ctl *c, const struct ctl_args *a)
{
	struct ctl_region g;
	int r = find_region(c, "unlink", a, &g);

	if (r)
		return r;
	if (unlink(g.path) < 0) {
		r = -errno;
		return ctl_fail(r, "unlink", g.path, r == -EACCES || r == -EPERM ?
				"Only its owner (or root) may remove it." : NULL, "cannot remove");
	}
	if (c->json) {
		struct json j;
		char rel[128];

		ctl_region_rel(&g, rel, sizeof(rel));
		ctl_json_open(c, &j, "unlink");
		json_str(&j, "removed", rel);
		json_bool(&j, "still_mapped", g.mapper_cnt > 0);
		ctl_json_close(c, &j);
	}
	char rel[128];

	ctl_say(c, "removed %s%s", ctl_region_rel(&g, rel, sizeof(rel)),
		g.mapper_cnt ? " (still mapped: its memory returns when the last mapping goes)" : "");
	return 0;
}

int ctl_region_query(struct ctl *c, const struct ctl_args *a)
{
	struct ctl_region g;
	struct json j;
	int r = find_region(c, "query", a, &g);

	if (r)
		return r;
	if (c->json) {
		ctl_json_open(c, &j, "query");
		json_obj_open(&j, "region");
		ctl_region_json(&j, &g);
		json_obj_close(&j);
		ctl_json_close(c, &j);
	} else {
		ctl_region_print(&g, true);
	}
	return 0;
}

const struct ctl_cmd ctl_region_cmds[] = {
	{ "create", "NAME PAGE_CNT TYPE CPUS MODE", "create a region of PAGE_CNT pages",
	  "TYPE is normal, huge or gigantic. CPUS is a CPU list (0,4 or 0-3, like fd_shmem_ctl)\n"
	  "or a node (node1); the pages go to the NUMA nodes of those CPUs. PAGE_CNT is one\n"
	  "count per CPU (4,4) or one total split evenly; counts accept sizes (4G). MODE is\n"
	  "octal (0600) and applied as given (no umask). The region's home directory is\n"
	  "the first node; its xattrs list every node its pages sit on. Nothing is left\n"
	  "behind when it fails. The region is persistent (kept until removed; clean\n"
	  "never takes it) unless --process-lifetime is given: then it is orphaned, and\n"
	  "clean removes it, once nothing maps it.\n",
	  5, 5, true, { { 0, "process-lifetime", "orphaned (removable by clean) once nothing maps it" } },
	  run_create },
	{ "unlink", "NAME [TYPE]", "remove a region (its memory returns when the last mapping goes)",
	  "NAME is a bare name (largest page type first, or only TYPE) or TYPE/nodeN/NAME.\n",
	  1, 2, true, { { 0 } }, run_unlink },
	{ NULL },
};
