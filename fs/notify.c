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

struct shmfs_notify_item {
	struct shmfs_notify_item *next;
	uint64_t parent; /* 0: attributes of ino */
	uint64_t ino;
	char name[SHMFS_NAME_MAX + 1];
};

void shmfs_notify_init(struct shmfs_fs *fs)
{
	struct shmfs_notify *n = &fs->notify;

	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->head = NULL;
	n->tail = &n->head;
	n->stopping = false;
	n->running = false;
}

static void notify_push(struct shmfs_fs *fs, uint64_t parent, uint64_t ino, const char *name)
{
	struct shmfs_notify *n = &fs->notify;
	struct shmfs_notify_item *it = calloc(1, sizeof(*it));

	if (!it)
		return; /* the cache times out eventually */
	it->parent = parent;
	it->ino = ino;
	if (name)
		snprintf(it->name, sizeof(it->name), "%s", name);
	pthread_mutex_lock(&n->lock);
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
		pthread_mutex_unlock(&n->lock);
		/* -ENOENT only means the kernel had nothing cached */
		if (it->parent)
			fuse_lowlevel_notify_inval_entry(fs->se, it->parent, it->name, strlen(it->name));
		else
			fuse_lowlevel_notify_inval_inode(fs->se, it->ino, -1, 0);
		free(it);
		pthread_mutex_lock(&n->lock);
	}
	while (n->head) {
		struct shmfs_notify_item *it = n->head;
		n->head = it->next;
		free(it);
	}
	n->tail = &n->head;
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

	if (!n->running)
		return;
	pthread_mutex_lock(&n->lock);
	n->stopping = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	n->running = false;
}
