/* heap_alloc.c - the allocation half of the libshmfs heap: malloc, calloc,
 * aligned allocation, free, trim, offset/pointer translation. Everything
 * here is lock-free and async-signal-safe: shared state changes only by
 * single-word atomics, and nothing calls into libc except memset for calloc
 * (and, off the fast paths, gettid once per thread and tgkill in trim).
 *
 * Small allocation: every thread holds at most one span per class (claimed
 * by CAS on the span's hold word) and is the only writer of its `alloc`
 * bitmap, so malloc sets a bit with a plain load and store, no locked
 * instruction. Frees, by anyone, set the unit's bit in the span's `freed`
 * bitmap by CAS (one locked instruction per malloc+free pair); the holder
 * folds them back when its span runs out of room. A signal handler that
 * interrupts malloc on the same thread must not write the spans the thread
 * holds: a per-thread `busy` flag (ordered by signal fences only) sends it
 * to a path that claims an unheld span for one allocation and never touches
 * the thread's cache. Large allocation: a run of free blocks found in the
 * `used` hint bitmap, claimed block by block by CAS on the descriptors,
 * starting from a per-thread cursor so that threads and processes do not
 * all fight over the same words. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap_impl.h"

#define NONE UINT32_MAX

/* The thread's span of one class, as the malloc fast path wants it: the
 * `alloc` word it takes from, that word's offset in the heap, its unit bits. */
struct heap_tslot {
	_Atomic uint64_t *aw; /* NULL: no span */
	uint64_t base;
	uint32_t mask;
	uint32_t unit;
	uint32_t cur;         /* span head; NONE when none */
	uint32_t pad;
};

/* Per-thread state for the heap used last. initial-exec TLS: no allocation
 * or lock on first touch, so it is usable from signal handlers. */
/* Large runs a thread keeps after freeing them (K_CACHED, hold[] = the
 * thread), for its next allocation of the same number of blocks: one CAS
 * to free and a plain store to allocate instead of one CAS per block each
 * way. Runs of at most LCACHE_MAX blocks, LCACHE of them per thread; an
 * entry is only a hint, the descriptor decides.
 *
 * An entry stays after its run is handed out again (out = 1, gen = the
 * generation of the allocation): the run's bodies were walked when it
 * entered the cache, and nothing the heap does changes them while the
 * allocation lives, so the free of that same allocation by this thread
 * does not walk them again (15 blocks for 64 KiB, as much as the rest of
 * a malloc+free pair). Damage written into them meanwhile is seen when the
 * run is given back (heap_cached_release walks them), as damage written
 * into a held span is seen when the span is let go. */
#define LCACHE     4
#define LCACHE_MAX 64

struct heap_lcache {
	uint32_t head;
	uint32_t n;   /* 0: empty */
	uint32_t gen; /* out: the generation of the allocation handed out */
	uint32_t out; /* 0: run kept (K_CACHED); 1: handed out (K_LARGE) */
};

struct heap_tcache {
	uint64_t join_id;
	uint32_t busy;        /* inside the allocation paths (see above) */
	uint32_t tid;
	struct heap_tslot slot[HEAP_CLASS_CNT];
	uint64_t run_pos;
	uint32_t hint_pos[HEAP_CLASS_CNT];
	struct heap_lcache lcache[LCACHE];
	uint32_t lcache_next; /* the entry to evict next */
};

static __thread struct heap_tcache tcache __attribute__((tls_model("initial-exec")));

/* Claim sequence numbers of hold words (any value will do, as long as two
 * claims of one span from the same old value differ). */
static _Atomic uint32_t hold_seq;

static inline void busy_enter(void)
{
	tcache.busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void busy_leave(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	tcache.busy = 0;
}

static uint32_t self_tid(void)
{
	return tcache.tid ? tcache.tid : (uint32_t)syscall(SYS_gettid);
}

static uint32_t hold_new(uint32_t tid)
{
	return HOLD_MAKE(tid, atomic_fetch_add_explicit(&hold_seq, 1, memory_order_relaxed));
}

void shmfs_heap__fork_child(void)
{
	tcache.join_id = 0;
	tcache.tid = 0;
}

void shmfs_heap__test_busy(int on)
{
	tcache.busy = on;
}

/* What the free path needs of a class, in one table line: the reciprocal
 * of the unit size (rel / unit == (rel * recip) >> 32 exactly for every
 * offset inside a span, rel < 2^16, unit <= 2^13: no division), the unit
 * size and the units of a span (the bound of a unit index: bits past it in
 * a bitmap word can only be garbage written by someone else). */
static const struct {
	uint32_t recip;
	uint16_t unit;
	uint16_t units;
} class_free[HEAP_CLASS_CNT] = {
#define R(u, b, a) { HEAP_CLASS_RECIP(u), u, HEAP_CLASS_UNITS(u, b) },
	HEAP_CLASS_TABLE(R, 0)
#undef R
};

/* Per class: bitmap words in use and the unit bits of each word (what
 * heap_unit_mask() computes, as a table for the fast paths). */
static const struct {
	unsigned words;
	uint64_t mask[HEAP_BMAP_WORDS];
} class_bits[HEAP_CLASS_CNT] = {
#define M(n, i) HEAP_CLASS_WORD_MASK(n, i)
#define W(u, b, a) { (HEAP_CLASS_UNITS(u, b) + 31) / 32, { \
	M(HEAP_CLASS_UNITS(u, b), 0), M(HEAP_CLASS_UNITS(u, b), 1), M(HEAP_CLASS_UNITS(u, b), 2), \
	M(HEAP_CLASS_UNITS(u, b), 3), M(HEAP_CLASS_UNITS(u, b), 4), M(HEAP_CLASS_UNITS(u, b), 5), \
	M(HEAP_CLASS_UNITS(u, b), 6), M(HEAP_CLASS_UNITS(u, b), 7) } },
	HEAP_CLASS_TABLE(W, 0)
