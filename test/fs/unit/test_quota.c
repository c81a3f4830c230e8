/* test_quota.c - quota rules and accounting: the rule parser takes only the
 * canonical SUBJECT[:ID].TYPE=LIMIT forms and leaves its output alone on
 * failure; rules set, replace and drop; limits resolve (percentages rounded
 * up, root never caught by a default); admission refuses exactly what goes
 * past a user's, a group's or root's reserve line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon.h"

#define MB2 (2ULL << 20)

static struct shmfs_page_types types;

static int setup(void **state)
{
	memset(&types, 0, sizeof(types));
	types.type[SHMFS_PAGE_NORMAL] = (struct shmfs_page_type){ SHMFS_PAGE_NORMAL, "normal", ".normal", 4096, "" };
	types.type[SHMFS_PAGE_HUGE] = (struct shmfs_page_type){ SHMFS_PAGE_HUGE, "huge", ".huge", MB2,
							       "hugepages-2048kB" };
	/* no gigantic pages on this "machine" */
	types.type[SHMFS_PAGE_GIGANTIC] = (struct shmfs_page_type){ SHMFS_PAGE_GIGANTIC, "gigantic", ".gigantic", 0, "" };
	return 0;
}

static struct shmfs_quota_rule parse_ok(const char *text)
{
	struct shmfs_quota_rule r;

	assert_int_equal(shmfs_quota_rule_parse(text, &types, &r), 0);
	return r;
}

static void parses_every_subject_and_limit(void **state)
{
	struct shmfs_quota_rule r;

	r = parse_ok("user.huge=50%");
	assert_int_equal(r.subject, SHMFS_QUOTA_USER);
	assert_false(r.has_id);
	assert_int_equal(r.kind, SHMFS_PAGE_HUGE);
	assert_int_equal(r.how, SHMFS_QUOTA_PERCENT);
	assert_int_equal(r.val, 50);

	r = parse_ok("user:1000.normal=1G");
	assert_true(r.has_id);
	assert_int_equal(r.id, 1000);
	assert_int_equal(r.how, SHMFS_QUOTA_PAGES);
	assert_int_equal(r.val, (1ULL << 30) / 4096);

	r = parse_ok("group:0.huge=unlimited");
	assert_int_equal(r.subject, SHMFS_QUOTA_GROUP);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.how, SHMFS_QUOTA_UNLIMITED);

	r = parse_ok("reserve.huge=2");
	assert_int_equal(r.subject, SHMFS_QUOTA_RESERVE);
	assert_int_equal(r.how, SHMFS_QUOTA_PAGES);
	assert_int_equal(r.val, 2);

	r = parse_ok("group:7.huge=default");
	assert_int_equal(r.how, SHMFS_QUOTA_DEFAULT);
	r = parse_ok("user.huge=0");
	assert_int_equal(r.val, 0);
	r = parse_ok("user.huge=100%");
	assert_int_equal(r.val, 100);
	r = parse_ok("user:4294967294.huge=4M");
	assert_int_equal(r.val, 2);
}

static void refuses_anything_else_and_keeps_output(void **state)
{
	static const char *const bad[] = {
		"", "=", "user", "user.huge", "user.huge=", ".huge=1", "user.=1", "user.huge=abc",
		"user.huge=101%", "user.huge=%", "user.huge=-1", "user.huge=+1", "user.huge=01",
		"user.huge=1M", /* not a whole 2M page */ "user.huge=1.5G", "user.huge= 1", "user.huge=1 ",
		"User.huge=1", "users.huge=1", "user:.huge=1", "user:01.huge=1", "user:-1.huge=1",
		"user:4294967295.huge=1", "user:99999999999.huge=1", "user:root.huge=1", "reserve:1.huge=1",
		"reserve.huge=unlimited", "user.huge=default", "group.normal=default", "user.bogus=1",
		"user..huge=1", "user.gigantic=1", /* absent on this machine */ "user.Huge=1",
		"user.huge=1=2", "user.huge=50%%", "user.huge=unlimitedx",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shmfs_quota_rule r;

		memset(&r, 0xa5, sizeof(r));
		if (shmfs_quota_rule_parse(bad[i], &types, &r) != -EINVAL)
			fail_msg("'%s' was not refused with EINVAL", bad[i]);
		for (size_t b = 0; b < sizeof(r); b++)
			if (((unsigned char *)&r)[b] != 0xa5)
				fail_msg("'%s' changed the output", bad[i]);
	}
}

