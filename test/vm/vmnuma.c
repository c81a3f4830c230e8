/* vmnuma.c - the guest side's eyes on page placement, for the multi-node VM
 * test. It maps a region's backing file the way a joining process does
 * (MAP_SHARED, not through FUSE, which would show page-cache copies), asks the
 * kernel with move_pages(2) which node each page sits on, and prints the
 * mapping's /proc/self/numa_maps line as evidence. It also writes and checks a
 * deterministic byte pattern through the same mapping, so a migration can be
 * shown to keep the bytes.
 *
 *   vmnuma nodes FILE        "pages=P allocated=A N0=x N2=y", "layout: 0 0 2 2"
 *                            (the node of each page in file order, - if absent),
 *                            then "numa_maps: ..."
 *   vmnuma fill FILE SEED    write the pattern for SEED over the whole file
 *   vmnuma check FILE SEED   exit 0 when the whole file holds that pattern
 *   vmnuma move FILE NODE    move every page to NODE with move_pages(2), as
 *                            migratepages or NUMA balancing would behind
 *                            shmfs's back; exit 0 when all arrived
 *   vmnuma join PATH [hold]  the same report as nodes, from a shmfs_join() of
 *                            PATH (any libshmfs path form) as an application
 *                            joins; with hold, print "held" and wait for a
 *                            signal: a joined process whose own numa_maps
 *                            must follow the pages when shmfs migrates them
 *
 * Exit status: 0 done, 1 a failure (message on stderr), 2 bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmfs/shmfs.h>

#define MAX_NODES 64
#define MPOL_MF_MOVE_ALL (1 << 2)   /* <numaif.h>, without linking libnuma */

struct mapped {
	uint8_t *addr;
	size_t size;
	size_t page_sz;
	size_t allocated;   /* pages the file had before we touched it */
};

static int map_file(const char *path, int writable, struct mapped *ret)
{
	struct statfs sfs;
	struct stat st;
	void *p;
	int fd;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (st.st_size == 0) {
		close(fd);
		return -ENODATA;
	}
	/* hugetlbfs reports its page size as the block size; tmpfs the base page. */
	ret->page_sz = (size_t)sfs.f_bsize;
	ret->size = (size_t)st.st_size;
	/* st_blocks before any fault of ours: a read fault on a hugetlbfs hole
	 * would allocate a page and hide a region the daemon left unpopulated. */
	ret->allocated = (size_t)st.st_blocks * 512 / ret->page_sz;
	p = mmap(NULL, ret->size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	ret->addr = p;
	return 0;
}

/* Print where the pages of a mapping are: counts per node, the node of each
 * page in order, and this process's numa_maps line for the mapping. */
static int report(const struct mapped *m)
{
	size_t cnt[MAX_NODES] = { 0 }, missing = 0, n, i;
	char line[4096], want[32];
	void **pages;
	int *status;
	FILE *f;

	n = m->size / m->page_sz;
	pages = calloc(n, sizeof(*pages));
	status = calloc(n, sizeof(*status));
	if (!pages || !status)
		return 1;
	for (i = 0; i < n; i++) {
		/* move_pages only reports pages present in our page table. */
		(void)*(volatile uint8_t *)(m->addr + i * m->page_sz);
		pages[i] = m->addr + i * m->page_sz;
	}
	if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) < 0) {
		fprintf(stderr, "vmnuma: move_pages: %s\n", strerror(errno));
		return 1;
	}
	free(pages);
	for (i = 0; i < n; i++) {
		if (status[i] >= 0 && status[i] < MAX_NODES)
			cnt[status[i]]++;
		else
			missing++;
	}
	printf("pages=%zu allocated=%zu", n, m->allocated);
	for (i = 0; i < MAX_NODES; i++)
		if (cnt[i])
			printf(" N%zu=%zu", i, cnt[i]);
	if (missing)
		printf(" missing=%zu", missing);
	printf("\nlayout:");
	for (i = 0; i < n; i++) {
		if (status[i] >= 0)
			printf(" %d", status[i]);
		else
			printf(" -");
	}
	printf("\n");
	free(status);

	snprintf(want, sizeof(want), "%lx ", (unsigned long)m->addr);
	f = fopen("/proc/self/numa_maps", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			printf("numa_maps: %s", line);
	if (f)
		fclose(f);
	fflush(stdout);
	return 0;
}

