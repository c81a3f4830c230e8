/* audit.c - the audit trail: each change to pools and regions (a pool
 * resized, a region created, sized, renamed or migrated, its mode, owner,
 * lifetime or placement changed, disowned or removed; reset, clean, compact,
 * a quota rule) becomes one line naming the mount, and the user and process
 * that asked for it.
 *
 * Lines go to syslog (LOG_DAEMON, LOG_NOTICE; the journal keeps them) in the
 * foreground too: a foreground daemon's stderr is for failures, people and
 * tests read it as such. SHMFS_AUDIT_LOG=FILE in the daemon's environment
 * appends them to FILE instead (a machine without syslog, a test), each line
 * with its own time stamp in one write() so concurrent lines never mix;
 * SHMFS_AUDIT_LOG=off drops them.
 *
 * A machine without a syslog socket (no /dev/log: a container, a minimal
 * VM) would have glibc try, and fail, to connect for every line. Whether the
 * socket answers is asked at most once a second instead (a syslog started
 * later is found within that second); while it does not, a line goes where
 * glibc would have sent it: the console when the daemon logs with LOG_CONS
 * (daemonized), nowhere in the foreground (so nothing is spent on it). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

#define AUDIT_LINE_MAX 1024
#define SYSLOG_PROBE_NS 1000000000LL /* how long a failed probe of /dev/log holds */

static pthread_once_t audit_once = PTHREAD_ONCE_INIT;
static int audit_fd = -1;       /* SHMFS_AUDIT_LOG=FILE */
static bool audit_off;

static void audit_init(void)
{
	const char *target = getenv("SHMFS_AUDIT_LOG");

	if (!target || !target[0])
		return;
	if (strcmp(target, "off") == 0) {
		audit_off = true;
		return;
	}
	audit_fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (audit_fd < 0)
		SHMFS_LOG("cannot open the audit log '%s' (%m); auditing to syslog", target);
}

/* Whether syslog's socket takes a connection (tried as glibc tries it:
 * datagram, then stream). Once it did, glibc keeps its own connection and
 * nothing is asked again; a failure holds for SYSLOG_PROBE_NS. */
static bool syslog_reachable(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool ok;
	static int64_t next_probe;
	static const struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct timespec now;
	bool r;
	int64_t t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	t = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	pthread_mutex_lock(&lock);
	if (!ok && t >= next_probe) {
		for (size_t i = 0; !ok && i < sizeof(types) / sizeof(types[0]); i++) {
			int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);

			ok = fd >= 0 && connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == 0;
			if (fd >= 0)
				close(fd);
		}
		if (!ok)
			next_probe = t + SYSLOG_PROBE_NS;
	}
	r = ok;
	pthread_mutex_unlock(&lock);
	return r;
}

/* The asking thread's name, for people reading the trail: "touch", "shmfsctl". */
static void comm_of(pid_t pid, char *buf, size_t sz)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = pid > 0 ? shmfs_read_text(path, buf, sz) : -1;
	if (n <= 0) {
		snprintf(buf, sz, "?");
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	/* the name is the process's to choose: keep the line one line */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
}

void shmfs_audit(struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *fmt, ...)
{
	int saved_errno = errno;
	char what[512], comm[32], line[AUDIT_LINE_MAX];
	va_list ap;
	int n;

	pthread_once(&audit_once, audit_init);
	if (audit_off)
		return;
	/* nowhere to go: glibc would drop it (LOG_CONS only when daemonized) */
	if (audit_fd < 0 && !shmfsd_log_is_syslog() && !syslog_reachable())
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	comm_of(pid, comm, sizeof(comm));
	if (audit_fd < 0) {
		syslog(LOG_DAEMON | LOG_NOTICE, "audit: mount=%s uid=%u pid=%d comm=%s: %s",
		       fs->mountpoint ? fs->mountpoint : "?", (unsigned)uid, (int)pid, comm, what);
	} else {
		struct timespec now;
		struct tm tm;
		char stamp[32] = "";

		clock_gettime(CLOCK_REALTIME, &now);
		if (gmtime_r(&now.tv_sec, &tm))
			strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ shmfs[%d]: audit: mount=%s uid=%u pid=%d comm=%s: %s\n",
			     stamp, now.tv_nsec / 1000000, (int)getpid(), fs->mountpoint ? fs->mountpoint : "?",
			     (unsigned)uid, (int)pid, comm, what);
		if (n > (int)sizeof(line) - 1) {
			n = (int)sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (n > 0 && write(audit_fd, line, (size_t)n) < 0)
			SHMFS_LOG("cannot write the audit log: %m");
	}
	errno = saved_errno;
}

