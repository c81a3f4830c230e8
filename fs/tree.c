/* tree.c - the layout of the tree: the inode numbers of the root, one
 * directory per page type, one per memory node (CPU-less nodes included)
 * and the control files, their attributes, the names in each directory (one
 * iterator for lookup and listing), and the text of a control file write. */
#include "shmfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "proc.h"
#include "util.h"
#include "xattr_names.h"

uint64_t shmfs_page_sz(const struct shmfs_fs *fs, enum shmfs_page_kind k)
{
	return fs->type[k].pt->page_sz;
}

bool shmfs_node_valid(const struct shmfs_fs *fs, int node)
{
	return node >= 0 && node < SHMFS_NODE_MAX && shmfs_bit_test(fs->nodes.bits, (size_t)node);
}

static bool kind_present(const struct shmfs_fs *fs, uint64_t k)
{
	return k < SHMFS_PAGE_KIND_CNT && fs->type[k].pt;
}

void shmfs_ino_decode(const struct shmfs_fs *fs, uint64_t ino, struct shmfs_ino_info *ret)
{
	struct shmfs_ino_info i = { .obj = SHMFS_OBJ_NONE, .node = -1 };

	if (ino == SHMFS_INO_ROOT) {
		i.obj = SHMFS_OBJ_ROOT;
	} else if (ino == SHMFS_INO_STATUS) {
		i.obj = SHMFS_OBJ_STATUS;
	} else if (ino == SHMFS_INO_CONTROL) {
		i.obj = SHMFS_OBJ_CONTROL;
	} else if (ino == SHMFS_INO_QUOTA) {
		i.obj = SHMFS_OBJ_QUOTA;
	} else if (ino >= SHMFS_INO_TYPE(0) && ino < SHMFS_INO_TYPE(SHMFS_PAGE_KIND_CNT)) {
		if (kind_present(fs, ino - SHMFS_INO_TYPE(0))) {
			i.obj = SHMFS_OBJ_TYPE;
			i.kind = (enum shmfs_page_kind)(ino - SHMFS_INO_TYPE(0));
		}
	} else if (ino >> SHMFS_INO_REGION_SHIFT) {
		uint64_t k = (ino >> SHMFS_INO_REGION_SHIFT) - 1;
		if (kind_present(fs, k)) {
			i.obj = SHMFS_OBJ_REGION;
			i.kind = (enum shmfs_page_kind)k;
		}
	} else if (ino & SHMFS_INO_NODE_BASE) {
		uint64_t k = (ino >> 24) & 0xff, node = (ino >> 4) & 0xfffff, sub = ino & 0xf;
		uint64_t rest = ino & ~(SHMFS_INO_NODE_BASE | (0xffULL << 24) | (0xfffffULL << 4) | 0xf);
		if (!rest && kind_present(fs, k) && shmfs_node_valid(fs, (int)node)) {
			i.kind = (enum shmfs_page_kind)k;
			i.node = (int)node;
			if (sub == SHMFS_SUB_DIR)
				i.obj = SHMFS_OBJ_NODE;
			else if (shmfs_page_type_is_huge(fs->type[k].pt) && sub == SHMFS_SUB_NR_PAGES)
				i.obj = SHMFS_OBJ_NR_PAGES;
			else if (shmfs_page_type_is_huge(fs->type[k].pt) && sub == SHMFS_SUB_FREE_PAGES)
				i.obj = SHMFS_OBJ_FREE_PAGES;
		}
	}
	*ret = i;
}