#undef W
#undef M
};

static __attribute__((noinline, cold)) void tcache_reset(struct heap_tcache *tc, const struct shmfs_heap *h)
{
	/* Seed from the thread's own address and owner, so threads and
	 * processes start their searches at different places. */
	uint64_t x = ((uintptr_t)tc ^ ((uint64_t)h->owner << 32)) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 29;
	/* Spans held for the heap used before stay held by this thread: it
	 * takes them back when it returns to that heap (hint_find), trim and
	 * leave release them. */
	tc->join_id = 0;
	if (!tc->tid)
		tc->tid = (uint32_t)syscall(SYS_gettid);
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		tc->slot[c] = (struct heap_tslot) { .cur = NONE };
		tc->hint_pos[c] = (uint32_t)(x % h->map_words);
	}
	/* Runs kept for the heap used before stay K_CACHED, held by this
	 * thread: trim and leave of that heap give them back. */
	memset(tc->lcache, 0, sizeof(tc->lcache));
	/* Threads start their run searches in different lanes, a bitmap
	 * cache line (512 blocks) apart. */
	tc->run_pos = ((x >> 17) % 16) * 512 % h->blk_cnt;
	tc->join_id = h->join_id;
}

/* Class of sizes up to 1 KiB by 16-byte granule ((sz + 15) >> 4): every
 * unit is a multiple of 16, so the class of the granule's last size is the
 * class of every size in it. */
#define G(g, q) HEAP_CLASS_OF((g) * (q))
#define G8(g, q) G(g, q), G(g + 1, q), G(g + 2, q), G(g + 3, q), \
	G(g + 4, q), G(g + 5, q), G(g + 6, q), G(g + 7, q)
static const uint8_t class_of_granule[65] = {
	G8(0, 16), G8(8, 16), G8(16, 16), G8(24, 16), G8(32, 16), G8(40, 16), G8(48, 16), G8(56, 16),
	G(64, 16),
};

/* Class of sizes from 1 KiB to 8 KiB by 256-byte granule ((sz + 255) >> 8):
 * every unit above 1 KiB is a multiple of 256 (asserted below). */
static const uint8_t class_of_granule256[33] = {
	G8(0, 256), G8(8, 256), G8(16, 256), G8(24, 256), G(32, 256),
};
#undef G8
#undef G

#define NOT_256(u, b, a) + ((u) > 1024 && (u) % 256 != 0)
_Static_assert((0 HEAP_CLASS_TABLE(NOT_256, 0)) == 0, "units above 1 KiB are multiples of 256");
#undef NOT_256
#define NOT_16(u, b, a) + ((u) % 16 != 0)
_Static_assert((0 HEAP_CLASS_TABLE(NOT_16, 0)) == 0, "units are multiples of 16");
#undef NOT_16
_Static_assert(HEAP_CLASS_COUNT == HEAP_CLASS_CNT, "HEAP_CLASS_CNT names the lines of the table");
_Static_assert(HEAP_CLASS_OF(SHMFS_HEAP_SMALL_MAX) == HEAP_CLASS_CNT - 1,
	       "the last class is SHMFS_HEAP_SMALL_MAX");

/* Class of a small size (sz <= SHMFS_HEAP_SMALL_MAX): two table lookups at
 * most, no arithmetic on the fast path. */