static void formats_canonically(void **state)
{
	static const char *const canon[] = {
		"user.huge=50%", "user:1000.normal=262144", "group:0.huge=unlimited", "reserve.huge=2",
		"group:7.huge=default",
	};
	char buf[SHMFS_QUOTA_RULE_MAX];

	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		struct shmfs_quota_rule r = parse_ok(canon[i]);

		assert_true(shmfs_quota_rule_format(&r, &types, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, canon[i]);
	}
	assert_int_equal(shmfs_quota_rule_format(&(struct shmfs_quota_rule){ .kind = SHMFS_PAGE_HUGE },
						 &types, buf, 4), -ENOSPC);
}

static void defaults_limit_users_to_half(void **state)
{
	struct shmfs_quota_rules s;
	uint64_t lim;

	assert_int_equal(shmfs_quota_rules_init(&s), 0);
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1000, SHMFS_PAGE_HUGE, 10, &lim));
	assert_int_equal(lim, 5);
	/* rounded up: a one-page pool is not closed to everyone */
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1000, SHMFS_PAGE_HUGE, 1, &lim));
	assert_int_equal(lim, 1);
	assert_false(shmfs_quota_limit(&s, SHMFS_QUOTA_GROUP, 1000, SHMFS_PAGE_HUGE, 10, &lim));
	/* root is not caught by a default */
	assert_false(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 0, SHMFS_PAGE_HUGE, 10, &lim));
	assert_int_equal(shmfs_quota_reserve(&s, SHMFS_PAGE_HUGE, 10), 0);
	shmfs_quota_rules_free(&s);
}

static void rules_replace_and_drop(void **state)
{
	struct shmfs_quota_rules s;
	struct shmfs_quota_rule r;
	uint64_t lim;
	size_t base;

	assert_int_equal(shmfs_quota_rules_init(&s), 0);
	base = s.cnt;
	r = parse_ok("user:1000.huge=3");
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	assert_int_equal(s.cnt, base + 1);
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1000, SHMFS_PAGE_HUGE, 100, &lim));
	assert_int_equal(lim, 3);
	/* another user still gets the default */
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1001, SHMFS_PAGE_HUGE, 100, &lim));
	assert_int_equal(lim, 50);
	r = parse_ok("user:1000.huge=unlimited");
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	assert_int_equal(s.cnt, base + 1);
	assert_false(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1000, SHMFS_PAGE_HUGE, 100, &lim));
	r = parse_ok("user:1000.huge=default");
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	assert_int_equal(s.cnt, base);
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_USER, 1000, SHMFS_PAGE_HUGE, 100, &lim));
	assert_int_equal(lim, 50);
	/* an explicit rule for root's group applies */
	r = parse_ok("group:0.huge=7");
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	assert_true(shmfs_quota_limit(&s, SHMFS_QUOTA_GROUP, 0, SHMFS_PAGE_HUGE, 100, &lim));
	assert_int_equal(lim, 7);
	/* a default cannot be dropped */
	r = (struct shmfs_quota_rule){ .subject = SHMFS_QUOTA_USER, .kind = SHMFS_PAGE_HUGE,
				       .how = SHMFS_QUOTA_DEFAULT };
	assert_int_equal(shmfs_quota_rules_set(&s, &r), -EINVAL);
	r = parse_ok("reserve.huge=10%");
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	assert_int_equal(shmfs_quota_reserve(&s, SHMFS_PAGE_HUGE, 15), 2);
	assert_int_equal(shmfs_quota_reserve(&s, SHMFS_PAGE_NORMAL, 15), 0);
	shmfs_quota_rules_free(&s);
}

