/* heap_alloc.c - the allocation half of the libshmfs heap: malloc, calloc,
 * aligned allocation, free, offset/pointer translation. Everything here is
 * lock-free and async-signal-safe: shared state changes only by single-word
 * atomics, the per-thread cache holds hints that are validated against the
 * descriptors before use (so a signal handler that allocates on the same
 * thread, or a stale cache, can never make a wrong decision), and nothing
 * calls into libc except memset for calloc.
 *
 * Small allocation: the thread's current span for the class; a unit bit is
 * taken by CAS on a bitmap word whose high 32 bits repeat the span's
 * generation, so a thread that read a span before it was recycled cannot set
 * a bit in its new life; then the descriptor is read again (the retire path
 * does the mirror image: CAS the descriptor, then read the bitmap), which
 * closes the race with a span being retired. Large allocation: a run of free
 * blocks found in the `used` hint bitmap, claimed block by block by CAS on
 * the descriptors, starting from a per-thread cursor so that threads and
 * processes do not all fight over the same words. */
#include <errno.h>
#include <string.h>

#include "heap_impl.h"

#define NONE UINT32_MAX

/* Per-thread hints for the heap used last. initial-exec TLS: no allocation
 * or lock on first touch, so it is usable from signal handlers. */
struct heap_tcache {
	uint64_t join_id;
	uint64_t run_pos;
	uint32_t cur[HEAP_CLASS_CNT];
	uint64_t cur_desc[HEAP_CLASS_CNT];
	uint32_t hint_pos[HEAP_CLASS_CNT];
};

static __thread struct heap_tcache tcache __attribute__((tls_model("initial-exec")));

/* Reciprocals of the unit sizes: rel / unit == (rel * recip) >> 32 exactly
 * for every offset inside a span (rel < 2^16, unit <= 2^13), without a
 * division on the free path. */
#define R(u) ((uint32_t)((1ull << 32) / (u)) + 1)
static const uint32_t class_recip[HEAP_CLASS_CNT] = {
	R(16), R(32), R(48), R(64), R(80), R(96), R(112), R(128),
	R(160), R(192), R(224), R(256), R(320), R(384), R(448), R(512),
	R(640), R(768), R(896), R(1024), R(1280), R(1536), R(1792), R(2048),
	R(2560), R(3072), R(3584), R(4096), R(5120), R(6144), R(7168), R(8192),
};
#undef R

/* Per class: bitmap words in use and the unit bits of each word (what
 * heap_unit_mask() computes, as a table for the fast paths). */
static const struct {
	unsigned words;
	uint64_t mask[HEAP_BMAP_WORDS];
} class_bits[HEAP_CLASS_CNT] = {
	{ 8, { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff } }, /* 16 */
	{ 4, { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff } }, /* 32 */
	{ 3, { 0xffffffff, 0xffffffff, 0x1fffff } }, /* 48 */
	{ 2, { 0xffffffff, 0xffffffff } }, /* 64 */
	{ 2, { 0xffffffff, 0x7ffff } }, /* 80 */
	{ 2, { 0xffffffff, 0x3ff } }, /* 96 */
	{ 2, { 0xffffffff, 0xf } }, /* 112 */
	{ 1, { 0xffffffff } }, /* 128 */
	{ 1, { 0x1ffffff } }, /* 160 */
	{ 1, { 0x1fffff } }, /* 192 */
	{ 1, { 0x3ffff } }, /* 224 */
	{ 1, { 0xffff } }, /* 256 */
	{ 1, { 0xfff } }, /* 320 */
	{ 1, { 0x3ff } }, /* 384 */
	{ 1, { 0x1ff } }, /* 448 */
	{ 1, { 0xff } }, /* 512 */
	{ 1, { 0xfff } }, /* 640 */
	{ 1, { 0x3ff } }, /* 768 */
	{ 1, { 0x1ff } }, /* 896 */
	{ 1, { 0xff } }, /* 1024 */
	{ 1, { 0x1ff } }, /* 1280 */
	{ 1, { 0xff } }, /* 1536 */
	{ 1, { 0x1ff } }, /* 1792 */
	{ 1, { 0xff } }, /* 2048 */
	{ 1, { 0xff } }, /* 2560 */
	{ 1, { 0xff } }, /* 3072 */
	{ 1, { 0xff } }, /* 3584 */
	{ 1, { 0xff } }, /* 4096 */
	{ 1, { 0xff } }, /* 5120 */
	{ 1, { 0xff } }, /* 6144 */
	{ 1, { 0xff } }, /* 7168 */
	{ 1, { 0xff } }, /* 8192 */
};

