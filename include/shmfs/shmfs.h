/* shmfs.h - libshmfs regions and joins: create, unlink and inspect shmfs
 * regions by path, and map them ("join") onto their real hugetlbfs or tmpfs
 * pages with per-process reference counts, in the manner of Firedancer's
 * fd_shmem. This header is the manual; read the overview first.
 *
 * OVERVIEW
 *
 * A shmfs mount (SHMFS_PATH, default /mnt/shmfs) presents every region as a
 * file TYPE/nodeN/NAME, TYPE being gigantic, huge or normal. The daemon keeps
 * the memory in a backing store, <backing>/.TYPE/NAME on hugetlbfs or tmpfs.
 * FUSE cannot hand out huge pages through its own mmap, so a join maps the
 * backing file itself: the daemon names it in the region's user.shmfs.backing
 * xattr and the library checks the file it opened is the one the daemon
 * meant (device and inode, user.shmfs.backing_id), so a file swapped in the
 * backing store is refused. The memory belongs to the kernel, not to the
 * daemon: a joined region stays valid when the daemon dies or the region is
 * unlinked (shm_unlink semantics), and a region can be joined by its backing
 * path while the daemon is down.
 *
 * PATHS
 *
 * Every function taking a region path accepts:
 *  - an absolute path in a shmfs tree: /mnt/shmfs/huge/node0/wksp;
 *  - a path relative to the mount: huge/node0/wksp (anything with a slash
 *    that does not start with one);
 *  - a bare region name: wksp, searched in gigantic, then huge, then normal,
 *    over every node directory of the mount (names are unique per type, so
 *    the largest page size holding the name wins);
 *  - a backing path: <backing>/.huge/wksp (any file named by a valid region
 *    name in a directory .normal, .huge or .gigantic on tmpfs or hugetlbfs;
 *    so a Firedancer FD_SHMEM_PATH layout joins too). This form needs no
 *    daemon.
 * The mount is taken from the environment variable SHMFS_PATH when set and
 * not empty, else /mnt/shmfs; it is read at each call.
 *
 * A tree path is resolved by asking the daemon (two xattrs). The answer is
 * remembered per process, so later joins of the same path cost one lookup
 * in the kernel's cache of the tree (stat) instead of two round trips to the
 * daemon; the remembered answer is used only while the tree still has the
 * same file at that path on the same mount, and the backing file opened must
 * still be the one the daemon named, else the daemon is asked again.
 *
 * ERRORS
 *
 * One convention per kind of call, in this header and in heap.h:
 *  - a function returning int (region, leave, query, iteration and heap
 *    calls) returns 0, or a non-negative count where it says so, on success
 *    and a negative errno on failure; errno is not meaningful after it;
 *  - a function returning a pointer the caller uses (shmfs_join,
 *    shmfs_join_opts: the join handle, like fd_shmem_join and mmap) returns
 *    NULL and sets errno (positive) on failure;
 *  - a function returning an offset or a size says what marks a failure:
 *    the heap's allocators return offset 0 and set errno, like malloc;
 *    shmfs_join_cnt cannot fail;
 *  - a void function and shmfs_mount_path cannot fail;
 *  - callbacks: a join callback returns NULL to refuse; an iteration callback
 *    returns non-zero to stop, and that value is returned.
 * Output parameters: ret_* must not be NULL (-EINVAL); opt_* may be NULL
 * (nothing is written). Neither is touched on failure.
 * Errors every path-taking function can return, beyond those listed with
 * each function:
 *   -EINVAL        path is NULL or empty, or a bare name that is not a valid
 *                  region name (first character [A-Za-z0-9], then
 *                  [A-Za-z0-9_.-]);
 *   -ENAMETOOLONG  path longer than PATH_MAX, or a name longer than
 *                  SHMFS_REGION_NAME_MAX;
 *   -ENOENT        nothing at that path (for a bare name: no type and node
 *                  holds it);
 *   -EISDIR        the path is a directory (a page type or node directory);
 *   -ENOTSUP       the path exists but is not a region: a file outside shmfs,
 *                  a control file (.status, .nr_pages...), a file in a
 *                  directory that is not a backing store;
 *   -EACCES        the caller may not read the region (kernel permission
 *                  check on the shmfs file or on the backing file);
 *   -ESTALE        the backing file found is not the one the daemon names
 *                  (swapped, or the region was re-created in between);
 *   -ENOTCONN      the daemon behind the mount is gone (use the backing path);
 *   -EBADMSG       the daemon's user.shmfs.backing or backing_id is malformed;
 *   -EIO, -ENOMEM  and other errnos of open(2), mmap(2), getxattr(2).
 *
 * LOGGING
 *
 * The library never prints. Failures are reported through return values; a
 * caller that wants the library's reasons in its log installs a callback with
 * shmfs_log_set(). Query functions never log: an expected miss must not fill
 * a log.
 *
 * THREAD SAFETY
 *
 * Every function here is thread-safe. The join table is one per process,
 * guarded by one recursive lock; join and leave callbacks run with that lock
 * held, so a callback may itself join and leave other regions (on the same
 * thread) while other threads wait.
 *
 * FORK
 *
 * A child made by fork(2) inherits the mappings and a copy of the join table;
 * its joins are its own from then on (leaving in the child unmaps only in the
 * child). Do not fork while another thread is inside a libshmfs call.
 */
