/* log.c - where the daemon's messages go: stderr while it runs in the
 * foreground (tests check it stays quiet), syslog once it has daemonized and
 * stderr is /dev/null. Only real failures are logged; expected misses (a
 * lookup of a name that does not exist, a refused bad input) never are. */
#include "daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <syslog.h>

static bool use_syslog;

void shmfsd_log_to_syslog(void)
{
	openlog("shmfs", LOG_PID | LOG_CONS, LOG_DAEMON);
	use_syslog = true;
}

bool shmfsd_log_is_syslog(void)
{
	return use_syslog;
}

void shmfsd_log(const char *fmt, ...)
{
	int saved_errno = errno; /* for %m */
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(LOG_ERR, fmt, ap);
	} else {
		fputs("shmfs: ", stderr);
		errno = saved_errno;
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
