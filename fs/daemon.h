/* daemon.h - the daemon's internal interfaces: the filesystem state shared by
 * every handler (backing store, page types, memory nodes, the region table),
 * the inode number scheme, and the functions each file of fs/ offers the
 * others, one section per file. Everything returns 0 or -errno; errno
 * values become FUSE replies only in the handlers (ops.c, file.c, dir.c).
 *
 * The files form layers: each calls only files of lower lines, never up.
 *   main.c                    start-up
 *   ops.c                     the FUSE table; names and attributes
 *   xattr_all.c               every attribute of a region in one reply
 *   file.c dir.c xattr_set.c  open files, directories, xattr writes
 *   control.c xattr.c rename.c watch.c
 *   load.c region.c           taking the backing store in; a region's life
 *   place.c quota.c           where pages go; who may take them
 *   attr.c audit.c pool.c quota_live.c
 *   metastore.c tree.c        metadata on disk; the tree's layout
 *   table.c                   the region table
 *   lifetime.c sparse.c
 *   backing.c guard.c log.c mappers.c meta.c notify.c options.c xattr_stash.c
 *   passthrough.c quota_rules.c
 * with lib/core beneath all of them. */
#ifndef SHMFSD_DAEMON_H
#define SHMFSD_DAEMON_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "name.h"
#include "numa.h"
#include "pagetype.h"
#include "parse.h"

/* ------------------------------------------------------------ inode numbers
 *
 * Inode numbers are stable across restarts: fixed objects get numbers derived
 * from what they are, regions get their page kind and the inode number of
 * their backing file (which neither rename nor migration nor a daemon restart
 * changes). */
#define SHMFS_INO_ROOT    1ULL
#define SHMFS_INO_STATUS  2ULL
#define SHMFS_INO_CONTROL 3ULL
#define SHMFS_INO_QUOTA   4ULL
#define SHMFS_INO_SHARED    5ULL /* shared/ (shared.c) */
#define SHMFS_INO_SHARED_NS 6ULL /* shared/NAME */
#define SHMFS_INO_TYPE(k) (0x10ULL + (uint64_t)(k))
#define SHMFS_INO_NODE_BASE (1ULL << 32)
enum { SHMFS_SUB_DIR, SHMFS_SUB_NR_PAGES, SHMFS_SUB_FREE_PAGES };
#define SHMFS_INO_NODE(k, n, sub) \
	(SHMFS_INO_NODE_BASE | ((uint64_t)(k) << 24) | ((uint64_t)(n) << 4) | (uint64_t)(sub))
#define SHMFS_INO_REGION_SHIFT 48
#define SHMFS_INO_REGION(k, bino) (((uint64_t)(k) + 1) << SHMFS_INO_REGION_SHIFT | (uint64_t)(bino))

enum shmfs_obj {
	SHMFS_OBJ_NONE,
	SHMFS_OBJ_ROOT,
	SHMFS_OBJ_STATUS,
	SHMFS_OBJ_CONTROL,
	SHMFS_OBJ_QUOTA,
	SHMFS_OBJ_TYPE,
	SHMFS_OBJ_NODE,
	SHMFS_OBJ_NR_PAGES,
	SHMFS_OBJ_FREE_PAGES,
	SHMFS_OBJ_REGION,
};

struct shmfs_ino_info {
	enum shmfs_obj obj;
	enum shmfs_page_kind kind;
	int node;
};

/* ------------------------------------------------------------ metadata */

struct shmfs_xattr {
	char *name;
	void *value;
	size_t size;
};

/* How long a region lives (user.shmfs.lifetime). Persistent is the
 * default: like a file in /dev/shm it stays until removed, and clean never
 * touches it. A region of process lifetime belongs to its creator process and
 * is orphaned once that process is gone and nobody maps it. A lock-lifetime
 * region is another program's file of the backing store that lives by that
 * program's locks (DPDK's hugepage files): orphaned once nobody holds a lock
 * on it or maps it. */
enum shmfs_lifetime {
	SHMFS_LIFETIME_PERSISTENT,
	SHMFS_LIFETIME_PROCESS,
	SHMFS_LIFETIME_LOCK,
};

/* What the kernel does not keep about a region; persisted by meta.c. */
struct shmfs_meta {
	bool known;             /* false: a file made behind our back (creator 0) */
	int node;               /* home node: the directory it shows in */
	char policy[64];        /* "bind:0" */
	pid_t creator_pid;
	uint64_t creator_start;
	struct timespec created;
	enum shmfs_lifetime lifetime;
	char program[48];       /* the foreign program whose file it is: "dpdk:PREFIX"; "" ours */
	bool migrating;         /* a move to migrate_to, named migrate_name, was under way */
	int migrate_to;
	char migrate_name[SHMFS_NAME_MAX + 1];
	struct shmfs_xattr *xattr;
	size_t xattr_cnt;
	/* The byte size (SPEC 4): the backing file holds it rounded up to
	 * whole pages. size_prev is the size before the last resize, kept so
	 * that a daemon killed between saving this and resizing the backing
	 * file shows the old size (shmfs_meta_byte_size). */
	bool has_size;          /* false: made behind our back, or by an older daemon */
	uint64_t size;
	uint64_t size_prev;
};

#define SHMFS_XATTR_USER_MAX_CNT  128
#define SHMFS_XATTR_USER_MAX_SIZE (64 * 1024) /* all user values of a region together */
#define SHMFS_META_MAX            (256 * 1024) /* a metadata file, as meta.c parses it */

/* ------------------------------------------------------------ placement policy
 *
 * "bind:N" puts every page on node N. "split:N0=C0,N1=C1,..." puts the first
 * C0 pages on N0, the next C1 on N1, and so on (shmfsctl create over several
 * nodes, like fd_shmem_create_multi); pages beyond them go to the home node. */
#define SHMFS_SPLIT_MAX 64

struct shmfs_policy {
	size_t cnt;                     /* 0: bind to the home node */
	int node[SHMFS_SPLIT_MAX];
	uint64_t pages[SHMFS_SPLIT_MAX];
};

/* Parse a policy in its canonical form (pure; unit tested). Node numbers are
 * only range-checked here. */
int shmfs_policy_parse(const char *text, struct shmfs_policy *ret);
/* The node of page index page, and the end of the run of pages on that node. */
int shmfs_policy_node(const struct shmfs_policy *p, int home, uint64_t page, uint64_t *ret_run_end);

/* ------------------------------------------------------------ state */

