/* rename.c - renaming a region, within its node or to another node (its
 * pages move first, the intent recorded so that a daemon killed half-way
 * finishes or undoes it at the next start: load.c), and over another region,
 * which then goes exactly as an unlink would take it. Holds the lock order
 * that keeps two renames over each other from deadlocking. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Persist a new home for the region (node, policy, migration intent) and
 * publish it. */
static int set_home(struct shmfs_fs *fs, struct shmfsd_region *r, int node, int migrate_to,
		    const char *migrate_name)
{
	struct shmfs_meta m;
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		return rc;
	m.known = true;
	m.node = node;
	m.migrating = migrate_to >= 0;
	m.migrate_to = migrate_to >= 0 ? migrate_to : 0;
	snprintf(m.migrate_name, sizeof(m.migrate_name), "%s", migrate_to >= 0 ? migrate_name : "");
	snprintf(m.policy, sizeof(m.policy), "bind:%d", node);
	return shmfsd_region_meta_commit(fs, r, &m);
}

/* Rename r's backing file to new_name. A region already there (victim, its
 * op_lock held by the caller) is replaced exactly as unlink would remove it:
 * out of the tables, its open files kept answering through an O_PATH
 * descriptor, its metadata removed after the name. */
static int rename_backing(struct shmfs_fs *fs, struct shmfsd_region *r,
			  struct shmfsd_region *victim, int new_node, const char *new_name, unsigned int flags)
{
	struct shmfs_type_state *ts = &fs->type[r->kind];
	struct shmfsd_region *there, *late = NULL;
	ino_t victim_bino = 0;
	bool late_locked = false;
	int gone = -1, rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (strcmp(r->name, new_name) == 0)
		goto out;
	there = shmfs_table_find_locked(fs, r->kind, new_name);
	if (there && there != victim) {
		/* made under that name since the caller looked (a create takes no
		 * op_lock): serialise with its sizing if it is idle, else go on
		 * without (its metadata may then be saved once more and is dropped
		 * at the next start). Held: the tables may drop it below. */
		late = there;
		late->refs++;
		late_locked = pthread_mutex_trylock(&late->op_lock) == 0;
	}
	if (there && ((flags & RENAME_NOREPLACE) || there->meta.node != new_node)) {
		rc = -EEXIST; /* names are unique per page type, across nodes */
		goto out;
	}
	if (there)
		gone = shmfsd_region_open_gone_locked(fs, there);
	if (renameat2(ts->dirfd, r->name, ts->dirfd, new_name, flags & RENAME_NOREPLACE) < 0) {
		rc = -errno; /* NOREPLACE: also a name the watch has not adopted yet */
		if (gone >= 0)
			close(gone);
		goto out;
	}
	if (there) {
		victim_bino = there->backing_ino;
		shmfsd_region_gone_locked(fs, there, gone);
	}
	shmfs_table_rename_locked(fs, r, new_name);
out:
	if (late_locked)
		pthread_mutex_unlock(&late->op_lock);
	pthread_mutex_unlock(&fs->lock);
	shmfsd_region_put(fs, late, 1);
	if (victim_bino)
		shmfs_meta_remove(fs, r->kind, victim_bino);
	return rc;
}

/* Take r's op_lock and, when another region holds new_name, that region's
 * too (returned held; NULL when none), in address order so that two renames
 * over each other cannot deadlock. */
static struct shmfsd_region *lock_with_victim(struct shmfs_fs *fs, struct shmfsd_region *r,
					      const char *new_name)
{
	for (;;) {
		struct shmfsd_region *v;
		bool same;

		pthread_mutex_lock(&fs->lock);
		v = shmfs_table_find_locked(fs, r->kind, new_name);
		if (v == r)
			v = NULL;
		if (v)
			v->refs++;
		pthread_mutex_unlock(&fs->lock);
		if (!v) {
			pthread_mutex_lock(&r->op_lock);
			return NULL;
		}
		pthread_mutex_lock((uintptr_t)v < (uintptr_t)r ? &v->op_lock : &r->op_lock);
		pthread_mutex_lock((uintptr_t)v < (uintptr_t)r ? &r->op_lock : &v->op_lock);
		pthread_mutex_lock(&fs->lock);
		same = shmfs_table_find_locked(fs, r->kind, new_name) == v;
		pthread_mutex_unlock(&fs->lock);
		if (same)
			return v;
		/* renamed or removed while we waited: look again */
		pthread_mutex_unlock(&v->op_lock);
		pthread_mutex_unlock(&r->op_lock);
		shmfsd_region_put(fs, v, 1);
	}
}

int shmfsd_region_rename(struct shmfs_fs *fs, struct shmfsd_region *r, int new_node,
			 const char *new_name, unsigned int flags)
{
	struct shmfsd_region *victim;
	_cleanup_close_ int fd = -1;
	int old_node, rc = 0;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	rc = shmfs_name_check(new_name);
	if (rc < 0)
		return rc;
	victim = lock_with_victim(fs, r, new_name);
	pthread_mutex_lock(&fs->lock);
	old_node = r->meta.node;
	if (!r->linked)
		rc = -ENOENT;
	else if (victim && ((flags & RENAME_NOREPLACE) || victim->meta.node != new_node))
		rc = -EEXIST;
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0 || new_node == old_node) {
		if (rc == 0)
			rc = rename_backing(fs, r, victim, new_node, new_name, flags);
		goto out;
	}

	/* Another node: the pages move. The intent is recorded first, so a
	 * daemon killed in the middle finishes or undoes the move at its next
	 * start (load.c) instead of showing a region half on each node. The
	 * tree shows the new directory only once everything is done. */
	fd = shmfsd_region_open_backing(fs, r, O_RDONLY);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = set_home(fs, r, old_node, new_node, new_name);
	if (rc < 0)
		goto out;
	rc = shmfsd_region_migrate_fd(fs, r->kind, fd, old_node, new_node);
	/* all on the new node, or (a failure undone, maybe in part) not known */
	shmfs_place_record(fs, r, rc == 0 && new_node < 64 ? UINT64_C(1) << new_node : 0, false);
	if (rc == 0) {
		rc = rename_backing(fs, r, victim, new_node, new_name, flags);
		if (rc < 0) {
			uint64_t failed;
			struct stat st;
			if (fstat(fd, &st) == 0)
				shmfs_place_move(fd, shmfs_page_sz(fs, r->kind),
					   (uint64_t)st.st_size / shmfs_page_sz(fs, r->kind) *
						   shmfs_page_sz(fs, r->kind),
					   old_node, &failed);
			shmfs_place_record(fs, r, 0, false);
		}
	}
	if (rc == 0)
		rc = set_home(fs, r, new_node, -1, NULL);
	else
		set_home(fs, r, old_node, -1, NULL);
out:
	if (victim)
		pthread_mutex_unlock(&victim->op_lock);
	pthread_mutex_unlock(&r->op_lock);
	shmfsd_region_put(fs, victim, 1);
	return rc;
}
