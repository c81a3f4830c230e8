/* region.c - region operations by path: create (open O_CREAT, the lifetime
 * asked for, ftruncate on the shmfs tree, undone if any step fails), unlink,
 * and info (what the kernel says about the backing file, located through
 * join_path.c). */
#include <shmfs/shmfs.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "join_path.h"
#include "name.h"
#include "util.h"
#include "xattr_names.h"

/* The directory part of path (no trailing slash), into buf. */
static int parent_dir(const char *path, char *buf, size_t buf_sz, const char **ret_name)
{
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) >= buf_sz)
		return -EINVAL;
	memcpy(buf, path, (size_t)(slash - path));
	buf[slash - path] = '\0';
	if (!buf[0])
		strcpy(buf, "/");
	*ret_name = slash + 1;
	return 0;
}

SHMFS_API int shmfs_region_create(const char *path, uint64_t sz, mode_t mode)
{
	return shmfs_region_create_opts(path, sz, mode, NULL);
}

SHMFS_API int shmfs_region_create_flags(const char *path, uint64_t sz, mode_t mode, unsigned flags)
{
	struct shmfs_region_create_opts opts = { .sz = sizeof(opts), .flags = flags };

	/* the 0.1 entry point takes the 0.1 flags only */
	if (flags & ~SHMFS_CREATE_PROCESS_LIFETIME)
		return -EINVAL;
	return shmfs_region_create_opts(path, sz, mode, &opts);
}

#define CREATE_FLAGS (SHMFS_CREATE_PROCESS_LIFETIME | SHMFS_CREATE_DISOWN | SHMFS_CREATE_EXACT_MODE)

/* The caller's options in this version's layout: a shorter struct (an older
 * caller) reads as zeroes beyond its end. */
static int create_opts_get(const struct shmfs_region_create_opts *opts,
			   struct shmfs_region_create_opts *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!opts)
		return 0;
	if (opts->sz < offsetof(struct shmfs_region_create_opts, flags) + sizeof(opts->flags))
		return -EINVAL;
	memcpy(ret, opts, opts->sz < sizeof(*ret) ? opts->sz : sizeof(*ret));
	if (ret->flags & ~CREATE_FLAGS ||
	    (ret->flags & SHMFS_CREATE_PROCESS_LIFETIME && ret->flags & SHMFS_CREATE_DISOWN) ||
	    !ret->split != !ret->split_cnt || ret->split_cnt > SHMFS_SPLIT_MAX)
		return -EINVAL;
	return 0;
}

/* The split as user.shmfs.policy takes it: "split:N0=C0,N1=C1", its runs
 * checked against the region's page_cnt pages. */
static int split_policy(const struct shmfs_region_create_opts *o, uint64_t page_cnt, char *buf,
			size_t buf_sz)
{
	uint64_t left = page_cnt;
	size_t len;

	len = (size_t)snprintf(buf, buf_sz, "split:");
	for (size_t i = 0; i < o->split_cnt; i++) {
		const struct shmfs_node_pages *p = &o->split[i];
		int n;

		if (p->node < 0 || p->page_cnt == 0 || p->page_cnt > left)
			return -EINVAL;
		left -= p->page_cnt;
		n = snprintf(buf + len, buf_sz - len, "%s%d=%llu", i ? "," : "", p->node,
			     (unsigned long long)p->page_cnt);
		if (n < 0 || (size_t)n >= buf_sz - len)
			return -EINVAL;
		len += (size_t)n;
	}
	return left ? -EINVAL : 0;
}

/* Set a region xattr the daemon may not know: a refusal for that reason is
 * -ENOTSUP. */
static int set_region_xattr(int fd, const char *name, const char *val)
{
	if (fsetxattr(fd, name, val, strlen(val), 0) == 0)
		return 0;
	return errno == EPERM || errno == EOPNOTSUPP ? -ENOTSUP : -errno;
}

/* The steps after the file exists; any failure is undone by the caller. */
static int create_setup(int fd, uint64_t sz, mode_t mode, const struct shmfs_region_create_opts *o,
			const char *policy)
{
	int r;

	/* the exact mode, not what the umask left */
	if (o->flags & SHMFS_CREATE_EXACT_MODE && fchmod(fd, mode) < 0)
		return -errno;
	/* asked while this process, the creator, runs: the one moment the
	 * daemon accepts it */
	if (o->flags & SHMFS_CREATE_PROCESS_LIFETIME &&
	    (r = set_region_xattr(fd, SHMFS_XATTR_LIFETIME, "process")) < 0)
		return r;
	if (o->flags & SHMFS_CREATE_DISOWN && (r = set_region_xattr(fd, SHMFS_XATTR_CREATOR_PID, "0")) < 0)
		return r;
	/* the daemon takes a split only while the region is empty */
	if (policy[0] && (r = set_region_xattr(fd, SHMFS_XATTR_POLICY, policy)) < 0)
		return r;
	if (sz && ftruncate(fd, (off_t)sz) < 0)
		return -errno;
	return 0;
}

