/* main.c - the shmfs daemon: read the options, set up the backing store and
 * load the regions it holds, mount the FUSE tree, daemonize unless -f, and
 * serve requests on several threads until unmounted. Backing mounts and
 * regions stay when the daemon exits; a new daemon on the same backing root
 * presents the same tree. */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing_path.h"
#include "util.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmfs [-f] [-d] [-o OPT[,OPT...]] [SOURCE] MOUNTPOINT\n"
		"\n"
		"Present shared-memory regions (tmpfs and hugetlbfs files) as a tree\n"
		"MOUNTPOINT/{normal,huge,gigantic}/nodeN/REGION.\n"
		"\n"
		"  -f                 stay in the foreground\n"
		"  -d                 debug: foreground, log every request\n"
		"  -o backing=DIR     backing root (default /run/shmfs/<escaped mountpoint>)\n"
		"  -o normal=DIR,huge=DIR,gigantic=DIR\n"
		"                     without root: existing tmpfs/hugetlbfs mounts to use\n"
		"  -o allow_other     let other users reach the tree\n"
		"  -o mode=OCTAL,uid=N,gid=N\n"
		"                     mode and owner of the tree's directories (default: node\n"
		"                     directories 1777, others 0755, owned by root)\n"
		"  -o quota=SUBJECT.TYPE=LIMIT (may repeat)\n"
		"                     page quota: user.huge=50%%, user:1000.normal=1G,\n"
		"                     group:100.huge=unlimited, reserve.huge=2 (root only)\n"
		"  -o shared=DEVICE[,shared_name=NAME][,shared_host=HOST]\n"
		"                     a DAX device or file several hosts share (formatted by\n"
		"                     shmfsctl shared format), as MOUNT/shared/NAME; master\n"
		"                     when HOST (default: the host name) is the one it names\n"
		"  other -o options go to FUSE; fstab words (defaults, noauto, nofail, x-*...)\n"
		"  are accepted and ignored\n");
}

/* Absolute path without requiring it to exist yet. */
static int absolute(const char *path, char **ret)
{
	char cwd[PATH_MAX];
	char *s;

	if (path[0] == '/')
		s = strdup(path);
	else if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	else if (asprintf(&s, "%s/%s", cwd, path) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	/* drop trailing slashes: the path is compared with mountinfo */
	for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
		s[n - 1] = '\0';
	*ret = s;
	return 0;
}

static int fs_init(struct shmfs_fs *fs, struct shmfs_options *o)
{
	int r;

	fs->metafd = -1;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		fs->type[k].dirfd = fs->type[k].metafd = -1;
	fs->pid = getpid();
	fs->is_root = geteuid() == 0;
	fs->mountpoint = realpath(o->mountpoint, NULL);
	if (!fs->mountpoint) {
		r = -errno;
		SHMFS_LOG("Bad mountpoint '%s': %s", o->mountpoint, strerror(-r));
		return r;
	}
	if (o->have_mode || o->have_uid || o->have_gid) {
		fs->have_dir_mode = true;
		fs->dir_mode = o->have_mode ? o->dir_mode : 0755;
		fs->dir_uid = o->have_uid ? o->dir_uid : 0;
		fs->dir_gid = o->have_gid ? o->dir_gid : 0;
	}
	r = shmfs_page_types_load(&fs->types);
	if (r < 0) {
		SHMFS_LOG("Failed to read the kernel's page sizes: %s", strerror(-r));
		return r;
	}
	r = shmfs_numa_memory_nodes(&fs->nodes);
	if (r < 0)
		return r;
	fs->first_node = -1;
	for (int n = 0; n < SHMFS_NODE_MAX && fs->first_node < 0; n++)
		if (shmfs_node_valid(fs, n))
			fs->first_node = n;
	if (fs->first_node < 0)
		return -ENODEV;
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++) {
		if (!o->dir[k])
			continue;
		if (fs->is_root) {
			SHMFS_LOG("-o %s= is for a daemon without root; as root the backing mounts are made",
				  fs->types.type[k].name);
			return -EINVAL;
		}
		r = absolute(o->dir[k], &fs->opt_dir[k]);
		if (r < 0)
			return r;
	}
	if (o->backing)
		r = absolute(o->backing, &fs->backing);
	else
		r = shmfs_backing_default(fs->mountpoint, fs->is_root, &fs->backing);
	if (r < 0) {
		SHMFS_LOG("No backing root: give one with -o backing=DIR (%s)", strerror(-r));
		return r;
	}
	return 0;
}

static void fs_free(struct shmfs_fs *fs)
{
	free(fs->mountpoint);
	free(fs->backing);
	for (int k = 0; k < SHMFS_PAGE_KIND_CNT; k++)
		free(fs->opt_dir[k]);
	shmfs_mappers_free(fs);
	shmfs_xattr_stash_free(fs);
	pthread_mutex_destroy(&fs->repair_lock);
	pthread_mutex_destroy(&fs->pool_lock);
	pthread_mutex_destroy(&fs->lock);
}

