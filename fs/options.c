/* options.c - the daemon's command line: `shmfs [-f] [-d] [-o opt,...]
 * [source] MOUNTPOINT`, as a person, mount(8) through mount.fuse3, an fstab
 * line or a systemd unit writes it. shmfs's own options (backing=, normal=,
 * huge=, gigantic=, mode=, uid=, gid=, quota=) are taken out, fstab-only words are accepted and dropped,
 * everything else goes to libfuse, which refuses what it does not know. */
#include "daemon.h"

#include "parse.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fstab_words[] = {
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail",
	"_netdev", "default_permissions",
};

static bool fstab_only(const char *opt)
{
	for (size_t i = 0; i < sizeof(fstab_words) / sizeof(fstab_words[0]); i++)
		if (strcmp(opt, fstab_words[i]) == 0)
			return true;
	return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

static int set_str(char **dst, const char *val)
{
	char *s;

	if (val[0] == '\0')
		return -EINVAL;
	s = strdup(val);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int shmfs_opt_escape(const char *s, char **ret)
{
	char *e = malloc(2 * strlen(s) + 1), *d = e;

	if (!e)
		return -ENOMEM;
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*d++ = '\\';
		*d++ = *s;
	}
	*d = '\0';
	*ret = e;
	return 0;
}

/* Options handed on to libfuse are joined into one list that libfuse splits
 * again: escaped, so a value with a comma stays one option. */
static int append_fuse_opt(struct shmfs_options *o, const char *opt)
{
	_cleanup_free_ char *e = NULL;
	size_t old = o->fuse_opts ? strlen(o->fuse_opts) : 0;
	char *s;
	int r;

	r = shmfs_opt_escape(opt, &e);
	if (r < 0)
		return r;
	s = realloc(o->fuse_opts, old + strlen(e) + 2);
	if (!s)
		return -ENOMEM;
	if (old)
		s[old++] = ',';
	strcpy(s + old, e);
	o->fuse_opts = s;
	return 0;
}

/* Octal, 1 to 4 digits, as chmod takes it. */
static int parse_mode(const char *s, mode_t *ret, bool *ret_have)
{
	mode_t m = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -EINVAL;
		m = m * 8 + (mode_t)(s[i] - '0');
	}
	*ret = m;
	*ret_have = true;
	return 0;
}

static int parse_id(const char *s, unsigned int *ret, bool *ret_have)
{
	uint64_t v;

	/* (uid_t)-1 means "no change" to chown: not an owner */
	if (shmfs_parse_u64(s, &v) < 0 || v >= UINT32_MAX)
		return -EINVAL;
	*ret = (unsigned int)v;
	*ret_have = true;
	return 0;
}

/* quota=RULE may be given many times; the rules are parsed against the
 * kernel's page types at start-up (quota.c), in the order given. */