static __attribute__((noinline, cold)) void tcache_reset(struct heap_tcache *tc, const struct shmfs_heap *h)
{
	/* Seed from the thread's own address and owner, so threads and
	 * processes start their searches at different places. */
	uint64_t x = ((uintptr_t)tc ^ ((uint64_t)h->owner << 32)) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 29;
	tc->join_id = 0;
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		tc->cur[c] = NONE;
		tc->cur_desc[c] = 0;
		tc->hint_pos[c] = (uint32_t)(x % h->map_words);
	}
	/* Threads start their run searches in different lanes, a bitmap
	 * cache line (512 blocks) apart. */
	tc->run_pos = ((x >> 17) % 16) * 512 % h->blk_cnt;
	tc->join_id = h->join_id;
}

static inline struct heap_tcache *tcache_get(const struct shmfs_heap *h)
{
	struct heap_tcache *tc = &tcache;

	if (__builtin_expect(tc->join_id != h->join_id, 0))
		tcache_reset(tc, h);
	return tc;
}

/* Class of sizes up to 1 KiB by 16-byte granule ((sz + 15) >> 4). */
static const uint8_t class_of_granule[65] = {
	0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11,
	11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15,
	15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
	17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19,
	19,
};

/* Class of sizes from 1 KiB to 8 KiB by 256-byte granule ((sz + 255) >> 8):
 * every class boundary there is a multiple of 256. */
static const uint8_t class_of_granule256[33] = {
	19, 19, 19, 19, 19, 20, 21, 22, 23, 24, 24, 25, 25, 26, 26, 27,
	27, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31,
	31,
};

/* Class of a small size (sz <= SHMFS_HEAP_SMALL_MAX): two table lookups at
 * most, no arithmetic on the fast path. */
static inline __attribute__((always_inline)) unsigned size_class(size_t sz)
{
	if (sz <= 1024)
		return class_of_granule[(sz + 15) >> 4];
	return class_of_granule256[(sz + 255) >> 8];
}

/* Give back a unit taken from a span that was retired meanwhile (see
 * span_take), unless the span was re-initialised (then the bit is gone). */
static __attribute__((noinline)) void unit_untake(_Atomic uint64_t *w, uint64_t v, uint64_t bit, uint64_t tag)
{
	while (W_TAG(v) == tag && (v & bit) && !atomic_compare_exchange_weak(w, &v, v & ~bit))
		;
}

/* Take a unit of the span head (descriptor d, class c); 0 when the span is
 * full or no longer what d says. */
static __attribute__((noinline)) uint64_t span_take(struct shmfs_heap *h, uint64_t head, unsigned c, uint64_t d)
{
	const struct heap_class *cl = &shmfs_heap__classes[c];
	_Atomic uint64_t *bm = heap_bmap(h, head);
	uint64_t tag = D_TAG(d), bit = 0, v = 0;
	unsigned i, nw = class_bits[c].words;

	for (i = 0; i < nw; i++) {
		uint64_t mask = class_bits[c].mask[i];

		v = atomic_load_explicit(&bm[i], memory_order_relaxed);
		for (;;) {
			uint64_t avail;

			if (W_TAG(v) != tag)
				return 0;
			avail = ~v & mask;
			if (!avail)
				break;
			bit = avail & -avail;
			if (atomic_compare_exchange_weak(&bm[i], &v, v | bit))
				goto got;
		}
	}
	return 0;
got:
	if (__builtin_expect(atomic_load(&h->desc[head]) != d, 0)) {
		unit_untake(&bm[i], v | bit, bit, tag);
		return 0;
	}
	return heap_blk_off(h, head) + (uint64_t)(i * HEAP_UNIT_BITS + __builtin_ctzll(bit)) * cl->unit;
}

