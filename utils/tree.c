/* tree.c - shmfsctl's view of a mounted shmfs, read only through the tree:
 * finding and checking the mount, pools from directory xattrs, regions from
 * stat and their xattrs, control file writes. Nothing here goes around the
 * daemon to the backing store. */
#include <dirent.h>
#include <errno.h>
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

/* Daemons that know region lifetimes serve it (process | persistent); older
 * ones do not, and then it is simply absent. */
#ifndef SHMFS_XATTR_LIFETIME
#define SHMFS_XATTR_LIFETIME "user.shmfs.lifetime"
#endif

int ctl_xattr(const char *path, const char *name, char *buf, size_t buf_sz)
{
	ssize_t n = getxattr(path, name, buf, buf_sz - 1);

	if (n < 0)
		return errno == ERANGE ? -EFBIG : -errno;
	buf[n] = '\0';
	return 0;
}

int ctl_xattr_u64(const char *path, const char *name, uint64_t *ret)
{
	char buf[32];
	int r = ctl_xattr(path, name, buf, sizeof(buf));

	return r < 0 ? r : shmfs_parse_u64(buf, ret);
}

int ctl_mount_check(struct ctl *c, const char *cmd)
{
	char buf[4096];
	struct stat st;
	int r;

	if (stat(c->mount, &st) < 0) {
		r = -errno;
		if (r == -ENOTCONN)
			return ctl_fail(r, cmd, c->mount, "The daemon serving it died. Run "
					"'shmfsctl fini' to tear it down, then 'shmfsctl init' (regions are kept "
					"only until fini).", "cannot reach shmfs at");
		return ctl_fail(r, cmd, c->mount, "Mount shmfs first ('shmfsctl init'), or say where "
				"it is with --mount DIR or SHMFS_PATH.", "cannot reach shmfs at");
	}
	r = ctl_xattr(c->mount, SHMFS_XATTR_BACKING, buf, sizeof(buf));
	if (r == -ENOTCONN)
		return ctl_fail(r, cmd, c->mount, "The daemon serving it died. Run 'shmfsctl fini' "
				"to tear it down, then 'shmfsctl init'.", "cannot reach shmfs at");
	if (r < 0)
		return ctl_fail(0, cmd, c->mount, "Mount shmfs there ('shmfsctl init'), or say where "
				"it is with --mount DIR or SHMFS_PATH.", "no shmfs is mounted at");
	return 0;
}

const struct shmfs_page_type *ctl_page_type(struct ctl *c, const char *cmd, const char *name,
					    bool huge_only)
{
	const struct shmfs_page_type *t = shmfs_page_type_by_name(&c->types, name);
	char offered[128] = "";

	if (t && (!huge_only || shmfs_page_type_is_huge(t)))
		return t;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		const struct shmfs_page_type *o = &c->types.type[k];

		if (!shmfs_page_type_present(o) || (huge_only && !shmfs_page_type_is_huge(o)))
			continue;
		if (offered[0])
			strcat(offered, ", ");
		strcat(offered, o->name);
		strcat(offered, " (");
		strcat(offered, ctl_size(o->page_sz));
		strcat(offered, ")");
	}
	if (t) {
		ctl_usage(cmd, "page type '%s' has no pool to size (normal pages come from all of memory); "
			  "huge page types here: %s", name, offered);
		return NULL;
	}
	ctl_usage(cmd, "unknown page type '%s'; this kernel offers: %s", name, offered);
	return NULL;
}

int ctl_memory_nodes(int *nodes, int max)
{
	shmfs_nodemask_t m;
	int cnt = 0;

	if (shmfs_numa_memory_nodes(&m) < 0)
		return 0;
	for (int n = 0; n < SHMFS_NODE_MAX && cnt < max; n++)
		if (shmfs_bit_test(m.bits, (size_t)n))
			nodes[cnt++] = n;
	return cnt;
}

static void nodes_text(char *buf, size_t sz)
{
	shmfs_nodemask_t m;

	buf[0] = '\0';
	if (shmfs_numa_memory_nodes(&m) == 0)
		shmfs_format_list(m.bits, SHMFS_NODE_MAX, buf, sz);
}

