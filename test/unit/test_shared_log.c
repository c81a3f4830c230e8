/* test_shared_log.c - the on-memory format of a shared backing: format,
 * superblock checks, append, replay, first fit, torn and damaged records,
 * user attributes (value pieces committed whole). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "shared_log.h"

#define MIB (1ULL << 20)
#define DEV (32 * MIB)

static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void *dev_new(void)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, DEV), 0);
	memset(p, 0xa5, DEV); /* garbage: format must not rely on zeroes */
	assert_int_equal(shmfs_shared_format(p, DEV, DEV, 0, "hostA", uuid, 42), 0);
	return p;
}

static void state_of(const void *dev, struct shmfs_shared_state *st)
{
	struct shmfs_shared_sb sb;

	assert_int_equal(shmfs_shared_sb_read(dev, DEV, &sb), 0);
	shmfs_shared_state_init(st, &sb);
}

static int create(void *dev, struct shmfs_shared_state *st, const char *name, uint64_t size)
{
	struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_CREATE, .mode = 0644, .size = size };
	uint64_t ext = (size + 2 * MIB - 1) / (2 * MIB) * (2 * MIB);
	int rc;

	strcpy(rec.name, name);
	if (ext) {
		rc = shmfs_shared_alloc(st, ext, 0, &rec.offset);
		if (rc < 0)
			return rc;
	}
	rec.extent = ext;
	return shmfs_shared_append(dev, st, &rec);
}

static void format_writes_a_valid_superblock(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_sb sb;

	assert_int_equal(shmfs_shared_sb_read(dev, DEV, &sb), 0);
	assert_memory_equal(sb.magic, SHMFS_SHARED_MAGIC, 8);
	assert_int_equal(sb.version, SHMFS_SHARED_VERSION);
	assert_int_equal(sb.log_offset, 2 * MIB);
	assert_int_equal(sb.log_size, 2 * MIB);
	assert_int_equal(sb.extent_start, 4 * MIB);
	assert_int_equal(sb.size, DEV);
	assert_string_equal(sb.master, "hostA");
	assert_memory_equal(sb.uuid, uuid, 16);
	free(dev);
}

static void format_refuses_bad_input(void **state)
{
	void *dev = dev_new();

	assert_int_equal(shmfs_shared_format(dev, DEV, 4 * MIB, 0, "h", uuid, 0), -ENOSPC);
	assert_int_equal(shmfs_shared_format(dev, DEV, DEV, 3 * MIB, "h", uuid, 0), -EINVAL);
	assert_int_equal(shmfs_shared_format(dev, DEV, DEV, 0, "", uuid, 0), -EINVAL);
	assert_int_equal(shmfs_shared_format(dev, DEV, DEV, 0, "a b", uuid, 0), -EINVAL);
	assert_int_equal(shmfs_shared_format(dev, DEV / 2, DEV, 0, "h", uuid, 0), -EINVAL);
	free(dev);
}

static void superblock_damage_is_refused(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_sb sb;
	uint8_t *b = dev;

	assert_int_equal(shmfs_shared_sb_read(dev, DEV / 2, &sb), -EFBIG);
	/* every byte of the superblock, flipped alone, is noticed */
	for (size_t i = 0; i < sizeof(struct shmfs_shared_sb); i++) {
		b[i] ^= 0x40;
		assert_true(shmfs_shared_sb_read(dev, DEV, &sb) < 0);
		b[i] ^= 0x40;
	}
	assert_int_equal(shmfs_shared_sb_read(dev, DEV, &sb), 0);
	memset(dev, 0, 8);
	assert_int_equal(shmfs_shared_sb_read(dev, DEV, &sb), -EUCLEAN);
	free(dev);
}

