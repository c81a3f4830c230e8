/* watch.c - changes made behind the daemon's back. Programs using fd_shmem
 * with FD_SHMEM_PATH=<backing> create, resize and remove region files in the
 * backing store directly. An inotify watch on every type directory brings the
 * region table up to date and tells the kernel to drop what it cached (the
 * tree uses long cache timeouts, so it must be told). The daemon's own
 * changes are made under the fs lock together with their table update, so
 * here they are recognised as already known and cost nothing but a lookup.
 * Anything else that appears there (a directory, FIFO, link, a bad name) is
 * logged once and left alone; a metadata directory removed while the daemon
 * runs is made again with the metadata of every region. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "parse.h"
#include "util.h"

/* A descriptor of the file (dev, ino) among the daemon's own (an open
 * handle of the region), duplicated; -1 when there is none. */
static int find_own_fd(dev_t dev, ino_t ino)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;
		uint64_t n;
		int fd;

		if (shmfs_parse_u64(de->d_name, &n) < 0 || n > INT32_MAX || (int)n == dirfd(d))
			continue;
		if (fstat((int)n, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino)
			continue;
		fd = fcntl((int)n, F_DUPFD_CLOEXEC, 0);
		/* the handle may have closed and its number gone to another file */
		if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			return fd;
	}
	return -1;
}

/* A region's backing file was removed (or renamed) behind our back while the
 * kernel still knows the region (an open file): keep a descriptor of it, as
 * an unlink through the tree does, so fstat on the open file still answers. */
static void keep_gone(struct shmfs_fs *fs, struct shmfsd_region *r)
{
	int fd = find_own_fd(fs->type[r->kind].dev, r->backing_ino);

	if (fd < 0)
		return;
	pthread_mutex_lock(&fs->lock);
	if (!r->linked && r->gone_fd < 0) {
		r->gone_fd = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (fd >= 0)
		close(fd);
}

/* Bring the table in line with what the backing directory holds under name. */
void shmfs_watch_reconcile(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name)
{
	struct shmfsd_region *r, *held = NULL;
	struct stat st;
	bool any, exists, same = false, told = false;
	uint64_t parent = 0, ino = 0;

	/* hidden names are never regions (the daemon's own temporaries among them) */
	if (name[0] == '.')
		return;
	pthread_mutex_lock(&fs->lock);
	r = shmfs_table_find_locked(fs, k, name);
	/* the daemon is changing it and replies with what it did: looked at
	 * once that is done (shmfsd_region_change_end), not now */
	if (r && r->changing) {
		r->change_seen = true;
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	any = fstatat(fs->type[k].dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	exists = any && S_ISREG(st.st_mode);
	if (r) {
		ino = r->ino;
		parent = SHMFS_INO_NODE(k, r->meta.node, SHMFS_SUB_DIR);
		same = exists && st.st_ino == r->backing_ino;
		/* the kernel already has these attributes (the daemon's own change) */
		told = same && st.st_ctim.tv_sec == r->told_ctime.tv_sec &&
		       st.st_ctim.tv_nsec == r->told_ctime.tv_nsec;
		/* gone or replaced: the name no longer leads to this region. Its
		 * metadata stays: a rename behind our back brings the inode back
		 * under the new name (start-up drops metadata of vanished files). */
		if (!same) {
			/* more than the table's reference: the kernel still has it */
			if (r->refs > 1 && r->gone_fd < 0) {
				held = r;
				r->refs++;
			}
			shmfs_table_unlink_locked(fs, r);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (held) {
		keep_gone(fs, held);
		shmfsd_region_put(fs, held, 1);
	}
	if (r && same) {
		if (!told)
			shmfs_notify_inval_inode(fs, ino); /* size, mode or times changed */
		return;
	}
	if (r)
		shmfs_notify_inval_entry(fs, parent, name);
	if (!any) {
		shmfs_backing_stray_gone(fs->type[k].path, name);
		return;
	}
	/* a region, or something else to be logged once (adopt tells which) */
	if (shmfs_tree_adopt(fs, k, name, false, &parent) == 1)
		shmfs_notify_inval_entry(fs, parent, name); /* drop a cached "no such file" */
}

/* ------------------------------------------------------------ metadata
 *
 * fd_shmem_cfg fini, or an admin's rm -rf, removes <backing>/.shmfs while
 * the daemon runs. The regions are still in the table: make the directories
 * again and save their metadata, so a restart finds it, and watch the new
 * directories. A metadata file removed alone is saved again. */
static void meta_watch_add(struct shmfs_fs *fs)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.shmfs", fs->backing);
	fs->watch.wd_meta_root = inotify_add_watch(fs->watch.fd, path, IN_DELETE_SELF | IN_MOVE_SELF |
						   IN_ONLYDIR | IN_DONT_FOLLOW);
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		fs->watch.wd_meta[k] = -1;
		if (!fs->type[k].pt)
			continue;
		snprintf(path, sizeof(path), "%s/.shmfs/%s", fs->backing, fs->type[k].pt->name);
		fs->watch.wd_meta[k] = inotify_add_watch(fs->watch.fd, path,
							 IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
							 IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW);
	}
}

static void meta_event(struct shmfs_fs *fs, const struct inotify_event *ev)
{
	uint64_t ino;

	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		if (shmfs_meta_repair(fs) >= 0)
			meta_watch_add(fs);
		return;
	}
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		if (!fs->type[k].pt || fs->watch.wd_meta[k] != ev->wd || !ev->len)
			continue;
		/* the daemon's own removals come after the region left the table */
		if (shmfs_parse_u64(ev->name, &ino) == 0 &&
		    shmfs_meta_resave(fs, (enum shmfs_page_kind)k, (ino_t)ino) < 0 &&
		    shmfs_meta_repair(fs) > 0)
			meta_watch_add(fs);
	}
}

/* The event queue overflowed: compare every name. */
static void rescan(struct shmfs_fs *fs, enum shmfs_page_kind k)
{
	struct shmfsd_region **v = NULL;
	size_t cnt = 0;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (shmfs_table_list(fs, (int)k, -1, &v, &cnt) == 0) {
		for (size_t i = 0; i < cnt; i++) {
			char name[SHMFS_NAME_MAX + 1];
			pthread_mutex_lock(&fs->lock);
			snprintf(name, sizeof(name), "%s", v[i]->name);
			pthread_mutex_unlock(&fs->lock);
			shmfsd_region_put(fs, v[i], 1);
			shmfs_watch_reconcile(fs, k, name);
		}
		free(v);
	}
	if (shmfs_opendir_dup(fs->type[k].dirfd, &d) < 0)
		return;
	while ((de = readdir(d)))
		shmfs_watch_reconcile(fs, k, de->d_name);
}

static bool is_meta_wd(const struct shmfs_fs *fs, int wd)
{
	if (wd >= 0 && wd == fs->watch.wd_meta_root)
		return true;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (wd >= 0 && wd == fs->watch.wd_meta[k])
			return true;
	return false;
}

static void handle(struct shmfs_fs *fs, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
			if (fs->type[k].pt)
				rescan(fs, (enum shmfs_page_kind)k);
		if (shmfs_meta_repair(fs) > 0)
			meta_watch_add(fs);
		return;
	}
	if (is_meta_wd(fs, ev->wd)) {
		meta_event(fs, ev);
		return;
	}
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (fs->type[k].pt && fs->watch.wd_of[k] == ev->wd && ev->len)
			shmfs_watch_reconcile(fs, (enum shmfs_page_kind)k, ev->name);
}