/* Every open region and directory handle costs a descriptor. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct shmfs_options o;
	struct shmfs_fs fs;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	_cleanup_free_ char *fuse_opts = NULL;
	_cleanup_free_ char *fsname = NULL;
	int r, ret = 1;

	memset(&fs, 0, sizeof(fs));
	pthread_mutex_init(&fs.lock, NULL);
	pthread_mutex_init(&fs.pool_lock, NULL);
	pthread_mutex_init(&fs.repair_lock, NULL);
	shmfs_notify_init(&fs);
	shmfs_mappers_init(&fs);
	shmfs_xattr_stash_init(&fs);
	fs.passthrough.dev_fd = -1;
	r = shmfs_options_parse(argc, argv, &o);
	if (r < 0) {
		usage(stderr);
		return 2;
	}
	if (o.help) {
		usage(stdout);
		shmfs_options_free(&o);
		return 0;
	}
	if (o.version) {
		printf("shmfs %s (libfuse %s)\n", SHMFS_VERSION, fuse_pkgversion());
		shmfs_options_free(&o);
		return 0;
	}
	/* regions get exactly the mode their creator asked for */
	umask(0);
	/* A fixed threshold: each request thread's 1 MiB libfuse buffer is its
	 * own mapping, returned when an idle thread exits, instead of raising
	 * glibc's dynamic threshold and staying in the heap for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	raise_nofile();

	r = shmfs_sigbus_install();
	if (r < 0)
		goto err_out1;
	r = fs_init(&fs, &o);
	if (r < 0)
		goto err_out1;
	/* bad quota= options stop the mount before the backing store is touched */
	r = shmfs_quota_setup(&fs, o.quota, o.quota_cnt);
	if (r < 0)
		goto err_out1;
	r = shmfs_backing_setup(&fs);
	if (r < 0) {
		SHMFS_LOG("Failed to set up the backing store under '%s': %s", fs.backing, strerror(-r));
		goto err_out2;
	}
	r = shmfs_tree_load(&fs);
	if (r < 0) {
		SHMFS_LOG("Failed to load the regions under '%s': %s", fs.backing, strerror(-r));
		goto err_out2;
	}
	r = shmfs_shared_setup(&fs, o.shared, o.shared_name, o.shared_host);
	if (r < 0)
		goto err_out2;
	r = shmfs_quota_load(&fs);
	if (r < 0) {
		SHMFS_LOG("Failed to read the quota rules under '%s': %s", fs.backing, strerror(-r));
		goto err_out2;
	}

	/* libfuse splits the list at commas: a source "a,b" must stay one value */
	if (shmfs_opt_escape(o.source ? o.source : "shmfs", &fsname) < 0 ||
	    asprintf(&fuse_opts, "default_permissions,fsname=%s,subtype=shmfs%s%s", fsname,
		     o.fuse_opts ? "," : "", o.fuse_opts ? o.fuse_opts : "") < 0)
		goto err_out2;
	if (fuse_opt_add_arg(&args, argv[0]) < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, fuse_opts) < 0)
		goto err_out3;
	fs.se = fuse_session_new(&args, shmfs_shared_ops(&fs), sizeof(shmfs_ops), &fs);
	if (!fs.se)
		goto err_out3;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto err_out4;
	if (fuse_session_mount(fs.se, fs.mountpoint) != 0)
		goto err_out5;
	if (shmfs_passthrough_setup(&fs) != 0)
		goto err_out6;
	r = shmfs_mount_dev(fs.mountpoint, &fs.fuse_dev);
	if (r < 0) {
		SHMFS_LOG("Cannot find the new mount at '%s' in mountinfo: %s", fs.mountpoint, strerror(-r));
		goto err_out6;
	}
	if (fuse_daemonize(o.foreground) != 0)
		goto err_out6;
	if (!o.foreground)
		shmfsd_log_to_syslog();
	/* threads only after daemonizing: fork keeps just the caller */
	if (shmfs_notify_start(&fs) < 0)
		goto err_out6;
	r = shmfs_watch_start(&fs);
	if (r < 0) {
		SHMFS_LOG("Failed to watch the backing store: %s", strerror(-r));
		goto err_out7;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		goto err_out8;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 64);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	ret = fuse_session_loop_mt(fs.se, cfg) == 0 ? 0 : 1;
	fuse_loop_cfg_destroy(cfg);
err_out8:
	shmfs_watch_stop(&fs);
err_out7:
	shmfs_notify_stop(&fs);
err_out6:
	shmfs_passthrough_stop(&fs);
	fuse_session_unmount(fs.se);
err_out5:
	fuse_remove_signal_handlers(fs.se);
err_out4:
	fuse_session_destroy(fs.se);
err_out3:
	fuse_opt_free_args(&args);
err_out2:
	shmfs_backing_close(&fs);
	shmfs_table_free(&fs);
	shmfs_shared_free(&fs);
err_out1:
	shmfs_quota_free(&fs);
	fs_free(&fs);
	shmfs_options_free(&o);
	return ret;
}
