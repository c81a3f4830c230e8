/* pagetype.c - discover the page types the running kernel offers. */
#include "pagetype.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *name;
	const char *backing_dir;
} kind_names[SHMFS_PAGE_KIND_CNT] = {
	[SHMFS_PAGE_NORMAL]   = { "normal",   ".normal" },
	[SHMFS_PAGE_HUGE]     = { "huge",     ".huge" },
	[SHMFS_PAGE_GIGANTIC] = { "gigantic", ".gigantic" },
};

static int default_huge_kb(const char *root, uint64_t *ret)
{
	char path[256];
	_cleanup_fclose_ FILE *f = NULL;
	char line[256];

	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;
		if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1) {
			*ret = kb;
			return 0;
		}
	}
	return -ENOENT;
}

int shmfs_page_types_load_at(const char *root, struct shmfs_page_types *ret)
{
	struct shmfs_page_types t;
	char path[256];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t huge_kb = 0, gigantic_kb = 0;
	long base = sysconf(_SC_PAGESIZE);

	memset(&t, 0, sizeof(t));
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		t.type[k].kind = (enum shmfs_page_kind)k;
		t.type[k].name = kind_names[k].name;
		t.type[k].backing_dir = kind_names[k].backing_dir;
	}
	t.type[SHMFS_PAGE_NORMAL].page_sz = base > 0 ? (uint64_t)base : 4096;

	snprintf(path, sizeof(path), "%s/sys/kernel/mm/hugepages", root);
	d = opendir(path);
	if (d && default_huge_kb(root, &huge_kb) == 0) {
		bool have_default = false;
		while ((de = readdir(d))) {
			unsigned long long kb;
			char tail;
			if (sscanf(de->d_name, "hugepages-%llukB%c", &kb, &tail) != 1)
				continue;
			if (kb == huge_kb)
				have_default = true;
			else if (kb > huge_kb && kb > gigantic_kb)
				gigantic_kb = kb;
		}
		if (have_default) {
			t.type[SHMFS_PAGE_HUGE].page_sz = huge_kb * 1024;
			snprintf(t.type[SHMFS_PAGE_HUGE].sysfs_dir, sizeof(t.type[0].sysfs_dir),
				 "hugepages-%" PRIu64 "kB", huge_kb);
		}
		if (have_default && gigantic_kb) {
			t.type[SHMFS_PAGE_GIGANTIC].page_sz = gigantic_kb * 1024;
			snprintf(t.type[SHMFS_PAGE_GIGANTIC].sysfs_dir, sizeof(t.type[0].sysfs_dir),
				 "hugepages-%" PRIu64 "kB", gigantic_kb);
		}
	}
	*ret = t;
	return 0;
}

int shmfs_page_types_load(struct shmfs_page_types *ret)
{
	return shmfs_page_types_load_at("", ret);
}

const struct shmfs_page_type *shmfs_page_type_by_name(const struct shmfs_page_types *types,
						      const char *name)
{
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		const struct shmfs_page_type *t = &types->type[k];
		if (!shmfs_page_type_present(t))
			continue;
		if (strcmp(name, t->name) == 0 || strcmp(name, t->backing_dir) == 0)
			return t;
	}
	return NULL;
}

int shmfs_page_type_node_dir(const struct shmfs_page_type *t, int node, char *buf, size_t buf_sz)
{
	int n;

	if (!shmfs_page_type_is_huge(t) || !shmfs_page_type_present(t) || node < 0)
		return -EINVAL;
	n = snprintf(buf, buf_sz, "/sys/devices/system/node/node%d/hugepages/%s", node, t->sysfs_dir);
	return n < 0 || (size_t)n >= buf_sz ? -ENAMETOOLONG : 0;
}
