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
 *
 * Quotas are not configured here: shmfs has none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "parse.h"
#include "pool.h"

#define CONF_DEFAULT "/etc/shmfs/pools.conf"
#define CONF_MAX_LINES 256
#define CONF_LINE_MAX 512

struct conf_entry {
	const struct shmfs_page_type *t;
	int node;
	uint64_t pages;
	int line;
	struct shmfs_pool_stat before;
	bool changed;
};

/* One line: "TYPE NODE PAGES", '#' comments, blank lines. 1 with *e filled,
 * 0 for nothing there, CTL_EXIT_USAGE (after saying why) when bad. */
static int conf_line(struct ctl *c, const char *file, int no, char *text, struct conf_entry *e)
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
	if (cnt == 0)
		return 0;
	if (cnt != 3)
		return ctl_usage("apply-config", "%s:%d: want 'TYPE NODE PAGES', got %d word%s", file,
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
	return 1;
}

/* Read and check the whole file. 0, or an exit status after saying why. */
static int conf_read(struct ctl *c, const char *file, struct conf_entry *v, size_t *ret_cnt)
{
	char text[CONF_LINE_MAX];
	size_t cnt = 0;
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
		if (cnt == CONF_MAX_LINES) {
			r = ctl_usage("apply-config", "%s: more than %d pools", file, CONF_MAX_LINES);
			break;
		}
		r = conf_line(c, file, no, text, &v[cnt]);
		if (r == 0)
			continue;
		if (r != 1)
			break;
		r = 0;
		for (size_t i = 0; i < cnt; i++)
			if (v[i].t == v[cnt].t && v[i].node == v[cnt].node) {
				r = ctl_usage("apply-config", "%s:%d: %s pages of node %d are set on line %d already",
					      file, no, v[cnt].t->name, v[cnt].node, v[i].line);
				break;
			}
		if (r)
			break;
		cnt++;
	}
	if (!r && ferror(f))
		r = ctl_fail(-EIO, "apply-config", file, NULL, "cannot read");
	fclose(f);
	*ret_cnt = cnt;
	return r;
}

static void conf_report(struct ctl *c, const struct conf_entry *v, size_t cnt, bool dry_run)
{
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
		ctl_json_close(c, &j);
		return;
	}
	for (size_t i = 0; i < cnt; i++)
		ctl_say(c, "%s%s pages on node %d: %llu -> %llu (%s)", dry_run ? "would set " : "",
			v[i].t->name, v[i].node, (unsigned long long)shmfs_pool_persistent(&v[i].before),
			(unsigned long long)v[i].pages, ctl_size(v[i].pages * v[i].t->page_sz));
	if (cnt == 0)
		ctl_say(c, "no pools in the file: nothing to do");
}

static int run_apply_config(struct ctl *c, const struct ctl_args *a)
{
	const char *file = a->argc > 0 ? a->argv[0] : CONF_DEFAULT;
	bool dry_run = a->opt[0];
	struct conf_entry *v;
	size_t cnt = 0, i;
	int r;

	v = calloc(CONF_MAX_LINES, sizeof(*v));
	if (!v)
		return ctl_fail(-ENOMEM, "apply-config", file, NULL, "cannot read");
	r = conf_read(c, file, v, &cnt);
	if (r)
		goto out;
	for (i = 0; i < cnt; i++) {
		r = shmfs_pool_stat(v[i].t, v[i].node, &v[i].before);
		if (r < 0) {
			r = ctl_fail(r, "apply-config", file, NULL, "cannot read the %s pool of node %d for",
				     v[i].t->name, v[i].node);
			goto out;
		}
	}
	if (dry_run) {
		conf_report(c, v, cnt, true);
		goto out;
	}
	if (geteuid() != 0) {
		r = ctl_fail(-EACCES, "apply-config", file, "run it as root", "cannot set the pools of");
		goto out;
	}
	for (i = 0; i < cnt; i++) {
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
		r = ctl_fail(r, "apply-config", file,
			     r == -ENOMEM ? "free memory (or reserve at boot on the kernel command line) and retry"
					  : NULL,
			     "line %d: cannot make the %s pool of node %d hold %llu pages (every pool is as before); from",
			     v[failed].line, v[failed].t->name, v[failed].node,
			     (unsigned long long)v[failed].pages);
		goto out;
	}
	conf_report(c, v, cnt, false);
	r = 0;
out:
	free(v);
	return r;
}

const struct ctl_cmd ctl_conf_cmds[] = {
	{ "apply-config", "[FILE]", "set the huge page pools FILE lists (default " CONF_DEFAULT ")",
	  "FILE has one pool per line: TYPE NODE PAGES (huge 0 512, gigantic node1 2,\n"
	  "huge 0 1G); '#' starts a comment. Every line is checked before any pool\n"
	  "changes; when one pool cannot be reached, the pools already set are put\n"
	  "back (exit 1). Needs no mount: shmfs-pools.service runs it at boot, before\n"
	  "shmfs mounts. Root only, except with -n.\n",
	  0, 1, true, { { 'n', "dry-run", "check the file and say what would change; change nothing" } },
	  run_apply_config },
	{ NULL },
};
