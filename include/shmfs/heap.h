/* heap.h - libshmfs heap: a lock-free bitmap allocator inside a region.
 *
 * A heap lives entirely inside caller memory (normally a joined shmfs region)
 * and is shared by every process that maps that memory, at any address.
 * Allocations are named by offsets from the start of the memory (0 is the
 * null offset), so an offset handed from one process to another means the
 * same bytes in both. Allocation and free are lock-free and async-signal-safe;
 * a process killed at any instruction leaves the heap consistent, and what it
 * held stays attributed to it until shmfs_heap_reclaim() frees it.
 *
 * Layout, in short: the memory is cut into 4 KiB blocks. Small requests (up
 * to 8 KiB, 32 size classes spaced at most 25% apart) are served from spans
 * of 1 to 16 blocks cut into equal units, one allocation bit per unit; larger
 * requests take runs of whole blocks. Every block has a 64-bit descriptor
 * (owner, kind, class, generation) that is changed by one atomic word
 * write, by compare-and-swap wherever another party could change it at the
 * same time (a plain store only where one thread has the block to itself: a
 * run it is claiming, a run it keeps), so every step of every operation is
 * either done or not done. A span belongs
 * to the process (owner) that claimed it; one thread of that process at a
 * time (its holder) allocates from it, without locked instructions; any
 * thread of any process may free into it (one compare-and-swap). A large
 * run (up to 256 KiB) that a thread of its owner frees is kept by that
 * thread, up to 4 of them, for its next allocation of the same size: one
 * compare-and-swap to free and a plain store to allocate instead of one
 * compare-and-swap per block each way. A kept run is no allocation (free
 * refuses it, stats count it in footprint, not in used); trim, leave and
 * reclaim give kept runs back like spans. Metadata takes
 * about 3.5% of the memory (faulted in as it is used where the memory
 * allows: see shmfs_heap_format()).
 *
 * Errors: functions returning int return 0 or a negative errno. Allocation
 * functions return an offset, or 0 with errno set. Nothing here logs.
 *
 * Untrusted memory: any process that can write the memory can write garbage
 * into the heap's metadata. Every value read from it (kind, class, owner
 * slot, run length, generation, bitmap words, header offsets) is checked
 * before it indexes, bounds a loop or makes an address, so damage never
 * makes a call crash, write outside the memory, or succeed on a damaged
 * block: free gives -EUCLEAN (or -EINVAL), stats and peek -EUCLEAN,
 * usable_size 0, check says what is wrong, reclaim skips and counts it, and
 * allocation never takes from a damaged span (spans are checked when a
 * thread takes one; the fast paths only bound what they index). Damage
 * written into a span while a thread allocates from it is not seen until
 * that thread lets the span go; likewise damage written into the body
 * blocks of a large run that a thread took back from the runs it keeps is
 * not seen by that thread's free of it (the bodies were checked when the
 * run was first kept), only when the run is given back, which then
 * refuses it (check reports it).
 *
 * Crashes: every allocation belongs to the owner slot (process) that made
 * it, whoever frees it. A process killed at any instruction leaves only
 * states that check accepts and reclaim completes or rolls back; reclaim
 * then frees exactly what the dead process still held. Allocations that a
 * dead process handed to others are freed too: transfer ownership by copying
 * if the data must outlive its allocator.
 *
 * Limits: at most 4095 owner slots; at most 2^32 - 1 blocks (16 TiB: larger
 * memory is used up to that size); a thread keeps a small per-thread cache
 * (initial-exec TLS, about 1.2 KiB) of the heap it used last and holds at
 * most one span per size class of each heap it used; alignment
 * above the page size holds for offsets, and for pointers only when the
 * mapping address is aligned as much.
 *
 * Hosts: memory several hosts map (a region of a shared backing) holds
 * heaps that processes of every host use. An owner slot names the host of
 * its process (shmfs_heap_host_id()) beside the pid, and reclaim judges only
 * the processes of its own host, by its own /proc: a process of another host
 * is never taken for dead because a pid is free here.
 *
 * Handles: shmfs_heap_join() returns a process-local handle (shmfs_heap_t);
 * every join is paired with one shmfs_heap_leave(). A handle registers an
 * owner slot (host, pid and process start time) in the heap; after fork() the
 * child must join again with its own handle (allocations through the
 * parent's handle would be attributed to the parent, and made from spans
 * of their own).
 */
#ifndef SHMFS_HEAP_H
#define SHMFS_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include <shmfs/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Constants of the on-memory format (version 3: owner slots name their
 * host; a heap of version 2 is refused as of another version). */