static void append_then_replay_gives_the_same_tree(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b;
	const struct shmfs_shared_region *r;
	int stop = 1;

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "one", 3 * MIB), 0);
	assert_int_equal(create(dev, &a, "two", 1), 0);
	assert_int_equal(create(dev, &a, "empty", 0), 0);
	r = shmfs_shared_find(&a, "one");
	assert_non_null(r);
	assert_int_equal(r->offset, 4 * MIB);
	assert_int_equal(r->extent, 4 * MIB);
	assert_int_equal(shmfs_shared_find(&a, "two")->offset, 8 * MIB);

	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, true, &stop), 3);
	assert_int_equal(stop, 0);
	assert_int_equal(b.cnt, 3);
	assert_int_equal(b.seq, 3);
	assert_int_equal(shmfs_shared_find(&b, "one")->size, 3 * MIB);
	assert_int_equal(shmfs_shared_find(&b, "two")->offset, 8 * MIB);
	assert_int_equal(shmfs_shared_find(&b, "empty")->extent, 0);
	/* nothing new: nothing applied */
	assert_int_equal(shmfs_shared_replay(dev, &b, true, &stop), 0);
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	free(dev);
}

static void unlink_frees_the_extent_for_first_fit(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b;
	struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_UNLINK };

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 2 * MIB), 0);
	assert_int_equal(create(dev, &a, "b", 2 * MIB), 0);
	rec.id = shmfs_shared_find(&a, "a")->id;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	assert_null(shmfs_shared_find(&a, "a"));
	assert_int_equal(create(dev, &a, "c", 2 * MIB), 0);
	assert_int_equal(shmfs_shared_find(&a, "c")->offset, 4 * MIB);
	/* a 4 MiB one does not fit the 2 MiB hole: after b */
	assert_int_equal(create(dev, &a, "d", 4 * MIB), 0);
	assert_int_equal(shmfs_shared_find(&a, "d")->offset, 8 * MIB);
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, NULL), 5);
	assert_int_equal(b.cnt, 3);
	assert_int_equal(shmfs_shared_used(&b), 8 * MIB);
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	free(dev);
}

static void append_refuses_an_inconsistent_record(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a;
	struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_CREATE, .extent = 2 * MIB,
					 .offset = 4 * MIB };

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 2 * MIB), 0);
	strcpy(rec.name, "b");
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -ENOSPC);   /* overlaps a */
	rec.offset = DEV;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -ERANGE);   /* past the end */
	rec.offset = 5 * MIB;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);   /* unaligned */
	rec.offset = 6 * MIB;
	strcpy(rec.name, "a");
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EEXIST);
	strcpy(rec.name, ".bad");
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	rec.op = SHMFS_SHARED_OP_UNLINK;
	rec.id = 99;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -ENOENT);
	assert_int_equal(a.seq, 1);
	/* nothing was written: a replay sees the one record */
	struct shmfs_shared_state b;
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, NULL), 1);
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	free(dev);
}

/* A master killed while writing record 3: every prefix of its bytes, in the
 * order append writes them (body, then header), replays to records 1-2 or
 * to 1-3, never to anything else; the next append overwrites it. */
static void torn_record_at_every_byte_stops_at_the_last_good(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a;
	uint8_t full[SHMFS_SHARED_REC_SIZE];
	struct shmfs_shared_sb sb;
	uint8_t *slot3;

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 2 * MIB), 0);
	assert_int_equal(create(dev, &a, "b", 2 * MIB), 0);
	assert_int_equal(create(dev, &a, "c", 2 * MIB), 0);
	sb = a.sb;
	slot3 = (uint8_t *)dev + sb.log_offset + 2 * SHMFS_SHARED_REC_SIZE;
	memcpy(full, slot3, sizeof(full));
	/* body bytes 16.. first, then header bytes 0..15 */
	for (size_t cut = 0; cut <= SHMFS_SHARED_REC_SIZE; cut++) {
		struct shmfs_shared_state b;
		int stop, n;

		memset(slot3, 0, SHMFS_SHARED_REC_SIZE);
		for (size_t i = 0; i < cut; i++) {
			size_t at = i < SHMFS_SHARED_REC_SIZE - 16 ? 16 + i
				    : i - (SHMFS_SHARED_REC_SIZE - 16);
			slot3[at] = full[at];
		}
		state_of(dev, &b);
		n = shmfs_shared_replay(dev, &b, false, &stop);
		/* bytes written equal to the zeroes they replace change nothing:
		 * the record is whole once every differing byte is there */
		if (memcmp(slot3, full, sizeof(full)) == 0) {
			assert_int_equal(n, 3);
		} else {
			assert_int_equal(n, 2);
			assert_null(shmfs_shared_find(&b, "c"));
		}
		shmfs_shared_state_free(&b);
		if (cut == SHMFS_SHARED_REC_SIZE)
			assert_int_equal(n, 3);
	}
	/* a torn record left by a dead master is overwritten by the next one */
	memcpy(slot3, full, sizeof(full));
	slot3[4] ^= 0x10; /* header half written: its checksum is not the body's */
	struct shmfs_shared_state m;
	state_of(dev, &m);
	assert_int_equal(shmfs_shared_replay(dev, &m, false, NULL), 2);
	assert_int_equal(create(dev, &m, "d", 2 * MIB), 0);
	struct shmfs_shared_state c;
	state_of(dev, &c);
	assert_int_equal(shmfs_shared_replay(dev, &c, false, NULL), 3);
	assert_non_null(shmfs_shared_find(&c, "d"));
	assert_null(shmfs_shared_find(&c, "c"));
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&m);
	shmfs_shared_state_free(&c);
	free(dev);
}