static uint64_t map_next(const struct shmfs_heap *h, uint64_t pos, uint64_t end, bool want_one)
{
	uint64_t wi = pos / 64, v;

	if (pos >= end)
		return end;
	v = atomic_load_explicit(&h->used[wi], memory_order_relaxed);
	v = (want_one ? v : ~v) & (~0ull << (pos % 64));
	while (!v) {
		if (++wi * 64 >= end)
			return end;
		v = atomic_load_explicit(&h->used[wi], memory_order_relaxed);
		if (!want_one)
			v = ~v;
	}
	pos = wi * 64 + __builtin_ctzll(v);
	return pos < end ? pos : end;
}

/* First start in [from, to) of n blocks that look free, aligned so that
 * start % amod == arem; UINT64_MAX when none. */
static uint64_t run_search(const struct shmfs_heap *h, uint64_t from, uint64_t to, uint64_t n,
			   uint64_t amod, uint64_t arem)
{
	uint64_t pos = from;

	while (pos < to) {
		uint64_t end;

		pos = map_next(h, pos, to, false);
		if (pos >= to)
			break;
		if (amod > 1 && pos % amod != arem) {
			pos += (arem + amod - pos % amod) % amod;
			continue;
		}
		if (n > h->blk_cnt - pos)
			break;
		end = map_next(h, pos, pos + n, true);
		if (end - pos >= n)
			return pos;
		pos = end + 1;
	}
	return UINT64_MAX;
}

/* Claim blocks [s, s+n) as K_CLAIM for the caller; on failure roll back. */
static bool run_claim(struct shmfs_heap *h, uint64_t s, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t d = atomic_load(&h->desc[s + i]);

		if (D_KIND(d) == K_FREE &&
		    atomic_compare_exchange_strong(&h->desc[s + i], &d, D_MAKE(h->owner, K_CLAIM, 0, D_GEN(d) + 1)))
			continue;
		while (i--) {
			d = atomic_load(&h->desc[s + i]);
			atomic_store(&h->desc[s + i], D_MAKE(0, K_FREE, 0, D_GEN(d)));
		}
		return false;
	}
	return true;
}

/* Find and claim a run of n blocks; returns its first block or UINT64_MAX.
 * Next fit from the thread's cursor below the top of used memory, then
 * from the bottom, and only then above the top. */
static uint64_t run_get(struct shmfs_heap *h, struct heap_tcache *tc, uint64_t n, uint64_t align)
{
	uint64_t amod = align > HEAP_BLOCK_SZ ? align / HEAP_BLOCK_SZ : 1;
	uint64_t arem = (amod - (h->data_off / HEAP_BLOCK_SZ) % amod) % amod;
	uint64_t top = atomic_load_explicit(&h->mut->top, memory_order_relaxed);
	uint64_t cur, ranges[3][2];

	if (n == 0 || n > h->blk_cnt)
		return UINT64_MAX;
	if (top > h->blk_cnt)
		top = h->blk_cnt;
	cur = tc->run_pos < top ? tc->run_pos : 0;
	ranges[0][0] = cur, ranges[0][1] = top;
	ranges[1][0] = 0, ranges[1][1] = cur;
	ranges[2][0] = top, ranges[2][1] = h->blk_cnt;
	for (int pass = 0; pass < 3; pass++) {
		uint64_t from = ranges[pass][0], to = ranges[pass][1];

		while (from < to) {
			uint64_t s = run_search(h, from, to, n, amod, arem), end;

			if (s == UINT64_MAX)
				break;
			if (!run_claim(h, s, n)) {
				from = s + 1;
				continue;
			}
			end = s + n;
			tc->run_pos = end;
			for (top = atomic_load_explicit(&h->mut->top, memory_order_relaxed); top < end;)
				if (atomic_compare_exchange_weak_explicit(&h->mut->top, &top, end,
									  memory_order_relaxed, memory_order_relaxed))
					break;
			return s;
		}
	}
	return UINT64_MAX;
}