#ifndef SHMFS_SHMFS_H
#define SHMFS_SHMFS_H

#include <limits.h>
#include <linux/limits.h> /* PATH_MAX, which <limits.h> gives only with POSIX or GNU extensions */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmfs/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest region name (Firedancer's FD_SHMEM_NAME_MAX - 1). */
#define SHMFS_REGION_NAME_MAX 39

/* Mount used when SHMFS_PATH is not set. */
#define SHMFS_DEFAULT_PATH "/mnt/shmfs"

/* ------------------------------------------------------------------ logging */

/* Severity of a log message, syslog numbering. */
enum shmfs_log_level {
	SHMFS_LOG_ERR     = 3, /* an operation failed and the library cannot tell the caller otherwise */
	SHMFS_LOG_WARNING = 4, /* a join or leave failed: the reason, with the region's name */
	SHMFS_LOG_DEBUG   = 7, /* joins and leaves as they happen */
};

/* A log callback: level, one line of text without a trailing newline (valid
 * only during the call), and the ctx given to shmfs_log_set(). It may be
 * called from any thread, with the join table lock held: it must not call
 * libshmfs join functions. */
typedef void (*shmfs_log_fn_t)(enum shmfs_log_level level, const char *msg, void *ctx);

/* Install fn (NULL: back to silence, the default) to receive the library's
 * messages up to and including level max_level. Thread-safe; a message being
 * delivered on another thread when this is called may still go to the old
 * callback. */
SHMFS_API void shmfs_log_set(shmfs_log_fn_t fn, void *ctx, enum shmfs_log_level max_level);

/* ------------------------------------------------------------------ regions */

/* What shmfs_region_info() reports. */
typedef struct shmfs_region_info {
	char     path[PATH_MAX];    /* absolute path in the shmfs tree; "" when the region was named by its backing path */
	char     backing[PATH_MAX]; /* absolute path of the backing file */
	char     name[SHMFS_REGION_NAME_MAX + 1];
	char     page_type[16];     /* "normal", "huge" or "gigantic" */
	int      node;              /* node directory holding it in the tree; -1 when named by its backing path */
	uint64_t page_sz;           /* bytes per page, from the kernel (statfs of the backing file) */
	uint64_t page_cnt;          /* pages of sz, rounded up */
	uint64_t sz;                /* bytes of the backing file: whole pages, what a join maps (the
				     * region's own byte size, maybe less, is st_size in the tree) */
	dev_t    dev;               /* identity of the backing file */
	ino_t    ino;
	uid_t    uid;               /* owner, group and mode of the backing file (the ones the kernel enforces) */
	gid_t    gid;
	mode_t   mode;              /* permission bits only */
} shmfs_region_info_t;

