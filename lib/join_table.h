/* join_table.h - the per-process table of joins: entries keyed by backing
 * file identity (or by name for anonymous joins), looked up by key, join
 * handle or address range. Pure bookkeeping, no system calls and no locking:
 * join.c holds the lock around every use, and the unit tests drive it
 * directly. */
#ifndef SHMFS_LIB_JOIN_TABLE_H
#define SHMFS_LIB_JOIN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <shmfs/shmfs.h>

/* Entries live in their own allocations, so a pointer to one stays valid
 * while callbacks add and remove others. */
struct shmfs_join_table {
	shmfs_join_info_t **entry;
	size_t cnt;
	size_t cap;
};

#define SHMFS_JOIN_TABLE_INIT { NULL, 0, 0 }

/* The entry of a region joined from a file, by backing file identity. */
shmfs_join_info_t *shmfs_join_table_find_file(const struct shmfs_join_table *t, dev_t dev, ino_t ino);

/* The anonymous join named name. */
shmfs_join_info_t *shmfs_join_table_find_anon(const struct shmfs_join_table *t, const char *name);

/* The entry whose join handle is join. Entries whose callback is still
 * running have no handle yet and are never found this way. */
shmfs_join_info_t *shmfs_join_table_find_join(const struct shmfs_join_table *t, const void *join);

/* An entry whose memory overlaps [a0, a1] (inclusive, a0 <= a1). */
shmfs_join_info_t *shmfs_join_table_find_addr(const struct shmfs_join_table *t, uintptr_t a0, uintptr_t a1);

/* Add a copy of info; the new entry is returned in *ret. 0 or -ENOMEM. */
int shmfs_join_table_add(struct shmfs_join_table *t, const shmfs_join_info_t *info, shmfs_join_info_t **ret);

/* Remove and free e (an entry of t). */
void shmfs_join_table_remove(struct shmfs_join_table *t, shmfs_join_info_t *e);

/* A malloc'ed copy of every entry (NULL when there are none). 0 or -ENOMEM. */
int shmfs_join_table_snapshot(const struct shmfs_join_table *t, shmfs_join_info_t **ret, size_t *ret_cnt);

/* Free every entry and the table's array (for tests). */
void shmfs_join_table_clear(struct shmfs_join_table *t);

#endif
