/* test_heap_damage.c - a heap whose metadata another process wrote garbage
 * into: every bad field, on every call. The heap sits between two
 * inaccessible guard pages, so any access outside it crashes the test (also
 * without a sanitizer). For each kind of damage (class out of range, unknown
 * kind, owner past the table, run past the end or empty, large run with a
 * class, bitmap bits past a span, a stale bitmap tag, a body pointing
 * forward, a kept large run past the end, a large run missing a body) and
 * each call (malloc, free, usable_size, trim, stats, peek, check, reclaim),
 * the call gives an error or works around the damaged block, never
 * succeeds on it, and leaves it as it was. Tests are generated
 * from the two tables: one cmocka test per (damage, call). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "heap_impl.h"
#include "heap_test.h"

#define MEM_SZ   (1ull << 20)
#define GUARD    4096ul
#define SMALL_SZ 48 /* class 2: 85 units, so bitmap word 2 has bits past the span */
#define LARGE_N  3  /* blocks of the large runs */

struct fix {
	uint8_t *map, *mem;
	struct shmfs_heap v;
	shmfs_heap_t *live, *dead;
	uint64_t dead_small[3], dead_large; /* allocations of the "dead" owner */
	uint64_t live_small[3], live_large; /* of the live one */
	/* What the damage hit: the block, its offset to free, and copies of
	 * its descriptor, aux and bitmap words to see it was left alone. */
	uint64_t blk, target;
	uint64_t desc, bm[HEAP_BMAP_STRIDE];
	uint32_t aux;
};

enum call { C_MALLOC, C_FREE, C_USABLE, C_TRIM, C_STATS, C_PEEK, C_CHECK, C_RECLAIM, C_CNT };

static const char *const call_name[C_CNT] = {
	"malloc", "free", "usable_size", "trim", "stats", "peek", "check", "reclaim",
};

static uint64_t blk_of(struct fix *f, uint64_t off)
{
	return (off - f->v.data_off) / 4096;
}

static uint64_t small_head(struct fix *f, bool dead)
{
	return blk_of(f, dead ? f->dead_small[0] : f->live_small[0]);
}

static uint64_t large_head(struct fix *f, bool dead)
{
	return blk_of(f, dead ? f->dead_large : f->live_large);
}

/* Damages: each writes one bad field into a block of the dead owner (for
 * reclaim) or the live one (for everything else), and sets f->blk and
 * f->target (the offset a caller would free). */
static void d_class_47(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(D_OWNER(d), K_SMALL, 47, D_GEN(d));
	f->blk = b, f->target = dead ? f->dead_small[1] : f->live_small[1];
}

static void d_retire_class_33(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(D_OWNER(d), K_RETIRE, 33, D_GEN(d));
	f->blk = b, f->target = dead ? f->dead_small[1] : f->live_small[1];
}

static void d_kind_9(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(D_OWNER(d), 9, D_CLASS(d), D_GEN(d));
	f->blk = b, f->target = dead ? f->dead_small[1] : f->live_small[1];
}

static void d_owner_past_table(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(OWNER_MAKE(f->v.owner_max + 7, 1), K_SMALL, D_CLASS(d), D_GEN(d));
	f->blk = b, f->target = dead ? f->dead_small[1] : f->live_small[1];
}

static void d_run_past_end(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead);

	f->v.aux[b] = (uint32_t)(f->v.blk_cnt - b + 1);
	f->blk = b, f->target = dead ? f->dead_large : f->live_large;
}

static void d_run_empty(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead);

	f->v.aux[b] = 0;
	f->blk = b, f->target = dead ? f->dead_large : f->live_large;
}

static void d_large_with_class(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(D_OWNER(d), K_LARGE, 5, D_GEN(d));
	f->blk = b, f->target = dead ? f->dead_large : f->live_large;
}

/* Unit 85 of class 2 (85 units: 0-84) is bit 21 of word 2. */
static void d_alloc_bit_past_span(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead);

	heap_bmap(&f->v, b)[2] |= 1ull << 21;
	f->blk = b, f->target = heap_blk_off(&f->v, b) + 85 * SMALL_SZ;
}

static void d_freed_bit_past_span(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead);

	heap_bmap(&f->v, b)[HEAP_FREED + 2] |= 1ull << 21;
	f->blk = b, f->target = heap_blk_off(&f->v, b) + 85 * SMALL_SZ;
}