struct shmfsd_region {
	uint64_t ino;                 /* FUSE node id */
	enum shmfs_page_kind kind;
	ino_t backing_ino;
	char name[SHMFS_NAME_MAX + 1];
	bool linked;                  /* in the name table (not unlinked) */
	int gone_fd;                  /* unlinked: an O_PATH fd, so open files still stat */
	uint64_t refs;                /* kernel lookups + open files + temporary holds */
	struct shmfs_meta meta;       /* guarded by the fs lock */
	struct timespec told_ctime;   /* ctime of the attributes last given to the kernel (fs lock) */
	pthread_mutex_t op_lock;      /* serialises size, write, rename, unlink */
	int passthrough_id;           /* passthrough backing id; 0 not tried, < 0 refused (fs lock) */
	int guard_fd;                 /* holds a shared flock against DPDK's clean-up, or -1 (fs lock) */
	uint64_t placed;              /* nodes (bits, < 64) the pages were put on or last found on;
				       * 0: not known (fs lock; place.c) */
	struct shmfs_place_stamp {    /* when placed was last known true (fs lock; place.c) */
		bool set;
		uint64_t moves;       /* shmfs_page_moves() read before it was */
		struct timespec ctime;/* the backing file's then */
		uint64_t size, blocks;
	} placed_stamp;
	unsigned changing;            /* daemon changes under way (setattr) that end in a reply
				       * with the new attributes (fs lock; watch.c) */
	bool change_seen;             /* the backing file changed while changing > 0 (fs lock) */
};

struct shmfs_type_state {
	const struct shmfs_page_type *pt; /* NULL when the kernel lacks this type */
	char path[PATH_MAX];              /* absolute backing directory */
	int dirfd;                        /* that directory */
	int metafd;                       /* <backing>/.shmfs/<type> */
	dev_t dev;
};

/* Per-room state, reached from struct shmfs_fs; each is owned by the file
 * named with it. */

/* notify.c: kernel cache invalidations queued for the helper thread, at
 * most one pending per inode and per (directory, name), at most
 * SHMFS_NOTIFY_MAX in all (a pusher waits for room a bounded time). */
#define SHMFS_NOTIFY_MAX 4096
#define SHMFS_NOTIFY_BUCKETS 1024
struct shmfs_notify_item;
struct shmfs_notify {
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* work for the thread */
	pthread_cond_t room;  /* the queue shrank */
	struct shmfs_notify_item *head, **tail;
	struct shmfs_notify_item *bucket[SHMFS_NOTIFY_BUCKETS]; /* pending, by key */
	size_t cnt;           /* pending */
	uint64_t coalesced;   /* pushes a pending item already covered */
	uint64_t overflowed;  /* pushes queued past the bound after waiting */
	bool stopping;
	bool running;
	pthread_t thread;
};

/* watch.c: the inotify watch of the backing store and its thread. */
struct shmfs_watch {
	int fd;                             /* inotify */
	int stop_fd;                        /* eventfd that ends the thread */
	int wd_of[SHMFS_PAGE_KIND_CNT];     /* <backing>/<type> */
	int wd_meta_root;                   /* <backing>/.shmfs */
	int wd_meta[SHMFS_PAGE_KIND_CNT];   /* <backing>/.shmfs/<type> */
	pthread_t thread;
	bool running;
};

/* passthrough.c: the session's /dev/fuse and what the kernel took. */
struct shmfs_passthrough {
	int dev_fd;                   /* -1 until set up */
	atomic_bool enabled;          /* the kernel took FUSE_PASSTHROUGH */
	_Atomic uint64_t init_unique; /* the kernel's INIT request, while unanswered (older libfuse) */
};

/* mappers.c: one scan of /proc per asking process, for a short while. */
struct shmfs_mapping;
struct shmfs_mapper_snap {
	pid_t caller;                /* 0: slot empty */
	struct timespec taken;       /* CLOCK_MONOTONIC */
	uint64_t gen;                /* shmfs_mappers.gen when the scan began */
	struct shmfs_mapping *maps;
	size_t cnt;
};
#define SHMFS_MAPPERS_SLOTS 4
/* The kernel's count of pages it moved between nodes or brought back in
 * (shmfs_page_moves), as one asking process last read it. */
struct shmfs_moves_seen {
	pid_t caller;                /* 0: read for the daemon's own record */
	struct timespec taken;       /* CLOCK_MONOTONIC, before the read */
	uint64_t val;
};
struct shmfs_mappers {
	pthread_mutex_t lock;
	struct shmfs_mapper_snap slot[SHMFS_MAPPERS_SLOTS];
	struct shmfs_moves_seen moves[SHMFS_MAPPERS_SLOTS];
	_Atomic uint64_t gen;        /* bumped by shmfs_mappers_invalidate */
};

/* A value computed for a size probe, kept for the read after it (xattr_stash.c). */
#define SHMFS_XATTR_STASH_SLOTS 64
#define SHMFS_XATTR_STASH_NS (50LL * 1000 * 1000)
struct shmfs_xattr_stash_slot {
	pid_t pid;
	bool list;          /* a listxattr (name "") */
	uint64_t ino;
	uint64_t gen;       /* the stash's gen when computed */
	int64_t taken_ns;   /* CLOCK_MONOTONIC */
	char *name;
	char *val;          /* NULL: empty slot */
	size_t len;
};
struct shmfs_xattr_stash {
	pthread_mutex_t lock;
	_Atomic uint64_t gen;   /* bumped by every change made through the daemon */
	struct shmfs_xattr_stash_slot slot[SHMFS_XATTR_STASH_SLOTS];
};

struct shmfs_fs {
	char *backing;              /* backing root, absolute */
	char *mountpoint;
	char *opt_dir[SHMFS_PAGE_KIND_CNT]; /* non-root: existing backing mounts */
	bool is_root;
	struct shmfs_page_types types;
	struct shmfs_type_state type[SHMFS_PAGE_KIND_CNT];
	shmfs_nodemask_t nodes;     /* memory nodes */
	int first_node;
	int metafd;                 /* <backing>/.shmfs */
	struct timespec tree_time;  /* times of the fixed objects: stable across restarts */
	bool have_dir_mode;         /* mode=, uid=, gid= given: the tree's directories */
	mode_t dir_mode;
	uid_t dir_uid;
	gid_t dir_gid;
	pid_t pid;
	struct fuse_session *se;
	dev_t fuse_dev;             /* the mount's device (0 until mounted): mappings made
				     * through the mount show it in /proc/PID/maps */

