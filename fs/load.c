/* load.c - taking the backing store into the region table: at start-up
 * every file of it, cleaning up what an interrupted daemon left half-done
 * (a create before its rename, pages beyond the size, a migration between
 * nodes), and later each file the watch reports. A file without metadata
 * (made behind the daemon's back) is homed where its pages are. Whatever
 * else is found there - directories, FIFOs, sockets, links, device nodes,
 * names that are not region names - is logged once and left alone. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Drop pages a killed resize left beyond the size (region.c allocates beyond
 * the end first, and hugetlbfs keeps what an interrupted fallocate got):
 * truncating to the current size gives them back to the pool. */
static void trim_beyond_size(int fd, const struct stat *st, uint64_t page_sz)
{
	uint64_t size_pages = ((uint64_t)st->st_size + page_sz - 1) / page_sz;
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if ((uint64_t)st->st_blocks * 512 <= size_pages * page_sz)
		return;
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return; /* not ours to repair (a foreign file a non-root daemon cannot write) */
	if (ftruncate(fd, st->st_size) < 0)
		SHMFS_LOG("Failed to trim pages beyond the size of a backing file: %m");
	/* a repair, not a change: keep the times the region had */
	futimens(fd, times);
}

/* A daemon killed while moving a region's pages to another node (mv to
 * another node dir). The rename of the backing file comes after the pages
 * moved, so the name tells how far it got: under the new name the move is
 * finished, otherwise every page goes back home. Either way the region is
 * whole, in one directory, as if the mv had completed or never started. */
static void finish_migration(struct shmfs_fs *fs, enum shmfs_page_kind k, int fd, ino_t bino,
			     const char *name, struct shmfs_meta *m)
{
	int to = m->migrate_to;

	if (strcmp(name, m->migrate_name) == 0 && shmfs_node_valid(fs, to) &&
	    shmfsd_region_migrate_fd(fs, k, fd, -1, to) == 0)
		m->node = to;
	else if (shmfsd_region_migrate_fd(fs, k, fd, -1, m->node) < 0)
		SHMFS_LOG("Failed to move the pages of an interrupted migration back to node %d", m->node);
	m->migrating = false;
	m->migrate_to = 0;
	m->migrate_name[0] = '\0';
	snprintf(m->policy, sizeof(m->policy), "bind:%d", m->node);
	if (shmfs_meta_save(fs, k, bino, m) < 0)
		SHMFS_LOG("Failed to save the metadata of an interrupted migration");
}

/* Not a region: said once, left alone (it is someone else's). */
static int stray(struct shmfs_type_state *ts, const char *name, const struct stat *st, const char *why)
{
	char what[160];

	snprintf(what, sizeof(what), "%s, %s: not a region, left as it is",
		 shmfs_backing_kind(st->st_mode), why);
	shmfs_backing_stray(ts->path, name, st->st_ino, what);
	return 0;
}

