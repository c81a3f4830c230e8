/* test_heap.c - the heap allocator's behaviour, one rule per test: format and
 * join validation, every size class, the large path, alignment, exhaustion,
 * free(0), double and wild frees, calloc, translation, stats, check, owner
 * slots and reclaim of a dead process's blocks; spans held by one thread:
 * frees from other threads, the path of an allocation that interrupts
 * malloc, spans of exited threads, leave, a death inside a collection. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "heap_impl.h"
#include "heap_test.h"

#define MEM_SZ (64ull << 20)

struct fix {
	uint8_t *mem;
	size_t sz;
	shmfs_heap_t *h;
};

static int setup(void **state)
{
	static struct fix f;

	f.sz = MEM_SZ;
	f.mem = ht_map(f.sz);
	if (!f.mem || shmfs_heap_format(f.mem, f.sz, NULL) < 0 || shmfs_heap_join(f.mem, f.sz, &f.h) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	shmfs_heap_leave(f->h);
	ht_unmap(f->mem, f->sz);
	return 0;
}

static void assert_consistent(struct fix *f)
{
	char msg[256];

	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), 0);
}

static void assert_empty(struct fix *f)
{
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_consistent(f);
}

static void format_refuses_bad_arguments(void **state)
{
	struct fix *f = *state;
	struct shmfs_heap_format_opts o = { .sz = sizeof(o), .owner_max = SHMFS_HEAP_OWNER_MAX + 1 };
	uint8_t *m = ht_map(1 << 20);

	assert_int_equal(shmfs_heap_format(NULL, 1 << 20, NULL), -EINVAL);
	assert_int_equal(shmfs_heap_format(m + 8, 1 << 19, NULL), -EINVAL);
	assert_int_equal(shmfs_heap_format(m, 8192, NULL), -ENOSPC);
	assert_int_equal(shmfs_heap_format(m, 1 << 20, &o), -EINVAL);
	o.sz = 1;
	o.owner_max = 0;
	assert_int_equal(shmfs_heap_format(m, 1 << 20, &o), -EINVAL);
	ht_unmap(m, 1 << 20);
	(void)f;
}

static void join_refuses_foreign_memory(void **state)
{
	uint8_t *m = ht_map(1 << 20);
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h = NULL;
	uint64_t seed = 42;

	assert_int_equal(shmfs_heap_join(m, 1 << 20, &h), -ENOMSG);
	for (size_t i = 0; i < 4096; i += 8)
		*(uint64_t *)(m + i) = ht_rand(&seed);
	assert_int_equal(shmfs_heap_join(m, 1 << 20, &h), -ENOMSG);
	assert_int_equal(shmfs_heap_peek(m, 1 << 20, &st), -ENOMSG);
	assert_int_equal(shmfs_heap_check(m, 1 << 20, NULL, 0), -ENOMSG);
	assert_int_equal(shmfs_heap_peek(m, 4, &st), -ENOMSG);
	assert_null(h);
	ht_unmap(m, 1 << 20);
	(void)state;
}

static void join_refuses_damaged_header(void **state)
{
	size_t sz = 1 << 20;
	uint8_t *m = ht_map(sz);
	shmfs_heap_t *h = NULL;
	struct heap_hdr *hdr = (struct heap_hdr *)m;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	/* Every byte of the immutable header is covered by the checksum. */
	for (size_t i = 8; i < sizeof(struct heap_hdr); i++) {
		assert_int_equal(shmfs_heap_format(m, sz, NULL), 0);
		m[i] ^= 0x10;
		assert_int_equal(shmfs_heap_join(m, sz, &h), -EBADMSG);
		assert_int_equal(shmfs_heap_peek(m, sz, &st), -EBADMSG);
	}
	/* A consistent header of another version is refused too. */
	assert_int_equal(shmfs_heap_format(m, sz, NULL), 0);
	hdr->version = 2;
	hdr->checksum = 0;
	assert_int_equal(shmfs_heap_join(m, sz, &h), -EBADMSG);
	assert_null(h);
	ht_unmap(m, sz);
	(void)state;
}

static void join_refuses_truncated_mapping(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h = NULL;

	assert_int_equal(shmfs_heap_join(f->mem, f->sz - 4096, &h), -EBADMSG);
	assert_int_equal(shmfs_heap_peek(f->mem, f->sz / 2, &st), -EBADMSG);
	assert_int_equal(shmfs_heap_peek(f->mem, 64, &st), -EBADMSG);
	assert_null(h);
}

