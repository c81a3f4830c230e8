/* parse.c - strict parsers and formatters for numbers, sizes and lists. */
#include "parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static const struct {
	const char *suffix;
	unsigned shift;
} units[] = {
	{ "",    0 },
	{ "K",  10 }, { "k",  10 }, { "KiB", 10 },
	{ "M",  20 }, { "MiB", 20 },
	{ "G",  30 }, { "GiB", 30 },
	{ "T",  40 }, { "TiB", 40 },
	{ "P",  50 }, { "PiB", 50 },
};

int shmfs_parse_size(const char *s, uint64_t *ret)
{
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*ret = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
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
