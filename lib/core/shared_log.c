/* shared_log.c - the superblock and metadata log of a shared backing (see
 * shared_log.h): format, checked reads, replay, append, first-fit extents,
 * and the cache-line flushes that make a record reach memory other hosts
 * read. */
#include "shared_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* ------------------------------------------------------------ crc32c */

/* Bit by bit: the definition, and what the faster versions are tested
 * against (shmfs_crc32c_bits is exported for that test only). */
uint32_t shmfs_crc32c_bits(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

#if defined(__x86_64__)
/* The CPU's own CRC-32C (SSE4.2, every x86-64 CPU since 2008): 8 bytes per
 * instruction, so a replay or a join's superblock check is not bound by the
 * checksum. Picked at run time: nothing is assumed about the CPU. */
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	for (; len && ((uintptr_t)p & 7u); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t shmfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	/* 0 unknown, 1 yes, 2 no: a benign race (every thread finds the same) */
	static int have_sse42;
	int h = __atomic_load_n(&have_sse42, __ATOMIC_RELAXED);

	if (!h) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("sse4.2") ? 1 : 2;
		__atomic_store_n(&have_sse42, h, __ATOMIC_RELAXED);
	}
	if (h == 1)
		return crc32c_sse42(crc, buf, len);
#endif
	return shmfs_crc32c_bits(crc, buf, len);
}

/* ------------------------------------------------------------ flushes */

#define LINE 64u

enum flush_kind { FLUSH_UNKNOWN, FLUSH_CLWB, FLUSH_CLFLUSHOPT, FLUSH_CLFLUSH, FLUSH_FENCE };

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static enum flush_kind flush_best;   /* write-back: CLWB first */
static enum flush_kind evict_best;   /* eviction: CLFLUSHOPT first */

static void flush_detect(void)
{
	unsigned a, b, c, d;
	bool clwb = false, opt = false, cl = false;

	if (__get_cpuid(1, &a, &b, &c, &d))
		cl = d & (1u << 19);
	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		opt = b & (1u << 23);
		clwb = b & (1u << 24);
	}
	evict_best = opt ? FLUSH_CLFLUSHOPT : cl ? FLUSH_CLFLUSH : FLUSH_FENCE;
	flush_best = clwb ? FLUSH_CLWB : evict_best;
}

static void lines(enum flush_kind k, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(LINE - 1), end = (uintptr_t)p + len;

	for (; a < end; a += LINE) {
		switch (k) {
		case FLUSH_CLWB:
			__asm__ volatile("clwb %0" : "+m"(*(volatile char *)a));
			break;
		case FLUSH_CLFLUSHOPT:
			__asm__ volatile("clflushopt %0" : "+m"(*(volatile char *)a));
			break;
		case FLUSH_CLFLUSH:
			__builtin_ia32_clflush((const void *)a);
			break;
		default:
			break;
		}
	}
	__asm__ volatile("sfence" ::: "memory");
}

static void ensure_detected(void)
{
	/* racing first calls compute the same answer */
	if (__atomic_load_n(&flush_best, __ATOMIC_RELAXED) == FLUSH_UNKNOWN)
		flush_detect();
}

void shmfs_shared_flush(const void *p, size_t len)
{
	ensure_detected();
	lines(flush_best, p, len);
}

void shmfs_shared_invalidate(const void *p, size_t len)
{
	ensure_detected();
	lines(evict_best, p, len);
}