/* Turn the claimed run [s, s+n) into a committed one with head descriptor
 * head_d (whose generation is the claim's). */
static void run_commit(struct shmfs_heap *h, uint64_t s, uint64_t n, uint64_t head_d)
{
	uint64_t gen = D_GEN(atomic_load_explicit(&h->desc[s], memory_order_relaxed)), fp;

	atomic_store_explicit(&h->aux[s], (uint32_t)n, memory_order_relaxed);
	for (uint64_t i = 1; i < n; i++) {
		uint64_t d = atomic_load_explicit(&h->desc[s + i], memory_order_relaxed);

		atomic_store_explicit(&h->aux[s + i], (uint32_t)s, memory_order_relaxed);
		atomic_store_explicit(&h->desc[s + i], D_MAKE(h->owner, K_BODY, 0, D_GEN(d)),
				      memory_order_release);
	}
	for (uint64_t b = s; b < s + n;) {
		uint64_t lo = b % 64, cnt = 64 - lo < s + n - b ? 64 - lo : s + n - b;
		uint64_t m = (cnt == 64 ? ~0ull : ((1ull << cnt) - 1)) << lo;

		atomic_fetch_or_explicit(&h->used[b / 64], m, memory_order_relaxed);
		b += cnt;
	}
	atomic_store(&h->desc[s], (head_d & ~(0x3fffffffull << 34)) | (gen << 34));
	/* The counter is best effort: a process killed between a claim and
	 * this line leaves it short, so a later release may take it below 0
	 * (it wraps); such values are not high-water marks. */
	fp = atomic_fetch_add_explicit(&h->mut->footprint, n, memory_order_relaxed) + n;
	if (fp > h->blk_cnt)
		return;
	for (uint64_t hwm = atomic_load_explicit(&h->mut->hwm, memory_order_relaxed); hwm < fp;)
		if (atomic_compare_exchange_weak_explicit(&h->mut->hwm, &hwm, fp, memory_order_relaxed,
							  memory_order_relaxed))
			break;
}

/* A span of class c with room, from the class's hint bitmap. */
static uint64_t hint_find(struct shmfs_heap *h, struct heap_tcache *tc, unsigned c, uint64_t *ret_d)
{
	_Atomic uint64_t *map = h->hint + (uint64_t)c * h->map_words;
	uint64_t start = tc->hint_pos[c] < h->map_words ? tc->hint_pos[c] : 0;

	for (uint64_t k = 0; k < h->map_words; k++) {
		uint64_t wi = (start + k) % h->map_words;
		uint64_t v = atomic_load_explicit(&map[wi], memory_order_relaxed);

		while (v) {
			uint64_t b = wi * 64 + __builtin_ctzll(v), d;

			v &= v - 1;
			if (b >= h->blk_cnt)
				break;
			d = atomic_load(&h->desc[b]);
			if ((D_KIND(d) != K_SMALL && D_KIND(d) != K_RETIRE) || D_CLASS(d) != c) {
				heap_map_clear(map, b); /* stale */
				continue;
			}
			if (D_KIND(d) != K_SMALL || D_OWNER(d) != h->owner)
				continue; /* someone else's: only its owner allocates there */
			if (shmfs_heap__span_live(h, b, d) >= shmfs_heap__classes[c].units) {
				heap_map_clear(map, b); /* full; a free sets it again */
				continue;
			}
			tc->hint_pos[c] = (uint32_t)wi;
			*ret_d = d;
			return b;
		}
	}
	return UINT64_MAX;
}

