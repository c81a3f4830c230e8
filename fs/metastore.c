/* metastore.c - where meta.c's records live: one small text file per region
 * at <backing>/.shmfs/<type>/<backing inode>. Keyed by the backing file's
 * inode, so a rename needs no metadata write and a crash between two steps
 * can never attach metadata to the wrong name. Files are replaced atomically
 * (write a temporary, rename over), so a daemon killed at any moment leaves
 * the old or the new version, never a torn one. Also the repair of those
 * directories when they are removed behind the daemon's back, and the drop
 * of metadata whose backing file is gone. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "util.h"

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
	if (st.st_size > SHMFS_META_MAX)
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
		if (len + (size_t)n > SHMFS_META_MAX)
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
	/* made new, it is a regular file of ours; only a temporary left by a
	 * killed save is opened again, and then a stray FIFO or link under its
	 * name is not ours to write through */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0 && errno == EEXIST) {
		struct stat st;

		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			return -EEXIST;
		}
	}
	if (fd < 0)
		return -errno;
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
	struct shmfsd_region **v = NULL;
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
		shmfsd_region_put(fs, v[i], 1);
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
	pthread_mutex_lock(&fs->repair_lock);
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
	pthread_mutex_unlock(&fs->repair_lock);
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
	pthread_mutex_unlock(&fs->repair_lock);
	return r;
}

int shmfs_meta_resave(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino)
{
	struct shmfsd_region *r = shmfsd_region_get(fs, SHMFS_INO_REGION(k, bino));
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
	shmfsd_region_put(fs, r, 1);
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