static inline __attribute__((always_inline)) unsigned size_class(size_t sz)
{
	if (sz <= 1024)
		return class_of_granule[(sz + 15) >> 4];
	return class_of_granule256[(sz + 255) >> 8];
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

/* run_search for 1 <= n <= 64 without alignment: a word of the map at a
 * time. In a word f of free bits, f & f >> 1 & ... (n - 1 shifts, by
 * doubling) keeps the bits that start n free bits; a run that crosses
 * into the word continues the free bits at the top of the words before
 * (carry). The first start found is the lowest. */
static uint64_t run_search_words(const struct shmfs_heap *h, uint64_t from, uint64_t to, uint64_t n)
{
	uint64_t limit = to + n - 1 < h->blk_cnt ? to + n - 1 : h->blk_cnt, carry = 0;

	for (uint64_t wi = from / 64; wi * 64 < limit; wi++) {
		uint64_t v = atomic_load_explicit(&h->used[wi], memory_order_relaxed), f, m, s;
		unsigned k;

		if (wi == from / 64)
			v |= (1ull << (from % 64)) - 1;
		if ((wi + 1) * 64 > limit)
			v |= ~0ull << (limit % 64);
		if (v == ~0ull) {
			carry = 0;
			continue;
		}
		if (carry && carry + (v ? (uint64_t)__builtin_ctzll(v) : 64) >= n) {
			s = wi * 64 - carry;
			return s < to ? s : UINT64_MAX;
		}
		f = ~v;
		m = f;
		for (k = 1; k * 2 <= n; k *= 2)
			m &= m >> k;
		if (n > k)
			m &= m >> (n - k);
		if (m) {
			s = wi * 64 + __builtin_ctzll(m);
			return s < to ? s : UINT64_MAX;
		}
		carry = v ? (uint64_t)__builtin_clzll(v) : carry + 64;
	}
	return UINT64_MAX;
}

/* First start in [from, to) of n blocks that look free, aligned so that
 * start % amod == arem; UINT64_MAX when none. */
static uint64_t run_search(const struct shmfs_heap *h, uint64_t from, uint64_t to, uint64_t n,
			   uint64_t amod, uint64_t arem)
{
	uint64_t pos = from;

	if (amod <= 1 && n <= 64)
		return from < to ? run_search_words(h, from, to, n) : UINT64_MAX;

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
static uint64_t run_get(struct shmfs_heap *h, uint64_t *pos, uint64_t n, uint64_t align)
{
	uint64_t amod = align > HEAP_BLOCK_SZ ? align / HEAP_BLOCK_SZ : 1;
	uint64_t arem = (amod - (h->data_off / HEAP_BLOCK_SZ) % amod) % amod;
	uint64_t top = atomic_load_explicit(&h->mut->top, memory_order_relaxed);
	uint64_t cur, ranges[3][2];

	if (n == 0 || n > h->blk_cnt)
		return UINT64_MAX;
	if (top > h->blk_cnt)
		top = h->blk_cnt;
	cur = *pos < top ? *pos : 0;
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
			*pos = end;
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

/* Holder only: fold back the freed units of every word of span head. */
static void span_collect(struct shmfs_heap *h, uint64_t head, unsigned c)
{
	_Atomic uint64_t *bm = heap_bmap(h, head);

	for (unsigned i = 0; i < class_bits[c].words; i++)
		heap_collect_word(bm, i);
}

/* Can the bitmaps of span head (descriptor d, a valid class) be allocated
 * from? Every `alloc` word in use carries the span's tag, and no word marks
 * units past the span: anything else was written by someone else, and the
 * fast path would hand out units it cannot free. Checked once per claim
 * (at most 16 loads), so that the fast paths need no check. */
static bool span_sane(const struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	_Atomic uint64_t *bm = heap_bmap(h, head);
	unsigned c = D_CLASS(d);

	for (unsigned i = 0; i < class_bits[c].words; i++) {
		uint64_t a = atomic_load_explicit(&bm[i], memory_order_relaxed);
		uint64_t r = atomic_load_explicit(&bm[HEAP_FREED + i], memory_order_relaxed);
		uint64_t past = HEAP_UNIT_MASK & ~class_bits[c].mask[i];

		if (W_TAG(a) != D_TAG(d) || (a & past) || (r & past))
			return false;
	}
	return true;
}

/* Claim span head (descriptor d) for holder value hv, expecting its hold
 * word to be old; the descriptor is read after the claim (the mirror of
 * span_retire). A span claimed from a holder that is gone may be in the
 * middle of a collection: finish it before allocating. */
static bool span_claim(struct shmfs_heap *h, uint64_t head, uint64_t d, uint32_t old, uint32_t hv)
{
	if (!heap_class_ok(D_CLASS(d)) || !atomic_compare_exchange_strong(&h->hold[head], &old, hv))
		return false;
	if (atomic_load(&h->desc[head]) != d) {
		shmfs_heap__span_unhold(h, head, d);
		return false;
	}
	if (!span_sane(h, head, d)) {
		/* Damaged: never allocate from it (check reports it); let it
		 * go without settling, and out of the hint so that searches
		 * do not come back to it. */
		heap_map_clear(h->hint + (uint64_t)D_CLASS(d) * h->map_words, head);
		atomic_store(&h->hold[head], 0);
		return false;
	}
	span_collect(h, head, D_CLASS(d));
	return true;
}

/* A span of class c with room, from the class's hint bitmap, claimed for
 * tid. Spans held by other threads are skipped; spans held by tid itself
 * (left behind when the thread used another heap) are taken back when
 * own is set, which only the thread's normal context may do. */
static uint64_t hint_find(struct shmfs_heap *h, uint32_t *hint_pos, unsigned c, uint32_t tid, bool own,
			  uint64_t *ret_d)
{
	_Atomic uint64_t *map = h->hint + (uint64_t)c * h->map_words;
	uint64_t top = atomic_load_explicit(&h->mut->top, memory_order_relaxed);
	/* Spans exist only below the top of the blocks ever taken: the scan
	 * costs what the heap has used, not what it could hold. */
	uint64_t words = top < h->blk_cnt ? (top + 63) / 64 : h->map_words;
	uint64_t start = *hint_pos < words ? *hint_pos : 0, wi = start;

	for (uint64_t k = 0; k < words; k++, wi = wi + 1 < words ? wi + 1 : 0) {
		uint64_t v = atomic_load_explicit(&map[wi], memory_order_relaxed);

		while (v) {
			uint64_t b = wi * 64 + __builtin_ctzll(v), d;
			uint32_t hv;

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
			hv = atomic_load(&h->hold[b]);
			if (hv && !(own && HOLD_TID(hv) == tid))
				continue;
			if (!hv && shmfs_heap__span_live(h, b, d) >= shmfs_heap__classes[c].units) {
				heap_map_clear(map, b); /* full; a free sets it again */
				continue;
			}
			if (!span_claim(h, b, d, hv, hold_new(tid)))
				continue;
			*hint_pos = (uint32_t)wi;
			*ret_d = d;
			return b;
		}
	}
	return UINT64_MAX;
}

/* A new span of class c, born held by hv. */
static uint64_t span_new(struct shmfs_heap *h, uint64_t *pos, unsigned c, uint32_t hv, uint64_t *ret_d)
{
	const struct heap_class *cl = &shmfs_heap__classes[c];
	uint64_t s = run_get(h, pos, cl->blocks, 1), d;
	_Atomic uint64_t *bm;

	if (s == UINT64_MAX)
		return s;
	d = D_MAKE(h->owner, K_SMALL, c, D_GEN(atomic_load(&h->desc[s])));
	bm = heap_bmap(h, s);
	/* `alloc` (new tag) before `freed` (new epoch): a free that read the
	 * previous life reads freed first, so it fails on one or the other. */
	for (unsigned i = 0; i < HEAP_FREED; i++)
		atomic_store_explicit(&bm[i], D_TAG(d), memory_order_relaxed);
	for (unsigned i = HEAP_FREED; i < HEAP_BMAP_STRIDE; i++)
		atomic_store(&bm[i], W_TAG(atomic_load(&bm[i])) + (1ull << HEAP_UNIT_BITS));
	atomic_store(&h->hold[s], hv);
	run_commit(h, s, cl->blocks, d);
	/* Its hint lets the thread find it again after using another heap. */
	heap_map_set(h->hint + (uint64_t)c * h->map_words, s);
	*ret_d = d;
	return s;
}

/* Holder only: take a unit of span s (class c), collecting freed units when
 * every word is full; ts is pointed at the word used. 0 when full. */
static uint64_t held_take(struct shmfs_heap *h, struct heap_tslot *ts, uint64_t s, unsigned c)
{
	_Atomic uint64_t *bm = heap_bmap(h, s);
	unsigned nw = class_bits[c].words;

	for (int pass = 0; pass < 2; pass++) {
		bool any = false;

		for (unsigned i = 0; i < nw; i++) {
			uint64_t a = atomic_load_explicit(&bm[i], memory_order_relaxed);
			uint64_t avail = ~a & class_bits[c].mask[i], bit = avail & -avail;

			if (!bit)
				continue;
			atomic_store_explicit(&bm[i], a | bit, memory_order_relaxed);
			ts->cur = (uint32_t)s;
			ts->aw = &bm[i];
			ts->mask = (uint32_t)class_bits[c].mask[i];
			ts->unit = shmfs_heap__classes[c].unit;
			ts->base = heap_blk_off(h, s) + (uint64_t)i * HEAP_UNIT_BITS * shmfs_heap__classes[c].unit;
			return ts->base + (uint64_t)__builtin_ctzll(bit) * shmfs_heap__classes[c].unit;
		}
		for (unsigned i = 0; i < nw; i++)
			any |= heap_collect_word(bm, i);
		if (!any)
			break;
	}
	return 0;
}

/* Try to give an empty, unheld span back to the heap; the blocks freed.
 * A span whose bitmaps or bodies are damaged stays (check reports it). */
static uint64_t span_retire(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	uint64_t dr = D_MAKE(D_OWNER(d), K_RETIRE, D_CLASS(d), D_GEN(d));

	if (!atomic_compare_exchange_strong(&h->desc[head], &d, dr))
		return 0;
	/* Mirror of span_claim and of a free: descriptor first, then the
	 * hold word and the bitmaps. */
	if (!atomic_load(&h->hold[head]) && shmfs_heap__span_live(h, head, dr) == 0 && span_sane(h, head, dr) &&
	    heap_bodies_ok(h, head, shmfs_heap__classes[D_CLASS(d)].blocks))
		return shmfs_heap__run_release(h, head, dr);
	atomic_compare_exchange_strong(&h->desc[head], &dr, d);
	return 0;
}

/* After a free into span head, or after its holder let it go: give the span
 * back when it is unheld and empty, else tell its owner it has room. */
static uint64_t span_settle(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	unsigned live;

	if (!heap_class_ok(D_CLASS(d)) || atomic_load(&h->hold[head]))
		return 0; /* its holder collects */
	live = shmfs_heap__span_live(h, head, d);
	if (live == 0 && D_KIND(d) == K_SMALL)
		return span_retire(h, head, d);
	if (live < shmfs_heap__classes[D_CLASS(d)].units)
		heap_map_set(h->hint + (uint64_t)D_CLASS(d) * h->map_words, head);
	return 0;
}

uint64_t shmfs_heap__span_unhold(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	atomic_store(&h->hold[head], 0);
	return span_settle(h, head, d);
}

/* Let go of the thread's span of a class; the blocks that went back to the
 * heap (it was empty). */
static uint64_t slot_drop(struct shmfs_heap *h, struct heap_tslot *ts)
{
	uint64_t s = ts->cur, d;

	if (s == NONE)
		return 0;
	*ts = (struct heap_tslot) { .cur = NONE };
	if (s >= h->blk_cnt)
		return 0;
	d = atomic_load(&h->desc[s]);
	return shmfs_heap__span_unhold(h, s, d);
}

/* Give back the run of a cache entry (and empty it); the blocks freed. An
 * entry of a run handed out is only forgotten: that run is an allocation. */
static uint64_t lcache_drop(struct shmfs_heap *h, struct heap_lcache *e)
{
	uint64_t head = e->head, d;

	if (!e->n || e->out) {
		e->n = 0;
		return 0;
	}
	e->n = 0;
	if (head >= h->blk_cnt)
		return 0;
	d = atomic_load(&h->desc[head]);
	if (D_KIND(d) != K_CACHED || D_OWNER(d) != h->owner)
		return 0; /* taken back by trim, or damaged: not ours to touch */
	return heap_cached_release(h, head, d);
}

/* A cached run of n blocks for the calling thread (normal context, cache
 * of h), as a committed large allocation; UINT64_MAX when none. */
static uint64_t lcache_take(struct shmfs_heap *h, struct heap_tcache *tc, uint64_t n)
{
	for (unsigned i = 0; i < LCACHE; i++) {
		struct heap_lcache *e = &tc->lcache[i];
		uint64_t head = e->head, d;

		if (e->n != n || e->out)
			continue;
		e->n = 0;
		if (head >= h->blk_cnt)
			continue;
		d = atomic_load(&h->desc[head]);
		if (D_KIND(d) != K_CACHED || D_OWNER(d) != h->owner || D_CLASS(d) != 0 ||
		    atomic_load_explicit(&h->aux[head], memory_order_relaxed) != n ||
		    atomic_load_explicit(&h->hold[head], memory_order_relaxed) != tc->tid)
			continue;
		/* A plain store, no CAS: while this thread lives, no one else
		 * changes the descriptor of a run it keeps. Free refuses
		 * K_CACHED, trim gives back only the runs of threads that
		 * have exited, reclaim only those of dead processes, leave
		 * only when no thread uses the handle (garbage another
		 * process writes meanwhile is overwritten, as it could be
		 * after a CAS). */
		d = D_MAKE(h->owner, K_LARGE, 0, D_GEN(d) + 1);
		atomic_store_explicit(&h->desc[head], d, memory_order_relaxed);
		/* Release (a plain store on x86, not a locked xchg): whoever
		 * acquires hold == 0, or the offset handed out, sees the
		 * descriptor before it. */
		atomic_store_explicit(&h->hold[head], 0, memory_order_release);
		*e = (struct heap_lcache) { (uint32_t)head, (uint32_t)n, D_GEN(d), 1 };
		return head;
	}
	return UINT64_MAX;
}

/* Are the bodies of the run at b (descriptor d, n blocks) its own? If not,
 * the error of its free: a concurrent free of the run won (bodies change
 * only once the head did: ours is the double), or they are damaged. */
static int large_bodies_check(struct shmfs_heap *h, uint64_t b, uint64_t d, uint64_t n)
{
	if (heap_bodies_ok(h, b, n))
		return 0;
	return atomic_load(&h->desc[b]) != d ? -EINVAL : -EUCLEAN;
}

/* Free the large run at b (descriptor d, K_LARGE, n blocks that fit) into
 * the calling thread's cache. False when it cannot (another owner's run,
 * too long, a signal handler, another heap's cache: the caller releases
 * it); else *ret is the result of the free. */
static bool lcache_put(struct shmfs_heap *h, uint64_t b, uint64_t d, uint64_t n, int *ret)
{
	struct heap_tcache *tc = &tcache;
	struct heap_lcache *e = NULL;
	uint32_t tid;

	if (n > LCACHE_MAX || tc->busy || tc->join_id != h->join_id || D_OWNER(d) != h->owner)
		return false;
	/* busy: a signal handler that frees or allocates meanwhile leaves
	 * the cache alone. */
	busy_enter();
	/* The allocation this thread took from its cache: its entry, and
	 * no walk of its bodies (see struct heap_lcache). */
	for (unsigned i = 0; i < LCACHE && !e; i++)
		if (tc->lcache[i].n == n && tc->lcache[i].out && tc->lcache[i].head == b &&
		    tc->lcache[i].gen == D_GEN(d))
			e = &tc->lcache[i];
	if (!e && (*ret = large_bodies_check(h, b, d, n)) < 0) {
		busy_leave();
		return true;
	}
	for (unsigned i = 0; i < LCACHE && !e; i++)
		if (!tc->lcache[i].n)
			e = &tc->lcache[i];
	for (unsigned i = 0; i < LCACHE && !e; i++)
		if (tc->lcache[i].out)
			e = &tc->lcache[i]; /* forgetting it costs a walk at most */
	if (!e) {
		e = &tc->lcache[tc->lcache_next++ % LCACHE];
		lcache_drop(h, e);
	}
	tid = tc->tid;
	/* Holder first, then the descriptor: trim never sees a cached run
	 * without its holder (the CAS after it is a release: no locked
	 * store needed here). */
	atomic_store_explicit(&h->hold[b], tid, memory_order_release);
	if (atomic_compare_exchange_strong(&h->desc[b], &d, D_MAKE(h->owner, K_CACHED, 0, D_GEN(d) + 1))) {
		*e = (struct heap_lcache) { (uint32_t)b, (uint32_t)n, 0, 0 };
		*ret = 0;
	} else {
		/* A concurrent free of the same run won: ours is the double. */
		atomic_compare_exchange_strong(&h->hold[b], &tid, 0);
		e->n = 0;
		*ret = -EINVAL;
	}
	busy_leave();
	return true;
}

/* Give up every span and kept run the calling thread holds (normal context
 * only). */
static uint64_t tcache_flush(struct shmfs_heap *h, struct heap_tcache *tc)
{
	uint64_t n = 0;

	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++)
		n += slot_drop(h, &tc->slot[c]);
	for (unsigned i = 0; i < LCACHE; i++)
		n += lcache_drop(h, &tc->lcache[i]);
	return n;
}

/* Is thread tid of this process alive? (tids are unique among live
 * threads; a dead holder's tid reused by a new thread is harmless: the new
 * thread may take the span back as its own, and claims are CAS-exclusive.) */
static bool thread_alive(uint32_t tid)
{
	return !(syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) < 0 && errno == ESRCH);
}

/* trim: own = the thread's normal context (not a signal handler that
 * interrupted an allocation of this thread). */
static int64_t trim(struct shmfs_heap *h, bool own)
{
	uint32_t tid = self_tid();
	int saved = errno;
	int64_t n = 0;

	if (own && tcache.join_id == h->join_id)
		n += tcache_flush(h, &tcache);
	for (uint64_t b = 0; b < h->blk_cnt; b++) {
		uint64_t d = atomic_load_explicit(&h->desc[b], memory_order_relaxed);
		uint32_t hv;

		if (D_KIND(d) == K_CACHED && D_OWNER(d) == h->owner) {
			/* Kept by a thread: by this one for a heap it used
			 * before, or by one that exited (or none: orphaned). */
			hv = atomic_load(&h->hold[b]);
			if (hv && (HOLD_TID(hv) == tid ? !own : thread_alive(HOLD_TID(hv))))
				continue;
			n += heap_cached_release(h, b, d);
			continue;
		}
		if (D_KIND(d) != K_SMALL || D_OWNER(d) != h->owner || !heap_class_ok(D_CLASS(d)))
			continue;
		hv = atomic_load(&h->hold[b]);
		if (hv) {
			/* Held: by this thread for a heap it used before, or by
			 * a thread that exited. */
			if (HOLD_TID(hv) == tid ? !own : thread_alive(HOLD_TID(hv)))
				continue;
			if (!span_claim(h, b, d, hv, hold_new(tid)))
				continue;
			n += shmfs_heap__span_unhold(h, b, d);
		} else if (shmfs_heap__span_live(h, b, d) == 0) {
			n += span_retire(h, b, d);
		}
	}
	errno = saved;
	return n;
}

void shmfs_heap__drop_holds(struct shmfs_heap *h)
{
	for (uint64_t b = 0; b < h->blk_cnt; b++) {
		uint64_t d = atomic_load_explicit(&h->desc[b], memory_order_relaxed);
		uint32_t hv;

		if (D_KIND(d) == K_CACHED && D_OWNER(d) == h->owner) {
			heap_cached_release(h, b, d);
			continue;
		}
		if (D_KIND(d) != K_SMALL || D_OWNER(d) != h->owner || !heap_class_ok(D_CLASS(d)))
			continue;
		hv = atomic_load(&h->hold[b]);
		if (hv && span_claim(h, b, d, hv, hold_new(self_tid())))
			shmfs_heap__span_unhold(h, b, d);
	}
}

/* Small allocation from the thread's normal context (busy set by us). */
static uint64_t small_alloc_own(struct shmfs_heap *h, struct heap_tcache *tc, unsigned c)
{
	struct heap_tslot *ts = &tc->slot[c];
	uint64_t s, d, off;

	for (int tries = 0; tries < 64; tries++) {
		if (ts->cur != NONE) {
			off = held_take(h, ts, ts->cur, c);
			if (off)
				return off;
			slot_drop(h, ts);
		}
		s = hint_find(h, &tc->hint_pos[c], c, tc->tid, true, &d);
		if (s == UINT64_MAX)
			s = span_new(h, &tc->run_pos, c, hold_new(tc->tid), &d);
		if (s == UINT64_MAX && trim(h, true) > 0)
			s = span_new(h, &tc->run_pos, c, hold_new(tc->tid), &d);
		if (s == UINT64_MAX)
			break;
		off = held_take(h, ts, s, c);
		if (off)
			return off;
		ts->cur = (uint32_t)s; /* full after all: dropped above */
	}
	errno = ENOMEM;
	return 0;
}

/* Small allocation from a signal handler that interrupted an allocation of
 * the same thread: an unheld span (or a new one) is held for this one
 * allocation only; the thread's cache and spans are left alone. */
static uint64_t small_alloc_sig(struct shmfs_heap *h, unsigned c)
{
	uint32_t tid = self_tid(), hint_pos = 0;
	uint64_t pos = 0, s, d, off;
	struct heap_tslot ts;

	for (int tries = 0; tries < 64; tries++) {
		s = hint_find(h, &hint_pos, c, tid, false, &d);
		if (s == UINT64_MAX)
			s = span_new(h, &pos, c, hold_new(tid), &d);
		if (s == UINT64_MAX && trim(h, false) > 0)
			s = span_new(h, &pos, c, hold_new(tid), &d);
		if (s == UINT64_MAX)
			break;
		off = held_take(h, &ts, s, c);
		shmfs_heap__span_unhold(h, s, d);
		if (off)
			return off;
	}
	errno = ENOMEM;
	return 0;
}

static uint64_t large_alloc(struct shmfs_heap *h, uint64_t *pos, size_t sz, size_t align, bool own)
{
	uint64_t n = (sz + HEAP_BLOCK_SZ - 1) / HEAP_BLOCK_SZ, s;

	if (sz > h->blk_cnt * HEAP_BLOCK_SZ) {
		errno = ENOMEM;
		return 0;
	}
	if (own && align <= HEAP_BLOCK_SZ && n <= LCACHE_MAX) {
		s = lcache_take(h, &tcache, n);
		if (s != UINT64_MAX)
			return heap_blk_off(h, s);
	}
	s = run_get(h, pos, n, align);
	if (s == UINT64_MAX && trim(h, own) > 0)
		s = run_get(h, pos, n, align);
	if (s == UINT64_MAX) {
		errno = ENOMEM;
		return 0;
	}
	run_commit(h, s, n, D_MAKE(h->owner, K_LARGE, 0, 0));
	return heap_blk_off(h, s);
}

/* Every allocation that is not the fast path. c: the size class, or
 * HEAP_CLASS_CNT for the large path (sz bytes aligned to align). */
static __attribute__((noinline)) uint64_t alloc_slow(struct shmfs_heap *h, unsigned c, size_t sz, size_t align)
{
	struct heap_tcache *tc;
	uint64_t off, pos = 0;

	if (tcache.busy) {
		/* A signal handler interrupted this thread inside the heap. */
		if (c < HEAP_CLASS_CNT)
			return small_alloc_sig(h, c);
		return large_alloc(h, &pos, sz, align, false);
	}
	busy_enter();
	tc = &tcache;
	if (tc->join_id != h->join_id)
		tcache_reset(tc, h);
	if (c < HEAP_CLASS_CNT)
		off = small_alloc_own(h, tc, c);
	else
		off = large_alloc(h, &tc->run_pos, sz, align, true);
	busy_leave();
	return off;
}

static __attribute__((noinline)) uint64_t malloc_slow(struct shmfs_heap *h, size_t sz)
{
	if (!h || !h->owner) {
		errno = EINVAL;
		return 0;
	}
	if (sz > SHMFS_HEAP_SMALL_MAX)
		return alloc_slow(h, HEAP_CLASS_CNT, sz, HEAP_BLOCK_SZ);
	return alloc_slow(h, size_class(sz), sz, 0);
}

/* The fast path: a unit of the current word of the thread's span of the
 * class; a plain load and store (the thread is the only writer of that
 * word), bracketed by the busy flag for signal handlers. Everything else
 * is a tail call, so that this stays small. */
SHMFS_API uint64_t shmfs_heap_malloc(shmfs_heap_t *h, size_t sz)
{
	_Atomic uint64_t *aw;
	struct heap_tslot *ts;
	uint64_t v, avail;

	if (__builtin_expect(!h || sz > SHMFS_HEAP_SMALL_MAX || tcache.busy, 0))
		return malloc_slow(h, sz);
	ts = &tcache.slot[size_class(sz)];
	/* The cache is read only once busy is set: a handler that ran before
	 * may have changed it (even to another heap), none can after. */
	busy_enter();
	aw = ts->aw;
	if (__builtin_expect(tcache.join_id != h->join_id || !aw, 0))
		goto slow;
	v = atomic_load_explicit(aw, memory_order_relaxed);
	avail = ~v & ts->mask;
	if (__builtin_expect(!avail, 0)) {
		/* The word is full: fold back the units freed into it (the
		 * holder's collection, one CAS), without the slow path's
		 * calls. A span of 8 units (512 B) fills every 8 pairs. */
		if (!heap_collect_word(aw, 0))
			goto slow;
		v = atomic_load_explicit(aw, memory_order_relaxed);
		avail = ~v & ts->mask;
		if (!avail)
			goto slow;
	}
	avail &= -avail;
	atomic_store_explicit(aw, v | avail, memory_order_relaxed);
	/* Computed before busy is cleared: once it is, a handler may point
	 * the slot elsewhere. */
	v = ts->base + (uint64_t)__builtin_ctzll(avail) * ts->unit;
	busy_leave();
	return v;
slow:
	busy_leave();
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
				return alloc_slow(h, c, sz, align);
	}
	return alloc_slow(h, HEAP_CLASS_CNT, sz ? sz : 1, align);
}

