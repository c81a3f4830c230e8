/* fuzz_heap.c - fuzz target of the libshmfs heap: the heap lives in memory
 * the fuzzer controls. Each input formats a small heap (its size and owner
 * table from the first byte), then runs a sequence of operations read from
 * the input: joins, leaves, simulated deaths, malloc/calloc/aligned_alloc,
 * frees of live, freed and wild offsets, trim, reclaim, stats, peek, check,
 * usable_size, allocation as from a signal handler, and corruption of any
 * metadata word (structured descriptors, run lengths, hold words, bitmap
 * words, hints, owner slots, header bytes, bit flips of what is there).
 *
 * What must hold, whatever the bytes (a failure aborts: the fuzzer reports
 * it like a sanitizer finding):
 *   - no crash, no sanitizer report, no access outside the heap's memory
 *     (the memory is its own malloc block, so AddressSanitizer sees one);
 *   - an allocation lies in the data area and the caller may write it whole;
 *   - counts never exceed the heap (stats, reclaim, usable_size).
 * And while nothing was corrupted, the heap is exact: check is clean after
 * every operation, allocations never overlap, every free of a live block
 * succeeds once, every other free fails, stats count exactly what is live.
 *
 * LLVMFuzzerTestOneInput() is the entry of both the libFuzzer build (clang
 * -fsanitize=fuzzer) and fuzz_driver.c (any compiler, replays a corpus and
 * mutates it for a bounded number of runs). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_impl.h"

#if !defined(__SANITIZE_ADDRESS__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LIVE    256
#define MEM_MAX     (4096 * (8 + 16 + 63) + 1024)
#define MAX_HANDLES 4

struct live {
	uint64_t off;
	size_t sz;
	unsigned hi; /* handle that allocated it */
};

struct run {
	const uint8_t *p, *end;
	uint8_t *mem;
	size_t mem_sz;
	struct shmfs_heap view;
	shmfs_heap_t *hd[MAX_HANDLES];
	struct live live[MAX_LIVE];
	unsigned live_cnt;
	bool corrupt;  /* metadata was written behind the heap's back */
	bool killed;   /* a handle's owner was declared dead */
	uint64_t dead_cnt; /* live blocks of owners declared dead */
	uint64_t dead_off[MAX_LIVE * MAX_HANDLES]; /* their offsets (until reclaim) */
};

/* FUZZ_HEAP_DEBUG set: trace operations and results on stderr. */
static bool debug_on(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_HEAP_DEBUG") != NULL;
	return on;
}

#define REQUIRE(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_heap: %s:%d: %s does not hold\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static uint64_t take(struct run *r, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)(r->p < r->end ? *r->p++ : 0) << (8 * i);
	return v;
}

static shmfs_heap_t *handle(struct run *r, unsigned sel)
{
	for (unsigned i = 0; i < MAX_HANDLES; i++)
		if (r->hd[(sel + i) % MAX_HANDLES])
			return r->hd[(sel + i) % MAX_HANDLES];
	return NULL;
}

static unsigned handle_idx(struct run *r, shmfs_heap_t *h)
{
	for (unsigned i = 0; i < MAX_HANDLES; i++)
		if (r->hd[i] == h)
			return i;
	return MAX_HANDLES;
}

static void live_drop(struct run *r, unsigned i)
{
	r->live[i] = r->live[--r->live_cnt];
}

static int live_find(struct run *r, uint64_t off)
{
	for (unsigned i = 0; i < r->live_cnt; i++)
		if (r->live[i].off == off)
			return (int)i;
	return -1;
}

/* The exact-heap oracle, only while nothing was corrupted. */
static bool exact(struct run *r)
{
	return !r->corrupt && !r->killed;
}