/* Any byte of a committed record changed (another host scribbling): replay
 * stops before it with -EBADMSG. */
static void damaged_record_fields_are_refused(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a;
	uint8_t *slot2;

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 2 * MIB), 0);
	assert_int_equal(create(dev, &a, "b", 2 * MIB), 0);
	slot2 = (uint8_t *)dev + a.sb.log_offset + SHMFS_SHARED_REC_SIZE;
	for (size_t i = 0; i < SHMFS_SHARED_REC_SIZE; i++) {
		struct shmfs_shared_state b;
		int stop;

		slot2[i] ^= 0x01;
		state_of(dev, &b);
		assert_int_equal(shmfs_shared_replay(dev, &b, false, &stop), 1);
		assert_int_equal(stop, -EBADMSG);
		slot2[i] ^= 0x01;
		shmfs_shared_state_free(&b);
	}
	shmfs_shared_state_free(&a);
	free(dev);
}

/* A record with a valid checksum but contents that break the tree (a
 * writer that is not shmfs, or a bug): refused by apply, replay stops. */
static void checksummed_but_inconsistent_records_stop_replay(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b;
	struct shmfs_shared_rec bad;
	struct shmfs_shared_rec *slot2;
	int stop;

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 2 * MIB), 0);
	assert_int_equal(create(dev, &a, "b", 2 * MIB), 0);
	slot2 = (void *)((uint8_t *)dev + a.sb.log_offset + SHMFS_SHARED_REC_SIZE);
	/* b made to overlap a, re-checksummed */
	bad = *slot2;
	bad.offset = 4 * MIB;
	bad.crc = 0;
	bad.crc = shmfs_crc32c(0, &bad, sizeof(bad));
	*slot2 = bad;
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, &stop), 1);
	assert_int_equal(stop, -ENOSPC);
	shmfs_shared_state_free(&b);
	/* a size past its extent */
	bad.offset = 6 * MIB;
	bad.size = 3 * MIB;
	bad.crc = 0;
	bad.crc = shmfs_crc32c(0, &bad, sizeof(bad));
	*slot2 = bad;
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, &stop), 1);
	assert_int_equal(stop, -EINVAL);
	shmfs_shared_state_free(&b);
	/* a name without its NUL */
	bad.size = 2 * MIB;
	memset(bad.name, 'x', sizeof(bad.name));
	bad.crc = 0;
	bad.crc = shmfs_crc32c(0, &bad, sizeof(bad));
	*slot2 = bad;
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, &stop), 1);
	assert_int_equal(stop, -EINVAL);
	shmfs_shared_state_free(&b);
	/* a sequence number out of place */
	memcpy(slot2, (uint8_t *)dev + a.sb.log_offset, sizeof(bad));
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, &stop), 1);
	assert_int_equal(stop, -EINVAL);
	shmfs_shared_state_free(&b);
	shmfs_shared_state_free(&a);
	free(dev);
}