/* Create the region at path (absolute or relative to the mount; it must name
 * TYPE/nodeN/NAME in a shmfs tree: the node directory decides where the pages
 * go) with sz bytes and permission bits mode (the umask applies), owned by the
 * caller. sz must be a multiple of the type's page size; 0 makes an empty
 * region. Nothing is left behind on failure: if sizing fails the new region
 * is removed again.
 * 0 on success, or:
 *   -EINVAL   path or name invalid, a bare name (no node given), a mode with
 *             bits outside 07777, sz not a multiple of the page size;
 *   -EEXIST   a region of that name already exists on that page type (on any node);
 *   -ENOTSUP  the parent directory is not a node directory of a shmfs tree
 *             (a backing path is refused too: only the daemon creates files
 *             in the backing store);
 *   -ENOMEM, -ENOSPC  the node's pool cannot supply sz bytes;
 *   -EACCES   the caller may not create files there.
 * Thread-safe. */
SHMFS_API int shmfs_region_create(const char *path, uint64_t sz, mode_t mode);

/* Region lifetime (user.shmfs.lifetime). By default a region is persistent:
 * like a file in /dev/shm it stays until it is removed, and no clean (shmfsctl
 * clean, .control clean) ever takes it. With SHMFS_CREATE_PROCESS_LIFETIME it
 * belongs to the creating process instead (REDHAWK's shared-memory heaps):
 * once that process is gone (its pid and start time, so a reused pid or a
 * zombie does not count as alive) and no process maps the region, it is
 * orphaned and clean removes it. Joining it keeps it alive while joined. */
#define SHMFS_CREATE_PROCESS_LIFETIME 0x1u

/* shmfs_region_create() with flags (SHMFS_CREATE_*). The lifetime is set
 * before the region is sized, so it is never seen persistent by a clean.
 * Errors as shmfs_region_create(), and:
 *   -EINVAL   an unknown flag;
 *   -ENOTSUP  the daemon does not know region lifetimes (nothing is left).
 * Thread-safe. */
SHMFS_API int shmfs_region_create_flags(const char *path, uint64_t sz, mode_t mode, unsigned flags);

/* Creation options beyond 0.1 (only shmfs_region_create_opts() takes them;
 * shmfs_region_create_flags() refuses them with -EINVAL). */
#define SHMFS_CREATE_DISOWN     0x2u /* persistent, and recorded with no creator process
				      * (user.shmfs.creator_pid 0): a tool creating a region for
				      * others, like shmfsctl or fd_shmem_ctl. Not with PROCESS_LIFETIME. */
#define SHMFS_CREATE_EXACT_MODE 0x4u /* mode is applied as given; the umask does not apply */

/* Pages of a region on one NUMA node (a placement split, below). */
struct shmfs_node_pages {
	uint64_t page_cnt; /* pages of the region's page type, at least 1 */
	int      node;     /* node index, as in nodeN */
};

/* Most entries a placement split may have. */
#define SHMFS_SPLIT_MAX 64

/* Options of shmfs_region_create_opts(). Set sz = sizeof(struct
 * shmfs_region_create_opts): later versions may add fields without
 * breaking callers. Zeroed fields mean "not used". */
struct shmfs_region_create_opts {
	size_t                         sz;
	unsigned                       flags;     /* SHMFS_CREATE_* */
	const struct shmfs_node_pages *split;     /* NULL: every page on the node of the path's
						   * directory; else split_cnt runs, in order: the
						   * first split[0].page_cnt pages on split[0].node,
						   * the next on split[1].node..., page counts summing
						   * to sz / page size (user.shmfs.policy "split:") */
	size_t                         split_cnt; /* 0 when split is NULL; at most SHMFS_SPLIT_MAX */
};

/* shmfs_region_create() with options (opts may be NULL: the defaults of
 * shmfs_region_create). The steps, in order: create the file (O_EXCL), apply
 * the exact mode, set the lifetime or disown it, set the split, size it. If
 * any step fails the region is removed again: nothing is left behind.
 * Errors as shmfs_region_create(), and:
 *   -EINVAL   opts->sz too small, an unknown flag, PROCESS_LIFETIME with
 *             DISOWN, split and split_cnt disagreeing (one NULL or 0, not the
 *             other), more than SHMFS_SPLIT_MAX runs, a negative node, a run
 *             of 0 pages, page counts not summing to sz / page size; the
 *             daemon refusing the split (a node it does not have);
 *   -ENOTSUP  the daemon does not know region lifetimes, disowning or splits.
 * Thread-safe. Since 0.2. */
