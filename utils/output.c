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

const char *ctl_user(uid_t uid, char *buf, size_t sz)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, sz, "%s", pw->pw_name);
	else
		snprintf(buf, sz, "%u", (unsigned)uid);
	return buf;
}

const char *ctl_group(gid_t gid, char *buf, size_t sz)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, sz, "%s", gr->gr_name);
	else
		snprintf(buf, sz, "%u", (unsigned)gid);
	return buf;
}