static int cmd_nodes(const char *path)
{
	struct mapped m;
	int r;

	r = map_file(path, 0, &m);
	if (r < 0) {
		fprintf(stderr, "vmnuma: cannot map %s: %s\n", path, strerror(-r));
		return 1;
	}
	return report(&m);
}

static int cmd_join(const char *path, int hold)
{
	shmfs_join_info_t info;
	shmfs_region_info_t region;
	struct mapped m;
	struct stat st;

	int r = shmfs_region_info(path, &region);

	if (r < 0) {
		fprintf(stderr, "vmnuma: cannot find %s: %s\n", path, strerror(-r));
		return 1;
	}
	if (!shmfs_join_opts(path, SHMFS_JOIN_RDONLY, NULL, &info)) {
		fprintf(stderr, "vmnuma: cannot join %s: %s\n", path, strerror(errno));
		return 1;
	}
	m.addr = info.shmem;
	m.size = (size_t)info.sz;
	m.page_sz = (size_t)info.page_sz;
	/* a join maps without faulting: the blocks are still the daemon's doing */
	m.allocated = stat(region.backing, &st) == 0 ? (size_t)st.st_blocks * 512 / m.page_sz : 0;
	if (report(&m))
		return 1;
	if (!hold)
		return shmfs_leave(info.join) < 0;
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* The pattern: each 64-bit word is a mix of the seed and its offset, so a
 * page moved to the wrong offset or zeroed is caught, not just a lost byte. */
static uint64_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull ^ off;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return x;
}

static int cmd_fill_check(const char *path, uint64_t seed, int fill)
{
	struct mapped m;
	uint64_t *w;
	size_t i;
	int r;

	r = map_file(path, fill, &m);
	if (r < 0) {
		fprintf(stderr, "vmnuma: cannot map %s: %s\n", path, strerror(-r));
		return 1;
	}
	w = (uint64_t *)m.addr;
	for (i = 0; i < m.size / sizeof(*w); i++) {
		uint64_t v = pattern(seed, i * sizeof(*w));

		if (fill) {
			w[i] = v;
		} else if (w[i] != v) {
			fprintf(stderr, "vmnuma: %s differs at offset %zu\n", path, i * sizeof(*w));
			return 1;
		}
	}
	if (fill && msync(m.addr, m.size, MS_SYNC) < 0)
		return 1;
	return 0;
}

static int cmd_move(const char *path, int node)
{
	size_t n, i, moved = 0;
	struct mapped m;
	int *nodes, *status;
	void **pages;
	int r;

	r = map_file(path, 0, &m);
	if (r < 0) {
		fprintf(stderr, "vmnuma: cannot map %s: %s\n", path, strerror(-r));
		return 1;
	}
	n = m.size / m.page_sz;
	pages = calloc(n, sizeof(*pages));
	nodes = calloc(n, sizeof(*nodes));
	status = calloc(n, sizeof(*status));
	if (!pages || !nodes || !status)
		return 1;
	for (i = 0; i < n; i++) {
		(void)*(volatile uint8_t *)(m.addr + i * m.page_sz);
		pages[i] = m.addr + i * m.page_sz;
		nodes[i] = node;
	}
	/* MOVE_ALL: the daemon may map the file too */
	if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, nodes, status, MPOL_MF_MOVE_ALL) < 0) {
		fprintf(stderr, "vmnuma: move_pages: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++)
		moved += status[i] == node;
	free(pages);
	free(nodes);
	free(status);
	if (moved != n) {
		fprintf(stderr, "vmnuma: %zu of %zu pages reached node %d\n", moved, n, node);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "move"))
		return cmd_move(argv[2], atoi(argv[3]));
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "hold"))) && !strcmp(argv[1], "join"))
		return cmd_join(argv[2], argc == 4);
	if (argc == 3 && !strcmp(argv[1], "nodes"))
		return cmd_nodes(argv[2]);
	if (argc == 4 && (!strcmp(argv[1], "fill") || !strcmp(argv[1], "check")))
		return cmd_fill_check(argv[2], strtoull(argv[3], NULL, 0), argv[1][0] == 'f');
	fprintf(stderr, "usage: vmnuma nodes FILE | fill FILE SEED | check FILE SEED | move FILE NODE | join PATH [hold]\n");
	return 2;
}
