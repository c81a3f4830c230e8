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
	return shmfs_region_create_flags(path, sz, mode, 0);
}

SHMFS_API int shmfs_region_create_flags(const char *path, uint64_t sz, mode_t mode, unsigned flags)
{
	const struct shmfs_page_types *types = shmfs_lib_page_types();
	char tree[PATH_MAX], dir[PATH_MAX], type[32];
	_cleanup_close_ int fd = -1;
	const char *name;
	uint64_t page_sz = 0;
	ssize_t n;
	int r;

	r = shmfs_tree_path(path, tree, sizeof(tree));
	if (r < 0)
		return r;
	if (mode & ~(mode_t)07777 || sz > (uint64_t)INT64_MAX || flags & ~SHMFS_CREATE_PROCESS_LIFETIME)
		return -EINVAL;
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

	fd = open(tree, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* asked while this process, the creator, runs: the one moment the
	 * daemon accepts it */
	if (flags & SHMFS_CREATE_PROCESS_LIFETIME &&
	    fsetxattr(fd, SHMFS_XATTR_LIFETIME, "process", 7, 0) < 0) {
		r = errno == EPERM || errno == EOPNOTSUPP ? -ENOTSUP : -errno;
		unlink(tree);
		return r;
	}
	if (sz && ftruncate(fd, (off_t)sz) < 0) {
		r = -errno;
		/* Leave nothing half-made: the empty region goes again. */
		unlink(tree);
		return r;
	}
	return 0;
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