static void join_from_another_address_sees_the_same_heap(void **state)
{
	struct fix *f = *state;
	uint8_t *alias = mmap(NULL, f->sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	shmfs_heap_t *h2;
	uint64_t off;

	/* Remap the same pages elsewhere: mremap with size 0 duplicates a
	 * shared mapping. */
	munmap(alias, f->sz);
	alias = mremap(f->mem, 0, f->sz, MREMAP_MAYMOVE);
	assert_true(alias != MAP_FAILED && alias != f->mem);
	assert_int_equal(shmfs_heap_join(alias, f->sz, &h2), 0);
	off = shmfs_heap_malloc(f->h, 100);
	assert_true(off);
	strcpy(shmfs_heap_ptr(f->h, off), "hello");
	assert_string_equal(shmfs_heap_ptr(h2, off), "hello");
	assert_int_equal(shmfs_heap_off(h2, (uint8_t *)alias + off), off);
	assert_int_equal(shmfs_heap_free(h2, off), 0);
	assert_int_equal(shmfs_heap_leave(h2), 0);
	munmap(alias, f->sz);
	assert_empty(f);
}

static void peek_reads_stats_without_joining(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t a = shmfs_heap_malloc(f->h, 100), b = shmfs_heap_malloc(f->h, 20000);

	assert_int_equal(shmfs_heap_peek(f->mem, f->sz, &st), 0);
	assert_int_equal(st.used, 112 + 20480);
	assert_int_equal(st.alloc_cnt, 2);
	assert_int_equal(st.free, st.size - st.used);
	assert_true(st.size > MEM_SZ * 96 / 100 && st.size < MEM_SZ);
	assert_true(st.footprint >= st.used && st.hwm >= st.footprint);
	assert_int_equal(st.owner_cnt, 1);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_int_equal(shmfs_heap_free(f->h, b), 0);
	assert_empty(f);
}

/* The structs the heap fills in carry their size: a caller built against a
 * shorter (older) struct gets the fields it knows and nothing written past
 * them; one built against a longer struct gets sz back as what was filled;
 * one below the first version is refused, the struct untouched. */
static void stats_structs_honour_the_callers_sz(void **state)
{
	struct fix *f = *state;
	size_t first = offsetof(shmfs_heap_stats_t, owner_max) + sizeof(uint64_t);
	size_t rfirst = offsetof(shmfs_heap_reclaim_stats_t, damaged) + sizeof(uint64_t);
	struct { shmfs_heap_stats_t st; uint64_t later[2]; } big;
	struct { shmfs_heap_reclaim_stats_t rs; uint64_t later[2]; } rbig;
	shmfs_heap_stats_t st;
	uint64_t a = shmfs_heap_malloc(f->h, 100);

	/* A longer struct: the library's fields filled, the rest untouched. */
	memset(&big, 0xa5, sizeof(big));
	big.st.sz = sizeof(big);
	assert_int_equal(shmfs_heap_stats(f->h, &big.st), 0);
	assert_int_equal(big.st.sz, sizeof(shmfs_heap_stats_t));
	assert_int_equal(big.st.alloc_cnt, 1);
	assert_int_equal(big.st.used, 112);
	assert_int_equal(big.later[0], 0xa5a5a5a5a5a5a5a5ull);
	memset(&big, 0xa5, sizeof(big));
	big.st.sz = sizeof(big);
	assert_int_equal(shmfs_heap_peek(f->mem, f->sz, &big.st), 0);
	assert_int_equal(big.st.sz, sizeof(shmfs_heap_stats_t));
	assert_int_equal(big.st.owner_max, 256);
	assert_int_equal(big.later[1], 0xa5a5a5a5a5a5a5a5ull);
	/* Exactly the first version. */
	memset(&st, 0xa5, sizeof(st));
	st.sz = first;
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.sz, first);
	assert_int_equal(st.owner_max, 256);
	/* A size that cuts a field past the library's: whole fields only. */
	big.st.sz = sizeof(shmfs_heap_stats_t) + 4;
	assert_int_equal(shmfs_heap_stats(f->h, &big.st), 0);
	assert_int_equal(big.st.sz, sizeof(shmfs_heap_stats_t));
	/* Too short, or not set: refused, nothing written. */
	for (size_t sz = 0; sz < first; sz += 4) {
		memset(&st, 0xa5, sizeof(st));
		st.sz = sz;
		assert_int_equal(shmfs_heap_stats(f->h, &st), -EINVAL);
		assert_int_equal(shmfs_heap_peek(f->mem, f->sz, &st), -EINVAL);
		assert_int_equal(st.sz, sz);
		assert_int_equal(st.alloc_cnt, 0xa5a5a5a5a5a5a5a5ull);
	}
	/* reclaim: the same rules; a refused sz reclaims nothing. */
	memset(&rbig, 0xa5, sizeof(rbig));
	rbig.rs.sz = sizeof(rbig);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rbig.rs), 0);
	assert_int_equal(rbig.rs.sz, sizeof(shmfs_heap_reclaim_stats_t));
	assert_int_equal(rbig.rs.owner_cnt, 0);
	assert_int_equal(rbig.rs.damaged, 0);
	assert_int_equal(rbig.later[0], 0xa5a5a5a5a5a5a5a5ull);
	rbig.rs.sz = rfirst - 1;
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rbig.rs), -EINVAL);
	assert_int_equal(rbig.rs.sz, rfirst - 1);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, NULL), 0);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_empty(f);
}

/* The class lookup is a table: every size up to SHMFS_HEAP_SMALL_MAX must
 * land in the smallest class that holds it (0 counts as 1). */
static void every_small_size_gets_the_smallest_class_that_fits(void **state)
{
	struct fix *f = *state;

	for (size_t sz = 0; sz <= SHMFS_HEAP_SMALL_MAX; sz++) {
		uint64_t off = shmfs_heap_malloc(f->h, sz);
		unsigned c = 0;

		while (shmfs_heap__classes[c].unit < (sz ? sz : 1))
			c++;
		assert_true(off);
		assert_int_equal(shmfs_heap_usable_size(f->h, off), shmfs_heap__classes[c].unit);
		assert_int_equal(shmfs_heap_free(f->h, off), 0);
	}
	assert_empty(f);
}

static void every_size_class_gives_distinct_aligned_units(void **state)
{
	struct fix *f = *state;
	static uint64_t offs[40][300];
	size_t prev = 0;

	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		size_t unit = shmfs_heap__classes[c].unit, n = shmfs_heap__classes[c].units * 2 + 3;

		for (size_t sz = prev + 1; sz <= unit; sz += (unit - prev + 2) / 3) {
			uint64_t off = shmfs_heap_malloc(f->h, sz);

			assert_true(off);
			assert_int_equal(off % 16, 0);
			assert_int_equal(shmfs_heap_usable_size(f->h, off), unit);
			assert_int_equal(shmfs_heap_free(f->h, off), 0);
		}
		/* More than two spans' worth: spans fill up and new ones come. */
		for (size_t i = 0; i < n && i < 300; i++) {
			offs[c][i] = shmfs_heap_malloc(f->h, unit);
			assert_true(offs[c][i]);
			ht_fill(shmfs_heap_ptr(f->h, offs[c][i]), unit, offs[c][i]);
		}
		prev = unit;
	}
	assert_consistent(f);
	for (unsigned c = 0; c < HEAP_CLASS_CNT; c++) {
		size_t unit = shmfs_heap__classes[c].unit, n = shmfs_heap__classes[c].units * 2 + 3;

		for (size_t i = 0; i < n && i < 300; i++) {
			assert_int_equal(ht_verify(shmfs_heap_ptr(f->h, offs[c][i]), unit, offs[c][i]), 0);
			assert_int_equal(shmfs_heap_free(f->h, offs[c][i]), 0);
		}
	}
	assert_empty(f);
}

static void size_zero_is_one_byte(void **state)
{
	struct fix *f = *state;
	uint64_t off = shmfs_heap_malloc(f->h, 0);

	assert_true(off);
	assert_int_equal(shmfs_heap_usable_size(f->h, off), 16);
	assert_int_equal(shmfs_heap_free(f->h, off), 0);
}