int ctl_node(const char *cmd, const char *s, int *ret)
{
	char have[256];
	int node, r;

	nodes_text(have, sizeof(have));
	if (s[0] == '-')
		return ctl_usage(cmd, "NUMA node '%s' is negative; nodes with memory here: %s", s, have);
	r = shmfs_parse_node(s, &node);
	if (r == -EINVAL)
		return ctl_usage(cmd, "NUMA node '%s' is not a number; nodes with memory here: %s", s, have);
	if (r < 0 || !shmfs_numa_node_has_memory(node))
		return ctl_usage(cmd, "NUMA node %s does not exist or has no memory; nodes with memory "
				 "here: %s", s + (strncmp(s, "node", 4) == 0 ? 4 : 0), have);
	*ret = node;
	return 0;
}

static int node_dir(struct ctl *c, const struct shmfs_page_type *t, int node, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%s/%s/node%d", c->mount, t->name, node);

	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

int ctl_pool_read(struct ctl *c, const struct shmfs_page_type *t, int node, struct ctl_pool *ret)
{
	char dir[4096];
	struct ctl_pool p = { .t = t, .node = node };
	int r;

	r = node_dir(c, t, node, dir, sizeof(dir));
	if (r < 0)
		return r;
	if ((r = ctl_xattr_u64(dir, SHMFS_XATTR_POOL_TOTAL, &p.total)) < 0 ||
	    (r = ctl_xattr_u64(dir, SHMFS_XATTR_POOL_FREE, &p.free)) < 0 ||
	    (r = ctl_xattr_u64(dir, SHMFS_XATTR_POOL_RESERVED, &p.reserved)) < 0 ||
	    (r = ctl_xattr_u64(dir, SHMFS_XATTR_POOL_SURPLUS, &p.surplus)) < 0)
		return r;
	*ret = p;
	return 0;
}

/* Why s is not a page count of t (r from the parser); like: examples. */
static int pages_usage(const char *cmd, const char *s, const struct shmfs_page_type *t, int r,
		       const char *like)
{
	if (r == -EDOM)
		return ctl_usage(cmd, "%s is not a whole number of %s pages (%s each)", s, t->name,
				 ctl_size(t->page_sz));
	if (r == -ERANGE)
		return ctl_usage(cmd, "'%s' is too large", s);
	return ctl_usage(cmd, "'%s' is not a page count or a size (like %s)", s, like);
}

int ctl_pools_each(struct ctl *c, const char *cmd, int (*fn)(const struct ctl_pool *p, void *ctx), void *ctx)
{
	int nodes[SHMFS_NODE_MAX];
	int node_cnt = ctl_memory_nodes(nodes, SHMFS_NODE_MAX);

	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		const struct shmfs_page_type *t = &c->types.type[k];

		if (!shmfs_page_type_present(t) || !shmfs_page_type_is_huge(t))
			continue;
		for (int i = 0; i < node_cnt; i++) {
			struct ctl_pool p;
			int r = ctl_pool_read(c, t, nodes[i], &p);

			if (r < 0)
				return ctl_fail(r, cmd, c->mount, NULL, "cannot read the %s pool of node %d in",
						t->name, nodes[i]);
			r = fn(&p, ctx);
			if (r)
				return r;
		}
	}
	return 0;
}

/* CNT of alloc: a page count, or a size with a unit that must be a whole
 * number of pages (the parser .nr_pages uses too). */
int ctl_parse_pages(const char *cmd, const char *s, const struct shmfs_page_type *t, uint64_t *ret)
{
	int r;

	if (s[0] == '-')
		return ctl_usage(cmd, "page count '%s' is negative; give the pool size wanted (0 or more)", s);
	r = shmfs_parse_pages(s, t->page_sz, ret);
	return r < 0 ? pages_usage(cmd, s, t, r, "8, 512M, 4G") : 0;
}

int ctl_parse_pages_rel(const char *cmd, const char *s, const struct shmfs_page_type *t, int *ret_sign,
			uint64_t *ret)
{
	int r = shmfs_parse_pages_rel(s, t->page_sz, ret_sign, ret);

	return r < 0 ? pages_usage(cmd, s, t, r, "8, +2, -2, 512M, 4G") : 0;
}