static uint64_t span_new(struct shmfs_heap *h, struct heap_tcache *tc, unsigned c, uint64_t *ret_d)
{
	const struct heap_class *cl = &shmfs_heap__classes[c];
	uint64_t s = run_get(h, tc, cl->blocks, 1), d;
	_Atomic uint64_t *bm;

	if (s == UINT64_MAX)
		return s;
	d = D_MAKE(h->owner, K_SMALL, c, D_GEN(atomic_load(&h->desc[s])));
	bm = heap_bmap(h, s);
	for (unsigned i = 0; i < heap_class_words(c); i++)
		atomic_store_explicit(&bm[i], D_TAG(d), memory_order_relaxed);
	run_commit(h, s, cl->blocks, d);
	*ret_d = d;
	return s;
}

static void span_retire(struct shmfs_heap *h, uint64_t head, uint64_t d);

/* Give back the calling thread's current spans that are empty: they are
 * kept while in use so that malloc+free pairs do not claim and release a
 * span every time, and are the last free memory when the heap runs out. */
static bool tcache_flush(struct shmfs_heap *h, struct heap_tcache *tc)
{
	bool any = false;

	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		uint64_t s = tc->cur[c], d = tc->cur_desc[c];

		if (!d || s >= h->blk_cnt)
			continue;
		tc->cur_desc[c] = 0;
		if (atomic_load(&h->desc[s]) == d && shmfs_heap__span_live(h, s, d) == 0) {
			span_retire(h, s, d);
			any = true;
		}
	}
	return any;
}

static __attribute__((noinline)) uint64_t small_alloc_slow(struct shmfs_heap *h, unsigned c)
{
	struct heap_tcache *tc = tcache_get(h);
	uint64_t s, d, off;

	tc->cur_desc[c] = 0;
	for (int tries = 0; tries < 64; tries++) {
		s = hint_find(h, tc, c, &d);
		if (s == UINT64_MAX)
			s = span_new(h, tc, c, &d);
		if (s == UINT64_MAX && (tcache_flush(h, tc) || shmfs_heap_trim(h) > 0))
			s = span_new(h, tc, c, &d);
		if (s == UINT64_MAX)
			break;
		off = span_take(h, s, c, d);
		if (off) {
			/* A current span keeps its hint: when this thread's cache
			 * forgets it (the thread moved to another heap, or exited),
			 * the owner's threads still find it. */
			heap_map_set(h->hint + (uint64_t)c * h->map_words, s);
			tc->cur[c] = (uint32_t)s;
			tc->cur_desc[c] = d;
			return off;
		}
	}
	errno = ENOMEM;
	return 0;
}

static inline __attribute__((always_inline)) uint64_t small_alloc(struct shmfs_heap *h, unsigned c)
{
	struct heap_tcache *tc = tcache_get(h);
	uint64_t s = tc->cur[c], d = tc->cur_desc[c], off;

	if (__builtin_expect(d != 0 && s < h->blk_cnt, 1)) {
		off = span_take(h, s, c, d);
		if (__builtin_expect(off != 0, 1))
			return off;
	}
	return small_alloc_slow(h, c);
}

static uint64_t large_alloc(struct shmfs_heap *h, size_t sz, size_t align)
{
	struct heap_tcache *tc = tcache_get(h);
	uint64_t n = (sz + HEAP_BLOCK_SZ - 1) / HEAP_BLOCK_SZ, s;

	if (sz > h->blk_cnt * HEAP_BLOCK_SZ) {
		errno = ENOMEM;
		return 0;
	}
	s = run_get(h, tc, n, align);
	if (s == UINT64_MAX && (tcache_flush(h, tc) || shmfs_heap_trim(h) > 0))
		s = run_get(h, tc, n, align);
	if (s == UINT64_MAX) {
		errno = ENOMEM;
		return 0;
	}
	run_commit(h, s, n, D_MAKE(h->owner, K_LARGE, 0, 0));
	return heap_blk_off(h, s);
}

/* A unit in the first bitmap word of the thread's current span of class c,
 * or 0: straight-line code for the common case; span_take() does the rest. */
