/* heap.c - the management half of the libshmfs heap: format, validation of a
 * heap found in memory, join/leave (owner slots), stats, the consistency
 * check and reclaim of what dead processes held. The allocation paths are in
 * heap_alloc.c; the format is described in heap_impl.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap_impl.h"
#include "proc.h"

#define CLASS_LINE(unit, blocks, a) { unit, blocks, HEAP_CLASS_UNITS(unit, blocks) },
const struct heap_class shmfs_heap__classes[HEAP_CLASS_CNT] = { HEAP_CLASS_TABLE(CLASS_LINE, 0) };
#undef CLASS_LINE

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

static uint64_t hdr_checksum(const struct heap_hdr *hdr)
{
	return fnv1a(hdr, offsetof(struct heap_hdr, checksum));
}

/* Offsets of every section for blk_cnt blocks; returns the end of the data. */
static uint64_t layout(struct heap_hdr *l, uint32_t owner_max, uint64_t blk_cnt)
{
	l->owner_max = owner_max;
	l->blk_cnt = blk_cnt;
	l->map_words = (blk_cnt + 63) / 64;
	l->owner_off = HEAP_OWNER_OFF;
	l->desc_off = align_up(l->owner_off + (uint64_t)owner_max * sizeof(struct heap_owner), 64);
	l->aux_off = align_up(l->desc_off + blk_cnt * 8, 64);
	l->hold_off = align_up(l->aux_off + blk_cnt * 4, 64);
	l->bmap_off = align_up(l->hold_off + blk_cnt * 4, 64);
	l->used_off = align_up(l->bmap_off + blk_cnt * HEAP_BMAP_STRIDE * 8, 64);
	l->hint_off = align_up(l->used_off + l->map_words * 8, 64);
	l->data_off = align_up(l->hint_off + HEAP_CLASS_CNT * l->map_words * 8, HEAP_BLOCK_SZ);
	return l->data_off + blk_cnt * HEAP_BLOCK_SZ;
}

/* The most blocks that fit in heap_sz bytes with their metadata. */
static uint64_t layout_fit(struct heap_hdr *l, uint32_t owner_max, uint64_t heap_sz)
{
	uint64_t per_blk = HEAP_BLOCK_SZ + 8 + 4 + 4 + HEAP_BMAP_STRIDE * 8 + 5;
	uint64_t fixed = HEAP_OWNER_OFF + (uint64_t)owner_max * sizeof(struct heap_owner) + 8 * 64 + HEAP_BLOCK_SZ;
	uint64_t n = heap_sz > fixed ? (heap_sz - fixed) / per_blk : 0;

	if (n >= HEAP_MAX_BLOCKS) {
		/* Larger memory is used up to the limit only (the header
		 * records the size used). */
		layout(l, owner_max, HEAP_MAX_BLOCKS);
		return HEAP_MAX_BLOCKS;
	}
	while (n > 0 && layout(l, owner_max, n) > heap_sz)
		n--;
	while (n < HEAP_MAX_BLOCKS && layout(l, owner_max, n + 1) <= heap_sz)
		n++;
	layout(l, owner_max, n);
	return n;
}

/* The kernel's PROCMAP_QUERY (Linux 6.11; defined here for older headers,
 * the ABI is fixed): the mapping that covers an address and its page size. */
struct heap_procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define HEAP_PROCMAP_QUERY _IOWR('f', 17, struct heap_procmap_query)
#define HEAP_PROCMAP_SHARED 0x08

/* Is [p, p+n) inside one shared mapping of base pages (pg bytes)? Only
 * then does MADV_REMOVE zero exactly the whole pages it is given: on huge
 * pages a kernel may leave a partly covered page as it was. Unknown (older
 * kernel) means no. */
static bool base_page_shared(const void *p, size_t n, long pg)
{
	struct heap_procmap_query q = { .size = sizeof(q), .query_addr = (uintptr_t)p };
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return false;
	r = ioctl(fd, HEAP_PROCMAP_QUERY, &q);
	close(fd);
	return r == 0 && q.vma_page_size == (uint64_t)pg && (q.vma_flags & HEAP_PROCMAP_SHARED) &&
	       q.vma_start <= (uintptr_t)p && q.vma_end >= (uintptr_t)p + n;
}

/* Zero n bytes at p without making them resident where the memory allows:
 * the metadata of a 1 GiB heap is 37 MB, nearly all of it zero until used.
 * In a shared mapping of base pages, MADV_REMOVE frees the backing of the
 * whole pages inside (shared memory, tmpfs, files that can punch holes),
 * which then read as zero and take memory only when touched. Elsewhere (or
 * when it fails) memset does the work. */
static void zero_lazily(uint8_t *p, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a, e;

	if (pg <= 0 || n < 64 * (size_t)pg || !base_page_shared(p, n, pg)) {
		memset(p, 0, n);
		return;
	}
	a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
	if (madvise((void *)a, e - a, MADV_REMOVE) < 0) {
		memset(p, 0, n);
		return;
	}
	memset(p, 0, a - (uintptr_t)p);
	memset((void *)e, 0, (uintptr_t)p + n - e);
}

