/* heap.h - libshmfs heap: a lock-free bitmap allocator inside a region.
 * (Owned by the heap work; this first version fixes the one call the daemon
 * makes so both can be built side by side.) */
#ifndef SHMFS_HEAP_H
#define SHMFS_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include <shmfs/api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmfs_heap_stats {
	uint64_t size;      /* bytes the heap manages */
	uint64_t used;      /* bytes in live blocks */
	uint64_t free;      /* size - used */
	uint64_t alloc_cnt; /* live allocations */
	uint64_t hwm;       /* high-water mark of used */
} shmfs_heap_stats_t;

/* Read the stats of a heap in mem (mem_sz bytes, mapped read-only is enough)
 * without joining it. 0 on success; -ENOMSG when mem does not hold a libshmfs
 * heap (no magic); -EBADMSG when the header is damaged, of another version, or
 * larger than mem_sz. Never writes to mem. Thread-safe. */
SHMFS_API int shmfs_heap_peek(const void *mem, size_t mem_sz, shmfs_heap_stats_t *ret_stats);

#ifdef __cplusplus
}
#endif

#endif
