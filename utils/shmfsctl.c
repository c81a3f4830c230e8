/* shmfsctl.c - the entry point of shmfsctl: global options, the table of
 * subcommands, their options (flags, and options with a value), "did you
 * mean" for a mistyped command or option, and chaining
 * (`shmfsctl init 0770 app app alloc 4 huge 0 query` runs three commands,
 * like fd_shmem_cfg). The whole command line is parsed
 * before anything runs, so a typo in the third command does not leave the
 * first two done. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

#include "ctl.h"

static const struct ctl_cmd *const cmd_tables[] = {
	ctl_cfg_cmds, ctl_region_cmds, ctl_info_cmds, ctl_numa_cmds, ctl_heap_cmds, ctl_conf_cmds,
	ctl_quota_cmds, ctl_ls_cmds, ctl_explain_cmds, ctl_shared_cmds,
};

static const struct ctl_cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmd_tables) / sizeof(cmd_tables[0]); i++)
		for (const struct ctl_cmd *c = cmd_tables[i]; c->name; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

/* An option's value name ("KEY" of "sort=KEY"), NULL for a flag; and the
 * length of its long name without it. */
static const char *opt_value(const struct ctl_opt *o)
{
	const char *eq = o->long_name ? strchr(o->long_name, '=') : NULL;

	return eq ? eq + 1 : NULL;
}

static size_t opt_name_len(const struct ctl_opt *o)
{
	return strcspn(o->long_name, "=");
}

static void main_help(FILE *f)
{
	static const char *const groups[] = {
		"Pools and mounts (fd_shmem_cfg)", "Regions (fd_shmem_ctl)",
		"Inspection and cleanup", "Topology", "Heaps", "Boot configuration", "Quotas",
		"Listing", "Diagnosis (needs no mount)", "Memory several hosts share (needs no mount)",
	};

	fprintf(f,
		"usage: shmfsctl [--mount DIR] [--json] [-q] COMMAND [ARGS...] [COMMAND [ARGS...]]...\n"
		"\n"
		"Administer and inspect a shmfs mount: huge page pools, regions, orphans, heaps.\n"
		"Several commands may follow each other on one line; they run in order and the\n"
		"first failure stops the rest.\n"
		"\n"
		"Options:\n"
		"  --mount DIR   the shmfs mount (default: $SHMFS_PATH, else " SHMFS_DEFAULT_PATH ")\n"
		"  --json        exact, machine-readable output (see shmfsctl(8) for the schema)\n"
		"  -q, --quiet   no progress, no success messages\n"
		"  -h, --help    this help; 'shmfsctl COMMAND --help' for one command\n"
		"  --version     print the version\n");
	for (size_t i = 0; i < sizeof(cmd_tables) / sizeof(cmd_tables[0]); i++) {
		fprintf(f, "\n%s:\n", groups[i]);
		for (const struct ctl_cmd *c = cmd_tables[i]; c->name; c++)
			fprintf(f, "  %-10s %-28s %s\n", c->name, c->args, c->summary);
	}
	fprintf(f, "\nExit status: 0 success, 1 an operation failed, 2 bad usage.\n");
}

static void cmd_help(const struct ctl_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: shmfsctl %s%s%s%s\n\n%s\n", cmd->name, cmd->opts[0].help ? " [OPTIONS]" : "",
		cmd->args[0] ? " " : "", cmd->args, cmd->summary);
	if (cmd->help && cmd->help[0])
		fprintf(f, "\n%s", cmd->help);
	fprintf(f, "\nOptions:\n");
	for (int i = 0; i < CTL_OPT_MAX && cmd->opts[i].help; i++) {
		const struct ctl_opt *o = &cmd->opts[i];
		const char *v = opt_value(o);
		char left[64];

		if (o->short_name && o->long_name)
			snprintf(left, sizeof(left), "-%c, --%.*s%s%s", o->short_name, (int)opt_name_len(o),
				 o->long_name, v ? " " : "", v ? v : "");
		else if (o->short_name)
			snprintf(left, sizeof(left), "-%c", o->short_name);
		else
			snprintf(left, sizeof(left), "    --%.*s%s%s", (int)opt_name_len(o), o->long_name,
				 v ? " " : "", v ? v : "");
		fprintf(f, "  %-16s %s\n", left, o->help);
	}
	if (cmd->reports)
		fprintf(f, "  %-16s %s\n", "    --json", "machine-readable output (schema in shmfsctl(8))");
	fprintf(f, "  %-16s %s\n", "-h, --help", "this help");
}

/* One command of the chain, parsed. */
struct step {
	const struct ctl_cmd *cmd;
	struct ctl_args args;
};

