/* xattr_all.c - user.shmfs.all: every attribute of ours that a region lists,
 * each as its own getxattr would give it, in one reply. shmfsctl info read
 * about 14 attributes per region, one FUSE round trip each; with this a
 * listing of N regions costs N requests. Built on xattr.c (its list and its
 * getters), so the answers are the same truths, computed at the same
 * moment; served to ops.c's getxattr. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xattr_names.h"

int shmfs_xattr_all_get(struct shmfs_fs *fs, uint64_t ino, const struct fuse_ctx *ctx,
			char **ret_val, size_t *ret_len)
{
	struct shmfs_ino_info info;
	struct shmfsd_region *r;
	char *list = NULL, *s = NULL;
	size_t list_len = 0, len = 0;
	FILE *f;
	int rc;

	shmfs_ino_decode(fs, ino, &info);
	if (info.obj == SHMFS_OBJ_NONE)
		return -ENOENT;
	if (info.obj != SHMFS_OBJ_REGION)
		return -ENODATA;
	r = shmfsd_region_get(fs, ino);
	if (!r)
		return -ENOENT;
	rc = shmfs_xattr_list(fs, ino, &list, &list_len);
	if (rc < 0)
		goto out;
	f = open_memstream(&s, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t o = 0; o < list_len; o += strlen(list + o) + 1) {
		const char *name = list + o;
		char *val = NULL;
		size_t val_len = 0;
		int g;

		if (!shmfs_xattr_is_ours(name))
			continue; /* the user's own attributes: asked for by name */
		g = shmfs_xattr_region_get(fs, r, ctx, name, &val, &val_len);
		if (g == -ENODATA)
			continue; /* gone since the list (a heap closed) */
		if (g < 0) {
			rc = g;
			break;
		}
		/* our values are text: a NUL in one would end it early */
		fwrite(name, 1, strlen(name) + 1, f);
		fwrite(val, 1, strnlen(val, val_len), f);
		fputc('\0', f);
		free(val);
	}
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0) {
		*ret_val = s;
		*ret_len = len;
		s = NULL;
	}
out:
	free(s);
	free(list);
	shmfsd_region_put(fs, r, 1);
	return rc;
}
