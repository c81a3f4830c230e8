/* util.h - small helpers shared by every part of shmfs: cleanup attributes and
 * whole-file reads and writes of the short text files the kernel exports. */
#ifndef SHMFS_CORE_UTIL_H
#define SHMFS_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define SHMFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void shmfs_freep(void *p) { free(*(void **)p); }
static inline void shmfs_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void shmfs_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void shmfs_closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_free_     __attribute__((cleanup(shmfs_freep)))
#define _cleanup_close_    __attribute__((cleanup(shmfs_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(shmfs_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(shmfs_closedirp)))

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Read a whole small file (sysfs, procfs) into buf, NUL-terminated, with one
 * trailing newline stripped. Returns the length or -errno (-EFBIG if it does
 * not fit). */
ssize_t shmfs_read_text(const char *path, char *buf, size_t buf_sz);

/* Read a file holding one unsigned decimal number. 0 or -errno. */
int shmfs_read_u64(const char *path, uint64_t *ret);

/* Write a string to an existing file (sysfs knob) in one write(). 0 or -errno. */
int shmfs_write_text(const char *path, const char *text);

/* A fresh directory stream over a duplicate of dirfd, from its start, so the
 * caller can walk a directory it keeps open without disturbing dirfd.
 * 0 or -errno; *ret untouched on failure. */
int shmfs_opendir_dup(int dirfd, DIR **ret);

/* Write a decimal number to an existing file. 0 or -errno. */
int shmfs_write_u64(const char *path, uint64_t val);

#endif
