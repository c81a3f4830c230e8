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

/* The process (thread group) a thread belongs to: FUSE reports the calling
 * thread's id, and a thread can end long before its process does. */
int shmfs_proc_tgid(pid_t tid, pid_t *ret);

/* Mappers of several files in one pass over /proc (a listing of N regions
 * costs one scan, not N). Fill dev and ino; on success each entry's pids
 * (ascending, malloc'ed, NULL when none) and pid_cnt are set; free them with
 * shmfs_file_mappers_free. 0 or -errno (then nothing is left allocated). */
struct shmfs_file_id {
	dev_t dev;
	ino_t ino;
	pid_t *pids;
	size_t pid_cnt;
};
int shmfs_proc_mappers_multi(struct shmfs_file_id *ids, size_t id_cnt);
void shmfs_file_mappers_free(struct shmfs_file_id *ids, size_t id_cnt);

/* Every (file, process) pair where the process maps a file on one of the
 * devices devs (dev_cnt 0: any device), from one scan of /proc: sorted by
 * dev, ino, pid, one entry per pair however many mappings it has. Lookups
 * in it are cheap, so a listing of many files costs one scan. *ret is
 * malloc'ed (may be NULL when empty). Processes whose maps cannot be read
 * are skipped. 0 or -errno. */
struct shmfs_mapping {
	dev_t dev;
	ino_t ino;
	pid_t pid;
};
int shmfs_proc_mappings(const dev_t *devs, size_t dev_cnt, struct shmfs_mapping **ret,
			size_t *ret_cnt);
/* The entries of one file in such a table: the index of the first, and
 * their number (its mappers, ascending) in *ret_n, 0 when nobody maps it. */
size_t shmfs_mappings_lookup(const struct shmfs_mapping *m, size_t cnt, dev_t dev, ino_t ino,
			     size_t *ret_n);

/* Parsers behind the above, exposed for tests. A /proc/PID/maps line: its
 * "maj:min inode" (hex device numbers) as a dev_t and inode. A /proc/PID/stat
 * line: its state (field 3) and start time (field 22), read after the last
 * ')' because the command name may hold spaces and parentheses. Either output
 * may be NULL. 0 or -EINVAL (-ERANGE on overflow). */
int shmfs_proc_parse_maps_line(const char *line, dev_t *ret_dev, ino_t *ret_ino);
int shmfs_proc_parse_stat(const char *stat, char *ret_state, uint64_t *ret_start);

#endif
