/* numa.h - NUMA topology as the kernel reports it in sysfs: which nodes have
 * memory (CPU-less memory nodes included), which have CPUs, and which node
 * each CPU belongs to. Bitmaps are kernel-list parsed (parse.h). */
#ifndef SHMFS_CORE_NUMA_H
#define SHMFS_CORE_NUMA_H

#include <stdint.h>

#define SHMFS_NODE_MAX 1024 /* the kernel's MAX_NUMNODES ceiling (NODES_SHIFT 10) */
#define SHMFS_CPU_MAX  8192

typedef struct { uint64_t bits[SHMFS_NODE_MAX / 64]; } shmfs_nodemask_t;

/* Nodes that have memory: /sys/devices/system/node/has_memory (falls back to
 * "online", then to node 0 on kernels built without NUMA). 0 or -errno. */
int shmfs_numa_memory_nodes(shmfs_nodemask_t *ret);

/* Number of nodes (highest online node + 1, as fd_shmem_numa_cnt counts). */
int shmfs_numa_node_cnt(void);

/* Number of CPUs the kernel could run (highest possible CPU + 1). */
int shmfs_numa_cpu_cnt(void);

/* The node CPU cpu belongs to, or -errno (-ENOENT for a CPU that does not exist). */
int shmfs_numa_cpu_node(int cpu);

/* Index of the first CPU on node, or -ENOENT when the node has no CPU. */
int shmfs_numa_node_first_cpu(int node);

/* Whether node exists and has memory. */
int shmfs_numa_node_has_memory(int node);

#endif