	pthread_mutex_t lock;       /* the region tables and every region's meta */
	void *by_name[SHMFS_PAGE_KIND_CNT]; /* tsearch trees of struct shmfsd_region */
	void *by_ino;
	uint64_t region_cnt;
	struct shmfs_quota *quota;  /* limits and growths in flight (quota.c) */
	unsigned int trim_pending;  /* records freed since the last malloc_trim (ops.c; fs lock) */
	pthread_mutex_t pool_lock;  /* one .nr_pages write at a time (pool.c) */
	pthread_mutex_t repair_lock; /* one repair of the metadata directories at a time (metastore.c) */
	struct shmfs_notify notify;
	struct shmfs_watch watch;
	struct shmfs_mappers mappers;
	struct shmfs_xattr_stash xattr_stash;
	struct shmfs_passthrough passthrough;
	struct shmfs_shared *shared; /* the shared branch, or NULL (shared.c) */
};


/* ------------------------------------------------------------ backing.c */

/* Set up the backing root: mount tmpfs and one hugetlbfs per huge page type
 * under it (reusing what is already mounted there), or use the directories
 * given for a non-root daemon; open the type and metadata directories. */
int shmfs_backing_setup(struct shmfs_fs *fs);
void shmfs_backing_close(struct shmfs_fs *fs);
/* The device of the FUSE filesystem mounted at path, from mountinfo. */
int shmfs_mount_dev(const char *path, dev_t *ret);
/* An object in the backing store that is not a region, or not usable
 * metadata (a directory, FIFO, socket, symlink, device node, a name that is
 * not a region name, garbage): logged once per object (what says why; a new
 * inode under the name is logged again), never removed: it is someone
 * else's. _gone forgets a name that no longer holds it. */
void shmfs_backing_stray(const char *dir, const char *name, ino_t ino, const char *what);
void shmfs_backing_stray_gone(const char *dir, const char *name);
/* "a directory", "a FIFO"...: what an S_IFMT type is, for those messages. */
const char *shmfs_backing_kind(mode_t mode);

/* ------------------------------------------------------------ meta.c */

void shmfs_meta_free(struct shmfs_meta *m);
int shmfs_meta_copy(const struct shmfs_meta *src, struct shmfs_meta *ret);
/* Serialise/parse (pure; unit tested). *ret_text is malloc'ed. */
int shmfs_meta_format(const struct shmfs_meta *m, char **ret_text, size_t *ret_len);
int shmfs_meta_parse(const char *text, size_t len, struct shmfs_meta *ret);
/* The byte size of a region whose backing file is backing bytes long (pure;
 * unit tested): the recorded size, or the one before it, whichever the
 * backing file holds in whole pages; else the backing file's own size (a
 * file sized behind the daemon's back, or metadata without a size). */
uint64_t shmfs_meta_byte_size(const struct shmfs_meta *m, uint64_t backing, uint64_t page_sz);
/* "persistent", "process", "lock" and back (-EINVAL for anything else). */
const char *shmfs_lifetime_name(enum shmfs_lifetime l);
int shmfs_lifetime_parse(const char *text, enum shmfs_lifetime *ret);
/* A program tag as meta keeps it ("dpdk:rte"): 0 or -EINVAL. */
int shmfs_program_check(const char *text);
const struct shmfs_xattr *shmfs_meta_xattr_get(const struct shmfs_meta *m, const char *name);
int shmfs_meta_xattr_set(struct shmfs_meta *m, const char *name, const void *value, size_t size,
			 int flags);
int shmfs_meta_xattr_remove(struct shmfs_meta *m, const char *name);

/* ------------------------------------------------------------ metastore.c */

int shmfs_meta_load(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino, struct shmfs_meta *ret);
int shmfs_meta_save(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino, const struct shmfs_meta *m);
int shmfs_meta_remove(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino);
/* Drop metadata whose backing file is gone and temporary files; anything
 * else found there is logged once and left alone. */
int shmfs_meta_reconcile(struct shmfs_fs *fs, enum shmfs_page_kind k);
/* The metadata directories were removed or replaced behind our back
 * (fd_shmem_cfg fini, rm -rf): make them again and save the metadata of
 * every region in the table. 1 when something was made again, 0 when all
 * was in place, or -errno. */
int shmfs_meta_repair(struct shmfs_fs *fs);
/* Save the metadata of the region of backing inode bino again (its file
 * was removed behind our back); 0 when no such region is in the table. */
int shmfs_meta_resave(struct shmfs_fs *fs, enum shmfs_page_kind k, ino_t bino);

/* ------------------------------------------------------------ tree.c */

uint64_t shmfs_page_sz(const struct shmfs_fs *fs, enum shmfs_page_kind k);
void shmfs_ino_decode(const struct shmfs_fs *fs, uint64_t ino, struct shmfs_ino_info *ret);
bool shmfs_node_valid(const struct shmfs_fs *fs, int node);
/* Attributes of a fixed object (not a region). */
int shmfs_tree_stat(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uint64_t ino,
		    struct stat *ret);
/* One child of a directory of the tree, as shmfs_tree_children visits it. */
struct shmfs_tree_child {
	const char *name;
	uint64_t ino;
	mode_t type;                  /* S_IFDIR or S_IFREG */
	struct shmfsd_region *region;  /* a region (fs->lock is held while it is visited), or NULL */
};
/* Return non-zero to stop the walk (shmfs_tree_children returns it). Called
 * under fs->lock for a region: to keep r, take a hold with r->refs++. */
typedef int (*shmfs_tree_visit_fn)(void *ctx, const struct shmfs_tree_child *c);
/* The children of directory dir ("." and ".." aside), in listing order; with
 * name, only the child of that name, if there is one. The one place that
 * knows what each directory holds: lookup and readdir both walk it. 0 when
 * every child was visited (or none has that name), fn's non-zero value, or
 * -ESTALE (no such inode), -ENOTDIR, or -errno of the region table. */
int shmfs_tree_children(struct shmfs_fs *fs, uint64_t dir, const char *name, shmfs_tree_visit_fn fn,
			void *ctx);
/* Resolve name in the directory parent. ret_region is held (put it). */
int shmfs_tree_lookup(struct shmfs_fs *fs, uint64_t parent, const char *name, uint64_t *ret_ino,
		      struct shmfsd_region **ret_region);
/* Strip one trailing newline and check the text is one token (pure; unit tested). */
int shmfs_control_text(const char *buf, size_t len, char *out, size_t out_sz);

/* ------------------------------------------------------------ table.c */

