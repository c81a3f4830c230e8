/* cmd_quota.c - `shmfsctl quota [RULE...]`: show the page quotas of a mount
 * (rules, root's reserve per pool, usage per user and group) or change them
 * live, one rule at a time, through MOUNT/.quota. Also the usage part of
 * `shmfsctl info`. Rules are checked here first, all of them, so a typo in
 * the third leaves the first two unwritten; user and group names become the
 * numbers the daemon takes. */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "parse.h"
#include "util.h"
#include "xattr_names.h"

#define QUOTA_LINE_MAX 256

/* ------------------------------------------------------------ reading .quota */

struct quota_usage {
	char type[16];
	bool group;
	uint32_t id;
	uint64_t used;
	bool limited;
	uint64_t limit;
};

struct quota_reserve {
	char type[16];
	int node;
	uint64_t pages;
};

struct quota_state {
	bool enforced;
	char (*rule)[CTL_QUOTA_RULE_MAX];
	size_t rule_cnt;
	struct quota_reserve *reserve;
	size_t reserve_cnt;
	struct quota_usage *usage;
	size_t usage_cnt;
};

static void quota_state_free(struct quota_state *s)
{
	free(s->rule);
	free(s->reserve);
	free(s->usage);
	memset(s, 0, sizeof(*s));
}

static int grow_array(void **v, size_t cnt, size_t elem)
{
	void *n = realloc(*v, (cnt + 1) * elem);

	if (!n)
		return -ENOMEM;
	*v = n;
	return 0;
}

/* One line of .quota. Lines this version does not know are skipped (a newer
 * daemon may say more); known ones that do not parse are -EBADMSG. */
static int parse_line(struct quota_state *s, const char *line)
{
	char a[16], b[8], lim[32];
	unsigned long long x, y;
	uint32_t id;
	int node;

	if (sscanf(line, "enforced %3s", a) == 1) {
		s->enforced = strcmp(a, "yes") == 0;
		return 0;
	}
	if (strncmp(line, "rule ", 5) == 0) {
		if (strlen(line + 5) >= CTL_QUOTA_RULE_MAX || grow_array((void **)&s->rule, s->rule_cnt, CTL_QUOTA_RULE_MAX) < 0)
			return -EBADMSG;
		snprintf(s->rule[s->rule_cnt++], CTL_QUOTA_RULE_MAX, "%s", line + 5);
		return 0;
	}
	if (strncmp(line, "reserve ", 8) == 0) {
		struct quota_reserve *r;

		if (sscanf(line, "reserve %15s %d %llu", a, &node, &x) != 3 ||
		    grow_array((void **)&s->reserve, s->reserve_cnt, sizeof(*r)) < 0)
			return -EBADMSG;
		r = &s->reserve[s->reserve_cnt++];
		snprintf(r->type, sizeof(r->type), "%s", a);
		r->node = node;
		r->pages = x;
		return 0;
	}
	if (strncmp(line, "usage ", 6) == 0) {
		struct quota_usage *u;

		if (sscanf(line, "usage %15s %5s %" SCNu32 " %llu %31s", a, b, &id, &x, lim) != 5 ||
		    (strcmp(b, "user") != 0 && strcmp(b, "group") != 0) ||
		    grow_array((void **)&s->usage, s->usage_cnt, sizeof(*u)) < 0)
			return -EBADMSG;
		u = &s->usage[s->usage_cnt++];
		memset(u, 0, sizeof(*u));
		snprintf(u->type, sizeof(u->type), "%s", a);
		u->group = strcmp(b, "group") == 0;
		u->id = id;
		u->used = x;
		if (strcmp(lim, "-") != 0) {
			if (sscanf(lim, "%llu", &y) != 1)
				return -EBADMSG;
			u->limited = true;
			u->limit = y;
		}
		return 0;
	}
	return 0;
}

