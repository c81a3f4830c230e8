/* mountinfo.c - see mountinfo.h. */
#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "util.h"

static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

int shmfs_mountinfo_each(int (*fn)(const struct shmfs_mount *m, void *arg), void *arg)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	_cleanup_free_ struct shmfs_mount *m = malloc(sizeof(*m));
	size_t cap = 0;

	if (!f)
		return -errno;
	if (!m)
		return -ENOMEM;
	while (getline(&line, &cap, f) > 0) {
		/* "id parent maj:min root mountpoint options ... - fstype source sbopts" */
		char *sep = strstr(line, " - ");
		unsigned int major, minor;
		int r;

		if (!sep || sscanf(line, "%*s %*s %u:%u %*s %4095s", &major, &minor, m->path) != 3 ||
		    sscanf(sep + 3, "%63s %*s %1023s", m->fstype, m->opts) != 2)
			continue;
		unescape_octal(m->path);
		m->dev = makedev(major, minor);
		r = fn(m, arg);
		if (r != 0)
			return r;
	}
	return 0;
}

struct at_arg {
	const char *path;
	struct shmfs_mount *ret;
	int found;
};

static int at_one(const struct shmfs_mount *m, void *arg)
{
	struct at_arg *a = arg;

	if (strcmp(m->path, a->path) == 0) {
		*a->ret = *m;
		a->found = 0;
	}
	return 0;
}

int shmfs_mountinfo_at(const char *path, struct shmfs_mount *ret)
{
	struct at_arg a = { .path = path, .ret = ret, .found = -ENOENT };
	int r = shmfs_mountinfo_each(at_one, &a);

	return r < 0 ? r : a.found;
}