static void d_stale_tag(struct fix *f, bool dead)
{
	uint64_t b = small_head(f, dead);

	heap_bmap(&f->v, b)[0] += 1ull << HEAP_UNIT_BITS;
	f->blk = b, f->target = dead ? f->dead_small[1] : f->live_small[1];
}

/* A body of a large run marked free: the run would be released short. */
static void d_large_run_missing_a_body(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead), d = f->v.desc[b + 1];

	f->v.desc[b + 1] = D_MAKE(0, K_FREE, 0, D_GEN(d) + 1);
	f->blk = b + 1, f->target = dead ? f->dead_large : f->live_large;
}

/* A run kept by this thread for reuse (K_CACHED), whose length runs past
 * the end of the heap. */
static void d_kept_run_past_end(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead), d = f->v.desc[b];

	f->v.desc[b] = D_MAKE(D_OWNER(d), K_CACHED, 0, D_GEN(d));
	f->v.hold[b] = (uint32_t)syscall(SYS_gettid);
	f->v.aux[b] = (uint32_t)(f->v.blk_cnt - b + 1);
	f->blk = b, f->target = dead ? f->dead_large : f->live_large;
}

static void d_body_points_forward(struct fix *f, bool dead)
{
	uint64_t b = large_head(f, dead) + 1;

	f->v.aux[b] = (uint32_t)(b + 1);
	f->blk = b, f->target = heap_blk_off(&f->v, b);
}

static const struct damage {
	const char *name;
	void (*apply)(struct fix *f, bool dead);
	bool large;
} damages[] = {
	{ "a_span_of_class_47", d_class_47, false },
	{ "a_retiring_span_of_class_33", d_retire_class_33, false },
	{ "a_block_of_unknown_kind", d_kind_9, false },
	{ "a_span_whose_owner_is_past_the_table", d_owner_past_table, false },
	{ "a_large_run_past_the_end", d_run_past_end, true },
	{ "a_large_run_of_no_blocks", d_run_empty, true },
	{ "a_large_run_with_a_class", d_large_with_class, true },
	{ "an_allocated_unit_past_the_span", d_alloc_bit_past_span, false },
	{ "a_freed_unit_past_the_span", d_freed_bit_past_span, false },
	{ "a_bitmap_with_a_stale_tag", d_stale_tag, false },
	{ "a_body_pointing_forward", d_body_points_forward, true },
	{ "a_kept_run_past_the_end", d_kept_run_past_end, true },
	{ "a_large_run_missing_a_body", d_large_run_missing_a_body, true },
};
#define DAMAGE_CNT (sizeof(damages) / sizeof(damages[0]))

struct param {
	const struct damage *dmg;
	enum call call;
	char name[128];
	struct fix *f;
};

