/* cmd_numa.c - topology queries (fd_shmem_ctl parity): numa-cnt, cpu-cnt,
 * cpu-idx NODE, numa-idx CPU. Numbers come from lib/core/numa, which reads
 * the kernel's sysfs (CPU-less memory nodes included). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "parse.h"

static int print_count(struct ctl *c, const char *cmd, const char *key, int v)
{
	struct json j;

	if (c->json) {
		ctl_json_open(c, &j, cmd);
		json_i64(&j, key, v);
		ctl_json_close(c, &j);
	} else {
		printf("%d\n", v);
	}
	return 0;
}

static int run_numa_cnt(struct ctl *c, const struct ctl_args *a)
{
	return print_count(c, "numa-cnt", "numa_cnt", shmfs_numa_node_cnt());
}

static int run_cpu_cnt(struct ctl *c, const struct ctl_args *a)
{
	return print_count(c, "cpu-cnt", "cpu_cnt", shmfs_numa_cpu_cnt());
}

static int parse_index(const char *cmd, const char *what, const char *s, int max, int *ret)
{
	uint64_t v;

	if (s[0] == '-')
		return ctl_usage(cmd, "%s '%s' is negative", what, s);
	if (shmfs_parse_u64(s, &v) < 0)
		return ctl_usage(cmd, "%s '%s' is not a number", what, s);
	if (v >= (uint64_t)max)
		return ctl_usage(cmd, "%s %s is out of range (this machine has %d)", what, s, max);
	*ret = (int)v;
	return 0;
}

/* "N" or "nodeN", a node the kernel has (with or without memory). */
static int parse_node(const char *cmd, const char *s, int *ret)
{
	int max = shmfs_numa_node_cnt(), node, r;
	const char *idx = s + (strncmp(s, "node", 4) == 0 ? 4 : 0); /* for messages */

	if (idx[0] == '-')
		return ctl_usage(cmd, "NUMA node '%s' is negative", idx);
	r = shmfs_parse_node(s, &node);
	if (r == -EINVAL)
		return ctl_usage(cmd, "NUMA node '%s' is not a number", idx);
	if (r < 0 || node >= max)
		return ctl_usage(cmd, "NUMA node %s is out of range (this machine has %d)", idx, max);
	*ret = node;
	return 0;
}

static int run_cpu_idx(struct ctl *c, const struct ctl_args *a)
{
	struct json j;
	int node = -1, cpu, r;

	/* a node is "N" or "nodeN" wherever shmfsctl asks for one */
	r = parse_node("cpu-idx", a->argv[0], &node);
	if (r)
		return r;
	cpu = shmfs_numa_node_first_cpu(node);
	if (c->json) {
		ctl_json_open(c, &j, "cpu-idx");
		json_i64(&j, "numa_idx", node);
		if (cpu >= 0)
			json_i64(&j, "cpu_idx", cpu);
		else
			json_null(&j, "cpu_idx");
		ctl_json_close(c, &j);
	} else if (cpu >= 0) {
		printf("%d\n", cpu);
	} else {
		printf("-\n"); /* a CPU-less memory node: fd_shmem_ctl prints "-" too */
	}
	return 0;
}

static int run_numa_idx(struct ctl *c, const struct ctl_args *a)
{
	struct json j;
	int cpu = -1, node, r;

	r = parse_index("numa-idx", "CPU", a->argv[0], shmfs_numa_cpu_cnt(), &cpu);
	if (r)
		return r;
	node = shmfs_numa_cpu_node(cpu);
	if (node < 0)
		return ctl_fail(node, "numa-idx", a->argv[0], "List the CPUs with 'lscpu'.",
				"cannot find the NUMA node of CPU");
	if (c->json) {
		ctl_json_open(c, &j, "numa-idx");
		json_i64(&j, "cpu_idx", cpu);
		json_i64(&j, "numa_idx", node);
		ctl_json_close(c, &j);
	} else {
		printf("%d\n", node);
	}
	return 0;
}

const struct ctl_cmd ctl_numa_cmds[] = {
	{ "numa-cnt", "", "print the number of NUMA nodes", "", 0, 0, true, { { 0 } }, run_numa_cnt },
	{ "cpu-cnt", "", "print the number of CPUs", "", 0, 0, true, { { 0 } }, run_cpu_cnt },
	{ "cpu-idx", "NODE", "print the first CPU of NUMA node NODE ('-' if it has none)", "",
	  1, 1, true, { { 0 } }, run_cpu_idx },
	{ "numa-idx", "CPU", "print the NUMA node of CPU", "", 1, 1, true, { { 0 } }, run_numa_idx },
	{ NULL },
};