#define SHMFS_HEAP_BLOCK_SZ  4096u   /* allocation granule of the large path */
#define SHMFS_HEAP_SMALL_MAX 8192u   /* largest request served from a span */
#define SHMFS_HEAP_ALIGN     16u     /* alignment of every allocation */
#define SHMFS_HEAP_OWNER_MAX 4095u   /* most owner slots a heap can have */

typedef struct shmfs_heap shmfs_heap_t;

/* Structs the heap fills in (stats, reclaim stats) start with sz: set it to
 * sizeof the struct before the call, so that the struct can grow without
 * breaking callers built against a shorter one. The library fills the
 * fields that lie wholly within both the caller's sz and its own struct,
 * then sets sz to the bytes it filled (a caller built against a longer
 * struct sees which fields an older library left alone; it never writes
 * past the caller's sz). sz smaller than the first version's struct (up to
 * and including the last field marked "first version") is refused with
 * -EINVAL, the struct left untouched. Fields are only ever appended. */
typedef struct shmfs_heap_stats {
	size_t sz;          /* in: sizeof(shmfs_heap_stats_t); out: bytes filled */
	uint64_t size;      /* bytes the heap can hand out (blocks x block size) */
	uint64_t used;      /* bytes in live allocations (rounded to their class) */
	uint64_t free;      /* size - used */
	uint64_t alloc_cnt; /* live allocations */
	uint64_t hwm;       /* high-water mark of footprint (bytes of blocks taken);
			       best effort: a process killed while taking blocks
			       may leave it a little short */
	uint64_t footprint; /* bytes of blocks taken by spans and large runs now
			       (runs threads keep for reuse included) */
	uint64_t owner_cnt; /* owner slots in use (joined, left with live blocks, or dead) */
	uint64_t owner_max; /* owner slots the heap was formatted with (first version) */
	/* Fields appended later go here. */
} shmfs_heap_stats_t;

/* Options of shmfs_heap_format(). Start with sz = sizeof(struct
 * shmfs_heap_format_opts) so fields can be added later; NULL means defaults. */
struct shmfs_heap_format_opts {
	size_t sz;
	uint32_t owner_max; /* owner slots (joins) the heap can track; 0 = 256 */
};

/* Lay out a new, empty heap in mem (mem_sz bytes, writable, 4096-aligned
 * recommended). Overwrites whatever mem held; do not format memory that other
 * processes are using. The heap uses at most mem_sz bytes and records that
 * size, so a later join or peek with a shorter mapping is refused. In a
 * shared mapping of base pages (Linux 6.11 or later tells), the metadata is
 * zeroed by giving its pages back (MADV_REMOVE), so that it takes memory
 * only as it is used; elsewhere it is written with zeros.
 * Errors: -EINVAL mem NULL or misaligned (not 16-byte aligned), opts->sz too
 * small, owner_max > SHMFS_HEAP_OWNER_MAX; -ENOSPC mem_sz too small for the
 * metadata plus 16 blocks. Not thread-safe with respect to users of mem. */
SHMFS_API int shmfs_heap_format(void *mem, size_t mem_sz, const struct shmfs_heap_format_opts *opts);

/* Join the heap in mem (mem_sz = the size of the mapping; the mapping may be
 * at a different address in every process). Validates the header (magic,
 * version, checksum, every offset against mem_sz) and registers an owner slot
 * for the calling process (pid + start time). *ret_heap is malloc'ed.
 * Errors: -EINVAL mem or ret_heap NULL; -ENOMSG no heap magic (foreign
 * memory); -EBADMSG damaged header, other version, or heap larger than mem_sz
 * (truncated mapping); -EUSERS every owner slot is taken (run reclaim);
 * -ENOMEM. Not async-signal-safe (uses malloc); thread-safe. */
SHMFS_API int shmfs_heap_join(void *mem, size_t mem_sz, shmfs_heap_t **ret_heap);

/* End a join. The caller's live allocations stay allocated and attributed to
 * its owner slot (other processes may still be using them); the spans its
 * threads hold are let go; when the slot owns nothing any more it is
 * released. The handle must not be used by any thread afterwards (nor
 * concurrently with leave). NULL is a no-op. Returns 0. */
SHMFS_API int shmfs_heap_leave(shmfs_heap_t *heap);

/* Allocate sz bytes (1 .. most of the heap), 16-byte aligned. Returns the
 * offset from the start of mem, or 0 with errno = ENOMEM (no room; the heap
 * is unchanged) or EINVAL (heap NULL). sz 0 is treated as 1.
 * Lock-free and async-signal-safe (no locks, no syscalls, no libc calls):
 * may be called from signal handlers, including one that interrupted
 * malloc or free on the same heap. Thread-safe. */
