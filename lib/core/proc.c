/* proc.c - process facts from /proc: who maps a file (by device and inode, as
 * /proc/PID/maps prints them), when a process started, and whether the process
 * a pid once named is still alive. Liveness is read from the kernel's process
 * table (existence, state, start time), never from kill(pid, 0), which calls a
 * live process of another user dead (EPERM), a zombie alive, and a reused pid
 * alive. */
#include "proc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "util.h"

/* Parse an unsigned number in the given base at *p, advancing *p. */
static int take_num(const char **p, int base, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	for (;; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (digits == 0)
		return -EINVAL;
	*p = s;
	*ret = v;
	return 0;
}

/* Skip one space-separated field and the spaces after it. */
static int skip_field(const char **p)
{
	const char *s = *p;

	if (*s == '\0' || *s == ' ')
		return -EINVAL;
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	*p = s;
	return 0;
}

int shmfs_proc_parse_maps_line(const char *line, dev_t *ret_dev, ino_t *ret_ino)
{
	const char *p = line;
	uint64_t maj, min, ino;

	/* "start-end perms offset maj:min inode [path]" */
	for (int i = 0; i < 3; i++)
		if (skip_field(&p) < 0)
			return -EINVAL;
	if (take_num(&p, 16, &maj) < 0 || *p++ != ':')
		return -EINVAL;
	if (take_num(&p, 16, &min) < 0 || *p++ != ' ')
		return -EINVAL;
	if (take_num(&p, 10, &ino) < 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
		return -EINVAL;
	if (maj > UINT32_MAX || min > UINT32_MAX)
		return -ERANGE;
	*ret_dev = makedev((unsigned)maj, (unsigned)min);
	*ret_ino = (ino_t)ino;
	return 0;
}

int shmfs_proc_parse_stat(const char *stat, char *ret_state, uint64_t *ret_start)
{
	/* The command name (field 2) is in parentheses and may itself contain
	 * spaces and ')': the fields resume after the LAST ')'. */
	const char *p = strrchr(stat, ')');
	char state;
	uint64_t start;

	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	state = *p;
	if (state == '\0' || state == ' ' || p[1] != ' ')
		return -EINVAL;
	p += 2;
	/* Fields 4..21 come before the start time (field 22). */
	for (int i = 4; i < 22; i++)
		if (skip_field(&p) < 0)
			return -EINVAL;
	if (take_num(&p, 10, &start) < 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
		return -EINVAL;
	if (ret_state)
		*ret_state = state;
	if (ret_start)
		*ret_start = start;
	return 0;
}

static int read_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
	char path[64];
	char buf[1024];
	ssize_t n;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = shmfs_read_text(path, buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH)
		return -ESRCH;
	if (n < 0)
		return (int)n;
	return shmfs_proc_parse_stat(buf, ret_state, ret_start);
}

int shmfs_proc_start_time(pid_t pid, uint64_t *ret)
{
	return read_stat(pid, NULL, ret);
}

int shmfs_proc_tgid(pid_t tid, pid_t *ret)
{
	char path[64];
	char line[256];
	_cleanup_fclose_ FILE *f = NULL;

	if (tid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + 5;
		uint64_t v;

		if (strncmp(line, "Tgid:", 5) != 0)
			continue;
		while (*p == '\t' || *p == ' ')
			p++;
		if (take_num(&p, 10, &v) < 0 || v == 0 || v > INT32_MAX)
			return -EINVAL;
		*ret = (pid_t)v;
		return 0;
	}
	return -EINVAL;
}

bool shmfs_proc_alive(pid_t pid, uint64_t start_time)
{
	char state;
	uint64_t start;
	int r = read_stat(pid, &state, &start);

	if (r == -ESRCH) {
		/* With /proc mounted hidepid=, other users' processes are
		 * invisible. Only then may a signal probe say more: EPERM means
		 * the process exists. It cannot check the start time, so a
		 * hidden process counts as alive (never call live memory
		 * orphaned). */
		return pid > 0 && kill(pid, 0) < 0 && errno == EPERM;
	}
	if (r < 0)
		return true; /* cannot tell: err on the side of alive */
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	return start_time == 0 || start == start_time;
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Whether the process maps any file of the set. Sets are small (one file, or
 * the regions of one listing), so a linear match per line is enough. */
static bool maps_any(pid_t pid, const struct shmfs_file_id *ids, size_t id_cnt, bool *hit)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t line_sz = 0;
	bool any = false;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &line_sz, f) > 0) {
		dev_t dev;
		ino_t ino;

		if (shmfs_proc_parse_maps_line(line, &dev, &ino) < 0 || ino == 0)
			continue;
		for (size_t i = 0; i < id_cnt; i++) {
			if (ids[i].dev == dev && ids[i].ino == ino) {
				hit[i] = true;
				any = true;
			}
		}
	}
	return any;
}

static int pids_push(pid_t **pids, size_t *cnt, size_t *cap, pid_t pid)
{
	if (*cnt == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		pid_t *n = realloc(*pids, ncap * sizeof(pid_t));

		if (!n)
			return -ENOMEM;
		*pids = n;
		*cap = ncap;
	}
	(*pids)[(*cnt)++] = pid;
	return 0;
}

void shmfs_file_mappers_free(struct shmfs_file_id *ids, size_t id_cnt)
{
	for (size_t i = 0; i < id_cnt; i++) {
		free(ids[i].pids);
		ids[i].pids = NULL;
		ids[i].pid_cnt = 0;
	}
}

int shmfs_proc_mappers_multi(struct shmfs_file_id *ids, size_t id_cnt)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ bool *hit = NULL;
	_cleanup_free_ size_t *cap = NULL;
	struct dirent *de;
	int r;

	for (size_t i = 0; i < id_cnt; i++) {
		ids[i].pids = NULL;
		ids[i].pid_cnt = 0;
	}
	if (id_cnt == 0)
		return 0;
	hit = calloc(id_cnt, sizeof(*hit));
	cap = calloc(id_cnt, sizeof(*cap));
	if (!hit || !cap)
		return -ENOMEM;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *p = de->d_name;
		uint64_t v;

		if (!isdigit((unsigned char)*p) || take_num(&p, 10, &v) < 0 || *p || v > INT32_MAX)
			continue;
		memset(hit, 0, id_cnt * sizeof(*hit));
		if (!maps_any((pid_t)v, ids, id_cnt, hit))
			continue;
		for (size_t i = 0; i < id_cnt; i++) {
			if (!hit[i])
				continue;
			r = pids_push(&ids[i].pids, &ids[i].pid_cnt, &cap[i], (pid_t)v);
			if (r < 0) {
				shmfs_file_mappers_free(ids, id_cnt);
				return r;
			}
		}
	}
	for (size_t i = 0; i < id_cnt; i++)
		if (ids[i].pid_cnt > 1)
			qsort(ids[i].pids, ids[i].pid_cnt, sizeof(pid_t), pid_cmp);
	return 0;
}

int shmfs_proc_mappers(dev_t dev, ino_t ino, pid_t **ret_pids, size_t *ret_cnt)
{
	struct shmfs_file_id id = { .dev = dev, .ino = ino };
	int r = shmfs_proc_mappers_multi(&id, 1);

	if (r < 0)
		return r;
	*ret_pids = id.pids;
	*ret_cnt = id.pid_cnt;
	return 0;
}