static inline __attribute__((always_inline)) uint64_t cur_take(struct shmfs_heap *h, unsigned c)
{
	/* Plain fields first: the atomics below would make the compiler load
	 * them again. */
	uint64_t blk_cnt = h->blk_cnt, data_off = h->data_off;
	_Atomic uint64_t *desc = h->desc, *bm;
	uint64_t s = tcache.cur[c], d = tcache.cur_desc[c], v, bit;

	if (__builtin_expect(d == 0 || s >= blk_cnt, 0))
		return 0;
	bm = heap_bmap(h, s);
	v = atomic_load_explicit(bm, memory_order_relaxed);
	bit = ~v & class_bits[c].mask[0];
	bit &= -bit;
	if (__builtin_expect(!bit || W_TAG(v) != D_TAG(d) || !atomic_compare_exchange_strong(bm, &v, v | bit), 0))
		return 0;
	/* The descriptor after the bitmap: the mirror of span_retire. */
	if (__builtin_expect(atomic_load(&desc[s]) != d, 0)) {
		unit_untake(bm, v | bit, bit, D_TAG(d));
		return 0;
	}
	return data_off + (s << HEAP_BLOCK_SHIFT) + (uint64_t)__builtin_ctzll(bit) * shmfs_heap__classes[c].unit;
}

/* Everything the fast path does not handle: large sizes, the rest of the
 * current span, another span; bad arguments. */
static __attribute__((noinline)) uint64_t malloc_slow(struct shmfs_heap *h, size_t sz)
{
	unsigned c;
	uint64_t off;

	if (!h || !h->owner) {
		errno = EINVAL;
		return 0;
	}
	if (sz > SHMFS_HEAP_SMALL_MAX)
		return large_alloc(h, sz, HEAP_BLOCK_SZ);
	c = size_class(sz);
	if (tcache.join_id == h->join_id && (off = cur_take(h, c)))
		return off;
	return small_alloc(h, c);
}

/* The fast path only; every other case is a tail call, so that this stays
 * small. */
SHMFS_API uint64_t shmfs_heap_malloc(shmfs_heap_t *h, size_t sz)
{
	uint64_t off;

	if (__builtin_expect(h && sz <= SHMFS_HEAP_SMALL_MAX && tcache.join_id == h->join_id, 1) &&
	    __builtin_expect((off = cur_take(h, size_class(sz))) != 0, 1))
		return off;
	return malloc_slow(h, sz);
}

SHMFS_API uint64_t shmfs_heap_calloc(shmfs_heap_t *h, size_t cnt, size_t sz)
{
	size_t total;
	uint64_t off;

	if (__builtin_mul_overflow(cnt, sz, &total)) {
		errno = ENOMEM;
		return 0;
	}
	off = shmfs_heap_malloc(h, total);
	if (off)
		memset(h->base + off, 0, total);
	return off;
}

SHMFS_API uint64_t shmfs_heap_aligned_alloc(shmfs_heap_t *h, size_t align, size_t sz)
{
	if (!h || !h->owner || (align & (align - 1))) {
		errno = EINVAL;
		return 0;
	}
	if (align <= SHMFS_HEAP_ALIGN)
		return shmfs_heap_malloc(h, sz);
	if (align <= HEAP_BLOCK_SZ && sz <= SHMFS_HEAP_SMALL_MAX) {
		/* A unit size that is a multiple of align keeps every unit of a
		 * block-aligned span aligned. */
		for (unsigned c = size_class(sz); c < HEAP_CLASS_CNT; c++)
			if (shmfs_heap__classes[c].unit % align == 0)
				return small_alloc(h, c);
	}
	return large_alloc(h, sz ? sz : 1, align);
}

/* Try to give an empty span back to the heap. */
static void span_retire(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	uint64_t dr = D_MAKE(D_OWNER(d), K_RETIRE, D_CLASS(d), D_GEN(d));

	if (!atomic_compare_exchange_strong(&h->desc[head], &d, dr))
		return;
	/* Mirror of span_take: descriptor first, then the bitmap. */
	if (shmfs_heap__span_live(h, head, dr) == 0)
		shmfs_heap__run_release(h, head, dr);
	else
		atomic_compare_exchange_strong(&h->desc[head], &dr, d);
}