static void rules_are_bounded(void **state)
{
	struct shmfs_quota_rules s;
	struct shmfs_quota_rule r = parse_ok("user:1.huge=1");
	uint32_t id;

	assert_int_equal(shmfs_quota_rules_init(&s), 0);
	for (id = 1; id <= SHMFS_QUOTA_RULES_MAX; id++) {
		r.id = id;
		assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	}
	r.id = id;
	assert_int_equal(shmfs_quota_rules_set(&s, &r), -ENOSPC);
	/* replacing one that is there still works */
	r.id = 1;
	r.val = 9;
	assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	shmfs_quota_rules_free(&s);
}

static struct shmfs_quota_rules rules_of(const char *const *texts, size_t cnt)
{
	struct shmfs_quota_rules s;

	assert_int_equal(shmfs_quota_rules_init(&s), 0);
	for (size_t i = 0; i < cnt; i++) {
		struct shmfs_quota_rule r = parse_ok(texts[i]);
		assert_int_equal(shmfs_quota_rules_set(&s, &r), 0);
	}
	return s;
}

static void admits_up_to_the_user_limit(void **state)
{
	static const char *const t[] = { "user.huge=4" };
	struct shmfs_quota_rules s = rules_of(t, 1);
	struct shmfs_quota_ask a = { .uid = 1000, .gid = 1000, .user_used = 3, .group_used = 3,
				     .pages = 1, .pool = 100, .need = 1, .node_free = 50,
				     .node_total = 100 };

	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	a.pages = 2;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), -EDQUOT);
	/* already over (a limit lowered live): any growth is refused */
	a.user_used = 9;
	a.pages = 0;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), -EDQUOT);
	/* root-owned pages are never limited */
	a.uid = 0;
	a.pages = 99;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	/* other types keep their own limit (50% of the pool by default) */
	a = (struct shmfs_quota_ask){ .uid = 1000, .gid = 1000, .pages = 50, .pool = 100 };
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_NORMAL, &a), 0);
	a.pages = 51;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_NORMAL, &a), -EDQUOT);
	/* huge numbers do not wrap around */
	a = (struct shmfs_quota_ask){ .uid = 1000, .gid = 1000, .user_used = 3, .pages = UINT64_MAX };
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), -EDQUOT);
	shmfs_quota_rules_free(&s);
}

static void admits_up_to_the_group_limit(void **state)
{
	static const char *const t[] = { "user.huge=unlimited", "group:50.huge=6" };
	struct shmfs_quota_rules s = rules_of(t, 2);
	struct shmfs_quota_ask a = { .uid = 1000, .gid = 50, .user_used = 0, .group_used = 4,
				     .pages = 2, .pool = 100 };

	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	a.pages = 3;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), -EDQUOT);
	a.gid = 51; /* no rule, and groups are unlimited by default */
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	shmfs_quota_rules_free(&s);
}

static void keeps_the_reserve_for_root(void **state)
{
	static const char *const t[] = { "user.huge=unlimited", "reserve.huge=2" };
	struct shmfs_quota_rules s = rules_of(t, 2);
	struct shmfs_quota_ask a = { .uid = 1000, .gid = 1000, .pages = 3, .pool = 10, .need = 3,
				     .node_free = 5, .node_total = 10 };

	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	a.need = a.pages = 4;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), -EDQUOT);
	a.uid = 0;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	/* more than the pool has: the pool's own error (ENOSPC), not EDQUOT */
	a.uid = 1000;
	a.need = a.pages = 6;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	/* a request that takes nothing (chown) is not held to the reserve */
	a.need = 0;
	a.node_free = 0;
	assert_int_equal(shmfs_quota_admit(&s, SHMFS_PAGE_HUGE, &a), 0);
	shmfs_quota_rules_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(parses_every_subject_and_limit, setup),
		cmocka_unit_test_setup(refuses_anything_else_and_keeps_output, setup),
		cmocka_unit_test_setup(formats_canonically, setup),
		cmocka_unit_test_setup(defaults_limit_users_to_half, setup),
		cmocka_unit_test_setup(rules_replace_and_drop, setup),
		cmocka_unit_test_setup(rules_are_bounded, setup),
		cmocka_unit_test_setup(admits_up_to_the_user_limit, setup),
		cmocka_unit_test_setup(admits_up_to_the_group_limit, setup),
		cmocka_unit_test_setup(keeps_the_reserve_for_root, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