static void check_exact(struct run *r)
{
	char msg[256];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t used = 0;

	if (!exact(r))
		return;
	if (shmfs_heap_check(r->mem, r->mem_sz, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "fuzz_heap: check of an uncorrupted heap: %s\n", msg);
		abort();
	}
	REQUIRE(shmfs_heap_peek(r->mem, r->mem_sz, &st) == 0);
	for (unsigned i = 0; i < r->live_cnt; i++) {
		shmfs_heap_t *h = handle(r, 0);
		size_t u = h ? shmfs_heap_usable_size(h, r->live[i].off) : 0;

		REQUIRE(!h || u >= r->live[i].sz);
		used += u;
	}
	REQUIRE(st.alloc_cnt == r->live_cnt);
	REQUIRE(!handle(r, 0) || st.used == used);
}

static void got_block(struct run *r, shmfs_heap_t *h, uint64_t off, size_t sz, size_t align)
{
	if (debug_on())
		fprintf(stderr, "  got %#llx (%zu B)\n", (unsigned long long)off, sz);
	if (!off) {
		REQUIRE(errno == ENOMEM || errno == EINVAL);
		return;
	}
	/* Whatever the metadata says, a block is inside the data area. */
	REQUIRE(off >= r->view.data_off && off < r->view.heap_sz);
	REQUIRE(sz <= r->view.heap_sz - off);
	REQUIRE(off % SHMFS_HEAP_ALIGN == 0);
	REQUIRE(shmfs_heap_ptr(h, off) == r->mem + off);
	memset(r->mem + off, 0xa5, sz ? sz : 1);
	if (exact(r)) {
		REQUIRE(!align || off % align == 0);
		for (unsigned i = 0; i < r->live_cnt; i++)
			REQUIRE(off + (sz ? sz : 1) <= r->live[i].off ||
				r->live[i].off + (r->live[i].sz ? r->live[i].sz : 1) <= off);
	}
	if (r->live_cnt < MAX_LIVE)
		r->live[r->live_cnt++] = (struct live) { off, sz, handle_idx(r, h) };
	else
		REQUIRE(shmfs_heap_free(h, off) == 0 || !exact(r));
}

static size_t pick_size(struct run *r)
{
	uint64_t v = take(r, 2);

	switch (v & 3) {
	case 0: return (v >> 2) & 63;                  /* tiny */
	case 1: return (v >> 2) & 8191;                /* small classes */
	case 2: return 8192 + ((v >> 2) & 0x3fff);      /* a few blocks */
	default: return (size_t)(v >> 2) << 4;          /* up to 256 KiB */
	}
}

/* A descriptor from fields: near-valid values reach the deep paths. */
static uint64_t pick_desc(struct run *r)
{
	uint64_t f = take(r, 4);
	shmfs_heap_t *h = handle(r, (unsigned)(f >> 24));
	uint32_t owner = (f & 0x100) && h ? h->owner : (uint32_t)((f >> 9) & 0xfff) | (uint32_t)((f >> 21) & 7) << 12;
	unsigned kind = (unsigned)(f & 0xf) % 9;
	unsigned cls = (unsigned)((f >> 4) & 0xf) * 4 + (unsigned)((f >> 28) & 3);

	if (f & 0x80000000u)
		cls = (unsigned)(take(r, 1) & 63);
	return D_MAKE(owner, kind, cls, take(r, 1));
}

