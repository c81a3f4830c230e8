/* meta.c - what the kernel does not keep about a region (home node, binding
 * policy, creator pid and start time, creation time, byte size, lifetime, the
 * foreign program a file belongs to, user xattrs): the record, its text form
 * (format and strict parse), and its edits. metastore.c persists it. */
#include "daemon.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "parse.h"
#include "util.h"

#define META_MAGIC "shmfs-meta 1"

void shmfs_meta_free(struct shmfs_meta *m)
{
	for (size_t i = 0; i < m->xattr_cnt; i++) {
		free(m->xattr[i].name);
		free(m->xattr[i].value);
	}
	free(m->xattr);
	m->xattr = NULL;
	m->xattr_cnt = 0;
}

int shmfs_meta_copy(const struct shmfs_meta *src, struct shmfs_meta *ret)
{
	struct shmfs_meta m = *src;

	m.xattr = NULL;
	m.xattr_cnt = 0;
	if (src->xattr_cnt) {
		m.xattr = calloc(src->xattr_cnt, sizeof(*m.xattr));
		if (!m.xattr)
			return -ENOMEM;
	}
	for (size_t i = 0; i < src->xattr_cnt; i++) {
		struct shmfs_xattr *x = &m.xattr[i];
		x->name = strdup(src->xattr[i].name);
		x->value = malloc(src->xattr[i].size ? src->xattr[i].size : 1);
		m.xattr_cnt++;
		if (!x->name || !x->value) {
			shmfs_meta_free(&m);
			return -ENOMEM;
		}
		memcpy(x->value, src->xattr[i].value, src->xattr[i].size);
		x->size = src->xattr[i].size;
	}
	*ret = m;
	return 0;
}

static void hex_put(FILE *f, const void *p, size_t len)
{
	const unsigned char *b = p;

	if (len == 0) {
		fputc('-', f);
		return;
	}
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
}

static int hex_get(const char *s, size_t slen, void **ret, size_t *ret_len)
{
	unsigned char *b;

	if (slen == 1 && s[0] == '-') {
		*ret = malloc(1);
		*ret_len = 0;
		return *ret ? 0 : -ENOMEM;
	}
	if (slen == 0 || slen % 2)
		return -EINVAL;
	b = malloc(slen / 2 + 1);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < slen / 2; i++) {
		unsigned v;
		char two[3] = { s[2 * i], s[2 * i + 1], 0 };
		char *end;

		v = (unsigned)strtoul(two, &end, 16);
		if (*end || !isxdigit((unsigned char)two[0]) || !isxdigit((unsigned char)two[1])) {
			free(b);
			return -EINVAL;
		}
		b[i] = (unsigned char)v;
	}
	b[slen / 2] = '\0';
	*ret = b;
	*ret_len = slen / 2;
	return 0;
}

int shmfs_meta_format(const struct shmfs_meta *m, char **ret_text, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "%s\n", META_MAGIC);
	fprintf(f, "node %d\n", m->node);
	fprintf(f, "policy %s\n", m->policy[0] ? m->policy : "-");
	fprintf(f, "creator_pid %d\n", (int)m->creator_pid);
	fprintf(f, "creator_start %" PRIu64 "\n", m->creator_start);
	fprintf(f, "created %lld.%09ld\n", (long long)m->created.tv_sec, m->created.tv_nsec);
	fprintf(f, "lifetime %s\n", shmfs_lifetime_name(m->lifetime));
	if (m->program[0])
		fprintf(f, "program %s\n", m->program);
	if (m->migrating)
		fprintf(f, "migrate_to %d\n", m->migrate_to);
	/* an empty name is no name: "migrate_name " would not parse back */
	if (m->migrating && m->migrate_name[0])
		fprintf(f, "migrate_name %s\n", m->migrate_name);
	if (m->has_size)
		fprintf(f, "size %" PRIu64 "\nsize_prev %" PRIu64 "\n", m->size, m->size_prev);
	for (size_t i = 0; i < m->xattr_cnt; i++) {
		fputs("xattr ", f);
		hex_put(f, m->xattr[i].name, strlen(m->xattr[i].name));
		fputc(' ', f);
		hex_put(f, m->xattr[i].value, m->xattr[i].size);
		fputc('\n', f);
	}
	fputs("end\n", f);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

static const char *const lifetime_names[] = {
	[SHMFS_LIFETIME_PERSISTENT] = "persistent",
	[SHMFS_LIFETIME_PROCESS] = "process",
	[SHMFS_LIFETIME_LOCK] = "lock",
};

const char *shmfs_lifetime_name(enum shmfs_lifetime l)
{
	return (size_t)l < SHMFS_ARRAY_SIZE(lifetime_names) ? lifetime_names[l] : "persistent";
}

