/* test_join_threads.c - the join table under many threads: joins and leaves
 * of the same and of different regions through every path form, anonymous
 * joins, queries and iteration all at once. Checks that every join maps the
 * right region, that threads joining one region share one mapping with an
 * exact reference count, and that nothing is left when all have left. Run
 * under ThreadSanitizer too (suite 'threads'). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <shmfs/shmfs.h>

#include "fixture.h"

#define THREADS 8
#define REGIONS 4
#define ITERS   1500
#define SZ      (16 * 4096)

static struct fixture fx;
static pthread_barrier_t barrier;

static int setup(void **state)
{
	char name[8];

	if (fx_init(&fx) < 0)
		return -1;
	for (int i = 0; i < REGIONS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		if (fx_region(&fx, name, SZ, 0x100 + (unsigned)i) < 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	fx_fini(&fx);
	return 0;
}

/* One of the four path forms of region i (buf holds PATH_BUF bytes). */
#define PATH_BUF (PATH_MAX + 16)
static void path_of(int i, int form, char *buf)
{
	switch (form) {
	case 0: snprintf(buf, PATH_BUF, "r%d", i); break;
	case 1: snprintf(buf, PATH_BUF, "normal/node0/r%d", i); break;
	case 2: snprintf(buf, PATH_BUF, "%s/r%d", fx.node, i); break;
	default: snprintf(buf, PATH_BUF, "%s/r%d", fx.backing, i); break;
	}
}

struct worker {
	int id;
	int errors;
	char anon[PATH_MAX];
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	unsigned seed = (unsigned)w->id * 7919u + 1;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *anon = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char name[16], path[PATH_BUF];
	uint64_t *held;

	if (anon == MAP_FAILED)
		return (void *)1;
	snprintf(name, sizeof(name), "anon%d", w->id);
	/* Every thread keeps r0 joined throughout: it must never move. */
	held = shmfs_join("r0", SHMFS_JOIN_RDONLY);
	if (!held || held[0] != 0x100)
		w->errors++;
	pthread_barrier_wait(&barrier);
	for (int it = 0; it < ITERS; it++) {
		int i = (int)(rand_r(&seed) % REGIONS);
		shmfs_join_info_t info;
		uint64_t *p, *q;

		path_of(i, (int)(rand_r(&seed) % 4), path);
		p = shmfs_join(path, SHMFS_JOIN_RDONLY);
		if (!p || p[0] != 0x100u + (unsigned)i) {
			w->errors++;
			continue;
		}
		if (i == 0 && p != held)
			w->errors++;
		if (shmfs_join_query_by_join(p, &info) != 0 || info.ref_cnt < 1 || info.shmem != p)
			w->errors++;
		if (shmfs_join_query_by_addr((char *)p + 100, 8, NULL) != 0)
			w->errors++;
		if (rand_r(&seed) % 4 == 0) {
			/* A nested second reference of the same region. */
			path_of(i, (int)(rand_r(&seed) % 4), path);
			q = shmfs_join(path, SHMFS_JOIN_RDONLY);
			if (q != p || shmfs_leave(q) != 0)
				w->errors++;
		}
		if (shmfs_leave(p) != 0)
			w->errors++;
		if (it % 16 == 0) {
			if (shmfs_join_anonymous(name, SHMFS_JOIN_RDWR, anon, anon, pg, 1) != 0 ||
			    shmfs_join_query_by_path(name, NULL) != 0 ||
			    shmfs_leave_anonymous(anon, NULL) != 0)
				w->errors++;
		}
	}
	if (shmfs_leave(held) != 0)
		w->errors++;
	munmap(anon, pg);
	return NULL;
}

static void many_threads_join_and_leave_the_same_and_different_regions(void **state)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
		assert_int_equal(w[i].errors, 0);
	}
	pthread_barrier_destroy(&barrier);
	assert_int_equal(shmfs_join_cnt(), 0);
}

static void *join_r1(void *arg)
{
	void **ret = arg;

	pthread_barrier_wait(&barrier);
	*ret = shmfs_join("r1", SHMFS_JOIN_RDWR);
	pthread_barrier_wait(&barrier);   /* everybody holds it now */
	pthread_barrier_wait(&barrier);   /* main has counted */
	return (void *)(intptr_t)shmfs_leave(*ret);
}

static void threads_joining_one_region_at_once_share_one_mapping(void **state)
{
	pthread_t t[THREADS];
	void *p[THREADS];
	shmfs_join_info_t info;

	pthread_barrier_init(&barrier, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, join_r1, &p[i]), 0);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < THREADS; i++) {
		assert_non_null(p[i]);
		assert_ptr_equal(p[i], p[0]);
	}
	assert_int_equal(shmfs_join_query_by_path("r1", &info), 0);
	assert_int_equal(info.ref_cnt, THREADS);
	assert_int_equal(shmfs_join_cnt(), 1);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_int_equal((intptr_t)ret, 0);
	}
	pthread_barrier_destroy(&barrier);
	assert_int_equal(shmfs_join_cnt(), 0);
	assert_int_equal(shmfs_join_query_by_path("r1", NULL), -ENOENT);
}

static int count(const shmfs_join_info_t *info, void *ctx)
{
	if (info->ref_cnt == 0 || info->sz == 0)
		return -1;
	(*(int *)ctx)++;
	return 0;
}

static volatile int stop;

static void *iterate(void *arg)
{
	int *errors = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int n = 0;
		if (shmfs_join_iter(count, &n) != 0 || n > REGIONS + THREADS)
			(*errors)++;
	}
	return NULL;
}

static void iteration_runs_safely_beside_joins_and_leaves(void **state)
{
	pthread_t it, t[THREADS];
	struct worker w[THREADS];
	int errors = 0;

	stop = 0;
	assert_int_equal(pthread_create(&it, NULL, iterate, &errors), 0);
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = 100 + i;
		assert_int_equal(pthread_create(&t[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(it, NULL), 0);
	pthread_barrier_destroy(&barrier);
	assert_int_equal(errors, 0);
	assert_int_equal(shmfs_join_cnt(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_threads_join_and_leave_the_same_and_different_regions),
		cmocka_unit_test(threads_joining_one_region_at_once_share_one_mapping),
		cmocka_unit_test(iteration_runs_safely_beside_joins_and_leaves),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
