/* join_table.c - the bookkeeping behind joins: which regions this process
 * has mapped, where, and how many times. Linear scans: a process holds a
 * handful of joins, and every lookup runs under join.c's lock anyway. */
#include "join_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

shmfs_join_info_t *shmfs_join_table_find_file(const struct shmfs_join_table *t, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < t->cnt; i++) {
		shmfs_join_info_t *e = t->entry[i];
		if (!e->anonymous && e->dev == dev && e->ino == ino)
			return e;
	}
	return NULL;
}

shmfs_join_info_t *shmfs_join_table_find_anon(const struct shmfs_join_table *t, const char *name)
{
	for (size_t i = 0; i < t->cnt; i++) {
		shmfs_join_info_t *e = t->entry[i];
		if (e->anonymous && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

shmfs_join_info_t *shmfs_join_table_find_join(const struct shmfs_join_table *t, const void *join)
{
	if (!join)
		return NULL;
	for (size_t i = 0; i < t->cnt; i++) {
		shmfs_join_info_t *e = t->entry[i];
		if (e->join == join)
			return e;
	}
	return NULL;
}

shmfs_join_info_t *shmfs_join_table_find_addr(const struct shmfs_join_table *t, uintptr_t a0, uintptr_t a1)
{
	for (size_t i = 0; i < t->cnt; i++) {
		shmfs_join_info_t *e = t->entry[i];
		uintptr_t j0 = (uintptr_t)e->shmem;
		uintptr_t j1 = j0 + e->sz - 1;   /* sz > 0 and fits: checked on entry */
		if (a0 <= j1 && j0 <= a1)
			return e;
	}
	return NULL;
}

int shmfs_join_table_add(struct shmfs_join_table *t, const shmfs_join_info_t *info, shmfs_join_info_t **ret)
{
	shmfs_join_info_t *e;

	if (t->cnt == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		shmfs_join_info_t **n = realloc(t->entry, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->entry = n;
		t->cap = cap;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = *info;
	t->entry[t->cnt++] = e;
	*ret = e;
	return 0;
}

void shmfs_join_table_remove(struct shmfs_join_table *t, shmfs_join_info_t *e)
{
	for (size_t i = 0; i < t->cnt; i++) {
		if (t->entry[i] != e)
			continue;
		t->entry[i] = t->entry[--t->cnt];
		free(e);
		break;
	}
	if (t->cnt == 0) {
		/* Give the memory back when the last join goes, so a process
		 * that joined once does not keep the array (and leak checkers
		 * see nothing at exit). */
		free(t->entry);
		t->entry = NULL;
		t->cap = 0;
	}
}

int shmfs_join_table_snapshot(const struct shmfs_join_table *t, shmfs_join_info_t **ret, size_t *ret_cnt)
{
	shmfs_join_info_t *s = NULL;

	if (t->cnt) {
		s = malloc(t->cnt * sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < t->cnt; i++)
			s[i] = *t->entry[i];
	}
	*ret = s;
	*ret_cnt = t->cnt;
	return 0;
}

void shmfs_join_table_clear(struct shmfs_join_table *t)
{
	for (size_t i = 0; i < t->cnt; i++)
		free(t->entry[i]);
	free(t->entry);
	t->entry = NULL;
	t->cnt = t->cap = 0;
}