/* Write one metadata word (or byte) of the heap. */
static void corrupt(struct run *r)
{
	const struct shmfs_heap *v = &r->view;
	unsigned what = (unsigned)take(r, 1);
	uint64_t idx = take(r, 2), mode = take(r, 1), val;
	uint8_t *p;
	unsigned wsz = 8;

	switch (what % 10) {
	case 0:
		p = (uint8_t *)&v->desc[idx % v->blk_cnt];
		break;
	case 1:
		p = (uint8_t *)&v->aux[idx % v->blk_cnt];
		wsz = 4;
		break;
	case 2:
		p = (uint8_t *)&v->hold[idx % v->blk_cnt];
		wsz = 4;
		break;
	case 3:
		p = (uint8_t *)&v->bmap[idx % (v->blk_cnt * HEAP_BMAP_STRIDE)];
		break;
	case 4:
		p = (uint8_t *)&v->used[idx % v->map_words];
		break;
	case 5:
		p = (uint8_t *)&v->hint[idx % (v->map_words * HEAP_CLASS_CNT)];
		break;
	case 6:
		p = (uint8_t *)&v->owners[(idx >> 1) % v->owner_max] + (idx & 1) * 8;
		break;
	case 7:
		p = r->mem + HEAP_MUT_OFF + (idx % 8) * 8;
		break;
	case 8:
		p = r->mem + idx % v->data_off; /* any byte, header included */
		wsz = 1;
		break;
	default:
		/* A structured descriptor: kind, class, a handle's owner. */
		val = pick_desc(r);
		memcpy((uint8_t *)&v->desc[idx % v->blk_cnt], &val, 8);
		r->corrupt = true;
		return;
	}
	val = 0;
	memcpy(&val, p, wsz);
	switch (mode & 3) {
	case 0:
		val ^= 1ull << ((mode >> 2) % (wsz * 8));
		break;
	case 1:
		val = take(r, wsz);
		break;
	case 2:
		val += (mode >> 2) - 32;
		break;
	default:
		val = (mode & 4) ? ~0ull : 0;
		break;
	}
	memcpy(p, &val, wsz);
	r->corrupt = true;
}

/* A call that said the heap is damaged agrees with check. */
static void check_agrees(struct run *r)
{
	char msg[256];

	/* (Or finds the header damaged first: a join keeps what it read.) */
	int e = shmfs_heap_check(r->mem, r->mem_sz, msg, sizeof(msg));

	REQUIRE(e == -EUCLEAN || e == -EBADMSG || e == -ENOMSG);
}

static void op_free(struct run *r, shmfs_heap_t *h, uint64_t off)
{
	int i = live_find(r, off), e = shmfs_heap_free(h, off);

	if (debug_on())
		fprintf(stderr, "  free %#llx: %d (live %d)\n", (unsigned long long)off, e, i);
	if (i < 0 && e == 0 && off && !r->corrupt) {
		/* Not one of ours: then a block of an owner declared dead,
		 * which anyone may free before reclaim does. */
		uint64_t k = 0;

		while (k < r->dead_cnt && r->dead_off[k] != off)
			k++;
		REQUIRE(k < r->dead_cnt);
		r->dead_off[k] = r->dead_off[--r->dead_cnt];
		return;
	}

	REQUIRE(e == 0 || e == -EINVAL || e == -EUCLEAN);
	if (e == -EUCLEAN)
		check_agrees(r);
	if (i >= 0 && e == 0) {
		live_drop(r, (unsigned)i);
	} else if (exact(r)) {
		/* off 0 is a no-op that succeeds; nothing else that is not
		 * live may be freed, and everything live must be. */
		REQUIRE(i >= 0 ? e == 0 : (off == 0) == (e == 0));
	}
}