/* Region table (fs->lock must NOT be held by the caller). */
struct shmfsd_region *shmfsd_region_get(struct shmfs_fs *fs, uint64_t ino);      /* held or NULL */
struct shmfsd_region *shmfsd_region_find(struct shmfs_fs *fs, enum shmfs_page_kind k,
					 const char *name);                     /* held or NULL */
void shmfsd_region_hold(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t n);
void shmfsd_region_put(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t n);
/* Table edits; caller holds fs->lock. Insert returns the record now in the
 * table: r, or an earlier record of the same inode that the kernel still
 * knows, revived with r's name and metadata (r is then freed); NULL (r freed)
 * when the inode is already linked under another name. */
struct shmfsd_region *shmfs_table_insert_locked(struct shmfs_fs *fs, struct shmfsd_region *r);
void shmfs_table_unlink_locked(struct shmfs_fs *fs, struct shmfsd_region *r);
void shmfs_table_rename_locked(struct shmfs_fs *fs, struct shmfsd_region *r, const char *name);
struct shmfsd_region *shmfs_table_find_locked(struct shmfs_fs *fs, enum shmfs_page_kind k,
					      const char *name);
struct shmfsd_region *shmfsd_region_new(enum shmfs_page_kind k, ino_t bino, const char *name);
/* Free every record (at exit, no other thread running). */
void shmfs_table_free(struct shmfs_fs *fs);
/* Snapshot of the regions (held) of one type and node (node -1: all). */
int shmfs_table_list(struct shmfs_fs *fs, int kind, int node, struct shmfsd_region ***ret,
		     size_t *ret_cnt);

/* ------------------------------------------------------------ load.c */

/* Take a backing file into the table (start-up, or found by watch.c): its
 * metadata when there is some, else a region with creator 0 homed where its
 * pages are. Looks before it opens: anything but a regular file with a
 * region name is logged once (shmfs_backing_stray) and left alone. 1 when
 * added (ret_parent: its directory), 0 when not a region or already known,
 * or -errno. */
int shmfs_tree_adopt(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name, bool startup,
		     uint64_t *ret_parent);
/* Load every region of the backing store (start-up). */
int shmfs_tree_load(struct shmfs_fs *fs);

/* ------------------------------------------------------------ attr.c */

/* Attributes of a region for the kernel (remembered: see told_ctime). */
int shmfsd_region_stat(struct shmfs_fs *fs, struct shmfsd_region *r, struct stat *ret);
/* Make the attributes of r's backing file (fstat) the region's: its byte
 * size, inode number, link count and page size as block size. */
void shmfsd_region_attr(struct shmfs_fs *fs, struct shmfsd_region *r, struct stat *st);
/* The byte size of r, whose backing file is open at fd. */
int shmfsd_region_size(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t *ret);
/* Remember the attributes of st were given to the kernel. */
void shmfsd_region_told(struct shmfs_fs *fs, struct shmfsd_region *r, const struct stat *st);

/* ------------------------------------------------------------ region.c */

/* Persist new metadata for r, then publish it (a failed save changes
 * nothing). Takes ownership of *m; the caller holds r->op_lock. */
int shmfsd_region_meta_commit(struct shmfs_fs *fs, struct shmfsd_region *r, struct shmfs_meta *m);

/* Apply the FUSE_SET_ATTR_* changes of to_set (size, mode, owner, times) to
 * the backing file; ret gets the attributes after. Only a size change opens
 * the file for writing (chmod of a 0444 region works without write access). */
int shmfsd_region_setattr(struct shmfs_fs *fs, struct shmfsd_region *r, const struct stat *attr,
			  int to_set, struct stat *ret);
int shmfsd_region_open_backing(struct shmfs_fs *fs, struct shmfsd_region *r, int flags);
int shmfsd_region_create(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, const char *name,
			 mode_t mode, uid_t uid, gid_t gid, pid_t pid,
			 struct shmfsd_region **ret_region, int *ret_fd);
/* Size the region to size bytes (any byte size: the backing file gets it
 * rounded up to whole pages, taken on its node and verified). Taking pages
 * from a mapped region is -EBUSY. Caller holds r->op_lock. */
int shmfsd_region_resize(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t size);
/* Write len bytes at off, growing the region as needed. Returns len or
 * -errno. Flags: */
#define SHMFS_WRITE_APPEND    (1U << 0) /* at the byte end, whatever off says (O_APPEND) */
#define SHMFS_WRITE_KILL_PRIV (1U << 1) /* the writer may not keep set-user/group-ID bits */
int shmfsd_region_write(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, const void *buf,
			size_t len, off_t off, unsigned flags);
int shmfsd_region_unlink(struct shmfs_fs *fs, struct shmfsd_region *r);
/* An O_PATH descriptor of r's backing file, so open files still answer
 * fstat once its name is gone; -1 when the name holds another inode now.
 * Caller holds fs->lock. */
int shmfsd_region_open_gone_locked(struct shmfs_fs *fs, struct shmfsd_region *r);
/* r's name has gone from the backing store (unlink, or a rename over it):
 * take it out of the tables, keeping gone for its open files. Caller holds
 * fs->lock; the metadata is removed after (shmfs_meta_remove). */
void shmfsd_region_gone_locked(struct shmfs_fs *fs, struct shmfsd_region *r, int gone);

/* ------------------------------------------------------------ rename.c */

int shmfsd_region_rename(struct shmfs_fs *fs, struct shmfsd_region *r, int new_node,
			 const char *new_name, unsigned int flags);

/* ------------------------------------------------------------ place.c */

/* Move every page of an open backing file to node to (all or nothing: back to
 * from, when from >= 0, and -ENOMEM). */
int shmfsd_region_migrate_fd(struct shmfs_fs *fs, enum shmfs_page_kind k, int fd, int from, int to);
/* The nodes the pages of an open backing file sit on now (asked of the kernel). */
int shmfsd_region_nodes(int fd, uint64_t page_sz, uint64_t size, shmfs_nodemask_t *ret);
/* Take the pages for [old, size) of the open file fd from the pools of the
 * nodes pol names (home for pages beyond it), at once, and check they are
 * there; on failure the file is put back to old. */
int shmfs_place_grow(struct shmfs_fs *fs, int fd, uint64_t page_sz, bool huge, uint64_t old,
		     uint64_t size, const struct shmfs_policy *pol, int home, uint64_t *ret_nodes,
		     struct stat *ret_st);