/* After a free into a span that is not the thread's current one: give the
 * span back when it became empty, else tell its owner it has room. */
static __attribute__((noinline)) void small_freed(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	unsigned c = D_CLASS(d);
	_Atomic uint64_t *bm = heap_bmap(h, head);
	bool empty = true;

	for (unsigned j = 0; empty && j < heap_class_words(c); j++)
		if (atomic_load_explicit(&bm[j], memory_order_relaxed) & heap_unit_mask(shmfs_heap__classes[c].units, j))
			empty = false;
	if (empty && D_KIND(d) == K_SMALL) {
		span_retire(h, head, d);
		return;
	}
	heap_map_set(h->hint + (uint64_t)c * h->map_words, head);
}

SHMFS_API int64_t shmfs_heap_trim(shmfs_heap_t *h)
{
	int64_t n = 0;

	if (!h || !h->owner)
		return -EINVAL;
	if (tcache.join_id == h->join_id)
		for (unsigned c = 0; c < HEAP_CLASS_CNT; c++)
			tcache.cur_desc[c] = 0;
	for (uint64_t b = 0; b < h->blk_cnt; b++) {
		uint64_t d = atomic_load_explicit(&h->desc[b], memory_order_relaxed);

		if (D_KIND(d) != K_SMALL || D_OWNER(d) != h->owner || shmfs_heap__span_live(h, b, d))
			continue;
		span_retire(h, b, d);
		if (D_KIND(atomic_load(&h->desc[b])) == K_FREE)
			n += shmfs_heap__classes[D_CLASS(d)].blocks;
	}
	return n;
}

static inline __attribute__((always_inline)) int small_free(struct shmfs_heap *h, uint64_t head, uint64_t d,
							   uint64_t off)
{
	unsigned c = D_CLASS(d), i;
	const struct heap_class *cl = &shmfs_heap__classes[c];
	uint64_t rel = off - heap_blk_off(h, head), idx, bit, v, tag = D_TAG(d);
	_Atomic uint64_t *bm = heap_bmap(h, head);
	struct heap_tcache *tc;

	idx = (rel * class_recip[c]) >> 32;
	if (idx * cl->unit != rel || idx >= cl->units)
		return -EINVAL;
	i = (unsigned)(idx / HEAP_UNIT_BITS);
	bit = 1ull << (idx % HEAP_UNIT_BITS);
	v = atomic_load_explicit(&bm[i], memory_order_relaxed);
	do {
		if (W_TAG(v) != tag || !(v & bit))
			return -EINVAL; /* not allocated: double or wild free */
	} while (!atomic_compare_exchange_weak(&bm[i], &v, v & ~bit));

	/* The thread's current span stays put even when empty (pairs of
	 * malloc and free must not claim and release a span every time). A
	 * thread freeing into another heap than its cache's keeps its cache. */
	tc = &tcache;
	if (__builtin_expect(tc->join_id == h->join_id && tc->cur[c] == head && tc->cur_desc[c] == d, 1))
		return 0;
	small_freed(h, head, d);
	return 0;
}

static int large_free(struct shmfs_heap *h, uint64_t b, uint64_t d)
{
	uint64_t dr = D_MAKE(D_OWNER(d), K_RETIRE, HEAP_CLASS_LARGE, D_GEN(d));

	if (!atomic_compare_exchange_strong(&h->desc[b], &d, dr))
		return -EINVAL; /* a concurrent free of the same run won */
	shmfs_heap__run_release(h, b, dr);
	return 0;
}

/* The head and descriptor of the run holding block b; false when b is not in
 * a live run. */
static inline __attribute__((always_inline)) bool run_of(const struct shmfs_heap *h, uint64_t b, uint64_t *ret_head, uint64_t *ret_d)
{
	uint64_t d = atomic_load(&h->desc[b]), head = b;

	if (D_KIND(d) == K_BODY) {
		head = atomic_load_explicit(&h->aux[b], memory_order_relaxed);
		if (head >= b)
			return false;
		d = atomic_load(&h->desc[head]);
		if (D_KIND(d) != K_SMALL && D_KIND(d) != K_RETIRE && D_KIND(d) != K_LARGE)
			return false;
		if (b - head >= heap_run_blocks(h, head, d))
			return false;
	}
	*ret_head = head;
	*ret_d = d;
	return true;
}

