/* xattr_stash.c - one computed xattr value (or list) per asking process,
 * kept from a size probe to the read that follows it. getfattr, attr(1) and
 * most libraries ask each value twice: getxattr(NAME, NULL, 0) for its
 * length, then getxattr(NAME, BUF, LEN). Both are computed the same way
 * (mappers from /proc, pages from the kernel, a heap peeked through a
 * mapping); the second is answered from what the first computed when it
 * comes from the same process for the same inode and name, within
 * SHMFS_XATTR_STASH_NS, and nothing changed through the daemon meanwhile
 * (shmfs_xattr_stash_changed, called once a request that changes a region,
 * an xattr, a name or a pool is done, before its reply; the probe reads the
 * generation before it computes, so a change that ends during the probe
 * keeps its value from being taken). A stashed value is taken once: every probe,
 * and every read not right after a probe, computes afresh, so a process
 * that starts after an event sees the event. Leaf: calls nothing of fs/. */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void slot_clear(struct shmfs_xattr_stash_slot *s)
{
	free(s->name);
	free(s->val);
	memset(s, 0, sizeof(*s));
}

static struct shmfs_xattr_stash_slot *slot_of(struct shmfs_xattr_stash *st, pid_t pid)
{
	return &st->slot[(uint32_t)pid * 2654435761u % SHMFS_XATTR_STASH_SLOTS];
}

void shmfs_xattr_stash_init(struct shmfs_fs *fs)
{
	memset(&fs->xattr_stash, 0, sizeof(fs->xattr_stash));
	pthread_mutex_init(&fs->xattr_stash.lock, NULL);
}

void shmfs_xattr_stash_free(struct shmfs_fs *fs)
{
	for (size_t i = 0; i < SHMFS_XATTR_STASH_SLOTS; i++)
		slot_clear(&fs->xattr_stash.slot[i]);
}

void shmfs_xattr_stash_changed(struct shmfs_fs *fs)
{
	atomic_fetch_add(&fs->xattr_stash.gen, 1);
}

uint64_t shmfs_xattr_stash_gen(struct shmfs_fs *fs)
{
	return atomic_load(&fs->xattr_stash.gen);
}

void shmfs_xattr_stash_put(struct shmfs_fs *fs, uint64_t gen, uint64_t ino, pid_t pid,
			   const char *name, const char *val, size_t len)
{
	struct shmfs_xattr_stash *st = &fs->xattr_stash;
	struct shmfs_xattr_stash_slot *s;
	char *n = strdup(name ? name : "");
	char *v = malloc(len ? len : 1);

	if (!n || !v || pid <= 0) {   /* no stash: the read computes again */
		free(n);
		free(v);
		return;
	}
	memcpy(v, val, len);
	pthread_mutex_lock(&st->lock);
	s = slot_of(st, pid);
	slot_clear(s);
	s->pid = pid;
	s->ino = ino;
	s->list = name == NULL;
	s->gen = gen;
	s->taken_ns = now_ns();
	s->name = n;
	s->val = v;
	s->len = len;
	pthread_mutex_unlock(&st->lock);
}

bool shmfs_xattr_stash_take(struct shmfs_fs *fs, uint64_t ino, pid_t pid, const char *name,
			    char **ret_val, size_t *ret_len)
{
	struct shmfs_xattr_stash *st = &fs->xattr_stash;
	struct shmfs_xattr_stash_slot *s;
	bool hit;

	if (pid <= 0)
		return false;
	pthread_mutex_lock(&st->lock);
	s = slot_of(st, pid);
	hit = s->val && s->pid == pid && s->ino == ino && s->list == (name == NULL) &&
	      strcmp(s->name, name ? name : "") == 0 && s->gen == atomic_load(&st->gen) &&
	      now_ns() - s->taken_ns < SHMFS_XATTR_STASH_NS;
	if (hit) {
		*ret_val = s->val;
		*ret_len = s->len;
		s->val = NULL;
	}
	if (s->pid == pid)   /* taken or not, a probe's value serves one read */
		slot_clear(s);
	pthread_mutex_unlock(&st->lock);
	return hit;
}