static void resize_rename_setattr_replay(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b;
	struct shmfs_shared_rec rec;
	const struct shmfs_shared_region *r;

	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 0), 0);
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_RESIZE;
	rec.id = 1;
	rec.size = 5 * MIB;
	rec.extent = 6 * MIB;
	assert_int_equal(shmfs_shared_alloc(&a, rec.extent, 1, &rec.offset), 0);
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_RENAME;
	rec.id = 1;
	strcpy(rec.name, "renamed");
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_SETATTR;
	rec.id = 1;
	rec.mode = 0600;
	rec.uid = 1000;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	rec.mode = 010000;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	state_of(dev, &b);
	assert_int_equal(shmfs_shared_replay(dev, &b, false, NULL), 4);
	r = shmfs_shared_find(&b, "renamed");
	assert_non_null(r);
	assert_null(shmfs_shared_find(&b, "a"));
	assert_int_equal(r->size, 5 * MIB);
	assert_int_equal(r->extent, 6 * MIB);
	assert_int_equal(r->offset, 4 * MIB);
	assert_int_equal(r->mode, 0600);
	assert_int_equal(r->uid, 1000);
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	free(dev);
}

static void a_full_log_or_device_is_enospc(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a;
	char name[16];
	int rc = 0;
	uint64_t i;

	state_of(dev, &a);
	/* 28 MiB of extents: 14 regions of 2 MiB, then no room */
	for (i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "r%llu", (unsigned long long)i);
		assert_int_equal(create(dev, &a, name, 2 * MIB), 0);
	}
	assert_int_equal(create(dev, &a, "more", 2 * MIB), -ENOSPC);
	/* empty regions fill the log: 16384 records */
	for (; rc == 0; i++) {
		snprintf(name, sizeof(name), "e%llu", (unsigned long long)i);
		rc = create(dev, &a, name, 0);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(a.seq, a.rec_cap);
	assert_int_equal(a.rec_cap, 2 * MIB / SHMFS_SHARED_REC_SIZE);
	shmfs_shared_state_free(&a);
	free(dev);
}

static void assert_xattr(const struct shmfs_shared_state *st, uint64_t id, const char *name, const void *val,
			 size_t len)
{
	const struct shmfs_shared_xattr *x = shmfs_shared_xattr_find(st, id, name);

	assert_non_null(x);
	assert_int_equal(x->len, len);
	if (len)
		assert_memory_equal(x->value, val, len);
}

