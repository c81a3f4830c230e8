/* output.c - how shmfsctl speaks to people: errors that say what failed, on
 * what, why and what to do; warnings; success lines; human sizes; progress of
 * long reservations on a terminal. The one place a negative errno becomes a
 * sentence. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "parse.h"

int ctl_fail(int r, const char *cmd, const char *on, const char *hint, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmfsctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (on)
		fprintf(stderr, " '%s'", on);
	if (r)
		fprintf(stderr, ": %s", strerror(r < 0 ? -r : r));
	fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "  %s\n", hint);
	return CTL_EXIT_FAIL;
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmfsctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\n  Try 'shmfsctl %s --help'.\n", cmd);
	else
		fprintf(stderr, "\n  Try 'shmfsctl --help'.\n");
	return CTL_EXIT_USAGE;
}

void ctl_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmfsctl %s: warning: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ctl_say(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	if (c->json || c->quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

const char *ctl_size(uint64_t bytes)
{
	static char bufs[8][SHMFS_SIZE_FMT_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];

	return shmfs_format_size(bytes, b, SHMFS_SIZE_FMT_MAX);
}

void ctl_progress(struct ctl *c, const char *what, uint64_t have, uint64_t target, bool done)
{
	if (!c->progress_tty || c->quiet)
		return;
	fprintf(stderr, "\r%s: %llu/%llu pages (%llu%%)%s", what, (unsigned long long)have,
		(unsigned long long)target,
		target ? (unsigned long long)(have * 100 / target) : 100ULL, done ? "\n" : "");
	fflush(stderr);
}

/* Names of users and groups, remembered for the run: a listing of N regions
 * would otherwise read /etc/passwd and /etc/group twice per region. A small
 * table, filled in order, then the first slots reused (most listings name a
 * handful of owners). Single-threaded callers only. */
#define NAME_CACHE 16
struct name_cache {
	unsigned int id[NAME_CACHE];
	char name[NAME_CACHE][64];
	unsigned int cnt, next;
};

static const char *name_cached(struct name_cache *nc, unsigned int id)
{
	for (unsigned int i = 0; i < nc->cnt; i++)
		if (nc->id[i] == id)
			return nc->name[i];
	return NULL;
}

static const char *name_keep(struct name_cache *nc, unsigned int id, const char *name)
{
	unsigned int i = nc->next;

	nc->next = (nc->next + 1) % NAME_CACHE;
	if (nc->cnt < NAME_CACHE)
		nc->cnt++;
	nc->id[i] = id;
	snprintf(nc->name[i], sizeof(nc->name[i]), "%s", name);
	return nc->name[i];
}

const char *ctl_user(uid_t uid, char *buf, size_t sz)
{
	static struct name_cache nc;
	const char *n = name_cached(&nc, (unsigned int)uid);

	if (!n) {
		struct passwd *pw = getpwuid(uid);
		char num[16];

		if (!pw)
			snprintf(num, sizeof(num), "%u", (unsigned)uid);
		n = name_keep(&nc, (unsigned int)uid, pw ? pw->pw_name : num);
	}
	snprintf(buf, sz, "%s", n);
	return buf;
}

const char *ctl_group(gid_t gid, char *buf, size_t sz)
{
	static struct name_cache nc;
	const char *n = name_cached(&nc, (unsigned int)gid);

	if (!n) {
		struct group *gr = getgrgid(gid);
		char num[16];

		if (!gr)
			snprintf(num, sizeof(num), "%u", (unsigned)gid);
		n = name_keep(&nc, (unsigned int)gid, gr ? gr->gr_name : num);
	}
	snprintf(buf, sz, "%s", n);
	return buf;
}