int ctl_pool_target(const char *cmd, const struct ctl_pool *p, int sign, uint64_t n, uint64_t *ret)
{
	/* +N and -N count from the persistent pool, as .nr_pages does:
	 * surplus pages come and go on their own */
	uint64_t persistent = p->total > p->surplus ? p->total - p->surplus : 0;

	if (sign > 0 && n > UINT64_MAX - persistent)
		return ctl_usage(cmd, "+%llu pages would overflow the pool", (unsigned long long)n);
	if (sign < 0 && n > persistent)
		return ctl_usage(cmd, "cannot take %llu pages from the %s pool of node %d: it holds %llu",
				 (unsigned long long)n, p->t->name, p->node, (unsigned long long)persistent);
	*ret = sign > 0 ? persistent + n : sign < 0 ? persistent - n : n;
	return 0;
}

/* A region's attributes: from one SHMFS_XATTR_ALL reply when the daemon
 * gives it (one request per region), else one getxattr each. */
struct attrs {
	const char *path;
	char *all;     /* "NAME\0VALUE\0" pairs, NULL: ask one by one */
	size_t all_len;
};

static void attrs_load(struct attrs *a, const char *path)
{
	size_t cap = 4096;

	a->path = path;
	a->all = NULL;
	a->all_len = 0;
	for (int i = 0; i < 4; i++) {
		char *buf = malloc(cap);
		ssize_t n;

		if (!buf)
			return;
		n = getxattr(path, SHMFS_XATTR_ALL, buf, cap);
		if (n >= 0) {
			a->all = buf;
			a->all_len = (size_t)n;
			return;
		}
		free(buf);
		if (errno != ERANGE)
			return; /* an older daemon (ENODATA), or not readable */
		n = getxattr(path, SHMFS_XATTR_ALL, NULL, 0);
		if (n < 0)
			return;
		cap = (size_t)n + 256;
	}
}

static int attr_get(const struct attrs *a, const char *name, char *buf, size_t sz)
{
	if (!a->all)
		return ctl_xattr(a->path, name, buf, sz);
	for (size_t o = 0; o < a->all_len;) {
		const char *n = a->all + o;
		size_t nl = strnlen(n, a->all_len - o);
		const char *v = n + nl + 1;
		size_t vl;

		if (o + nl + 1 > a->all_len)
			break;
		vl = strnlen(v, a->all_len - (o + nl + 1));
		if (o + nl + 1 + vl >= a->all_len)
			break; /* no closing NUL: cut short */
		if (strcmp(n, name) == 0) {
			if (vl >= sz)
				return -EFBIG;
			memcpy(buf, v, vl + 1);
			return 0;
		}
		o += nl + 1 + vl + 1;
	}
	return -ENODATA;
}

static int attr_u64(const struct attrs *a, const char *name, uint64_t *ret)
{
	char buf[32];
	int r = attr_get(a, name, buf, sizeof(buf));

	return r < 0 ? r : shmfs_parse_u64(buf, ret);
}

static void attr_str(const struct attrs *a, const char *name, char *buf, size_t sz)
{
	if (attr_get(a, name, buf, sz) < 0)
		buf[0] = '\0';
}

int ctl_region_read(struct ctl *c, const char *path, const struct shmfs_page_type *t, int node,
		    struct ctl_region *ret)
{
	struct ctl_region *g = ret;
	struct attrs a;
	struct stat st;
	const char *base = strrchr(path, '/');
	char buf[64];
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", base ? base + 1 : path);
	snprintf(g->path, sizeof(g->path), "%s", path);
	g->t = t;
	g->node = node;
	g->size = (uint64_t)st.st_size;
	g->allocated = (uint64_t)st.st_blocks * 512;
	g->uid = st.st_uid;
	g->gid = st.st_gid;
	g->mode = st.st_mode & 07777;
	g->page_sz = t->page_sz;
	/* the byte size in whole pages, as the backing file holds it */
	g->page_cnt = t->page_sz ? (g->size + t->page_sz - 1) / t->page_sz : 0;
	g->creator_pid = -1;
	g->orphaned = -1;
	/* a region of a shared backing, also when its xattrs cannot be read
	 * (clean must know it is the master's either way) */
	g->shared = node < 0;

