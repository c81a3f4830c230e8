/* test_options.c - the daemon's command line: what mount(8), fstab and people write. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon.h"

#define PARSE(o, ...) ({ \
	char *argv_[] = { "shmfs", __VA_ARGS__, NULL }; \
	shmfs_options_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, (o)); })

static void takes_a_mountpoint(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "/mnt/x"), 0);
	assert_string_equal(o.mountpoint, "/mnt/x");
	assert_null(o.source);
	assert_false(o.foreground);
	shmfs_options_free(&o);
}

static void takes_source_and_mountpoint_like_mount_fuse(void **state)
{
	struct shmfs_options o;

	/* what mount.fuse3 runs */
	assert_int_equal(PARSE(&o, "shmfs", "/mnt/x", "-o", "rw,allow_other,dev,suid"), 0);
	assert_string_equal(o.source, "shmfs");
	assert_string_equal(o.mountpoint, "/mnt/x");
	assert_string_equal(o.fuse_opts, "rw,allow_other,dev,suid");
	shmfs_options_free(&o);
}

static void takes_its_own_options_out(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-f", "-o", "backing=/b,allow_other", "-ohuge=/h,normal=/n,gigantic=/g", "/m"), 0);
	assert_true(o.foreground);
	assert_string_equal(o.backing, "/b");
	assert_string_equal(o.dir[SHMFS_PAGE_HUGE], "/h");
	assert_string_equal(o.dir[SHMFS_PAGE_NORMAL], "/n");
	assert_string_equal(o.dir[SHMFS_PAGE_GIGANTIC], "/g");
	assert_string_equal(o.fuse_opts, "allow_other");
	shmfs_options_free(&o);
}

/* libfuse's option syntax: a backslash escapes the next character. */
static void escaped_commas_stay_in_a_value(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-o", "backing=/srv/a\\,b,allow_other", "/m"), 0);
	assert_string_equal(o.backing, "/srv/a,b");
	assert_string_equal(o.fuse_opts, "allow_other");
	shmfs_options_free(&o);
	assert_int_equal(PARSE(&o, "-o", "backing=/srv/a\\\\b\\134c", "/m"), 0);
	assert_string_equal(o.backing, "/srv/a\\b\\c");
	shmfs_options_free(&o);
}

static void options_for_libfuse_are_escaped_again(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-o", "allow_other,fsname=x\\,y\\\\z", "/m"), 0);
	assert_string_equal(o.fuse_opts, "allow_other,fsname=x\\,y\\\\z");
	shmfs_options_free(&o);
}

static void escape_protects_commas_and_backslashes(void **state)
{
	char *e = NULL;

	assert_int_equal(shmfs_opt_escape("a,b\\c", &e), 0);
	assert_string_equal(e, "a\\,b\\\\c");
	free(e);
	assert_int_equal(shmfs_opt_escape("", &e), 0);
	assert_string_equal(e, "");
	free(e);
	assert_int_equal(shmfs_opt_escape("shmfs", &e), 0);
	assert_string_equal(e, "shmfs");
	free(e);
}

static void drops_fstab_words(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-o", "defaults,auto,noauto,user,users,nofail,_netdev,x-systemd.automount,"
				     "comment=x,default_permissions", "/m"), 0);
	assert_null(o.fuse_opts);
	shmfs_options_free(&o);
}

static void debug_means_foreground(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-d", "/m"), 0);
	assert_true(o.foreground);
	assert_true(o.debug);
	assert_string_equal(o.fuse_opts, "debug");
	shmfs_options_free(&o);
}

static void parses_directory_mode_and_owner(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-o", "mode=1770,uid=1000,gid=0", "/m"), 0);
	assert_true(o.have_mode && o.have_uid && o.have_gid);
	assert_int_equal(o.dir_mode, 01770);
	assert_int_equal(o.dir_uid, 1000);
	assert_int_equal(o.dir_gid, 0);
	shmfs_options_free(&o);
}

static void collects_quota_rules_in_order(void **state)
{
	struct shmfs_options o;

	/* checked against the page types at start-up (quota.c), kept as given here */
	assert_int_equal(PARSE(&o, "-o", "quota=user.huge=4,allow_other,quota=reserve.huge=10%",
			       "-oquota=user:1000.normal=1G", "/mnt/x"), 0);
	assert_int_equal(o.quota_cnt, 3);
	assert_string_equal(o.quota[0], "user.huge=4");
	assert_string_equal(o.quota[1], "reserve.huge=10%");
	assert_string_equal(o.quota[2], "user:1000.normal=1G");
	assert_string_equal(o.fuse_opts, "allow_other");
	shmfs_options_free(&o);
	assert_int_equal(PARSE(&o, "-o", "quota=", "/mnt/x"), -EINVAL);
}

static void takes_the_shared_backing_options(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-o", "shared=/dev/dax0.0,shared_name=pool,allow_other,shared_host=hostA",
			       "/mnt/x"), 0);
	assert_string_equal(o.shared, "/dev/dax0.0");
	assert_string_equal(o.shared_name, "pool");
	assert_string_equal(o.shared_host, "hostA");
	assert_string_equal(o.fuse_opts, "allow_other");
	shmfs_options_free(&o);
	assert_int_equal(PARSE(&o, "-o", "shared=/dev/dax0.0", "/mnt/x"), 0);
	assert_null(o.shared_name);
	assert_null(o.shared_host);
	shmfs_options_free(&o);
	assert_int_equal(PARSE(&o, "-o", "shared=", "/mnt/x"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "shared=/x,shared_host=", "/mnt/x"), -EINVAL);
}

static void refuses_bad_input(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "-f"), -EINVAL);                     /* no mountpoint */
	assert_int_equal(PARSE(&o, "a", "b", "c"), -EINVAL);            /* three positionals */
	assert_int_equal(PARSE(&o, "-x", "/m"), -EINVAL);               /* unknown flag */
	assert_int_equal(PARSE(&o, "/m", "-o"), -EINVAL);               /* -o without a list */
	assert_int_equal(PARSE(&o, "-o", "backing=", "/m"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "mode=0778", "/m"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "mode=17777", "/m"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "uid=-1", "/m"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "gid=01", "/m"), -EINVAL);
	assert_int_equal(PARSE(&o, "-o", "uid=4294967295", "/m"), -EINVAL);
}

static void help_and_version_need_no_mountpoint(void **state)
{
	struct shmfs_options o;

	assert_int_equal(PARSE(&o, "--help"), 0);
	assert_true(o.help);
	shmfs_options_free(&o);
	assert_int_equal(PARSE(&o, "-V"), 0);
	assert_true(o.version);
	shmfs_options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(takes_a_mountpoint),
		cmocka_unit_test(takes_source_and_mountpoint_like_mount_fuse),
		cmocka_unit_test(takes_its_own_options_out),
		cmocka_unit_test(escaped_commas_stay_in_a_value),
		cmocka_unit_test(options_for_libfuse_are_escaped_again),
		cmocka_unit_test(escape_protects_commas_and_backslashes),
		cmocka_unit_test(drops_fstab_words),
		cmocka_unit_test(debug_means_foreground),
		cmocka_unit_test(parses_directory_mode_and_owner),
		cmocka_unit_test(collects_quota_rules_in_order),
		cmocka_unit_test(takes_the_shared_backing_options),
		cmocka_unit_test(refuses_bad_input),
		cmocka_unit_test(help_and_version_need_no_mountpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