static void large_allocations_take_whole_blocks(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	size_t sizes[] = { SHMFS_HEAP_SMALL_MAX + 1, 12288, 100000, 1 << 20, 10 << 20 };
	uint64_t offs[5];

	for (int i = 0; i < 5; i++) {
		offs[i] = shmfs_heap_malloc(f->h, sizes[i]);
		assert_true(offs[i]);
		assert_int_equal(offs[i] % 4096, 0);
		assert_int_equal(shmfs_heap_usable_size(f->h, offs[i]), (sizes[i] + 4095) / 4096 * 4096);
		ht_fill(shmfs_heap_ptr(f->h, offs[i]), sizes[i], i);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ht_verify(shmfs_heap_ptr(f->h, offs[i]), sizes[i], i), 0);
		assert_int_equal(shmfs_heap_free(f->h, offs[i]), 0);
	}
	assert_empty(f);
	/* Most of the heap in one allocation. */
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	offs[0] = shmfs_heap_malloc(f->h, st.size - 64 * 4096);
	assert_true(offs[0]);
	assert_int_equal(shmfs_heap_free(f->h, offs[0]), 0);
	assert_empty(f);
}

static void aligned_alloc_honours_alignment(void **state)
{
	struct fix *f = *state;
	uint64_t offs[64];
	int n = 0;

	for (size_t a = 16; a <= (1 << 20); a <<= 1) {
		size_t sizes[] = { 1, 24, a, a + 1, 3 * a };

		for (int i = 0; i < 5; i++) {
			uint64_t off = shmfs_heap_aligned_alloc(f->h, a, sizes[i]);

			assert_true(off);
			assert_int_equal(off % a, 0);
			assert_true(shmfs_heap_usable_size(f->h, off) >= sizes[i]);
			if (a <= 4096) /* mmap aligns the mapping to the page */
				assert_int_equal((uintptr_t)shmfs_heap_ptr(f->h, off) % a, 0);
			if (n < 64)
				offs[n++] = off;
			else
				assert_int_equal(shmfs_heap_free(f->h, off), 0);
		}
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(shmfs_heap_free(f->h, offs[i]), 0);
	errno = 0;
	assert_int_equal(shmfs_heap_aligned_alloc(f->h, 48, 10), 0);
	assert_int_equal(errno, EINVAL);
	offs[0] = shmfs_heap_aligned_alloc(f->h, 8, 10); /* below 16 means 16 */
	assert_int_equal(offs[0] % 16, 0);
	assert_int_equal(shmfs_heap_free(f->h, offs[0]), 0);
	assert_empty(f);
}

static void exhaustion_returns_enomem_and_keeps_the_heap_intact(void **state)
{
	size_t sz = 4 << 20;
	uint8_t *m = ht_map(sz);
	static uint64_t offs[1 << 17];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h;
	size_t n = 0;
	uint64_t big;

	assert_int_equal(shmfs_heap_format(m, sz, NULL), 0);
	assert_int_equal(shmfs_heap_join(m, sz, &h), 0);
	for (;;) {
		uint64_t off = shmfs_heap_malloc(h, 64);

		if (!off)
			break;
		ht_fill(shmfs_heap_ptr(h, off), 64, off);
		offs[n++] = off;
	}
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_int_equal(shmfs_heap_malloc(h, 20000), 0);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(shmfs_heap_malloc(h, SIZE_MAX), 0);
	assert_int_equal(shmfs_heap_calloc(h, SIZE_MAX / 2, 4), 0);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(shmfs_heap_check(m, sz, NULL, 0), 0);
	assert_int_equal(shmfs_heap_stats(h, &st), 0);
	assert_int_equal(st.alloc_cnt, n);
	assert_int_equal(st.used, n * 64);
	assert_true(st.used > st.size * 95 / 100);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ht_verify(shmfs_heap_ptr(h, offs[i]), 64, offs[i]), 0);
		assert_int_equal(shmfs_heap_free(h, offs[i]), 0);
	}
	/* Everything came back: one allocation of nearly all of it fits. */
	big = shmfs_heap_malloc(h, st.size - 8 * 4096);
	assert_true(big);
	assert_int_equal(shmfs_heap_free(h, big), 0);
	assert_int_equal(shmfs_heap_check(m, sz, NULL, 0), 0);
	shmfs_heap_leave(h);
	ht_unmap(m, sz);
	(void)state;
}

static void free_of_null_is_a_noop(void **state)
{
	struct fix *f = *state;

	assert_int_equal(shmfs_heap_free(f->h, 0), 0);
	assert_int_equal(shmfs_heap_free(NULL, 0), 0);
	assert_empty(f);
}

static void double_free_is_refused_and_harms_nothing(void **state)
{
	struct fix *f = *state;
	uint64_t a = shmfs_heap_malloc(f->h, 32), b = shmfs_heap_malloc(f->h, 32);
	uint64_t l = shmfs_heap_malloc(f->h, 50000), c;

	ht_fill(shmfs_heap_ptr(f->h, b), 32, b);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_int_equal(shmfs_heap_free(f->h, a), -EINVAL);
	assert_int_equal(shmfs_heap_free(f->h, l), 0);
	assert_int_equal(shmfs_heap_free(f->h, l), -EINVAL);
	/* The unit freed twice is handed out once, b stays intact. */
	c = shmfs_heap_malloc(f->h, 32);
	assert_int_equal(shmfs_heap_free(f->h, a == c ? a : c), 0);
	assert_int_equal(ht_verify(shmfs_heap_ptr(f->h, b), 32, b), 0);
	assert_int_equal(shmfs_heap_free(f->h, b), 0);
	if (a != c)
		assert_int_equal(shmfs_heap_free(f->h, a), -EINVAL);
	assert_empty(f);
}

static void wild_offsets_are_refused(void **state)
{
	struct fix *f = *state;
	uint64_t s = shmfs_heap_malloc(f->h, 48), l = shmfs_heap_malloc(f->h, 3 * 4096);
	struct heap_hdr *hdr = (struct heap_hdr *)f->mem;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	assert_int_equal(shmfs_heap_free(f->h, 16), -EINVAL);              /* header */
	assert_int_equal(shmfs_heap_free(f->h, hdr->desc_off), -EINVAL);   /* metadata */
	assert_int_equal(shmfs_heap_free(f->h, f->sz), -EINVAL);           /* past the end */
	assert_int_equal(shmfs_heap_free(f->h, UINT64_MAX - 15), -EINVAL);
	assert_int_equal(shmfs_heap_free(f->h, s + 1), -EINVAL);           /* misaligned */
	assert_int_equal(shmfs_heap_free(f->h, s + 16), -EINVAL);          /* inside a unit */
	assert_int_equal(shmfs_heap_free(f->h, s + 48), -EINVAL);          /* free neighbour */
	assert_int_equal(shmfs_heap_free(f->h, l + 4096), -EINVAL);        /* inside a run */
	assert_int_equal(shmfs_heap_free(f->h, l + 16), -EINVAL);
	assert_int_equal(shmfs_heap_free(f->h, l + 5 * 4096), -EINVAL);    /* free block */
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 2);
	assert_int_equal(shmfs_heap_free(f->h, s), 0);
	assert_int_equal(shmfs_heap_free(f->h, l), 0);
	assert_empty(f);
}

