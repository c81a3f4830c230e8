/* util.c - whole-file reads and writes of kernel text files. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "parse.h"

ssize_t shmfs_read_text(const char *path, char *buf, size_t buf_sz)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (buf_sz == 0)
		return -EINVAL;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, buf_sz - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == buf_sz)
			return -EFBIG;
	}
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return (ssize_t)len;
}

int shmfs_read_u64(const char *path, uint64_t *ret)
{
	char buf[64];
	ssize_t n = shmfs_read_text(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return shmfs_parse_u64(buf, ret);
}

int shmfs_write_text(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int shmfs_write_u64(const char *path, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, val);
	return shmfs_write_text(path, buf);
}

int shmfs_opendir_dup(int dirfd, DIR **ret)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* the duplicate shares dirfd's position: start over */
	rewinddir(d);
	*ret = d;
	return 0;
}