SHMFS_API int shmfs_heap_format(void *mem, size_t mem_sz, const struct shmfs_heap_format_opts *opts)
{
	struct heap_hdr hdr = { 0 };
	uint32_t owner_max = HEAP_OWNER_DEFAULT;
	_Atomic uint64_t *used;
	uint64_t n;

	if (!mem || ((uintptr_t)mem & 15))
		return -EINVAL;
	if (opts) {
		if (opts->sz < offsetof(struct shmfs_heap_format_opts, owner_max) + sizeof(uint32_t))
			return -EINVAL;
		if (opts->owner_max > SHMFS_HEAP_OWNER_MAX)
			return -EINVAL;
		if (opts->owner_max)
			owner_max = opts->owner_max;
	}
	if (mem_sz < HEAP_OWNER_OFF + HEAP_MIN_BLOCKS * HEAP_BLOCK_SZ)
		return -ENOSPC;
	n = layout_fit(&hdr, owner_max, mem_sz);
	if (n < HEAP_MIN_BLOCKS)
		return -ENOSPC;

	hdr.magic = HEAP_MAGIC;
	hdr.version = HEAP_VERSION;
	hdr.hdr_sz = sizeof(hdr);
	hdr.heap_sz = hdr.data_off + n * HEAP_BLOCK_SZ;
	hdr.block_sz = HEAP_BLOCK_SZ;
	hdr.checksum = hdr_checksum(&hdr);

	/* Magic last, so a crash during format leaves memory that is refused. */
	zero_lazily(mem, hdr.data_off);
	used = (_Atomic uint64_t *)((uint8_t *)mem + hdr.used_off);
	if (n % 64)
		used[n / 64] = ~0ull << (n % 64); /* bits past the end are never free */
	hdr.magic = 0;
	memcpy(mem, &hdr, sizeof(hdr));
	atomic_thread_fence(memory_order_release);
	__atomic_store_n((uint64_t *)mem, HEAP_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int shmfs_heap__view(const void *mem, size_t mem_sz, struct shmfs_heap *h)
{
	const struct heap_hdr *hdr = mem;
	struct heap_hdr l = { 0 };

	if (!mem || ((uintptr_t)mem & 15))
		return -EINVAL;
	if (mem_sz < sizeof(uint64_t) || __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) != HEAP_MAGIC)
		return -ENOMSG;
	if (mem_sz < sizeof(*hdr) || hdr->version != HEAP_VERSION || hdr->hdr_sz != sizeof(*hdr) ||
	    hdr->checksum != hdr_checksum(hdr))
		return -EBADMSG;
	if (hdr->heap_sz > mem_sz || hdr->block_sz != HEAP_BLOCK_SZ || hdr->owner_max == 0 ||
	    hdr->owner_max > SHMFS_HEAP_OWNER_MAX || hdr->blk_cnt < HEAP_MIN_BLOCKS || hdr->blk_cnt > HEAP_MAX_BLOCKS ||
	    hdr->blk_cnt > hdr->heap_sz / HEAP_BLOCK_SZ)
		return -EBADMSG;
	/* Every offset must be the one this version computes: nothing read from
	 * the header is trusted beyond what the checksum and the size allow. */
	if (layout(&l, hdr->owner_max, hdr->blk_cnt) != hdr->heap_sz ||
	    l.owner_off != hdr->owner_off || l.desc_off != hdr->desc_off || l.aux_off != hdr->aux_off ||
	    l.hold_off != hdr->hold_off ||
	    l.bmap_off != hdr->bmap_off || l.used_off != hdr->used_off || l.hint_off != hdr->hint_off ||
	    l.data_off != hdr->data_off || l.map_words != hdr->map_words)
		return -EBADMSG;

	*h = (struct shmfs_heap) {
		.base = (uint8_t *)mem,
		.heap_sz = hdr->heap_sz,
		.hdr = hdr,
		.mut = (struct heap_mut *)((uint8_t *)mem + HEAP_MUT_OFF),
		.owners = (struct heap_owner *)((uint8_t *)mem + hdr->owner_off),
		.desc = (_Atomic uint64_t *)((uint8_t *)mem + hdr->desc_off),
		.aux = (_Atomic uint32_t *)((uint8_t *)mem + hdr->aux_off),
		.hold = (_Atomic uint32_t *)((uint8_t *)mem + hdr->hold_off),
		.bmap = (_Atomic uint64_t *)((uint8_t *)mem + hdr->bmap_off),
		.used = (_Atomic uint64_t *)((uint8_t *)mem + hdr->used_off),
		.hint = (_Atomic uint64_t *)((uint8_t *)mem + hdr->hint_off),
		.data_off = hdr->data_off,
		.data_sz = hdr->blk_cnt * HEAP_BLOCK_SZ,
		.blk_cnt = hdr->blk_cnt,
		.map_words = hdr->map_words,
		.owner_max = hdr->owner_max,
	};
	return 0;
}

/* Start time of the calling process (0 = unknown: liveness then rests on
 * the pid alone). */
static uint64_t self_start_time(void)
{
	uint64_t start;

	return shmfs_proc_start_time(getpid(), &start) < 0 ? 0 : start;
}

/* The host identity: SHMFS_HOST_ID when set, else /etc/machine-id (or
 * dbus's copy), else the host name; hashed to 28 bits, never 0. Read once. */
static uint32_t host_hash(const char *s, size_t n)
{
	uint64_t h = fnv1a(s, n);
	uint32_t v = (uint32_t)(h ^ (h >> 28) ^ (h >> 56)) & S_HOST_MASK;

	return v ? v : 1;
}

static bool read_line(const char *path, char *buf, size_t sz)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fgets(buf, (int)sz, f) ? strcspn(buf, " \t\r\n") : 0;
	fclose(f);
	buf[n] = '\0';
	return n > 0;
}

