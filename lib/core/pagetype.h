/* pagetype.h - the one place that knows the page types (normal, huge,
 * gigantic): their names in the tree and in the backing store, and their sizes
 * as the running kernel reports them. Nothing here hard-codes x86 sizes. */
#ifndef SHMFS_CORE_PAGETYPE_H
#define SHMFS_CORE_PAGETYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum shmfs_page_kind {
	SHMFS_PAGE_NORMAL,   /* base pages, tmpfs */
	SHMFS_PAGE_HUGE,     /* the kernel's default huge page size, hugetlbfs */
	SHMFS_PAGE_GIGANTIC, /* the largest huge page size above that, hugetlbfs */
	SHMFS_PAGE_KIND_CNT,
};

struct shmfs_page_type {
	enum shmfs_page_kind kind;
	const char *name;        /* directory in the tree: "normal", "huge", "gigantic" */
	const char *backing_dir; /* directory in the backing store: ".normal", ... */
	uint64_t page_sz;        /* bytes; 0 when the kernel does not offer this type */
	char sysfs_dir[40];      /* "hugepages-2048kB"; "" for normal pages */
};

struct shmfs_page_types {
	struct shmfs_page_type type[SHMFS_PAGE_KIND_CNT];
};

/* Read the page sizes the kernel offers: the base page size, the default huge
 * page size (Hugepagesize in /proc/meminfo) as "huge", and the largest larger
 * size under /sys/kernel/mm/hugepages as "gigantic". Types the kernel lacks
 * get page_sz 0. Other huge page sizes (e.g. arm64's contiguous sizes) are not
 * presented. 0 or -errno. */
int shmfs_page_types_load(struct shmfs_page_types *ret);

/* Same, reading the kernel's files under root ("" for the real ones); for tests. */
int shmfs_page_types_load_at(const char *root, struct shmfs_page_types *ret);

static inline bool shmfs_page_type_present(const struct shmfs_page_type *t)
{
	return t->page_sz != 0;
}

static inline bool shmfs_page_type_is_huge(const struct shmfs_page_type *t)
{
	return t->kind != SHMFS_PAGE_NORMAL;
}

/* The type with this tree name ("huge") or backing name (".huge"), if the
 * kernel offers it; NULL otherwise. */
const struct shmfs_page_type *shmfs_page_type_by_name(const struct shmfs_page_types *types,
						      const char *name);

/* Per-node sysfs directory of a huge page type's pool:
 * /sys/devices/system/node/nodeN/hugepages/hugepages-2048kB. */
int shmfs_page_type_node_dir(const struct shmfs_page_type *t, int node, char *buf, size_t buf_sz);

#endif