SHMFS_API uint64_t shmfs_heap_malloc(shmfs_heap_t *heap, size_t sz);

/* Like shmfs_heap_malloc() for cnt * sz bytes, zero-filled. errno ENOMEM
 * also on multiplication overflow. Same safety as malloc. */
SHMFS_API uint64_t shmfs_heap_calloc(shmfs_heap_t *heap, size_t cnt, size_t sz);

/* Allocate sz bytes at an offset that is a multiple of align (a power of two;
 * values below 16 mean 16). The pointer is aligned as well whenever the
 * mapping address is a multiple of align, which mmap guarantees up to the
 * page size. Returns 0 with errno EINVAL when align is not a power of two,
 * ENOMEM when no room. Same safety as malloc. */
SHMFS_API uint64_t shmfs_heap_aligned_alloc(shmfs_heap_t *heap, size_t align, size_t sz);

/* Free the allocation at off. off 0 is a no-op returning 0. Any process may
 * free any allocation. Returns -EINVAL, touching nothing, when off is not the
 * start of a live allocation: outside the heap, inside metadata, not the first
 * byte of an allocation, or already freed (double free); -EUCLEAN, touching
 * nothing, when the metadata of the block is damaged (see shmfs_heap_check()).
 * A free racing with another free of the same offset succeeds once and fails
 * once. The offset is the only name of an allocation: a double free still in
 * flight when the offset is handed out again may free the new allocation (as
 * if it came after that malloc), and the new owner's free is then the refused
 * one; allocations are still freed exactly once. Freeing an allocation of a
 * dead process after shmfs_heap_reclaim() released it is a use after free
 * the heap cannot always detect. Same safety as malloc. */
SHMFS_API int shmfs_heap_free(shmfs_heap_t *heap, uint64_t off);

/* Give back to the heap every span of the caller's owner slot that has no
 * live allocation, including the calling thread's current spans and those
 * that threads which have exited still held, and the large runs those
 * threads keep (a thread keeps its current
 * span of each class even when empty, so that malloc+free pairs stay
 * cheap; a thread that exits leaves them behind); spans of exited threads
 * that still hold allocations become available to the other threads again.
 * The current spans of other living threads stay theirs. Allocation does
 * this by itself before reporting ENOMEM, and leave does it too; call it
 * after threads exit or when memory should go back for others. Returns the
 * blocks given back, or -EINVAL. Lock-free and async-signal-safe, but walks
 * every block descriptor (O(heap size)) and asks the kernel (tgkill with
 * signal 0) whether the threads holding spans are alive: a thread counts as
 * exited once the kernel has finished its exit, which may be a moment after
 * pthread_join() returned. */
SHMFS_API int64_t shmfs_heap_trim(shmfs_heap_t *heap);

/* Usable bytes of the live allocation at off (its class size, or its whole
 * blocks), 0 when off is not a live allocation or its metadata is damaged.
 * Async-signal-safe. */
SHMFS_API size_t shmfs_heap_usable_size(const shmfs_heap_t *heap, uint64_t off);

/* Translate between offsets and this process's addresses. ptr(0) is NULL and
 * off(NULL) is 0; an offset or pointer outside the mapping translates to
 * NULL / 0. Async-signal-safe. */
SHMFS_API void *shmfs_heap_ptr(const shmfs_heap_t *heap, uint64_t off);
SHMFS_API uint64_t shmfs_heap_off(const shmfs_heap_t *heap, const void *ptr);

/* Stats of a joined heap (see shmfs_heap_stats_t). used and alloc_cnt are
 * counted from the allocation bitmaps, so they are exact whenever no
 * operation is in flight, also after crashes; under concurrent use they are a
 * momentary view. 0, -EINVAL (heap or ret_stats NULL, ret_stats->sz too
 * small), or -EUCLEAN when a descriptor or span bitmap is damaged (the
 * counts would be garbage and are zeroed; check says where). Thread-safe,
 * not async-signal-safe. */
SHMFS_API int shmfs_heap_stats(const shmfs_heap_t *heap, shmfs_heap_stats_t *ret_stats);

/* Read the stats of a heap in mem (mem_sz bytes, mapped read-only is enough)
 * without joining it. 0 on success; -ENOMSG when mem does not hold a libshmfs
 * heap (no magic); -EBADMSG when the header is damaged, of another version, or
 * larger than mem_sz; -EINVAL and -EUCLEAN as stats. Never writes to mem.
 * Thread-safe. */
SHMFS_API int shmfs_heap_peek(const void *mem, size_t mem_sz, shmfs_heap_stats_t *ret_stats);

/* Full consistency check of the heap in mem without joining it (read-only):
 * header, every block descriptor (kind, class, owner slot, run geometry),
 * span bitmaps (generation tags, padding), owner table. On a heap in use,
 * operations in flight are legal states, so check never reports them.
 * Returns 0 when consistent, -ENOMSG / -EBADMSG as peek, -EUCLEAN when an
 * inconsistency was found; then the first one is described in msg (msg_sz
 * bytes, may be NULL). Thread-safe. */
SHMFS_API int shmfs_heap_check(const void *mem, size_t mem_sz, char *msg, size_t msg_sz);

/* What shmfs_heap_reclaim() released. */
typedef struct shmfs_heap_reclaim_stats {
	size_t sz;          /* in: sizeof(shmfs_heap_reclaim_stats_t); out: bytes
			       filled (see shmfs_heap_stats_t) */
	uint64_t owner_cnt; /* dead owner slots released */
	uint64_t alloc_cnt; /* live allocations of dead owners freed */
	uint64_t bytes;     /* bytes of those allocations (as counted in stats.used) */
	uint64_t blocks;    /* blocks returned to the heap */
	uint64_t damaged;   /* blocks skipped: damaged as check reports them
			       (first version) */
	uint64_t foreign;   /* owner slots of processes of other hosts, not
			       judged: run reclaim on their host (0.2) */
	/* Fields appended later go here. */
} shmfs_heap_reclaim_stats_t;

/* Free everything owned by owners whose process is dead (exited, or a
 * different process now has the pid) - processes of this host only: an
 * owner of another host (see shmfs_heap_host_id()) is skipped and counted in
 * ret_stats->foreign; one a reclaim on its host found dead (and left with
 * damaged blocks) is finished here too - complete or roll back the operations
 * they were killed in, and release their owner slots. Live processes are
 * unaffected and may keep working concurrently. Needs mem writable; does not
 * join. ret_stats may be NULL. Every block it would act on is first checked
 * as shmfs_heap_check() checks it; a damaged one is skipped, counted in
 * ret_stats->damaged, and its owner slot kept. Returns 0; -EUCLEAN when it
 * skipped damaged blocks (ret_stats then says what it did do: run
 * shmfs_heap_check() for the first damage); -ENOMSG / -EBADMSG as peek;
 * -EINVAL, doing nothing, when ret_stats->sz is too small; -ENOMEM.
 * Thread-safe; several reclaims may run at once. */
SHMFS_API int shmfs_heap_reclaim(void *mem, size_t mem_sz, shmfs_heap_reclaim_stats_t *ret_stats);

/* The identity of this process's host as owner slots record it: a hash, in
 * 28 bits and never 0, of the environment variable SHMFS_HOST_ID when set
 * (for hosts whose machine-id is not unique, such as clones of one image),
 * else of /etc/machine-id (or /var/lib/dbus/machine-id), else of the host
 * name. Read once per process. Async-signal-safe after the first call. */
SHMFS_API uint32_t shmfs_heap_host_id(void);

/* An owner slot in use, as shmfs_heap_owners() lists it. */
typedef struct shmfs_heap_owner {
	uint32_t slot;       /* index in the owner table */
	uint32_t pid;        /* on host host_id */
	uint32_t host_id;    /* see shmfs_heap_host_id() */
	uint32_t dead;       /* 1: a reclaim found the process dead and has not
				released the slot yet (damaged blocks); 0: joined,
				or left with live allocations, or dead but not
				yet reclaimed */
	uint32_t local;      /* 1 when host_id is this process's host */
	uint32_t pad;
	uint64_t start_time; /* process start, clock ticks after its host's boot;
				0 unknown */
	char host[16];       /* the host's name, at most 15 bytes, as the owner
				wrote it (printable ASCII, '?' for anything else) */
	uint64_t reserved[2];
} shmfs_heap_owner_t;

/* The owner slots in use of the heap in mem (mapped read-only is enough),
 * without joining it: fills ret[0..cap) (cap 0: only count) and returns how
 * many are in use (more than cap: call again with room). -ENOMSG / -EBADMSG
 * as peek; -EINVAL ret NULL with cap > 0. A momentary view under concurrent
 * joins. Never writes to mem. Thread-safe. */
SHMFS_API int shmfs_heap_owners(const void *mem, size_t mem_sz, shmfs_heap_owner_t *ret, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