	/* The region's own xattrs need read permission on it: what the caller
	 * may not read stays unknown rather than guessed. */
	attrs_load(&a, path);
	r = attr_get(&a, SHMFS_XATTR_PAGE_SZ, buf, sizeof(buf));
	if (r < 0) {
		free(a.all);
		return 0;
	}
	g->readable = true;
	(void)shmfs_parse_u64(buf, &g->page_sz);
	(void)attr_u64(&a, SHMFS_XATTR_PAGE_CNT, &g->page_cnt);
	attr_str(&a, SHMFS_XATTR_NUMA_NODES, g->numa_nodes, sizeof(g->numa_nodes));
	attr_str(&a, SHMFS_XATTR_POLICY, g->policy, sizeof(g->policy));
	if (attr_get(&a, SHMFS_XATTR_CREATOR_PID, buf, sizeof(buf)) == 0) {
		uint64_t v;

		if (shmfs_parse_u64(buf, &v) == 0)
			g->creator_pid = (int64_t)v;
	}
	(void)attr_u64(&a, SHMFS_XATTR_CREATOR_START, &g->creator_start);
	attr_str(&a, SHMFS_XATTR_CTIME, g->created, sizeof(g->created));
	/* mapper_pids lists only the pids this user may see in /proc; the
	 * count is of all (one scan of /proc serves both: the daemon keeps it
	 * for this process a moment) */
	if (attr_get(&a, SHMFS_XATTR_MAPPER_PIDS, g->mapper_pids, sizeof(g->mapper_pids)) < 0)
		g->mapper_pids[0] = '\0';
	(void)attr_u64(&a, SHMFS_XATTR_MAPPER_CNT, &g->mapper_cnt);
	attr_str(&a, SHMFS_XATTR_LIFETIME, g->lifetime, sizeof(g->lifetime));
	attr_str(&a, SHMFS_XATTR_PROGRAM, g->program, sizeof(g->program));
	if (attr_get(&a, SHMFS_XATTR_ORPHANED, buf, sizeof(buf)) == 0)
		g->orphaned = strcmp(buf, "true") == 0 ? 1 : strcmp(buf, "false") == 0 ? 0 : -1;
	attr_str(&a, SHMFS_XATTR_BACKING, g->backing, sizeof(g->backing));
	if (g->shared) {
		(void)attr_u64(&a, SHMFS_XATTR_SHARED_OFFSET, &g->shared_off);
		(void)attr_u64(&a, SHMFS_XATTR_SHARED_EXTENT, &g->shared_extent);
		/* The log's: no creator process, nothing this host can see
		 * orphan it, kept until the master removes it. */
		g->creator_pid = 0;
		g->orphaned = 0;
		snprintf(g->lifetime, sizeof(g->lifetime), "shared");
		attr_str(&a, SHMFS_XATTR_SHARED_DEVICE, g->backing, sizeof(g->backing));
		attr_str(&a, SHMFS_XATTR_SHARED_MASTER, g->shared_master, sizeof(g->shared_master));
		attr_str(&a, SHMFS_XATTR_SHARED_HOST, g->shared_host, sizeof(g->shared_host));
		attr_str(&a, SHMFS_XATTR_SHARED_ROLE, g->shared_role, sizeof(g->shared_role));
	}
	if (attr_u64(&a, SHMFS_XATTR_HEAP_SZ, &g->heap_sz) == 0) {
		g->has_heap = true;
		(void)attr_u64(&a, SHMFS_XATTR_HEAP_USED, &g->heap_used);
		(void)attr_u64(&a, SHMFS_XATTR_HEAP_FREE, &g->heap_free);
		(void)attr_u64(&a, SHMFS_XATTR_HEAP_ALLOC_CNT, &g->heap_alloc_cnt);
	}
	free(a.all);
	return 0;
}

/* A region found by a listing, not yet read: where it is and how it sorts.
 * A scan holds one of these per region (about 100 bytes), so a listing of
 * 100,000 regions does not hold 100,000 struct ctl_region (13 KB each). */
struct ctl_region_ent {
	const struct shmfs_page_type *t;
	int node;                   /* -1: a region of a shared backing */
	char *path;                 /* malloc'ed, in the tree */
	const char *name;           /* its last component */
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ctl_region_ent *x = a, *y = b;

	if ((x->node < 0) != (y->node < 0))
		return x->node < 0 ? 1 : -1;     /* shared regions last */
	if (x->node < 0)
		return strcmp(x->path, y->path); /* by backing, then name */
	if (x->t->kind != y->t->kind)
		return x->t->kind > y->t->kind ? -1 : 1; /* largest pages first */
	return strcmp(x->name, y->name);
}

