/* test_heap_model.c - millions of random operations checked against a
 * reference model: no two live allocations overlap (a shadow map of 16-byte
 * granules), contents survive until freed, double frees are refused, freed
 * space is reused (no ENOMEM while the heap is less than 40% used), and the
 * stats equal the model's sums exactly. SHMFS_HEAP_TEST_SCALE (percent)
 * shortens it for sanitizer builds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "heap_test.h"

#define MEM_SZ   (64ull << 20)
#define LIVE_MAX 20000

struct live {
	uint64_t off, usable, seed;
};

static uint8_t *shadow; /* 1 bit per 16-byte granule of the heap memory */

static void shadow_mark(uint64_t off, uint64_t len, bool set)
{
	for (uint64_t g = off / 16; g < (off + len) / 16; g++) {
		uint8_t m = 1u << (g % 8);

		if (set) {
			if (shadow[g / 8] & m)
				fail_msg("allocation at %#llx overlaps a live one", (unsigned long long)off);
			shadow[g / 8] |= m;
		} else {
			shadow[g / 8] &= ~m;
		}
	}
}

static void stamp(uint8_t *p, uint64_t usable, uint64_t seed)
{
	memcpy(p, &seed, 8);
	if (usable >= 16)
		memcpy(p + usable - 8, &seed, 8);
}

static bool stamped(const uint8_t *p, uint64_t usable, uint64_t seed)
{
	uint64_t a, b = seed;

	memcpy(&a, p, 8);
	if (usable >= 16)
		memcpy(&b, p + usable - 8, 8);
	return a == seed && b == seed;
}

static size_t random_size(uint64_t *rs)
{
	uint64_t r = ht_rand(rs);

	switch (r % 16) {
	case 0:
		return 8193 + (r >> 8) % (256 << 10); /* large path */
	case 1:
		return 1 + (r >> 8) % 16; /* tiny */
	default:
		return 1 + ((r >> 8) & ((1ull << (1 + (r >> 40) % 13)) - 1)); /* log-uniform to 8 KiB */
	}
}

static void model_matches_heap_over_millions_of_operations(void **state)
{
	uint8_t *mem = ht_map(MEM_SZ);
	static struct live live[LIVE_MAX];
	uint64_t ops = ht_scale(3000000), rs = 0x1234567887654321ull, n = 0, used = 0, seed = 1;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h;
	char msg[256];

	shadow = calloc(MEM_SZ / 16 / 8, 1);
	assert_non_null(shadow);
	assert_int_equal(shmfs_heap_format(mem, MEM_SZ, NULL), 0);
	assert_int_equal(shmfs_heap_join(mem, MEM_SZ, &h), 0);
	assert_int_equal(shmfs_heap_stats(h, &st), 0);

	for (uint64_t op = 0; op < ops; op++) {
		uint64_t r = ht_rand(&rs);
		/* Drift between filling up and draining, so both full and
		 * empty spans and long runs keep happening. */
		bool grow = ((op >> 16) & 1) ? r % 100 < 60 : r % 100 < 40;

		if ((grow && n < LIVE_MAX) || n == 0) {
			size_t sz = random_size(&rs), align = 0;
			uint64_t off;

			if (r % 50 == 7)
				align = 32ull << ((r >> 20) % 10);
			off = align ? shmfs_heap_aligned_alloc(h, align, sz) : shmfs_heap_malloc(h, sz);
			if (!off) {
				assert_int_equal(errno, ENOMEM);
				if (used + sz < st.size * 2 / 5)
					fail_msg("ENOMEM for %zu bytes with only %llu of %llu used", sz,
						 (unsigned long long)used, (unsigned long long)st.size);
				continue;
			}
			if (align)
				assert_int_equal(off % align, 0);
			live[n] = (struct live) { off, shmfs_heap_usable_size(h, off), seed++ };
			assert_true(live[n].usable >= sz && live[n].usable >= 16);
			shadow_mark(off, live[n].usable, true);
			stamp(shmfs_heap_ptr(h, off), live[n].usable, live[n].seed);
			used += live[n].usable;
			n++;
		} else {
			uint64_t i = (r >> 16) % n;
			struct live l = live[i];

			if (!stamped(shmfs_heap_ptr(h, l.off), l.usable, l.seed))
				fail_msg("allocation at %#llx was overwritten", (unsigned long long)l.off);
			assert_int_equal(shmfs_heap_free(h, l.off), 0);
			if (r % 97 == 3)
				assert_int_equal(shmfs_heap_free(h, l.off), -EINVAL);
			shadow_mark(l.off, l.usable, false);
			used -= l.usable;
			live[i] = live[--n];
		}
		if (op % 20000 == 0) {
			assert_int_equal(shmfs_heap_stats(h, &st), 0);
			assert_int_equal(st.used, used);
			assert_int_equal(st.alloc_cnt, n);
		}
		if (op % 500000 == 0)
			assert_int_equal(shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)), 0);
	}

	/* Drain: everything is reusable, down to one allocation of nearly all. */
	while (n) {
		n--;
		assert_true(stamped(shmfs_heap_ptr(h, live[n].off), live[n].usable, live[n].seed));
		assert_int_equal(shmfs_heap_free(h, live[n].off), 0);
	}
	assert_int_equal(shmfs_heap_stats(h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_int_equal(shmfs_heap_check(mem, MEM_SZ, msg, sizeof(msg)), 0);
	{
		uint64_t big = shmfs_heap_malloc(h, st.size - 64 * 4096);

		assert_true(big);
		assert_int_equal(shmfs_heap_free(h, big), 0);
	}
	shmfs_heap_leave(h);
	free(shadow);
	ht_unmap(mem, MEM_SZ);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_matches_heap_over_millions_of_operations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