static void user_xattrs_replay_and_go_with_their_region(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b, c;
	uint8_t big[SHMFS_SHARED_XATTR_VALUE_MAX + 1];
	char name[48];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 0), 0);  /* id 1 */
	assert_int_equal(create(dev, &a, "b", 0), 0);  /* id 2 */
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "color", "blue", 4, 0, 7), 0);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "big", big, SHMFS_SHARED_XATTR_VALUE_MAX, 0, 7), 0);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 2, "empty", "", 0, 0, 7), 0);
	/* refusals write nothing */
	uint64_t seq = a.seq;
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "color", "x", 1, XATTR_CREATE, 7), -EEXIST);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "none", "x", 1, XATTR_REPLACE, 7), -ENODATA);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "none", NULL, 0, 0, 7), -ENODATA);
	memset(name, 'n', sizeof(name));
	name[SHMFS_NAME_MAX + 1] = '\0';
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, name, "x", 1, 0, 7), -ERANGE);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "", "x", 1, 0, 7), -ERANGE);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "big", big, sizeof(big), 0, 7), -E2BIG);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 9, "x", "x", 1, 0, 7), -ENOENT);
	assert_int_equal(a.seq, seq);
	name[SHMFS_NAME_MAX] = '\0';
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, name, "longest", 7, 0, 7), 0);

	state_of(dev, &b);
	assert_true(shmfs_shared_replay(dev, &b, true, NULL) > 0);
	assert_int_equal(b.seq, a.seq);
	assert_xattr(&b, 1, "color", "blue", 4);
	assert_xattr(&b, 1, "big", big, SHMFS_SHARED_XATTR_VALUE_MAX);
	assert_xattr(&b, 2, "empty", "", 0);
	assert_xattr(&b, 1, name, "longest", 7);
	assert_null(shmfs_shared_xattr_find(&b, 2, "color"));

	/* replaced, removed, and gone with an unlinked region */
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "color", "red", 3, XATTR_REPLACE, 7), 0);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 2, "empty", NULL, 0, 0, 7), 0);
	assert_int_equal(shmfs_shared_replay(dev, &b, true, NULL), 3);
	assert_xattr(&b, 1, "color", "red", 3);
	assert_null(shmfs_shared_xattr_find(&b, 2, "empty"));
	struct shmfs_shared_rec rec = { .op = SHMFS_SHARED_OP_UNLINK, .id = 1 };
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	assert_int_equal(shmfs_shared_replay(dev, &b, true, NULL), 1);
	assert_int_equal(b.xcnt, 0);
	assert_int_equal(a.xcnt, 0);

	/* at most SHMFS_SHARED_XATTR_MAX per region */
	for (unsigned i = 0; i < SHMFS_SHARED_XATTR_MAX; i++) {
		snprintf(name, sizeof(name), "k%u", i);
		assert_int_equal(shmfs_shared_xattr_set(dev, &a, 2, name, "v", 1, 0, 7), 0);
	}
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 2, "one-more", "v", 1, 0, 7), -ENOSPC);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 2, "k0", "again", 5, 0, 7), 0);
	state_of(dev, &c);
	assert_true(shmfs_shared_replay(dev, &c, false, NULL) > 0);
	assert_int_equal(c.seq, a.seq);
	assert_int_equal(c.xcnt, SHMFS_SHARED_XATTR_MAX);
	assert_xattr(&c, 2, "k0", "again", 5);
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	shmfs_shared_state_free(&c);
	free(dev);
}

static void value_pieces_commit_only_whole(void **state)
{
	void *dev = dev_new();
	struct shmfs_shared_state a, b;
	struct shmfs_shared_rec rec;
	uint8_t v[200];
	int stop;

	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)i;
	state_of(dev, &a);
	assert_int_equal(create(dev, &a, "a", 0), 0);
	/* a master killed after one piece of a value: the pieces stay in
	 * the log, and the next value starts over */
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_XDATA;
	rec.id = 1;
	rec.mode = SHMFS_SHARED_XDATA_MAX;
	memset(rec.data, 0xee, sizeof(rec.data));
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	assert_int_equal(shmfs_shared_xattr_set(dev, &a, 1, "x", v, sizeof(v), 0, 7), 0);
	/* a piece that does not follow the one before, one too long */
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_XDATA;
	rec.id = 1;
	rec.mode = 10;
	rec.uid = 10;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	rec.uid = 0;
	rec.mode = SHMFS_SHARED_XDATA_MAX + 1;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	/* a commit whose pieces were interrupted by another record, or whose
	 * crc or length is not theirs, is refused */
	rec.mode = 3;
	memcpy(rec.data, "abc", 3);
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), 0);
	memset(&rec, 0, sizeof(rec));
	rec.op = SHMFS_SHARED_OP_XATTR;
	rec.id = 1;
	strcpy(rec.name, "y");
	rec.size = 3;
	rec.extent = shmfs_crc32c(0, "abd", 3);
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	rec.extent = shmfs_crc32c(0, "abc", 3);
	rec.size = 4;
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	rec.size = 3;
	struct shmfs_shared_rec other = { .op = SHMFS_SHARED_OP_SETATTR, .id = 1, .mode = 0600 };
	assert_int_equal(shmfs_shared_append(dev, &a, &other), 0);
	assert_int_equal(shmfs_shared_append(dev, &a, &rec), -EINVAL);
	assert_null(shmfs_shared_xattr_find(&a, 1, "y"));

	state_of(dev, &b);
	shmfs_shared_replay(dev, &b, false, &stop);
	assert_int_equal(stop, 0);
	assert_int_equal(b.seq, a.seq);
	assert_xattr(&b, 1, "x", v, sizeof(v));
	assert_null(shmfs_shared_xattr_find(&b, 1, "y"));
	shmfs_shared_state_free(&a);
	shmfs_shared_state_free(&b);
	free(dev);
}