SHMFS_API int shmfs_region_create_opts(const char *path, uint64_t sz, mode_t mode,
				       const struct shmfs_region_create_opts *opts);

/* The absolute path in the shmfs tree that path names, into ret_path
 * (ret_path_sz bytes), found without asking the daemon, so it finds regions
 * the caller may not read too: an absolute path is taken as it is, a path
 * with a slash is taken relative to the mount, a bare name is searched like
 * the PATHS section says (the first TYPE/nodeN/NAME that exists wins). A
 * backing path is returned as it is. 0, or the path errors above (-ENOENT
 * for a bare name nothing holds; -ENAMETOOLONG also when ret_path_sz is too
 * small). Never logs. Thread-safe. Since 0.2. */
SHMFS_API int shmfs_region_path(const char *path, char *ret_path, size_t ret_path_sz);

/* The mount libshmfs uses: $SHMFS_PATH when set and not empty, else
 * SHMFS_DEFAULT_PATH. The string is valid until the environment changes.
 * Thread-safe as getenv(3). Since 0.2. */
SHMFS_API const char *shmfs_mount_path(void);

/* Remove the region at path (any path form except a backing path). The name
 * goes at once; the memory is freed when the last mapping of it goes, so
 * joins of it stay valid (shm_unlink semantics).
 * 0 on success, or the path errors above, or:
 *   -ENOTSUP  a backing path (only the daemon removes files from the backing store);
 *   -EACCES, -EPERM  the caller may not remove it (the node directory's permissions).
 * Thread-safe. */
SHMFS_API int shmfs_region_unlink(const char *path);

/* Describe the region at path (any path form) into *ret_info without mapping
 * it. 0 on success or the path errors above. Never logs. Thread-safe. */
SHMFS_API int shmfs_region_info(const char *path, shmfs_region_info_t *ret_info);

/* -------------------------------------------------------------------- joins */

/* Join flags. Exactly one of RDONLY and RDWR; the options may be or'ed in. */
#define SHMFS_JOIN_RDONLY      0x0u /* map PROT_READ: writes fault (SIGSEGV) */
#define SHMFS_JOIN_RDWR        0x1u /* map PROT_READ|PROT_WRITE: needs write permission on the region */
#define SHMFS_JOIN_MLOCK       0x2u /* mlock(2) the whole region: every page resident and never swapped */
#define SHMFS_JOIN_DONTDUMP    0x4u /* madvise(MADV_DONTDUMP): keep the region out of core dumps */
#define SHMFS_JOIN_RANDOM_ADDR 0x8u /* map at a random page-aligned address (like fd_shmem) instead of the
				     * kernel's choice, so addresses differ from run to run and between processes */

/* A join as the join table knows it. Returned by value (a snapshot): it does
 * not change when the table does. It is small (128 bytes on 64-bit Linux)
 * and holds no path: it is copied on every query and callback, and a
 * PATH_MAX array would freeze PATH_MAX into the ABI. The region is named by
 * name and identified by dev and ino; shmfs_region_info() by its path gives
 * the backing file's path when one is wanted. Since 0.2 (0.1 carried a
 * backing[PATH_MAX] path; the functions that fill this struct moved to the
 * SHMFS_0.2 version node with it, so a program built against 0.1 fails to
 * load instead of reading past the struct). */
typedef struct shmfs_join_info {
	long     ref_cnt;    /* outstanding joins in this process; -1 while a join or leave callback
				of this region runs (a join or leave of it at that moment is a cycle) */
	void    *join;       /* the join handle: what shmfs_join() returned (the callback's result, or shmem) */
	void    *shmem;      /* first byte of the mapping (or of the anonymous memory) */
	uint64_t page_sz;    /* bytes per page */
	uint64_t page_cnt;   /* pages mapped */
	uint64_t sz;         /* bytes mapped: page_sz * page_cnt */
	unsigned flags;      /* SHMFS_JOIN_* in effect: RDWR when writable, and the options applied */
	int      anonymous;  /* 1 for a join of caller memory (shmfs_join_anonymous), else 0 */
	dev_t    dev;        /* backing file identity (the table's key); 0 for anonymous joins */
	ino_t    ino;
	char     name[SHMFS_REGION_NAME_MAX + 1]; /* region name (the anonymous join's name) */
	uint64_t reserved[2];                     /* zero; room for fields a later 0.x adds */
} shmfs_join_info_t;