const char *shmfs_shared_flush_name(void)
{
	ensure_detected();
	switch (flush_best) {
	case FLUSH_CLWB: return "clwb";
	case FLUSH_CLFLUSHOPT: return "clflushopt";
	case FLUSH_CLFLUSH: return "clflush";
	default: return "fence";
	}
}
#else
/* Other architectures: a full fence only; the man page says so. */
void shmfs_shared_flush(const void *p, size_t len)
{
	(void)p;
	(void)len;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void shmfs_shared_invalidate(const void *p, size_t len)
{
	shmfs_shared_flush(p, len);
}

const char *shmfs_shared_flush_name(void)
{
	return "fence";
}
#endif

/* ------------------------------------------------------------ superblock */

static uint32_t sb_crc(const struct shmfs_shared_sb *sb)
{
	struct shmfs_shared_sb c = *sb;

	c.crc = 0;
	return shmfs_crc32c(0, &c, sizeof(c));
}

static bool str_terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static int host_check(const char *host)
{
	size_t len = strlen(host);

	if (len == 0)
		return -EINVAL;
	if (len > SHMFS_SHARED_HOST_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)host[i] <= ' ' || (unsigned char)host[i] >= 0x7f ||
		    host[i] == '/' || host[i] == ',')
			return -EINVAL;
	return 0;
}

int shmfs_shared_format(void *base, uint64_t map_size, uint64_t size, uint64_t log_size,
			const char *master, const uint8_t uuid[16], int64_t now_ns)
{
	const uint64_t A = SHMFS_SHARED_ALIGN;
	struct shmfs_shared_sb sb;
	int rc;

	if (!base || !master || !uuid || size > map_size)
		return -EINVAL;
	rc = host_check(master);
	if (rc < 0)
		return rc;
	if (log_size == 0)
		log_size = size >= (256ULL << 20) ? 8ULL << 20 : A;
	if (log_size % A || log_size > (1ULL << 40))
		return -EINVAL;
	if (size < A + log_size + A)
		return -ENOSPC;

	memset(&sb, 0, sizeof(sb));
	memcpy(sb.magic, SHMFS_SHARED_MAGIC, sizeof(sb.magic));
	sb.version = SHMFS_SHARED_VERSION;
	sb.rec_size = SHMFS_SHARED_REC_SIZE;
	memcpy(sb.uuid, uuid, sizeof(sb.uuid));
	sb.size = size - size % A;
	sb.log_offset = A;
	sb.log_size = log_size;
	sb.extent_start = A + log_size;
	sb.align = A;
	strcpy(sb.master, master);
	sb.format_time_ns = now_ns;
	sb.crc = sb_crc(&sb);

	/* the old magic goes first: a format killed half-way leaves no
	 * superblock rather than an old one over a cleared log */
	memset(base, 0, SHMFS_SHARED_SB_SIZE);
	shmfs_shared_flush(base, SHMFS_SHARED_SB_SIZE);
	memset((char *)base + sb.log_offset, 0, sb.log_size);
	shmfs_shared_flush((char *)base + sb.log_offset, sb.log_size);
	memcpy((char *)base + sizeof(sb.magic), (char *)&sb + sizeof(sb.magic),
	       sizeof(sb) - sizeof(sb.magic));
	shmfs_shared_flush(base, sizeof(sb));
	memcpy(base, sb.magic, sizeof(sb.magic));
	shmfs_shared_flush(base, sizeof(sb.magic));
	return 0;
}

int shmfs_shared_sb_read(const void *base, uint64_t map_size, struct shmfs_shared_sb *ret)
{
	const uint64_t A = SHMFS_SHARED_ALIGN;
	struct shmfs_shared_sb sb;

	if (!base || !ret || map_size < SHMFS_SHARED_SB_SIZE)
		return -EINVAL;
	memcpy(&sb, base, sizeof(sb));
	if (memcmp(sb.magic, SHMFS_SHARED_MAGIC, sizeof(sb.magic)) != 0)
		return -EUCLEAN;
	if (sb.version != SHMFS_SHARED_VERSION)
		return -EPROTO;
	if (sb.crc != sb_crc(&sb))
		return -EBADMSG;
	if (sb.rec_size != SHMFS_SHARED_REC_SIZE || sb.align != A ||
	    !str_terminated(sb.master, sizeof(sb.master)) || host_check(sb.master) < 0 ||
	    sb.log_offset < A || sb.log_offset % A || sb.log_size == 0 || sb.log_size % A ||
	    sb.log_size > (1ULL << 40) || sb.log_offset > (1ULL << 50) ||
	    sb.extent_start < sb.log_offset + sb.log_size || sb.extent_start % A ||
	    sb.size % A || sb.size < sb.extent_start)
		return -EBADMSG;
	if (sb.size > map_size)
		return -EFBIG;
	*ret = sb;
	return 0;
}