static _Atomic uint32_t host_id_cache;

uint32_t shmfs_heap__host_id(void)
{
	uint32_t v = atomic_load_explicit(&host_id_cache, memory_order_relaxed);
	char buf[256];
	const char *env;

	if (v)
		return v;
	env = getenv("SHMFS_HOST_ID");
	if (env && env[0])
		v = host_hash(env, strlen(env));
	else if (read_line("/etc/machine-id", buf, sizeof(buf)) ||
		 read_line("/var/lib/dbus/machine-id", buf, sizeof(buf)))
		v = host_hash(buf, strlen(buf));
	else if (gethostname(buf, sizeof(buf) - 1) == 0 && (buf[sizeof(buf) - 1] = '\0', buf[0]))
		v = host_hash(buf, strlen(buf));
	else
		v = 1;
	atomic_store_explicit(&host_id_cache, v, memory_order_relaxed);
	return v;
}

SHMFS_API uint32_t shmfs_heap_host_id(void)
{
	return shmfs_heap__host_id();
}

/* The first 15 bytes of SHMFS_HOST_ID when set (it names the host then),
 * else of the host name, NUL-padded (for people). */
static void self_host_name(char out[HEAP_HOST_NAME_MAX])
{
	const char *env = getenv("SHMFS_HOST_ID");
	char buf[256] = "";

	memset(out, 0, HEAP_HOST_NAME_MAX);
	if (env && env[0])
		memcpy(out, env, strnlen(env, HEAP_HOST_NAME_MAX - 1));
	else if (gethostname(buf, sizeof(buf) - 1) == 0)
		memcpy(out, buf, strnlen(buf, HEAP_HOST_NAME_MAX - 1));
}

static _Atomic uint64_t join_ids;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* A forked child inherits the parent thread's cache, whose spans are held
 * by a thread of the parent: it must never write them. */
static void register_fork_child(void)
{
	pthread_atfork(NULL, NULL, shmfs_heap__fork_child);
}

SHMFS_API int shmfs_heap_join(void *mem, size_t mem_sz, shmfs_heap_t **ret_heap)
{
	struct shmfs_heap v, *h;
	char host_name[HEAP_HOST_NAME_MAX];
	uint32_t host;
	uint64_t start;
	pid_t pid;
	int r;

	if (!ret_heap)
		return -EINVAL;
	r = shmfs_heap__view(mem, mem_sz, &v);
	if (r < 0)
		return r;
	pthread_once(&fork_once, register_fork_child);
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = v;
	pid = getpid();
	if ((uint32_t)pid > S_PID_MASK) {
		free(h);
		return -EOVERFLOW; /* cannot be: Linux pids are below 2^22 */
	}
	start = self_start_time();
	host = shmfs_heap__host_id();
	self_host_name(host_name);
	for (uint32_t i = 0; i < h->owner_max; i++) {
		struct heap_owner *o = &h->owners[i];
		uint64_t w = atomic_load(&o->word);
		uint32_t gen;

		if (S_STATE(w) != S_FREE)
			continue;
		gen = (S_GEN(w) + 1) & 0xfff;
		/* Start time first: a reclaim that sees the slot active must
		 * never compare against a stale one (0 means unknown). */
		if (!atomic_compare_exchange_strong(&o->word, &w, S_MAKE(S_ACTIVE, gen, host, pid)))
			continue;
		atomic_store(&o->start_time, start);
		memcpy(o->host_name, host_name, sizeof(host_name));
		h->owner = OWNER_MAKE(i, gen);
		h->join_id = atomic_fetch_add(&join_ids, 1) + 1;
		atomic_fetch_add_explicit(&h->mut->join_cnt, 1, memory_order_relaxed);
		*ret_heap = h;
		return 0;
	}
	free(h);
	return -EUSERS;
}

SHMFS_API int shmfs_heap_leave(shmfs_heap_t *h)
{
	struct heap_owner *o;
	uint64_t w;

	if (!h)
		return 0;
	shmfs_heap_trim(h);
	/* No thread uses the handle any more: spans its threads still hold
	 * (threads that are alive but done with it) go back too. */
	shmfs_heap__drop_holds(h);
	for (uint64_t b = 0; b < h->blk_cnt; b++)
		if (D_OWNER(atomic_load_explicit(&h->desc[b], memory_order_relaxed)) == h->owner)
			goto out;
	o = &h->owners[OWNER_IDX(h->owner)];
	w = atomic_load(&o->word);
	if (S_STATE(w) == S_ACTIVE && S_GEN(w) == OWNER_GEN(h->owner)) {
		atomic_store(&o->start_time, 0);
		memset(o->host_name, 0, sizeof(o->host_name));
		atomic_compare_exchange_strong(&o->word, &w, S_MAKE(S_FREE, S_GEN(w), 0, 0));
	}
out:
	free(h);
	return 0;
}

