/* backing_path.c - the default backing root of a mountpoint. */
#include "backing_path.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int shmfs_escape_path(const char *path, char *buf, size_t buf_sz)
{
	size_t o = 0;
	const char *p = path;
	size_t len;

	while (*p == '/')
		p++;
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	if (len == 0) {
		if (buf_sz < 2)
			return -ENAMETOOLONG;
		strcpy(buf, "-");
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		char tmp[8];
		size_t n;

		if (c == '/') {
			/* systemd collapses repeated slashes */
			if (i > 0 && p[i - 1] == '/')
				continue;
			tmp[0] = '-';
			tmp[1] = '\0';
		} else if (isalnum(c) || c == ':' || c == '_' || (c == '.' && i > 0)) {
			tmp[0] = (char)c;
			tmp[1] = '\0';
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		}
		n = strlen(tmp);
		if (o + n + 1 > buf_sz)
			return -ENAMETOOLONG;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o] = '\0';
	return 0;
}

int shmfs_backing_default(const char *mountpoint, bool is_root, char **ret)
{
	char esc[PATH_MAX];
	char *s;
	const char *base = "/run/shmfs";
	_cleanup_free_ char *user_base = NULL;
	int r;

	r = shmfs_escape_path(mountpoint, esc, sizeof(esc));
	if (r < 0)
		return r;
	if (!is_root) {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (!xdg || xdg[0] != '/')
			return -ENOENT;
		if (asprintf(&user_base, "%s/shmfs", xdg) < 0)
			return -ENOMEM;
		base = user_base;
	}
	if (asprintf(&s, "%s/%s", base, esc) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

