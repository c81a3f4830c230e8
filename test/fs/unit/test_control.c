/* test_control.c - control-file input: one canonical token, one optional
 * newline, and the .nr_pages forms N, +N, -N and sizes with units. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon.h"

#define MB2 (2ULL << 20)
#define NO_MAX UINT64_MAX

static int text(const char *in, char *out)
{
	return shmfs_control_text(in, strlen(in), out, 16);
}

static void strips_one_newline(void **state)
{
	char out[16];

	assert_int_equal(text("reset\n", out), 0);
	assert_string_equal(out, "reset");
	assert_int_equal(text("reset", out), 0);
	assert_string_equal(out, "reset");
	assert_int_equal(text("reset\n\n", out), -EINVAL);
}

static void refuses_anything_but_one_token(void **state)
{
	char out[16];

	assert_int_equal(text("", out), -EINVAL);
	assert_int_equal(text("\n", out), -EINVAL);
	assert_int_equal(text(" reset", out), -EINVAL);
	assert_int_equal(text("reset ", out), -EINVAL);
	assert_int_equal(text("re set", out), -EINVAL);
	assert_int_equal(text("reset\r\n", out), -EINVAL);
	assert_int_equal(text("a\nb", out), -EINVAL);
	assert_int_equal(text("0123456789abcdef", out), -EINVAL); /* does not fit */
	assert_int_equal(shmfs_control_text("ab\0c", 4, out, 16), -EINVAL);
}

static void nr_pages_absolute_and_relative(void **state)
{
	uint64_t t;

	assert_int_equal(shmfs_nr_pages_parse("8", MB2, 3, NO_MAX, &t), 0);
	assert_int_equal(t, 8);
	assert_int_equal(shmfs_nr_pages_parse("0", MB2, 3, NO_MAX, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(shmfs_nr_pages_parse("+2", MB2, 3, NO_MAX, &t), 0);
	assert_int_equal(t, 5);
	assert_int_equal(shmfs_nr_pages_parse("-3", MB2, 3, NO_MAX, &t), 0);
	assert_int_equal(t, 0);
}

static void nr_pages_sizes(void **state)
{
	uint64_t t;

	assert_int_equal(shmfs_nr_pages_parse("4G", MB2, 0, NO_MAX, &t), 0);
	assert_int_equal(t, 2048);
	assert_int_equal(shmfs_nr_pages_parse("+4M", MB2, 1, NO_MAX, &t), 0);
	assert_int_equal(t, 3);
	assert_int_equal(shmfs_nr_pages_parse("1G", 1ULL << 30, 0, NO_MAX, &t), 0);
	assert_int_equal(t, 1);
}

static void nr_pages_refusals(void **state)
{
	uint64_t t = 77;

	assert_int_equal(shmfs_nr_pages_parse("-4", MB2, 3, NO_MAX, &t), -EINVAL);  /* below zero */
	assert_int_equal(shmfs_nr_pages_parse("3M", MB2, 0, NO_MAX, &t), -EINVAL);  /* not whole pages */
	assert_int_equal(shmfs_nr_pages_parse("08", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("8x", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("+", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("++1", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("-", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("99999999999999999999", MB2, 0, NO_MAX, &t), -EINVAL);
	assert_int_equal(shmfs_nr_pages_parse("+1", MB2, UINT64_MAX, NO_MAX, &t), -ENOMEM);
	assert_int_equal(t, 77); /* untouched on failure */
}

static void nr_pages_units_as_people_type_them(void **state)
{
	static const char *const two_pages[] = { "4m", "4M", "4MiB", "4mib", "4MB", "4mb", "4096k",
						 "4096KiB", "4194304", "4194304B" };
	uint64_t t;

	for (size_t i = 0; i < sizeof(two_pages) / sizeof(two_pages[0]); i++) {
		uint64_t want = strcmp(two_pages[i], "4194304") == 0 ? 4194304 : 2;

		assert_int_equal(shmfs_nr_pages_parse(two_pages[i], MB2, 0, NO_MAX, &t), 0);
		assert_int_equal(t, want);
	}
	assert_int_equal(shmfs_nr_pages_parse("+2m", MB2, 1, NO_MAX, &t), 0);
	assert_int_equal(t, 2);
	assert_int_equal(shmfs_nr_pages_parse("-2MiB", MB2, 1, NO_MAX, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(shmfs_nr_pages_parse("64MB", MB2, 0, NO_MAX, &t), 0);
	assert_int_equal(t, 32);
	assert_int_equal(shmfs_nr_pages_parse("1g", 1ULL << 30, 0, NO_MAX, &t), 0);
	assert_int_equal(t, 1);
}

static void nr_pages_beyond_memory_is_refused_before_asking(void **state)
{
	uint64_t t = 77;

	/* the request: every page a 64-bit count can name */
	assert_int_equal(shmfs_nr_pages_parse("+18446744073709551615", MB2, 0, 1024, &t), -ENOMEM);
	assert_int_equal(shmfs_nr_pages_parse("+18446744073709551615", MB2, 3, 1024, &t), -ENOMEM);
	assert_int_equal(shmfs_nr_pages_parse("18446744073709551615", MB2, 0, 1024, &t), -ENOMEM);
	assert_int_equal(shmfs_nr_pages_parse("1025", MB2, 0, 1024, &t), -ENOMEM);
	assert_int_equal(shmfs_nr_pages_parse("+1", MB2, 1024, 1024, &t), -ENOMEM);
	assert_int_equal(shmfs_nr_pages_parse("16E", MB2, 0, 1024, &t), -EINVAL); /* 2^64 bytes */
	assert_int_equal(shmfs_nr_pages_parse("15E", MB2, 0, 1024, &t), -ENOMEM);
	assert_int_equal(t, 77);
	/* exactly the node's memory is not refused here (the kernel decides) */
	assert_int_equal(shmfs_nr_pages_parse("1024", MB2, 0, 1024, &t), 0);
	assert_int_equal(t, 1024);
	assert_int_equal(shmfs_nr_pages_parse("2G", MB2, 0, 1024, &t), 0);
	assert_int_equal(t, 1024);
	/* shrinking is never refused for want of memory */
	assert_int_equal(shmfs_nr_pages_parse("-1", MB2, 2000, 1024, &t), 0);
	assert_int_equal(t, 1999);
	assert_int_equal(shmfs_nr_pages_parse("0", MB2, 2000, 1024, &t), 0);
	assert_int_equal(t, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strips_one_newline),
		cmocka_unit_test(refuses_anything_but_one_token),
		cmocka_unit_test(nr_pages_absolute_and_relative),
		cmocka_unit_test(nr_pages_sizes),
		cmocka_unit_test(nr_pages_refusals),
		cmocka_unit_test(nr_pages_units_as_people_type_them),
		cmocka_unit_test(nr_pages_beyond_memory_is_refused_before_asking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