void shmfs_audit_pool(struct shmfs_fs *fs, uid_t uid, pid_t pid, const struct shmfs_ino_info *info,
		      const char *text, int r)
{
	const struct shmfs_page_type *pt = fs->type[info->kind].pt;
	struct shmfs_pool_stat ps;
	char now[48] = "?";

	if (r == -EINVAL || !pt)
		return;
	/* read after the write, outside its lock: what the pool holds now */
	if (shmfs_pool_stat(pt, info->node, &ps) == 0)
		snprintf(now, sizeof(now), "%" PRIu64, ps.total);
	shmfs_audit(fs, uid, pid, "pool %s/node%d '%s': now %s pages: %s", pt->name, info->node, text, now,
		    r ? strerror(-r) : "done");
}

void shmfs_audit_unlink(struct shmfs_fs *fs, uid_t uid, pid_t pid, uint64_t parent, const char *name)
{
	struct shmfs_ino_info pi;

	shmfs_ino_decode(fs, parent, &pi);
	shmfs_audit(fs, uid, pid, "unlink %s/node%d/%s", fs->type[pi.kind].pt ? fs->type[pi.kind].pt->name : "?",
		    pi.node, name);
}

int shmfs_audit_ok(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (rc != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	shmfs_audit(fs, uid, pid, "%s", what);
	return rc;
}

int shmfs_audit_region(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, struct shmfsd_region *r,
		       const char *what, const char *fmt, ...)
{
	const struct shmfs_page_type *pt = fs->type[r->kind].pt;
	char name[SHMFS_NAME_MAX + 1], detail[256];
	va_list ap;
	int node;

	if (rc != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fs->lock);
	node = r->meta.node;
	snprintf(name, sizeof(name), "%s", r->name);
	pthread_mutex_unlock(&fs->lock);
	shmfs_audit(fs, uid, pid, "%s %s/node%d/%s%s%s", what, pt ? pt->name : "?", node, name,
		    detail[0] ? " " : "", detail);
	return rc;
}

void shmfs_audit_setattr(struct shmfs_fs *fs, uid_t uid, pid_t pid, struct shmfsd_region *r,
			 const struct stat *attr, int to_set)
{
	char detail[128] = "";
	size_t n = 0;

	/* times change nothing anyone accounts for: touch on a region is no event */
	if (to_set & FUSE_SET_ATTR_SIZE)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, " size %" PRIu64, (uint64_t)attr->st_size);
	if ((to_set & FUSE_SET_ATTR_MODE) && n < sizeof(detail))
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, " mode %04o", (unsigned)(attr->st_mode & 07777));
	if ((to_set & FUSE_SET_ATTR_UID) && n < sizeof(detail))
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, " owner %u", (unsigned)attr->st_uid);
	if ((to_set & FUSE_SET_ATTR_GID) && n < sizeof(detail))
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, " group %u", (unsigned)attr->st_gid);
	if (n)
		shmfs_audit_region(0, fs, uid, pid, r, "setattr", "%s", detail + 1);
}

int shmfs_audit_quota(int rc, struct shmfs_fs *fs, uid_t uid, pid_t pid, const char *buf, size_t len)
{
	char text[SHMFS_QUOTA_RULE_MAX];

	/* taken, so it parsed: one token of the rule grammar, nothing to escape */
	if (rc == 0 && shmfs_control_text(buf, len, text, sizeof(text)) == 0)
		shmfs_audit(fs, uid, pid, "quota %s", text);
	return rc;
}