/* ------------------------------------------------------------ state */

void shmfs_shared_state_init(struct shmfs_shared_state *st, const struct shmfs_shared_sb *sb)
{
	memset(st, 0, sizeof(*st));
	st->sb = *sb;
	st->rec_cap = sb->log_size / SHMFS_SHARED_REC_SIZE;
}

void shmfs_shared_state_free(struct shmfs_shared_state *st)
{
	free(st->v);
	st->v = NULL;
	st->cnt = st->cap = 0;
	for (size_t i = 0; i < st->xcnt; i++)
		free(st->xv[i].value);
	free(st->xv);
	st->xv = NULL;
	st->xcnt = st->xcap = 0;
	st->xpend_id = 0;
	st->xpend_len = 0;
}

const struct shmfs_shared_xattr *shmfs_shared_xattr_find(const struct shmfs_shared_state *st, uint64_t id,
							 const char *name)
{
	for (size_t i = 0; i < st->xcnt; i++)
		if (st->xv[i].id == id && strcmp(st->xv[i].name, name) == 0)
			return &st->xv[i];
	return NULL;
}

/* An attribute name: 1..SHMFS_NAME_MAX bytes, terminated. */
static int xattr_name_field(const struct shmfs_shared_rec *rec)
{
	if (!str_terminated(rec->name, sizeof(rec->name)) || !rec->name[0])
		return -EINVAL;
	return 0;
}

static size_t xattr_count(const struct shmfs_shared_state *st, uint64_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < st->xcnt; i++)
		n += st->xv[i].id == id;
	return n;
}

static void xattr_drop(struct shmfs_shared_state *st, size_t i)
{
	free(st->xv[i].value);
	st->xv[i] = st->xv[--st->xcnt];
}

const struct shmfs_shared_region *shmfs_shared_find(const struct shmfs_shared_state *st,
						    const char *name)
{
	for (size_t i = 0; i < st->cnt; i++)
		if (strcmp(st->v[i].name, name) == 0)
			return &st->v[i];
	return NULL;
}

int shmfs_shared_access(const struct shmfs_shared_region *r, uint32_t uid, uint32_t gid,
			const uint32_t *groups, size_t ngroups, bool want_write)
{
	uint32_t need = want_write ? 06 : 04, bits = r->mode & 07;
	bool member = gid == r->gid;

	for (size_t i = 0; i < ngroups && !member; i++)
		member = groups[i] == r->gid;
	if (uid == r->uid)
		bits = (r->mode >> 6) & 07;
	else if (member)
		bits = (r->mode >> 3) & 07;
	return (bits & need) == need ? 0 : -EACCES;
}

const struct shmfs_shared_region *shmfs_shared_find_id(const struct shmfs_shared_state *st,
						       uint64_t id)
{
	for (size_t i = 0; i < st->cnt; i++)
		if (st->v[i].id == id)
			return &st->v[i];
	return NULL;
}

uint64_t shmfs_shared_used(const struct shmfs_shared_state *st)
{
	uint64_t used = 0;

	for (size_t i = 0; i < st->cnt; i++)
		used += st->v[i].extent;
	return used;
}

const char *shmfs_shared_op_name(uint32_t op)
{
	switch (op) {
	case SHMFS_SHARED_OP_CREATE: return "create";
	case SHMFS_SHARED_OP_RESIZE: return "resize";
	case SHMFS_SHARED_OP_UNLINK: return "unlink";
	case SHMFS_SHARED_OP_RENAME: return "rename";
	case SHMFS_SHARED_OP_SETATTR: return "setattr";
	case SHMFS_SHARED_OP_XDATA: return "xdata";
	case SHMFS_SHARED_OP_XATTR: return "xattr";
	default: return NULL;
	}
}