int shmfs_tree_adopt(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name, bool startup,
		     uint64_t *ret_parent)
{
	struct shmfs_type_state *ts = &fs->type[k];
	_cleanup_close_ int fd = -1;
	struct shmfsd_region *r;
	struct stat st;
	int ret;

	/* hidden names are never regions (our own temporaries among them) */
	if (name[0] == '.')
		return 0;
	/* look before opening: opening a device node or a FIFO has effects */
	if (fstatat(ts->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = shmfs_name_check(name);
	if (ret < 0)
		return stray(ts, name, &st, ret == -ENAMETOOLONG ? "a name longer than region names"
							   : "a name that is not a region name");
	if (!S_ISREG(st.st_mode))
		return stray(ts, name, &st, "found where regions are");
	fd = openat(ts->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == EACCES)
		fd = openat(ts->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* swapped for a link or a socket since the look, or refused */
		return stray(ts, name, &st, "that cannot be opened");
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return stray(ts, name, &st, "found where regions are");
	if (startup)
		trim_beyond_size(fd, &st, ts->pt->page_sz);
	if ((uint64_t)st.st_ino >> SHMFS_INO_REGION_SHIFT)
		return stray(ts, name, &st, "with an inode number too large for the tree");
	r = shmfsd_region_new(k, st.st_ino, name);
	if (!r)
		return -ENOMEM;
	/* metadata is keyed by inode: a region renamed behind our back keeps it */
	ret = shmfs_meta_load(fs, k, st.st_ino, &r->meta);
	if (ret < 0 || !shmfs_node_valid(fs, r->meta.node)) {
		shmfs_nodemask_t where;
		int n = fs->first_node;

		if (ret == 0)
			shmfs_meta_free(&r->meta);
		/* made behind our back (fd_shmem): home it where its pages are */
		memset(&r->meta, 0, sizeof(r->meta));
		if (shmfsd_region_nodes(fd, ts->pt->page_sz, (uint64_t)st.st_size, &where) == 0) {
			for (int i = 0; i < SHMFS_NODE_MAX; i++) {
				if (shmfs_bit_test(where.bits, (size_t)i) && shmfs_node_valid(fs, i)) {
					n = i;
					break;
				}
			}
		}
		r->meta.node = n;
		r->meta.created = st.st_ctim;
		shmfs_lifetime_classify_foreign(name, st.st_uid, &r->meta);
		/* remembered from first sight: its ctime moves with every change,
		 * the creation time must not (creator stays 0: never orphaned) */
		if (shmfs_meta_save(fs, k, st.st_ino, &r->meta) == 0)
			r->meta.known = true;
	}
	if (startup && r->meta.known && r->meta.migrating)
		finish_migration(fs, k, fd, st.st_ino, name, &r->meta);
	pthread_mutex_lock(&fs->lock);
	/* the daemon's own create may have won the race for this name */
	if (shmfs_table_find_locked(fs, k, name)) {
		pthread_mutex_unlock(&fs->lock);
		shmfs_meta_free(&r->meta);
		pthread_mutex_destroy(&r->op_lock);
		free(r);
		return 0;
	}
	r = shmfs_table_insert_locked(fs, r);
	if (!r) {
		pthread_mutex_unlock(&fs->lock);
		return stray(ts, name, &st, "a second name (hard link) of a region's file");
	}
	if (ret_parent)
		*ret_parent = SHMFS_INO_NODE(k, r->meta.node, SHMFS_SUB_DIR);
	pthread_mutex_unlock(&fs->lock);
	return 1;
}

int shmfs_tree_load(struct shmfs_fs *fs)
{
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		struct shmfs_type_state *ts = &fs->type[k];
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		int r;

		if (!ts->pt)
			continue;
		r = shmfs_opendir_dup(ts->dirfd, &d);
		if (r < 0)
			return r;
		while ((de = readdir(d))) {
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			/* a create killed before it committed: never visible, remove it
			 * (only a file: nothing else by that name is ours) */
			if (strncmp(de->d_name, SHMFS_TMP_PREFIX, strlen(SHMFS_TMP_PREFIX)) == 0) {
				if (fstatat(ts->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISREG(st.st_mode))
					unlinkat(ts->dirfd, de->d_name, 0);
				continue;
			}
			r = shmfs_tree_adopt(fs, (enum shmfs_page_kind)k, de->d_name, true, NULL);
			if (r == -ENOMEM)
				return r;
			/* one file the daemon cannot take must not keep the others away */
			if (r < 0 && fstatat(ts->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				char what[128];
				snprintf(what, sizeof(what), "cannot be loaded (%s): not shown", strerror(-r));
				shmfs_backing_stray(ts->path, de->d_name, st.st_ino, what);
			}
		}
		r = shmfs_meta_reconcile(fs, (enum shmfs_page_kind)k);
		if (r < 0)
			return r;
	}
	return 0;
}
