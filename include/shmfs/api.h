/* api.h - export and version macros shared by the libshmfs public headers. */
#ifndef SHMFS_API_H
#define SHMFS_API_H

#define SHMFS_VERSION_MAJOR 0
#define SHMFS_VERSION_MINOR 2

/* Marks a function as part of the public ABI; everything else in libshmfs is
 * built with hidden visibility and never exported. */
#if defined(SHMFS_BUILDING_LIBRARY)
#define SHMFS_API __attribute__((visibility("default")))
#else
#define SHMFS_API
#endif

#endif