static int quota_read(struct ctl *c, struct quota_state *ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	struct quota_state s = { 0 };
	char path[4096], line[QUOTA_LINE_MAX];
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", c->mount, SHMFS_FILE_QUOTA);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		r = parse_line(&s, line);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r < 0) {
		quota_state_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static uint64_t type_page_sz(struct ctl *c, const char *type)
{
	const struct shmfs_page_type *t = shmfs_page_type_by_name(&c->types, type);

	return t ? t->page_sz : 0;
}

static void usage_json(struct ctl *c, struct json *j, const struct quota_state *s)
{
	json_arr_open(j, "usage");
	for (size_t i = 0; i < s->usage_cnt; i++) {
		const struct quota_usage *u = &s->usage[i];
		char name[64];

		json_obj_open(j, NULL);
		json_str(j, "type", u->type);
		json_str(j, "kind", u->group ? "group" : "user");
		json_u64(j, "id", u->id);
		json_str(j, "name", u->group ? ctl_group(u->id, name, sizeof(name))
					     : ctl_user(u->id, name, sizeof(name)));
		json_u64(j, "used_pages", u->used);
		json_u64(j, "used_bytes", u->used * type_page_sz(c, u->type));
		if (u->limited)
			json_u64(j, "limit_pages", u->limit);
		else
			json_null(j, "limit_pages");
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void usage_print(struct ctl *c, const struct quota_state *s)
{
	for (size_t i = 0; i < s->usage_cnt; i++) {
		const struct quota_usage *u = &s->usage[i];
		char name[64], lim[64];

		if (u->limited)
			snprintf(lim, sizeof(lim), "%" PRIu64 " pages (%s)", u->limit,
				 ctl_size(u->limit * type_page_sz(c, u->type)));
		else
			snprintf(lim, sizeof(lim), "none");
		printf("  %-9s %-5s %-10s %" PRIu64 " pages (%s), limit %s\n", u->type,
		       u->group ? "group" : "user",
		       u->group ? ctl_group(u->id, name, sizeof(name)) : ctl_user(u->id, name, sizeof(name)),
		       u->used, ctl_size(u->used * type_page_sz(c, u->type)), lim);
	}
}

int ctl_quota_report(struct ctl *c, struct json *j)
{
	struct quota_state s;
	int r = quota_read(c, &s);

	if (r == -ENOENT)
		return 0; /* a daemon without quotas */
	if (r < 0)
		return r;
	if (j) {
		json_obj_open(j, "quota");
		json_bool(j, "enforced", s.enforced);
		usage_json(c, j, &s);
		json_obj_close(j);
	} else {
		printf("\nquota usage (%s):\n", s.enforced ? "enforced" : "not enforced");
		if (s.usage_cnt == 0)
			printf("  none\n");
		usage_print(c, &s);
	}
	quota_state_free(&s);
	return 0;
}

/* ------------------------------------------------------------ checking a rule */

static const char *const subjects[] = { "user", "group", "reserve" };

int ctl_quota_rule_canon(struct ctl *c, const char *cmd, const char *where, const char *in, char *out,
			 size_t out_sz)
{
	const char *eq = strchr(in, '='), *dot, *colon, *lim;
	const struct shmfs_page_type *t;
	char subj[16], who[64], type[16];
	size_t si;
	uint64_t v;
	long long id = -1;

	if (!eq)
		return ctl_usage(cmd, "%s'%s' is not a rule: want SUBJECT.TYPE=LIMIT, e.g. user.huge=50%%", where, in);
	dot = memchr(in, '.', (size_t)(eq - in));
	if (!dot || (size_t)(eq - dot - 1) >= sizeof(type))
		return ctl_usage(cmd, "%s'%s': no page type (want SUBJECT.TYPE=LIMIT)", where, in);
	colon = memchr(in, ':', (size_t)(dot - in));
	if ((size_t)((colon ? colon : dot) - in) >= sizeof(subj))
		return ctl_usage(cmd, "%s'%s': the subject is user, group, user:ID or group:ID, or reserve", where, in);
	memcpy(subj, in, (size_t)((colon ? colon : dot) - in));
	subj[(colon ? colon : dot) - in] = '\0';
	for (si = 0; si < SHMFS_ARRAY_SIZE(subjects); si++)
		if (strcmp(subj, subjects[si]) == 0)
			break;
	if (si == SHMFS_ARRAY_SIZE(subjects) || (colon && si == 2))
		return ctl_usage(cmd, "%s'%s': the subject is user, group, user:ID or group:ID, or reserve", where, in);
	if (colon) {
		size_t n = (size_t)(dot - colon - 1);

		if (n == 0 || n >= sizeof(who))
			return ctl_usage(cmd, "%s'%s': no user or group after ':'", where, in);
		memcpy(who, colon + 1, n);
		who[n] = '\0';
		if (shmfs_parse_u64(who, &v) == 0 && v < UINT32_MAX) {
			id = (long long)v;
		} else if (si == 0) {
			struct passwd *pw = getpwnam(who);
			if (pw)
				id = pw->pw_uid;
		} else {
			struct group *gr = getgrnam(who);
			if (gr)
				id = gr->gr_gid;
		}
		if (id < 0)
			return ctl_usage(cmd, "%s'%s': no %s '%s'", where, in, subj, who);
	}
	memcpy(type, dot + 1, (size_t)(eq - dot - 1));
	type[eq - dot - 1] = '\0';
	t = shmfs_page_type_by_name(&c->types, type);
	if (!t || type[0] == '.')
		return ctl_usage(cmd, "%s'%s': no page type '%s' on this machine", where, in, type);
	lim = eq + 1;
	if (strcmp(lim, "default") == 0) {
		if (!colon)
			return ctl_usage(cmd, "%s'%s': 'default' drops a rule for one user or group; "
					 "give user:ID or group:ID", where, in);
	} else if (strcmp(lim, "unlimited") == 0) {
		if (si == 2)
			return ctl_usage(cmd, "%s'%s': no reserve is 0", where, in);
	} else if (lim[0] && lim[strlen(lim) - 1] == '%') {
		char num[8];
		size_t n = strlen(lim) - 1;

		if (n == 0 || n >= sizeof(num))
			return ctl_usage(cmd, "%s'%s': a percentage is 0%% to 100%%", where, in);
		memcpy(num, lim, n);
		num[n] = '\0';
		if (shmfs_parse_u64(num, &v) < 0 || v > 100)
			return ctl_usage(cmd, "%s'%s': a percentage is 0%% to 100%%", where, in);
	} else {
		int r = lim[0] == '-' ? -EINVAL : shmfs_parse_pages(lim, t->page_sz, &v);

		if (r == -EDOM)
			return ctl_usage(cmd, "%s'%s': %s is not a whole number of %s pages (%s each)", where,
					 in, lim, t->name, ctl_size(t->page_sz));
		if (r < 0)
			return ctl_usage(cmd, "%s'%s': the limit is pages (8), a size (4G), a percentage "
					 "(50%%), unlimited or default", where, in);
		lim = NULL; /* sizes go as page counts */
	}
	{
		char idtxt[24] = "", limtxt[32];

		if (colon)
			snprintf(idtxt, sizeof(idtxt), ":%lld", id);
		if (lim)
			snprintf(limtxt, sizeof(limtxt), "%s", lim);
		else
			snprintf(limtxt, sizeof(limtxt), "%" PRIu64, v);
		if ((size_t)snprintf(out, out_sz, "%s%s.%s=%s", subj, idtxt, t->name, limtxt) >= out_sz)
			return ctl_usage(cmd, "%s'%s' is too long", where, in);
	}
	return 0;
}

int ctl_quota_write(struct ctl *c, const char *canon)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[4096];
	size_t len = strlen(canon);

	snprintf(path, sizeof(path), "%s/%s", c->mount, SHMFS_FILE_QUOTA);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	/* one write per rule: the daemon takes a whole rule or nothing */
	if (fwrite(canon, 1, len, f) != len || fflush(f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int ctl_quota_enforced(struct ctl *c)
{
	struct quota_state s;
	int r = quota_read(c, &s);

	if (r < 0)
		return r;
	r = s.enforced;
	quota_state_free(&s);
	return r;
}

/* ------------------------------------------------------------ the command */

static int quota_show(struct ctl *c)
{
	struct quota_state s;
	struct json j;
	int r = quota_read(c, &s);

	if (r < 0)
		return ctl_fail(r, "quota", c->mount, r == -ENOENT ? "this shmfs has no quotas; update it" : NULL,
				"cannot read the quotas of");
	if (c->json) {
		ctl_json_open(c, &j, "quota");
		json_str(&j, "mount", c->mount);
		json_bool(&j, "enforced", s.enforced);
		json_arr_open(&j, "rules");
		for (size_t i = 0; i < s.rule_cnt; i++)
			json_str(&j, NULL, s.rule[i]);
		json_arr_close(&j);
		json_arr_open(&j, "reserve");
		for (size_t i = 0; i < s.reserve_cnt; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "type", s.reserve[i].type);
			json_i64(&j, "node", s.reserve[i].node);
			json_u64(&j, "pages", s.reserve[i].pages);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		usage_json(c, &j, &s);
		ctl_json_close(c, &j);
	} else {
		printf("quotas of %s: %s\n", c->mount,
		       s.enforced ? "enforced" : "not enforced (the daemon does not run as root)");
		printf("rules (limits per type, over all nodes; 'user'/'group' is everyone's default):\n");
		for (size_t i = 0; i < s.rule_cnt; i++)
			printf("  %s\n", s.rule[i]);
		printf("reserve (pages of each pool only root may take):\n");
		for (size_t i = 0; i < s.reserve_cnt; i++)
			printf("  %-9s node%-3d %" PRIu64 "\n", s.reserve[i].type, s.reserve[i].node,
			       s.reserve[i].pages);
		printf("usage:\n");
		if (s.usage_cnt == 0)
			printf("  none\n");
		usage_print(c, &s);
	}
	quota_state_free(&s);
	return 0;
}

static int run_quota(struct ctl *c, const struct ctl_args *a)
{
	char (*canon)[CTL_QUOTA_RULE_MAX] = NULL;
	int r;

	r = ctl_mount_check(c, "quota");
	if (r)
		return r;
	if (a->argc == 0)
		return quota_show(c);
	canon = calloc((size_t)a->argc, sizeof(*canon));
	if (!canon)
		return ctl_fail(-ENOMEM, "quota", NULL, NULL, "out of memory");
	/* every rule checked before the first is written */
	for (int i = 0; i < a->argc; i++) {
		r = ctl_quota_rule_canon(c, "quota", "", a->argv[i], canon[i], sizeof(canon[i]));
		if (r) {
			free(canon);
			return r;
		}
	}
	for (int i = 0; i < a->argc; i++) {
		r = ctl_quota_write(c, canon[i]);
		if (r < 0) {
			free(canon);
			return ctl_fail(r, "quota", a->argv[i],
					r == -EACCES ? "only root may change quotas" :
					r == -EOPNOTSUPP ? "quotas need a daemon running as root" : NULL,
					"cannot set the rule");
		}
		ctl_say(c, "set %s", canon[i]);
	}
	free(canon);
	return c->json ? quota_show(c) : 0;
}

const struct ctl_cmd ctl_quota_cmds[] = {
	{ "quota", "[RULE...]", "show page quotas and usage, or set rules (root)",
	  "A rule is SUBJECT.TYPE=LIMIT. SUBJECT: user or group (the default of every\n"
	  "user or group but root), user:ID|NAME or group:ID|NAME (one of them), or\n"
	  "reserve (pages of each pool, per node, that only root-owned regions may take).\n"
	  "TYPE: a page type (normal, huge, gigantic). LIMIT: pages (8), a size (4G),\n"
	  "a percentage of the type's pages over all nodes (50%), unlimited, or default\n"
	  "(drop a user's or group's own rule). Limits count the pages of the regions a\n"
	  "user or group owns, summed over nodes; beyond them a request fails with EDQUOT.\n"
	  "Without RULEs, shows the rules, the reserve and the usage of every user and\n"
	  "group. Examples: quota user.huge=50% user:alice.huge=4G reserve.huge=2\n",
	  0, -1, true, { { 0 } }, run_quota },
	{ NULL },
};
