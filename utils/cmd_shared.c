/* cmd_shared.c - `shmfsctl shared`: format a shared backing (a DAX device
 * or a file several hosts map) with a superblock and an empty metadata log,
 * and dump what its log holds (`ls`). Works on the device itself, not
 * through a mount: formatting comes before any daemon uses it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "parse.h"
#include "shared_dev.h"
#include "shared_log.h"
#include "util.h"

enum { OPT_SIZE, OPT_LOG_SIZE, OPT_MASTER, OPT_FORCE };

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void uuid_text(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static int run_format(struct ctl *c, const struct ctl_args *a, const char *path)
{
	uint64_t want = 0, log_size = 0, size;
	char host[256] = "";
	const char *master;
	_cleanup_close_ int fd = -1;
	uint8_t uuid[16];
	struct shmfs_shared_sb old;
	struct stat st;
	void *base;
	int r;

	if (a->opt[OPT_SIZE] && (shmfs_parse_size(a->val[OPT_SIZE], &want) < 0 || want == 0))
		return ctl_usage("shared", "--size '%s' is not a size (512M, 4G)", a->val[OPT_SIZE]);
	if (a->opt[OPT_LOG_SIZE] &&
	    (shmfs_parse_size(a->val[OPT_LOG_SIZE], &log_size) < 0 || log_size == 0 ||
	     log_size % SHMFS_SHARED_ALIGN))
		return ctl_usage("shared", "--log-size '%s' is not a whole number of 2 MiB",
				 a->val[OPT_LOG_SIZE]);
	if (a->opt[OPT_MASTER]) {
		master = a->val[OPT_MASTER];
	} else {
		if (gethostname(host, sizeof(host) - 1) < 0)
			return ctl_fail(-errno, "shared", "this host", NULL, "cannot read the host name");
		master = host;
	}
	/* a file that does not exist yet is made (a test, a tmpfs or hugetlbfs file) */
	if (stat(path, &st) < 0 && errno == ENOENT) {
		int nfd;

		if (!a->opt[OPT_SIZE])
			return ctl_usage("shared", "'%s' does not exist: give --size to make it", path);
		nfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (nfd < 0)
			return ctl_fail(-errno, "shared", path, NULL, "cannot create");
		close(nfd);
	}
	r = shmfs_shared_dev_open(path, false, &fd, &size);
	if (r < 0)
		return ctl_fail(r, "shared", path, r == -ENODEV ?
				"give a DAX character device (/dev/daxX.Y) or a regular file" : NULL,
				"cannot open");
	/* a file grows to --size; a device, or a BAR's file, is what it is */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && want > size) {
		r = shmfs_shared_dev_grow(fd, want, &size);
		if (r < 0)
			return ctl_fail(r, "shared", path, NULL, "cannot size to %s", ctl_size(want));
	}
	if (want) {
		if (want > size)
			return ctl_fail(-ENOSPC, "shared", path, NULL, "--size %s is larger than the device (%s)",
					ctl_size(want), ctl_size(size));
		size = want;
	}
	if (size < SHMFS_SHARED_SB_SIZE)
		return ctl_fail(-ENOSPC, "shared", path, "give --size", "too small (%" PRIu64 " bytes)", size);
	r = shmfs_shared_dev_map(fd, 0, size, false, &base);
	if (r < 0)
		return ctl_fail(r, "shared", path, NULL, "cannot map");
	if (shmfs_shared_sb_read(base, size, &old) != -EUCLEAN && !a->opt[OPT_FORCE]) {
		munmap(base, size);
		return ctl_fail(-EEXIST, "shared", path,
				"give --force to format it anew (every region on it is lost)",
				"already holds a shared backing");
	}
	if (getrandom(uuid, sizeof(uuid), 0) != sizeof(uuid)) {
		munmap(base, size);
		return ctl_fail(-EIO, "shared", path, NULL, "cannot draw a uuid");
	}
	r = shmfs_shared_format(base, size, size, log_size, master, uuid, now_ns());
	munmap(base, size);
	if (r < 0)
		return ctl_fail(r, "shared", path, r == -ENOSPC ?
				"it needs 2 MiB of superblock, the log and at least one 2 MiB extent" :
				NULL, "cannot format");
	if (c->json) {
		char u[37];

		uuid_text(uuid, u);
		ctl_json_fields(c, "shared format", "device", path, "master", master, "uuid", u, NULL);
	} else {
		ctl_say(c, "formatted %s: %s, master %s\n", path, ctl_size(size), master);
	}
	return 0;
}

