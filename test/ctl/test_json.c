/* test_json.c - shmfsctl's JSON writer: escaping that keeps any region name,
 * path or xattr valid JSON, nesting and separators, and number lists from
 * kernel lists and pid lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"

/* Run fn writing JSON into a memory stream; return what it wrote. */
static char *render(void (*fn)(struct json *j))
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);
	struct json j;

	assert_non_null(f);
	json_begin(&j, f);
	fn(&j);
	fclose(f);
	return buf;
}

static void write_escapes(struct json *j)
{
	json_obj_open(j, NULL);
	json_str(j, "s", "a\"b\\c\nd\te\x01" "f\x7f");
	json_obj_close(j);
}

static void strings_are_escaped(void **state)
{
	char *out = render(write_escapes);

	assert_string_equal(out, "{\n  \"s\": \"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f\"\n}");
	free(out);
}

static void write_nested(struct json *j)
{
	json_obj_open(j, NULL);
	json_u64(j, "n", UINT64_MAX);
	json_i64(j, "m", -1);
	json_arr_open(j, "empty");
	json_arr_close(j);
	json_arr_open(j, "a");
	json_bool(j, NULL, true);
	json_null(j, NULL);
	json_str(j, NULL, NULL);
	json_arr_close(j);
	json_obj_close(j);
}

static void nesting_and_separators(void **state)
{
	char *out = render(write_nested);

	assert_string_equal(out,
		"{\n  \"n\": 18446744073709551615,\n  \"m\": -1,\n  \"empty\": [],\n"
		"  \"a\": [\n    true,\n    null,\n    null\n  ]\n}");
	free(out);
}

static void write_lists(struct json *j)
{
	json_obj_open(j, NULL);
	json_list(j, "nodes", "0-2,5");
	json_list(j, "pids", "123,45678");
	json_list(j, "none", "");
	json_obj_close(j);
}

static void lists_expand_ranges_and_keep_large_numbers(void **state)
{
	char *out = render(write_lists);

	assert_string_equal(out,
		"{\n  \"nodes\": [\n    0,\n    1,\n    2,\n    5\n  ],\n"
		"  \"pids\": [\n    123,\n    45678\n  ],\n  \"none\": []\n}");
	free(out);
}

static void write_max_list(struct json *j)
{
	json_obj_open(j, NULL);
	json_list(j, "ids", "18446744073709551615");
	json_obj_close(j);
}

static void list_of_the_largest_number_ends(void **state)
{
	char *out = render(write_max_list);

	assert_string_equal(out, "{\n  \"ids\": [\n    18446744073709551615\n  ]\n}");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strings_are_escaped),
		cmocka_unit_test(nesting_and_separators),
		cmocka_unit_test(lists_expand_ranges_and_keep_large_numbers),
		cmocka_unit_test(list_of_the_largest_number_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