static void calloc_zeroes_memory(void **state)
{
	struct fix *f = *state;
	uint64_t a = shmfs_heap_malloc(f->h, 200), b;
	uint8_t *p;

	memset(shmfs_heap_ptr(f->h, a), 0xaa, 200);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	b = shmfs_heap_calloc(f->h, 10, 20);
	assert_true(b);
	p = shmfs_heap_ptr(f->h, b);
	for (int i = 0; i < 200; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(shmfs_heap_free(f->h, b), 0);
	assert_empty(f);
}

static void translation_maps_offsets_and_pointers(void **state)
{
	struct fix *f = *state;

	assert_null(shmfs_heap_ptr(f->h, 0));
	assert_null(shmfs_heap_ptr(f->h, f->sz + 1));
	assert_ptr_equal(shmfs_heap_ptr(f->h, 4096), f->mem + 4096);
	assert_int_equal(shmfs_heap_off(f->h, NULL), 0);
	assert_int_equal(shmfs_heap_off(f->h, f->mem + 4096), 4096);
	assert_int_equal(shmfs_heap_off(f->h, f->mem - 1), 0);
	assert_int_equal(shmfs_heap_off(f->h, f->mem + f->sz), 0);
}

static void check_reports_a_damaged_descriptor(void **state)
{
	struct fix *f = *state;
	struct heap_hdr *hdr = (struct heap_hdr *)f->mem;
	uint64_t *desc = (uint64_t *)(f->mem + hdr->desc_off), saved;
	uint64_t off = shmfs_heap_malloc(f->h, 5 * 4096), b = (off - hdr->data_off) / 4096;
	char msg[256];

	saved = desc[b + 2];
	desc[b + 2] = D_MAKE(0, K_FREE, 0, 7);
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "not attached"));
	desc[b + 2] = saved;
	desc[b + 7] = D_MAKE(0, 9, 0, 0);
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "unknown kind"));
	desc[b + 7] = 0;
	desc[b + 9] = D_MAKE(OWNER_MAKE(200, 3), K_LARGE, 0, 1);
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "not a registered owner"));
	desc[b + 9] = 0;
	assert_int_equal(shmfs_heap_free(f->h, off), 0);
	assert_empty(f);
}

static void owner_slots_are_limited_and_released_by_leave(void **state)
{
	size_t sz = 1 << 20;
	uint8_t *m = ht_map(sz);
	struct shmfs_heap_format_opts o = { .sz = sizeof(o), .owner_max = 2 };
	shmfs_heap_t *a, *b, *c = NULL;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t off;

	assert_int_equal(shmfs_heap_format(m, sz, &o), 0);
	assert_int_equal(shmfs_heap_join(m, sz, &a), 0);
	assert_int_equal(shmfs_heap_join(m, sz, &b), 0);
	assert_int_equal(shmfs_heap_join(m, sz, &c), -EUSERS);
	off = shmfs_heap_malloc(b, 10);
	assert_int_equal(shmfs_heap_leave(a), 0); /* owns nothing: slot freed */
	assert_int_equal(shmfs_heap_leave(b), 0); /* owns a span: slot kept */
	assert_int_equal(shmfs_heap_peek(m, sz, &st), 0);
	assert_int_equal(st.owner_cnt, 1);
	assert_int_equal(st.alloc_cnt, 1);
	assert_int_equal(shmfs_heap_join(m, sz, &c), 0);
	assert_int_equal(shmfs_heap_free(c, off), 0); /* anyone may free */
	assert_int_equal(shmfs_heap_leave(c), 0);
	ht_unmap(m, sz);
	(void)state;
}

static void reclaim_frees_exactly_what_a_dead_process_held(void **state)
{
	struct fix *f = *state;
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t mine = shmfs_heap_malloc(f->h, 300);
	pid_t pid;
	int ws;

	ht_fill(shmfs_heap_ptr(f->h, mine), 300, 9);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmfs_heap_t *h;

		if (shmfs_heap_join(f->mem, f->sz, &h) < 0)
			_exit(1);
		for (int i = 0; i < 100; i++)
			if (!shmfs_heap_malloc(h, 100) || !shmfs_heap_malloc(h, 9000))
				_exit(2);
		_exit(0); /* no leave, no free: as if killed */
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(ws, 0);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.owner_cnt, 1);
	assert_int_equal(rs.alloc_cnt, 200);
	assert_int_equal(rs.bytes, 100 * 112 + 100 * 12288);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 1);
	assert_int_equal(st.used, 320);
	assert_int_equal(st.owner_cnt, 1);
	assert_int_equal(ht_verify(shmfs_heap_ptr(f->h, mine), 300, 9), 0);
	/* The living are left alone. */
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.owner_cnt, 0);
	assert_int_equal(rs.alloc_cnt, 0);
	assert_int_equal(shmfs_heap_free(f->h, mine), 0);
	assert_empty(f);
}

/* The owner slot of pid (from shmfs_heap_owners), or NULL. */
static struct heap_owner *slot_of(struct fix *f, pid_t pid)
{
	const struct heap_hdr *hdr = (const struct heap_hdr *)f->mem;
	shmfs_heap_owner_t v[16];
	int n = shmfs_heap_owners(f->mem, f->sz, v, 16);

	for (int i = 0; i < n && i < 16; i++)
		if (v[i].pid == (uint32_t)pid)
			return (struct heap_owner *)(f->mem + hdr->owner_off) + v[i].slot;
	return NULL;
}

