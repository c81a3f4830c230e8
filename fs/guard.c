/* guard.c - touching region memory safely. The daemon writes into huge page
 * mappings and peeks at heap headers itself; a region truncated behind its
 * back at that moment would SIGBUS the whole daemon. Inside a guarded call
 * the SIGBUS becomes -EFAULT for that one access instead. */
#include "daemon.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include <shmfs/heap.h>

/* ------------------------------------------------------------ SIGBUS
 *
 * The daemon touches region memory itself in two places: copying a write
 * into a huge page mapping and peeking at a heap header. A region truncated
 * behind its back at that moment would SIGBUS the whole daemon; instead the
 * access fails with EFAULT. */

static __thread sigjmp_buf *bus_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

int shmfs_sigbus_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

int shmfs_guarded_call(int (*fn)(void *), void *arg)
{
	sigjmp_buf jb;
	int r;

	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		return -EFAULT;
	}
	bus_jmp = &jb;
	r = fn(arg);
	bus_jmp = NULL;
	return r;
}

struct copy_args {
	void *dst;
	const void *src;
	size_t len;
};

static int do_copy(void *p)
{
	struct copy_args *a = p;

	memcpy(a->dst, a->src, a->len);
	return 0;
}

int shmfs_guarded_copy(void *dst, const void *src, size_t len)
{
	struct copy_args a = { dst, src, len };

	return shmfs_guarded_call(do_copy, &a);
}

struct set_args {
	void *dst;
	int c;
	size_t len;
};

static int do_set(void *p)
{
	struct set_args *a = p;

	memset(a->dst, a->c, a->len);
	return 0;
}

int shmfs_guarded_set(void *dst, int c, size_t len)
{
	struct set_args a = { dst, c, len };

	return shmfs_guarded_call(do_set, &a);
}

struct heap_peek_args {
	const void *mem;
	size_t len;
	shmfs_heap_stats_t *stats;
};

static int do_heap_peek(void *p)
{
	struct heap_peek_args *a = p;

	return shmfs_heap_peek(a->mem, a->len, a->stats);
}

int shmfs_guarded_heap_peek(const void *mem, size_t len, struct shmfs_heap_stats *ret)
{
	struct heap_peek_args a = { mem, len, ret };

	return shmfs_guarded_call(do_heap_peek, &a);
}
