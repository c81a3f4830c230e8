/* pool.h - huge page pools per page type and NUMA node: read them, and resize
 * them all-or-nothing (compact and retry when the kernel falls short, restore
 * the previous size when it still cannot). Used by the daemon's .nr_pages
 * files and by shmfsctl alloc/free alike. */
#ifndef SHMFS_CORE_POOL_H
#define SHMFS_CORE_POOL_H

#include <stdint.h>

#include "pagetype.h"

struct shmfs_pool_stat {
	uint64_t total;    /* nr_hugepages on the node (persistent + surplus) */
	uint64_t free;     /* free_hugepages on the node */
	uint64_t surplus;  /* surplus_hugepages on the node */
	uint64_t reserved; /* promised to mappings but not yet faulted; the kernel
			    * counts this only system-wide (resv_hugepages), so it is
			    * reported for the whole page type on every node */
	uint64_t overcommit; /* nr_overcommit_hugepages: surplus pages the kernel may
			      * add on demand beyond the persistent pool (hugeadm
			      * --pool-pages-max sets it); system-wide like reserved */
};

/* Pool numbers of one huge page type on one node. -EINVAL for normal pages,
 * -ENOENT for a node without memory. */
int shmfs_pool_stat(const struct shmfs_page_type *t, int node, struct shmfs_pool_stat *ret);

typedef void (*shmfs_pool_progress_fn)(uint64_t have, uint64_t target, void *ctx);

/* Make the pool of type t on node hold target pages. All-or-nothing: on
 * failure the pool is put back to its previous size and -ENOMEM returned;
 * a target beyond shmfs_pool_max is -ENOMEM before the kernel is asked.
 * Shrinking releases only free pages; asking for fewer pages than regions use
 * is -EBUSY and changes nothing. progress (may be NULL) is called as pages
 * arrive during a long reservation. Needs root (-EACCES otherwise). */
int shmfs_pool_resize(const struct shmfs_page_type *t, int node, uint64_t target,
		      shmfs_pool_progress_fn progress, void *ctx);

/* The same from the numbers cur just read by shmfs_pool_stat (a relative
 * change computed from them is then applied to exactly what it was computed
 * from). Callers that may run concurrently serialise stat and resize. */
int shmfs_pool_resize_from(const struct shmfs_page_type *t, int node,
			   const struct shmfs_pool_stat *cur, uint64_t target,
			   shmfs_pool_progress_fn progress, void *ctx);

/* The most pages of type t the memory of node could ever hold (its
 * MemTotal): a larger pool can never be reached, and asking the kernel for
 * one would first take all of the node's memory. 0 or -errno. */
int shmfs_pool_max(const struct shmfs_page_type *t, int node, uint64_t *ret);

/* Persistent pages of a pool: what a write of nr_hugepages sets (the file
 * reads back persistent + surplus). Never below 0, even from counters read
 * at two moments. */
uint64_t shmfs_pool_persistent(const struct shmfs_pool_stat *s);

/* Ask the kernel to compact memory (/proc/sys/vm/compact_memory). 0 or -errno. */
int shmfs_compact_memory(void);

#endif
