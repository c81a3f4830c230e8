/* log.h - the library's only way to say anything: messages go to the callback
 * a caller installed with shmfs_log_set(), and nowhere without one. */
#ifndef SHMFS_LIB_LOG_H
#define SHMFS_LIB_LOG_H

#include <shmfs/shmfs.h>

/* Format and deliver one message at level, if a callback wants that level.
 * Cheap when nobody listens. Never changes errno. */
void shmfs_log(enum shmfs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