SHMFS_API int64_t shmfs_heap_trim(shmfs_heap_t *h)
{
	int64_t n;

	if (!h || !h->owner)
		return -EINVAL;
	if (tcache.busy)
		return trim(h, false);
	busy_enter();
	n = trim(h, true);
	busy_leave();
	return n;
}

/* After a free into a span that is not the thread's own. */
static __attribute__((noinline)) int small_freed(struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	span_settle(h, head, d);
	return 0;
}

/* After a free into a span that is not held and still has live units:
 * tell its owner it has room (what span_settle does for such a span). */
static __attribute__((noinline)) int small_freed_live(struct shmfs_heap *h, uint64_t head, unsigned c)
{
	heap_map_set(h->hint + (uint64_t)c * h->map_words, head);
	return 0;
}

/* Free the unit at rel bytes into span head (descriptor d). */
static inline __attribute__((always_inline)) int small_free(struct shmfs_heap *h, uint64_t head, uint64_t d,
							   uint64_t rel)
{
	unsigned c = D_CLASS(d), i;
	uint64_t idx, bit, r, a;
	_Atomic uint64_t *bm = heap_bmap(h, head), *fw;

	/* A descriptor no heap writes: class or owner out of range. */
	if (__builtin_expect(!heap_class_ok(c) || OWNER_IDX(D_OWNER(d)) >= h->owner_max, 0))
		return -EUCLEAN;
	/* Also refuses offsets that are not 16-byte aligned (units are), and
	 * units past the span's (whose bits only garbage can set). */
	idx = (rel * class_free[c].recip) >> 32;
	if (idx * class_free[c].unit != rel || idx >= class_free[c].units)
		return -EINVAL;
	i = (unsigned)(idx / HEAP_UNIT_BITS);
	bit = 1ull << (idx % HEAP_UNIT_BITS);
	fw = &bm[HEAP_FREED + i];
	/* `freed` before `alloc`: a collection clears alloc bits before it
	 * bumps the epoch of freed, so a unit seen allocated and not freed
	 * here is live unless freed changes, which fails the CAS. */
	r = atomic_load(fw);
	do {
		a = atomic_load_explicit(&bm[i], memory_order_relaxed);
		if ((a >> HEAP_UNIT_BITS) != D_GEN(d) || !(a & ~r & bit))
			return -EINVAL; /* not allocated: double or wild free */
	} while (!atomic_compare_exchange_weak(fw, &r, r | bit));

	/* A held span (the common case: the freeing thread's own) is left to
	 * its holder, which collects the unit. Read after the CAS: the mirror
	 * of an unhold, which clears hold and then reads `freed`. */
	if (__builtin_expect(atomic_load(&h->hold[head]) != 0, 1))
		return 0;
	/* Unheld (frees from another process, after the allocator moved on):
	 * while this word still has live units the span is not empty, so
	 * there is nothing to retire, only room to advertise; the free of
	 * the last unit of a word (its CAS sees every earlier one) counts
	 * the whole span. Bits past the span's units are not counted. */
	if (a & ~(r | bit) & class_bits[c].mask[i])
		return small_freed_live(h, head, c);
	return small_freed(h, head, d);
}

