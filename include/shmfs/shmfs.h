/* shmfs.h - libshmfs regions and joins (placeholder until the join work lands). */
#ifndef SHMFS_SHMFS_H
#define SHMFS_SHMFS_H
#include <shmfs/api.h>
#endif