static void op(struct run *r, unsigned code)
{
	if (debug_on()) { /* trace: each operation and what check says before it */
		char m[256] = "";
		int ce = shmfs_heap_check(r->mem, r->mem_sz, m, sizeof(m));

		fprintf(stderr, "op %u handle %u (check %d %s) live %u\n", (code & 31) % 18,
			handle_idx(r, handle(r, code >> 5)), ce, m, r->live_cnt);
	}
	shmfs_heap_t *h = handle(r, code >> 5);
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	char msg[256];
	uint64_t off;
	size_t sz;
	int e;

	switch ((code & 31) % 18) { /* low 5 bits: the operation; high 3: the handle */
	case 0: case 1: case 2:
		if (!h)
			break;
		sz = pick_size(r);
		got_block(r, h, shmfs_heap_malloc(h, sz), sz, 0);
		break;
	case 3: case 4:
		if (r->live_cnt) {
			struct live *l = &r->live[take(r, 1) % r->live_cnt];

			if (l->hi < MAX_HANDLES && r->hd[l->hi])
				op_free(r, r->hd[l->hi], l->off);
			else if (h)
				op_free(r, h, l->off);
		}
		break;
	case 5: /* a wild, inner or repeated offset */
		if (!h)
			break;
		off = take(r, 1);
		if (r->live_cnt && (off & 1))
			off = r->live[take(r, 1) % r->live_cnt].off + (off >> 1) * 16;
		else
			off = (off << 16 | take(r, 2)) % (r->view.heap_sz + 64);
		op_free(r, h, off);
		break;
	case 6:
		corrupt(r);
		break;
	case 7:
		if (h) {
			int64_t n = shmfs_heap_trim(h);

			if (debug_on())
				fprintf(stderr, "  trim: %lld (blk_cnt %llu)\n", (long long)n,
					(unsigned long long)r->view.blk_cnt);

			REQUIRE(n >= 0 && (uint64_t)n <= r->view.blk_cnt);
		}
		break;
	case 8:
		rs = (shmfs_heap_reclaim_stats_t) { .sz = sizeof(rs) };
		e = shmfs_heap_reclaim(r->mem, r->mem_sz, &rs);
		REQUIRE(e == 0 || e == -EUCLEAN || (r->corrupt && (e == -EBADMSG || e == -ENOMSG)));
		if (debug_on())
			fprintf(stderr, "  reclaim %d (dead_cnt %llu): owners %llu allocs %llu bytes %llu blocks %llu damaged %llu\n", e, (unsigned long long)r->dead_cnt,
				(unsigned long long)rs.owner_cnt, (unsigned long long)rs.alloc_cnt,
				(unsigned long long)rs.bytes, (unsigned long long)rs.blocks,
				(unsigned long long)rs.damaged);
		REQUIRE(rs.blocks <= r->view.blk_cnt && rs.bytes <= r->view.data_sz);
		REQUIRE(rs.alloc_cnt <= r->view.blk_cnt * 256 && rs.owner_cnt <= r->view.owner_max);
		REQUIRE(e != -EUCLEAN || rs.damaged);
		if (e == -EUCLEAN)
			check_agrees(r);
		if (!r->corrupt) {
			/* Exactly what the dead held, and then the heap is
			 * exact again. */
			REQUIRE(e == 0 && rs.alloc_cnt == r->dead_cnt && rs.damaged == 0);
			REQUIRE(r->killed || rs.blocks == 0);
			r->killed = false;
			r->dead_cnt = 0;
		}
		break;
	case 9:
		e = h ? shmfs_heap_stats(h, &st) : shmfs_heap_peek(r->mem, r->mem_sz, &st);
		REQUIRE(e == 0 || e == -EUCLEAN || (r->corrupt && (e == -EBADMSG || e == -ENOMSG)));
		if (e == -EUCLEAN)
			check_agrees(r);
		if (e == 0)
			REQUIRE(st.used <= st.size && st.footprint <= st.size && st.hwm <= st.size &&
				st.size == r->view.data_sz && st.alloc_cnt <= r->view.blk_cnt * 256);
		break;
	case 10:
		e = shmfs_heap_check(r->mem, r->mem_sz, msg, sizeof(msg));
		REQUIRE(e == 0 || (r->corrupt && (e == -EUCLEAN || e == -EBADMSG || e == -ENOMSG)));
		break;
	case 11:
		if (!h)
			break;
		off = r->live_cnt && (code & 32) ? r->live[take(r, 1) % r->live_cnt].off : take(r, 4) % r->mem_sz;
		sz = shmfs_heap_usable_size(h, off);
		REQUIRE(sz == 0 || (off >= r->view.data_off && sz <= r->view.heap_sz - off));
		if (exact(r))
			REQUIRE((live_find(r, off) >= 0) == (sz != 0));
		break;
	case 12: /* join another handle */
		for (unsigned i = 0; i < MAX_HANDLES; i++) {
			if (r->hd[i])
				continue;
			e = shmfs_heap_join(r->mem, r->mem_sz, &r->hd[i]);
			REQUIRE(e == 0 || e == -EUSERS || (r->corrupt && (e == -EBADMSG || e == -ENOMSG)));
			if (e < 0)
				r->hd[i] = NULL;
			break;
		}
		break;
	case 13: /* leave a handle; its blocks stay live */
		if (h) {
			unsigned i = handle_idx(r, h);

			REQUIRE(shmfs_heap_leave(h) == 0);
			r->hd[i] = NULL;
			for (unsigned k = 0; k < r->live_cnt; k++)
				if (r->live[k].hi == i)
					r->live[k].hi = MAX_HANDLES; /* nobody's handle now */
		}
		break;
	case 14: /* the process behind a handle dies: its slot names a dead pid */
		if (h) {
			unsigned i = handle_idx(r, h);
			struct heap_owner *o = &r->view.owners[OWNER_IDX(h->owner)];
			uint64_t w = atomic_load(&o->word);

			atomic_store(&o->word, S_MAKE(S_STATE(w), S_GEN(w), S_HOST(w), S_PID_MASK));
			free(h); /* the process is gone: no leave */
			r->hd[i] = NULL;
			r->killed = true;
			for (unsigned k = 0; k < r->live_cnt;)
				if (r->live[k].hi == i) {
					if (r->dead_cnt == MAX_LIVE * MAX_HANDLES)
						r->corrupt = true; /* lost track: no exact oracle */
					else
						r->dead_off[r->dead_cnt] = r->live[k].off;
					r->dead_cnt++;
					live_drop(r, k); /* reclaim frees them */
				} else
					k++;
		}
		break;
	case 15:
		if (!h)
			break;
		sz = pick_size(r);
		off = (size_t)1 << (take(r, 1) % 16);
		got_block(r, h, shmfs_heap_aligned_alloc(h, off, sz), sz, off);
		break;
	case 16:
		if (!h)
			break;
		sz = pick_size(r) & 4095;
		off = shmfs_heap_calloc(h, 1, sz);
		if (off)
			for (size_t i = 0; i < sz; i++)
				REQUIRE(r->mem[off + i] == 0);
		got_block(r, h, off, sz, 0);
		break;
	default: /* as a signal handler that interrupted malloc would */
		if (!h)
			break;
		sz = pick_size(r) & 8191;
		shmfs_heap__test_busy(1);
		off = shmfs_heap_malloc(h, sz);
		shmfs_heap__test_busy(0);
		got_block(r, h, off, sz, 0);
		break;
	}
	check_exact(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	struct shmfs_heap_format_opts fo = { .sz = sizeof(fo) };
	uint8_t cfg = size ? data[0] : 0;
	static uint8_t *mem;
	unsigned ops = 0;

	/* One buffer for every input (no allocation per run: the fuzzer runs
	 * millions); past the heap's mem_sz bytes it is poisoned, so that
	 * AddressSanitizer reports any access beyond the heap's memory. */
	if (!mem)
		REQUIRE(posix_memalign((void **)&mem, 4096, MEM_MAX) == 0);
	memset(&r, 0, sizeof(r));
	r.p = data + (size ? 1 : 0);
	r.end = data + size;
	/* 16 to 79 blocks and 1 to 8 owner slots: small enough that every
	 * operation is quick, large enough for spans of every class. */
	fo.owner_max = 1 + (cfg >> 6) + ((cfg >> 5) & 1) * 4;
	r.mem_sz = 4096 * (8 + 16 + (cfg & 63)) + (cfg & 16) * 64;
	r.mem = mem;
	ASAN_UNPOISON_MEMORY_REGION(mem, MEM_MAX);
	ASAN_POISON_MEMORY_REGION(mem + r.mem_sz, MEM_MAX - r.mem_sz);
	REQUIRE(shmfs_heap_format(r.mem, r.mem_sz, &fo) == 0);
	REQUIRE(shmfs_heap__view(r.mem, r.mem_sz, &r.view) == 0);
	REQUIRE(shmfs_heap_join(r.mem, r.mem_sz, &r.hd[0]) == 0);
	while (r.p < r.end && ops++ < 512)
		op(&r, (unsigned)take(&r, 1));
	for (unsigned i = 0; i < MAX_HANDLES; i++)
		if (r.hd[i])
			shmfs_heap_leave(r.hd[i]);
	return 0;
}
