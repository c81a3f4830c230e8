/* test_parse.c - the strict number, size and list parsers and formatters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

static void u64_accepts_canonical_decimal(void **state)
{
	uint64_t v = 7;

	assert_int_equal(shmfs_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(shmfs_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
}

static void u64_refuses_everything_else_and_keeps_output(void **state)
{
	static const char *bad[] = { "", " 1", "1 ", "+1", "-1", "01", "1x", "0x10", "1\n", "1.0" };
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(shmfs_parse_u64(bad[i], &v), -EINVAL);
		assert_int_equal(v, 42);
	}
	assert_int_equal(shmfs_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void size_units_are_binary(void **state)
{
	uint64_t v;

	assert_int_equal(shmfs_parse_size("512M", &v), 0);
	assert_true(v == 512ull << 20);
	assert_int_equal(shmfs_parse_size("4G", &v), 0);
	assert_true(v == 4ull << 30);
	assert_int_equal(shmfs_parse_size("4GiB", &v), 0);
	assert_true(v == 4ull << 30);
	assert_int_equal(shmfs_parse_size("8k", &v), 0);
	assert_true(v == 8192);
	assert_int_equal(shmfs_parse_size("4096", &v), 0);
	assert_true(v == 4096);
	assert_true(shmfs_size_has_unit("4G"));
	assert_false(shmfs_size_has_unit("4"));
}

static void size_units_are_any_case_and_spelling(void **state)
{
	static const char *const two_mib[] = { "2m", "2M", "2MiB", "2mib", "2MIB", "2MB", "2mb",
					       "2Mb", "2048K", "2048k", "2048KiB", "2048kb",
					       "2097152", "2097152B", "2097152b" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(two_mib) / sizeof(two_mib[0]); i++) {
		v = 0;
		assert_int_equal(shmfs_parse_size(two_mib[i], &v), 0);
		assert_true(v == 2ull << 20);
	}
	assert_int_equal(shmfs_parse_size("64MB", &v), 0);
	assert_true(v == 64ull << 20);
	assert_int_equal(shmfs_parse_size("1t", &v), 0);
	assert_true(v == 1ull << 40);
	assert_int_equal(shmfs_parse_size("1pib", &v), 0);
	assert_true(v == 1ull << 50);
	assert_int_equal(shmfs_parse_size("15E", &v), 0);
	assert_true(v == 15ull << 60);
	assert_int_equal(shmfs_parse_size("0G", &v), 0);
	assert_true(v == 0);
}

static void size_refuses_bad_units_and_overflow(void **state)
{
	static const char *const bad[] = { "4 G", "G", "-4G", "+4G", "4GG", "4Gi", "4iB", "4Bi",
					   "4GiBs", "4X", "4.5G", "04G", "4G ", " 4G", "4\n", "" };
	uint64_t v = 1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(shmfs_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(shmfs_parse_size("16E", &v), -ERANGE);
	assert_int_equal(shmfs_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(v, 1);
}

static void pages_are_counts_or_whole_page_sizes(void **state)
{
	const uint64_t mb2 = 2ull << 20;
	uint64_t v = 9;

	assert_int_equal(shmfs_parse_pages("8", mb2, &v), 0);
	assert_true(v == 8);
	assert_int_equal(shmfs_parse_pages("8m", mb2, &v), 0);
	assert_true(v == 4);
	assert_int_equal(shmfs_parse_pages("1GiB", mb2, &v), 0);
	assert_true(v == 512);
	assert_int_equal(shmfs_parse_pages("0M", mb2, &v), 0);
	assert_true(v == 0);
	v = 9;
	assert_int_equal(shmfs_parse_pages("3M", mb2, &v), -EDOM);
	assert_int_equal(shmfs_parse_pages("4097B", 4096, &v), -EDOM);
	assert_int_equal(shmfs_parse_pages("8x", mb2, &v), -EINVAL);
	assert_int_equal(shmfs_parse_pages("-8", mb2, &v), -EINVAL);
	assert_int_equal(shmfs_parse_pages("08", mb2, &v), -EINVAL);
	assert_int_equal(shmfs_parse_pages("8", 0, &v), -EINVAL);
	assert_int_equal(shmfs_parse_pages("18446744073709551616", mb2, &v), -ERANGE);
	assert_int_equal(shmfs_parse_pages("16E", mb2, &v), -ERANGE);
	assert_true(v == 9);
}

static void pages_rel_take_one_sign(void **state)
{
	const uint64_t mb2 = 2ull << 20;
	static const char *bad[] = { "+", "-", "+-4", "--4", "++4", "+ 4", " +4", "+04", "+4x", "" };
	uint64_t v = 9;
	int sign = 7;

	assert_int_equal(shmfs_parse_pages_rel("8", mb2, &sign, &v), 0);
	assert_true(sign == 0 && v == 8);
	assert_int_equal(shmfs_parse_pages_rel("+2", mb2, &sign, &v), 0);
	assert_true(sign == 1 && v == 2);
	assert_int_equal(shmfs_parse_pages_rel("-4M", mb2, &sign, &v), 0);
	assert_true(sign == -1 && v == 2);
	sign = 7;
	v = 9;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_parse_pages_rel(bad[i], mb2, &sign, &v), -EINVAL);
	assert_int_equal(shmfs_parse_pages_rel("+3M", mb2, &sign, &v), -EDOM);
	assert_int_equal(shmfs_parse_pages_rel("-16E", mb2, &sign, &v), -ERANGE);
	assert_true(sign == 7 && v == 9);
}

static void node_name_is_node_then_canonical_index(void **state)
{
	int n = -5;

	assert_int_equal(shmfs_parse_node_name("node0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(shmfs_parse_node_name("node12", &n), 0);
	assert_int_equal(n, 12);
	assert_int_equal(shmfs_parse_node_name("node1023", &n), 0);
	assert_int_equal(n, 1023);
}

static void node_name_refuses_everything_else_and_keeps_output(void **state)
{
	/* "node01": one name per node, as the kernel writes it (node%d) */
	static const char *bad[] = { "", "node", "node+1", "node-1", "node01", "node00", "node 1",
				     " node1", "node1 ", "node1x", "node1\n", "Node1", "nodenode1",
				     "1", "n1", "node0x1", "node1.0" };
	int n = -5;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(shmfs_parse_node_name(bad[i], &n), -EINVAL);
		assert_int_equal(n, -5);
	}
	assert_int_equal(shmfs_parse_node_name("node1024", &n), -ERANGE);
	assert_int_equal(shmfs_parse_node_name("node4294967296", &n), -ERANGE);
	assert_int_equal(shmfs_parse_node_name("node99999999999999999999", &n), -ERANGE);
	assert_int_equal(n, -5);
}

