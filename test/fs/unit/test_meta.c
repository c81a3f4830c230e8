/* test_meta.c - persisted region metadata: what is written is read back
 * exactly, and a torn, foreign or damaged file is refused, never half-used. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "daemon.h"

static struct shmfs_meta sample(void)
{
	struct shmfs_meta m = { .known = true, .node = 3, .creator_pid = 4242, .creator_start = 987654321 };

	snprintf(m.policy, sizeof(m.policy), "split:0=2,3=1");
	m.created.tv_sec = 1700000000;
	m.created.tv_nsec = 5;
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.tag", "value", 5, 0), 0);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.bin", "\0\xff\n ", 4, 0), 0);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.empty", "", 0, 0), 0);
	return m;
}

static void round_trips_every_field(void **state)
{
	struct shmfs_meta m = sample(), back;
	char *text;
	size_t len;
	const struct shmfs_xattr *x;

	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_true(back.known);
	assert_int_equal(back.node, 3);
	assert_string_equal(back.policy, "split:0=2,3=1");
	assert_int_equal(back.creator_pid, 4242);
	assert_int_equal(back.creator_start, 987654321);
	assert_int_equal(back.created.tv_sec, 1700000000);
	assert_int_equal(back.created.tv_nsec, 5);
	assert_int_equal(back.xattr_cnt, 3);
	x = shmfs_meta_xattr_get(&back, "user.bin");
	assert_non_null(x);
	assert_int_equal(x->size, 4);
	assert_memory_equal(x->value, "\0\xff\n ", 4);
	x = shmfs_meta_xattr_get(&back, "user.empty");
	assert_non_null(x);
	assert_int_equal(x->size, 0);
	free(text);
	shmfs_meta_free(&m);
	shmfs_meta_free(&back);
}

static void round_trips_a_migration_intent(void **state)
{
	struct shmfs_meta m = { .known = true, .node = 0, .migrating = true, .migrate_to = 2 }, back;
	char *text;
	size_t len;

	snprintf(m.migrate_name, sizeof(m.migrate_name), "newname");
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_true(back.migrating);
	assert_int_equal(back.migrate_to, 2);
	assert_string_equal(back.migrate_name, "newname");
	free(text);
	m.migrating = false;
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_null(strstr(text, "migrate"));
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_false(back.migrating);
	free(text);
}

static void refuses_torn_and_foreign_files(void **state)
{
	struct shmfs_meta m = sample(), back;
	char *text;
	size_t len;

	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	/* every strict prefix lacks the end marker */
	for (size_t cut = 0; cut < len - 1; cut++)
		assert_int_equal(shmfs_meta_parse(text, cut, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("hello\n", 6, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("shmfs-meta 1\nnode x\nend\n", 24, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("shmfs-meta 1\nxattr 7 00\nend\n", 28, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("shmfs-meta 1\nxattr 7g 00\nend\n", 29, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("shmfs-meta 1\ncreated 1.5\nend\n", 29, &back), -EBADMSG);
	assert_int_equal(shmfs_meta_parse("shmfs-meta 1\nnode 1\0\nend\n", 25, &back), -EBADMSG);
	free(text);
	shmfs_meta_free(&m);
}

static void skips_unknown_keys(void **state)
{
	const char *t = "shmfs-meta 1\nnode 1\nfuture_key whatever\nend\n";
	struct shmfs_meta back;

	assert_int_equal(shmfs_meta_parse(t, strlen(t), &back), 0);
	assert_int_equal(back.node, 1);
	shmfs_meta_free(&back);
}

static void xattr_flags_and_limits(void **state)
{
	struct shmfs_meta m = { 0 };
	static char big[SHMFS_XATTR_USER_MAX_SIZE];

	assert_int_equal(shmfs_meta_xattr_set(&m, "user.a", "1", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.a", "1", 1, XATTR_CREATE), 0);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.a", "2", 1, XATTR_CREATE), -EEXIST);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.a", "22", 2, XATTR_REPLACE), 0);
	assert_int_equal(shmfs_meta_xattr_get(&m, "user.a")->size, 2);
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.big", big, sizeof(big), 0), -ENOSPC);
	assert_int_equal(shmfs_meta_xattr_remove(&m, "user.a"), 0);
	assert_int_equal(shmfs_meta_xattr_remove(&m, "user.a"), -ENODATA);
	assert_int_equal(m.xattr_cnt, 0);
	for (int i = 0; i < SHMFS_XATTR_USER_MAX_CNT; i++) {
		char name[32];
		snprintf(name, sizeof(name), "user.n%d", i);
		assert_int_equal(shmfs_meta_xattr_set(&m, name, "", 0, 0), 0);
	}
	assert_int_equal(shmfs_meta_xattr_set(&m, "user.one_more", "", 0, 0), -ENOSPC);
	shmfs_meta_free(&m);
}

static void copy_is_deep(void **state)
{
	struct shmfs_meta m = sample(), c;

	assert_int_equal(shmfs_meta_copy(&m, &c), 0);
	assert_int_equal(shmfs_meta_xattr_set(&c, "user.tag", "other", 5, 0), 0);
	assert_memory_equal(shmfs_meta_xattr_get(&m, "user.tag")->value, "value", 5);
	shmfs_meta_free(&m);
	shmfs_meta_free(&c);
}

static void round_trips_lifetime_and_program(void **state)
{
	struct shmfs_meta m = { .known = true, .lifetime = SHMFS_LIFETIME_LOCK }, back;
	char *text;
	size_t len;

	snprintf(m.program, sizeof(m.program), "dpdk:other");
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_int_equal(back.lifetime, SHMFS_LIFETIME_LOCK);
	assert_string_equal(back.program, "dpdk:other");
	free(text);
	m.lifetime = SHMFS_LIFETIME_PROCESS;
	m.program[0] = '\0';
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_null(strstr(text, "program"));
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_int_equal(back.lifetime, SHMFS_LIFETIME_PROCESS);
	free(text);
}

static void metadata_without_lifetime_is_persistent(void **state)
{
	const char *old = "shmfs-meta 1\nnode 0\ncreator_pid 77\nend\n";
	const char *newer = "shmfs-meta 1\nlifetime forever-and-a-day\nend\n";
	struct shmfs_meta back;

	assert_int_equal(shmfs_meta_parse(old, strlen(old), &back), 0);
	assert_int_equal(back.lifetime, SHMFS_LIFETIME_PERSISTENT);
	assert_int_equal(shmfs_meta_parse(newer, strlen(newer), &back), 0);
	assert_int_equal(back.lifetime, SHMFS_LIFETIME_PERSISTENT);
}

static void refuses_a_damaged_program_tag(void **state)
{
	const char *bad[] = { "shmfs-meta 1\nprogram dpdk\nend\n", "shmfs-meta 1\nprogram :x\nend\n",
			      "shmfs-meta 1\nprogram dpdk:a/b\nend\n" };
	struct shmfs_meta back;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_meta_parse(bad[i], strlen(bad[i]), &back), -EBADMSG);
}

/* format(parse(t)) parses back to what parse(t) gave, field by field */
static void assert_fixed_point(const char *t)
{
	struct shmfs_meta a, b;
	char *text, *again;
	size_t len, len2;

	assert_int_equal(shmfs_meta_parse(t, strlen(t), &a), 0);
	assert_int_equal(shmfs_meta_format(&a, &text, &len), 0);
	assert_int_equal(shmfs_meta_parse(text, len, &b), 0);
	assert_int_equal(shmfs_meta_format(&b, &again, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(text, again, len);
	assert_int_equal(a.created.tv_sec, b.created.tv_sec);
	assert_int_equal(a.created.tv_nsec, b.created.tv_nsec);
	assert_int_equal(a.has_size, b.has_size);
	assert_int_equal(a.size, b.size);
	assert_int_equal(a.size_prev, b.size_prev);
	assert_int_equal(a.migrating, b.migrating);
	assert_string_equal(a.migrate_name, b.migrate_name);
	free(text);
	free(again);
	shmfs_meta_free(&a);
	shmfs_meta_free(&b);
}

static void parse_format_parse_is_a_fixed_point(void **state)
{
	static const char *const texts[] = {
		"shmfs-meta 1\nnode 1\nend\n",
		"shmfs-meta 1\ncreated 9223372036854775807.999999999\nend\n",
		"shmfs-meta 1\ncreated -9223372036854775808.000000001\nend\n",
		"shmfs-meta 1\ncreated -1.000000000\nend\n",
		"shmfs-meta 1\nmigrate_to 3\nend\n",           /* an intent without its name */
		"shmfs-meta 1\nmigrate_name abc\nend\n",       /* a name without its intent */
		"shmfs-meta 1\nsize 3\nsize_prev 8192\nend\n",
		"shmfs-meta 1\nsize_prev 5\nend\n",            /* a previous size alone means nothing */
		"shmfs-meta 1\nsize 9223372036854775807\nend\n",
		"shmfs-meta 1\npolicy -\nfuture 1\nend\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_fixed_point(texts[i]);
}

static void refuses_what_format_cannot_write(void **state)
{
	static const char *const bad[] = {
		/* above INT64_MAX: once read as a negative time, never written back */
		"shmfs-meta 1\ncreated 9223372036854775808.000000000\nend\n",
		"shmfs-meta 1\ncreated 18446744073709551615.000000000\nend\n",
		"shmfs-meta 1\ncreated -9223372036854775809.000000000\nend\n",
		"shmfs-meta 1\ncreated -0.000000000\nend\n",
		"shmfs-meta 1\ncreated +1.000000000\nend\n",
		"shmfs-meta 1\nsize 9223372036854775808\nend\n",
		"shmfs-meta 1\nsize -1\nend\n",
		"shmfs-meta 1\nsize_prev 9223372036854775808\nend\n",
	};
	struct shmfs_meta back;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shmfs_meta_parse(bad[i], strlen(bad[i]), &back), -EBADMSG);
}

static void round_trips_sizes_and_old_times(void **state)
{
	struct shmfs_meta m = { .known = true, .has_size = true, .size = 4097, .size_prev = 3 }, back;
	char *text;
	size_t len;

	m.created.tv_sec = -86400;
	m.created.tv_nsec = 7;
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_true(back.has_size);
	assert_int_equal(back.size, 4097);
	assert_int_equal(back.size_prev, 3);
	assert_int_equal(back.created.tv_sec, -86400);
	assert_int_equal(back.created.tv_nsec, 7);
	free(text);
	m.has_size = false;
	assert_int_equal(shmfs_meta_format(&m, &text, &len), 0);
	assert_null(strstr(text, "size"));
	assert_int_equal(shmfs_meta_parse(text, len, &back), 0);
	assert_false(back.has_size);
	free(text);
}

static void byte_size_follows_the_backing_pages(void **state)
{
	struct shmfs_meta m = { .has_size = true, .size = 5000, .size_prev = 3 };
	const uint64_t pg = 4096;

	/* the new size once the backing file has its pages */
	assert_int_equal(shmfs_meta_byte_size(&m, 2 * pg, pg), 5000);
	/* the old one while it still has the old pages (killed mid-resize) */
	assert_int_equal(shmfs_meta_byte_size(&m, pg, pg), 3);
	/* neither: sized behind the daemon's back, the backing file's size */
	assert_int_equal(shmfs_meta_byte_size(&m, 4 * pg, pg), 4 * pg);
	assert_int_equal(shmfs_meta_byte_size(&m, 0, pg), 0);
	assert_int_equal(shmfs_meta_byte_size(&m, 100, pg), 100);
	/* no size recorded (older daemon, foreign file): the backing file's */
	m.has_size = false;
	assert_int_equal(shmfs_meta_byte_size(&m, 2 * pg, pg), 2 * pg);
	/* the empty region */
	m = (struct shmfs_meta){ .has_size = true };
	assert_int_equal(shmfs_meta_byte_size(&m, 0, pg), 0);
	/* a size of whole pages is its own rounding */
	m.size = 2 * pg;
	assert_int_equal(shmfs_meta_byte_size(&m, 2 * pg, pg), 2 * pg);
	/* 1 GiB pages, the largest size */
	m.size = (uint64_t)INT64_MAX - (1ULL << 30);
	assert_int_equal(shmfs_meta_byte_size(&m, ((uint64_t)INT64_MAX >> 30) << 30, 1ULL << 30),
			 (uint64_t)INT64_MAX - (1ULL << 30));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips_every_field),
		cmocka_unit_test(round_trips_a_migration_intent),
		cmocka_unit_test(refuses_torn_and_foreign_files),
		cmocka_unit_test(skips_unknown_keys),
		cmocka_unit_test(xattr_flags_and_limits),
		cmocka_unit_test(copy_is_deep),
		cmocka_unit_test(round_trips_lifetime_and_program),
		cmocka_unit_test(metadata_without_lifetime_is_persistent),
		cmocka_unit_test(refuses_a_damaged_program_tag),
		cmocka_unit_test(parse_format_parse_is_a_fixed_point),
		cmocka_unit_test(refuses_what_format_cannot_write),
		cmocka_unit_test(round_trips_sizes_and_old_times),
		cmocka_unit_test(byte_size_follows_the_backing_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
