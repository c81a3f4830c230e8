/* parse.h - the one set of strict parsers shmfs uses for numbers, sizes and
 * kernel-style lists, and the matching formatters. Every parser accepts only
 * the canonical form (no sign, no spaces, no leading zeros, no trailing junk)
 * and returns 0 or -errno without touching its output on failure. */
#ifndef SHMFS_CORE_PARSE_H
#define SHMFS_CORE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer: "0" or [1-9][0-9]*. -EINVAL on any other text,
 * -ERANGE if it does not fit in 64 bits. */
int shmfs_parse_u64(const char *s, uint64_t *ret);

/* A byte count: a decimal integer with an optional unit, the way people
 * type them: K, M, G, T, P, E, alone or followed by B or iB, in any case
 * ("2m", "2M", "2MiB", "64MB", "64mb"); B alone is bytes. Units are binary
 * whatever the spelling (MB = MiB, as for huge page sizes: hugepagesz=2M).
 * "4G" = 4294967296. -EINVAL on bad text, -ERANGE on overflow. */
int shmfs_parse_size(const char *s, uint64_t *ret);

/* True when s is a size written with a unit (as opposed to a bare count). */
bool shmfs_size_has_unit(const char *s);

/* A number of pages of page_sz bytes, as control files and shmfsctl take it:
 * a bare count ("8"), or a size with a unit (shmfs_parse_size: "16M") that
 * is a whole number of pages. -EINVAL on bad text, -ERANGE on overflow,
 * -EDOM for a size that is not whole pages. */
int shmfs_parse_pages(const char *s, uint64_t page_sz, uint64_t *ret);

/* A pool change as .nr_pages and shmfsctl alloc take it: a page count
 * (shmfs_parse_pages) optionally preceded by one sign, '+' to add or '-' to
 * take away. *ret_sign is +1, -1 or 0 (an absolute count). -EINVAL on bad
 * text (a sign alone, two signs), else the errors of shmfs_parse_pages. */
int shmfs_parse_pages_rel(const char *s, uint64_t page_sz, int *ret_sign, uint64_t *ret);

/* NUMA node names. A node is named "nodeN" in the tree and in sysfs, N its
 * index in canonical decimal: no sign, no space, no leading zero ("node01"
 * is refused: the kernel writes node%d, so every node has exactly one name
 * and a tree path cannot alias another), and N < SHMFS_NODE_MAX (numa.h).
 * Both return 0 and the index, -EINVAL on any other text, -ERANGE for an
 * index of SHMFS_NODE_MAX or more; *ret is untouched on failure. */

/* Exactly "nodeN": directory names (the tree, sysfs). */
int shmfs_parse_node_name(const char *s, int *ret);

/* "N" or "nodeN": a node a person names (shmfsctl, its configuration). */
int shmfs_parse_node(const char *s, int *ret);

/* Format a byte count for people: "0", "512", "4.0K", "60.1M", "1.0G".
 * Always fits in SHMFS_SIZE_FMT_MAX bytes. Returns buf. */
#define SHMFS_SIZE_FMT_MAX 16
char *shmfs_format_size(uint64_t bytes, char *buf, size_t buf_sz);

/* Kernel list format ("0-3,8,10-11") into a bitmap of bit_cnt bits (bit_cnt a
 * multiple of 64). An empty string is the empty set. -EINVAL on bad text,
 * -ERANGE on an index >= bit_cnt. */
int shmfs_parse_list(const char *s, uint64_t *bits, size_t bit_cnt);

/* Format a bitmap as a comma-separated list of ranges ("0-3,8"). Returns
 * the length written, or -ENOSPC if buf is too small. */
int shmfs_format_list(const uint64_t *bits, size_t bit_cnt, char *buf, size_t buf_sz);

static inline bool shmfs_bit_test(const uint64_t *bits, size_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

static inline void shmfs_bit_set(uint64_t *bits, size_t i)
{
	bits[i / 64] |= UINT64_C(1) << (i % 64);
}

#endif