/* Called once, when a region is mapped by its first join, with the lock held
 * and info->ref_cnt == -1. Returns the join handle that shmfs_join() hands
 * out (typically a pointer into info->shmem, such as a heap handle), or NULL
 * to make the join fail (the region is unmapped again, errno = ECANCELED);
 * a handle that another join already has fails the join too (EEXIST). It
 * may join and leave other regions; joining or leaving this one is refused as
 * a cycle (EDEADLK). */
typedef void *(*shmfs_join_fn_t)(void *ctx, const shmfs_join_info_t *info);

/* Called once, when the last join of a region is left, with the lock held and
 * info->ref_cnt == -1, before the region is unmapped. The same rules as
 * shmfs_join_fn_t apply. */
typedef void (*shmfs_leave_fn_t)(void *ctx, const shmfs_join_info_t *info);

/* Options of shmfs_join_opts(). Set sz = sizeof(struct shmfs_join_opts): it
 * lets later versions add fields without breaking callers. Zeroed fields
 * mean "not used". */
struct shmfs_join_opts {
	size_t          sz;
	shmfs_join_fn_t join_fn; /* NULL: the join handle is the mapping's address */
	void           *ctx;     /* passed to join_fn */
};

/* Options of shmfs_leave_opts(); same conventions. */
struct shmfs_leave_opts {
	size_t           sz;
	shmfs_leave_fn_t leave_fn;
	void            *ctx;
};

/* Join the region at path (any path form): map its backing file into this
 * process with MAP_SHARED, so every process joining it sees the same bytes,
 * on the region's own pages (2 MiB or 1 GiB pages for huge and gigantic).
 * Returns the join handle (the address of the mapping's first byte).
 *
 * Joins are reference counted per process and keyed by the backing file's
 * identity, so every path form naming one region reaches one mapping: when
 * the region is already joined, its reference count is raised and the same
 * handle returned, with nothing mapped again; a later RDWR join of a region
 * joined RDONLY fails with EROFS (a RDONLY join of a RDWR one succeeds and
 * can write); MLOCK and DONTDUMP given to a later join are applied to the
 * existing mapping; RANDOM_ADDR applies only to the first. Every successful
 * join must be paired with a shmfs_leave(); the region is unmapped when the
 * last one is.
 *
 * The mapping covers st_size of the backing file, rounded up to whole pages,
 * as it is at the first join; a region grown later is not remapped.
 *
 * A region of a shared backing (MOUNT/shared/NAME/REGION, shmfs(8)) maps
 * the shared device at the region's extent. It is resolved from the device's
 * own metadata log, read again at every join (a region its master removed
 * before the join began is ENOENT); the caller's effective uid, gid and
 * groups are checked against the mode, owner and group the log records, as
 * the kernel checks an open, and a refusal there is confirmed by opening the
 * tree file (root and capabilities as the kernel has them). The device must
 * be openable by the caller; the process keeps it open and its log mapped
 * read-only after the first join of the backing.
 *
 * NULL with errno set on failure, nothing mapped and the table unchanged:
 *   EINVAL   flags has unknown bits, or the region is empty (size 0);
 *   EACCES   RDWR asked on a region the caller may not write, or the
 *            caller may not read it;
 *   EROFS    RDWR asked while the region is joined RDONLY in this process;
 *   EDEADLK  the region is being joined or left by a callback on this
 *            thread's stack (a cycle);
 *   ENOMEM   no address space, MLOCK beyond RLIMIT_MEMLOCK (also EPERM), or
 *            RANDOM_ADDR found no free spot in 1000 tries;
 *   ECANCELED  the join callback returned NULL;
 *   EEXIST   the join callback returned a handle another join already has;
 *   and the path errors above.
 * Thread-safe. */
SHMFS_API void *shmfs_join(const char *path, unsigned flags);

