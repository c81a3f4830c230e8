/* sparse.c - where the pages of a sparse file sit, without taking a page
 * for any of its holes. A file another program sized (DPDK with
 * --single-file-segments, fd_shmem) may hold fewer pages than its size; asking
 * the kernel the nodes of its pages needs them mapped, and touching a hole
 * through a shared mapping allocates a page there (hugetlbfs and tmpfs
 * alike). So the mapping is registered with userfaultfd for missing pages
 * with UFFD_FEATURE_SIGBUS: a hole raises SIGBUS (caught by the daemon's
 * guard) instead of being filled, a present page maps as usual, and
 * move_pages() then names the node of each present page. The kernel
 * registers only mappings that may be written: the file must be open
 * read-write (the mapping itself stays read-only). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#define PROBE_BATCH 512

static int touch_one(void *p)
{
	volatile const char *c = p;

	(void)*c;
	return 0;
}

static int uffd_open(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MISSING_HUGETLBFS | UFFD_FEATURE_MISSING_SHMEM,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int shmfs_sparse_nodes(int fd, uint64_t page_sz, uint64_t size, shmfs_nodemask_t *ret,
		       uint64_t *ret_present)
{
	_cleanup_close_ int uffd = -1;
	uint64_t len = (size + page_sz - 1) / page_sz * page_sz, present = 0;
	void *pages[PROBE_BATCH];
	int status[PROBE_BATCH];
	shmfs_nodemask_t m;
	char *map;
	size_t n = 0;
	int r = 0;

	memset(&m, 0, sizeof(m));
	if (len == 0)
		goto out;
	uffd = uffd_open();
	if (uffd < 0)
		return uffd;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	{
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)map, .len = len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			r = -errno;
			munmap(map, len);
			return r;
		}
	}
	for (uint64_t off = 0; off < len; off += page_sz) {
		/* a hole: SIGBUS, nothing allocated */
		if (shmfs_guarded_call(touch_one, map + off) < 0)
			continue;
		pages[n++] = map + off;
		present++;
		if (n == PROBE_BATCH) {
			if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) < 0) {
				r = -errno;
				break;
			}
			for (size_t i = 0; i < n; i++)
				if (status[i] >= 0 && status[i] < SHMFS_NODE_MAX)
					shmfs_bit_set(m.bits, (size_t)status[i]);
			n = 0;
		}
	}
	if (r == 0 && n) {
		if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) < 0)
			r = -errno;
		for (size_t i = 0; r == 0 && i < n; i++)
			if (status[i] >= 0 && status[i] < SHMFS_NODE_MAX)
				shmfs_bit_set(m.bits, (size_t)status[i]);
	}
	munmap(map, len);
	if (r < 0)
		return r;
out:
	*ret = m;
	if (ret_present)
		*ret_present = present;
	return 0;
}