static void node_takes_index_or_name(void **state)
{
	static const char *bad[] = { "", "node", "+1", "-1", "01", "node01", " 1", "1x", "nodenode1" };
	int n = -5;

	assert_int_equal(shmfs_parse_node("3", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(shmfs_parse_node("node4", &n), 0);
	assert_int_equal(n, 4);
	n = -5;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_parse_node(bad[i], &n), -EINVAL);
	assert_int_equal(shmfs_parse_node("1024", &n), -ERANGE);
	assert_int_equal(n, -5);
}

static void size_format_is_human(void **state)
{
	char buf[SHMFS_SIZE_FMT_MAX];

	assert_string_equal(shmfs_format_size(0, buf, sizeof(buf)), "0");
	assert_string_equal(shmfs_format_size(1023, buf, sizeof(buf)), "1023");
	assert_string_equal(shmfs_format_size(4096, buf, sizeof(buf)), "4.0K");
	assert_string_equal(shmfs_format_size(63019827, buf, sizeof(buf)), "60.1M");
	assert_string_equal(shmfs_format_size(1ull << 30, buf, sizeof(buf)), "1.0G");
	assert_string_equal(shmfs_format_size((1ull << 20) - 1, buf, sizeof(buf)), "1.0M");
	assert_string_equal(shmfs_format_size(UINT64_MAX, buf, sizeof(buf)), "16.0E");
}

static void list_round_trips(void **state)
{
	uint64_t bits[2] = { 0 };
	char buf[64];

	assert_int_equal(shmfs_parse_list("0-3,8,10-11,127", bits, 128), 0);
	assert_true(bits[0] == 0xd0full);
	assert_true(bits[1] == 1ull << 63);
	assert_int_equal(shmfs_format_list(bits, 128, buf, sizeof(buf)), (int)strlen("0-3,8,10-11,127"));
	assert_string_equal(buf, "0-3,8,10-11,127");
	assert_int_equal(shmfs_parse_list("", bits, 128), 0);
	assert_true(bits[0] == 0 && bits[1] == 0);
	assert_int_equal(shmfs_format_list(bits, 128, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void list_refuses_bad_text(void **state)
{
	uint64_t bits[1] = { 5 };

	assert_int_equal(shmfs_parse_list("3-1", bits, 64), -EINVAL);
	assert_int_equal(shmfs_parse_list("1,", bits, 64), -EINVAL);
	assert_int_equal(shmfs_parse_list(",1", bits, 64), -EINVAL);
	assert_int_equal(shmfs_parse_list("1-", bits, 64), -EINVAL);
	assert_int_equal(shmfs_parse_list("a", bits, 64), -EINVAL);
	assert_int_equal(shmfs_parse_list("64", bits, 64), -ERANGE);
	assert_true(bits[0] == 5);
}

static void list_format_reports_short_buffer(void **state)
{
	uint64_t bits[1] = { 0x15 };
	char buf[4];

	assert_int_equal(shmfs_format_list(bits, 64, buf, sizeof(buf)), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(u64_accepts_canonical_decimal),
		cmocka_unit_test(u64_refuses_everything_else_and_keeps_output),
		cmocka_unit_test(size_units_are_binary),
		cmocka_unit_test(size_units_are_any_case_and_spelling),
		cmocka_unit_test(size_refuses_bad_units_and_overflow),
		cmocka_unit_test(pages_are_counts_or_whole_page_sizes),
		cmocka_unit_test(pages_rel_take_one_sign),
		cmocka_unit_test(node_name_is_node_then_canonical_index),
		cmocka_unit_test(node_name_refuses_everything_else_and_keeps_output),
		cmocka_unit_test(node_takes_index_or_name),
		cmocka_unit_test(size_format_is_human),
		cmocka_unit_test(list_round_trips),
		cmocka_unit_test(list_refuses_bad_text),
		cmocka_unit_test(list_format_reports_short_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
