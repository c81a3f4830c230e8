/* shared_dev.c - open and map a shared backing (see shared_dev.h). */
#include "shared_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

static int chardev_size(dev_t rdev, uint64_t *ret)
{
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/size", major(rdev), minor(rdev));
	rc = shmfs_read_u64(path, ret);
	return rc == -ENOENT || rc == -EINVAL ? -ENODEV : rc;
}

int shmfs_shared_dev_open(const char *path, bool read_only, int *ret_fd, uint64_t *ret_size)
{
	struct stat st;
	uint64_t size;
	int fd, rc;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISCHR(st.st_mode)) {
		rc = chardev_size(st.st_rdev, &size);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	} else {
		close(fd);
		return -ENODEV;
	}
	*ret_fd = fd;
	*ret_size = size;
	return 0;
}

int shmfs_shared_dev_grow(int fd, uint64_t want, uint64_t *ret_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	if ((uint64_t)st.st_size < want) {
		if (want > (uint64_t)INT64_MAX)
			return -EFBIG;
		if (ftruncate(fd, (off_t)want) < 0)
			return -errno;
		/* what the file really became: sysfs and procfs files take
		 * any size and keep their own */
		if (fstat(fd, &st) < 0)
			return -errno;
	}
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

int shmfs_shared_dev_map(int fd, uint64_t offset, uint64_t len, bool read_only, void **ret)
{
	void *p;

	if (len == 0 || (off_t)offset < 0)
		return -EINVAL;
	p = mmap(NULL, len, PROT_READ | (read_only ? 0 : PROT_WRITE), MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	return 0;
}
