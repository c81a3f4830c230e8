/* xattr_set.c - writes and removals of extended attributes: user.*
 * attributes of regions, kept in their metadata, and the three writes of the
 * daemon's own attributes that mean something (disown, lifetime, split
 * placement on an empty region). Any other write of user.shmfs.* is a no-op
 * for the value it has now, else EOPNOTSUPP or EPERM (see set_ours). */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "proc.h"
#include "util.h"
#include "xattr_names.h"

/* Change a region's user xattrs: edit a copy, persist it, then publish it,
 * so a failed save changes nothing. */
static int region_edit(struct shmfs_fs *fs, struct shmfsd_region *r, const char *name,
		       const void *val, size_t len, int flags, bool remove)
{
	struct shmfs_meta m;
	int rc;
	bool linked;

	pthread_mutex_lock(&r->op_lock);
	pthread_mutex_lock(&fs->lock);
	/* linked changes under the fs lock (unlink, a rename over it) */
	linked = r->linked;
	rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		goto out;
	rc = remove ? shmfs_meta_xattr_remove(&m, name) : shmfs_meta_xattr_set(&m, name, val, len, flags);
	if (rc == 0 && !linked)
		rc = -ENOENT;
	if (rc == 0)
		rc = shmfsd_region_meta_commit(fs, r, &m);
	else
		shmfs_meta_free(&m);
out:
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

/* user.shmfs.policy is writable in one case: an empty region may be given
 * a split placement (shmfs_policy_parse) before it is sized. */
static int set_policy(struct shmfs_fs *fs, struct shmfsd_region *r, const char *val, size_t len)
{
	char text[sizeof(r->meta.policy)];
	struct shmfs_policy pol;
	struct shmfs_meta m;
	struct stat st;
	int rc;

	if (len == 0 || len >= sizeof(text) || memchr(val, 0, len))
		return -EINVAL;
	memcpy(text, val, len);
	text[len] = '\0';
	if (shmfs_policy_parse(text, &pol) < 0)
		return -EINVAL;
	for (size_t i = 0; i < pol.cnt; i++)
		if (!shmfs_node_valid(fs, pol.node[i]))
			return -EINVAL;
	pthread_mutex_lock(&r->op_lock);
	rc = shmfsd_region_stat(fs, r, &st);
	if (rc == 0 && st.st_size != 0)
		rc = -EBUSY; /* pages already placed */
	pthread_mutex_lock(&fs->lock);
	if (rc == 0 && pol.cnt == 1 && pol.pages[0] == UINT64_MAX && pol.node[0] != r->meta.node)
		rc = -EOPNOTSUPP; /* bind follows the directory (mv moves it): derived, as above */
	if (rc == 0)
		rc = shmfs_meta_copy(&r->meta, &m);
	pthread_mutex_unlock(&fs->lock);
	if (rc == 0) {
		m.known = true;
		snprintf(m.policy, sizeof(m.policy), "%s", text);
		rc = shmfsd_region_meta_commit(fs, r, &m);
	}
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

/* An edit of r's metadata that only the region's owner or root may make:
 * edit changes a copy (linked says whether r still has its name) or refuses,
 * and the copy is committed, all under r->op_lock. reguard: the edit may
 * change what the daemon's flock on r should be. */
static int owner_edit(struct shmfs_fs *fs, struct shmfsd_region *r, uid_t uid,
		      int (*edit)(struct shmfs_meta *m, bool linked, const void *arg), const void *arg,
		      bool reguard)
{
	struct shmfs_meta m;
	struct stat st;
	bool linked = false;
	int rc;

	pthread_mutex_lock(&r->op_lock);
	rc = shmfsd_region_stat(fs, r, &st);
	if (rc == 0 && uid != 0 && uid != st.st_uid)
		rc = -EPERM;
	if (rc == 0) {
		pthread_mutex_lock(&fs->lock);
		linked = r->linked;
		rc = shmfs_meta_copy(&r->meta, &m);
		pthread_mutex_unlock(&fs->lock);
	}
	if (rc == 0) {
		rc = edit(&m, linked, arg);
		if (rc < 0)
			shmfs_meta_free(&m);
	}
	if (rc == 0) {
		m.known = true;
		rc = shmfsd_region_meta_commit(fs, r, &m);
	}
	if (rc == 0 && reguard) {
		pthread_mutex_lock(&fs->lock);
		shmfs_guard_update_locked(fs, r);
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_mutex_unlock(&r->op_lock);
	return rc;
}

static int edit_disown(struct shmfs_meta *m, bool linked, const void *arg)
{
	m->creator_pid = 0;
	m->creator_start = 0;
	return 0;
}

/* user.shmfs.creator_pid may be set to "0" by the region's owner or root:
 * the region is disowned, meant to outlive its creator (fd_shmem_ctl style,
 * shmfsctl create), and is never orphaned from then on. */
static int disown(struct shmfs_fs *fs, struct shmfsd_region *r, uid_t uid, const char *val,
		  size_t len)
{
	if (len != 1 || val[0] != '0')
		return -EPERM;
	return owner_edit(fs, r, uid, edit_disown, NULL, false);
}

static int edit_lifetime(struct shmfs_meta *m, bool linked, const void *arg)
{
	enum shmfs_lifetime want = *(const enum shmfs_lifetime *)arg;

	if (!linked)
		return -ENOENT;
	if (want == SHMFS_LIFETIME_PROCESS &&
	    (m->creator_pid <= 0 || !shmfs_proc_alive(m->creator_pid, m->creator_start)))
		return -ESRCH;
	m->lifetime = want;
	m->program[0] = '\0';
	return 0;
}

/* user.shmfs.lifetime, by the region's owner or root. "persistent" may be
 * written at any time: keeping a region is always safe. "process" only while
 * the recorded creator still runs (ESRCH otherwise): opting in is the
 * creator's decision at creation (libshmfs SHMFS_CREATE_PROCESS_LIFETIME,
 * shmfsctl create --lifetime process), and a region whose creator is gone
 * must not become removable by flipping a word - rm removes it. "lock" is
 * the daemon's finding about another program's file, never written. A DPDK
 * file kept as persistent is then guarded like any region. */
static int set_lifetime(struct shmfs_fs *fs, struct shmfsd_region *r, uid_t uid, const char *val,
			size_t len)
{
	char text[16];
	enum shmfs_lifetime want;

	if (len == 0 || len >= sizeof(text) || memchr(val, 0, len))
		return -EINVAL;
	memcpy(text, val, len);
	text[len] = '\0';
	if (shmfs_lifetime_parse(text, &want) < 0 || want == SHMFS_LIFETIME_LOCK)
		return -EINVAL;
	return owner_edit(fs, r, uid, edit_lifetime, &want, true);
}

/* A write of one of the region's own attributes (user.shmfs.*, listed by
 * listxattr so that getfattr -d shows them). Copy tools (mv across page
 * types, cp -a, rsync -X) copy every listed attribute; libattr's
 * attr_copy_fd, which coreutils uses, reports any failure but ENOTSUP and
 * ENODATA. So: the value the attribute has now is accepted and changes
 * nothing; another value of an attribute the daemon derives is EOPNOTSUPP
 * (this filesystem does not keep that attribute as given); the two writes
 * that mean something keep their own answers (disown, placement). */
static int set_ours(struct shmfs_fs *fs, struct shmfsd_region *r, const struct fuse_ctx *ctx,
		    const char *name, const void *val, size_t len)
{
	uid_t uid = ctx ? ctx->uid : 0;
	_cleanup_free_ char *cur = NULL;
	size_t cur_len = 0;
	int rc;

	if (!shmfs_xattr_derived(name))
		return -EPERM; /* no such attribute, and none may be made up */
	rc = shmfs_xattr_region_get(fs, r, ctx, name, &cur, &cur_len);
	if (rc == 0 && cur_len == len && memcmp(cur, val, len) == 0)
		return 0;
	if (rc < 0 && rc != -ENODATA)
		return rc;
	if (strcmp(name, SHMFS_XATTR_POLICY) == 0)
		return shmfs_audit_region(set_policy(fs, r, val, len), fs, uid, ctx ? ctx->pid : 0, r, "policy",
					  "%.*s", (int)len, (const char *)val);
	if (strcmp(name, SHMFS_XATTR_LIFETIME) == 0)
		return shmfs_audit_region(set_lifetime(fs, r, uid, val, len), fs, uid, ctx ? ctx->pid : 0, r,
					  "lifetime", "%.*s", (int)len, (const char *)val);
	if (strcmp(name, SHMFS_XATTR_CREATOR_PID) == 0 && len == 1 && ((const char *)val)[0] == '0')
		return shmfs_audit_region(disown(fs, r, uid, val, len), fs, uid, ctx ? ctx->pid : 0, r, "disown",
					  "%s", "");
	return -EOPNOTSUPP;
}

static int set_or_remove(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			 const char *name, const void *val, size_t len, int flags, bool remove)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	int rc;

	if (!shmfs_xattr_is_user(name))
		return -ENOTSUP;
	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	if (info.obj == SHMFS_OBJ_REGION && !remove && shmfs_xattr_is_ours(name)) {
		r = shmfsd_region_get(fs, ino);
		if (!r)
			return -ENOENT;
		rc = set_ours(fs, r, ctx, name, val, len);
		shmfsd_region_put(fs, r, 1);
		return rc;
	}
	/* the daemon's own attributes are read-only */
	if (shmfs_xattr_is_ours(name) || strcmp(name, SHMFS_XATTR_BACKING) == 0)
		return -EPERM;
	if (info.obj != SHMFS_OBJ_REGION)
		return remove ? -ENODATA : -EPERM;
	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	if (len > XATTR_SIZE_MAX)
		return -E2BIG;
	r = shmfsd_region_get(fs, ino);
	if (!r)
		return -ENOENT;
	rc = region_edit(fs, r, name, val, len, flags, remove);
	shmfsd_region_put(fs, r, 1);
	return rc;
}

int shmfs_xattr_set(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name,
		    const void *val, size_t len, int flags)
{
	return set_or_remove(fs, ino, ctx, name, val, len, flags, false);
}

int shmfs_xattr_remove(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name)
{
	return set_or_remove(fs, ino, ctx, name, NULL, 0, 0, true);
}
