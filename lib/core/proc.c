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
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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
	/* a process's leader is its own tgid, and only a leader takes a pidfd
	 * without PIDFD_THREAD: two system calls instead of rendering status */
	{
		int fd = (int)syscall(SYS_pidfd_open, tid, 0);

		if (fd >= 0) {
			close(fd);
			*ret = tid;
			return 0;
		}
		if (errno == ESRCH)
			return -ESRCH;
	}
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

static int mapping_cmp(const void *a, const void *b)
{
	const struct shmfs_mapping *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev > y->dev ? 1 : -1;
	if (x->ino != y->ino)
		return x->ino > y->ino ? 1 : -1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool dev_wanted(dev_t dev, const dev_t *devs, size_t dev_cnt)
{
	if (dev_cnt == 0)
		return true;
	for (size_t i = 0; i < dev_cnt; i++)
		if (devs[i] == dev)
			return true;
	return false;
}

struct mapping_vec {
	struct shmfs_mapping *v;
	size_t cnt, cap;
};

static int mapping_push(struct mapping_vec *m, dev_t dev, ino_t ino, pid_t pid)
{
	if (m->cnt == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct shmfs_mapping *n = realloc(m->v, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->v = n;
		m->cap = ncap;
	}
	m->v[m->cnt++] = (struct shmfs_mapping){ .dev = dev, .ino = ino, .pid = pid };
	return 0;
}

/* Add the files on devs that pid maps. A process that cannot be read
 * (exited meanwhile, another user's without the right to look) is skipped. */
static int scan_maps(pid_t pid, const dev_t *devs, size_t dev_cnt, struct mapping_vec *m)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t line_sz = 0;
	dev_t last_dev = 0;
	ino_t last_ino = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (getline(&line, &line_sz, f) > 0) {
		dev_t dev;
		ino_t ino;
		int r;

		if (shmfs_proc_parse_maps_line(line, &dev, &ino) < 0 || ino == 0)
			continue;
		/* a file's mappings are usually adjacent: one entry for the run */
		if (dev == last_dev && ino == last_ino)
			continue;
		if (!dev_wanted(dev, devs, dev_cnt))
			continue;
		last_dev = dev;
		last_ino = ino;
		r = mapping_push(m, dev, ino, pid);
		if (r < 0)
			return r;
	}
	return 0;
}

int shmfs_proc_mappings(const dev_t *devs, size_t dev_cnt, struct shmfs_mapping **ret,
			size_t *ret_cnt)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct mapping_vec m = { 0 };
	struct dirent *de;
	size_t o = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *p = de->d_name;
		uint64_t v;
		int r;

		if (!isdigit((unsigned char)*p) || take_num(&p, 10, &v) < 0 || *p || v > INT32_MAX)
			continue;
		r = scan_maps((pid_t)v, devs, dev_cnt, &m);
		if (r < 0) {
			free(m.v);
			return r;
		}
	}
	if (m.cnt > 1)
		qsort(m.v, m.cnt, sizeof(*m.v), mapping_cmp);
	/* one entry per (file, process), however many mappings it has */
	for (size_t i = 0; i < m.cnt; i++)
		if (o == 0 || mapping_cmp(&m.v[o - 1], &m.v[i]) != 0)
			m.v[o++] = m.v[i];
	*ret = m.v;
	*ret_cnt = o;
	return 0;
}

size_t shmfs_mappings_lookup(const struct shmfs_mapping *m, size_t cnt, dev_t dev, ino_t ino,
			     size_t *ret_n)
{
	struct shmfs_mapping key = { .dev = dev, .ino = ino, .pid = INT32_MIN };
	size_t lo = 0, hi = cnt, first;

	/* the first entry not below (dev, ino, smallest pid) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mapping_cmp(&m[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < cnt && m[lo].dev == dev && m[lo].ino == ino)
		lo++;
	*ret_n = lo - first;
	return first;
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
	_cleanup_free_ struct shmfs_mapping *maps = NULL;
	_cleanup_free_ dev_t *devs = NULL;
	size_t map_cnt = 0, dev_cnt = 0;
	int r;

	for (size_t i = 0; i < id_cnt; i++) {
		ids[i].pids = NULL;
		ids[i].pid_cnt = 0;
	}
	if (id_cnt == 0)
		return 0;
	devs = calloc(id_cnt, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	for (size_t i = 0; i < id_cnt; i++) {
		bool seen = false;

		for (size_t j = 0; j < dev_cnt && !seen; j++)
			seen = devs[j] == ids[i].dev;
		if (!seen)
			devs[dev_cnt++] = ids[i].dev;
	}
	r = shmfs_proc_mappings(devs, dev_cnt, &maps, &map_cnt);
	if (r < 0)
		return r;
	for (size_t i = 0; i < id_cnt; i++) {
		size_t n, first = shmfs_mappings_lookup(maps, map_cnt, ids[i].dev, ids[i].ino, &n);

		if (n == 0)
			continue;
		ids[i].pids = malloc(n * sizeof(pid_t));
		if (!ids[i].pids) {
			shmfs_file_mappers_free(ids, id_cnt);
			return -ENOMEM;
		}
		for (size_t j = 0; j < n; j++)
			ids[i].pids[j] = maps[first + j].pid;
		ids[i].pid_cnt = n;
	}
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