/* The nodes r's pages sit on (fd its open backing file, without holes or
 * not; st its fstat): the recorded placement (r->placed) as it is while its
 * stamp holds (the file has the same ctime, size and blocks, and the kernel
 * has moved or swapped in no page anywhere since, as caller last saw it:
 * shmfs_page_moves); else the record when a sample of at most 64 pages spread
 * over the file, always the first and the last, agrees with it (finds every
 * recorded node, no other, no page missing); else every page is asked about
 * and the answer recorded. */
int shmfs_place_nodes(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t page_sz,
		      const struct stat *st, pid_t caller, shmfs_nodemask_t *ret);
/* shmfs_place_nodes' answer from the record alone, without opening the
 * backing file: false when the stamp does not hold (ask shmfs_place_nodes). */
bool shmfs_place_known(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller, shmfs_nodemask_t *ret);
/* Stamp r's record as true now: moves read before it was made, st the
 * backing file after. */
void shmfs_place_stamp(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t moves,
		       const struct stat *st);
/* Whether r's record is stamped true for the file as st shows it, with no
 * page moved since (moves). */
bool shmfs_place_stamp_holds(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t moves,
			     const struct stat *st);
/* The kernel's count of pages moved between nodes, or swapped back in, or
 * copied into a collapsed huge page (/proc/vmstat), for caller: read anew
 * unless caller read it less than SHMFS_XATTR_MAPPERS_TTL_MS ago (the same
 * rule as the mapper table). caller 0 (a stamp of the daemon's own) takes
 * any reading that young: a count read earlier is only more cautious;
 * caller -1 always reads anew. */
int shmfs_page_moves(struct shmfs_fs *fs, pid_t caller, uint64_t *ret);
/* Record where r's pages went: nodes (bits, 0 for not known) replaces the
 * record, or with add joins it (a grow: the old pages stay where they were). */
void shmfs_place_record(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t nodes, bool add);
/* Allocate on r's home node the pages of [start, end) a file made behind our
 * back may lack (holes), before the daemon touches them through a mapping. */
int shmfs_place_fill_holes(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t start,
			   uint64_t end);
/* Move the first len bytes of pages of fd to node; ret_failed gets the pages
 * that did not move. */
int shmfs_place_move(int fd, uint64_t page_sz, uint64_t len, int node, uint64_t *ret_failed);

/* ------------------------------------------------------------ guard.c */

/* Touching region memory: a SIGBUS (region truncated behind our back) turns
 * into -EFAULT instead of killing the daemon. Install the handler once. */
int shmfs_sigbus_install(void);
int shmfs_guarded_call(int (*fn)(void *), void *arg);
int shmfs_guarded_copy(void *dst, const void *src, size_t len);
int shmfs_guarded_set(void *dst, int c, size_t len);
/* shmfs_heap_peek (ret: a shmfs_heap_stats_t, its sz set) of memory a
 * truncation may take away: -EFAULT then. */
struct shmfs_heap_stats;
int shmfs_guarded_heap_peek(const void *mem, size_t len, struct shmfs_heap_stats *ret);

/* ------------------------------------------------------------ mappers.c */

int shmfsd_region_mappers(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t **ret_pids,
			  size_t *ret_cnt);
/* The same as seen by the process caller (a FUSE request's pid): its reads
 * within 100 ms share one scan of /proc (getfattr -d, shmfsctl info). Caller
 * 0 always scans; decisions (shrink, clean) use the plain versions above. */
int shmfsd_region_mappers_for(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller,
			      pid_t **ret_pids, size_t *ret_cnt);
void shmfs_mappers_init(struct shmfs_fs *fs);
/* Drop every caller's table: a daemon event made them wrong (a new region's
 * backing inode number may be one a table holds for a file since freed). */
void shmfs_mappers_invalidate(struct shmfs_fs *fs);
void shmfs_mappers_free(struct shmfs_fs *fs);

/* ------------------------------------------------------------ pool.c */

/* Normal pages have no pool: the tmpfs's size and room, capped by what node
 * (-1: any) has. In pages. */
int shmfs_normal_pool(struct shmfs_fs *fs, int node, uint64_t *ret_total, uint64_t *ret_free);
struct shmfs_pool_stat;
struct statvfs;
/* Pool numbers of a type on one node, or summed over every node (node -1);
 * a node whose pool cannot be read fails the whole. */
int shmfs_pool_of(struct shmfs_fs *fs, enum shmfs_page_kind k, int node,
		  struct shmfs_pool_stat *ret);
/* Total and free pages of type k on node (-1: every node); a node whose pool
 * cannot be read counts as empty. */
int shmfs_pool_pages(struct shmfs_fs *fs, enum shmfs_page_kind k, int node, uint64_t *ret_total,
		     uint64_t *ret_free);
int shmfs_pool_statfs(struct shmfs_fs *fs, uint64_t ino, struct statvfs *ret);
/* A .nr_pages write of text (one token) to the pool info names. */
int shmfs_pool_write(struct shmfs_fs *fs, const struct shmfs_ino_info *info, const char *text);

/* Parse a .nr_pages request (N, +N, -N; pages or a size with a unit in
 * whole pages) against the current pool size cur (pure; unit tested).
 * -EINVAL for bad text or below zero, -ENOMEM beyond max pages (what the
 * node's memory could ever hold: shmfs_pool_max). */
int shmfs_nr_pages_parse(const char *text, uint64_t page_sz, uint64_t cur, uint64_t max,
			 uint64_t *ret_target);

/* ------------------------------------------------------------ lifetime.c */

/* Orphaned by the rule of the region's lifetime (see enum shmfs_lifetime);
 * a persistent region never is. The _for version answers a FUSE caller
 * (see shmfsd_region_mappers_for); decisions (clean) use the plain one. */
bool shmfsd_region_orphaned(struct shmfs_fs *fs, struct shmfsd_region *r);
bool shmfsd_region_orphaned_for(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller);
/* One look at /proc (mappings of the backing store and the mount, locks)
 * serving every region of one clean: taken at the first region that needs
 * it, freed by shmfs_clean_scan_free. Start from { 0 }. */
struct shmfs_lock_held {
	dev_t dev;
	ino_t ino;
};
struct shmfs_clean_scan {
	bool taken;
	int err;
	struct shmfs_mapping *maps;
	size_t map_cnt;
	struct shmfs_lock_held *locks;
	size_t lock_cnt;
};
/* shmfsd_region_orphaned by the scan. */
bool shmfsd_region_orphaned_in(struct shmfs_fs *fs, struct shmfsd_region *r,
			       struct shmfs_clean_scan *s);
