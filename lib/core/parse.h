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
