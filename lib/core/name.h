/* name.h - the region name rule (Firedancer's, so every fd_shmem name works):
 * first character [A-Za-z0-9], then [A-Za-z0-9_.-], at most 39 characters. */
#ifndef SHMFS_CORE_NAME_H
#define SHMFS_CORE_NAME_H

#define SHMFS_NAME_MAX 39

/* 0 when name is a valid region name; -ENAMETOOLONG when it is longer than
 * SHMFS_NAME_MAX; -EINVAL for anything else (empty, bad characters). */
int shmfs_name_check(const char *name);

#endif