static int large_free(struct shmfs_heap *h, uint64_t b, uint64_t d)
{
	uint64_t dr = D_MAKE(D_OWNER(d), K_RETIRE, HEAP_CLASS_LARGE, D_GEN(d));

	/* A head that claims more blocks than the heap has, or a class, was
	 * not written by the heap: leave it to check and whoever repairs. */
	uint64_t n = atomic_load_explicit(&h->aux[b], memory_order_relaxed);
	int r;

	if (D_CLASS(d) != 0 || OWNER_IDX(D_OWNER(d)) >= h->owner_max || !heap_run_ok(h, b, n))
		return -EUCLEAN;
	if (lcache_put(h, b, d, n, &r))
		return r;
	if ((r = large_bodies_check(h, b, d, n)) < 0)
		return r;
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
		return small_free(h, head, d, off - heap_blk_off(h, head));
	case K_RETIRE:
		/* A span whose retire is being decided still holds its units. */
		if (D_CLASS(d) < HEAP_CLASS_CNT)
			return small_free(h, head, d, off - heap_blk_off(h, head));
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
	uint64_t rel, d;

	/* One compare refuses 0, metadata and what lies past the blocks. */
	if (__builtin_expect(!h || (rel = off - h->data_off) >= h->data_sz, 0))
		return free_slow(h, off);
	d = atomic_load_explicit(&h->desc[rel >> HEAP_BLOCK_SHIFT], memory_order_acquire);
	if (__builtin_expect(D_KIND(d) != K_SMALL, 0))
		return free_slow(h, off);
	return small_free(h, rel >> HEAP_BLOCK_SHIFT, d, rel & (HEAP_BLOCK_SZ - 1));
}

