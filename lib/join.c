/* join.c - placeholder until the join work lands. */
typedef int shmfs_placeholder_t;