/* A child that joins, allocates 100 + 100 and exits without leaving. */
static pid_t child_allocates_and_dies(struct fix *f)
{
	pid_t pid = fork();
	int ws;

	assert_true(pid >= 0);
	if (pid == 0) {
		shmfs_heap_t *h;

		if (shmfs_heap_join(f->mem, f->sz, &h) < 0)
			_exit(1);
		for (int i = 0; i < 100; i++)
			if (!shmfs_heap_malloc(h, 100) || !shmfs_heap_malloc(h, 9000))
				_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(ws, 0);
	return pid;
}

static void owners_name_host_and_pid(void **state)
{
	struct fix *f = *state;
	shmfs_heap_owner_t v[4];
	char host[256] = "";
	pid_t child;
	int n;

	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, NULL, 0), 1);
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, NULL, 1), -EINVAL);
	assert_int_equal(shmfs_heap_owners(f->mem, 100, v, 4), -EBADMSG);
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, v, 4), 1);
	assert_int_equal(v[0].pid, getpid());
	assert_int_equal(v[0].host_id, shmfs_heap_host_id());
	assert_true(v[0].host_id != 0 && v[0].host_id < (1u << 28));
	assert_int_equal(v[0].local, 1);
	assert_int_equal(v[0].dead, 0);
	assert_true(v[0].start_time > 0);
	if (!getenv("SHMFS_HOST_ID")) {
		assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
		host[15] = '\0';
		assert_string_equal(v[0].host, host);
	}
	child = child_allocates_and_dies(f);
	n = shmfs_heap_owners(f->mem, f->sz, v, 1);
	assert_int_equal(n, 2); /* two in use, one filled */
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, v, 4), 2);
	assert_int_equal(v[0].pid == (uint32_t)child || v[1].pid == (uint32_t)child, 1);
	/* a host name written by anyone is shown printable */
	memcpy(slot_of(f, child)->host_name, "a\nb\001c", 6);
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, v, 4), 2);
	assert_string_equal(v[v[0].pid == (uint32_t)child ? 0 : 1].host, "a?b?c");
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, NULL), 0);
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, v, 4), 1);
	assert_empty(f);
}

static void reclaim_leaves_the_processes_of_other_hosts_alone(void **state)
{
	struct fix *f = *state;
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint32_t other = (shmfs_heap_host_id() ^ 0x5a5a5a) & S_HOST_MASK;
	shmfs_heap_owner_t v[4];
	struct heap_owner *o;
	uint64_t w;
	pid_t child;

	/* The child is dead here; were it of another host, its pid (free
	 * on this host) would say nothing of it. */
	child = child_allocates_and_dies(f);
	o = slot_of(f, child);
	assert_non_null(o);
	w = atomic_load(&o->word);
	atomic_store(&o->word, S_MAKE(S_STATE(w), S_GEN(w), other ? other : 1, S_PID(w)));
	assert_int_equal(shmfs_heap_owners(f->mem, f->sz, v, 4), 2);
	assert_int_equal(v[0].pid == (uint32_t)child ? v[0].local : v[1].local, 0);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.foreign, 1);
	assert_int_equal(rs.owner_cnt, 0);
	assert_int_equal(rs.alloc_cnt, 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 200);
	assert_int_equal(st.owner_cnt, 2);
	assert_consistent(f);
	/* A caller built against the first version's struct gets no foreign
	 * count, and nothing written past its sz. */
	{
		struct { shmfs_heap_reclaim_stats_t s; uint64_t guard; } old;

		memset(&old, 0xab, sizeof(old));
		old.s.sz = offsetof(shmfs_heap_reclaim_stats_t, foreign);
		assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &old.s), 0);
		assert_int_equal(old.s.sz, offsetof(shmfs_heap_reclaim_stats_t, foreign));
		assert_int_equal(old.s.foreign, 0xababababababababull);
	}
	/* A reclaim on its host found it dead (and stopped, say, at a damaged
	 * block): what is left is freed from any host. */
	w = atomic_load(&o->word);
	atomic_store(&o->word, S_MAKE(S_DEAD, S_GEN(w), S_HOST(w), S_PID(w)));
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.foreign, 0);
	assert_int_equal(rs.owner_cnt, 1);
	assert_int_equal(rs.alloc_cnt, 200);
	assert_empty(f);

	/* Of this host, the same dead child is reclaimed at once. */
	child = child_allocates_and_dies(f);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.foreign, 0);
	assert_int_equal(rs.owner_cnt, 1);
	assert_int_equal(rs.alloc_cnt, 200);
	assert_empty(f);
}

static void check_reports_an_owner_without_a_host(void **state)
{
	struct fix *f = *state;
	struct heap_owner *o = slot_of(f, getpid());
	char msg[256];
	uint64_t w;

	assert_non_null(o);
	w = atomic_load(&o->word);
	atomic_store(&o->word, S_MAKE(S_STATE(w), S_GEN(w), 0, S_PID(w)));
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "without a host"));
	atomic_store(&o->word, w);
	assert_consistent(f);
}

static void *pairs_then_exit(void *h)
{
	for (size_t sz = 16; sz <= 8192; sz *= 2)
		shmfs_heap_free(h, shmfs_heap_malloc(h, sz));
	return NULL;
}

static void trim_gives_back_the_empty_spans_an_exited_thread_kept(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	ht_thread_run(pairs_then_exit, f->h); /* to its end, as tgkill sees it */
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_true(st.footprint > 0); /* the thread's current spans */
	assert_int_equal(shmfs_heap_trim(f->h), st.footprint / 4096);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.footprint, 0);
	assert_int_equal(shmfs_heap_trim(NULL), -EINVAL);
	assert_empty(f);
}

static void a_thread_alternating_between_heaps_reuses_its_spans(void **state)
{
	struct fix *f = *state;
	uint8_t *m2 = ht_map(1 << 24);
	static uint64_t offs[2][5000];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h2;

	assert_int_equal(shmfs_heap_format(m2, 1 << 24, NULL), 0);
	assert_int_equal(shmfs_heap_join(m2, 1 << 24, &h2), 0);
	for (int i = 0; i < 5000; i++) {
		offs[0][i] = shmfs_heap_malloc(f->h, 32);
		offs[1][i] = shmfs_heap_malloc(h2, 32);
		assert_true(offs[0][i] && offs[1][i]);
	}
	/* 5000 x 32 bytes fill 40 spans of 4 KiB; a new span per switch
	 * would take 5000. */
	assert_int_equal(shmfs_heap_stats(h2, &st), 0);
	assert_true(st.footprint <= 41 * 4096);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_true(st.footprint <= 41 * 4096);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(shmfs_heap_free(f->h, offs[0][i]), 0);
		assert_int_equal(shmfs_heap_free(h2, offs[1][i]), 0);
	}
	shmfs_heap_leave(h2);
	ht_unmap(m2, 1 << 24);
	assert_empty(f);
}