/* An extent [off, off + len) fits the device and overlaps no live extent but
 * skip_id's. */
static int extent_check(const struct shmfs_shared_state *st, uint64_t off, uint64_t len,
			uint64_t size, uint64_t skip_id)
{
	const uint64_t A = SHMFS_SHARED_ALIGN;

	if (size > len)
		return -EINVAL;
	if (len == 0)
		return off == 0 ? 0 : -EINVAL;
	if (off % A || len % A)
		return -EINVAL;
	if (off < st->sb.extent_start || off > st->sb.size || len > st->sb.size - off)
		return -ERANGE;
	for (size_t i = 0; i < st->cnt; i++) {
		const struct shmfs_shared_region *r = &st->v[i];
		if (r->id == skip_id || r->extent == 0)
			continue;
		if (off < r->offset + r->extent && r->offset < off + len)
			return -ENOSPC;
	}
	return 0;
}

static int name_field(const struct shmfs_shared_rec *rec)
{
	if (!str_terminated(rec->name, sizeof(rec->name)))
		return -EINVAL;
	return shmfs_name_check(rec->name) < 0 ? -EINVAL : 0;
}

/* Room for one more region in the table. */
static int reserve(struct shmfs_shared_state *st)
{
	struct shmfs_shared_region *v;
	size_t c;

	if (st->cnt < st->cap)
		return 0;
	c = st->cap ? st->cap * 2 : 16;
	v = realloc(st->v, c * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->v = v;
	st->cap = c;
	return 0;
}

static struct shmfs_shared_region *find_mut(struct shmfs_shared_state *st, uint64_t id)
{
	return (struct shmfs_shared_region *)shmfs_shared_find_id(st, id);
}

/* XDATA: a piece of the value being built for region rec->id. */
static int apply_xdata(struct shmfs_shared_state *st, const struct shmfs_shared_rec *rec, bool dry)
{
	uint32_t off = rec->uid, n = rec->mode;

	if (!find_mut(st, rec->id))
		return -ENOENT;
	if (n == 0 || n > SHMFS_SHARED_XDATA_MAX || off > SHMFS_SHARED_XATTR_VALUE_MAX - n || rec->gid)
		return -EINVAL;
	/* offset 0 starts a value (and drops pieces a kill left); any other
	 * must follow the pieces of the same region right before it */
	if (off && (st->xpend_id != rec->id || st->xpend_len != off))
		return -EINVAL;
	if (dry)
		return 0;
	memcpy(st->xpend + off, rec->data, n);
	st->xpend_id = rec->id;
	st->xpend_len = off + n;
	return 0;
}

/* XATTR: set the value the pieces before carry, or remove. */
static int apply_xattr(struct shmfs_shared_state *st, const struct shmfs_shared_rec *rec, bool dry)
{
	const struct shmfs_shared_xattr *cur;
	struct shmfs_shared_xattr *x;
	uint8_t *v = NULL;
	int rc;

	if (!find_mut(st, rec->id))
		return -ENOENT;
	rc = xattr_name_field(rec);
	if (rc < 0)
		return rc;
	if (rec->mode || rec->uid || rec->gid || rec->offset)
		return -EINVAL;
	cur = shmfs_shared_xattr_find(st, rec->id, rec->name);
	if (rec->size == SHMFS_SHARED_XATTR_REMOVE) {
		if (rec->extent)
			return -EINVAL;
		if (!cur)
			return -ENODATA;
		if (!dry)
			xattr_drop(st, (size_t)(cur - st->xv));
		return 0;
	}
	if (rec->size > SHMFS_SHARED_XATTR_VALUE_MAX)
		return -EINVAL;
	if (rec->size && (st->xpend_id != rec->id || st->xpend_len != rec->size ||
			  shmfs_crc32c(0, st->xpend, rec->size) != rec->extent))
		return -EINVAL;
	if (!rec->size && rec->extent)
		return -EINVAL;
	if (!cur && xattr_count(st, rec->id) >= SHMFS_SHARED_XATTR_MAX)
		return -ENOSPC;
	if (dry)
		return 0;
	if (rec->size) {
		v = malloc(rec->size);
		if (!v)
			return -ENOMEM;
		memcpy(v, st->xpend, rec->size);
	}
	if (cur) {
		x = &st->xv[cur - st->xv];
		free(x->value);
	} else {
		if (st->xcnt == st->xcap) {
			size_t c = st->xcap ? st->xcap * 2 : 16;
			struct shmfs_shared_xattr *n = realloc(st->xv, c * sizeof(*n));

			if (!n) {
				free(v);
				return -ENOMEM;
			}
			st->xv = n;
			st->xcap = c;
		}
		x = &st->xv[st->xcnt++];
		x->id = rec->id;
		strcpy(x->name, rec->name);
	}
	x->len = (uint32_t)rec->size;
	x->value = v;
	return 0;
}

static int apply(struct shmfs_shared_state *st, const struct shmfs_shared_rec *rec, bool dry)
{
	struct shmfs_shared_region *r;
	int rc;

	if (rec->seq != st->seq + 1 || rec->seq > st->rec_cap)
		return -EINVAL;
	switch (rec->op) {
	case SHMFS_SHARED_OP_XDATA:
		rc = apply_xdata(st, rec, dry);
		if (rc < 0 || dry)
			return rc;
		st->seq = rec->seq;
		return 0;
	case SHMFS_SHARED_OP_XATTR:
		rc = apply_xattr(st, rec, dry);
		if (rc < 0 || dry)
			return rc;
		if ((r = find_mut(st, rec->id)))
			r->ctime_ns = rec->time_ns;
		break;
	case SHMFS_SHARED_OP_CREATE:
		if (rec->id != rec->seq || (rec->mode & ~07777u))
			return -EINVAL;
		rc = name_field(rec);
		if (rc < 0)
			return rc;
		if (shmfs_shared_find(st, rec->name))
			return -EEXIST;
		rc = extent_check(st, rec->offset, rec->extent, rec->size, 0);
		if (rc < 0)
			return rc;
		if (st->cnt >= SHMFS_SHARED_REGION_MAX)
			return -EMFILE;
		if (dry)
			return 0;
		rc = reserve(st);
		if (rc < 0)
			return rc;
		r = &st->v[st->cnt++];
		memset(r, 0, sizeof(*r));
		r->id = rec->id;
		strcpy(r->name, rec->name);
		r->offset = rec->offset;
		r->extent = rec->extent;
		r->size = rec->size;
		r->mode = rec->mode;
		r->uid = rec->uid;
		r->gid = rec->gid;
		r->btime_ns = r->ctime_ns = rec->time_ns;
		break;
	case SHMFS_SHARED_OP_RESIZE:
		r = find_mut(st, rec->id);
		if (!r)
			return -ENOENT;
		rc = extent_check(st, rec->offset, rec->extent, rec->size, rec->id);
		if (rc < 0 || dry)
			return rc;
		r->offset = rec->offset;
		r->extent = rec->extent;
		r->size = rec->size;
		r->ctime_ns = rec->time_ns;
		break;
	case SHMFS_SHARED_OP_UNLINK:
		r = find_mut(st, rec->id);
		if (!r)
			return -ENOENT;
		if (dry)
			return 0;
		*r = st->v[--st->cnt];
		for (size_t i = st->xcnt; i-- > 0;)
			if (st->xv[i].id == rec->id)
				xattr_drop(st, i);
		break;
	case SHMFS_SHARED_OP_RENAME: {
		const struct shmfs_shared_region *o;
		r = find_mut(st, rec->id);
		if (!r)
			return -ENOENT;
		rc = name_field(rec);
		if (rc < 0)
			return rc;
		o = shmfs_shared_find(st, rec->name);
		if (o && o != r)
			return -EEXIST;
		if (dry)
			return 0;
		strcpy(r->name, rec->name);
		r->ctime_ns = rec->time_ns;
		break;
	}
	case SHMFS_SHARED_OP_SETATTR:
		r = find_mut(st, rec->id);
		if (!r)
			return -ENOENT;
		if (rec->mode & ~07777u)
			return -EINVAL;
		if (dry)
			return 0;
		r->mode = rec->mode;
		r->uid = rec->uid;
		r->gid = rec->gid;
		r->ctime_ns = rec->time_ns;
		break;
	default:
		return -EINVAL;
	}
	/* a value is built by the XDATA records right before its XATTR */
	st->xpend_id = 0;
	st->xpend_len = 0;
	st->seq = rec->seq;
	return 0;
}

int shmfs_shared_apply(struct shmfs_shared_state *st, const struct shmfs_shared_rec *rec)
{
	return apply(st, rec, false);
}

static uint32_t rec_crc(const struct shmfs_shared_rec *rec)
{
	struct shmfs_shared_rec c = *rec;

	c.crc = 0;
	return shmfs_crc32c(0, &c, sizeof(c));
}

static const struct shmfs_shared_rec *slot(const void *base, const struct shmfs_shared_state *st,
					   uint64_t seq)
{
	return (const void *)((const char *)base + st->sb.log_offset +
			      (seq - 1) * SHMFS_SHARED_REC_SIZE);
}

int shmfs_shared_replay(const void *base, struct shmfs_shared_state *st, bool invalidate,
			int *ret_stop)
{
	int n = 0, stop = 0;

	while (st->seq < st->rec_cap && n < INT32_MAX) {
		const struct shmfs_shared_rec *p = slot(base, st, st->seq + 1);
		struct shmfs_shared_rec rec;
		int rc;

		if (invalidate)
			shmfs_shared_invalidate(p, sizeof(*p));
		/* one copy, then every check on the copy: the memory may change
		 * under us */
		memcpy(&rec, p, sizeof(rec));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (rec.magic == 0 && rec.seq == 0)
			break;  /* not written yet */
		if (rec.magic != SHMFS_SHARED_REC_MAGIC || rec.crc != rec_crc(&rec)) {
			stop = -EBADMSG;
			break;
		}
		rc = shmfs_shared_apply(st, &rec);
		if (rc < 0) {
			stop = rc;
			break;
		}
		n++;
	}
	if (ret_stop)
		*ret_stop = stop;
	return n;
}

int shmfs_shared_append(void *base, struct shmfs_shared_state *st, struct shmfs_shared_rec *rec)
{
	struct shmfs_shared_rec *p;
	int rc;

	if (st->seq >= st->rec_cap)
		return -ENOSPC;
	rec->magic = SHMFS_SHARED_REC_MAGIC;
	rec->seq = st->seq + 1;
	if (rec->op == SHMFS_SHARED_OP_CREATE)
		rec->id = rec->seq;
	if (rec->op != SHMFS_SHARED_OP_XDATA)
		memset(rec->pad, 0, sizeof(rec->pad));
	rec->crc = 0;
	rec->crc = rec_crc(rec);

	/* check first, and make room in the table: a refused record writes
	 * nothing, and a written one is always applied */
	rc = apply(st, rec, true);
	if (rc < 0)
		return rc;
	rc = reserve(st);
	if (rc < 0)
		return rc;

	p = (struct shmfs_shared_rec *)slot(base, st, rec->seq);
	/* a torn record of a killed master may sit in this slot: clear its
	 * header first, so no moment shows an old header over a new body */
	__atomic_store_n(&p->magic, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, 0, __ATOMIC_RELAXED);
	shmfs_shared_flush(p, 16);
	memcpy((char *)p + 16, (const char *)rec + 16, sizeof(*rec) - 16);
	shmfs_shared_flush(p, sizeof(*p));
	p->crc = rec->crc;
	p->seq = rec->seq;
	__atomic_store_n(&p->magic, rec->magic, __ATOMIC_RELEASE);
	shmfs_shared_flush(p, 16);

	rc = shmfs_shared_apply(st, rec);
	return rc;
}

int shmfs_shared_alloc(const struct shmfs_shared_state *st, uint64_t len, uint64_t skip_id,
		       uint64_t *ret_offset)
{
	const uint64_t A = SHMFS_SHARED_ALIGN;
	uint64_t off = st->sb.extent_start;

	if (len == 0 || len % A)
		return -EINVAL;
	/* the lowest gap: after every extent that starts below a candidate and
	 * reaches into it, move the candidate past it; at most cnt moves each
	 * pass, and each pass either moves or ends */
	for (;;) {
		bool moved = false;

		if (off > st->sb.size || len > st->sb.size - off)
			return -ENOSPC;
		for (size_t i = 0; i < st->cnt; i++) {
			const struct shmfs_shared_region *r = &st->v[i];
			if (r->id == skip_id || r->extent == 0)
				continue;
			if (off < r->offset + r->extent && r->offset < off + len) {
				off = r->offset + r->extent;
				moved = true;
			}
		}
		if (!moved)
			break;
	}
	*ret_offset = off;
	return 0;
}

int shmfs_shared_xattr_set(void *base, struct shmfs_shared_state *st, uint64_t id, const char *name,
			   const void *value, size_t len, int flags, int64_t now_ns)
{
	const struct shmfs_shared_xattr *cur;
	struct shmfs_shared_rec rec;
	size_t nl = name ? strlen(name) : 0;
	int rc;

	if (nl == 0 || nl > SHMFS_NAME_MAX)
		return -ERANGE;
	if (value && len > SHMFS_SHARED_XATTR_VALUE_MAX)
		return -E2BIG;
	if (!shmfs_shared_find_id(st, id))
		return -ENOENT;
	cur = shmfs_shared_xattr_find(st, id, name);
	if ((flags & XATTR_CREATE) && cur)
		return -EEXIST;
	if (((flags & XATTR_REPLACE) || !value) && !cur)
		return -ENODATA;
	if (!cur && value && xattr_count(st, id) >= SHMFS_SHARED_XATTR_MAX)
		return -ENOSPC;
	/* room for the pieces and the commit, so a full log refuses the
	 * whole value rather than leave pieces */
	if (value && st->rec_cap - st->seq < (len + SHMFS_SHARED_XDATA_MAX - 1) / SHMFS_SHARED_XDATA_MAX + 1)
		return -ENOSPC;
	for (size_t off = 0; value && off < len; off += SHMFS_SHARED_XDATA_MAX) {
		size_t n = len - off < SHMFS_SHARED_XDATA_MAX ? len - off : SHMFS_SHARED_XDATA_MAX;

		memset(&rec, 0, sizeof(rec));
		rec.op = SHMFS_SHARED_OP_XDATA;
		rec.id = id;
		rec.mode = (uint32_t)n;
		rec.uid = (uint32_t)off;
		memcpy(rec.data, (const uint8_t *)value + off, n);
		rc = shmfs_shared_append(base, st, &rec);
		if (rc < 0)
			return rc;
	}
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_XATTR;
	rec.id = id;
	rec.time_ns = now_ns;
	memcpy(rec.name, name, nl + 1);
	rec.size = value ? len : SHMFS_SHARED_XATTR_REMOVE;
	rec.extent = value && len ? shmfs_crc32c(0, value, len) : 0;
	return shmfs_shared_append(base, st, &rec);
}