static void *watch_main(void *arg)
{
	struct shmfs_fs *fs = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = { { .fd = fs->watch.fd, .events = POLLIN },
				       { .fd = fs->watch.stop_fd, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(fs->watch.fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			handle(fs, ev);
			q += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

int shmfs_watch_start(struct shmfs_fs *fs)
{
	int r;

	fs->watch.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fs->watch.fd < 0)
		return -errno;
	fs->watch.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fs->watch.stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		fs->watch.wd_of[k] = -1;
		if (!fs->type[k].pt)
			continue;
		fs->watch.wd_of[k] = inotify_add_watch(fs->watch.fd, fs->type[k].path,
					     IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
					     IN_ATTRIB | IN_MODIFY | IN_ONLYDIR);
		if (fs->watch.wd_of[k] < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* best effort: without it a removed metadata directory is still made
	 * again at the next save */
	meta_watch_add(fs);
	r = pthread_create(&fs->watch.thread, NULL, watch_main, fs);
	if (r) {
		r = -r;
		goto fail;
	}
	fs->watch.running = true;
	return 0;
fail:
	if (fs->watch.stop_fd >= 0)
		close(fs->watch.stop_fd);
	close(fs->watch.fd);
	fs->watch.fd = fs->watch.stop_fd = -1;
	return r;
}

void shmfs_watch_stop(struct shmfs_fs *fs)
{
	uint64_t one = 1;

	if (!fs->watch.running)
		return;
	if (write(fs->watch.stop_fd, &one, sizeof(one)) != sizeof(one))
		SHMFS_LOG("Failed to stop the backing store watch: %m");
	pthread_join(fs->watch.thread, NULL);
	close(fs->watch.stop_fd);
	close(fs->watch.fd);
	fs->watch.fd = fs->watch.stop_fd = -1;
	fs->watch.running = false;
}