/* The span (head block) holding offset off. */
static uint64_t span_of(struct fix *f, uint64_t off)
{
	const struct heap_hdr *hdr = (const struct heap_hdr *)f->mem;

	return (off - hdr->data_off) / 4096;
}

static uint32_t hold_of(struct fix *f, uint64_t blk)
{
	const struct heap_hdr *hdr = (const struct heap_hdr *)f->mem;

	return ((const uint32_t *)(f->mem + hdr->hold_off))[blk];
}

static uint64_t *bitmap_of(struct fix *f, uint64_t blk)
{
	const struct heap_hdr *hdr = (const struct heap_hdr *)f->mem;

	return (uint64_t *)(f->mem + hdr->bmap_off) + blk * HEAP_BMAP_STRIDE;
}

struct remote {
	shmfs_heap_t *h;
	uint64_t *offs;
	int n, ok, refused;
};

static void *free_all_twice(void *p)
{
	struct remote *r = p;

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < r->n; i++) {
			int e = shmfs_heap_free(r->h, r->offs[i]);

			r->ok += e == 0;
			r->refused += e == -EINVAL;
		}
	return NULL;
}

static void frees_from_another_thread_come_back_to_the_holder(void **state)
{
	struct fix *f = *state;
	struct remote r = { f->h, NULL, 128, 0, 0 };
	uint64_t offs[128], again[128];
	shmfs_heap_stats_t st = { .sz = sizeof(st) }, st2 = { .sz = sizeof(st2) };
	pthread_t t;

	for (int i = 0; i < 128; i++)
		offs[i] = shmfs_heap_malloc(f->h, 32);
	assert_int_equal(span_of(f, offs[0]), span_of(f, offs[127])); /* one span of 128 units */
	assert_int_not_equal(hold_of(f, span_of(f, offs[0])), 0);
	r.offs = offs;
	assert_int_equal(pthread_create(&t, NULL, free_all_twice, &r), 0);
	pthread_join(t, NULL);
	assert_int_equal(r.ok, 128);
	assert_int_equal(r.refused, 128); /* the second round: double frees */
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_consistent(f);
	/* The holder takes the units back into its full span. */
	for (int i = 0; i < 128; i++) {
		again[i] = shmfs_heap_malloc(f->h, 32);
		assert_int_equal(span_of(f, again[i]), span_of(f, offs[0]));
	}
	assert_int_equal(shmfs_heap_stats(f->h, &st2), 0);
	assert_int_equal(st2.footprint, st.footprint);
	assert_int_equal(st2.alloc_cnt, 128);
	for (int i = 0; i < 128; i++)
		assert_int_equal(shmfs_heap_free(f->h, again[i]), 0);
	assert_empty(f);
}

static void an_allocation_that_interrupts_malloc_leaves_the_threads_spans_alone(void **state)
{
	struct fix *f = *state;
	uint64_t mine = shmfs_heap_malloc(f->h, 32), sig[40];
	uint64_t s = span_of(f, mine), before[HEAP_BMAP_STRIDE];
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	memcpy(before, bitmap_of(f, s), sizeof(before));
	/* As a signal handler that interrupted this thread inside malloc. */
	shmfs_heap__test_busy(1);
	for (int i = 0; i < 40; i++) {
		sig[i] = shmfs_heap_malloc(f->h, 32);
		assert_true(sig[i]);
		assert_int_not_equal(span_of(f, sig[i]), s);
		assert_int_equal(hold_of(f, span_of(f, sig[i])), 0); /* held for one allocation only */
		ht_fill(shmfs_heap_ptr(f->h, sig[i]), 32, sig[i]);
	}
	assert_true(shmfs_heap_malloc(f->h, 20000)); /* large path too */
	assert_int_equal(memcmp(before, bitmap_of(f, s), sizeof(before)), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(ht_verify(shmfs_heap_ptr(f->h, sig[i]), 32, sig[i]), 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 42);
	assert_consistent(f);
	for (int i = 0; i < 40; i++)
		assert_int_equal(shmfs_heap_free(f->h, sig[i]), 0);
	assert_int_equal(shmfs_heap_trim(f->h) >= 0, 1); /* leaves the thread's own spans */
	assert_int_equal(memcmp(before, bitmap_of(f, s), sizeof(before)), 0);
	shmfs_heap__test_busy(0);
	assert_int_equal(shmfs_heap_free(f->h, mine), 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 1);
	assert_consistent(f);
}

static void *alloc_then_exit(void *h)
{
	return (void *)(uintptr_t)shmfs_heap_malloc(h, 32);
}

static void trim_takes_over_a_live_span_an_exited_thread_held(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t off, again;

	off = (uintptr_t)ht_thread_run(alloc_then_exit, f->h); /* to its end, as tgkill sees it */
	assert_true(off);
	assert_int_not_equal(hold_of(f, span_of(f, off)), 0);
	assert_int_equal(shmfs_heap_trim(f->h), 0); /* not empty: kept, but no longer held */
	assert_int_equal(hold_of(f, span_of(f, off)), 0);
	assert_consistent(f);
	/* Its room is found again by the owner's threads. */
	again = shmfs_heap_malloc(f->h, 32);
	assert_int_equal(span_of(f, again), span_of(f, off));
	assert_int_equal(shmfs_heap_free(f->h, again), 0);
	assert_int_equal(shmfs_heap_free(f->h, off), 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_empty(f);
}

struct parked {
	shmfs_heap_t *h;
	pthread_barrier_t bar;
	uint64_t off;
};

static void *alloc_then_park(void *p)
{
	struct parked *k = p;

	k->off = shmfs_heap_malloc(k->h, 48);
	shmfs_heap_free(k->h, k->off);
	pthread_barrier_wait(&k->bar); /* done with the handle */
	pthread_barrier_wait(&k->bar); /* leave happened */
	return NULL;
}

static void leave_releases_spans_that_living_threads_still_hold(void **state)
{
	size_t sz = 4 << 20;
	uint8_t *m = ht_map(sz);
	struct parked k;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	pthread_t t;
	char msg[256];

	assert_int_equal(shmfs_heap_format(m, sz, NULL), 0);
	assert_int_equal(shmfs_heap_join(m, sz, &k.h), 0);
	pthread_barrier_init(&k.bar, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, alloc_then_park, &k), 0);
	pthread_barrier_wait(&k.bar);
	assert_int_equal(shmfs_heap_peek(m, sz, &st), 0);
	assert_int_equal(st.footprint, 4096); /* the thread's empty current span */
	assert_int_equal(shmfs_heap_leave(k.h), 0);
	assert_int_equal(shmfs_heap_peek(m, sz, &st), 0);
	assert_int_equal(st.footprint, 0);
	assert_int_equal(st.owner_cnt, 0);
	assert_int_equal(shmfs_heap_check(m, sz, msg, sizeof(msg)), 0);
	pthread_barrier_wait(&k.bar);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&k.bar);
	ht_unmap(m, sz);
	(void)state;
}