unsigned shmfs_heap__span_live(const struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	const struct heap_class *cl;
	_Atomic uint64_t *bm = heap_bmap(h, head);
	unsigned n = 0;

	if (!heap_class_ok(D_CLASS(d)))
		return 0;
	cl = &shmfs_heap__classes[D_CLASS(d)];
	for (unsigned i = 0; i < heap_class_words(D_CLASS(d)); i++) {
		uint64_t r = atomic_load(&bm[HEAP_FREED + i]), w = atomic_load(&bm[i]);

		if (W_TAG(w) == D_TAG(d))
			n += heap_popcount(w & ~r & heap_unit_mask(cl->units, i));
	}
	return n;
}

uint64_t shmfs_heap__run_release(struct shmfs_heap *h, uint64_t head, uint64_t dr)
{
	uint64_t n = heap_run_blocks(h, head, dr), freed = 1;
	uint64_t free_d = D_MAKE(0, K_FREE, 0, D_GEN(dr) + 1);
	uint64_t df = D_MAKE(D_OWNER(dr), K_FREEING, D_CLASS(dr), D_GEN(dr));

	/* Decide first, on the head: once it is K_FREEING nobody can roll
	 * the retire back, so freeing the bodies below is never undone. */
	if (D_KIND(dr) == K_RETIRE && !atomic_compare_exchange_strong(&h->desc[head], &dr, df) && dr != df)
		return 0;
	dr = df;

	if (n == 0 || n > h->blk_cnt - head)
		n = 1;
	for (uint64_t i = 1; i < n; i++) {
		uint64_t b = head + i;
		uint64_t db = atomic_load(&h->desc[b]);

		if (D_KIND(db) != K_BODY || atomic_load_explicit(&h->aux[b], memory_order_relaxed) != head)
			continue;
		if (atomic_compare_exchange_strong(&h->desc[b], &db, D_MAKE(0, K_FREE, 0, D_GEN(db) + 1))) {
			heap_map_clear(h->used, b);
			/* Counted by whoever freed it: two releases of one run
			 * may share its bodies. */
			atomic_fetch_sub_explicit(&h->mut->footprint, 1, memory_order_relaxed);
			freed++;
		}
	}
	if (D_CLASS(dr) < HEAP_CLASS_CNT)
		heap_map_clear(h->hint + D_CLASS(dr) * h->map_words, head);
	if (!atomic_compare_exchange_strong(&h->desc[head], &dr, free_d))
		return 0;
	heap_map_clear(h->used, head);
	/* What was freed, not what the head says: a run length that does
	 * not match its bodies (garbage) must not skew the counts. */
	atomic_fetch_sub_explicit(&h->mut->footprint, 1, memory_order_relaxed);
	return freed;
}

void shmfs_heap__retire_resolve(struct shmfs_heap *h, uint64_t head, uint64_t dr)
{
	if (D_CLASS(dr) >= HEAP_CLASS_CNT || shmfs_heap__span_live(h, head, dr) == 0) {
		shmfs_heap__run_release(h, head, dr);
		return;
	}
	atomic_compare_exchange_strong(&h->desc[head], &dr,
				       D_MAKE(D_OWNER(dr), K_SMALL, D_CLASS(dr), D_GEN(dr)));
}

/* Do the bitmap words of span head (descriptor d, valid class) carry its
 * tag and no unit past the span? (A span is committed after its words are
 * written, so a committed span always does.) */
static bool span_words_ok(const struct shmfs_heap *h, uint64_t head, uint64_t d)
{
	const struct heap_class *cl = &shmfs_heap__classes[D_CLASS(d)];
	_Atomic uint64_t *bm = heap_bmap(h, head);

	for (unsigned i = 0; i < heap_class_words(D_CLASS(d)); i++) {
		uint64_t past = HEAP_UNIT_MASK & ~heap_unit_mask(cl->units, i);
		uint64_t w = atomic_load(&bm[i]), r = atomic_load(&bm[HEAP_FREED + i]);

		if (W_TAG(w) != D_TAG(d) || (w & past) || (r & past))
			return false;
	}
	return true;
}

/* Count what the descriptors say is live. -EUCLEAN on what no heap writes
 * (unknown kind, class out of range, owner past the table, a large run
 * longer than the heap, a body pointing forward, span bitmaps with a stale
 * tag or units past the span): its count would be garbage, and a wrong
 * total is worse than none. Each is re-read before it is reported, since a
 * block recycled under us may look odd for a moment. States of operations
 * in flight are all legal here. */
