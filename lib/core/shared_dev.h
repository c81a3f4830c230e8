/* shared_dev.h - opening and mapping a shared backing: a DAX character
 * device (/dev/daxX.Y, whose size sysfs gives and which only mmap reaches),
 * a PCI memory BAR's sysfs file (/sys/bus/pci/devices/BDF/resourceN: a
 * regular file of the BAR's size that only mmap reaches either, as a VM's
 * ivshmem device shows memory its host shares) or a regular file (tmpfs,
 * hugetlbfs, a file on a DAX filesystem). Only mmap is ever used on the
 * bytes. Used by the daemon, libshmfs and shmfsctl alike. */
#ifndef SHMFS_CORE_SHARED_DEV_H
#define SHMFS_CORE_SHARED_DEV_H

#include <stdbool.h>
#include <stdint.h>

/* Open path (O_RDWR unless read_only, O_CLOEXEC) and tell its size: a
 * regular file's st_size, a character device's /sys/dev/char/M:m/size.
 * -ENODEV for anything else (a directory, a block device: use its DAX
 * character device). */
int shmfs_shared_dev_open(const char *path, bool read_only, int *ret_fd, uint64_t *ret_size);
/* Grow the regular file open at fd to want bytes when it is smaller (never
 * shrinks it), and tell its size after: a file whose size is fixed (a BAR's
 * sysfs file, whose truncate the kernel accepts and ignores) keeps its size,
 * so *ret_size is what the caller may map. -errno when ftruncate fails,
 * -ENODEV when fd is not a regular file. */
int shmfs_shared_dev_grow(int fd, uint64_t want, uint64_t *ret_size);
/* Map [offset, offset + len) of fd shared (read-only or read-write):
 * offset must be 2 MiB-aligned for a DAX device. */
int shmfs_shared_dev_map(int fd, uint64_t offset, uint64_t len, bool read_only, void **ret);

#endif
