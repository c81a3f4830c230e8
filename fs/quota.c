/* quota.c - page quotas: per-user and per-group limits per page type (summed
 * over the nodes), a reserve per pool (type and node) that only root-owned
 * regions may take: the checks of a request, and the content of .quota and
 * of the usage lines of .status.
 *
 * Pages are charged to the owner and group of the backing file that holds
 * them, counted from the backing store (st_blocks) whenever a request is
 * checked: there is no counter to drift, so usage is exact after a SIGKILL
 * and restart, after chown, shrink and unlink (an unlinked region's pages
 * leave the count with its name; they stay in the pool until its last
 * mapping goes, which the reserve, read from the kernel's free count, still
 * sees), and files fd_shmem made in the backing store count too. Growths in
 * flight are held (struct shmfs_quota_hold) so concurrent requests cannot
 * both take the last pages a limit allows.
 *
 * The rules are quota_rules.c's; which of them are in force, quota_live.c's. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "pool.h"
#include "util.h"


/* ------------------------------------------------------------ the backing store */

static uint64_t file_pages(const struct stat *st, uint64_t page_sz)
{
	return ((uint64_t)st->st_blocks * 512 + page_sz - 1) / page_sz;
}

/* Pages a file counts for: what it holds, or what a growth in flight will
 * give it. Caller holds q->lock. */
static uint64_t counted_pages(struct shmfs_quota *q, enum shmfs_page_kind k, const struct stat *st,
			      uint64_t page_sz)
{
	uint64_t n = file_pages(st, page_sz);

	for (struct shmfs_quota_hold *h = q->holds; h; h = h->next)
		if (h->kind == k && h->bino == st->st_ino && h->pages > n)
			n = h->pages;
	return n;
}

/* Call fn for every regular file of type k's backing directory (temporaries
 * of creates in progress too: their pages are someone's). */
static int scan(struct shmfs_fs *fs, enum shmfs_page_kind k,
		void (*fn)(const struct stat *st, uint64_t pages, void *ctx), void *ctx)
{
	struct shmfs_type_state *ts = &fs->type[k];
	uint64_t page_sz = ts->pt->page_sz;
	struct dirent *de;
	DIR *d;
	int fd;

	/* a descriptor of its own: readdir positions are per open file */
	fd = openat(ts->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		fn(&st, counted_pages(fs->quota, k, &st, page_sz), ctx);
	}
	closedir(d);
	return 0;
}

struct owner_sum {
	uid_t uid;
	gid_t gid;
	ino_t skip;                     /* the file asked about */
	uint64_t user, group;
};

static void sum_owner(const struct stat *st, uint64_t pages, void *ctx)
{
	struct owner_sum *o = ctx;

	if (st->st_ino == o->skip)
		return;
	if (st->st_uid == o->uid)
		o->user += pages;
	if (st->st_gid == o->gid)
		o->group += pages;
}

/* Pages of the type's pools over all nodes, and of node's pool and its free
 * pages (less the growths in flight there). ret_used, when given, gets a
 * bound on the pages of the type any owner can hold: every page of its
 * pools in use, plus the growths in flight. Caller holds q->lock. */
static int pool_numbers(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, uint64_t *ret_pool,
			uint64_t *ret_node_total, uint64_t *ret_node_free, uint64_t *ret_used)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	uint64_t pool = 0, nt = 0, nf = 0, inflight = 0, all_inflight = 0, pool_free = 0;
	int r;

	if (!shmfs_page_type_is_huge(pt)) {
		/* the backing tmpfs holds only this type's files */
		r = shmfs_normal_pool(fs, -1, &pool, &pool_free);
		if (r == 0 && node >= 0)
			r = shmfs_normal_pool(fs, node, &nt, &nf);
		if (r < 0)
			return r;
	} else {
		for (int n = 0; n < SHMFS_NODE_MAX; n++) {
			struct shmfs_pool_stat ps;

			if (!shmfs_node_valid(fs, n) || shmfs_pool_stat(pt, n, &ps) < 0)
				continue;
			pool += ps.total;
			pool_free += ps.free < ps.total ? ps.free : ps.total;
			if (n == node) {
				nt = ps.total;
				nf = ps.free;
			}
		}
	}
	for (struct shmfs_quota_hold *h = fs->quota->holds; h; h = h->next) {
		if (h->kind != k)
			continue;
		all_inflight += h->need;
		if (h->node == node)
			inflight += h->need;
	}
	if (ret_used)
		*ret_used = (pool > pool_free ? pool - pool_free : 0) + all_inflight;
	*ret_pool = pool;
	*ret_node_total = nt;
	*ret_node_free = nf > inflight ? nf - inflight : 0;
	return 0;
}

/* ------------------------------------------------------------ hooks */

/* Whether any rule could refuse pages of type k to uid/gid: root-owned pages
 * and owners without limits under no reserve are admitted without counting. */
