/* quota_rules.c - the rules of page quotas, pure: their canonical text
 * (parse, format), rule sets with one default per subject and page type,
 * and the judgement of a request against them (limits, the root reserve).
 * quota.c counts the pages and applies them. */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "util.h"

#define DEFAULT_USER_PCT 50

static const char *const subject_names[SHMFS_QUOTA_SUBJECT_CNT] = { "user", "group", "reserve" };

int shmfs_quota_rules_init(struct shmfs_quota_rules *ret)
{
	struct shmfs_quota_rule *v = calloc(SHMFS_QUOTA_SUBJECT_CNT * SHMFS_PAGE_KIND_CNT, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (int s = 0; s < SHMFS_QUOTA_SUBJECT_CNT; s++)
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
			struct shmfs_quota_rule *r = &v[n++];

			r->subject = (enum shmfs_quota_subject)s;
			r->kind = (enum shmfs_page_kind)k;
			if (s == SHMFS_QUOTA_USER) {
				/* like tmpfs's default size: no one user takes it all */
				r->how = SHMFS_QUOTA_PERCENT;
				r->val = DEFAULT_USER_PCT;
			} else if (s == SHMFS_QUOTA_GROUP) {
				r->how = SHMFS_QUOTA_UNLIMITED;
			} else {
				r->how = SHMFS_QUOTA_PAGES;
				r->val = 0;
			}
		}
	ret->v = v;
	ret->cnt = n;
	return 0;
}

void shmfs_quota_rules_free(struct shmfs_quota_rules *s)
{
	free(s->v);
	s->v = NULL;
	s->cnt = 0;
}