static void a_process_killed_inside_a_collection_is_reclaimed_exactly(void **state)
{
	struct fix *f = *state;
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	pid_t pid;
	int ws;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmfs_heap_t *h;
		uint64_t o[3], *bm;

		if (shmfs_heap_join(f->mem, f->sz, &h) < 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			o[i] = shmfs_heap_malloc(h, 64);
		if (shmfs_heap_free(h, o[1]) < 0)
			_exit(2);
		/* The first half of a collection of o[1]: its alloc bit is
		 * cleared, the freed word not yet. Then death. */
		bm = bitmap_of(f, span_of(f, o[0]));
		bm[0] &= ~(1ull << ((o[1] - o[0]) / 64 + (o[0] % 4096) / 64));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(ws, 0);
	assert_consistent(f);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.alloc_cnt, 2);
	assert_int_equal(st.used, 128);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.owner_cnt, 1);
	assert_int_equal(rs.alloc_cnt, 2);
	assert_int_equal(rs.bytes, 128);
	assert_int_equal(rs.blocks, 1);
	assert_empty(f);
}

static void check_reports_freed_units_that_were_never_allocated(void **state)
{
	struct fix *f = *state;
	uint64_t a = shmfs_heap_malloc(f->h, 32), blk = span_of(f, a), *bm = bitmap_of(f, blk);
	char msg[256];

	assert_int_equal(shmfs_heap_trim(f->h), 0); /* the span is no longer held */
	assert_int_equal(hold_of(f, blk), 0);
	bm[HEAP_FREED + 1] |= 1; /* unit 32: never allocated */
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "never allocated"));
	bm[HEAP_FREED + 1] &= ~1ull;
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_empty(f);
}

/* A large run the owner's thread frees is kept (still taken, not in use)
 * for that thread's next allocation of its size: the same blocks come back.
 * It is no allocation: freeing it again is refused, usable_size is 0. */
static void a_freed_large_run_is_kept_for_the_next_of_its_size(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	uint64_t a = shmfs_heap_malloc(f->h, 65536), b;

	assert_true(a);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.alloc_cnt, 0);
	assert_int_equal(st.footprint, 65536);
	assert_int_equal(shmfs_heap_free(f->h, a), -EINVAL);
	assert_int_equal(shmfs_heap_usable_size(f->h, a), 0);
	assert_consistent(f);
	b = shmfs_heap_malloc(f->h, 65536);
	assert_int_equal(b, a);
	assert_int_equal(shmfs_heap_usable_size(f->h, b), 65536);
	assert_int_equal(shmfs_heap_free(f->h, b), 0);
	assert_int_equal(shmfs_heap_trim(f->h), 16); /* given back */
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.footprint, 0);
	assert_empty(f);
}

/* The run a thread took back from its cache is freed by that thread with
 * one CAS and no walk of its bodies (they were walked when the run entered
 * the cache): still exactly once, and damage written into its bodies
 * meanwhile is seen when the run is given back, which refuses it. */
static void a_run_taken_back_is_freed_once_and_damage_shows_when_given_back(void **state)
{
	struct fix *f = *state;
	const struct heap_hdr *hdr = (const struct heap_hdr *)f->mem;
	_Atomic uint64_t *desc = (_Atomic uint64_t *)(f->mem + hdr->desc_off);
	uint64_t a = shmfs_heap_malloc(f->h, 65536), b, blk, d;
	char msg[256] = "";

	assert_true(a);
	blk = span_of(f, a);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	for (int i = 0; i < 3; i++) {
		b = shmfs_heap_malloc(f->h, 65536);
		assert_int_equal(b, a);
		assert_int_equal(shmfs_heap_free(f->h, b), 0);
		assert_int_equal(shmfs_heap_free(f->h, b), -EINVAL);
	}
	b = shmfs_heap_malloc(f->h, 65536);
	assert_int_equal(b, a);
	/* A body marked free while the thread uses the run. */
	d = atomic_load(&desc[blk + 5]);
	atomic_store(&desc[blk + 5], D_MAKE(0, K_FREE, 0, D_GEN(d)));
	assert_int_equal(shmfs_heap_free(f->h, b), 0);
	assert_int_equal(shmfs_heap_free(f->h, b), -EINVAL);
	assert_int_equal(shmfs_heap_trim(f->h), 0); /* refused: not its body */
	assert_int_equal(shmfs_heap_check(f->mem, f->sz, msg, sizeof(msg)), -EUCLEAN);
	assert_non_null(strstr(msg, "not attached"));
	atomic_store(&desc[blk + 5], d);
	assert_int_equal(shmfs_heap_trim(f->h), 16);
	assert_empty(f);
	/* A run the thread did not take from its cache (a new one) is
	 * walked at its free: a damaged body is refused there. */
	a = shmfs_heap_malloc(f->h, 65536);
	assert_true(a);
	blk = span_of(f, a);
	d = atomic_load(&desc[blk + 1]);
	atomic_store(&desc[blk + 1], D_MAKE(0, K_FREE, 0, D_GEN(d)));
	assert_int_equal(shmfs_heap_free(f->h, a), -EUCLEAN);
	atomic_store(&desc[blk + 1], d);
	assert_int_equal(shmfs_heap_free(f->h, a), 0);
	assert_int_equal(shmfs_heap_trim(f->h), 16);
	assert_empty(f);
}

static void *large_pair_then_exit(void *h)
{
	shmfs_heap_free(h, shmfs_heap_malloc(h, 100000));
	return NULL;
}