static __attribute__((noinline)) int free_slow(struct shmfs_heap *h, uint64_t off)
{
	uint64_t b, head, d;

	if (!off)
		return 0;
	if (!h || off < h->data_off || (off & (SHMFS_HEAP_ALIGN - 1)) || off >= h->heap_sz)
		return -EINVAL;
	b = (off - h->data_off) >> HEAP_BLOCK_SHIFT;
	if (!run_of(h, b, &head, &d))
		return -EINVAL;
	switch (D_KIND(d)) {
	case K_SMALL:
		return small_free(h, head, d, off);
	case K_RETIRE:
		/* A span whose retire is being decided still holds its units. */
		if (D_CLASS(d) < HEAP_CLASS_CNT)
			return small_free(h, head, d, off);
		return -EINVAL;
	case K_LARGE:
		if (head != b || off != heap_blk_off(h, b))
			return -EINVAL;
		return large_free(h, b, d);
	default:
		return -EINVAL;
	}
}

/* The fast path: a unit in the head block of a span (every span of classes
 * up to 512 bytes is a single block). Everything else is free_slow(). */
SHMFS_API int shmfs_heap_free(shmfs_heap_t *h, uint64_t off)
{
	uint64_t b, d;

	if (__builtin_expect(!off || !h || off < h->data_off || off >= h->heap_sz, 0))
		return free_slow(h, off);
	b = (off - h->data_off) >> HEAP_BLOCK_SHIFT;
	d = atomic_load(&h->desc[b]);
	if (__builtin_expect(D_KIND(d) != K_SMALL || (off & (SHMFS_HEAP_ALIGN - 1)), 0))
		return free_slow(h, off);
	return small_free(h, b, d, off);
}

SHMFS_API size_t shmfs_heap_usable_size(const shmfs_heap_t *h, uint64_t off)
{
	uint64_t b, head, d, rel;
	const struct heap_class *cl;
	_Atomic uint64_t *bm;
	uint64_t idx, w;

	if (!h || !off || off < h->data_off || (off & (SHMFS_HEAP_ALIGN - 1)) ||
	    off - h->data_off >= h->blk_cnt * HEAP_BLOCK_SZ)
		return 0;
	b = (off - h->data_off) >> HEAP_BLOCK_SHIFT;
	if (!run_of(h, b, &head, &d))
		return 0;
	if (D_KIND(d) == K_LARGE)
		return head == b && off == heap_blk_off(h, b) ?
			(size_t)atomic_load(&h->aux[b]) * HEAP_BLOCK_SZ : 0;
	if ((D_KIND(d) != K_SMALL && D_KIND(d) != K_RETIRE) || D_CLASS(d) >= HEAP_CLASS_CNT)
		return 0;
	cl = &shmfs_heap__classes[D_CLASS(d)];
	rel = off - heap_blk_off(h, head);
	if (rel % cl->unit || (idx = rel / cl->unit) >= cl->units)
		return 0;
	bm = heap_bmap(h, head);
	w = atomic_load(&bm[idx / HEAP_UNIT_BITS]);
	if (W_TAG(w) != D_TAG(d) || !(w & (1ull << (idx % HEAP_UNIT_BITS))))
		return 0;
	return cl->unit;
}

SHMFS_API void *shmfs_heap_ptr(const shmfs_heap_t *h, uint64_t off)
{
	if (!h || !off || off >= h->heap_sz)
		return NULL;
	return h->base + off;
}

SHMFS_API uint64_t shmfs_heap_off(const shmfs_heap_t *h, const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr, b;

	if (!h || !ptr)
		return 0;
	b = (uintptr_t)h->base;
	if (p < b || p - b >= h->heap_sz)
		return 0;
	return p - b;
}
