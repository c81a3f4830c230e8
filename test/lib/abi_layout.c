/* abi_layout.c - print the size, alignment and field offsets of every public
 * struct of libshmfs (shmfs.h and heap.h) and the values of the public
 * constants, one per line. abi.sh compares the output with the checked-in
 * table abi_layout.<machine>.txt: a change there is an ABI change, made on
 * purpose and seen in review (new fields of an options struct go at its
 * end; any other change needs a new version node for the functions using
 * the struct). */
#include <stddef.h>
#include <stdio.h>

#include <shmfs/heap.h>
#include <shmfs/shmfs.h>

#define STRUCT(T)   printf("%s size %zu align %zu\n", #T, sizeof(T), _Alignof(T))
#define FIELD(T, f) printf("%s.%s offset %zu size %zu\n", #T, #f, offsetof(T, f), sizeof(((T *)0)->f))
#define CONST(c)    printf("%s = %lld\n", #c, (long long)(c))

int main(void)
{
	STRUCT(shmfs_region_info_t);
	FIELD(shmfs_region_info_t, path);
	FIELD(shmfs_region_info_t, backing);
	FIELD(shmfs_region_info_t, name);
	FIELD(shmfs_region_info_t, page_type);
	FIELD(shmfs_region_info_t, node);
	FIELD(shmfs_region_info_t, page_sz);
	FIELD(shmfs_region_info_t, page_cnt);
	FIELD(shmfs_region_info_t, sz);
	FIELD(shmfs_region_info_t, dev);
	FIELD(shmfs_region_info_t, ino);
	FIELD(shmfs_region_info_t, uid);
	FIELD(shmfs_region_info_t, gid);
	FIELD(shmfs_region_info_t, mode);

	STRUCT(struct shmfs_node_pages);
	FIELD(struct shmfs_node_pages, page_cnt);
	FIELD(struct shmfs_node_pages, node);

	STRUCT(struct shmfs_region_create_opts);
	FIELD(struct shmfs_region_create_opts, sz);
	FIELD(struct shmfs_region_create_opts, flags);
	FIELD(struct shmfs_region_create_opts, split);
	FIELD(struct shmfs_region_create_opts, split_cnt);

	STRUCT(shmfs_join_info_t);
	FIELD(shmfs_join_info_t, ref_cnt);
	FIELD(shmfs_join_info_t, join);
	FIELD(shmfs_join_info_t, shmem);
	FIELD(shmfs_join_info_t, page_sz);
	FIELD(shmfs_join_info_t, page_cnt);
	FIELD(shmfs_join_info_t, sz);
	FIELD(shmfs_join_info_t, flags);
	FIELD(shmfs_join_info_t, anonymous);
	FIELD(shmfs_join_info_t, dev);
	FIELD(shmfs_join_info_t, ino);
	FIELD(shmfs_join_info_t, name);
	FIELD(shmfs_join_info_t, reserved);

	STRUCT(struct shmfs_join_opts);
	FIELD(struct shmfs_join_opts, sz);
	FIELD(struct shmfs_join_opts, join_fn);
	FIELD(struct shmfs_join_opts, ctx);

	STRUCT(struct shmfs_leave_opts);
	FIELD(struct shmfs_leave_opts, sz);
	FIELD(struct shmfs_leave_opts, leave_fn);
	FIELD(struct shmfs_leave_opts, ctx);

	STRUCT(shmfs_heap_stats_t);
	FIELD(shmfs_heap_stats_t, sz);
	FIELD(shmfs_heap_stats_t, size);
	FIELD(shmfs_heap_stats_t, used);
	FIELD(shmfs_heap_stats_t, free);
	FIELD(shmfs_heap_stats_t, alloc_cnt);
	FIELD(shmfs_heap_stats_t, hwm);
	FIELD(shmfs_heap_stats_t, footprint);
	FIELD(shmfs_heap_stats_t, owner_cnt);
	FIELD(shmfs_heap_stats_t, owner_max);

	STRUCT(struct shmfs_heap_format_opts);
	FIELD(struct shmfs_heap_format_opts, sz);
	FIELD(struct shmfs_heap_format_opts, owner_max);

	STRUCT(shmfs_heap_reclaim_stats_t);
	FIELD(shmfs_heap_reclaim_stats_t, sz);
	FIELD(shmfs_heap_reclaim_stats_t, owner_cnt);
	FIELD(shmfs_heap_reclaim_stats_t, alloc_cnt);
	FIELD(shmfs_heap_reclaim_stats_t, bytes);
	FIELD(shmfs_heap_reclaim_stats_t, blocks);
	FIELD(shmfs_heap_reclaim_stats_t, damaged);
	FIELD(shmfs_heap_reclaim_stats_t, foreign);

	STRUCT(shmfs_heap_owner_t);
	FIELD(shmfs_heap_owner_t, slot);
	FIELD(shmfs_heap_owner_t, pid);
	FIELD(shmfs_heap_owner_t, host_id);
	FIELD(shmfs_heap_owner_t, dead);
	FIELD(shmfs_heap_owner_t, local);
	FIELD(shmfs_heap_owner_t, start_time);
	FIELD(shmfs_heap_owner_t, host);
	FIELD(shmfs_heap_owner_t, reserved);

	CONST(SHMFS_VERSION_MAJOR);
	CONST(SHMFS_VERSION_MINOR);
	CONST(SHMFS_REGION_NAME_MAX);
	CONST(SHMFS_LOG_ERR);
	CONST(SHMFS_LOG_WARNING);
	CONST(SHMFS_LOG_DEBUG);
	CONST(SHMFS_CREATE_PROCESS_LIFETIME);
	CONST(SHMFS_CREATE_DISOWN);
	CONST(SHMFS_CREATE_EXACT_MODE);
	CONST(SHMFS_SPLIT_MAX);
	CONST(SHMFS_JOIN_RDONLY);
	CONST(SHMFS_JOIN_RDWR);
	CONST(SHMFS_JOIN_MLOCK);
	CONST(SHMFS_JOIN_DONTDUMP);
	CONST(SHMFS_JOIN_RANDOM_ADDR);
	CONST(SHMFS_HEAP_BLOCK_SZ);
	CONST(SHMFS_HEAP_SMALL_MAX);
	CONST(SHMFS_HEAP_ALIGN);
	CONST(SHMFS_HEAP_OWNER_MAX);
	return 0;
}