static int count_blocks(const struct shmfs_heap *h, uint64_t *ret_used, uint64_t *ret_cnt,
			uint64_t *ret_blocks)
{
	uint64_t used = 0, cnt = 0, blocks = 0;

	for (uint64_t b = 0; b < h->blk_cnt; b++) {
		uint64_t d = atomic_load_explicit(&h->desc[b], memory_order_acquire), n;
		unsigned live, c = D_CLASS(d);
		uint32_t o = D_OWNER(d);

		if (D_KIND(d) > HEAP_KIND_MAX)
			return -EUCLEAN;
		if (D_KIND(d) != K_FREE && ((o & 0xfff) == 0 || OWNER_IDX(o) >= h->owner_max))
			return -EUCLEAN;
		if (D_KIND(d) == K_BODY && atomic_load_explicit(&h->aux[b], memory_order_relaxed) >= b &&
		    atomic_load(&h->desc[b]) == d)
			return -EUCLEAN;
		if (D_KIND(d) != K_FREE)
			blocks++;
		switch (D_KIND(d)) {
		case K_SMALL:
		case K_RETIRE:
		case K_FREEING:
			if (heap_class_ok(c)) {
				if (D_KIND(d) == K_FREEING)
					break; /* its units are gone */
				if (!span_words_ok(h, b, d) && atomic_load(&h->desc[b]) == d)
					return -EUCLEAN;
				live = shmfs_heap__span_live(h, b, d);
				used += (uint64_t)live * shmfs_heap__classes[c].unit;
				cnt += live;
			} else if (c != HEAP_CLASS_LARGE || D_KIND(d) == K_SMALL) {
				return -EUCLEAN;
			}
			break;
		case K_LARGE:
		case K_CACHED:
			n = atomic_load_explicit(&h->aux[b], memory_order_relaxed);
			/* Each body belongs to one head: walking them keeps
			 * the count O(heap size). */
			if (c != 0 || !heap_run_ok(h, b, n) || !heap_bodies_ok(h, b, n)) {
				/* aux is written before the head is committed:
				 * a change since d means a recycled block. */
				if (atomic_load(&h->desc[b]) != d)
					break;
				return -EUCLEAN;
			}
			if (D_KIND(d) == K_CACHED)
				break; /* taken (footprint), not in use */
			used += n * HEAP_BLOCK_SZ;
			cnt++;
			break;
		}
	}
	*ret_used = used;
	*ret_cnt = cnt;
	*ret_blocks = blocks;
	return 0;
}

static int view_stats(const struct shmfs_heap *h, shmfs_heap_stats_t *st)
{
	uint64_t blocks;
	int r;

	memset(st, 0, sizeof(*st));
	st->size = h->blk_cnt * HEAP_BLOCK_SZ;
	r = count_blocks(h, &st->used, &st->alloc_cnt, &blocks);
	if (r < 0) {
		memset(st, 0, sizeof(*st));
		return r;
	}
	if (st->used > st->size) /* only under concurrent recycling */
		st->used = st->size;
	st->free = st->size - st->used;
	st->footprint = blocks * HEAP_BLOCK_SZ;
	st->hwm = atomic_load_explicit(&h->mut->hwm, memory_order_relaxed);
	st->hwm = (st->hwm > h->blk_cnt ? h->blk_cnt : st->hwm) * HEAP_BLOCK_SZ;
	if (st->hwm < st->footprint)
		st->hwm = st->footprint;
	st->owner_max = h->owner_max;
	for (uint32_t i = 0; i < h->owner_max; i++)
		if (S_STATE(atomic_load_explicit(&h->owners[i].word, memory_order_relaxed)) != S_FREE)
			st->owner_cnt++;
	return 0;
}

/* The smallest sz of the structs the heap fills in: their first version
 * (see heap.h). A later field never lowers these. */
#define STATS_SZ_MIN   (offsetof(shmfs_heap_stats_t, owner_max) + sizeof(uint64_t))
#define RECLAIM_SZ_MIN (offsetof(shmfs_heap_reclaim_stats_t, damaged) + sizeof(uint64_t))

/* Copy the 64-bit fields of src (lib_sz bytes, sz first) that lie wholly
 * within the caller's dst->sz, and set dst->sz to the bytes filled. */
static void out_fill(void *dst, const void *src, size_t lib_sz)
{
	size_t n = *(const size_t *)dst, head = sizeof(size_t);

	if (n > lib_sz)
		n = lib_sz;
	n = head + (n - head) / sizeof(uint64_t) * sizeof(uint64_t);
	memcpy((uint8_t *)dst + head, (const uint8_t *)src + head, n - head);
	*(size_t *)dst = n;
}

_Static_assert(offsetof(shmfs_heap_stats_t, size) % sizeof(uint64_t) == 0 &&
	       offsetof(shmfs_heap_reclaim_stats_t, owner_cnt) % sizeof(uint64_t) == 0,
	       "the fields after sz start 8-byte aligned");

static int stats_out(const struct shmfs_heap *h, shmfs_heap_stats_t *ret_stats)
{
	shmfs_heap_stats_t st;
	int r;

	if (ret_stats->sz < STATS_SZ_MIN)
		return -EINVAL;
	r = view_stats(h, &st);
	/* -EUCLEAN: zeros, as view_stats leaves st */
	out_fill(ret_stats, &st, sizeof(st));
	return r;
}

SHMFS_API int shmfs_heap_stats(const shmfs_heap_t *heap, shmfs_heap_stats_t *ret_stats)
{
	if (!heap || !ret_stats)
		return -EINVAL;
	return stats_out(heap, ret_stats);
}

