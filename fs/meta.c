/* meta.c - what the kernel does not keep about a region (home node, binding
 * policy, creator pid and start time, creation time, byte size, lifetime, the
 * foreign program a file belongs to, user xattrs), persisted
 * one small text file per region at <backing>/.shmfs/<type>/<backing inode>.
 * Keyed by the backing file's inode, so a rename needs no metadata write and a
 * crash between two steps can never attach metadata to the wrong name. Files
 * are replaced atomically (write a temporary, rename over), so a daemon killed
 * at any moment leaves the old or the new version, never a torn one. */
#include "shmfs.h"

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
#define META_MAX   (256 * 1024)

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

	if (len > META_MAX || memchr(text, 0, len))
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

/* Where a type's metadata lives, for messages. */
static void meta_dir_path(const struct shmfs_fs *fs, enum shmfs_page_kind k, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/.shmfs/%s", fs->backing, fs->type[k].pt->name);
}

/* A metadata file that cannot be used (not a regular file, too large, does
 * not parse): said once, and the caller goes on as if there were none. */
static int meta_unusable(const struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name,
			 ino_t ino, const char *what)
{
	char dir[PATH_MAX], msg[160];

	meta_dir_path(fs, k, dir, sizeof(dir));
	snprintf(msg, sizeof(msg), "%s in place of a region's metadata: the region gets fresh metadata",
		 what);
	shmfs_backing_stray(dir, name, ino, msg);
	return -EBADMSG;
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

int shmfs_meta_load(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino, struct shmfs_meta *ret)
{
	char name[32], buf[4096];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	snprintf(name, sizeof(name), "%" PRIu64, (uint64_t)bino);
	if (fstatat(fs->type[k].metafd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return meta_unusable(fs, k, name, st.st_ino, shmfs_backing_kind(st.st_mode));
	/* never block on a FIFO or follow a link swapped in since */
	fd = openat(fs->type[k].metafd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		if (fstatat(fs->type[k].metafd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return meta_unusable(fs, k, name, st.st_ino, shmfs_backing_kind(st.st_mode));
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return meta_unusable(fs, k, name, st.st_ino, shmfs_backing_kind(st.st_mode));
	if (st.st_size > META_MAX)
		return meta_unusable(fs, k, name, st.st_ino, "a file too large to be metadata");
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		char *t;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		/* it may grow while read: the bound is on what is read */
		if (len + (size_t)n > META_MAX)
			return meta_unusable(fs, k, name, st.st_ino, "a file too large to be metadata");
		t = realloc(text, len + (size_t)n + 1);
		if (!t)
			return -ENOMEM;
		text = t;
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
	}
	r = text ? shmfs_meta_parse(text, len, ret) : -EBADMSG;
	if (r == -EBADMSG)
		return meta_unusable(fs, k, name, st.st_ino,
				     text ? "a file that does not parse as metadata" : "an empty file");
	return r;
}

static int save_once(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino, const char *text,
		     size_t len)
{
	char name[32], tmp[48];
	size_t done = 0;
	int dfd = fs->type[k].metafd;
	int fd, r;

	snprintf(name, sizeof(name), "%" PRIu64, (uint64_t)bino);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	/* a stray FIFO or link under the temporary's name is not ours to write through */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	{
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return -EEXIST;
		}
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			unlinkat(dfd, tmp, 0);
			return r;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0) {
		r = -errno;
		unlinkat(dfd, tmp, 0);
		return r;
	}
	/* rename is the commit point: readers see the old or the new file whole.
	 * No fsync: the regions themselves do not survive a power loss either. */
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		unlinkat(dfd, tmp, 0);
		if (r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST) {
			struct stat st;
			char dir[PATH_MAX];
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				meta_dir_path(fs, k, dir, sizeof(dir));
				shmfs_backing_stray(dir, name, st.st_ino, "a directory in place of a "
						    "region's metadata: its metadata cannot be saved");
			}
		}
		return r;
	}
	return 0;
}

int shmfs_meta_save(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino, const struct shmfs_meta *m)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = shmfs_meta_format(m, &text, &len);
	if (r < 0)
		return r;
	r = save_once(fs, k, bino, text, len);
	/* the directory went (fd_shmem_cfg fini, rm -rf): make it again, once */
	if (r == -ENOENT && shmfs_meta_repair(fs) > 0)
		r = save_once(fs, k, bino, text, len);
	return r;
}

int shmfs_meta_remove(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino)
{
	char name[32];
	struct stat st;

	snprintf(name, sizeof(name), "%" PRIu64, (uint64_t)bino);
	/* only a file is ours to remove; a directory or FIFO planted there stays */
	if (fstatat(fs->type[k].metafd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (unlinkat(fs->type[k].metafd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------ repair */

static pthread_mutex_t repair_lock = PTHREAD_MUTEX_INITIALIZER;

/* dirfd is still the directory name leads to under atfd (not removed,
 * renamed or replaced). */
static bool dir_current(int dirfd, int atfd, const char *name)
{
	struct stat a, b;

	return fstat(dirfd, &a) == 0 && a.st_nlink > 0 &&
	       fstatat(atfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(b.st_mode) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Make name under atfd a directory again and put it in place of *fd. dup3
 * swaps it atomically: a thread using *fd at this moment gets the old or
 * the new directory, never a closed or reused descriptor. */
static int dir_renew(int atfd, const char *name, int *fd)
{
	int nfd, r = 0;

	if (mkdirat(atfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	nfd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0)
		return -errno;
	if (dup3(nfd, *fd, O_CLOEXEC) < 0)
		r = -errno;
	close(nfd);
	return r;
}

/* Write the metadata of every region in the table (the files went with
 * their directory). The number saved. */
static size_t resave_all(struct shmfs_fs *fs)
{
	struct shmfs_region **v = NULL;
	size_t cnt = 0, saved = 0;

	if (shmfs_table_list(fs, -1, -1, &v, &cnt) < 0)
		return 0;
	for (size_t i = 0; i < cnt; i++) {
		struct shmfs_meta m;
		_cleanup_free_ char *text = NULL;
		size_t len;
		bool have;

		pthread_mutex_lock(&fs->lock);
		have = v[i]->linked && shmfs_meta_copy(&v[i]->meta, &m) == 0;
		pthread_mutex_unlock(&fs->lock);
		if (have) {
			if (shmfs_meta_format(&m, &text, &len) == 0 &&
			    save_once(fs, v[i]->kind, v[i]->backing_ino, text, len) == 0)
				saved++;
			shmfs_meta_free(&m);
		}
		shmfs_region_put(fs, v[i], 1);
	}
	free(v);
	return saved;
}

int shmfs_meta_repair(struct shmfs_fs *fs)
{
	char root[PATH_MAX];
	bool renewed = false;
	int r = 0;

	snprintf(root, sizeof(root), "%s/.shmfs", fs->backing);
	pthread_mutex_lock(&repair_lock);
	if (!dir_current(fs->metafd, AT_FDCWD, root)) {
		r = dir_renew(AT_FDCWD, root, &fs->metafd);
		if (r < 0)
			goto fail;
		renewed = true;
	}
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		struct shmfs_type_state *ts = &fs->type[k];

		if (!ts->pt || dir_current(ts->metafd, fs->metafd, ts->pt->name))
			continue;
		r = dir_renew(fs->metafd, ts->pt->name, &ts->metafd);
		if (r < 0)
			goto fail;
		renewed = true;
	}
	if (renewed)
		SHMFS_LOG("The metadata directory '%s' was removed or replaced: made it again and "
			  "saved the metadata of %zu regions", root, resave_all(fs));
	pthread_mutex_unlock(&repair_lock);
	return renewed;
fail:
	{
		struct stat st;
		/* something that is not a directory took its place: not ours to remove */
		if (fstatat(AT_FDCWD, root, &st, AT_SYMLINK_NOFOLLOW) == 0)
			shmfs_backing_stray(fs->backing, ".shmfs", st.st_ino,
					    "the metadata directory cannot be made again "
					    "(metadata is not saved until it can)");
	}
	pthread_mutex_unlock(&repair_lock);
	return r;
}

int shmfs_meta_resave(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino)
{
	struct shmfs_region *r = shmfs_region_get(fs, SHMFS_INO_REGION(k, bino));
	struct shmfs_meta m;
	bool have;
	int rc = 0;

	if (!r)
		return 0;
	pthread_mutex_lock(&fs->lock);
	have = r->linked && r->kind == k && shmfs_meta_copy(&r->meta, &m) == 0;
	pthread_mutex_unlock(&fs->lock);
	if (have) {
		rc = shmfs_meta_save(fs, k, bino, &m);
		shmfs_meta_free(&m);
	}
	shmfs_region_put(fs, r, 1);
	return rc;
}

/* Which backing inodes exist in the type directory (a sorted array). */
static int backing_inodes(struct shmfs_fs *fs, enum shmfs_page_kind k, uint64_t **ret, size_t *ret_cnt)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t *inos = NULL;
	size_t cnt = 0, cap = 0;
	int r = shmfs_opendir_dup(fs->type[k].dirfd, &d);

	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (cnt == cap) {
			uint64_t *n;
			cap = cap ? cap * 2 : 64;
			n = realloc(inos, cap * sizeof(*n));
			if (!n) {
				free(inos);
				return -ENOMEM;
			}
			inos = n;
		}
		inos[cnt++] = de->d_ino;
	}
	*ret = inos;
	*ret_cnt = cnt;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ".123.tmp": a temporary of save_once */
static bool is_meta_tmp(const char *name)
{
	size_t len = strlen(name);
	char num[32];
	uint64_t ino;

	if (name[0] != '.' || len < 6 || len - 5 >= sizeof(num) || strcmp(name + len - 4, ".tmp") != 0)
		return false;
	memcpy(num, name + 1, len - 5);
	num[len - 5] = '\0';
	return shmfs_parse_u64(num, &ino) == 0;
}

int shmfs_meta_reconcile(struct shmfs_fs *fs, enum shmfs_page_kind k)
{
	_cleanup_free_ uint64_t *inos = NULL;
	size_t cnt = 0;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char dir[PATH_MAX];
	int r = shmfs_opendir_dup(fs->type[k].metafd, &d);

	if (r < 0)
		return r;
	r = backing_inodes(fs, k, &inos, &cnt);
	if (r < 0)
		return r;
	if (cnt)
		qsort(inos, cnt, sizeof(*inos), cmp_u64);
	meta_dir_path(fs, k, dir, sizeof(dir));
	while ((de = readdir(d))) {
		struct stat st;
		uint64_t ino;
		bool ours;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fs->type[k].metafd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		ours = is_meta_tmp(de->d_name) || shmfs_parse_u64(de->d_name, &ino) == 0;
		if (!ours || !S_ISREG(st.st_mode)) {
			char what[128];
			/* a region's own unusable metadata was named when it was loaded */
			snprintf(what, sizeof(what), "%s, not metadata of shmfs: left as it is",
				 shmfs_backing_kind(st.st_mode));
			shmfs_backing_stray(dir, de->d_name, st.st_ino, what);
			continue;
		}
		/* a temporary left by a save that was killed before its rename, or
		 * the metadata of a backing file that is gone */
		if (is_meta_tmp(de->d_name) || !cnt || !bsearch(&ino, inos, cnt, sizeof(*inos), cmp_u64))
			unlinkat(fs->type[k].metafd, de->d_name, 0);
	}
	return 0;
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

/* ------------------------------------------------------------ policy */

static int parse_node_num(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
	char buf[24];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (shmfs_parse_u64(buf, ret) < 0 || *ret > max)
		return -EINVAL;
	return 0;
}

int shmfs_policy_parse(const char *text, struct shmfs_policy *ret)
{
	struct shmfs_policy p = { 0 };
	const char *s;

	if (strncmp(text, "bind:", 5) == 0) {
		uint64_t n;
		if (parse_node_num(text + 5, strlen(text + 5), SHMFS_NODE_MAX - 1, &n) < 0)
			return -EINVAL;
		p.cnt = 1;
		p.node[0] = (int)n;
		p.pages[0] = UINT64_MAX;
		*ret = p;
		return 0;
	}
	if (strncmp(text, "split:", 6) != 0)
		return -EINVAL;
	s = text + 6;
	for (;;) {
		const char *eq = strchr(s, '='), *end = strchr(s, ',');
		uint64_t n, c;

		if (!end)
			end = s + strlen(s);
		if (!eq || eq > end || p.cnt == SHMFS_SPLIT_MAX)
			return -EINVAL;
		if (parse_node_num(s, (size_t)(eq - s), SHMFS_NODE_MAX - 1, &n) < 0 ||
		    parse_node_num(eq + 1, (size_t)(end - eq - 1), UINT32_MAX, &c) < 0 || c == 0)
			return -EINVAL;
		for (size_t i = 0; i < p.cnt; i++)
			if (p.node[i] == (int)n)
				return -EINVAL; /* each node once */
		p.node[p.cnt] = (int)n;
		p.pages[p.cnt] = c;
		p.cnt++;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	*ret = p;
	return 0;
}

int shmfs_policy_node(const struct shmfs_policy *p, int home, uint64_t page, uint64_t *ret_run_end)
{
	uint64_t start = 0;

	for (size_t i = 0; i < p->cnt; i++) {
		uint64_t end = p->pages[i] == UINT64_MAX || start + p->pages[i] < start
				       ? UINT64_MAX : start + p->pages[i];
		if (page < end) {
			*ret_run_end = end;
			return p->node[i];
		}
		start = end;
	}
	*ret_run_end = UINT64_MAX;
	return home;
}