/* shmfs_join() with options (opts may be NULL) and a snapshot of the join
 * into *opt_info when it is not NULL. The join callback runs only when this
 * join maps the region (the first join); later joins return its handle. */
SHMFS_API void *shmfs_join_opts(const char *path, unsigned flags,
				const struct shmfs_join_opts *opts, shmfs_join_info_t *opt_info);

/* Leave a join: join is a handle returned by shmfs_join(). Lowers the
 * reference count; the last leave runs the leave callback (shmfs_leave_opts)
 * and unmaps the region. Using the memory after the last leave is a bug
 * (it faults). 0 on success, or:
 *   -EINVAL   join is NULL, not a join handle of this process, or an
 *             anonymous join (use shmfs_leave_anonymous);
 *   -EDEADLK  the region is being joined or left by a callback on this
 *             thread's stack (a cycle); nothing changed;
 *   -errno of munmap(2) (the join is removed from the table all the same).
 * Thread-safe. */
SHMFS_API int shmfs_leave(void *join);

/* shmfs_leave() with options (opts may be NULL) and a snapshot of the join
 * as it was just before this leave into *opt_info when it is not NULL. */
SHMFS_API int shmfs_leave_opts(void *join, const struct shmfs_leave_opts *opts,
			       shmfs_join_info_t *opt_info);

/* Record memory the caller mapped itself (mem, page_cnt pages of page_sz
 * bytes) as a join named name with handle join, so that queries and
 * iteration see it like any other join (fd_shmem_join_anonymous). The
 * library never maps or unmaps it. name is a region name, unique among the
 * anonymous joins; flags is RDONLY or RDWR (what the caller mapped; options
 * are refused). page_sz is one the kernel offers (normal, huge or gigantic)
 * and mem is aligned to it. The join starts with reference count 1 and
 * cannot be raised: shmfs_join() knows only files.
 * 0 on success, or:
 *   -EINVAL  a NULL or invalid argument, an unsupported page_sz, a misaligned
 *            mem, page_cnt 0 or overflowing the address space, option flags;
 *   -EEXIST  name, join or any byte of the memory already belongs to a join.
 * Thread-safe. */
SHMFS_API int shmfs_join_anonymous(const char *name, unsigned flags, void *join, void *mem,
				   uint64_t page_sz, uint64_t page_cnt);

/* Remove the anonymous join with handle join (memory untouched); a snapshot
 * of it goes to *opt_info (with ref_cnt 0) when not NULL. 0 on success, or
 * -EINVAL when join is NULL or not the handle of an anonymous join. */
SHMFS_API int shmfs_leave_anonymous(void *join, shmfs_join_info_t *opt_info);

/* Queries. Each returns 0 and a snapshot in *opt_info (when not NULL) if the
 * join exists, else -ENOENT. They never log and never change anything.
 * Thread-safe. */

/* The join of the region at path (any path form; it is resolved like
 * shmfs_join does, so this costs the same lookups but maps nothing), or the
 * anonymous join named path when path is a bare name of one. Also the path
 * errors above. */
SHMFS_API int shmfs_join_query_by_path(const char *path, shmfs_join_info_t *opt_info);

/* The join whose handle is join. -EINVAL when join is NULL. */
SHMFS_API int shmfs_join_query_by_join(const void *join, shmfs_join_info_t *opt_info);

/* A join whose memory overlaps [addr, addr + sz). -ENOENT when sz is 0;
 * -EINVAL when the range wraps around the address space. When several joins
 * overlap the range, which one is reported is unspecified. */
SHMFS_API int shmfs_join_query_by_addr(const void *addr, size_t sz, shmfs_join_info_t *opt_info);

/* Number of joins (regions and anonymous) in this process. */
SHMFS_API size_t shmfs_join_cnt(void);

/* Call fn once per join with a snapshot taken when the iteration began, in
 * no particular order; fn may join and leave (the snapshot does not change).
 * fn returns 0 to go on; a non-zero return stops the iteration and is
 * returned. 0 when every join was visited, -EINVAL when fn is NULL, -ENOMEM
 * when the snapshot cannot be allocated. */
SHMFS_API int shmfs_join_iter(int (*fn)(const shmfs_join_info_t *info, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif
