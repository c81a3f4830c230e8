/* attr.c - what the kernel is told about a region: its byte size (kept in
 * the metadata, the backing file holding whole pages), the attributes of its
 * backing file made the region's. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ------------------------------------------------------------ byte size
 *
 * A region is as many bytes as it was sized or written to (st_size, what
 * reads return); its backing file holds that rounded up to whole pages, so
 * joins, fd_shmem and page_count see whole pages. The byte size lives in the
 * metadata (shmfs_meta_byte_size: a backing file sized behind the daemon's
 * back shows its own size). Bytes between the size and the end of its last
 * page are kept zero by every resize that grows into them. */

static uint64_t byte_size_locked(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t backing)
{
	return shmfs_meta_byte_size(&r->meta, backing, shmfs_page_sz(fs, r->kind));
}

/* Backing file attributes made the region's, under fs->lock. */
static void attr_locked(struct shmfs_fs *fs, struct shmfsd_region *r, struct stat *st)
{
	st->st_size = (off_t)byte_size_locked(fs, r, (uint64_t)st->st_size);
	st->st_ino = r->ino;
	st->st_nlink = r->linked ? 1 : 0;
	st->st_blksize = (blksize_t)shmfs_page_sz(fs, r->kind);
}

void shmfsd_region_attr(struct shmfs_fs *fs, struct shmfsd_region *r, struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	attr_locked(fs, r, st);
	pthread_mutex_unlock(&fs->lock);
}

int shmfsd_region_size(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&fs->lock);
	*ret = byte_size_locked(fs, r, (uint64_t)st.st_size);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

int shmfsd_region_stat(struct shmfs_fs *fs, struct shmfsd_region *r, struct stat *ret)
{
	struct stat st;
	int rc;

	pthread_mutex_lock(&fs->lock);
	if (!r->linked) {
		rc = r->gone_fd >= 0 && fstat(r->gone_fd, &st) == 0 ? 0 : -ENOENT;
		if (rc == 0)
			attr_locked(fs, r, &st);
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			return rc;
		*ret = st;
		return 0;
	}
	rc = fstatat(fs->type[r->kind].dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW);
	if (rc < 0) {
		rc = -errno;
		pthread_mutex_unlock(&fs->lock);
		return rc;
	}
	if (st.st_ino != r->backing_ino) {
		pthread_mutex_unlock(&fs->lock);
		return -ESTALE;
	}
	r->told_ctime = st.st_ctim;
	attr_locked(fs, r, &st);
	pthread_mutex_unlock(&fs->lock);
	*ret = st;
	return 0;
}

void shmfsd_region_told(struct shmfs_fs *fs, struct shmfsd_region *r, const struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	r->told_ctime = st->st_ctim;
	pthread_mutex_unlock(&fs->lock);
}
