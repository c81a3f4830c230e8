/* heap.c - placeholder until the heap work lands. */
#include <errno.h>
#include <shmfs/heap.h>

SHMFS_API int shmfs_heap_peek(const void *mem, size_t mem_sz, shmfs_heap_stats_t *ret_stats)
{
	(void)mem; (void)mem_sz; (void)ret_stats;
	return -ENOMSG;
}