static void crc32c_matches_the_standard(void **state)
{
	/* the check value of CRC-32C */
	assert_int_equal(shmfs_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(shmfs_crc32c_bits(0, "123456789", 9), 0xe3069283u);
	assert_non_null(shmfs_shared_flush_name());
}

/* the fast version (the CPU's, where it has one) gives what the definition
 * gives, at every alignment and length, and chained */
static void crc32c_fast_equals_bit_by_bit(void **state)
{
	uint8_t buf[300];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 7)
			assert_int_equal(shmfs_crc32c(0, buf + off, len),
					 shmfs_crc32c_bits(0, buf + off, len));
	assert_int_equal(shmfs_crc32c(shmfs_crc32c(0, buf, 100), buf + 100, 200),
			 shmfs_crc32c_bits(0, buf, 300));
}

/* the kernel's mode check for an open: one class of bits, the first that
 * applies (an owner denied by the owner bits is not saved by the others') */
static void access_follows_owner_group_other(void **state)
{
	struct shmfs_shared_region r = { .mode = 0640, .uid = 1000, .gid = 100 };
	const uint32_t groups[] = { 7, 100 };

	(void)state;

	assert_int_equal(shmfs_shared_access(&r, 1000, 1000, NULL, 0, true), 0);
	assert_int_equal(shmfs_shared_access(&r, 1001, 100, NULL, 0, false), 0);
	assert_int_equal(shmfs_shared_access(&r, 1001, 100, NULL, 0, true), -EACCES);
	assert_int_equal(shmfs_shared_access(&r, 1001, 5, groups, 2, false), 0);
	assert_int_equal(shmfs_shared_access(&r, 1001, 5, groups, 1, false), -EACCES);
	assert_int_equal(shmfs_shared_access(&r, 1001, 5, NULL, 0, false), -EACCES);
	/* root is no exception here: the kernel decides for it */
	r.mode = 0600;
	r.uid = 0;
	assert_int_equal(shmfs_shared_access(&r, 0, 0, NULL, 0, true), 0);
	assert_int_equal(shmfs_shared_access(&r, 1000, 0, NULL, 0, false), -EACCES);
	r.mode = 0066;
	assert_int_equal(shmfs_shared_access(&r, 0, 0, NULL, 0, false), -EACCES);
	assert_int_equal(shmfs_shared_access(&r, 5, 5, NULL, 0, true), 0);
	r.mode = 0604;
	r.gid = 5;
	assert_int_equal(shmfs_shared_access(&r, 5, 5, NULL, 0, false), -EACCES);
	assert_int_equal(shmfs_shared_access(&r, 6, 6, NULL, 0, false), 0);
	assert_int_equal(shmfs_shared_access(&r, 6, 6, NULL, 0, true), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_matches_the_standard),
		cmocka_unit_test(format_writes_a_valid_superblock),
		cmocka_unit_test(format_refuses_bad_input),
		cmocka_unit_test(superblock_damage_is_refused),
		cmocka_unit_test(append_then_replay_gives_the_same_tree),
		cmocka_unit_test(unlink_frees_the_extent_for_first_fit),
		cmocka_unit_test(append_refuses_an_inconsistent_record),
		cmocka_unit_test(torn_record_at_every_byte_stops_at_the_last_good),
		cmocka_unit_test(damaged_record_fields_are_refused),
		cmocka_unit_test(checksummed_but_inconsistent_records_stop_replay),
		cmocka_unit_test(resize_rename_setattr_replay),
		cmocka_unit_test(a_full_log_or_device_is_enospc),
		cmocka_unit_test(user_xattrs_replay_and_go_with_their_region),
		cmocka_unit_test(value_pieces_commit_only_whole),
		cmocka_unit_test(access_follows_owner_group_other),
		cmocka_unit_test(crc32c_fast_equals_bit_by_bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
