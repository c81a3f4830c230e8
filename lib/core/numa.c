/* numa.c - NUMA topology from sysfs. */
#include "numa.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "util.h"

static int read_mask(const char *path, uint64_t *bits, size_t bit_cnt)
{
	char buf[4096];
	ssize_t n = shmfs_read_text(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return shmfs_parse_list(buf, bits, bit_cnt);
}

int shmfs_numa_memory_nodes(shmfs_nodemask_t *ret)
{
	shmfs_nodemask_t m;

	memset(&m, 0, sizeof(m));
	if (read_mask("/sys/devices/system/node/has_memory", m.bits, SHMFS_NODE_MAX) == 0 ||
	    read_mask("/sys/devices/system/node/online", m.bits, SHMFS_NODE_MAX) == 0) {
		*ret = m;
		return 0;
	}
	shmfs_bit_set(m.bits, 0);
	*ret = m;
	return 0;
}

static int highest_plus_one(const char *path, size_t bit_cnt)
{
	uint64_t bits[SHMFS_CPU_MAX / 64];
	int r;

	memset(bits, 0, sizeof(bits));
	r = read_mask(path, bits, bit_cnt);
	if (r < 0)
		return 1;
	for (size_t i = bit_cnt; i > 0; i--)
		if (shmfs_bit_test(bits, i - 1))
			return (int)i;
	return 1;
}

int shmfs_numa_node_cnt(void)
{
	return highest_plus_one("/sys/devices/system/node/online", SHMFS_NODE_MAX);
}

int shmfs_numa_cpu_cnt(void)
{
	return highest_plus_one("/sys/devices/system/cpu/possible", SHMFS_CPU_MAX);
}

int shmfs_numa_cpu_node(int cpu)
{
	char path[128];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (cpu < 0 || cpu >= SHMFS_CPU_MAX)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ENOENT : -errno;
	while ((de = readdir(d))) {
		int node;

		if (shmfs_parse_node_name(de->d_name, &node) == 0)
			return node;
	}
	return 0; /* kernel without NUMA: everything is node 0 */
}

int shmfs_numa_node_first_cpu(int node)
{
	char path[128];
	uint64_t bits[SHMFS_CPU_MAX / 64];

	if (node < 0 || node >= SHMFS_NODE_MAX)
		return -ENOENT;
	memset(bits, 0, sizeof(bits));
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	if (read_mask(path, bits, SHMFS_CPU_MAX) < 0)
		return -ENOENT;
	for (int i = 0; i < SHMFS_CPU_MAX; i++)
		if (shmfs_bit_test(bits, (size_t)i))
			return i;
	return -ENOENT;
}

int shmfs_numa_node_has_memory(int node)
{
	shmfs_nodemask_t m;

	if (node < 0 || node >= SHMFS_NODE_MAX)
		return 0;
	if (shmfs_numa_memory_nodes(&m) < 0)
		return 0;
	return shmfs_bit_test(m.bits, (size_t)node);
}
