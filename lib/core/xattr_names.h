/* xattr_names.h - the names and value formats of the extended attributes the
 * daemon serves. The daemon produces them, libshmfs and shmfsctl consume
 * them: this is their one home. All values are plain ASCII without a trailing
 * newline; numbers are decimal. */
#ifndef SHMFS_CORE_XATTR_NAMES_H
#define SHMFS_CORE_XATTR_NAMES_H

#define SHMFS_XATTR_PREFIX "user.shmfs."   /* read-only, served by the daemon */
#define SHMFS_XATTR_USER   "user."         /* anything else under user.: stored */

/* On regions */
#define SHMFS_XATTR_PAGE_TYPE     "user.shmfs.page_type"     /* normal | huge | gigantic */
#define SHMFS_XATTR_PAGE_SZ       "user.shmfs.page_size"     /* bytes */
#define SHMFS_XATTR_PAGE_CNT      "user.shmfs.page_count"    /* pages of st_size */
#define SHMFS_XATTR_NUMA_NODES    "user.shmfs.numa_nodes"    /* list where pages sit now, asked of the kernel ("0", "0-1", "" when empty) */
#define SHMFS_XATTR_POLICY        "user.shmfs.policy"        /* "bind:N"; "split:N0=C0,N1=C1" = C0 pages on node N0, then C1 on N1.
                                                                * Writable once, on an EMPTY region (EBUSY otherwise): "split:..." makes
                                                                * the next size change place page runs per node (shmfsctl create CPU-list). */
#define SHMFS_XATTR_CREATOR_PID   "user.shmfs.creator_pid"   /* 0: no creator process (made to outlive it, or found without metadata): never orphaned.
                                                                * Writing "0" (owner or root) disowns a region: the one write user.shmfs.* accepts. */
#define SHMFS_XATTR_CREATOR_START "user.shmfs.creator_start" /* creator's start time, clock ticks after boot (/proc/PID/stat field 22) */
#define SHMFS_XATTR_CTIME         "user.shmfs.created"       /* creation time, "SECONDS.NANOSECONDS" since the epoch */
#define SHMFS_XATTR_MAPPER_CNT    "user.shmfs.mapper_count"  /* processes mapping the backing file now (all of them) */
#define SHMFS_XATTR_MAPPER_PIDS   "user.shmfs.mapper_pids"   /* "123,456" ascending, "" when none: only the pids the asking process
                                                                * may see in /proc (root all; others those of its own uid and gid) */
#define SHMFS_XATTR_LIFETIME      "user.shmfs.lifetime"      /* "persistent" (default: kept until removed, never orphaned),
                                                                * "process" (the creator's: orphaned once it is gone and nobody maps it),
                                                                * "lock" (another program's file, DPDK's: orphaned once nobody holds a
                                                                * lock on it or maps it). Writable by the owner or root: "persistent"
                                                                * at any time, "process" only while the creator still runs (ESRCH). */
#define SHMFS_XATTR_PROGRAM       "user.shmfs.program"       /* present on another program's file: "dpdk:FILE-PREFIX" */
#define SHMFS_XATTR_ORPHANED      "user.shmfs.orphaned"      /* "true" | "false" by the lifetime's rule; always "false" when persistent */
/* The three above come from one scan of /proc, which the daemon reuses for
 * the same asking process for this long (getfattr -d, a listing of many
 * regions). Another process always gets a fresh answer; the same process
 * that must see changes since it last asked (a re-check before removing)
 * waits this long first. */
#define SHMFS_XATTR_MAPPERS_TTL_MS 100
/* Every attribute of ours a region lists, in one reply (not listed itself):
 * "NAME\0VALUE\0" pairs, in the order listxattr gives them, each value as a
 * getxattr of NAME would give it at that moment. A listing of many regions
 * (shmfsctl info) then costs one request per region, not one per attribute. */
#define SHMFS_XATTR_ALL           "user.shmfs.all"
#define SHMFS_XATTR_BACKING       "user.shmfs.backing"       /* absolute path of the backing file */
#define SHMFS_XATTR_BACKING_ID    "user.shmfs.backing_id"    /* "DEV:INO" of the backing file, decimal st_dev and st_ino */
#define SHMFS_XATTR_HEAP_SZ       "user.shmfs.heap.size"     /* present only when the region holds a libshmfs heap */
#define SHMFS_XATTR_HEAP_USED     "user.shmfs.heap.used"
#define SHMFS_XATTR_HEAP_FREE     "user.shmfs.heap.free"
#define SHMFS_XATTR_HEAP_ALLOC_CNT "user.shmfs.heap.alloc_count"

/* On regions of a shared backing (MOUNT/shared/NAME/REGION) and on NAME:
 * memory several hosts map, see shmfs(8) */
#define SHMFS_XATTR_SHARED_DEVICE "user.shmfs.shared.device" /* the DAX device or file, absolute */
#define SHMFS_XATTR_SHARED_OFFSET "user.shmfs.shared.offset" /* byte offset of the region's extent in it (2 MiB-aligned) */
#define SHMFS_XATTR_SHARED_EXTENT "user.shmfs.shared.extent" /* bytes of the extent (2 MiB multiple, >= st_size) */
#define SHMFS_XATTR_SHARED_MASTER "user.shmfs.shared.master" /* the host that changes the tree (the superblock's) */
#define SHMFS_XATTR_SHARED_HOST   "user.shmfs.shared.host"   /* this daemon's host name */
#define SHMFS_XATTR_SHARED_ROLE   "user.shmfs.shared.role"   /* "master" | "replica" */
#define SHMFS_XATTR_SHARED_SEQ    "user.shmfs.shared.log_records" /* (NAME) records replayed */
#define SHMFS_XATTR_SHARED_FLUSH  "user.shmfs.shared.flush"  /* (NAME) clwb | clflushopt | clflush | fence */

/* On page-type and node directories (pools) */
#define SHMFS_XATTR_POOL_TOTAL    "user.shmfs.pool.total"    /* pages */
#define SHMFS_XATTR_POOL_FREE     "user.shmfs.pool.free"
#define SHMFS_XATTR_POOL_RESERVED "user.shmfs.pool.reserved"
#define SHMFS_XATTR_POOL_SURPLUS  "user.shmfs.pool.surplus"
#define SHMFS_XATTR_POOL_OVERCOMMIT "user.shmfs.pool.overcommit" /* nr_overcommit_hugepages: surplus pages the kernel may add
                                                                    * on demand beyond total (system-wide per page size) */
/* (directories also carry SHMFS_XATTR_PAGE_SZ and SHMFS_XATTR_PAGE_TYPE) */

/* Control files in the tree */
#define SHMFS_FILE_NR_PAGES   ".nr_pages"
#define SHMFS_FILE_FREE_PAGES ".free_pages"
#define SHMFS_FILE_STATUS     ".status"
#define SHMFS_FILE_CONTROL    ".control"
#define SHMFS_FILE_QUOTA      ".quota"

#endif
