/* shared_log.h - the on-memory format of a shared backing: memory that
 * several hosts map at once (a CXL / fabric-attached DAX device, or for tests
 * one file that several daemons map). It holds a superblock, an append-only
 * metadata log of fixed-size records, and the regions' bytes as 2 MiB-aligned
 * extents. One host (the master, named in the superblock) appends; every host
 * replays the log into the same tree.
 *
 * Layout (all little-endian, offsets from the start of the device):
 *   0                 superblock (one 4 KiB block, the rest of the first
 *                     2 MiB unused)
 *   log_offset        log_size bytes of records, SHMFS_SHARED_REC_SIZE each;
 *                     record i has sequence number i + 1
 *   extent_start      extents, each a multiple of 2 MiB at a 2 MiB offset
 *
 * A record is committed by its header (magic, checksum, sequence), written
 * and flushed after its body, so a master killed at any instruction leaves
 * either the whole record or one that fails its checksum: replay stops at the
 * last good record, and the master's next append overwrites the torn one.
 *
 * Every host that is not the master reads memory it does not control:
 * nothing here trusts it. The superblock and each record are copied out
 * before they are checked; a record that is torn, damaged, or that would make
 * the tree inconsistent (a duplicate name, overlapping extents, an extent past
 * the end) ends the replay there. Nothing read can make these functions
 * index outside the mapping or loop without bound.
 *
 * Every function returns 0 (or a count) or -errno; none logs. */
#ifndef SHMFS_CORE_SHARED_LOG_H
#define SHMFS_CORE_SHARED_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "name.h"

#define SHMFS_SHARED_MAGIC      "SHMFSSHR"
#define SHMFS_SHARED_VERSION    1u
#define SHMFS_SHARED_ALIGN      (2ULL << 20)
#define SHMFS_SHARED_SB_SIZE    4096u
#define SHMFS_SHARED_REC_SIZE   128u
#define SHMFS_SHARED_REC_MAGIC  0x52434853u /* "SHCR" */
#define SHMFS_SHARED_HOST_MAX   63          /* longest host name kept */
#define SHMFS_SHARED_REGION_MAX 65536u      /* live regions at once */
/* The inode number a daemon gives region id in MOUNT/shared/NAME/ (what a
 * join keys the region by, however it resolved it). */
#define SHMFS_SHARED_INO_TAG    (0xFULL << 60)
#define SHMFS_SHARED_INO(id)    (SHMFS_SHARED_INO_TAG | (uint64_t)(id))

enum shmfs_shared_op {
	SHMFS_SHARED_OP_CREATE = 1, /* id = seq; name, mode, uid, gid; offset, extent, size */
	SHMFS_SHARED_OP_RESIZE,     /* id; offset, extent, size (the extent may move) */
	SHMFS_SHARED_OP_UNLINK,     /* id */
	SHMFS_SHARED_OP_RENAME,     /* id; name (the new one) */
	SHMFS_SHARED_OP_SETATTR,    /* id; mode, uid, gid */
	SHMFS_SHARED_OP_XDATA,      /* id; mode = bytes in data (1..88), uid = their
				       offset in the value: a piece of the value the
				       next XATTR sets (offset 0 starts a new value) */
	SHMFS_SHARED_OP_XATTR,      /* id; name = the user attribute's name without
				       "user."; size = the value's length, whose
				       pieces the XDATA records just before carry,
				       extent = their crc32c; size
				       SHMFS_SHARED_XATTR_REMOVE: removed */
};

#define SHMFS_SHARED_XDATA_MAX      88u   /* value bytes per XDATA record */
#define SHMFS_SHARED_XATTR_VALUE_MAX 1024u /* longest value */
#define SHMFS_SHARED_XATTR_MAX      32u   /* user attributes per region */
#define SHMFS_SHARED_XATTR_REMOVE   UINT64_MAX

