/* proc.h - what the kernel knows about processes and who maps what: the
 * mappers of a file (by device and inode, from /proc/PID/maps), process start
 * times, and liveness that a reused pid, a zombie or a foreign user's process
 * cannot fool. Never kill(pid, 0). */
#ifndef SHMFS_CORE_PROC_H
#define SHMFS_CORE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The pids (ascending, without duplicates) of processes that have the file
 * identified by dev and ino mapped. *ret_pids is malloc'ed (NULL when none).
 * Processes whose maps cannot be read (permission, exited meanwhile) are
 * skipped. 0 or -errno. */
int shmfs_proc_mappers(dev_t dev, ino_t ino, pid_t **ret_pids, size_t *ret_cnt);

/* Start time of pid in clock ticks after boot (/proc/PID/stat field 22).
 * -ESRCH when there is no such process. */
int shmfs_proc_start_time(pid_t pid, uint64_t *ret);

/* True when the process pid exists, is not a zombie or dead, and started at
 * start_time (so a reused pid is not mistaken for it). start_time 0 means
 * unknown: then only existence and state count. */
bool shmfs_proc_alive(pid_t pid, uint64_t start_time);

#endif