static bool may_bind(const struct shmfs_quota_rules *s, enum shmfs_page_kind k, uid_t uid, gid_t gid)
{
	const struct shmfs_quota_rule *res = shmfs_quota_rule_find(s, SHMFS_QUOTA_RESERVE, false, 0, k);
	uint64_t lim;

	if (uid == 0)
		return false;
	if (res && res->how != SHMFS_QUOTA_UNLIMITED && res->val != 0)
		return true;
	/* any pool size: only whether a limit exists matters here */
	return shmfs_quota_limit(s, SHMFS_QUOTA_USER, uid, k, 1, &lim) ||
	       shmfs_quota_limit(s, SHMFS_QUOTA_GROUP, gid, k, 1, &lim);
}

int shmfs_quota_charge(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t size,
		       struct shmfs_quota_hold *hold)
{
	struct shmfs_quota *q = fs->quota;
	uint64_t page_sz = shmfs_page_sz(fs, r->kind);
	struct shmfs_quota_ask a;
	struct owner_sum o;
	struct stat st;
	uint64_t end;
	int node, rc;

	if (!q || !q->enforced)
		return 0;
	pthread_mutex_lock(&fs->lock);
	node = r->meta.node;
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_lock(&q->lock);
	/* owner read under the lock: a chown cannot slip between check and hold */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.uid = st.st_uid;
	a.gid = st.st_gid;
	/* the growth takes the pages between the old and the new end; holes
	 * below the old end (a sparse file made behind our back) stay holes */
	end = ((uint64_t)st.st_size + page_sz - 1) / page_sz;
	rc = 0;
	if ((size + page_sz - 1) / page_sz <= end)
		goto out; /* takes nothing */
	a.need = (size + page_sz - 1) / page_sz - end;
	a.pages = counted_pages(q, r->kind, &st, page_sz) + a.need;
	/* counting costs a stat per file of the type: only when a rule can bite */
	if (may_bind(&q->rules, r->kind, a.uid, a.gid)) {
		struct shmfs_quota_ask bound;
		uint64_t in_use;

		rc = pool_numbers(fs, r->kind, node, &a.pool, &a.node_total, &a.node_free, &in_use);
		if (rc < 0)
			goto out;
		/* every page of the type in use (this region's too) bounds what
		 * the owner and the group hold: well within their limits, a
		 * request fits without counting them */
		bound = a;
		bound.user_used = bound.group_used = in_use;
		bound.pages = a.need;
		rc = shmfs_quota_admit(&q->rules, r->kind, &bound);
		if (rc == -EDQUOT) {
			o = (struct owner_sum){ .uid = st.st_uid, .gid = st.st_gid, .skip = st.st_ino };
			rc = scan(fs, r->kind, sum_owner, &o);
			if (rc < 0)
				goto out;
			a.user_used = o.user;
			a.group_used = o.group;
			rc = shmfs_quota_admit(&q->rules, r->kind, &a);
		}
	}
	if (rc == 0) {
		*hold = (struct shmfs_quota_hold){ .fs = fs, .next = q->holds, .kind = r->kind,
						   .bino = st.st_ino, .pages = a.pages, .need = a.need,
						   .node = node };
		q->holds = hold;
	}
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void shmfs_quota_release(struct shmfs_quota_hold *hold)
{
	struct shmfs_quota *q;

	if (!hold->fs)
		return;
	q = hold->fs->quota;
	pthread_mutex_lock(&q->lock);
	for (struct shmfs_quota_hold **p = &q->holds; *p; p = &(*p)->next)
		if (*p == hold) {
			*p = hold->next;
			break;
		}
	pthread_mutex_unlock(&q->lock);
	hold->fs = NULL;
}

int shmfs_quota_chown(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uid_t uid, gid_t gid)
{
	struct shmfs_quota *q = fs->quota;
	struct stat st;
	int rc = 0;

	if (q)
		pthread_mutex_lock(&q->lock);
	if (q && q->enforced && fstat(fd, &st) == 0) {
		uint64_t page_sz = shmfs_page_sz(fs, r->kind), nt, nf;
		struct shmfs_quota_ask a = { 0 };
		struct owner_sum o = { .uid = uid == (uid_t)-1 ? st.st_uid : uid,
				       .gid = gid == (gid_t)-1 ? st.st_gid : gid, .skip = st.st_ino };

		a.uid = o.uid;
		a.gid = o.gid;
		a.pages = counted_pages(q, r->kind, &st, page_sz);
		rc = scan(fs, r->kind, sum_owner, &o);
		if (rc == 0)
			rc = pool_numbers(fs, r->kind, -1, &a.pool, &nt, &nf, NULL);
		a.user_used = o.user;
		a.group_used = o.group;
		/* the pages are already taken: only the limits, no reserve */
		if (rc == 0 && a.pages)
			rc = shmfs_quota_admit(&q->rules, r->kind, &a);
	}
	if (rc == 0 && fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		rc = -errno;
	if (q)
		pthread_mutex_unlock(&q->lock);
	return rc;
}

/* ------------------------------------------------------------ .quota, .status */

struct usage_entry {
	bool group;
	uint32_t id;
	uint64_t pages;
};

struct usage_table {
	struct usage_entry *v;
	size_t cnt, cap;
	int err;
};

static void usage_add(struct usage_table *t, bool group, uint32_t id, uint64_t pages)
{
	for (size_t i = 0; i < t->cnt; i++)
		if (t->v[i].group == group && t->v[i].id == id) {
			t->v[i].pages += pages;
			return;
		}
	if (t->cnt == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct usage_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			t->err = -ENOMEM;
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->cnt++] = (struct usage_entry){ .group = group, .id = id, .pages = pages };
}

static void sum_all(const struct stat *st, uint64_t pages, void *ctx)
{
	/* empty files are nobody's usage */
	if (pages == 0)
		return;
	usage_add(ctx, false, st->st_uid, pages);
	usage_add(ctx, true, st->st_gid, pages);
}

static int usage_cmp(const void *a, const void *b)
{
	const struct usage_entry *x = a, *y = b;

	if (x->group != y->group)
		return x->group - y->group;
	return (x->id > y->id) - (x->id < y->id);
}

/* Caller holds q->lock. */
static int render_usage_locked(struct shmfs_fs *fs, FILE *f)
{
	struct shmfs_quota *q = fs->quota;
	int rc = 0;

	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0 && rc == 0; k--) {
		struct usage_table t = { 0 };
		uint64_t pool, nt, nf;

		if (!fs->type[k].pt)
			continue;
		rc = scan(fs, (enum shmfs_page_kind)k, sum_all, &t);
		if (rc == 0)
			rc = t.err;
		if (rc == 0)
			rc = pool_numbers(fs, (enum shmfs_page_kind)k, -1, &pool, &nt, &nf, NULL);
		if (rc == 0 && t.cnt)
			qsort(t.v, t.cnt, sizeof(*t.v), usage_cmp);
		for (size_t i = 0; rc == 0 && i < t.cnt; i++) {
			uint64_t lim;
			bool limited = q->enforced &&
				       shmfs_quota_limit(&q->rules, t.v[i].group ? SHMFS_QUOTA_GROUP
										 : SHMFS_QUOTA_USER,
							 t.v[i].id, (enum shmfs_page_kind)k, pool, &lim);

			/* uid 0's regions are never limited, whatever rule names it */
			if (!t.v[i].group && t.v[i].id == 0)
				limited = false;
			fprintf(f, "usage %s %s %" PRIu32 " %" PRIu64 " ", fs->type[k].pt->name,
				t.v[i].group ? "group" : "user", t.v[i].id, t.v[i].pages);
			if (limited)
				fprintf(f, "%" PRIu64 "\n", lim);
			else
				fprintf(f, "-\n");
		}
		free(t.v);
	}
	return rc;
}

int shmfs_quota_render_usage(struct shmfs_fs *fs, FILE *f)
{
	int rc;

	if (!fs->quota)
		return 0;
	pthread_mutex_lock(&fs->quota->lock);
	rc = render_usage_locked(fs, f);
	pthread_mutex_unlock(&fs->quota->lock);
	return rc;
}

/* .quota but its usage lines. Caller holds q->lock. */
static int render_head_locked(struct shmfs_fs *fs, FILE *f)
{
	struct shmfs_quota *q = fs->quota;
	int rc = 0;

	fprintf(f, "enforced %s\n", q->enforced ? "yes" : "no");
	for (size_t i = 0; i < q->rules.cnt; i++) {
		char buf[SHMFS_QUOTA_RULE_MAX];

		if (!fs->type[q->rules.v[i].kind].pt)
			continue;
		if (shmfs_quota_rule_format(&q->rules.v[i], &fs->types, buf, sizeof(buf)) >= 0)
			fprintf(f, "rule %s\n", buf);
	}
	/* the reserve as it stands now, per pool */
	for (int k = SHMFS_PAGE_KIND_CNT - 1; k >= 0 && rc == 0; k--) {
		if (!fs->type[k].pt)
			continue;
		for (int n = 0; n < SHMFS_NODE_MAX && rc == 0; n++) {
			uint64_t pool, nt, nf;

			if (!shmfs_node_valid(fs, n))
				continue;
			rc = pool_numbers(fs, (enum shmfs_page_kind)k, n, &pool, &nt, &nf, NULL);
			if (rc == 0)
				fprintf(f, "reserve %s %d %" PRIu64 "\n", fs->type[k].pt->name, n,
					shmfs_quota_reserve(&q->rules, (enum shmfs_page_kind)k, nt));
		}
	}
	return rc;
}

static int render(struct shmfs_fs *fs, FILE *f, bool usage)
{
	struct shmfs_quota *q = fs->quota;
	int rc;

	if (!q)
		return -ENOENT;
	pthread_mutex_lock(&q->lock);
	rc = render_head_locked(fs, f);
	if (rc == 0 && usage)
		rc = render_usage_locked(fs, f);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int shmfs_quota_render(struct shmfs_fs *fs, FILE *f)
{
	return render(fs, f, true);
}

int shmfs_quota_render_head(struct shmfs_fs *fs, FILE *f)
{
	return render(fs, f, false);
}
