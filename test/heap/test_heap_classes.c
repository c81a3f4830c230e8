/* test_heap_classes.c - the invariants of the heap's size classes, from the
 * one table they are all derived from (lib/heap_classes.h) and the table the
 * library was built with: the classes cover every small size, grow by at
 * most 25% (or the 16-byte alignment), fill their spans, fit the bitmaps and
 * the free path's reciprocal, and the lookup macro names the smallest class
 * that holds a size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "heap_impl.h"

#define LINE(unit, blocks, a) { unit, blocks, HEAP_CLASS_UNITS(unit, blocks) },
static const struct heap_class table[] = { HEAP_CLASS_TABLE(LINE, 0) };
#undef LINE

static void the_library_uses_the_table(void **state)
{
	(void)state;
	assert_int_equal(sizeof(table) / sizeof(table[0]), HEAP_CLASS_CNT);
	assert_int_equal(HEAP_CLASS_COUNT, HEAP_CLASS_CNT);
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		assert_int_equal(shmfs_heap__classes[c].unit, table[c].unit);
		assert_int_equal(shmfs_heap__classes[c].blocks, table[c].blocks);
		assert_int_equal(shmfs_heap__classes[c].units, table[c].units);
	}
}

static void classes_cover_every_small_size_at_most_25_percent_apart(void **state)
{
	(void)state;
	assert_int_equal(table[0].unit, SHMFS_HEAP_ALIGN);
	assert_int_equal(table[HEAP_CLASS_CNT - 1].unit, SHMFS_HEAP_SMALL_MAX);
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		uint32_t u = table[c].unit;

		assert_int_equal(u % SHMFS_HEAP_ALIGN, 0);
		if (c > 0) {
			uint32_t p = table[c - 1].unit, step = p / 4 > SHMFS_HEAP_ALIGN ? p / 4 : SHMFS_HEAP_ALIGN;

			assert_true(u > p);
			assert_true(u - p <= step);
		}
	}
}

static void spans_are_filled_and_fit_the_bitmaps(void **state)
{
	(void)state;
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		uint64_t span = (uint64_t)table[c].blocks * HEAP_BLOCK_SZ, n = table[c].units;
		uint64_t bits = 0;

		assert_true(table[c].blocks >= 1 && table[c].blocks <= 16);
		/* At least 8 units: a span is claimed once per 8 allocations
		 * at most; at most what the bitmap words hold. */
		assert_true(n >= 8 && n <= HEAP_BMAP_WORDS * HEAP_UNIT_BITS);
		assert_true(n * table[c].unit <= span);
		/* As many units as fit (unless the bitmap is full), and at
		 * most 1/16 of the span wasted. */
		if (n < HEAP_BMAP_WORDS * HEAP_UNIT_BITS)
			assert_true(span - n * table[c].unit < table[c].unit);
		assert_true((span - n * table[c].unit) * 16 <= span);
		/* The word masks name exactly the units, low bits first. */
		for (unsigned i = 0; i < HEAP_BMAP_WORDS; i++) {
			uint64_t m = HEAP_CLASS_WORD_MASK(table[c].units, i);

			assert_int_equal(m, heap_unit_mask(table[c].units, i));
			assert_int_equal(m & (m + 1), 0);
			bits += __builtin_popcountll(m);
		}
		assert_int_equal(bits, n);
	}
}

/* The free path divides by multiplying: exact for every offset in a span. */
static void the_reciprocal_divides_exactly_inside_every_span(void **state)
{
	(void)state;
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		uint64_t span = (uint64_t)table[c].blocks * HEAP_BLOCK_SZ;
		uint32_t u = table[c].unit, r = HEAP_CLASS_RECIP(u);

		assert_true(span <= 1u << 16);
		for (uint64_t rel = 0; rel < span; rel++)
			if ((rel * r) >> 32 != rel / u)
				fail_msg("class %u: %llu / %u", c, (unsigned long long)rel, u);
	}
}

static void the_lookup_names_the_smallest_class_that_holds_a_size(void **state)
{
	(void)state;
	for (uint32_t sz = 1; sz <= SHMFS_HEAP_SMALL_MAX; sz++) {
		unsigned c = HEAP_CLASS_OF(sz);

		assert_true(c < HEAP_CLASS_CNT);
		assert_true(table[c].unit >= sz);
		if (c > 0)
			assert_true(table[c - 1].unit < sz);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_library_uses_the_table),
		cmocka_unit_test(classes_cover_every_small_size_at_most_25_percent_apart),
		cmocka_unit_test(spans_are_filled_and_fit_the_bitmaps),
		cmocka_unit_test(the_reciprocal_divides_exactly_inside_every_span),
		cmocka_unit_test(the_lookup_names_the_smallest_class_that_holds_a_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
