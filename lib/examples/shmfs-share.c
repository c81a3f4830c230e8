/* shmfs-share.c - the smallest useful libshmfs program: two processes share
 * text through a region. "shmfs-share write PATH TEXT" joins the region
 * read-write and stores TEXT (NUL-terminated) at its start; "shmfs-share read
 * PATH" joins it read-only and prints what is there. PATH is any form
 * libshmfs accepts: /mnt/shmfs/huge/node0/demo, huge/node0/demo, demo, or a
 * backing path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <shmfs/shmfs.h>

static int usage(void)
{
	fprintf(stderr,
		"usage: shmfs-share write PATH TEXT   store TEXT at the start of the region\n"
		"       shmfs-share read PATH         print the text stored there\n"
		"PATH: /mnt/shmfs/huge/node0/NAME, huge/node0/NAME, NAME (mount from SHMFS_PATH)\n");
	return 2;
}

/* What to do about a failed join, for a person. */
static const char *hint(int err)
{
	switch (err) {
	case ENOENT:    return "no such region; create one with: truncate -s 2M /mnt/shmfs/huge/node0/NAME";
	case ENOTSUP:   return "not a shmfs region (a file outside shmfs, or a control file)";
	case EISDIR:    return "a directory, not a region";
	case EACCES:    return "permission denied by the region's mode (see ls -l)";
	case EINVAL:    return "empty region (size it with truncate) or a bad name";
	case ENOTCONN:  return "the shmfs daemon is gone; join the backing path instead (getfattr -n user.shmfs.backing)";
	case ESTALE:    return "the backing file changed under the daemon; try again";
	default:        return NULL;
	}
}

static void *join_or_complain(const char *path, unsigned flags)
{
	void *p = shmfs_join(path, flags);

	if (!p) {
		int err = errno;
		const char *h = hint(err);

		fprintf(stderr, "shmfs-share: cannot join '%s': %s%s%s\n", path, strerror(err),
			h ? ": " : "", h ? h : "");
	}
	return p;
}

static int do_write(const char *path, const char *text)
{
	shmfs_join_info_t info;
	size_t len = strlen(text);
	char *p = join_or_complain(path, SHMFS_JOIN_RDWR);

	if (!p)
		return 1;
	shmfs_join_query_by_join(p, &info);
	if (len + 1 > info.sz) {
		fprintf(stderr, "shmfs-share: '%s' holds %llu bytes, the text needs %zu\n", path,
			(unsigned long long)info.sz, len + 1);
		shmfs_leave(p);
		return 1;
	}
	memcpy(p, text, len + 1);
	shmfs_leave(p);
	return 0;
}

static int do_read(const char *path)
{
	shmfs_join_info_t info;
	const char *p = join_or_complain(path, SHMFS_JOIN_RDONLY);

	if (!p)
		return 1;
	shmfs_join_query_by_join(p, &info);
	/* Never trust the region to hold a terminated string. */
	printf("%.*s\n", (int)strnlen(p, info.sz < 65536 ? info.sz : 65536), p);
	shmfs_leave((void *)p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return do_read(argv[2]);
	return usage();
}