struct shmfs_shared_sb {
	char magic[8];
	uint32_t version;
	uint32_t rec_size;
	uint8_t uuid[16];
	uint64_t size;          /* bytes of the device in use */
	uint64_t log_offset;
	uint64_t log_size;
	uint64_t extent_start;
	uint64_t align;
	char master[SHMFS_SHARED_HOST_MAX + 1];
	int64_t format_time_ns;
	uint32_t crc;           /* crc32c of the superblock with crc = 0 */
	uint32_t pad;
};

struct shmfs_shared_rec {
	/* header: written last */
	uint32_t magic;
	uint32_t crc;           /* crc32c of the whole record with crc = 0 */
	uint64_t seq;
	/* body */
	uint32_t op;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t id;
	union {
		struct {
			uint64_t offset;
			uint64_t extent;
			uint64_t size;
			int64_t time_ns;
			char name[SHMFS_NAME_MAX + 1];
			uint8_t pad[16];
		};
		uint8_t data[SHMFS_SHARED_XDATA_MAX]; /* OP_XDATA */
	};
};

_Static_assert(sizeof(struct shmfs_shared_rec) == SHMFS_SHARED_REC_SIZE, "record size");
_Static_assert(sizeof(struct shmfs_shared_sb) <= SHMFS_SHARED_SB_SIZE, "superblock size");

/* A region as the log made it. */
struct shmfs_shared_region {
	uint64_t id;            /* sequence number of its CREATE record */
	char name[SHMFS_NAME_MAX + 1];
	uint64_t offset;        /* 0 with extent 0: no memory yet */
	uint64_t extent;
	uint64_t size;          /* bytes; <= extent */
	uint32_t mode, uid, gid;
	int64_t ctime_ns;       /* time of the last record about it */
	int64_t btime_ns;       /* time of its CREATE */
};

/* A user attribute of a region, as the log set it. */
struct shmfs_shared_xattr {
	uint64_t id;            /* the region's */
	char name[SHMFS_NAME_MAX + 1]; /* without "user." */
	uint32_t len;
	uint8_t *value;         /* len bytes (malloc'ed; NULL when len is 0) */
};

/* The tree a replay built: the regions, sorted by offset of nothing in
 * particular (use find). seq is the last record applied. */
struct shmfs_shared_state {
	struct shmfs_shared_sb sb;
	struct shmfs_shared_region *v;
	size_t cnt, cap;
	uint64_t seq;
	uint64_t rec_cap;       /* records the log holds */
	struct shmfs_shared_xattr *xv; /* user attributes of every region */
	size_t xcnt, xcap;
	uint64_t xpend_id;      /* the value XDATA records are building (0: none) */
	uint32_t xpend_len;
	uint8_t xpend[SHMFS_SHARED_XATTR_VALUE_MAX];
};

uint32_t shmfs_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t shmfs_crc32c_bits(uint32_t crc, const void *buf, size_t len);

/* Cache-line write-back to memory (CLWB, else CLFLUSHOPT, else CLFLUSH,
 * chosen once from cpuid) of [p, p + len), then a store fence. _invalidate
 * evicts the lines (CLFLUSHOPT or CLFLUSH) so the next read comes from
 * memory that another host may have written. _name says which instruction. */
void shmfs_shared_flush(const void *p, size_t len);
void shmfs_shared_invalidate(const void *p, size_t len);
const char *shmfs_shared_flush_name(void);

/* Write a new superblock and an empty log into base (map_size bytes mapped;
 * the device holds size bytes, size <= map_size). log_size 0: the default
 * (2 MiB, 8 MiB from 256 MiB up). -EINVAL for a bad master name or log size,
 * -ENOSPC when size cannot hold the superblock, the log and one extent. */
int shmfs_shared_format(void *base, uint64_t map_size, uint64_t size, uint64_t log_size,
			const char *master, const uint8_t uuid[16], int64_t now_ns);

/* Copy the superblock out of base and check every field: -EUCLEAN for no
 * superblock (wrong magic), -EPROTO for another version, -EBADMSG for a
 * damaged one, -EFBIG when it claims more than map_size bytes. */