int shmfs_lifetime_parse(const char *text, enum shmfs_lifetime *ret)
{
	for (size_t i = 0; i < SHMFS_ARRAY_SIZE(lifetime_names); i++) {
		if (strcmp(text, lifetime_names[i]) == 0) {
			*ret = (enum shmfs_lifetime)i;
			return 0;
		}
	}
	return -EINVAL;
}

int shmfs_program_check(const char *text)
{
	/* "NAME:DETAIL" in region-name characters, as the daemon writes it */
	const char *colon = strchr(text, ':');

	if (!colon || colon == text || !colon[1])
		return -EINVAL;
	for (const char *p = text; *p; p++)
		if (p != colon && !isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return -EINVAL;
	return 0;
}

/* Seconds since the epoch as format writes them (%lld): an optional '-',
 * then a canonical decimal that fits time_t. Anything format could not have
 * written is refused, so parse, format, parse gives the same metadata. */
static int parse_seconds(const char *s, time_t *ret)
{
	bool neg = s[0] == '-';
	uint64_t u;

	if (shmfs_parse_u64(s + neg, &u) < 0)
		return -EINVAL;
	if (neg ? u == 0 || u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* -2^63 is the one negative whose magnitude is not an int64_t */
	*ret = neg ? (time_t)(-(int64_t)(u - 1) - 1) : (time_t)u;
	return 0;
}

/* A byte size: what off_t can hold. */
static int parse_byte_size(const char *s, uint64_t *ret)
{
	uint64_t u;

	if (shmfs_parse_u64(s, &u) < 0 || u > (uint64_t)INT64_MAX)
		return -EINVAL;
	*ret = u;
	return 0;
}

static int parse_line(struct shmfs_meta *m, char *line, bool *ret_end)
{
	char *val = strchr(line, ' ');
	uint64_t u;

	if (strcmp(line, "end") == 0) {
		*ret_end = true;
		return 0;
	}
	if (!val)
		return -EINVAL;
	*val++ = '\0';
	if (strcmp(line, "node") == 0) {
		if (shmfs_parse_u64(val, &u) < 0 || u >= SHMFS_NODE_MAX)
			return -EINVAL;
		m->node = (int)u;
	} else if (strcmp(line, "policy") == 0) {
		if (strlen(val) >= sizeof(m->policy))
			return -EINVAL;
		snprintf(m->policy, sizeof(m->policy), "%s", strcmp(val, "-") == 0 ? "" : val);
	} else if (strcmp(line, "creator_pid") == 0) {
		if (shmfs_parse_u64(val, &u) < 0 || u > INT32_MAX)
			return -EINVAL;
		m->creator_pid = (pid_t)u;
	} else if (strcmp(line, "creator_start") == 0) {
		if (shmfs_parse_u64(val, &m->creator_start) < 0)
			return -EINVAL;
	} else if (strcmp(line, "created") == 0) {
		char *dot = strchr(val, '.');
		uint64_t ns;
		time_t sec;
		if (!dot)
			return -EINVAL;
		*dot = '\0';
		if (parse_seconds(val, &sec) < 0 || strlen(dot + 1) != 9)
			return -EINVAL;
		/* nanoseconds are zero-padded to 9 digits */
		ns = 0;
		for (const char *p = dot + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			ns = ns * 10 + (uint64_t)(*p - '0');
		}
		m->created.tv_sec = sec;
		m->created.tv_nsec = (long)ns;
	} else if (strcmp(line, "lifetime") == 0) {
		/* a value of a newer daemon loads as persistent: kept is the safe side */
		if (shmfs_lifetime_parse(val, &m->lifetime) < 0)
			m->lifetime = SHMFS_LIFETIME_PERSISTENT;
	} else if (strcmp(line, "program") == 0) {
		if (shmfs_program_check(val) < 0 || strlen(val) >= sizeof(m->program))
			return -EINVAL;
		snprintf(m->program, sizeof(m->program), "%s", val);
	} else if (strcmp(line, "migrate_to") == 0) {
		if (shmfs_parse_u64(val, &u) < 0 || u >= SHMFS_NODE_MAX)
			return -EINVAL;
		m->migrating = true;
		m->migrate_to = (int)u;
	} else if (strcmp(line, "migrate_name") == 0) {
		if (shmfs_name_check(val) < 0)
			return -EINVAL;
		snprintf(m->migrate_name, sizeof(m->migrate_name), "%s", val);
	} else if (strcmp(line, "size") == 0) {
		if (parse_byte_size(val, &m->size) < 0)
			return -EINVAL;
		m->has_size = true;
	} else if (strcmp(line, "size_prev") == 0) {
		if (parse_byte_size(val, &m->size_prev) < 0)
			return -EINVAL;
	} else if (strcmp(line, "xattr") == 0) {
		char *sp = strchr(val, ' ');
		void *name, *value;
		size_t name_len, value_len;
		struct shmfs_xattr *x;
		int r;

		if (!sp)
			return -EINVAL;
		*sp++ = '\0';
		r = hex_get(val, strlen(val), &name, &name_len);
		if (r < 0)
			return r;
		if (name_len == 0 || memchr(name, 0, name_len)) {
			free(name);
			return -EINVAL;
		}
		r = hex_get(sp, strlen(sp), &value, &value_len);
		if (r < 0) {
			free(name);
			return r;
		}
		x = realloc(m->xattr, (m->xattr_cnt + 1) * sizeof(*x));
		if (!x) {
			free(name);
			free(value);
			return -ENOMEM;
		}
		m->xattr = x;
		m->xattr[m->xattr_cnt++] = (struct shmfs_xattr){ name, value, value_len };
	}
	/* unknown keys are skipped: a newer daemon may add some */
	return 0;
}

int shmfs_meta_parse(const char *text, size_t len, struct shmfs_meta *ret)
{
	struct shmfs_meta m = { .known = true };
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *line;
	bool end = false;
	int r = 0;

	if (len > SHMFS_META_MAX || memchr(text, 0, len))
		return -EBADMSG;
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	line = strtok_r(copy, "\n", &save);
	if (!line || strcmp(line, META_MAGIC) != 0)
		return -EBADMSG;
	while (!end && (line = strtok_r(NULL, "\n", &save))) {
		r = parse_line(&m, line, &end);
		if (r < 0)
			break;
	}
	/* without the end marker the file is torn (should not happen: renames are atomic) */
	if (r == 0 && !end)
		r = -EBADMSG;
	/* what format would not write back means nothing: a previous size
	 * without a size, a migration name without the migration */
	if (r == 0 && !m.has_size)
		m.size_prev = 0;
	if (r == 0 && !m.migrating)
		m.migrate_name[0] = '\0';
	if (r < 0) {
		shmfs_meta_free(&m);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	*ret = m;
	return 0;
}

static uint64_t pages_of(uint64_t bytes, uint64_t page_sz)
{
	return bytes / page_sz + (bytes % page_sz != 0);
}

uint64_t shmfs_meta_byte_size(const struct shmfs_meta *m, uint64_t backing, uint64_t page_sz)
{
	/* whole pages of both: a foreign backing file may be any size */
	uint64_t have = pages_of(backing, page_sz);

	if (!m->has_size || page_sz == 0 || backing % page_sz)
		return backing;
	if (pages_of(m->size, page_sz) == have)
		return m->size;
	if (pages_of(m->size_prev, page_sz) == have)
		return m->size_prev;
	return backing;
}
const struct shmfs_xattr *shmfs_meta_xattr_get(const struct shmfs_meta *m, const char *name)
{
	for (size_t i = 0; i < m->xattr_cnt; i++)
		if (strcmp(m->xattr[i].name, name) == 0)
			return &m->xattr[i];
	return NULL;
}

int shmfs_meta_xattr_set(struct shmfs_meta *m, const char *name, const void *value, size_t size,
			 int flags)
{
	struct shmfs_xattr *x = (struct shmfs_xattr *)shmfs_meta_xattr_get(m, name);
	size_t total = size + strlen(name);
	void *v;

	if (x && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!x && (flags & XATTR_REPLACE))
		return -ENODATA;
	for (size_t i = 0; i < m->xattr_cnt; i++)
		if (&m->xattr[i] != x)
			total += m->xattr[i].size + strlen(m->xattr[i].name);
	if (total > SHMFS_XATTR_USER_MAX_SIZE || (!x && m->xattr_cnt >= SHMFS_XATTR_USER_MAX_CNT))
		return -ENOSPC;
	v = malloc(size ? size : 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, value, size);
	if (x) {
		free(x->value);
		x->value = v;
		x->size = size;
		return 0;
	}
	x = realloc(m->xattr, (m->xattr_cnt + 1) * sizeof(*x));
	if (!x) {
		free(v);
		return -ENOMEM;
	}
	m->xattr = x;
	x[m->xattr_cnt].name = strdup(name);
	if (!x[m->xattr_cnt].name) {
		free(v);
		return -ENOMEM;
	}
	x[m->xattr_cnt].value = v;
	x[m->xattr_cnt].size = size;
	m->xattr_cnt++;
	return 0;
}

int shmfs_meta_xattr_remove(struct shmfs_meta *m, const char *name)
{
	for (size_t i = 0; i < m->xattr_cnt; i++) {
		if (strcmp(m->xattr[i].name, name) != 0)
			continue;
		free(m->xattr[i].name);
		free(m->xattr[i].value);
		memmove(&m->xattr[i], &m->xattr[i + 1], (m->xattr_cnt - i - 1) * sizeof(*m->xattr));
		m->xattr_cnt--;
		return 0;
	}
	return -ENODATA;
}

