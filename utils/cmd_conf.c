/* cmd_conf.c - apply-config: the huge page pools an admin wants at boot,
 * written down in /etc/shmfs/pools.conf and set by the shmfs-pools.service
 * oneshot before shmfs mounts. It works on the kernel's pools directly (no
 * mount needed: at boot there is none yet) with the same all-or-nothing
 * resize as `shmfsctl alloc`, and across the whole file: every line is
 * checked before any pool changes, and when one pool cannot be reached the
 * pools already set are put back. The file:
 *
 *     # TYPE     NODE    PAGES     (a count, or a size: 1G, 512M)
 *     huge       0       512
 *     gigantic   node0   2
 *     quota      user.huge=50%      (a rule, as `shmfsctl quota` takes)
 *
 * Quota rules belong to a mount, which does not exist yet at boot: they are
 * set on the mount (--mount) when it is there, and shmfs@.service sets them
 * (--quotas) as soon as its daemon has mounted. A bad line anywhere changes
 * nothing, neither pools nor quotas. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "parse.h"
#include "pool.h"
#include "xattr_names.h"

#define CONF_DEFAULT "/etc/shmfs/pools.conf"
#define CONF_MAX_LINES 256
#define CONF_LINE_MAX 512
/* how long --quotas waits for the daemon that was just started to mount */
#define CONF_MOUNT_WAIT_MS 30000

struct conf_entry {
	const struct shmfs_page_type *t;
	int node;
	uint64_t pages;
	int line;
	struct shmfs_pool_stat before;
	bool changed;
};

struct conf_quota {
	char rule[CTL_QUOTA_RULE_MAX];  /* canonical */
	int line;
};

struct conf {
	struct conf_entry *pool;
	size_t pool_cnt;
	struct conf_quota *quota;
	size_t quota_cnt;
};

/* What a line of the file holds. */
enum conf_kind { CONF_NONE, CONF_POOL, CONF_QUOTA };

/* "quota RULE": the rule into q, canonical. 0, or CTL_EXIT_USAGE. */
static int conf_quota(struct ctl *c, const char *file, int no, char **word, int cnt, struct conf_quota *q)
{
	char where[CONF_LINE_MAX];

	if (cnt != 2)
		return ctl_usage("apply-config", "%s:%d: want 'quota RULE' (one rule, like user.huge=50%%), "
				 "got %d word%s", file, no, cnt, cnt == 1 ? "" : "s");
	snprintf(where, sizeof(where), "%s:%d: ", file, no);
	if (ctl_quota_rule_canon(c, "apply-config", where, word[1], q->rule, sizeof(q->rule)))
		return CTL_EXIT_USAGE;
	q->line = no;
	return 0;
}

/* One line: "TYPE NODE PAGES" (*e filled) or "quota RULE" (*q filled), '#'
 * comments, blank lines; *ret_kind says which. 0, or CTL_EXIT_USAGE (after
 * saying why) when bad. */
static int conf_line(struct ctl *c, const char *file, int no, char *text, struct conf_entry *e,
		     struct conf_quota *q, enum conf_kind *ret_kind)
{
	char *word[4], *save = NULL, *hash = strchr(text, '#');
	int cnt = 0, r;
	uint64_t v;