int shmfs_tree_stat(struct shmfs_fs *fs, const struct shmfs_ino_info *info, uint64_t ino,
		    struct stat *ret)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	/* the daemon's owner: root, or the user running it without root */
	st.st_uid = fs->is_root ? 0 : geteuid();
	st.st_gid = fs->is_root ? 0 : getegid();
	st.st_atim = st.st_mtim = st.st_ctim = fs->tree_time;
	st.st_blksize = 4096;
	switch (info->obj) {
	case SHMFS_OBJ_ROOT:
		st.st_mode = S_IFDIR | 0755;
		st.st_nlink = 2 + SHMFS_PAGE_KIND_CNT;
		break;
	case SHMFS_OBJ_TYPE:
		st.st_mode = S_IFDIR | 0755;
		st.st_nlink = 2;
		break;
	case SHMFS_OBJ_NODE:
		/* anyone may make regions; the sticky bit keeps them the owner's */
		st.st_mode = S_IFDIR | 01777;
		st.st_nlink = 2;
		st.st_blksize = (blksize_t)fs->type[info->kind].pt->page_sz;
		break;
	case SHMFS_OBJ_STATUS:
	case SHMFS_OBJ_FREE_PAGES:
		st.st_mode = S_IFREG | 0444;
		st.st_nlink = 1;
		break;
	case SHMFS_OBJ_NR_PAGES:
	case SHMFS_OBJ_QUOTA:
		st.st_mode = S_IFREG | 0644;
		st.st_nlink = 1;
		break;
	case SHMFS_OBJ_CONTROL:
		st.st_mode = S_IFREG | 0200;
		st.st_nlink = 1;
		break;
	default:
		return -ENOENT;
	}
	if (S_ISDIR(st.st_mode) && fs->have_dir_mode) {
		st.st_mode = S_IFDIR | fs->dir_mode;
		st.st_uid = fs->dir_uid;
		st.st_gid = fs->dir_gid;
	}
	*ret = st;
	return 0;
}

/* ------------------------------------------------------------ lookup */

static int parse_node_name(const char *name, int *ret)
{
	uint64_t n;

	if (strncmp(name, "node", 4) != 0 || shmfs_parse_u64(name + 4, &n) < 0 || n >= SHMFS_NODE_MAX)
		return -ENOENT;
	*ret = (int)n;
	return 0;
}

int shmfs_tree_lookup(struct shmfs_fs *fs, uint64_t parent, const char *name, uint64_t *ret_ino,
		      struct shmfs_region **ret_region)
{
	struct shmfs_ino_info pi;
	struct shmfs_region *r;
	int node;

	*ret_region = NULL;
	shmfs_ino_decode(fs, parent, &pi);
	switch (pi.obj) {
	case SHMFS_OBJ_ROOT:
		if (strcmp(name, SHMFS_FILE_STATUS) == 0) {
			*ret_ino = SHMFS_INO_STATUS;
			return 0;
		}
		if (strcmp(name, SHMFS_FILE_CONTROL) == 0) {
			*ret_ino = SHMFS_INO_CONTROL;
			return 0;
		}
		if (strcmp(name, SHMFS_FILE_QUOTA) == 0) {
			*ret_ino = SHMFS_INO_QUOTA;
			return 0;
		}
		for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
			if (fs->type[k].pt && strcmp(name, fs->type[k].pt->name) == 0) {
				*ret_ino = SHMFS_INO_TYPE(k);
				return 0;
			}
		}
		return -ENOENT;
	case SHMFS_OBJ_TYPE:
		if (parse_node_name(name, &node) < 0 || !shmfs_node_valid(fs, node))
			return -ENOENT;
		*ret_ino = SHMFS_INO_NODE(pi.kind, node, SHMFS_SUB_DIR);
		return 0;
	case SHMFS_OBJ_NODE:
		if (shmfs_page_type_is_huge(fs->type[pi.kind].pt)) {
			if (strcmp(name, SHMFS_FILE_NR_PAGES) == 0) {
				*ret_ino = SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_NR_PAGES);
				return 0;
			}
			if (strcmp(name, SHMFS_FILE_FREE_PAGES) == 0) {
				*ret_ino = SHMFS_INO_NODE(pi.kind, pi.node, SHMFS_SUB_FREE_PAGES);
				return 0;
			}
		}
		pthread_mutex_lock(&fs->lock);
		r = shmfs_table_find_locked(fs, pi.kind, name);
		if (r && r->meta.node == pi.node) {
			r->refs++;
			*ret_ino = r->ino;
			*ret_region = r;
			pthread_mutex_unlock(&fs->lock);
			return 0;
		}
		pthread_mutex_unlock(&fs->lock);
		return -ENOENT;
	case SHMFS_OBJ_NONE:
		return -ESTALE;
	default:
		return -ENOTDIR;
	}
}

/* ------------------------------------------------------------ control file text */

int shmfs_control_text(const char *buf, size_t len, char *out, size_t out_sz)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len >= out_sz)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		/* one token: no blanks, no second line, nothing unprintable */
		if (c <= ' ' || c >= 0x7f)
			return -EINVAL;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}