void shmfs_clean_scan_free(struct shmfs_clean_scan *s);
/* A file found in the backing store without metadata: DPDK's hugepage file
 * ("PREFIXmap_N" with DPDK's runtime directory for PREFIX present, owned by
 * root or by owner, the file's owner) gets lifetime lock and program
 * "dpdk:PREFIX"; anything else stays persistent. */
void shmfs_lifetime_classify_foreign(const char *name, uid_t owner, struct shmfs_meta *m);
/* The file prefix of a DPDK hugepage file name (pure; unit tested). */
int shmfs_dpdk_prefix(const char *name, char *ret, size_t ret_sz);
/* One line of /proc/locks: holder pid, device, inode; -ENOENT for a waiter
 * (pure; unit tested). */
int shmfs_locks_parse_line(const char *line, pid_t *ret_pid, dev_t *ret_dev, ino_t *ret_ino);
/* Take or release the daemon's shared flock on r as its name and lifetime
 * now ask (caller holds fs->lock; called by every table change). */
void shmfs_guard_update_locked(struct shmfs_fs *fs, struct shmfsd_region *r);
void shmfs_guard_drop_locked(struct shmfsd_region *r);
/* May a process of uid/gid see pid in /proc (read its maps)? */
bool shmfs_pid_visible(pid_t pid, uid_t uid, gid_t gid);

/* ------------------------------------------------------------ sparse.c */

/* The nodes of the pages an open file holds, asked of the kernel without
 * allocating a page for any hole (userfaultfd: holes raise SIGBUS); for a
 * file sized by another program that may be sparse. ret_present (may be
 * NULL) gets the number of pages held. -errno when userfaultfd is not
 * available (the caller falls back to shmfsd_region_nodes). */
int shmfs_sparse_nodes(int fd, uint64_t page_sz, uint64_t size, shmfs_nodemask_t *ret,
		       uint64_t *ret_present);

/* ------------------------------------------------------------ xattr.c, xattr_set.c */

/* ctx: the asking process (fuse_req_ctx()): its pid shares scans of /proc
 * (see shmfsd_region_mappers_for), its uid and gid decide which mapper pids
 * it may see. */
int shmfs_xattr_get_for(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			const char *name, char **ret_val, size_t *ret_len);
int shmfs_xattr_list(struct shmfs_fs *fs, uint64_t ino, char **ret_list, size_t *ret_len);
/* ctx: the caller (disowning needs the owner or root; NULL: the daemon itself). */
int shmfs_xattr_set(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name,
		    const void *val, size_t len, int flags);
int shmfs_xattr_remove(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx, const char *name);

/* xattr_all.c: SHMFS_XATTR_ALL of ino (a region; -ENODATA for anything
 * else): *ret_val malloc'ed "NAME\0VALUE\0" pairs. */
int shmfs_xattr_all_get(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			char **ret_val, size_t *ret_len);

/* What xattr_set.c takes from xattr.c: whether a name is in our namespace
 * (user.) or the daemon's own (user.shmfs.), whether an attribute is derived
 * for every region (a write must match its value), and a region's value of
 * an attribute as ctx would read it. */
bool shmfs_xattr_is_user(const char *name);
bool shmfs_xattr_is_ours(const char *name);
bool shmfs_xattr_derived(const char *name);
int shmfs_xattr_region_get(struct shmfs_fs *fs, struct shmfsd_region *r, const struct fuse_ctx *ctx,
			   const char *name, char **ret_val, size_t *ret_len);

/* ------------------------------------------------------------ xattr_stash.c
 *
 * A getxattr or listxattr probe (size 0) of process pid stashes its value;
 * the read of the same name (NULL: the list) by the same process right after
 * it takes it instead of computing it again. changed: something changed
 * through the daemon (stashed values are not taken any more). */
void shmfs_xattr_stash_init(struct shmfs_fs *fs);
void shmfs_xattr_stash_free(struct shmfs_fs *fs);
void shmfs_xattr_stash_changed(struct shmfs_fs *fs);
uint64_t shmfs_xattr_stash_gen(struct shmfs_fs *fs);   /* read before computing a probe's value */
void shmfs_xattr_stash_put(struct shmfs_fs *fs, uint64_t gen, uint64_t ino, pid_t pid,
			   const char *name, const char *val, size_t len);
bool shmfs_xattr_stash_take(struct shmfs_fs *fs, uint64_t ino, pid_t pid, const char *name,
			    char **ret_val, size_t *ret_len);

/* ------------------------------------------------------------ control.c */

struct shmfs_ctl_buf {
	char *data;
	size_t len;
};

/* Attributes of a fixed object (shmfs_tree_stat) with the honest size of a
 * readable control file, rendered now. */
int shmfs_control_stat(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uint64_t ino,
		       struct stat *ret);
/* Render the content of a control file at open. */
int shmfs_control_render(struct shmfs_fs *fs, const struct shmfs_ino_info *info,
			 struct shmfs_ctl_buf *ret);
/* Act on a write to a control file (offset 0, whole command). uid is the writer. */
int shmfs_control_write(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uid_t uid, pid_t pid,
			const char *buf, size_t len, off_t off);

/* ------------------------------------------------------------ quota.c, quota_live.c, quota_rules.c
 *
 * Page limits per user and per group, per page type (summed over the nodes),
 * and a reserve per pool (type and node) that only root-owned regions may
 * take. Pages are charged to the owner and group of the backing file that
 * holds them, as the backing store shows them when a request is checked, so
 * usage is exact after any crash, restart, chown or unlink, and counts files
 * made there behind the daemon's back. Regions owned by root are never
 * limited. Enforced by a root daemon only (without root every region is the
 * daemon user's, inside mounts that user sized). */

enum shmfs_quota_subject { SHMFS_QUOTA_USER, SHMFS_QUOTA_GROUP, SHMFS_QUOTA_RESERVE,
			   SHMFS_QUOTA_SUBJECT_CNT };
enum shmfs_quota_how {
	SHMFS_QUOTA_UNLIMITED,
	SHMFS_QUOTA_PAGES,      /* val pages */
	SHMFS_QUOTA_PERCENT,    /* val percent (0..100) of the pool, rounded up to a page */
	SHMFS_QUOTA_DEFAULT,    /* (per-id rules only) drop the rule: the default applies */
};

/* One rule: "SUBJECT[:ID].TYPE=LIMIT", e.g. "user.huge=50%",
 * "user:1000.normal=1G", "group:100.huge=unlimited", "reserve.huge=2". */
