/* notify.c - the queue of kernel cache invalidations and the helper thread
 * that sends them. Entries and attributes changed behind the kernel's back
 * (reset, clean, changes made directly in the backing store) must be
 * dropped from its caches, and such notifications must never be sent from
 * inside a request handler: handlers and the watch only queue them here. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A sender that finds the queue full waits this long for room, then queues
 * anyway: an invalidation is never lost (a reader would keep a stale view
 * until its cache times out), and a FUSE worker is never held for long (the
 * helper thread may itself wait on the kernel, which may wait on a worker). */
#define NOTIFY_WAIT_MS 100

struct shmfs_notify_item {
	struct shmfs_notify_item *next;  /* queue order */
	struct shmfs_notify_item *hnext; /* same bucket */
	uint64_t parent; /* 0: attributes of ino */
	uint64_t ino;
	char name[]; /* "" for an inode */
};

void shmfs_notify_init(struct shmfs_fs *fs)
{
	struct shmfs_notify *n = &fs->notify;
	pthread_condattr_t ca;

	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->room, &ca);
	pthread_condattr_destroy(&ca);
	n->head = NULL;
	n->tail = &n->head;
	memset(n->bucket, 0, sizeof(n->bucket));
	n->cnt = 0;
	n->coalesced = 0;
	n->overflowed = 0;
	n->stopping = false;
	n->running = false;
}

static size_t bucket_of(uint64_t parent, uint64_t ino, const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ parent) * 1099511628211ULL;
	h = (h ^ ino) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % SHMFS_NOTIFY_BUCKETS);
}

/* A pending item of that key, under n->lock. */
static struct shmfs_notify_item *find_locked(struct shmfs_notify *n, size_t b, uint64_t parent,
					     uint64_t ino, const char *name)
{
	for (struct shmfs_notify_item *it = n->bucket[b]; it; it = it->hnext)
		if (it->parent == parent && it->ino == ino && strcmp(it->name, name) == 0)
			return it;
	return NULL;
}

static void unhash_locked(struct shmfs_notify *n, struct shmfs_notify_item *it)
{
	struct shmfs_notify_item **p = &n->bucket[bucket_of(it->parent, it->ino, it->name)];

	while (*p && *p != it)
		p = &(*p)->hnext;
	if (*p)
		*p = it->hnext;
	n->cnt--;
	pthread_cond_broadcast(&n->room);
}

/* An invalidation still pending covers every change made before it is sent:
 * a second one of the same key adds nothing (one item per inode however
 * many writes). The thread takes an item out of the index before sending it,
 * so a change made while it is being sent queues a new one. */
static void notify_push(struct shmfs_fs *fs, uint64_t parent, uint64_t ino, const char *name)
{
	struct shmfs_notify *n = &fs->notify;
	size_t len = name ? strlen(name) : 0, b;
	struct shmfs_notify_item *it;
	struct timespec until;
	bool waited = false;

	if (!name)
		name = "";
	b = bucket_of(parent, ino, name);
	pthread_mutex_lock(&n->lock);
	for (;;) {
		if (find_locked(n, b, parent, ino, name)) {
			n->coalesced++;
			pthread_mutex_unlock(&n->lock);
			return;
		}
		if (n->cnt < SHMFS_NOTIFY_MAX || !n->running || n->stopping)
			break;
		if (!waited) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += NOTIFY_WAIT_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			waited = true;
		}
		if (pthread_cond_timedwait(&n->room, &n->lock, &until) == ETIMEDOUT) {
			if (find_locked(n, b, parent, ino, name)) {
				n->coalesced++;
				pthread_mutex_unlock(&n->lock);
				return;
			}
			n->overflowed++;
			break;
		}
	}
	it = malloc(sizeof(*it) + len + 1);
	if (!it) {
		pthread_mutex_unlock(&n->lock);
		return; /* the cache times out eventually */
	}
	it->next = NULL;
	it->parent = parent;
	it->ino = ino;
	memcpy(it->name, name, len + 1);
	it->hnext = n->bucket[b];
	n->bucket[b] = it;
	n->cnt++;
	*n->tail = it;
	n->tail = &it->next;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void shmfs_notify_inval_entry(struct shmfs_fs *fs, uint64_t parent, const char *name)
{
	notify_push(fs, parent, 0, name);
}

void shmfs_notify_inval_inode(struct shmfs_fs *fs, uint64_t ino)
{
	notify_push(fs, 0, ino, NULL);
}

size_t shmfs_notify_pending(struct shmfs_fs *fs)
{
	size_t cnt;

	pthread_mutex_lock(&fs->notify.lock);
	cnt = fs->notify.cnt;
	pthread_mutex_unlock(&fs->notify.lock);
	return cnt;
}

/* Drop every pending item (the session is ending), under n->lock. */
static void drop_all_locked(struct shmfs_notify *n)
{
	while (n->head) {
		struct shmfs_notify_item *it = n->head;
		n->head = it->next;
		free(it);
	}
	n->tail = &n->head;
	memset(n->bucket, 0, sizeof(n->bucket));
	n->cnt = 0;
	pthread_cond_broadcast(&n->room);
}

static void *notify_main(void *arg)
{
	struct shmfs_fs *fs = arg;
	struct shmfs_notify *n = &fs->notify;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		struct shmfs_notify_item *it;

		while (!n->head && !n->stopping)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stopping)
			break;
		it = n->head;
		n->head = it->next;
		if (!n->head)
			n->tail = &n->head;
		unhash_locked(n, it);
		pthread_mutex_unlock(&n->lock);
		/* -ENOENT only means the kernel had nothing cached */
		if (it->parent)
			fuse_lowlevel_notify_inval_entry(fs->se, it->parent, it->name, strlen(it->name));
		else
			fuse_lowlevel_notify_inval_inode(fs->se, it->ino, -1, 0);
		free(it);
		pthread_mutex_lock(&n->lock);
	}
	drop_all_locked(n);
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int shmfs_notify_start(struct shmfs_fs *fs)
{
	int r = pthread_create(&fs->notify.thread, NULL, notify_main, fs);

	if (r)
		return -r;
	fs->notify.running = true;
	return 0;
}

void shmfs_notify_stop(struct shmfs_fs *fs)
{
	struct shmfs_notify *n = &fs->notify;

	if (n->running) {
		pthread_mutex_lock(&n->lock);
		n->stopping = true;
		pthread_cond_signal(&n->cond);
		pthread_cond_broadcast(&n->room);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
		n->running = false;
	}
	/* what was queued with no thread to send it (it never started) */
	pthread_mutex_lock(&n->lock);
	drop_all_locked(n);
	pthread_mutex_unlock(&n->lock);
}