SHMFS_API int shmfs_heap_peek(const void *mem, size_t mem_sz, shmfs_heap_stats_t *ret_stats)
{
	struct shmfs_heap v;
	int r;

	if (!ret_stats || ret_stats->sz < STATS_SZ_MIN)
		return -EINVAL;
	r = shmfs_heap__view(mem, mem_sz, &v);
	if (r < 0)
		return r;
	return stats_out(&v, ret_stats);
}

SHMFS_API int shmfs_heap_owners(const void *mem, size_t mem_sz, shmfs_heap_owner_t *ret, size_t cap)
{
	struct shmfs_heap v;
	uint32_t host = shmfs_heap__host_id();
	size_t n = 0;
	int r;

	if (cap && !ret)
		return -EINVAL;
	r = shmfs_heap__view(mem, mem_sz, &v);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < v.owner_max; i++) {
		const struct heap_owner *o = &v.owners[i];
		uint64_t w = atomic_load(&o->word);
		shmfs_heap_owner_t *e;

		if (S_STATE(w) != S_ACTIVE && S_STATE(w) != S_DEAD)
			continue;
		if (n++ >= cap)
			continue;
		e = &ret[n - 1];
		memset(e, 0, sizeof(*e));
		e->slot = i;
		e->dead = S_STATE(w) == S_DEAD;
		e->pid = S_PID(w);
		e->host_id = S_HOST(w);
		e->local = S_HOST(w) == host;
		e->start_time = atomic_load(&o->start_time);
		/* written by whoever could write the memory: printable
		 * ASCII only, the rest '?' */
		for (size_t k = 0; k < HEAP_HOST_NAME_MAX - 1; k++) {
			char c = ((const volatile char *)o->host_name)[k];

			if (!c)
				break;
			e->host[k] = c > 0x20 && c < 0x7f ? c : '?';
		}
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

#define CHECK(cond, ...) do { \
		if (!(cond)) { \
			if (msg && msg_sz) \
				snprintf(msg, msg_sz, __VA_ARGS__); \
			return -EUCLEAN; \
		} \
	} while (0)

static bool owner_valid(const struct shmfs_heap *h, uint32_t o)
{
	uint64_t w;

	if ((o & 0xfff) == 0 || OWNER_IDX(o) >= h->owner_max)
		return false;
	w = atomic_load(&h->owners[OWNER_IDX(o)].word);
	return S_STATE(w) != S_FREE && S_GEN(w) == OWNER_GEN(o);
}

/* One block; 1 when it changed under us (skip), 0 when fine. */
static int check_block(const struct shmfs_heap *h, uint64_t b, char *msg, size_t msg_sz)
{
	uint64_t d = atomic_load(&h->desc[b]);
	unsigned kind = D_KIND(d), c = D_CLASS(d);
	uint64_t n, head, dh;

	CHECK(kind <= HEAP_KIND_MAX, "block %llu: unknown kind %u", (unsigned long long)b, kind);
	if (kind == K_FREE) {
		CHECK(D_OWNER(d) == 0 && c == 0, "block %llu: free block with owner or class",
		      (unsigned long long)b);
		return 0;
	}
	if (!owner_valid(h, D_OWNER(d))) {
		if (atomic_load(&h->desc[b]) != d)
			return 1;
		CHECK(false, "block %llu: owner %#x is not a registered owner", (unsigned long long)b,
		      D_OWNER(d));
	}
	switch (kind) {
	case K_SMALL:
	case K_LARGE:
	case K_CACHED:
	case K_RETIRE:
	case K_FREEING:
		CHECK(c < HEAP_CLASS_CNT || (c == HEAP_CLASS_LARGE && kind != K_SMALL),
		      "block %llu: bad class %u", (unsigned long long)b, c);
		if (kind == K_LARGE || kind == K_CACHED)
			CHECK(c == 0, "block %llu: large run with a class", (unsigned long long)b);
		n = heap_run_blocks(h, b, d);
		CHECK(n >= 1 && n <= h->blk_cnt - b, "block %llu: run of %llu blocks overruns the heap",
		      (unsigned long long)b, (unsigned long long)n);
		if (kind == K_FREEING)
			return 0; /* bodies may be half released */
		/* A retiring run is whole until its head is K_FREEING. */
		for (uint64_t i = 1; i < n; i++) {
			uint64_t db = atomic_load(&h->desc[b + i]);

			if (D_KIND(db) != K_BODY || atomic_load(&h->aux[b + i]) != b) {
				if (atomic_load(&h->desc[b]) != d)
					return 1;
				CHECK(false, "block %llu: body %llu of the run is not attached",
				      (unsigned long long)b, (unsigned long long)(b + i));
			}
		}
		if (kind != K_LARGE && kind != K_CACHED && c < HEAP_CLASS_CNT) {
			_Atomic uint64_t *bm = heap_bmap(h, b);

			for (unsigned i = 0; i < heap_class_words(c); i++) {
				uint32_t hv = atomic_load(&h->hold[b]);
				uint64_t r = atomic_load(&bm[HEAP_FREED + i]), w = atomic_load(&bm[i]);
				uint64_t past = HEAP_UNIT_MASK & ~heap_unit_mask(shmfs_heap__classes[c].units, i);

				if (atomic_load(&h->desc[b]) != d)
					return 1;
				CHECK(W_TAG(w) == D_TAG(d), "block %llu: bitmap word %u has a stale tag",
				      (unsigned long long)b, i);
				CHECK(!(w & past), "block %llu: bitmap word %u marks units past the span",
				      (unsigned long long)b, i);
				CHECK(!(r & past), "block %llu: freed word %u marks units past the span",
				      (unsigned long long)b, i);
				/* Freed units not allocated: only in a collection,
				 * which only a holder makes (and changes r). */
				if (r & ~w & HEAP_UNIT_MASK) {
					if (hv || atomic_load(&h->hold[b]) || atomic_load(&bm[HEAP_FREED + i]) != r)
						continue;
					CHECK(false, "block %llu: freed word %u marks units never allocated",
					      (unsigned long long)b, i);
				}
			}
		}
		return 0;
	case K_BODY:
		head = atomic_load(&h->aux[b]);
		CHECK(head < b, "block %llu: body points forward to %llu", (unsigned long long)b,
		      (unsigned long long)head);
		dh = atomic_load(&h->desc[head]);
		if (D_KIND(dh) == K_CLAIM || D_KIND(dh) == K_RETIRE || D_KIND(dh) == K_FREEING)
			return 0;
		if (D_KIND(dh) != K_SMALL && D_KIND(dh) != K_LARGE && D_KIND(dh) != K_CACHED) {
			if (atomic_load(&h->desc[b]) != d)
				return 1;
			CHECK(false, "block %llu: body of %llu which is no run head", (unsigned long long)b,
			      (unsigned long long)head);
		}
		CHECK(b - head < heap_run_blocks(h, head, dh) || atomic_load(&h->desc[b]) != d,
		      "block %llu: body past the end of run %llu", (unsigned long long)b,
		      (unsigned long long)head);
		return 0;
	default: /* K_CLAIM: an allocation in flight */
		return 0;
	}
}

