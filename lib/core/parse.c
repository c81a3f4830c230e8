/* parse.c - strict parsers and formatters for numbers, sizes and lists. */
#include "parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "numa.h"

/* Parse the leading digits of s. Returns the number of characters consumed
 * (0 when s does not start with a canonical number) or -ERANGE. */
static int parse_digits(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	int i = 0;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return 0; /* leading zero: not canonical */
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return i;
}

int shmfs_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n < 0)
		return n;
	if (n == 0 || s[n] != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* The shift of a unit letter (case-insensitive), 0 when it is none. */
static unsigned unit_shift(char c)
{
	static const char letters[] = "KMGTPE";

	for (unsigned i = 0; letters[i]; i++)
		if (c == letters[i] || c == letters[i] - 'A' + 'a')
			return 10 * (i + 1);
	return 0;
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
		char y = *b >= 'a' && *b <= 'z' ? (char)(*b - 'a' + 'A') : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

int shmfs_parse_size(const char *s, uint64_t *ret)
{
	const char *u;
	unsigned shift = 0;
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	u = s + n;
	/* "", "B", or a unit letter alone or followed by "B" or "iB" */
	if (*u && !eq_nocase(u, "B")) {
		shift = unit_shift(*u);
		if (!shift || !(u[1] == '\0' || eq_nocase(u + 1, "B") || eq_nocase(u + 1, "iB")))
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int shmfs_parse_pages(const char *s, uint64_t page_sz, uint64_t *ret)
{
	uint64_t v;
	int r;

	if (page_sz == 0)
		return -EINVAL;
	if (!shmfs_size_has_unit(s))
		return shmfs_parse_u64(s, ret);
	r = shmfs_parse_size(s, &v);
	if (r < 0)
		return r;
	if (v % page_sz)
		return -EDOM;
	*ret = v / page_sz;
	return 0;
}

int shmfs_parse_pages_rel(const char *s, uint64_t page_sz, int *ret_sign, uint64_t *ret)
{
	int sign = s[0] == '+' ? 1 : s[0] == '-' ? -1 : 0;
	uint64_t v;
	int r;

	/* "+-4", "--4", "+": one sign, then a count */
	if (sign && (s[1] == '+' || s[1] == '-' || s[1] == '\0'))
		return -EINVAL;
	r = shmfs_parse_pages(sign ? s + 1 : s, page_sz, &v);
	if (r < 0)
		return r;
	*ret_sign = sign;
	*ret = v;
	return 0;
}

/* A node index: canonical decimal below SHMFS_NODE_MAX. */
static int parse_node_idx(const char *s, int *ret)
{
	uint64_t v;
	int r = shmfs_parse_u64(s, &v);

	if (r < 0)
		return r;
	if (v >= SHMFS_NODE_MAX)
		return -ERANGE;
	*ret = (int)v;
	return 0;
}

int shmfs_parse_node_name(const char *s, int *ret)
{
	if (strncmp(s, "node", 4) != 0)
		return -EINVAL;
	return parse_node_idx(s + 4, ret);
}

int shmfs_parse_node(const char *s, int *ret)
{
	return strncmp(s, "node", 4) == 0 ? parse_node_idx(s + 4, ret) : parse_node_idx(s, ret);
}

bool shmfs_size_has_unit(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && (s[len - 1] < '0' || s[len - 1] > '9');
}

char *shmfs_format_size(uint64_t bytes, char *buf, size_t buf_sz)
{
	static const char suffix[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, buf_sz, "%llu", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	/* 1023.96K would print as "1024.0K": move up a unit instead. */
	if (v >= 1023.95 && u < 5) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, buf_sz, "%.1f%c", v, suffix[u]);
	return buf;
}

int shmfs_parse_list(const char *s, uint64_t *bits, size_t bit_cnt)
{
	uint64_t tmp[bit_cnt / 64 ? bit_cnt / 64 : 1];
	const char *p = s;

	memset(tmp, 0, sizeof(tmp));
	while (*p) {
		uint64_t lo, hi;
		int n = parse_digits(p, &lo);
		if (n <= 0)
			return n < 0 ? n : -EINVAL;
		p += n;
		hi = lo;
		if (*p == '-') {
			n = parse_digits(++p, &hi);
			if (n <= 0)
				return n < 0 ? n : -EINVAL;
			p += n;
			if (hi < lo)
				return -EINVAL;
		}
		if (hi >= bit_cnt)
			return -ERANGE;
		for (uint64_t i = lo; i <= hi; i++)
			shmfs_bit_set(tmp, i);
		if (*p == ',') {
			p++;
			if (*p == '\0')
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
	}
	memcpy(bits, tmp, (bit_cnt / 64) * sizeof(uint64_t));
	return 0;
}

int shmfs_format_list(const uint64_t *bits, size_t bit_cnt, char *buf, size_t buf_sz)
{
	size_t len = 0;

	if (buf_sz == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t i = 0; i < bit_cnt; i++) {
		size_t j = i;
		int n;

		if (!shmfs_bit_test(bits, i))
			continue;
		while (j + 1 < bit_cnt && shmfs_bit_test(bits, j + 1))
			j++;
		if (j == i)
			n = snprintf(buf + len, buf_sz - len, "%s%zu", len ? "," : "", i);
		else
			n = snprintf(buf + len, buf_sz - len, "%s%zu-%zu", len ? "," : "", i, j);
		if (n < 0 || (size_t)n >= buf_sz - len)
			return -ENOSPC;
		len += (size_t)n;
		i = j;
	}
	return (int)len;
}