int shmfs_quota_rules_copy(const struct shmfs_quota_rules *s, struct shmfs_quota_rules *ret)
{
	struct shmfs_quota_rule *v = malloc((s->cnt ? s->cnt : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (s->cnt)
		memcpy(v, s->v, s->cnt * sizeof(*v));
	ret->v = v;
	ret->cnt = s->cnt;
	return 0;
}

/* "user", "user:1000", "reserve": subject and id. */
static int parse_subject(const char *s, size_t len, struct shmfs_quota_rule *r)
{
	for (int i = 0; i < SHMFS_QUOTA_SUBJECT_CNT; i++) {
		size_t n = strlen(subject_names[i]);
		char id[16];
		uint64_t v;

		if (len < n || strncmp(s, subject_names[i], n) != 0)
			continue;
		r->subject = (enum shmfs_quota_subject)i;
		if (len == n) {
			r->has_id = false;
			return 0;
		}
		/* the reserve is every non-root user's together: no id */
		if (s[n] != ':' || i == SHMFS_QUOTA_RESERVE || len - n - 1 >= sizeof(id) || len - n - 1 == 0)
			return -EINVAL;
		memcpy(id, s + n + 1, len - n - 1);
		id[len - n - 1] = '\0';
		/* (uid_t)-1 is "no owner" to chown: never an id */
		if (shmfs_parse_u64(id, &v) < 0 || v >= UINT32_MAX)
			return -EINVAL;
		r->has_id = true;
		r->id = (uint32_t)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_limit(const char *s, const struct shmfs_page_type *pt, struct shmfs_quota_rule *r)
{
	size_t len = strlen(s);
	uint64_t v;

	if (strcmp(s, "unlimited") == 0) {
		r->how = SHMFS_QUOTA_UNLIMITED;
		r->val = 0;
		return 0;
	}
	if (strcmp(s, "default") == 0) {
		r->how = SHMFS_QUOTA_DEFAULT;
		r->val = 0;
		return 0;
	}
	if (len > 1 && s[len - 1] == '%') {
		char num[8];

		if (len - 1 >= sizeof(num))
			return -EINVAL;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (shmfs_parse_u64(num, &v) < 0 || v > 100)
			return -EINVAL;
		r->how = SHMFS_QUOTA_PERCENT;
		r->val = v;
		return 0;
	}
	/* a count, or a size in whole pages, as .nr_pages takes it */
	if (shmfs_parse_pages(s, pt->page_sz, &v) < 0)
		return -EINVAL;
	r->how = SHMFS_QUOTA_PAGES;
	r->val = v;
	return 0;
}

int shmfs_quota_rule_parse(const char *text, const struct shmfs_page_types *types,
			   struct shmfs_quota_rule *ret)
{
	struct shmfs_quota_rule r;
	const struct shmfs_page_type *pt;
	const char *eq = strchr(text, '='), *dot;
	char type[16];
	int rc;

	memset(&r, 0, sizeof(r));
	if (!eq || strlen(text) >= SHMFS_QUOTA_RULE_MAX)
		return -EINVAL;
	dot = memchr(text, '.', (size_t)(eq - text));
	if (!dot || (size_t)(eq - dot - 1) >= sizeof(type))
		return -EINVAL;
	rc = parse_subject(text, (size_t)(dot - text), &r);
	if (rc < 0)
		return rc;
	memcpy(type, dot + 1, (size_t)(eq - dot - 1));
	type[eq - dot - 1] = '\0';
	/* tree names only ("huge", not ".huge"), of types this kernel offers */
	pt = type[0] == '.' ? NULL : shmfs_page_type_by_name(types, type);
	if (!pt)
		return -EINVAL;
	r.kind = pt->kind;
	rc = parse_limit(eq + 1, pt, &r);
	if (rc < 0)
		return rc;
	if (r.how == SHMFS_QUOTA_DEFAULT && !r.has_id)
		return -EINVAL; /* a default has nothing to fall back to */
	if (r.how == SHMFS_QUOTA_UNLIMITED && r.subject == SHMFS_QUOTA_RESERVE)
		return -EINVAL; /* no reserve is 0 */
	*ret = r;
	return 0;
}

int shmfs_quota_rule_format(const struct shmfs_quota_rule *r, const struct shmfs_page_types *types,
			    char *buf, size_t buf_sz)
{
	char subj[32], lim[32];
	int n;

	if (r->has_id)
		snprintf(subj, sizeof(subj), "%s:%" PRIu32, subject_names[r->subject], r->id);
	else
		snprintf(subj, sizeof(subj), "%s", subject_names[r->subject]);
	switch (r->how) {
	case SHMFS_QUOTA_UNLIMITED:
		snprintf(lim, sizeof(lim), "unlimited");
		break;
	case SHMFS_QUOTA_DEFAULT:
		snprintf(lim, sizeof(lim), "default");
		break;
	case SHMFS_QUOTA_PERCENT:
		snprintf(lim, sizeof(lim), "%" PRIu64 "%%", r->val);
		break;
	default:
		snprintf(lim, sizeof(lim), "%" PRIu64, r->val);
	}
	n = snprintf(buf, buf_sz, "%s.%s=%s", subj, types->type[r->kind].name, lim);
	return n < 0 || (size_t)n >= buf_sz ? -ENOSPC : n;
}

bool shmfs_quota_rule_same_key(const struct shmfs_quota_rule *a, const struct shmfs_quota_rule *b)
{
	return a->subject == b->subject && a->has_id == b->has_id && a->kind == b->kind &&
	       (!a->has_id || a->id == b->id);
}

int shmfs_quota_rules_set(struct shmfs_quota_rules *s, const struct shmfs_quota_rule *r)
{
	struct shmfs_quota_rule *v;

	if (r->how == SHMFS_QUOTA_DEFAULT && !r->has_id)
		return -EINVAL;
	for (size_t i = 0; i < s->cnt; i++) {
		if (!shmfs_quota_rule_same_key(&s->v[i], r))
			continue;
		if (r->how == SHMFS_QUOTA_DEFAULT) {
			memmove(&s->v[i], &s->v[i + 1], (s->cnt - i - 1) * sizeof(*v));
			s->cnt--;
		} else {
			s->v[i] = *r;
		}
		return 0;
	}
	if (r->how == SHMFS_QUOTA_DEFAULT)
		return 0; /* nothing to drop */
	if (s->cnt >= SHMFS_QUOTA_SUBJECT_CNT * SHMFS_PAGE_KIND_CNT + SHMFS_QUOTA_RULES_MAX)
		return -ENOSPC;
	v = realloc(s->v, (s->cnt + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[s->cnt++] = *r;
	s->v = v;
	return 0;
}

const struct shmfs_quota_rule *shmfs_quota_rule_find(const struct shmfs_quota_rules *s,
						     enum shmfs_quota_subject subj, bool has_id,
						     uint32_t id, enum shmfs_page_kind k)
{
	struct shmfs_quota_rule key = { .subject = subj, .has_id = has_id, .id = id, .kind = k };

	for (size_t i = 0; i < s->cnt; i++)
		if (shmfs_quota_rule_same_key(&s->v[i], &key))
			return &s->v[i];
	return NULL;
}

static uint64_t pct_of(uint64_t total, uint64_t pct)
{
	/* rounded up: 50% of a one-page pool is that page, not none */
	return total / 100 * pct + (total % 100 * pct + 99) / 100;
}

bool shmfs_quota_limit(const struct shmfs_quota_rules *s, enum shmfs_quota_subject subj,
		       uint32_t id, enum shmfs_page_kind k, uint64_t pool, uint64_t *ret_pages)
{
	const struct shmfs_quota_rule *r = shmfs_quota_rule_find(s, subj, true, id, k);

	/* root's own group and user are never caught by a default */
	if (!r && id != 0)
		r = shmfs_quota_rule_find(s, subj, false, 0, k);
	if (!r || r->how == SHMFS_QUOTA_UNLIMITED || r->how == SHMFS_QUOTA_DEFAULT)
		return false;
	*ret_pages = r->how == SHMFS_QUOTA_PERCENT ? pct_of(pool, r->val) : r->val;
	return true;
}

uint64_t shmfs_quota_reserve(const struct shmfs_quota_rules *s, enum shmfs_page_kind k,
			     uint64_t node_total)
{
	const struct shmfs_quota_rule *r = shmfs_quota_rule_find(s, SHMFS_QUOTA_RESERVE, false, 0, k);

	if (!r || r->how == SHMFS_QUOTA_UNLIMITED)
		return 0;
	return r->how == SHMFS_QUOTA_PERCENT ? pct_of(node_total, r->val) : r->val;
}

int shmfs_quota_admit(const struct shmfs_quota_rules *s, enum shmfs_page_kind k,
		      const struct shmfs_quota_ask *a)
{
	uint64_t lim;

	if (a->uid == 0)
		return 0;
	if (shmfs_quota_limit(s, SHMFS_QUOTA_USER, a->uid, k, a->pool, &lim) &&
	    (a->user_used > lim || a->pages > lim - a->user_used))
		return -EDQUOT;
	if (shmfs_quota_limit(s, SHMFS_QUOTA_GROUP, a->gid, k, a->pool, &lim) &&
	    (a->group_used > lim || a->pages > lim - a->group_used))
		return -EDQUOT;
	/* more than the pool has free: the pool refuses it (ENOSPC), as for root */
	if (a->need && a->need <= a->node_free &&
	    a->node_free - a->need < shmfs_quota_reserve(s, k, a->node_total))
		return -EDQUOT;
	return 0;
}