SHMFS_API int shmfs_heap_check(const void *mem, size_t mem_sz, char *msg, size_t msg_sz)
{
	struct shmfs_heap v;
	int r;

	r = shmfs_heap__view(mem, mem_sz, &v);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < v.owner_max; i++) {
		uint64_t w = atomic_load(&v.owners[i].word);

		CHECK(S_STATE(w) <= S_DEAD, "owner slot %u: bad state %u", i, S_STATE(w));
		CHECK(S_STATE(w) == S_FREE || S_PID(w) != 0, "owner slot %u: in use without a pid", i);
		CHECK(S_STATE(w) == S_FREE || S_HOST(w) != 0, "owner slot %u: in use without a host", i);
		CHECK(S_STATE(w) != S_FREE || (S_PID(w) == 0 && S_HOST(w) == 0),
		      "owner slot %u: free with a pid or host", i);
	}
	for (uint64_t b = 0; b < v.blk_cnt; b++) {
		r = check_block(&v, b, msg, msg_sz);
		if (r < 0)
			return r;
	}
	if (msg && msg_sz)
		msg[0] = 0;
	return 0;
}

/* Free one block-run head owned by a dead owner; counts what it held. */
static void reclaim_head(struct shmfs_heap *h, uint64_t b, uint64_t d, shmfs_heap_reclaim_stats_t *st)
{
	unsigned c = D_CLASS(d);
	uint64_t live = 0, bytes = 0, n, dr;

	switch (D_KIND(d)) {
	case K_SMALL:
		if (!heap_class_ok(c))
			return; /* check_block refused it before */
		live = shmfs_heap__span_live(h, b, d);
		bytes = live * shmfs_heap__classes[c].unit;
		dr = D_MAKE(D_OWNER(d), K_RETIRE, c, D_GEN(d));
		break;
	case K_LARGE:
		live = 1;
		bytes = (uint64_t)atomic_load(&h->aux[b]) * HEAP_BLOCK_SZ;
		dr = D_MAKE(D_OWNER(d), K_RETIRE, HEAP_CLASS_LARGE, D_GEN(d));
		break;
	case K_RETIRE:
		/* A span stays its owner's until released: count what is left. */
		if (heap_class_ok(c)) {
			live = shmfs_heap__span_live(h, b, d);
			bytes = live * shmfs_heap__classes[c].unit;
		}
		dr = d;
		break;
	default:
		return;
	}
	if (dr != d && !atomic_compare_exchange_strong(&h->desc[b], &d, dr))
		return;
	n = shmfs_heap__run_release(h, b, dr);
	if (n) {
		st->alloc_cnt += live;
		st->bytes += bytes;
		st->blocks += n;
	}
}