int shmfs_shared_sb_read(const void *base, uint64_t map_size, struct shmfs_shared_sb *ret);

/* Start an empty state for the superblock sb (read by sb_read). */
void shmfs_shared_state_init(struct shmfs_shared_state *st, const struct shmfs_shared_sb *sb);
void shmfs_shared_state_free(struct shmfs_shared_state *st);

/* Check rec against st and, when it fits, apply it (pure; what replay and
 * append both use). -EINVAL for a malformed record, -EEXIST for a duplicate
 * name, -ENOENT for an unknown id, -ENOSPC/-ERANGE for an extent that
 * overlaps or leaves the device, -EMFILE beyond SHMFS_SHARED_REGION_MAX,
 * -ENOMEM. */
int shmfs_shared_apply(struct shmfs_shared_state *st, const struct shmfs_shared_rec *rec);

/* Apply the records after st->seq that are valid, in order, stopping at
 * the first that is not there yet or not valid. invalidate: evict each
 * record's cache lines before reading it (a host that is not the writer).
 * Returns the number applied; *ret_stop (may be NULL) gets 0 when replay
 * stopped at an empty slot or the end of the log, else why the next record
 * was refused (-EBADMSG for a torn or damaged one, else as apply). */
int shmfs_shared_replay(const void *base, struct shmfs_shared_state *st, bool invalidate,
			int *ret_stop);

/* Append rec (its body: op and fields; seq, magic and crc are set here) as
 * the next record: checked by apply first, so a refused record writes
 * nothing; then written body first, header last, each flushed. -ENOSPC when
 * the log is full. */
int shmfs_shared_append(void *base, struct shmfs_shared_state *st, struct shmfs_shared_rec *rec);

/* First fit: the lowest 2 MiB-aligned offset where len bytes (a multiple of
 * 2 MiB) fit between the live extents, ignoring region skip_id's own (0:
 * none). -ENOSPC when nothing fits. */
int shmfs_shared_alloc(const struct shmfs_shared_state *st, uint64_t len, uint64_t skip_id,
		       uint64_t *ret_offset);

const struct shmfs_shared_region *shmfs_shared_find(const struct shmfs_shared_state *st,
						    const char *name);
const struct shmfs_shared_region *shmfs_shared_find_id(const struct shmfs_shared_state *st,
						       uint64_t id);
/* The user attribute name (without "user.") of region id, or NULL. */
const struct shmfs_shared_xattr *shmfs_shared_xattr_find(const struct shmfs_shared_state *st, uint64_t id,
							 const char *name);
/* Append the records that set (value, len) or, value NULL, remove user
 * attribute name (without "user.") of region id: XDATA pieces then the
 * XATTR that commits them. flags: XATTR_CREATE / XATTR_REPLACE (-EEXIST,
 * -ENODATA). -ERANGE for a bad or long name, -E2BIG for a long value,
 * -ENOSPC for a full log or SHMFS_SHARED_XATTR_MAX attributes, else as
 * append. Pieces a refusal or a kill leaves are dropped by the next value. */
int shmfs_shared_xattr_set(void *base, struct shmfs_shared_state *st, uint64_t id, const char *name,
			   const void *value, size_t len, int flags, int64_t now_ns);
/* May the caller (uid, gid, its ngroups supplementary groups) open region
 * r for reading (want_write false) or reading and writing, by r's mode,
 * uid and gid alone: the owner's bits when uid is r's owner, else the
 * group's when gid or a supplementary group is r's, else the others'. No
 * capability is considered (root included): a refusal here is for the
 * kernel to confirm. 0 or -EACCES. */
int shmfs_shared_access(const struct shmfs_shared_region *r, uint32_t uid, uint32_t gid,
			const uint32_t *groups, size_t ngroups, bool want_write);
/* Bytes of extents in use. */
uint64_t shmfs_shared_used(const struct shmfs_shared_state *st);
const char *shmfs_shared_op_name(uint32_t op);

#endif
