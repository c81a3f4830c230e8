/* ctlheap.c - make heaps for the shmfsctl heap tests through libshmfs:
 *
 *   ctlheap format PATH          format a heap over the whole region
 *   ctlheap leak PATH CNT SZ     allocate CNT blocks of SZ bytes and die
 *                                (SIGKILL) still holding them
 *   ctlheap hold PATH CNT SZ     allocate, print the pid, hold until killed */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmfs/heap.h>
#include <shmfs/shmfs.h>

static int allocate(const char *path, long cnt, long sz)
{
	shmfs_join_info_t info;
	shmfs_heap_t *heap;
	int r;

	if (!shmfs_join_opts(path, SHMFS_JOIN_RDWR, NULL, &info)) {
		printf("ERR join %s\n", strerror(errno));
		return 1;
	}
	r = shmfs_heap_join(info.shmem, info.sz, &heap);
	if (r < 0) {
		printf("ERR heap join %s\n", strerror(-r));
		return 1;
	}
	for (long i = 0; i < cnt; i++)
		if (!shmfs_heap_malloc(heap, (size_t)sz)) {
			printf("ERR malloc %s\n", strerror(errno));
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "format") == 0) {
		shmfs_join_info_t info;
		void *j = shmfs_join_opts(argv[2], SHMFS_JOIN_RDWR, NULL, &info);
		int r;

		if (!j) {
			printf("ERR join %s\n", strerror(errno));
			return 1;
		}
		r = shmfs_heap_format(info.shmem, info.sz, NULL);
		shmfs_leave(j);
		if (r < 0) {
			printf("ERR format %s\n", strerror(-r));
			return 1;
		}
		printf("OK\n");
		return 0;
	}
	if (argc == 5 && (strcmp(argv[1], "leak") == 0 || strcmp(argv[1], "hold") == 0)) {
		char c;

		if (allocate(argv[2], atol(argv[3]), atol(argv[4])))
			return 1;
		if (strcmp(argv[1], "leak") == 0)
			raise(SIGKILL);
		printf("%d\n", (int)getpid());
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
		pause();
		return 0;
	}
	fprintf(stderr, "usage: ctlheap format PATH | leak PATH CNT SZ | hold PATH CNT SZ\n");
	return 2;
}