static int add_quota(struct shmfs_options *o, const char *rule)
{
	char **v, *s;

	if (rule[0] == '\0')
		return -EINVAL;
	s = strdup(rule);
	if (!s)
		return -ENOMEM;
	v = realloc(o->quota, (o->quota_cnt + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[o->quota_cnt++] = s;
	o->quota = v;
	return 0;
}

static int parse_opt(struct shmfs_options *o, const char *opt)
{
	if (strncmp(opt, "backing=", 8) == 0)
		return set_str(&o->backing, opt + 8);
	if (strncmp(opt, "normal=", 7) == 0)
		return set_str(&o->dir[SHMFS_PAGE_NORMAL], opt + 7);
	if (strncmp(opt, "huge=", 5) == 0)
		return set_str(&o->dir[SHMFS_PAGE_HUGE], opt + 5);
	if (strncmp(opt, "gigantic=", 9) == 0)
		return set_str(&o->dir[SHMFS_PAGE_GIGANTIC], opt + 9);
	if (strncmp(opt, "mode=", 5) == 0)
		return parse_mode(opt + 5, &o->dir_mode, &o->have_mode);
	if (strncmp(opt, "uid=", 4) == 0)
		return parse_id(opt + 4, &o->dir_uid, &o->have_uid);
	if (strncmp(opt, "gid=", 4) == 0)
		return parse_id(opt + 4, &o->dir_gid, &o->have_gid);
	if (strncmp(opt, "quota=", 6) == 0)
		return add_quota(o, opt + 6);
	if (strncmp(opt, "shared=", 7) == 0)
		return set_str(&o->shared, opt + 7);
	if (strncmp(opt, "shared_name=", 12) == 0)
		return set_str(&o->shared_name, opt + 12);
	if (strncmp(opt, "shared_host=", 12) == 0)
		return set_str(&o->shared_host, opt + 12);
	if (strcmp(opt, "debug") == 0) {
		o->debug = true;
		return 0;
	}
	if (fstab_only(opt))
		return 0;
	return append_fuse_opt(o, opt);
}

static bool is_octal3(const char *s)
{
	return s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7';
}

/* Split an option list at the commas that are not escaped and undo the
 * escapes exactly as libfuse's fuse_opt does: a backslash takes the next
 * character literally (\, is a comma, \\ a backslash), or three octal digits
 * as one byte. So -o 'backing=/srv/a\,b' names /srv/a,b. */
static int parse_opts(struct shmfs_options *o, const char *list)
{
	_cleanup_free_ char *opt = malloc(strlen(list) + 1);
	const char *s = list;
	int r = 0;

	if (!opt)
		return -ENOMEM;
	while (r == 0) {
		char *d = opt;

		while (*s && *s != ',') {
			if (s[0] == '\\' && s[1] != '\0') {
				s++;
				if (is_octal3(s)) {
					*d++ = (char)((s[0] - '0') * 0100 + (s[1] - '0') * 010 + (s[2] - '0'));
					s += 3;
					continue;
				}
			}
			*d++ = *s++;
		}
		*d = '\0';
		if (opt[0])
			r = parse_opt(o, opt);
		if (*s == '\0')
			break;
		s++;
	}
	return r;
}

int shmfs_options_parse(int argc, char **argv, struct shmfs_options *ret)
{
	struct shmfs_options o;
	const char *pos[2];
	int pos_cnt = 0, r = 0;

	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc && r == 0; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-f") == 0) {
			o.foreground = true;
		} else if (strcmp(a, "-d") == 0) {
			o.debug = true;
			o.foreground = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o.help = true;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			o.version = true;
		} else if (strcmp(a, "-o") == 0) {
			if (++i >= argc)
				r = -EINVAL;
			else
				r = parse_opts(&o, argv[i]);
		} else if (strncmp(a, "-o", 2) == 0) {
			r = parse_opts(&o, a + 2);
		} else if (a[0] == '-' && a[1] != '\0') {
			r = -EINVAL;
		} else if (pos_cnt < 2) {
			pos[pos_cnt++] = a;
		} else {
			r = -EINVAL;
		}
	}
	if (r == 0 && !o.help && !o.version && pos_cnt == 0)
		r = -EINVAL;
	if (r == 0 && pos_cnt == 2)
		r = set_str(&o.source, pos[0]);
	if (r == 0 && pos_cnt > 0)
		r = set_str(&o.mountpoint, pos[pos_cnt - 1]);
	if (o.debug && r == 0)
		r = append_fuse_opt(&o, "debug");
	if (r < 0) {
		shmfs_options_free(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void shmfs_options_free(struct shmfs_options *o)
{
	free(o->source);
	free(o->mountpoint);
	free(o->backing);
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		free(o->dir[k]);
	free(o->fuse_opts);
	for (size_t i = 0; i < o->quota_cnt; i++)
		free(o->quota[i]);
	free(o->quota);
	free(o->shared);
	free(o->shared_name);
	free(o->shared_host);
	memset(o, 0, sizeof(*o));
}