static void trim_gives_back_the_large_runs_an_exited_thread_kept(void **state)
{
	struct fix *f = *state;
	shmfs_heap_stats_t st = { .sz = sizeof(st) };

	ht_thread_run(large_pair_then_exit, f->h);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.footprint, 25 * 4096);
	assert_int_equal(shmfs_heap_trim(f->h), 25);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.footprint, 0);
	assert_empty(f);
}

static void reclaim_and_leave_give_back_the_large_runs_kept(void **state)
{
	struct fix *f = *state;
	shmfs_heap_reclaim_stats_t rs = { .sz = sizeof(rs) };
	shmfs_heap_stats_t st = { .sz = sizeof(st) };
	shmfs_heap_t *h2;
	pid_t pid;
	int ws;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmfs_heap_t *h;

		if (shmfs_heap_join(f->mem, f->sz, &h) < 0 ||
		    shmfs_heap_free(h, shmfs_heap_malloc(h, 3 * 4096)) < 0)
			_exit(1);
		_exit(0); /* killed holding a kept run */
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(ws, 0);
	assert_int_equal(shmfs_heap_reclaim(f->mem, f->sz, &rs), 0);
	assert_int_equal(rs.owner_cnt, 1);
	assert_int_equal(rs.alloc_cnt, 0);
	assert_int_equal(rs.blocks, 3);
	assert_int_equal(shmfs_heap_join(f->mem, f->sz, &h2), 0);
	assert_int_equal(shmfs_heap_free(h2, shmfs_heap_malloc(h2, 5 * 4096)), 0);
	assert_int_equal(shmfs_heap_leave(h2), 0);
	assert_int_equal(shmfs_heap_stats(f->h, &st), 0);
	assert_int_equal(st.footprint, 0);
	assert_int_equal(st.owner_cnt, 1);
	assert_empty(f);
}

/* Formatting shared memory leaves the metadata to be faulted in as it is
 * used: at most 1 MiB of it resident, whatever the heap size, and it reads
 * as a fresh heap. (Needs a kernel that tells the page size of a mapping,
 * Linux 6.11; before, format zeroes it all.) */
static void format_of_shared_memory_leaves_metadata_unfaulted(void **state)
{
	size_t sz = 256ull << 20, pages, resident = 0;
	uint8_t *m = ht_map(sz);
	struct heap_hdr *hdr = (struct heap_hdr *)m;
	unsigned char *vec;
	char msg[256];
	int fd;

	(void)state;
	assert_non_null(m);
	fd = open("/proc/self/maps", O_RDONLY);
	assert_true(fd >= 0);
	{
		/* Probe PROCMAP_QUERY: ENOTTY on kernels without it. */
		uint64_t q[13] = { sizeof(q), 0, (uintptr_t)m };

		if (ioctl(fd, _IOWR('f', 17, uint64_t[13]), q) < 0 && errno == ENOTTY) {
			close(fd);
			ht_unmap(m, sz);
			skip();
		}
	}
	close(fd);
	memset(m, 0x5a, 32 << 20); /* garbage, resident, where the metadata goes */
	assert_int_equal(shmfs_heap_format(m, sz, NULL), 0);
	pages = (hdr->data_off + 4095) / 4096;
	vec = malloc(pages);
	assert_int_equal(mincore(m, pages * 4096, vec), 0);
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	assert_true(hdr->data_off > (8 << 20)); /* metadata worth saving */
	assert_true(resident * 4096 <= (1 << 20));
	assert_int_equal(shmfs_heap_check(m, sz, msg, sizeof(msg)), 0);
	/* No garbage left: the owner table and every descriptor, run length,
	 * hold and bitmap word read as zero. */
	for (uint64_t off = HEAP_OWNER_OFF; off < hdr->used_off; off += 8)
		if (((uint64_t *)m)[off / 8] != 0)
			fail_msg("metadata word at %llu not zeroed", (unsigned long long)off);
	ht_unmap(m, sz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(format_refuses_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(join_refuses_foreign_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(join_refuses_damaged_header, setup, teardown),
		cmocka_unit_test_setup_teardown(join_refuses_truncated_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(join_from_another_address_sees_the_same_heap, setup, teardown),
		cmocka_unit_test_setup_teardown(peek_reads_stats_without_joining, setup, teardown),
		cmocka_unit_test_setup_teardown(stats_structs_honour_the_callers_sz, setup, teardown),
		cmocka_unit_test_setup_teardown(every_small_size_gets_the_smallest_class_that_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(every_size_class_gives_distinct_aligned_units, setup, teardown),
		cmocka_unit_test_setup_teardown(size_zero_is_one_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(large_allocations_take_whole_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(aligned_alloc_honours_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(exhaustion_returns_enomem_and_keeps_the_heap_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(free_of_null_is_a_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(double_free_is_refused_and_harms_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(wild_offsets_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(calloc_zeroes_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(translation_maps_offsets_and_pointers, setup, teardown),
		cmocka_unit_test_setup_teardown(check_reports_a_damaged_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(owner_slots_are_limited_and_released_by_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(reclaim_frees_exactly_what_a_dead_process_held, setup, teardown),
		cmocka_unit_test_setup_teardown(owners_name_host_and_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(reclaim_leaves_the_processes_of_other_hosts_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(check_reports_an_owner_without_a_host, setup, teardown),
		cmocka_unit_test_setup_teardown(trim_gives_back_the_empty_spans_an_exited_thread_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(a_thread_alternating_between_heaps_reuses_its_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(frees_from_another_thread_come_back_to_the_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(an_allocation_that_interrupts_malloc_leaves_the_threads_spans_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(trim_takes_over_a_live_span_an_exited_thread_held, setup, teardown),
		cmocka_unit_test_setup_teardown(leave_releases_spans_that_living_threads_still_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(a_process_killed_inside_a_collection_is_reclaimed_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(check_reports_freed_units_that_were_never_allocated, setup, teardown),
		cmocka_unit_test(format_of_shared_memory_leaves_metadata_unfaulted),
		cmocka_unit_test_setup_teardown(a_freed_large_run_is_kept_for_the_next_of_its_size, setup, teardown),
		cmocka_unit_test_setup_teardown(a_run_taken_back_is_freed_once_and_damage_shows_when_given_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(trim_gives_back_the_large_runs_an_exited_thread_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(reclaim_and_leave_give_back_the_large_runs_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