	if (hash)
		*hash = '\0';
	for (char *w = strtok_r(text, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if (cnt == 4)
			break;
		word[cnt++] = w;
	}
	*ret_kind = CONF_NONE;
	if (cnt == 0)
		return 0;
	if (strcmp(word[0], "quota") == 0) {
		*ret_kind = CONF_QUOTA;
		return conf_quota(c, file, no, word, cnt, q);
	}
	*ret_kind = CONF_POOL;
	if (cnt != 3)
		return ctl_usage("apply-config", "%s:%d: want 'TYPE NODE PAGES' or 'quota RULE', got %d word%s", file,
				 no, cnt, cnt == 1 ? "" : "s");
	e->line = no;
	e->t = shmfs_page_type_by_name(&c->types, word[0]);
	if (!e->t || !shmfs_page_type_present(e->t))
		return ctl_usage("apply-config", "%s:%d: '%s' is not a page type this kernel offers",
				 file, no, word[0]);
	if (!shmfs_page_type_is_huge(e->t))
		return ctl_usage("apply-config", "%s:%d: normal pages have no pool to reserve", file,
				 no);
	if (shmfs_parse_node(word[1], &e->node) < 0 || !shmfs_numa_node_has_memory(e->node))
		return ctl_usage("apply-config", "%s:%d: NUMA node '%s' does not exist or has no memory",
				 file, no, word[1]);
	if (word[2][0] == '-')
		return ctl_usage("apply-config", "%s:%d: page count '%s' is negative", file, no,
				 word[2]);
	r = shmfs_parse_pages(word[2], e->t->page_sz, &v);
	if (r == -EDOM)
		return ctl_usage("apply-config", "%s:%d: %s is not a whole number of %s pages",
				 file, no, word[2], e->t->name);
	if (r < 0)
		return ctl_usage("apply-config", "%s:%d: '%s' is not a page count or a size", file, no,
				 word[2]);
	e->pages = v;
	return 0;
}

/* The part of a canonical rule that says whom and what it limits. */
static size_t rule_key_len(const char *rule)
{
	return strcspn(rule, "=");
}

/* The entry just read against the earlier ones: 0, or CTL_EXIT_USAGE for
 * something given twice. */
static int conf_dup(const char *file, int no, const struct conf *cf, enum conf_kind kind)
{
	if (kind == CONF_POOL) {
		const struct conf_entry *e = &cf->pool[cf->pool_cnt];

		for (size_t i = 0; i < cf->pool_cnt; i++)
			if (cf->pool[i].t == e->t && cf->pool[i].node == e->node)
				return ctl_usage("apply-config", "%s:%d: %s pages of node %d are set on line %d already",
						 file, no, e->t->name, e->node, cf->pool[i].line);
	} else {
		const struct conf_quota *q = &cf->quota[cf->quota_cnt];
		size_t n = rule_key_len(q->rule);

		for (size_t i = 0; i < cf->quota_cnt; i++)
			if (rule_key_len(cf->quota[i].rule) == n && strncmp(cf->quota[i].rule, q->rule, n) == 0)
				return ctl_usage("apply-config", "%s:%d: the quota of %.*s is set on line %d already",
						 file, no, (int)n, q->rule, cf->quota[i].line);
	}
	return 0;
}

/* Read and check the whole file. 0, or an exit status after saying why. */
static int conf_read(struct ctl *c, const char *file, struct conf *cf)
{
	char text[CONF_LINE_MAX];
	enum conf_kind kind;
	int no = 0, r = 0;
	FILE *f = fopen(file, "re");

	if (!f)
		return ctl_fail(-errno, "apply-config", file, NULL, "cannot read");
	while (fgets(text, sizeof(text), f)) {
		no++;
		if (!strchr(text, '\n') && !feof(f)) {
			r = ctl_usage("apply-config", "%s:%d: line longer than %d bytes", file, no,
				      CONF_LINE_MAX - 2);
			break;
		}
		if (cf->pool_cnt == CONF_MAX_LINES || cf->quota_cnt == CONF_MAX_LINES) {
			r = ctl_usage("apply-config", "%s: more than %d pools or quota rules", file,
				      CONF_MAX_LINES);
			break;
		}
		r = conf_line(c, file, no, text, &cf->pool[cf->pool_cnt], &cf->quota[cf->quota_cnt], &kind);
		if (!r && kind != CONF_NONE)
			r = conf_dup(file, no, cf, kind);
		if (r)
			break;
		if (kind == CONF_POOL)
			cf->pool_cnt++;
		else if (kind == CONF_QUOTA)
			cf->quota_cnt++;
	}
	if (!r && ferror(f))
		r = ctl_fail(-EIO, "apply-config", file, NULL, "cannot read");
	fclose(f);
	return r;
}

/* Whether a shmfs daemon serves c->mount (the root's backing xattr answers). */
static bool conf_mounted(struct ctl *c)
{
	char buf[4096];

	return ctl_xattr(c->mount, SHMFS_XATTR_BACKING, buf, sizeof(buf)) == 0;
}

/* --quotas right after the daemon was started: wait for its mount. */
static bool conf_wait_mounted(struct ctl *c)
{
	const struct timespec step = { 0, 100 * 1000 * 1000 };

	for (int ms = 0; ms < CONF_MOUNT_WAIT_MS; ms += 100) {
		if (conf_mounted(c))
			return true;
		nanosleep(&step, NULL);
	}
	return conf_mounted(c);
}

/* quotas_set: the rules were written to the mount (or would be, dry_run);
 * false when no shmfs is mounted there to take them. */
static void conf_report(struct ctl *c, const struct conf *cf, bool dry_run, bool quotas_only,
			bool quotas_set)
{
	const struct conf_entry *v = cf->pool;
	size_t cnt = quotas_only ? 0 : cf->pool_cnt;
	struct json j;

	if (c->json) {
		ctl_json_open(c, &j, "apply-config");
		json_bool(&j, "dry_run", dry_run);
		json_arr_open(&j, "pools");
		for (size_t i = 0; i < cnt; i++) {
			struct shmfs_pool_stat now;

			if (dry_run || shmfs_pool_stat(v[i].t, v[i].node, &now) < 0)
				now = v[i].before;
			json_obj_open(&j, NULL);
			json_str(&j, "type", v[i].t->name);
			json_i64(&j, "node", v[i].node);
			json_u64(&j, "page_size", v[i].t->page_sz);
			json_u64(&j, "before", shmfs_pool_persistent(&v[i].before));
			json_u64(&j, "target", v[i].pages);
			json_u64(&j, "total", now.total);
			json_u64(&j, "free", now.free);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_str(&j, "mount", c->mount);
		json_bool(&j, "quotas_set", quotas_set && cf->quota_cnt > 0);
		json_arr_open(&j, "quotas");
		for (size_t i = 0; i < cf->quota_cnt; i++)
			json_str(&j, NULL, cf->quota[i].rule);
		json_arr_close(&j);
		ctl_json_close(c, &j);
		return;
	}
	for (size_t i = 0; i < cnt; i++)
		ctl_say(c, "%s%s pages on node %d: %llu -> %llu (%s)", dry_run ? "would set " : "",
			v[i].t->name, v[i].node, (unsigned long long)shmfs_pool_persistent(&v[i].before),
			(unsigned long long)v[i].pages, ctl_size(v[i].pages * v[i].t->page_sz));
	for (size_t i = 0; i < cf->quota_cnt && quotas_set; i++)
		ctl_say(c, "%squota %s on %s", dry_run ? "would set " : "", cf->quota[i].rule, c->mount);
	if (cf->quota_cnt && !quotas_set)
		ctl_say(c, "quota rules: no shmfs is mounted at %s to take them now; shmfs@.service sets "
			"them when it mounts there (or: shmfsctl --mount DIR apply-config --quotas)", c->mount);
	if (cnt == 0 && cf->quota_cnt == 0)
		ctl_say(c, "no %s in the file: nothing to do", quotas_only ? "quota rules" : "pools or quota rules");
}

/* Before anything changes: can the mount take the file's quota rules? 0, or
 * an exit status after saying why. */
static int conf_quota_check(struct ctl *c, const char *file)
{
	int r = ctl_quota_enforced(c);

	if (r < 0)
		return ctl_fail(r, "apply-config", c->mount,
				r == -ENOENT ? "this shmfs has no quotas; update it" : NULL,
				"%s has quota rules; cannot read the quotas of", file);
	if (r == 0)
		return ctl_fail(0, "apply-config", c->mount, "quotas need a daemon running as root",
				"%s has quota rules, but no quota is enforced on", file);
	return 0;
}

/* Each rule, in the order of the file. 0, or an exit status after saying
 * which rule failed and which ones before it were set. */
static int conf_quota_apply(struct ctl *c, const char *file, const struct conf *cf)
{
	for (size_t i = 0; i < cf->quota_cnt; i++) {
		int r = ctl_quota_write(c, cf->quota[i].rule);

		if (r < 0)
			return ctl_fail(r, "apply-config", c->mount,
					i ? "the rules of the lines before it are set" : NULL,
					"%s:%d: cannot set quota %s on", file, cf->quota[i].line,
					cf->quota[i].rule);
	}
	return 0;
}

/* The pools, all or nothing. 0, or an exit status after saying why. */
static int conf_pools_apply(const char *file, struct conf *cf)
{
	struct conf_entry *v = cf->pool;
	size_t i;
	int r = 0;

	for (i = 0; i < cf->pool_cnt; i++) {
		r = shmfs_pool_resize_from(v[i].t, v[i].node, &v[i].before, v[i].pages, NULL, NULL);
		if (r < 0)
			break;
		v[i].changed = true;
	}
	if (r < 0) {
		/* all or nothing over the file: put back what was already set */
		int failed = (int)i;

		for (i = 0; i < (size_t)failed; i++)
			if (v[i].changed)
				(void)shmfs_pool_resize(v[i].t, v[i].node, shmfs_pool_persistent(&v[i].before),
							NULL, NULL);
		return ctl_fail(r, "apply-config", file,
				r == -ENOMEM ? "free memory (or reserve at boot on the kernel command line) and retry"
					     : NULL,
				"line %d: cannot make the %s pool of node %d hold %llu pages (every pool is as before); from",
				v[failed].line, v[failed].t->name, v[failed].node,
				(unsigned long long)v[failed].pages);
	}
	return 0;
}

static int run_apply_config(struct ctl *c, const struct ctl_args *a)
{
	const char *file = a->argc > 0 ? a->argv[0] : CONF_DEFAULT;
	bool dry_run = a->opt[0], quotas_only = a->opt[1], mounted = false;
	struct conf cf = { 0 };
	int r;

	cf.pool = calloc(CONF_MAX_LINES + 1, sizeof(*cf.pool));
	cf.quota = calloc(CONF_MAX_LINES + 1, sizeof(*cf.quota));
	if (!cf.pool || !cf.quota) {
		r = ctl_fail(-ENOMEM, "apply-config", file, NULL, "cannot read");
		goto out;
	}
	r = conf_read(c, file, &cf);
	if (r)
		goto out;
	for (size_t i = 0; i < cf.pool_cnt && !quotas_only; i++) {
		r = shmfs_pool_stat(cf.pool[i].t, cf.pool[i].node, &cf.pool[i].before);
		if (r < 0) {
			r = ctl_fail(r, "apply-config", file, NULL, "cannot read the %s pool of node %d for",
				     cf.pool[i].t->name, cf.pool[i].node);
			goto out;
		}
	}
	if (cf.quota_cnt) {
		/* --quotas runs right after the daemon starts: give it time to mount */
		mounted = quotas_only && !dry_run ? conf_wait_mounted(c) : conf_mounted(c);
		if (!mounted && quotas_only) {
			r = ctl_fail(0, "apply-config", c->mount, "start shmfs there, or say where it is with --mount DIR",
				     "%s has quota rules, but no shmfs is mounted at", file);
			goto out;
		}
		r = mounted ? conf_quota_check(c, file) : 0;
		if (r)
			goto out;
	}
	if (dry_run) {
		conf_report(c, &cf, true, quotas_only, mounted);
		goto out;
	}
	if (geteuid() != 0 && (cf.quota_cnt || !quotas_only)) {
		r = ctl_fail(-EACCES, "apply-config", file, "run it as root",
			     quotas_only ? "cannot set the quotas of" : "cannot set the pools of");
		goto out;
	}
	if (!quotas_only) {
		r = conf_pools_apply(file, &cf);
		if (r)
			goto out;
	}
	if (mounted) {
		r = conf_quota_apply(c, file, &cf);
		if (r)
			goto out;
	}
	conf_report(c, &cf, false, quotas_only, mounted);
	r = 0;
out:
	free(cf.pool);
	free(cf.quota);
	return r;
}

const struct ctl_cmd ctl_conf_cmds[] = {
	{ "apply-config", "[FILE]", "set the huge page pools and quotas FILE lists (default " CONF_DEFAULT ")",
	  "FILE has one pool per line: TYPE NODE PAGES (huge 0 512, gigantic node1 2,\n"
	  "huge 0 1G), or one quota rule: quota RULE (quota user.huge=50%, as\n"
	  "'shmfsctl quota' takes it); '#' starts a comment. Every line is checked\n"
	  "before anything changes; when one pool cannot be reached, the pools already\n"
	  "set are put back (exit 1). Pools need no mount: shmfs-pools.service runs it\n"
	  "at boot, before shmfs mounts. Quota rules go to the shmfs at --mount when one\n"
	  "is mounted there (else they wait: --quotas, which shmfs@.service runs once\n"
	  "its daemon has mounted, sets them). Root only, except with -n.\n",
	  0, 1, true,
	  { { 'n', "dry-run", "check the file and say what would change; change nothing" },
	    { 'Q', "quotas", "set only the quota rules, on --mount, waiting up to 30 s for it to be mounted" } },
	  run_apply_config },
	{ NULL },
};
