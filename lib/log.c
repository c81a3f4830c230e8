/* log.c - the caller-installed log callback (shmfs_log_set) and the internal
 * shmfs_log() that formats into it. The library never writes to stderr. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static shmfs_log_fn_t log_fn;
static void *log_ctx;
static enum shmfs_log_level log_max = SHMFS_LOG_WARNING;

SHMFS_API void shmfs_log_set(shmfs_log_fn_t fn, void *ctx, enum shmfs_log_level max_level)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_ctx = ctx;
	log_max = max_level;
	pthread_mutex_unlock(&log_lock);
}

void shmfs_log(enum shmfs_log_level level, const char *fmt, ...)
{
	int saved_errno = errno;
	shmfs_log_fn_t fn;
	void *ctx;
	char msg[1024];
	va_list ap;

	/* Copy the callback out so it runs without log_lock: it may call
	 * shmfs_log_set() itself. */
	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	ctx = log_ctx;
	if (level > log_max)
		fn = NULL;
	pthread_mutex_unlock(&log_lock);
	if (fn) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fn(level, msg, ctx);
	}
	errno = saved_errno;
}