static int setup(void **state)
{
	struct param *p = *state;
	struct fix *f = p->f;
	struct shmfs_heap_format_opts fo = { .sz = sizeof(fo), .owner_max = 8 };

	memset(f, 0, sizeof(*f));
	f->map = ht_map(MEM_SZ + 2 * GUARD);
	if (!f->map)
		return -1;
	/* Inaccessible pages on both sides: an access outside the heap
	 * crashes the test. */
	f->mem = f->map + GUARD;
	if (mprotect(f->map, GUARD, PROT_NONE) < 0 || mprotect(f->mem + MEM_SZ, GUARD, PROT_NONE) < 0)
		return -1;
	if (shmfs_heap_format(f->mem, MEM_SZ, &fo) < 0 || shmfs_heap__view(f->mem, MEM_SZ, &f->v) < 0 ||
	    shmfs_heap_join(f->mem, MEM_SZ, &f->dead) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		f->dead_small[i] = shmfs_heap_malloc(f->dead, SMALL_SZ);
	f->dead_large = shmfs_heap_malloc(f->dead, LARGE_N * 4096);
	if (shmfs_heap_trim(f->dead) < 0 || shmfs_heap_join(f->mem, MEM_SZ, &f->live) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		f->live_small[i] = shmfs_heap_malloc(f->live, SMALL_SZ);
	f->live_large = shmfs_heap_malloc(f->live, LARGE_N * 4096);
	/* Let go of the spans this thread holds: a span is checked when a
	 * thread takes it (damage written into a span a thread already
	 * allocates from is not seen by the fast path). */
	if (shmfs_heap_trim(f->live) < 0 || !f->live_large || !f->dead_large)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct param *p = *state;
	struct fix *f = p->f;

	free(f->live);
	free(f->dead);
	munmap(f->map, MEM_SZ + 2 * GUARD);
	return 0;
}

/* The process behind the "dead" handle is gone: its slot names a pid that
 * cannot exist. */
static void kill_dead_owner(struct fix *f)
{
	struct heap_owner *o = &f->v.owners[OWNER_IDX(f->dead->owner)];
	uint64_t w = atomic_load(&o->word);

	atomic_store(&o->word, S_MAKE(S_STATE(w), S_GEN(w), S_HOST(w), S_PID_MASK));
}

static void snapshot(struct fix *f)
{
	f->desc = f->v.desc[f->blk];
	f->aux = f->v.aux[f->blk];
	memcpy(f->bm, (const void *)heap_bmap(&f->v, f->blk), sizeof(f->bm));
}

static void assert_untouched(struct fix *f)
{
	assert_int_equal(f->v.desc[f->blk], f->desc);
	assert_int_equal(f->v.aux[f->blk], f->aux);
	assert_memory_equal((const void *)heap_bmap(&f->v, f->blk), f->bm, sizeof(f->bm));
}

static bool in_damaged_run(struct fix *f, uint64_t off, bool large)
{
	uint64_t b = blk_of(f, off), head = large ? large_head(f, false) : small_head(f, false);

	return b >= head && b < head + (large ? LARGE_N : 1);
}

static void damaged_heap(void **state)
{
	struct param *p = *state;
	struct fix *f = p->f;
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	char msg[256] = "";
	uint64_t off;
	int64_t n;

	p->dmg->apply(f, p->call == C_RECLAIM);
	snapshot(f);
	switch (p->call) {
	case C_MALLOC:
		/* Allocation works around the damaged block. */
		for (int i = 0; i < 100; i++) {
			off = shmfs_heap_malloc(f->live, SMALL_SZ);
			assert_true(off);
			assert_false(in_damaged_run(f, off, p->dmg->large));
		}
		off = shmfs_heap_malloc(f->live, LARGE_N * 4096);
		assert_true(off);
		assert_false(in_damaged_run(f, off, p->dmg->large));
		break;
	case C_FREE:
		assert_true(shmfs_heap_free(f->live, f->target) < 0);
		assert_true(shmfs_heap_free(f->live, f->target) < 0);
		break;
	case C_USABLE:
		assert_int_equal(shmfs_heap_usable_size(f->live, f->target), 0);
		break;
	case C_TRIM:
		n = shmfs_heap_trim(f->live);
		assert_true(n >= 0 && (uint64_t)n <= f->v.blk_cnt);
		break;
	case C_STATS:
		assert_int_equal(shmfs_heap_stats(f->live, &st), -EUCLEAN);
		break;
	case C_PEEK:
		assert_int_equal(shmfs_heap_peek(f->mem, MEM_SZ, &st), -EUCLEAN);
		break;
	case C_CHECK:
		assert_int_equal(shmfs_heap_check(f->mem, MEM_SZ, msg, sizeof(msg)), -EUCLEAN);
		assert_true(strlen(msg) > 0);
		break;
	case C_RECLAIM:
		kill_dead_owner(f);
		rs = (shmfs_heap_reclaim_stats_t) { .sz = sizeof(rs) };
		assert_int_equal(shmfs_heap_reclaim(f->mem, MEM_SZ, &rs), -EUCLEAN);
		assert_true(rs.damaged >= 1);
		/* What was not damaged is freed; the slot stays while a
		 * damaged block names it (not when the damage renamed it). */
		assert_true(rs.alloc_cnt >= 1 && rs.alloc_cnt <= 4);
		assert_true(rs.bytes <= 3 * SMALL_SZ + LARGE_N * 4096);
		assert_true(rs.blocks <= 1 + LARGE_N);
		assert_int_equal(rs.owner_cnt, p->dmg->apply == d_owner_past_table);
		break;
	default:
		fail();
	}
	assert_untouched(f);
}

int main(void)
{
	static struct CMUnitTest tests[DAMAGE_CNT * C_CNT];
	static struct param params[DAMAGE_CNT * C_CNT];
	static struct fix fix;
	size_t n = 0;

	for (size_t d = 0; d < DAMAGE_CNT; d++)
		for (int c = 0; c < C_CNT; c++, n++) {
			params[n] = (struct param) { &damages[d], (enum call)c, "", &fix };
			snprintf(params[n].name, sizeof(params[n].name), "%s_on_%s_fails_safe", call_name[c],
				 damages[d].name);
			tests[n] = (struct CMUnitTest) { params[n].name, damaged_heap, setup, teardown, &params[n] };
		}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
