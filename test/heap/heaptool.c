/* heaptool.c - drives a heap in a real shmfs region for the integration test
 * (joined through libshmfs, so the region may sit on huge pages):
 *
 *   heaptool format PATH          format a heap over the whole region
 *   heaptool alloc PATH CNT SZ    allocate CNT blocks of SZ bytes and exit
 *                                 holding them (the owner is then dead)
 *   heaptool stats PATH           print "size used free alloc_count" as
 *                                 shmfs_heap_peek() sees them
 *   heaptool damage PATH          write size class 47 (of 32) into the
 *                                 first span's descriptor, as a process
 *                                 writing garbage into the region would
 * Prints OK (or the stats) on success, "ERR what errno-text" otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmfs/heap.h>
#include <shmfs/shmfs.h>

#include "heap_impl.h" /* the on-memory format, to damage it */

/* Static, so a process that exits holding its blocks (on purpose: the test
 * wants live allocations left behind) is not reported as a leak by LSan. */
static shmfs_heap_t *heap;

int main(int argc, char **argv)
{
	shmfs_join_info_t info;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	void *j;
	int r = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: heaptool format|alloc|stats|damage PATH [CNT SZ]\n");
		return 2;
	}
	j = shmfs_join_opts(argv[2], SHMFS_JOIN_RDWR, NULL, &info);
	if (!j) {
		printf("ERR join %s\n", strerror(errno));
		return 1;
	}
	if (!strcmp(argv[1], "format")) {
		r = shmfs_heap_format(info.shmem, info.sz, NULL);
	} else if (!strcmp(argv[1], "alloc") && argc == 5) {
		r = shmfs_heap_join(info.shmem, info.sz, &heap);
		for (long i = 0; r == 0 && i < atol(argv[3]); i++)
			if (!shmfs_heap_malloc(heap, (size_t)atol(argv[4])))
				r = -errno;
	} else if (!strcmp(argv[1], "damage")) {
		const struct heap_hdr *hdr = info.shmem;
		uint64_t *desc = (uint64_t *)((uint8_t *)info.shmem + hdr->desc_off);

		r = -ENOENT;
		for (uint64_t b = 0; b < hdr->blk_cnt; b++)
			if (D_KIND(desc[b]) == K_SMALL) {
				desc[b] = D_MAKE(D_OWNER(desc[b]), K_SMALL, 47, D_GEN(desc[b]));
				r = 0;
				break;
			}
	} else if (!strcmp(argv[1], "stats")) {
		r = shmfs_heap_peek(info.shmem, info.sz, &st);
		if (r == 0) {
			printf("%llu %llu %llu %llu\n", (unsigned long long)st.size, (unsigned long long)st.used,
			       (unsigned long long)st.free, (unsigned long long)st.alloc_cnt);
			return 0;
		}
	} else {
		fprintf(stderr, "heaptool: bad command\n");
		return 2;
	}
	if (r < 0) {
		printf("ERR %s %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("OK\n");
	return 0;
}