static int scan_add(struct ctl_region_scan *s, const struct shmfs_page_type *t, int node,
		    const char *dir, const char *name)
{
	struct ctl_region_ent *e;

	if (s->cnt == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct ctl_region_ent *n = realloc(s->ent, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->ent = n;
		s->cap = ncap;
	}
	e = &s->ent[s->cnt];
	if (asprintf(&e->path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	e->t = t;
	e->node = node;
	e->name = e->path + strlen(dir) + 1;
	s->cnt++;
	return 0;
}

/* The page type a shared region is listed under: its extents are 2 MiB
 * (its page_sz comes from its xattr). */
static const struct shmfs_page_type *shared_type(struct ctl *c)
{
	const struct shmfs_page_type *t = shmfs_page_type_by_name(&c->types, "huge");

	if (!t || !shmfs_page_type_present(t))
		t = shmfs_page_type_by_name(&c->types, "normal");
	return t;
}

/* Add the regions of every shared backing, MOUNT/shared/NAME/REGION (no
 * shared/ directory: none). */
static int shared_list(struct ctl *c, struct ctl_region_scan *s)
{
	const struct shmfs_page_type *t = shared_type(c);
	_cleanup_closedir_ DIR *top = NULL;
	char dir[4096];
	struct dirent *de;
	int r;

	snprintf(dir, sizeof(dir), "%s/shared", c->mount);
	top = opendir(dir);
	if (!top)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (t && (de = readdir(top))) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *re;
		char sub[4096 + 320];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		d = opendir(sub);
		if (!d)
			continue;
		while ((re = readdir(d))) {
			if (re->d_name[0] == '.')
				continue;
			r = scan_add(s, t, -1, sub, re->d_name);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void ctl_regions_scan_free(struct ctl_region_scan *s)
{
	for (size_t i = 0; i < s->cnt; i++)
		free(s->ent[i].path);
	free(s->ent);
	*s = (struct ctl_region_scan){ 0 };
}

int ctl_regions_scan(struct ctl *c, struct ctl_region_scan *s)
{
	int nodes[SHMFS_NODE_MAX];
	int node_cnt = ctl_memory_nodes(nodes, SHMFS_NODE_MAX), r;

	*s = (struct ctl_region_scan){ .c = c };
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0; k--) {
		const struct shmfs_page_type *t = &c->types.type[k];

		if (!shmfs_page_type_present(t))
			continue;
		for (int i = 0; i < node_cnt; i++) {
			char dir[4096];
			_cleanup_closedir_ DIR *d = NULL;
			struct dirent *de;

			if (node_dir(c, t, nodes[i], dir, sizeof(dir)) < 0)
				continue;
			d = opendir(dir);
			if (!d) {
				if (errno == ENOENT)
					continue;
				r = -errno;
				ctl_regions_scan_free(s);
				return r;
			}
			while ((de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				r = scan_add(s, t, nodes[i], dir, de->d_name);
				if (r < 0) {
					ctl_regions_scan_free(s);
					return r;
				}
			}
		}
	}
	r = shared_list(c, s);
	if (r < 0) {
		ctl_regions_scan_free(s);
		return r;
	}
	if (s->cnt > 1)
		qsort(s->ent, s->cnt, sizeof(*s->ent), ent_cmp);
	while (s->tree_cnt < s->cnt && s->ent[s->tree_cnt].node >= 0)
		s->tree_cnt++;
	return 0;
}

int ctl_regions_scan_next(struct ctl_region_scan *s, struct ctl_region *ret)
{
	while (s->next < s->cnt) {
		const struct ctl_region_ent *e = &s->ent[s->next++];

		if (ctl_region_read(s->c, e->path, e->t, e->node, ret) == 0)
			return 1;
	}
	return 0;
}

static int ent_key_cmp(const void *k, const void *e)
{
	const struct ctl_region_ent *key = k, *x = e;

	if (key->t->kind != x->t->kind)
		return key->t->kind > x->t->kind ? -1 : 1;
	return strcmp(key->name, x->name);
}

bool ctl_regions_scan_has(const struct ctl_region_scan *s, const struct shmfs_page_type *t,
			  const char *name)
{
	struct ctl_region_ent key = { .t = t, .name = name };

	/* the tree's own regions come first, by type then name */
	return s->tree_cnt && bsearch(&key, s->ent, s->tree_cnt, sizeof(*s->ent), ent_key_cmp);
}

int ctl_regions_list(struct ctl *c, struct ctl_region **ret, size_t *ret_cnt)
{
	_cleanup_free_ struct ctl_region *v = NULL;
	struct ctl_region_scan s;
	size_t cnt = 0;
	int r = ctl_regions_scan(c, &s);

	if (r < 0)
		return r;
	if (s.cnt) {
		v = malloc(s.cnt * sizeof(*v));
		if (!v) {
			ctl_regions_scan_free(&s);
			return -ENOMEM;
		}
	}
	while (cnt < s.cnt && ctl_regions_scan_next(&s, &v[cnt]) > 0)
		cnt++;
	ctl_regions_scan_free(&s);
	*ret = TAKE_PTR(v);
	*ret_cnt = cnt;
	return 0;
}

/* Copy the path component at *p (up to the next '/' or the end) into buf;
 * *p moves past it and its slash. -EINVAL when empty or too long. */
static int next_component(const char **p, char *buf, size_t buf_sz)
{
	size_t n = strcspn(*p, "/");

	if (n == 0 || n >= buf_sz)
		return -EINVAL;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n + ((*p)[n] == '/');
	return 0;
}

/* Where a path of the tree sits: MOUNT/TYPE/nodeN/NAME, nothing else. */
static int region_where(struct ctl *c, const char *path, const struct shmfs_page_type **ret_t,
			int *ret_node)
{
	size_t mlen = strlen(c->mount);
	char type[32], node_name[16], name[SHMFS_NAME_MAX + 2];
	const struct shmfs_page_type *t;
	const char *p = path;
	int node;

	while (mlen > 0 && c->mount[mlen - 1] == '/')  /* "/mnt/shmfs/", or "/" itself */
		mlen--;
	if (strncmp(p, c->mount, mlen) != 0 || p[mlen] != '/')
		return -EINVAL;
	for (p += mlen; *p == '/'; p++)
		;
	if (next_component(&p, type, sizeof(type)) < 0 ||
	    next_component(&p, node_name, sizeof(node_name)) < 0 ||
	    next_component(&p, name, sizeof(name)) < 0 || *p)
		return -EINVAL;
	t = shmfs_page_type_by_name(&c->types, type);
	if (!t || shmfs_parse_node_name(node_name, &node) < 0 || shmfs_name_check(name) < 0)
		return -EINVAL;
	*ret_t = t;
	*ret_node = node;
	return 0;
}

int ctl_regions_load(struct ctl *c, const char *cmd, struct ctl_region **ret, size_t *ret_cnt)
{
	int r = ctl_mount_check(c, cmd);

	if (r)
		return r;
	r = ctl_regions_list(c, ret, ret_cnt);
	if (r < 0)
		return ctl_fail(r, cmd, c->mount, NULL, "cannot list the regions of");
	return 0;
}

const char *ctl_region_rel(const struct ctl_region *g, char *buf, size_t sz)
{
	const char *p = g->node < 0 ? strstr(g->path, "/shared/") : NULL;

	if (p)
		snprintf(buf, sz, "%s", p + 1);
	else
		snprintf(buf, sz, "%s/node%d/%s", g->t->name, g->node, g->name);
	return buf;
}

const char *ctl_region_type(const struct ctl_region *g)
{
	return g->node < 0 ? "shared" : g->t->name;
}

int ctl_region_find(struct ctl *c, const char *name, struct ctl_region *ret)
{
	const struct shmfs_page_type *t;
	char path[4096];
	int node, r;

	/* "shared/NAME/REGION", or that path inside the mount: a region of a
	 * shared backing (2 MiB extents, no node of this host) */
	{
		size_t mlen = strlen(c->mount);
		const char *rel = name;
		char ns[32];
		int n = -1;

		if (strncmp(name, c->mount, mlen) == 0 && name[mlen] == '/')
			rel = name + mlen + 1;
		if (sscanf(rel, "shared/%31[^/]/%n", ns, &n) == 1 && n > 0) {
			/* its page size comes from its xattr (2 MiB) */
			t = shared_type(c);
			if (!t || shmfs_name_check(ns) < 0 || shmfs_name_check(rel + n) < 0)
				return -EINVAL;
			snprintf(path, sizeof(path), "%s/%s", c->mount, rel);
			return ctl_region_read(c, path, t, -1, ret);
		}
	}
	/* libshmfs's search: bare names in the largest page type first */
	r = shmfs_region_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	r = region_where(c, path, &t, &node);
	if (r < 0)
		return r;
	return ctl_region_read(c, path, t, node, ret);
}