static void ls_human(const struct shmfs_shared_state *st, const char *path, int stop, bool all)
{
	char u[37];

	uuid_text(st->sb.uuid, u);
	printf("%s: uuid %s, master %s, %s, log %" PRIu64 "/%" PRIu64 " records, %s of extents used\n",
	       path, u, st->sb.master, ctl_size(st->sb.size), st->seq, st->rec_cap,
	       ctl_size(shmfs_shared_used(st)));
	if (stop)
		printf("log ends at a record that does not replay (%s): later records ignored\n",
		       strerror(-stop));
	(void)all;
	printf("%-39s %12s %12s %12s %5s %10s\n", "NAME", "SIZE", "OFFSET", "EXTENT", "MODE", "UID:GID");
	for (size_t i = 0; i < st->cnt; i++) {
		const struct shmfs_shared_region *r = &st->v[i];
		char ids[24];

		snprintf(ids, sizeof(ids), "%u:%u", r->uid, r->gid);
		printf("%-39s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %05o %10s\n", r->name, r->size,
		       r->offset, r->extent, r->mode, ids);
	}
}

static void ls_json(struct ctl *c, const struct shmfs_shared_state *st, const char *path, int stop)
{
	struct json j;
	char u[37];

	uuid_text(st->sb.uuid, u);
	ctl_json_open(c, &j, "shared ls");
	json_str(&j, "device", path);
	json_str(&j, "uuid", u);
	json_str(&j, "master", st->sb.master);
	json_u64(&j, "size", st->sb.size);
	json_u64(&j, "log_offset", st->sb.log_offset);
	json_u64(&j, "log_size", st->sb.log_size);
	json_u64(&j, "extent_start", st->sb.extent_start);
	json_u64(&j, "records", st->seq);
	json_u64(&j, "record_capacity", st->rec_cap);
	json_u64(&j, "used", shmfs_shared_used(st));
	json_i64(&j, "stop_errno", -stop);
	json_arr_open(&j, "regions");
	for (size_t i = 0; i < st->cnt; i++) {
		const struct shmfs_shared_region *r = &st->v[i];
		json_obj_open(&j, NULL);
		json_str(&j, "name", r->name);
		json_u64(&j, "id", r->id);
		json_u64(&j, "size", r->size);
		json_u64(&j, "offset", r->offset);
		json_u64(&j, "extent", r->extent);
		json_u64(&j, "mode", r->mode);
		json_u64(&j, "uid", r->uid);
		json_u64(&j, "gid", r->gid);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	ctl_json_close(c, &j);
}

static int run_ls(struct ctl *c, const char *path)
{
	struct shmfs_shared_state st;
	struct shmfs_shared_sb sb;
	_cleanup_close_ int fd = -1;
	uint64_t size;
	void *base;
	int r, stop = 0;

	r = shmfs_shared_dev_open(path, true, &fd, &size);
	if (r < 0)
		return ctl_fail(r, "shared", path, NULL, "cannot open");
	if (size < SHMFS_SHARED_SB_SIZE)
		return ctl_fail(-EUCLEAN, "shared", path, "format it: shmfsctl shared format",
				"holds no shared backing");
	r = shmfs_shared_dev_map(fd, 0, size, true, &base);
	if (r < 0)
		return ctl_fail(r, "shared", path, NULL, "cannot map");
	r = shmfs_shared_sb_read(base, size, &sb);
	if (r < 0) {
		munmap(base, size);
		return ctl_fail(r, "shared", path, r == -EUCLEAN ? "format it: shmfsctl shared format" :
				NULL, r == -EUCLEAN ? "holds no shared backing" :
				"has a damaged superblock");
	}
	shmfs_shared_state_init(&st, &sb);
	shmfs_shared_replay(base, &st, true, &stop);
	munmap(base, size);
	if (c->json)
		ls_json(c, &st, path, stop);
	else
		ls_human(&st, path, stop, false);
	shmfs_shared_state_free(&st);
	return 0;
}

static int run_shared(struct ctl *c, const struct ctl_args *a)
{
	if (strcmp(a->argv[0], "format") == 0)
		return run_format(c, a, a->argv[1]);
	if (strcmp(a->argv[0], "ls") == 0)
		return run_ls(c, a->argv[1]);
	return ctl_usage("shared", "unknown shared command '%s' (format or ls)", a->argv[0]);
}

const struct ctl_cmd ctl_shared_cmds[] = {
	{ "shared", "format|ls DEVICE", "format or list a backing that several hosts share",
	  "format DEVICE   write a superblock and an empty metadata log to DEVICE: a DAX\n"
	  "                character device (/dev/daxX.Y) or a file (made with --size when\n"
	  "                missing). The master (the one host that may change the tree)\n"
	  "                is --master, else this host's name. Refuses a device that\n"
	  "                already holds one unless --force.\n"
	  "ls DEVICE       the superblock and the regions its log holds\n"
	  "A daemon presents it with -o shared=DEVICE (see shmfs(8)).\n",
	  2, 2, true,
	  { { 0, "size=SIZE", "bytes of the device to use (a file is grown to it)" },
	    { 0, "log-size=SIZE", "bytes of metadata log (2 MiB multiple; default 2M, 8M from 256M)" },
	    { 0, "master=HOST", "the master host's name (default: this host's)" },
	    { 0, "force", "format over an existing shared backing" } },
	  run_shared },
	{ NULL },
};