SHMFS_API int shmfs_heap_reclaim(void *mem, size_t mem_sz, shmfs_heap_reclaim_stats_t *ret_stats)
{
	shmfs_heap_reclaim_stats_t st = { .sz = sizeof(st) };
	struct shmfs_heap v;
	uint32_t *dead, *keep, host = shmfs_heap__host_id();
	bool any = false;
	int r;

	if (ret_stats && ret_stats->sz < RECLAIM_SZ_MIN)
		return -EINVAL;
	r = shmfs_heap__view(mem, mem_sz, &v);
	if (r < 0)
		return r;
	/* dead[i]: the owner id of slot i when it is dead; keep[i]: it still
	 * owns a damaged block, so the slot stays (a released slot would
	 * leave that block with an owner nobody can reclaim). */
	dead = calloc(2 * (size_t)v.owner_max, sizeof(*dead));
	if (!dead)
		return -ENOMEM;
	keep = dead + v.owner_max;

	for (uint32_t i = 0; i < v.owner_max; i++) {
		struct heap_owner *o = &v.owners[i];
		uint64_t w = atomic_load(&o->word);

		if (S_STATE(w) == S_ACTIVE) {
			/* Only this host's /proc can say a pid is dead: a
			 * process of another host is left to a reclaim there. */
			if (S_HOST(w) != host) {
				st.foreign++;
				continue;
			}
			if (shmfs_proc_alive(S_PID(w), atomic_load(&o->start_time)))
				continue;
			if (!atomic_compare_exchange_strong(&o->word, &w,
							    S_MAKE(S_DEAD, S_GEN(w), S_HOST(w), S_PID(w))))
				continue;
			w = S_MAKE(S_DEAD, S_GEN(w), S_HOST(w), S_PID(w));
		}
		if (S_STATE(w) == S_DEAD) {
			dead[i] = OWNER_MAKE(i, S_GEN(w));
			any = true;
		}
	}

	for (uint64_t b = 0; any && b < v.blk_cnt; b++) {
		uint64_t d = atomic_load(&v.desc[b]);
		uint32_t o = D_OWNER(d);
		bool mine = o && OWNER_IDX(o) < v.owner_max && dead[OWNER_IDX(o)] == o;
		uint64_t head, dh;

		if (D_KIND(d) == K_FREE)
			continue;
		if (!mine && D_KIND(d) != K_FREEING && D_KIND(d) != K_RETIRE) {
			/* Not ours to free; but a block of no registered owner
			 * is one nobody can free: say so in the count. */
			if (!owner_valid(&v, o) && check_block(&v, b, NULL, 0) < 0)
				st.damaged++;
			continue;
		}
		/* Act only on what check accepts: a block damaged by someone
		 * writing garbage is skipped (and counted), never trusted to
		 * index, count or free. 1: it changed under us, someone else
		 * is working on it. */
		r = check_block(&v, b, NULL, 0);
		if (r < 0) {
			st.damaged++;
			if (mine)
				keep[OWNER_IDX(o)] = 1;
		}
		if (r)
			continue;
		d = atomic_load(&v.desc[b]);
		if (D_OWNER(d) != o)
			continue;
		if (D_KIND(d) == K_FREEING) {
			/* A release someone was killed in (or is doing): finish it. */
			shmfs_heap__run_release(&v, b, d);
			continue;
		}
		if (D_KIND(d) == K_RETIRE && !mine) {
			/* A live owner's block left half freed by a dead freer. */
			shmfs_heap__retire_resolve(&v, b, d);
			continue;
		}
		if (!mine)
			continue;
		switch (D_KIND(d)) {
		case K_CLAIM:
			if (atomic_compare_exchange_strong(&v.desc[b], &d, D_MAKE(0, K_FREE, 0, D_GEN(d) + 1))) {
				heap_map_clear(v.used, b);
				st.blocks++;
			}
			break;
		case K_CACHED: /* kept by a thread of the dead process */
			st.blocks += heap_cached_release(&v, b, d);
			break;
		case K_BODY:
			head = atomic_load(&v.aux[b]);
			dh = head < b ? atomic_load(&v.desc[head]) : 0;
			if (D_OWNER(dh) == o || D_KIND(dh) == K_RETIRE || D_KIND(dh) == K_FREEING)
				break; /* released with its head */
			if (atomic_compare_exchange_strong(&v.desc[b], &d, D_MAKE(0, K_FREE, 0, D_GEN(d) + 1))) {
				heap_map_clear(v.used, b);
				st.blocks++;
			}
			break;
		default:
			reclaim_head(&v, b, d, &st);
			break;
		}
	}

	/* Resynchronise the `used` hint: a process killed between freeing a
	 * descriptor and clearing its bit left a free block hidden. Clearing a
	 * bit that a claimer sets concurrently is harmless (a wrong 0). */
	for (uint64_t b = 0; b < v.blk_cnt; b++)
		if (D_KIND(atomic_load(&v.desc[b])) == K_FREE)
			heap_map_clear(v.used, b);

	for (uint32_t i = 0; i < v.owner_max; i++) {
		uint64_t w;

		if (!dead[i] || keep[i])
			continue;
		w = atomic_load(&v.owners[i].word);
		if (S_STATE(w) == S_DEAD && S_GEN(w) == OWNER_GEN(dead[i])) {
			atomic_store(&v.owners[i].start_time, 0);
			memset(v.owners[i].host_name, 0, sizeof(v.owners[i].host_name));
			if (atomic_compare_exchange_strong(&v.owners[i].word, &w, S_MAKE(S_FREE, S_GEN(w), 0, 0)))
				st.owner_cnt++;
		}
	}
	free(dead);
	if (ret_stats)
		out_fill(ret_stats, &st, sizeof(st));
	return st.damaged ? -EUCLEAN : 0;
}