SHMFS_API size_t shmfs_heap_usable_size(const shmfs_heap_t *h, uint64_t off)
{
	uint64_t b, head, d, rel;
	const struct heap_class *cl;
	_Atomic uint64_t *bm;
	uint64_t idx, w, r;

	if (!h || !off || off < h->data_off || (off & (SHMFS_HEAP_ALIGN - 1)) ||
	    off - h->data_off >= h->blk_cnt * HEAP_BLOCK_SZ)
		return 0;
	b = (off - h->data_off) >> HEAP_BLOCK_SHIFT;
	if (!run_of(h, b, &head, &d) || OWNER_IDX(D_OWNER(d)) >= h->owner_max)
		return 0;
	if (D_KIND(d) == K_LARGE) {
		uint64_t n = atomic_load(&h->aux[b]);

		/* Bodies walked too (0.3% of the allocation's size in
		 * metadata): a run that lost one is no allocation to use. */
		return head == b && off == heap_blk_off(h, b) && D_CLASS(d) == 0 && heap_run_ok(h, b, n) &&
		       heap_bodies_ok(h, b, n) ? (size_t)n * HEAP_BLOCK_SZ : 0;
	}
	if ((D_KIND(d) != K_SMALL && D_KIND(d) != K_RETIRE) || D_CLASS(d) >= HEAP_CLASS_CNT)
		return 0;
	cl = &shmfs_heap__classes[D_CLASS(d)];
	rel = off - heap_blk_off(h, head);
	if (rel % cl->unit || (idx = rel / cl->unit) >= cl->units)
		return 0;
	bm = heap_bmap(h, head);
	r = atomic_load(&bm[HEAP_FREED + idx / HEAP_UNIT_BITS]);
	w = atomic_load(&bm[idx / HEAP_UNIT_BITS]);
	if (W_TAG(w) != D_TAG(d) || !(w & ~r & (1ull << (idx % HEAP_UNIT_BITS))))
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
