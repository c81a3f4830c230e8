/* test_pagetype.c - page types are read from the kernel's files, never assumed:
 * fake sysfs/procfs trees stand in for an x86 machine, an arm64 machine with
 * more sizes, and a kernel without huge pages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "pagetype.h"

static char root[64];

static void make_root(const char *default_kb, const char **sizes)
{
	char path[256];
	FILE *f;

	strcpy(root, "/tmp/shmfs-pagetype.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/proc", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "MemTotal: 100 kB\n");
	if (default_kb)
		fprintf(f, "Hugepagesize:    %s kB\n", default_kb);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sys/kernel/mm/hugepages", root);
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
		assert_int_equal(system(cmd), 0);
		for (; sizes && *sizes; sizes++) {
			snprintf(cmd, sizeof(cmd), "mkdir -p %s/hugepages-%skB", path, *sizes);
			assert_int_equal(system(cmd), 0);
		}
	}
}

static int drop_root(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void x86_has_huge_and_gigantic(void **state)
{
	struct shmfs_page_types t;
	const char *sizes[] = { "2048", "1048576", NULL };

	make_root("2048", sizes);
	assert_int_equal(shmfs_page_types_load_at(root, &t), 0);
	assert_true(t.type[SHMFS_PAGE_HUGE].page_sz == 2ull << 20);
	assert_true(t.type[SHMFS_PAGE_GIGANTIC].page_sz == 1ull << 30);
	assert_string_equal(t.type[SHMFS_PAGE_GIGANTIC].sysfs_dir, "hugepages-1048576kB");
	assert_non_null(shmfs_page_type_by_name(&t, "gigantic"));
	assert_ptr_equal(shmfs_page_type_by_name(&t, ".huge"), &t.type[SHMFS_PAGE_HUGE]);
	assert_null(shmfs_page_type_by_name(&t, "giant"));
}

static void arm64_takes_default_and_largest(void **state)
{
	struct shmfs_page_types t;
	const char *sizes[] = { "64", "2048", "32768", "1048576", NULL };

	make_root("2048", sizes);
	assert_int_equal(shmfs_page_types_load_at(root, &t), 0);
	assert_true(t.type[SHMFS_PAGE_HUGE].page_sz == 2ull << 20);
	assert_true(t.type[SHMFS_PAGE_GIGANTIC].page_sz == 1ull << 30);
}

static void no_hugetlb_leaves_normal_only(void **state)
{
	struct shmfs_page_types t;

	make_root(NULL, NULL);
	assert_int_equal(shmfs_page_types_load_at(root, &t), 0);
	assert_true(t.type[SHMFS_PAGE_NORMAL].page_sz > 0);
	assert_false(shmfs_page_type_present(&t.type[SHMFS_PAGE_HUGE]));
	assert_false(shmfs_page_type_present(&t.type[SHMFS_PAGE_GIGANTIC]));
	assert_null(shmfs_page_type_by_name(&t, "huge"));
	assert_non_null(shmfs_page_type_by_name(&t, "normal"));
}

static void only_default_size_means_no_gigantic(void **state)
{
	struct shmfs_page_types t;
	char dir[128];
	const char *sizes[] = { "2048", NULL };

	make_root("2048", sizes);
	assert_int_equal(shmfs_page_types_load_at(root, &t), 0);
	assert_false(shmfs_page_type_present(&t.type[SHMFS_PAGE_GIGANTIC]));
	assert_int_equal(shmfs_page_type_node_dir(&t.type[SHMFS_PAGE_HUGE], 1, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/devices/system/node/node1/hugepages/hugepages-2048kB");
	assert_int_equal(shmfs_page_type_node_dir(&t.type[SHMFS_PAGE_NORMAL], 0, dir, sizeof(dir)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(x86_has_huge_and_gigantic, drop_root),
		cmocka_unit_test_teardown(arm64_takes_default_and_largest, drop_root),
		cmocka_unit_test_teardown(no_hugetlb_leaves_normal_only, drop_root),
		cmocka_unit_test_teardown(only_default_size_means_no_gigantic, drop_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