struct shmfs_quota_rule {
	enum shmfs_quota_subject subject;
	bool has_id;            /* false: the default of every user / group */
	uint32_t id;
	enum shmfs_page_kind kind;
	enum shmfs_quota_how how;
	uint64_t val;
};

#define SHMFS_QUOTA_RULES_MAX 4096 /* per-id rules: a limit on what root's writes keep */
#define SHMFS_QUOTA_RULE_MAX  80   /* longest canonical rule text, with its NUL */

/* A rule set: always one default rule per subject and page type, then the
 * per-id rules. */
struct shmfs_quota_rules {
	struct shmfs_quota_rule *v;
	size_t cnt;
};

/* The built-in defaults: every user may take 50% of each page type, groups
 * are unlimited, no reserve. */
int shmfs_quota_rules_init(struct shmfs_quota_rules *ret);
void shmfs_quota_rules_free(struct shmfs_quota_rules *s);
/* Parse a rule in its canonical form against the page types the kernel
 * offers (sizes must be whole pages of the type). Pure; unit tested. */
int shmfs_quota_rule_parse(const char *text, const struct shmfs_page_types *types,
			   struct shmfs_quota_rule *ret);
int shmfs_quota_rule_format(const struct shmfs_quota_rule *r, const struct shmfs_page_types *types,
			    char *buf, size_t buf_sz);
/* Apply a rule to a set: replace the rule with its subject, id and type, add
 * it, or (DEFAULT) drop it. -EINVAL for DEFAULT on a default rule, -ENOSPC
 * beyond SHMFS_QUOTA_RULES_MAX. Unchanged on failure. */
int shmfs_quota_rules_set(struct shmfs_quota_rules *s, const struct shmfs_quota_rule *r);
int shmfs_quota_rules_copy(const struct shmfs_quota_rules *s, struct shmfs_quota_rules *ret);
/* Same subject, id and page type: the one rule a set keeps of them. */
bool shmfs_quota_rule_same_key(const struct shmfs_quota_rule *a, const struct shmfs_quota_rule *b);
/* The rule of a set for subject (per id, or the default), type k; NULL if none. */
const struct shmfs_quota_rule *shmfs_quota_rule_find(const struct shmfs_quota_rules *s,
						     enum shmfs_quota_subject subj, bool has_id,
						     uint32_t id, enum shmfs_page_kind k);
/* The limit in pages that applies to id (user or group) for type k, pool
 * the type's pages over all nodes; false when unlimited. Default rules do not
 * apply to id 0. */
bool shmfs_quota_limit(const struct shmfs_quota_rules *s, enum shmfs_quota_subject subj,
		       uint32_t id, enum shmfs_page_kind k, uint64_t pool, uint64_t *ret_pages);
/* Pages of a pool of node_total pages that only root may take. */
uint64_t shmfs_quota_reserve(const struct shmfs_quota_rules *s, enum shmfs_page_kind k,
			     uint64_t node_total);

/* What a request would leave: the numbers shmfs_quota_admit judges. */
struct shmfs_quota_ask {
	uid_t uid;              /* owner and group the pages are charged to */
	gid_t gid;
	uint64_t user_used;     /* pages of the owner's other files of this type */
	uint64_t group_used;    /* pages of the group's other files of this type */
	uint64_t pages;         /* pages of this region once the request is done */
	uint64_t pool;          /* pages of the type's pools, all nodes (for %) */
	uint64_t need;          /* pages the request takes from the node's pool */
	uint64_t node_free;     /* free pages of that pool, less growths in flight */
	uint64_t node_total;
};
/* 0 when the request fits every limit, -EDQUOT otherwise. A request larger
 * than the pool's free pages passes here: the pool refuses it (ENOSPC). Pure. */
int shmfs_quota_admit(const struct shmfs_quota_rules *s, enum shmfs_page_kind k,
		      const struct shmfs_quota_ask *a);

/* A growth in flight: counted by every check until released, so two
 * concurrent requests cannot both take the last pages a limit allows. */
struct shmfs_quota_hold {
	struct shmfs_fs *fs;            /* NULL: nothing held */
	struct shmfs_quota_hold *next;
	enum shmfs_page_kind kind;
	ino_t bino;
	uint64_t pages;                 /* the region's pages once grown */
	uint64_t need;
	int node;
};

/* The quota state (quota.c and quota_live.c), reached as fs->quota. */
struct shmfs_quota {
	pthread_mutex_t lock;           /* rules, live, holds; checks run under it */
	bool enforced;
	struct shmfs_quota_rules rules; /* in force */
	struct shmfs_quota_rules live;  /* written to .quota since start-up: persisted */
	struct shmfs_quota_hold *holds;
};

/* Start-up: built-in defaults, then the quota= mount options (texts; before
 * the backing store is set up, so a bad one changes nothing), then, once the
 * backing store is open, the rules root wrote live (kept in <backing>/.shmfs). */
int shmfs_quota_setup(struct shmfs_fs *fs, char *const *rules, size_t rule_cnt);
int shmfs_quota_load(struct shmfs_fs *fs);
void shmfs_quota_free(struct shmfs_fs *fs);
/* Before r (open as fd) grows to size bytes: -EDQUOT, or 0 with the growth
 * held until shmfs_quota_release (use it as a cleanup). */
int shmfs_quota_charge(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t size,
		       struct shmfs_quota_hold *hold);
void shmfs_quota_release(struct shmfs_quota_hold *hold);
/* chown the open backing file fd of r (uid/gid -1: unchanged), moving its
 * pages to the new owner and group: -EDQUOT when they do not fit there. */
int shmfs_quota_chown(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uid_t uid, gid_t gid);
/* .quota: the rules and usage; a write sets one rule (root only). */
int shmfs_quota_render(struct shmfs_fs *fs, FILE *f);
int shmfs_quota_write(struct shmfs_fs *fs, uid_t uid, const char *buf, size_t len, off_t off);
/* The usage lines of .status and .quota: "usage TYPE user|group ID USED LIMIT". */
int shmfs_quota_render_usage(struct shmfs_fs *fs, FILE *f);
/* .quota without its usage lines (what stat sizes it by, with a bound for them). */
int shmfs_quota_render_head(struct shmfs_fs *fs, FILE *f);

/* ------------------------------------------------------------ watch.c */

/* Follow changes made directly in the backing store (fd_shmem creating or
 * removing files) and bring the table and the kernel's caches up to date. */
int shmfs_watch_start(struct shmfs_fs *fs);
void shmfs_watch_stop(struct shmfs_fs *fs);
/* Bring the table and the kernel's cache in line with what the backing
 * directory of type k holds under name (what an inotify event does). */