static bool looks_negative_number(const char *s)
{
	return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

/* Match the option token argv[*j] against the command's options; one that
 * takes a value gets it from "--opt=V", or the next token. 0, -1 when
 * unknown, -2 when its value is missing. */
static int opt_match(const struct ctl_cmd *cmd, int argc, char **argv, int *j, struct ctl_args *a)
{
	const char *tok = argv[*j];

	if (tok[1] == '-') {
		const char *eq = strchr(tok + 2, '=');
		size_t len = eq ? (size_t)(eq - tok - 2) : strlen(tok + 2);

		for (int i = 0; i < CTL_OPT_MAX && cmd->opts[i].help; i++) {
			const struct ctl_opt *o = &cmd->opts[i];

			if (!o->long_name || opt_name_len(o) != len || strncmp(tok + 2, o->long_name, len))
				continue;
			if (!opt_value(o) && eq)
				return -1;
			a->opt[i] = true;
			if (!opt_value(o))
				return 0;
			if (eq) {
				a->val[i] = eq + 1;
				return 0;
			}
			if (*j + 1 >= argc)
				return -2;
			a->val[i] = argv[++(*j)];
			return 0;
		}
		return -1;
	}
	/* short flags, possibly grouped: -fa; one taking a value ends the group */
	for (const char *p = tok + 1; *p; p++) {
		int i;

		for (i = 0; i < CTL_OPT_MAX && cmd->opts[i].help; i++)
			if (cmd->opts[i].short_name == *p)
				break;
		if (i == CTL_OPT_MAX || !cmd->opts[i].help)
			return -1;
		a->opt[i] = true;
		if (!opt_value(&cmd->opts[i]))
			continue;
		if (p[1]) {
			a->val[i] = p + 1;
			return 0;
		}
		if (*j + 1 >= argc)
			return -2;
		a->val[i] = argv[++(*j)];
		return 0;
	}
	return 0;
}

/* Edit distance (with transpositions) between two short words, for "did you
 * mean": a typo is one or two keys away. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[32][32];

	if (la >= 32 || lb >= 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t k = 0; k <= lb; k++)
		d[0][k] = k;
	for (size_t i = 1; i <= la; i++)
		for (size_t k = 1; k <= lb; k++) {
			size_t best = d[i - 1][k - 1] + (a[i - 1] != b[k - 1]);

			if (d[i - 1][k] + 1 < best)
				best = d[i - 1][k] + 1;
			if (d[i][k - 1] + 1 < best)
				best = d[i][k - 1] + 1;
			if (i > 1 && k > 1 && a[i - 1] == b[k - 2] && a[i - 2] == b[k - 1] &&
			    d[i - 2][k - 2] + 1 < best)
				best = d[i - 2][k - 2] + 1;
			d[i][k] = best;
		}
	return d[la][lb];
}

/* The command a mistyped word most likely meant: the closest within two
 * edits (one for words of three letters or fewer), or the one it is the
 * start of. NULL when none stands out. */
static const char *cmd_suggest(const char *word)
{
	size_t wl = strlen(word), best_d = (wl <= 3 ? 1 : 2) + 1;
	const char *best = NULL, *prefix = NULL;
	int prefix_cnt = 0;
	bool tie = false;

	for (size_t i = 0; i < sizeof(cmd_tables) / sizeof(cmd_tables[0]); i++)
		for (const struct ctl_cmd *c = cmd_tables[i]; c->name; c++) {
			size_t d = edit_distance(word, c->name);

			if (wl > 0 && strncmp(c->name, word, wl) == 0) {
				prefix = c->name;
				prefix_cnt++;
			}
			if (d < best_d) {
				best = c->name;
				best_d = d;
				tie = false;
			} else if (d == best_d && best) {
				tie = true;
			}
		}
	if (best && !tie)
		return best;
	return prefix_cnt == 1 ? prefix : NULL;
}

/* The long option of cmd a mistyped "--word" most likely meant. */
static const char *opt_suggest(const struct ctl_cmd *cmd, const char *tok, char *buf, size_t sz)
{
	char word[32];
	size_t best_d = 3;
	const char *best = NULL;
	int best_len = 0;

	if (strncmp(tok, "--", 2) != 0)
		return NULL;
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(tok + 2, "="), tok + 2);
	for (int i = 0; i < CTL_OPT_MAX && cmd->opts[i].help; i++) {
		char name[32];
		size_t d;

		if (!cmd->opts[i].long_name)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)opt_name_len(&cmd->opts[i]), cmd->opts[i].long_name);
		d = edit_distance(word, name);
		if (d < best_d) {
			best_d = d;
			best = cmd->opts[i].long_name;
			best_len = (int)opt_name_len(&cmd->opts[i]);
		}
	}
	if (!best)
		return NULL;
	snprintf(buf, sz, "--%.*s", best_len, best);
	return buf;
}

/* Parse one command starting at argv[*i]. 0, CTL_EXIT_USAGE, or -1 when
 * --help was asked for (printed; nothing runs). */