SHMFS_API int shmfs_region_create_opts(const char *path, uint64_t sz, mode_t mode,
				       const struct shmfs_region_create_opts *opts)
{
	const struct shmfs_page_types *types = shmfs_lib_page_types();
	char tree[PATH_MAX], dir[PATH_MAX], type[32], policy[SHMFS_SPLIT_MAX * 32] = "";
	struct shmfs_region_create_opts o;
	_cleanup_close_ int fd = -1;
	const char *name;
	uint64_t page_sz = 0;
	ssize_t n;
	int r;

	r = shmfs_tree_path(path, tree, sizeof(tree));
	if (r < 0)
		return r;
	if (mode & ~(mode_t)07777 || sz > (uint64_t)INT64_MAX)
		return -EINVAL;
	r = create_opts_get(opts, &o);
	if (r < 0)
		return r;
	r = parent_dir(tree, dir, sizeof(dir), &name);
	if (r < 0)
		return r;
	r = shmfs_name_check(name);
	if (r < 0)
		return r;
	/* Only node directories of a shmfs tree carry a page type: this keeps
	 * create from making plain files anywhere else, the backing store
	 * included. */
	n = getxattr(dir, SHMFS_XATTR_PAGE_TYPE, type, sizeof(type) - 1);
	if (n < 0)
		return errno == ENODATA || errno == EOPNOTSUPP || errno == ERANGE ? -ENOTSUP : -errno;
	type[n] = '\0';
	/* the tree takes any byte size; regions made here are whole pages, as
	 * fd_shmem makes them and joins map them */
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		if (types->type[k].name && strcmp(types->type[k].name, type) == 0)
			page_sz = types->type[k].page_sz;
	if (page_sz == 0)
		return -ENOTSUP;
	if (sz % page_sz)
		return -EINVAL;
	if (o.split_cnt && (r = split_policy(&o, sz / page_sz, policy, sizeof(policy))) < 0)
		return r;

	fd = open(tree, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = create_setup(fd, sz, mode, &o, policy);
	if (r < 0)
		/* Leave nothing half-made: the new region goes again. */
		unlink(tree);
	return r;
}

SHMFS_API int shmfs_region_unlink(const char *path)
{
	struct shmfs_region_ref ref;
	int r = shmfs_region_resolve(path, &ref);

	if (r < 0)
		return r;
	if (!ref.tree[0])
		return -ENOTSUP;
	if (unlink(ref.tree) < 0)
		return -errno;
	return 0;
}

SHMFS_API int shmfs_region_info(const char *path, shmfs_region_info_t *ret_info)
{
	const struct shmfs_page_types *types = shmfs_lib_page_types();
	struct shmfs_region_ref ref;
	shmfs_region_info_t info;
	struct statfs sfs;
	struct stat st;
	int r;

	if (!ret_info)
		return -EINVAL;
	r = shmfs_region_resolve(path, &ref);
	if (r < 0)
		return r;
	if (stat(ref.backing, &st) < 0 || statfs(ref.backing, &sfs) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) || (ref.check_fs && sfs.f_type != HUGETLBFS_MAGIC && sfs.f_type != TMPFS_MAGIC))
		return -ENOTSUP;
	if (ref.have_id && (st.st_dev != ref.dev || st.st_ino != ref.ino))
		return -ESTALE;

	memset(&info, 0, sizeof(info));
	snprintf(info.path, sizeof(info.path), "%s", ref.tree);
	snprintf(info.backing, sizeof(info.backing), "%s", ref.backing);
	snprintf(info.name, sizeof(info.name), "%s", ref.name);
	snprintf(info.page_type, sizeof(info.page_type), "%s", types->type[ref.kind].name);
	info.node = ref.node;
	info.page_sz = shmfs_statfs_page_size(&sfs);
	info.sz = (uint64_t)st.st_size;
	info.page_cnt = (info.sz + info.page_sz - 1) / info.page_sz;
	info.dev = st.st_dev;
	info.ino = st.st_ino;
	info.uid = st.st_uid;
	info.gid = st.st_gid;
	info.mode = st.st_mode & 07777;
	*ret_info = info;
	return 0;
}
