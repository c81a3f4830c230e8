/* heap_impl.h - the heap's on-memory format and the helpers shared by the
 * management half (heap.c: format, join, peek, check, reclaim) and the
 * allocation half (heap_alloc.c). Private to libshmfs.
 *
 * Memory layout (offsets from the start of the heap memory):
 *   0      struct heap_hdr (immutable after format, checksummed)
 *   256    struct heap_mut (footprint counters, own cache line)
 *   4096   owner table: owner_max x struct heap_owner
 *          desc[blk_cnt]   u64 block descriptors
 *          aux[blk_cnt]    u32 run length (head) or head index (body)
 *          hold[blk_cnt]   u32 span head: the thread allocating from it, 0 none
 *          bmap[blk_cnt][HEAP_BMAP_STRIDE] span bitmaps (head only): words
 *                          0-7 `alloc`, 8-15 `freed` (see below)
 *          used[words]     hint: 1 = block probably taken (for run search)
 *          hint[class][words] hint: span head of that class probably has room
 *          data            blk_cnt blocks of 4 KiB, 4 KiB aligned
 *
 * The descriptors are the truth; the two hint bitmaps only speed up searches
 * and are allowed to be wrong (a wrong 0 costs a failed CAS, a wrong 1 in
 * `used` hides a free block until reclaim resynchronises it).
 *
 * Spans: a unit is live when its bit is set in `alloc` and clear in `freed`.
 * Only the span's holder (one thread of the owner process, named in hold[],
 * claimed by CAS) writes `alloc`, with plain stores: that is why malloc needs
 * no locked instruction. Every free, by anyone, sets the unit's bit in
 * `freed` by CAS; the holder collects `freed` when it runs out of room
 * (clears those `alloc` bits, then clears `freed` by a CAS that also bumps
 * its epoch). The high 32 bits of an `alloc` word are the span's generation
 * (a tag: a free that read the span before it was recycled fails), those of
 * a `freed` word an epoch that grows at every collection and span birth, so
 * that a free racing with a collection retries and sees the unit free (exact
 * double-free detection). Frees by the holder itself take the same CAS: a
 * plain store there could race with another thread's (double) free of the
 * same unit, and both would succeed; exactly-once needs a locked
 * instruction on one side of every free. Invariant outside a collection:
 * freed is a subset of alloc. Only unheld spans are retired (CAS on the descriptor, then read
 * hold: the mirror of a claim, which CASes hold, then reads the descriptor).
 *
 * Functions and tables shared between the two files are named shmfs_heap__*:
 * the shared library hides them, but a static library cannot, so they stay
 * inside the library's own name space instead of taking names like
 * heap_view from the application.
 */
#ifndef SHMFS_HEAP_IMPL_H
#define SHMFS_HEAP_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shmfs/heap.h>

#include "heap_classes.h"

#define HEAP_MAGIC        0x5041454846534d48ull /* "HMSFHEAP" */
#define HEAP_VERSION      3u
#define HEAP_BLOCK_SHIFT  12
#define HEAP_BLOCK_SZ     (1ull << HEAP_BLOCK_SHIFT)
#define HEAP_CLASS_CNT    32 /* lines of HEAP_CLASS_TABLE (asserted) */
#define HEAP_CLASS_LARGE  63u /* class field of a retiring large run */
#define HEAP_BMAP_WORDS   8   /* 8 x 32 unit bits = 256 units of class 16 */
#define HEAP_BMAP_STRIDE  16  /* words per block: 8 `alloc` + 8 `freed`, two
				 cache lines of their own, so spans of
				 different holders never share one */
#define HEAP_FREED        8   /* index of the first `freed` word */
#define HEAP_UNIT_BITS    32  /* low bits of a bitmap word; the high 32 are a
				 tag: the span's generation */
#define HEAP_UNIT_MASK    ((1ull << HEAP_UNIT_BITS) - 1)
#define HEAP_MIN_BLOCKS   16
/* Block indexes and run lengths are kept in 32 bits (aux, the thread cache,
 * UINT32_MAX meaning none): a heap has fewer blocks than that (16 TiB). */
#define HEAP_MAX_BLOCKS   (UINT32_MAX - 1ull)
#define HEAP_OWNER_OFF    4096u
#define HEAP_OWNER_DEFAULT 256u

/* Block descriptor: owner (24 bits: slot index + 1 in the low 12, slot
 * generation in the high 12), kind (4), class (6), generation (30). The
 * generation grows on every claim and free, so a CAS from a value read
 * earlier fails if the block was recycled meanwhile (no ABA). */
enum {
	K_FREE = 0,   /* not taken; owner 0 */
	K_CLAIM = 1,  /* being claimed by owner (run not committed yet) */
	K_SMALL = 2,  /* head of a span of class `class`, owned by owner */
	K_LARGE = 3,  /* head of a large allocation of aux blocks */
	K_BODY = 4,   /* non-head block of a run; aux = head index */
	K_RETIRE = 5, /* head being freed (large) or retired when empty (span) */
	K_FREEING = 6, /* head whose run is being released: the point of no
			  return (a retire can no longer be rolled back) */
	K_CACHED = 7, /* head of a free large run kept by one thread of its
			 owner for its next allocation of that size (hold[]
			 names the thread); not an allocation: free refuses
			 it, stats do not count it as used */
};
#define HEAP_KIND_MAX K_CACHED

#define D_OWNER(d) ((uint32_t)((d) & 0xffffff))
#define D_KIND(d)  ((unsigned)(((d) >> 24) & 0xf))
#define D_CLASS(d) ((unsigned)(((d) >> 28) & 0x3f))
#define D_GEN(d)   ((uint32_t)((d) >> 34))
#define D_TAG(d)   ((uint64_t)D_GEN(d) << HEAP_UNIT_BITS)
#define D_MAKE(owner, kind, cls, gen) \
	((uint64_t)(owner) | (uint64_t)(kind) << 24 | (uint64_t)(cls) << 28 | \
	 (uint64_t)((gen) & 0x3fffffff) << 34)
#define W_TAG(w)   ((w) & ~HEAP_UNIT_MASK)

/* Owner ids */
#define OWNER_IDX(o)  (((o) & 0xfff) - 1)
#define OWNER_GEN(o)  (((o) >> 12) & 0xfff)
#define OWNER_MAKE(idx, gen) (((idx) + 1) | ((gen) & 0xfff) << 12)

/* Owner slot word: state (2 bits), generation (12 bits at 2), host (28
 * bits at 14), pid (22 bits at 42: Linux pids are below 2^22). The host
 * and the pid are set by the one compare-and-swap that takes the slot, so
 * a reclaim never sees a slot in use without the host whose /proc can
 * judge its pid (version 3; version 2 had a 32-bit pid at 32 and no host). */
enum { S_FREE = 0, S_ACTIVE = 1, S_DEAD = 2 };
#define S_HOST_BITS 28
#define S_HOST_MASK ((1u << S_HOST_BITS) - 1)
#define S_PID_BITS  22
#define S_PID_MASK  ((1u << S_PID_BITS) - 1)
#define S_STATE(w) ((unsigned)((w) & 3))
#define S_GEN(w)   ((uint32_t)(((w) >> 2) & 0xfff))
#define S_HOST(w)  ((uint32_t)(((w) >> 14) & S_HOST_MASK))
#define S_PID(w)   ((uint32_t)((w) >> 42))
#define S_MAKE(state, gen, host, pid) \
	((uint64_t)(state) | (uint64_t)((gen) & 0xfff) << 2 | \
	 (uint64_t)((uint32_t)(host) & S_HOST_MASK) << 14 | (uint64_t)((uint32_t)(pid) & S_PID_MASK) << 42)

#define HEAP_HOST_NAME_MAX 16

struct heap_owner {
	_Atomic uint64_t word;
	_Atomic uint64_t start_time; /* clock ticks after boot; 0 = unknown */
	/* the owner's host name, cut to 15 bytes, NUL-padded: for people
	 * only (written by the owner after it took the slot; untrusted) */
	char host_name[HEAP_HOST_NAME_MAX];
};

/* This process's host id (never 0): see shmfs_heap_host_id(). */
uint32_t shmfs_heap__host_id(void);

struct heap_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_sz;
	uint64_t heap_sz;   /* bytes of memory the heap spans (<= mapping) */
	uint32_t block_sz;
	uint32_t owner_max;
	uint64_t blk_cnt;
	uint64_t owner_off, desc_off, aux_off, hold_off, bmap_off, used_off, hint_off, data_off;
	uint64_t map_words; /* words of each hint bitmap */
	uint64_t checksum;  /* FNV-1a 64 over every field above */
};

struct heap_mut {
	_Atomic uint64_t footprint; /* blocks taken */
	_Atomic uint64_t hwm;       /* most blocks ever taken */
	_Atomic uint64_t join_cnt;  /* joins ever (diagnostics) */
	/* End of the blocks ever taken: run searches stay below it before
	 * growing it, so the heap touches (faults in) as little memory as it
	 * can instead of sweeping the whole region. Cache line of its own:
	 * read by every run search, written only when it grows. */
	_Alignas(64) _Atomic uint64_t top;
};

#define HEAP_MUT_OFF 256u

/* The on-memory layout is shared by every process and every build that maps
 * the heap (version HEAP_VERSION): pin it, so that a change to a struct or a
 * field width cannot pass unnoticed. */
_Static_assert(sizeof(struct heap_owner) == 32 && offsetof(struct heap_owner, word) == 0 &&
	       offsetof(struct heap_owner, start_time) == 8 &&
	       offsetof(struct heap_owner, host_name) == 16, "owner slot layout");
_Static_assert(offsetof(struct heap_hdr, magic) == 0 && offsetof(struct heap_hdr, version) == 8 &&
	       offsetof(struct heap_hdr, hdr_sz) == 12 && offsetof(struct heap_hdr, heap_sz) == 16 &&
	       offsetof(struct heap_hdr, block_sz) == 24 && offsetof(struct heap_hdr, owner_max) == 28 &&
	       offsetof(struct heap_hdr, blk_cnt) == 32 && offsetof(struct heap_hdr, owner_off) == 40 &&
	       offsetof(struct heap_hdr, desc_off) == 48 && offsetof(struct heap_hdr, aux_off) == 56 &&
	       offsetof(struct heap_hdr, hold_off) == 64 && offsetof(struct heap_hdr, bmap_off) == 72 &&
	       offsetof(struct heap_hdr, used_off) == 80 && offsetof(struct heap_hdr, hint_off) == 88 &&
	       offsetof(struct heap_hdr, data_off) == 96 && offsetof(struct heap_hdr, map_words) == 104 &&
	       offsetof(struct heap_hdr, checksum) == 112 && sizeof(struct heap_hdr) == 120,
	       "header layout");
_Static_assert(offsetof(struct heap_mut, footprint) == 0 && offsetof(struct heap_mut, hwm) == 8 &&
	       offsetof(struct heap_mut, join_cnt) == 16 && offsetof(struct heap_mut, top) == 64 &&
	       sizeof(struct heap_mut) == 128, "mutable counters layout");
_Static_assert(sizeof(struct heap_hdr) <= HEAP_MUT_OFF && HEAP_MUT_OFF % 64 == 0 &&
	       HEAP_MUT_OFF + sizeof(struct heap_mut) <= HEAP_OWNER_OFF, "header sections do not overlap");
/* Shared words are plain 64/32-bit words, lock-free in every process. */
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4 &&
	       ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "shared words");
/* Bitmaps: 8 `alloc` words then 8 `freed` words per block, 32 unit bits
 * each, room for the largest span (256 units). */
_Static_assert(HEAP_FREED == HEAP_BMAP_WORDS && HEAP_BMAP_STRIDE == 2 * HEAP_BMAP_WORDS &&
	       HEAP_BMAP_WORDS * HEAP_UNIT_BITS == 256 && HEAP_BMAP_STRIDE * 8 == 128, "bitmap layout");
/* Descriptor fields hold every value the heap writes into them. */
_Static_assert(HEAP_KIND_MAX < 16 && HEAP_CLASS_CNT <= HEAP_CLASS_LARGE && HEAP_CLASS_LARGE < 64 &&
	       OWNER_MAKE(SHMFS_HEAP_OWNER_MAX - 1, 0xfff) <= 0xffffff &&
	       OWNER_IDX(OWNER_MAKE(SHMFS_HEAP_OWNER_MAX - 1, 0)) == SHMFS_HEAP_OWNER_MAX - 1,
	       "descriptor fields");
_Static_assert(HEAP_BLOCK_SZ == SHMFS_HEAP_BLOCK_SZ && HEAP_OWNER_OFF % HEAP_BLOCK_SZ == 0,
	       "block size");

struct heap_class {
	uint32_t unit;   /* bytes per unit */
	uint16_t blocks; /* blocks per span */
	uint16_t units;  /* units per span (<= 256) */
};

extern const struct heap_class shmfs_heap__classes[HEAP_CLASS_CNT];

/* Process-local view of a heap (a join, or a read-only view for peek/check). */
struct shmfs_heap {
	uint8_t *base;
	uint64_t heap_sz;
	const struct heap_hdr *hdr;
	struct heap_mut *mut;
	struct heap_owner *owners;
	_Atomic uint64_t *desc;
	_Atomic uint32_t *aux;
	_Atomic uint32_t *hold;
	_Atomic uint64_t *bmap;
	_Atomic uint64_t *used;
	_Atomic uint64_t *hint;
	uint64_t data_off;
	uint64_t data_sz; /* blk_cnt blocks */
	uint64_t blk_cnt;
	uint64_t map_words;
	uint32_t owner_max;
	uint32_t owner;   /* owner id of this join; 0 for views */
	uint64_t join_id; /* unique in this process; keys the thread caches */
};

/* Fill a view from validated memory. 0, -ENOMSG or -EBADMSG. */
int shmfs_heap__view(const void *mem, size_t mem_sz, struct shmfs_heap *ret);

static inline _Atomic uint64_t *heap_bmap(const struct shmfs_heap *h, uint64_t blk)
{
	return h->bmap + blk * HEAP_BMAP_STRIDE;
}

static inline uint64_t heap_blk_off(const struct shmfs_heap *h, uint64_t blk)
{
	return h->data_off + (blk << HEAP_BLOCK_SHIFT);
}

/* Bits set in the low 32 bits of v (unit bits). Without -mpopcnt,
 * __builtin_popcountll is a call into libgcc; this is a few ALU steps on
 * any x86-64, whatever the build assumes about the CPU. */
static inline unsigned heap_popcount(uint64_t v)
{
	uint32_t x = (uint32_t)v;

	x = x - ((x >> 1) & 0x55555555u);
	x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0fu;
	return (x * 0x01010101u) >> 24;
}

/* Unit bits of word i of a span with `units` units. */
static inline uint64_t heap_unit_mask(unsigned units, unsigned i)
{
	unsigned lo = i * HEAP_UNIT_BITS;

	if (units <= lo)
		return 0;
	if (units - lo >= HEAP_UNIT_BITS)
		return HEAP_UNIT_MASK;
	return (1ull << (units - lo)) - 1;
}

/* Every field read from the memory is untrusted: any process that maps the
 * heap can write anything there. A class indexes tables only after this. */
static inline bool heap_class_ok(unsigned c)
{
	return c < HEAP_CLASS_CNT;
}

static inline unsigned heap_class_words(unsigned c)
{
	return (shmfs_heap__classes[c].units + HEAP_UNIT_BITS - 1) / HEAP_UNIT_BITS;
}

/* Is the descriptor d of a large run (committed, or being freed)? */
static inline bool heap_desc_large(uint64_t d)
{
	return D_KIND(d) == K_LARGE || D_KIND(d) == K_CACHED ||
	       ((D_KIND(d) == K_RETIRE || D_KIND(d) == K_FREEING) && D_CLASS(d) == HEAP_CLASS_LARGE);
}

/* Blocks a run headed by head spans, from its descriptor. For a large run
 * that is the length stored in aux, unchecked: callers that walk or count
 * the run bound it with heap_run_ok(). */
static inline uint64_t heap_run_blocks(const struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	unsigned c = D_CLASS(d);

	if (heap_desc_large(d))
		return atomic_load_explicit(&h->aux[head], memory_order_relaxed);
	if (heap_class_ok(c))
		return shmfs_heap__classes[c].blocks;
	return 1;
}

/* Does a run of n blocks starting at head fit in the heap? */
static inline bool heap_run_ok(const struct shmfs_heap *h, uint64_t head, uint64_t n)
{
	return n >= 1 && head < h->blk_cnt && n <= h->blk_cnt - head;
}

/* Are the n - 1 blocks after head (a run that fits) its bodies? They stay
 * so until the head is K_FREEING; a release of a run whose bodies are not
 * its own would leave them stranded. O(n), as the release itself. */
static inline bool heap_bodies_ok(const struct shmfs_heap *h, uint64_t head, uint64_t n)
{
	uint64_t bad = 0;

	/* No branch per block: the free of a kept run walks 15 of them. */
	for (uint64_t i = 1; i < n; i++)
		bad |= (D_KIND(atomic_load_explicit(&h->desc[head + i], memory_order_relaxed)) ^ K_BODY) |
		       (atomic_load_explicit(&h->aux[head + i], memory_order_relaxed) ^ head);
	return bad == 0;
}