static int parse_step(struct ctl *c, int argc, char **argv, int *i, struct step *s)
{
	const struct ctl_cmd *cmd = cmd_find(argv[*i]);
	bool opts_done = false;
	int j = *i + 1, r;

	if (!cmd) {
		const char *hint = cmd_suggest(argv[*i]);

		if (hint)
			return ctl_usage(NULL, "unknown command '%s'; did you mean '%s'?", argv[*i], hint);
		return ctl_usage(NULL, "unknown command '%s'", argv[*i]);
	}
	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->args.argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!s->args.argv)
		return CTL_EXIT_FAIL;
	for (; j < argc; j++) {
		const char *tok = argv[j];

		if (!opts_done && tok[0] == '-' && tok[1] && !looks_negative_number(tok)) {
			if (strcmp(tok, "--") == 0) {
				opts_done = true;
				continue;
			}
			if (strcmp(tok, "-h") == 0 || strcmp(tok, "--help") == 0) {
				cmd_help(cmd, stdout);
				return -1;
			}
			if (strcmp(tok, "--json") == 0) {
				if (!cmd->reports)
					return ctl_usage(cmd->name, "'%s' has no output that --json applies to",
							 cmd->name);
				c->json = true;
				continue;
			}
			r = opt_match(cmd, argc, argv, &j, &s->args);
			if (r == -2)
				return ctl_usage(cmd->name, "option '%s' needs a value", tok);
			if (r < 0) {
				char hint[40];

				if (opt_suggest(cmd, tok, hint, sizeof(hint)))
					return ctl_usage(cmd->name, "unknown option '%s'; did you mean '%s'?", tok,
							 hint);
				return ctl_usage(cmd->name, "unknown option '%s'", tok);
			}
			continue;
		}
		if (cmd->max_args >= 0 && s->args.argc >= cmd->max_args)
			break;
		/* Optional arguments end where the next command begins. */
		if (cmd->max_args >= 0 && s->args.argc >= cmd->min_args && cmd_find(tok))
			break;
		s->args.argv[s->args.argc++] = argv[j];
	}
	if (s->args.argc < cmd->min_args)
		return ctl_usage(cmd->name, "needs %s", cmd->args);
	*i = j;
	return 0;
}

static int parse_global(struct ctl *c, int argc, char **argv, int *i)
{
	for (; *i < argc; (*i)++) {
		const char *a = argv[*i];

		if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			c->quiet = true;
		} else if (strcmp(a, "--mount") == 0) {
			if (*i + 1 >= argc || argv[*i + 1][0] == '\0')
				return ctl_usage(NULL, "--mount needs a directory");
			c->mount = argv[++(*i)];
		} else if (strncmp(a, "--mount=", 8) == 0 && a[8]) {
			c->mount = a + 8;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			main_help(stdout);
			return -1;
		} else if (strcmp(a, "--version") == 0) {
			printf("shmfsctl %s\n", SHMFS_VERSION);
			return -1;
		} else if (a[0] == '-') {
			return ctl_usage(NULL, "unknown option '%s'", a);
		} else {
			return 0;
		}
	}
	return 0;
}

static void steps_free(struct step *steps, int cnt)
{
	if (!steps)
		return;
	for (int s = 0; s < cnt; s++)
		free(steps[s].args.argv);
	free(steps);
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	struct step *steps = NULL;
	int step_cnt = 0, reporting = 0, i = 1, r;

	c.mount = shmfs_mount_path();
	c.progress_tty = isatty(STDERR_FILENO);
	r = parse_global(&c, argc, argv, &i);
	if (r)
		return r < 0 ? 0 : r;
	/* libshmfs finds bare names and relative paths under the same mount */
	if (strcmp(c.mount, shmfs_mount_path()) != 0 && setenv("SHMFS_PATH", c.mount, 1) < 0)
		return ctl_fail(-errno, "shmfsctl", c.mount, NULL, "cannot use the mount");
	if (i >= argc) {
		main_help(stderr);
		return CTL_EXIT_USAGE;
	}
	steps = calloc((size_t)argc, sizeof(*steps));
	if (!steps)
		return CTL_EXIT_FAIL;
	while (i < argc) {
		/* the step owns its argv from here on, parsed or not */
		r = parse_step(&c, argc, argv, &i, &steps[step_cnt]);
		step_cnt++;
		if (r) {
			steps_free(steps, step_cnt);
			return r < 0 ? 0 : r;
		}
		reporting += steps[step_cnt - 1].cmd->reports;
	}
	c.json_chain = c.json && reporting > 1;
	r = shmfs_page_types_load(&c.types);
	if (r < 0) {
		fprintf(stderr, "shmfsctl: cannot read the page sizes of this kernel: %s\n", strerror(-r));
		steps_free(steps, step_cnt);
		return CTL_EXIT_FAIL;
	}
	r = 0;
	for (int s = 0; s < step_cnt && r == 0; s++) {
		r = steps[s].cmd->run(&c, &steps[s].args);
		fflush(stdout);
	}
	if (c.json_chain && c.json_docs > 0)
		fputs("\n]\n", stdout);
	steps_free(steps, step_cnt);
	return r;
}