void shmfs_watch_reconcile(struct shmfs_fs *fs, enum shmfs_page_kind k, const char *name);

/* ------------------------------------------------------------ ops.c, notify.c */

extern const struct fuse_lowlevel_ops shmfs_ops;
/* Queue a kernel cache invalidation (done from a helper thread, never from a handler). */
void shmfs_notify_inval_entry(struct shmfs_fs *fs, uint64_t parent, const char *name);
/* Invalidations queued and not yet sent (tests). */
size_t shmfs_notify_pending(struct shmfs_fs *fs);
void shmfs_notify_inval_inode(struct shmfs_fs *fs, uint64_t ino);
void shmfs_notify_init(struct shmfs_fs *fs);
int shmfs_notify_start(struct shmfs_fs *fs);
/* End the thread (if it runs) and drop what is still queued. */
void shmfs_notify_stop(struct shmfs_fs *fs);

/* ------------------------------------------------------------ passthrough.c */

/* Set up FUSE passthrough for the session (root only; a no-op otherwise):
 * libfuse's own API (>= 3.16), or hooks on /dev/fuse for older libfuse.
 * Call after mounting. */
int shmfs_passthrough_setup(struct shmfs_fs *fs);
/* Ask for passthrough in the init handler (libfuse's API). */
void shmfs_passthrough_init(struct shmfs_fs *fs, struct fuse_conn_info *conn);
/* The session is going: forget its /dev/fuse (its backing ids go with it). */
void shmfs_passthrough_stop(struct shmfs_fs *fs);
/* Register a backing file: its id (> 0), or -EOPNOTSUPP when the kernel did
 * not take passthrough, or a refusal (-ELOOP for hugetlbfs). */
int shmfs_passthrough_open(fuse_req_t req, int backing_fd);
void shmfs_passthrough_close(struct shmfs_fs *fs, int id);
/* Make the open or create reply for FI pass through to backing file ID (mmap
 * always; read and write too unless KEEP_DIRECT_IO). */
void shmfs_passthrough_arm(struct fuse_file_info *fi, int id, bool keep_direct_io);

/* ------------------------------------------------------------ options.c */

struct shmfs_options {
	bool foreground;
	bool debug;
	bool help;
	bool version;
	char *source;
	char *mountpoint;
	char *backing;
	char *dir[SHMFS_PAGE_KIND_CNT];
	char *fuse_opts;     /* options handed to libfuse, comma separated */
	bool have_mode, have_uid, have_gid;
	mode_t dir_mode;     /* mode=, uid=, gid=: the tree's directories */
	uid_t dir_uid;
	gid_t dir_gid;
	char **quota;        /* quota=RULE options, as given (checked by quota.c) */
	size_t quota_cnt;
	char *shared;        /* shared=DEVICE, shared_name=NAME, shared_host=HOST (shared.c) */
	char *shared_name;
	char *shared_host;
};

/* Parse the command line (pure; unit tested). */
int shmfs_options_parse(int argc, char **argv, struct shmfs_options *ret);
void shmfs_options_free(struct shmfs_options *o);
/* s with ',' and '\\' escaped by a backslash, as libfuse's option lists
 * want them (fsname=, a value with a comma). *ret is malloc'ed. */
int shmfs_opt_escape(const char *s, char **ret);

/* Backing files being created carry this prefix until they are complete. */
#define SHMFS_TMP_PREFIX ".shmfs-new-"

/* ------------------------------------------------------------ shared.c
 *
 * MOUNT/shared/NAME/REGION: the regions of a backing several hosts map
 * (lib/core/shared_log.h). Its handlers (shared_ops.c) sit in front of ops.c's. */

struct shmfs_shared;
/* Open, check and replay the shared backing at path (NULL: no shared
 * branch, returns 0); name is its directory (default: the device's file
 * name), host this daemon's host name (default: the system's). */
int shmfs_shared_setup(struct shmfs_fs *fs, const char *path, const char *name, const char *host);
/* The handlers to run: shmfs_ops, or those of the shared branch in front of them. */
const struct fuse_lowlevel_ops *shmfs_shared_ops(struct shmfs_fs *fs);
void shmfs_shared_free(struct shmfs_fs *fs);
/* Is ino in the shared branch (and is there one)? Its attributes. */
bool shmfs_shared_ino(const struct shmfs_fs *fs, uint64_t ino);
int shmfs_shared_stat(struct shmfs_fs *fs, uint64_t ino, struct stat *st);
#define SHMFS_SHARED_DIR "shared"

/* ------------------------------------------------------------ log.c */

void shmfsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shmfsd_log_to_syslog(void);
/* Whether messages go to syslog (daemonized, opened with LOG_CONS). */
bool shmfsd_log_is_syslog(void);
#define SHMFS_LOG(fmt, ...) shmfsd_log(fmt, ##__VA_ARGS__)

/* ------------------------------------------------------------ audit.c */

/* One line of the audit trail (syslog, or $SHMFS_AUDIT_LOG): a change to a
 * pool or a region, and the user and process that asked for it. */
void shmfs_audit(struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The line for the removal of name from the directory parent (an inode). */
void shmfs_audit_unlink(struct shmfs_fs *fs, uid_t uid, pid_t pid, uint64_t parent, const char *name);
/* The line for a .nr_pages write of text to the pool of info that ended
 * with r: the request, the pool after it, the outcome. Refused input
 * (-EINVAL) changed nothing and leaves no line. */
void shmfs_audit_pool(struct shmfs_fs *fs, uid_t uid, pid_t pid, const struct shmfs_ino_info *info,
		      const char *text, int r);
/* Each of these leaves its line only when rc, the outcome of the operation,
 * is 0, and returns rc: `return shmfs_audit_ok(op(...), fs, uid, pid, ...)`. */
int shmfs_audit_ok(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* "WHAT TYPE/nodeN/NAME DETAIL" for a change to region r (its name and node
 * as they are now, after the change). */
int shmfs_audit_region(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, struct shmfsd_region *r,
		       const char *what, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* A .quota write of buf that ended with rc: "quota RULE". */
int shmfs_audit_quota(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *buf, size_t len);
/* A successful setattr of region r: "setattr PATH size N mode M owner U
 * group G", the attributes to_set changed; nothing for times alone. */
void shmfs_audit_setattr(struct shmfs_fs *fs, uid_t uid, pid_t pid, struct shmfsd_region *r,
			 const struct stat *attr, int to_set);

#endif