/* Free the run headed by head whose descriptor is dr (K_RETIRE, or
 * K_FREEING to finish a release someone else started): head to K_FREEING,
 * bodies freed, then the head. Safe to run from several processes at once
 * (every step is a CAS from an exact value); the blocks this call freed
 * (head included), 0 when it did not free the head. */
uint64_t shmfs_heap__run_release(struct shmfs_heap *h, uint64_t head, uint64_t dr);

/* Give back a cached large run (descriptor d, K_CACHED): it becomes a
 * retiring large run and is released. The blocks freed, 0 when d was no
 * longer its descriptor. */
static inline uint64_t heap_cached_release(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	uint64_t dr = D_MAKE(D_OWNER(d), K_RETIRE, HEAP_CLASS_LARGE, D_GEN(d));

	uint64_t n = atomic_load_explicit(&h->aux[head], memory_order_relaxed);

	/* A class or a run the heap never writes: leave it to check. */
	if (D_CLASS(d) != 0 || !heap_run_ok(h, head, n) || !heap_bodies_ok(h, head, n) ||
	    !atomic_compare_exchange_strong(&h->desc[head], &d, dr))
		return 0;
	atomic_store(&h->hold[head], 0);
	return shmfs_heap__run_release(h, head, dr);
}

/* Roll back or complete an abandoned retire (head in K_RETIRE): a span with
 * no live units is released, one with live units returns to K_SMALL; a
 * large run is released. */
void shmfs_heap__retire_resolve(struct shmfs_heap *h, uint64_t head, uint64_t dr);

/* Count the live units of a span headed by head with descriptor d. */
unsigned shmfs_heap__span_live(const struct shmfs_heap *h, uint64_t head, uint64_t d);

/* Give up holding span head (descriptor d, class c): clear hold, then (the
 * mirror of a free) retire the span when it has no live unit, or advertise
 * it in the class hint when it has room. */
uint64_t shmfs_heap__span_unhold(struct shmfs_heap *h, uint64_t head, uint64_t d);

/* Leave: every span of h's owner that a thread still holds is given up
 * (collected, then unheld). Only when no thread uses h any more. */
void shmfs_heap__drop_holds(struct shmfs_heap *h);

/* fork() child: forget the calling thread's cache (its spans are the
 * parent's). */
void shmfs_heap__fork_child(void);

/* Tests only: mark the calling thread as inside an allocation (1) or not
 * (0), as a signal handler that interrupted one would find it. */
void shmfs_heap__test_busy(int on);

/* Holder of a span: thread id (22 bits) and a claim sequence (10 bits), so
 * that two claims from the same old value never both succeed. */
#define HOLD_TID(v)      ((v) & 0x3fffff)
#define HOLD_MAKE(tid, seq) \
	((((uint32_t)(tid)) & 0x3fffff) | (((uint32_t)(seq)) & 0x3ff) << 22) /* tid != 0 */

/* Holder only: fold the `freed` bits of word i back into `alloc` (alloc
 * first, then freed cleared with its epoch bumped: a free that read the old
 * epoch retries and sees the unit free). True when units came back. */
static inline bool heap_collect_word(_Atomic uint64_t *bm, unsigned i)
{
	_Atomic uint64_t *fw = &bm[HEAP_FREED + i];
	uint64_t r = atomic_load(fw), a;

	if (!(r & HEAP_UNIT_MASK))
		return false;
	do {
		a = atomic_load_explicit(&bm[i], memory_order_relaxed);
		atomic_store_explicit(&bm[i], a & ~(r & HEAP_UNIT_MASK), memory_order_relaxed);
	} while (!atomic_compare_exchange_weak(fw, &r, W_TAG(r) + (1ull << HEAP_UNIT_BITS)));
	return true;
}

static inline void heap_map_clear(_Atomic uint64_t *map, uint64_t bit)
{
	_Atomic uint64_t *w = &map[bit / 64];
	uint64_t m = 1ull << (bit % 64);

	if (atomic_load_explicit(w, memory_order_relaxed) & m)
		atomic_fetch_and_explicit(w, ~m, memory_order_relaxed);
}

static inline void heap_map_set(_Atomic uint64_t *map, uint64_t bit)
{
	_Atomic uint64_t *w = &map[bit / 64];
	uint64_t m = 1ull << (bit % 64);

	if (!(atomic_load_explicit(w, memory_order_relaxed) & m))
		atomic_fetch_or_explicit(w, m, memory_order_relaxed);
}

#endif
