/* place.c - where a region's pages go: the placement policy ("bind:N",
 * "split:..."), taking pages on the nodes it names and verifying they are
 * there, asking the kernel where a file's pages sit, and moving every page of
 * a file to another node (all or nothing). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

#define MOVE_PAGES_BATCH 1024
#define SHMFS_PLACE_SAMPLE 64 /* pages a placement check looks at, at most */
/* a normal chunk above this is first checked against the node's free pages */
#define SHMFS_PLACE_PRECHECK_MIN ((uint64_t)2 << 20)

/* Huge pages come from the pools, so binding to the node is exact and a short
 * pool is a plain ENOSPC. Normal pages are only preferred on the node: under
 * MPOL_BIND a node that runs out makes the kernel OOM-kill inside the bound
 * set (the daemon first); preferred pages spill to other nodes instead, the
 * verification sees them there, and the resize fails with ENOMEM. */
static int bind_node(int node, bool huge)
{
	unsigned long mask[SHMFS_NODE_MAX / (8 * sizeof(unsigned long))];

	memset(mask, 0, sizeof(mask));
	mask[(size_t)node / (8 * sizeof(unsigned long))] |= 1UL << ((size_t)node % (8 * sizeof(unsigned long)));
	if (set_mempolicy(huge ? MPOL_BIND : MPOL_PREFERRED, mask, SHMFS_NODE_MAX) < 0)
		return -errno;
	return 0;
}

/* Whether some pages of the file's size are not allocated. Faulting such a
 * hole through a mapping (populating it to ask where pages are, or to move
 * them) would allocate it, so those paths leave sparse files alone. Files
 * the daemon sizes never have holes; fd_shmem may leave some. */
static bool file_sparse(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return true;
	return (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
}

static void unbind(void)
{
	/* handler threads are pooled: never leave a binding behind */
	set_mempolicy(MPOL_DEFAULT, NULL, 0);
}

/* Where the pages of [off, off+len) of fd sit, by asking the kernel about a
 * short-lived read-only mapping. Pages not allocated are not counted; if
 * ret_missing is given it gets their number, if ret_elsewhere is given the
 * number of allocated pages not on node. */
static int range_nodes(int fd, uint64_t page_sz, uint64_t off, uint64_t len, shmfs_nodemask_t *ret,
		       uint64_t *ret_missing, int node, uint64_t *ret_elsewhere)
{
	shmfs_nodemask_t m;
	uint64_t missing = 0, elsewhere = 0, cnt;
	void *pages[MOVE_PAGES_BATCH];
	int status[MOVE_PAGES_BATCH];
	char *map;
	int r = 0;

	memset(&m, 0, sizeof(m));
	if (len == 0)
		goto out;
	/* a sparse file is only asked about (pages it lacks count as missing) */
	map = mmap(NULL, len, PROT_READ,
		   MAP_SHARED | MAP_NORESERVE | (file_sparse(fd) ? 0 : MAP_POPULATE), fd, (off_t)off);
	if (map == MAP_FAILED)
		return -errno;
	cnt = len / page_sz;
	for (uint64_t i = 0; i < cnt; i += MOVE_PAGES_BATCH) {
		unsigned long n = (unsigned long)(cnt - i < MOVE_PAGES_BATCH ? cnt - i : MOVE_PAGES_BATCH);
		for (unsigned long j = 0; j < n; j++)
			pages[j] = map + (i + j) * page_sz;
		if (move_pages(0, n, pages, NULL, status, 0) < 0) {
			r = -errno;
			break;
		}
		for (unsigned long j = 0; j < n; j++) {
			if (status[j] >= 0 && status[j] < SHMFS_NODE_MAX)
				shmfs_bit_set(m.bits, (size_t)status[j]);
			else
				missing++;
			if (status[j] >= 0 && status[j] != node)
				elsewhere++;
		}
	}
	munmap(map, len);
	if (r < 0)
		return r;
out:
	*ret = m;
	if (ret_missing)
		*ret_missing = missing;
	if (ret_elsewhere)
		*ret_elsewhere = elsewhere;
	return 0;
}

int shmfsd_region_nodes(int fd, uint64_t page_sz, uint64_t size, shmfs_nodemask_t *ret)
{
	return range_nodes(fd, page_sz, 0, size / page_sz * page_sz, ret, NULL, -1, NULL);
}

/* Where a sample of the pages of [off, off+len) of fd sits: every page of a
 * range of up to SHMFS_PLACE_SAMPLE pages, else SHMFS_PLACE_SAMPLE pages
 * spread evenly over it, always the first and the last. Only the sampled
 * pages are faulted into a short-lived read-only mapping (MADV_POPULATE_READ:
 * an error, not a SIGBUS, if the file shrank meanwhile), so the cost does not
 * grow with the range. The file must have no holes (a sampled hole would be
 * allocated); a sampled page that is not there counts in *ret_missing. */
static int sample_nodes(int fd, uint64_t page_sz, uint64_t off, uint64_t len, shmfs_nodemask_t *ret,
			uint64_t *ret_missing)
{
	void *pages[SHMFS_PLACE_SAMPLE];
	int status[SHMFS_PLACE_SAMPLE];
	uint64_t cnt = len / page_sz, n, missing = 0;
	shmfs_nodemask_t m;
	char *map;
	int r = 0;

	memset(&m, 0, sizeof(m));
	*ret_missing = 0;
	if (cnt == 0) {
		*ret = m;
		return 0;
	}
	n = cnt < SHMFS_PLACE_SAMPLE ? cnt : SHMFS_PLACE_SAMPLE;
	map = mmap(NULL, cnt * page_sz, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
	if (map == MAP_FAILED)
		return -errno;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pg = n == cnt ? i : (n == 1 ? 0 : i * (cnt - 1) / (n - 1));

		pages[i] = map + pg * page_sz;
		/* a page gone meanwhile stays unmapped: move_pages says ENOENT */
		(void)madvise(pages[i], page_sz, MADV_POPULATE_READ);
	}
	if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) < 0)
		r = -errno;
	for (uint64_t i = 0; r == 0 && i < n; i++) {
		if (status[i] >= 0 && status[i] < SHMFS_NODE_MAX)
			shmfs_bit_set(m.bits, (size_t)status[i]);
		else
			missing++;
	}
	munmap(map, cnt * page_sz);
	if (r < 0)
		return r;
	*ret = m;
	*ret_missing = missing;
	return 0;
}

/* The nodes (below 64) of a nodemask as a word, or 0 if it names a node
 * beyond (a record cannot hold it) or none. */
static uint64_t mask_word(const shmfs_nodemask_t *m)
{
	for (size_t i = 1; i < SHMFS_NODE_MAX / 64; i++)
		if (m->bits[i])
			return 0;
	return m->bits[0];
}

/* Whether r's stamp holds for the file as st shows it (fs lock). */
static bool stamp_matches_locked(const struct shmfsd_region *r, const struct stat *st)
{
	const struct shmfs_place_stamp *p = &r->placed_stamp;

	return p->set && p->ctime.tv_sec == st->st_ctim.tv_sec && p->ctime.tv_nsec == st->st_ctim.tv_nsec &&
	       p->size == (uint64_t)st->st_size && p->blocks == (uint64_t)st->st_blocks;
}

bool shmfs_place_stamp_holds(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t moves,
			     const struct stat *st)
{
	bool holds;

	pthread_mutex_lock(&fs->lock);
	holds = r->placed && stamp_matches_locked(r, st) && r->placed_stamp.moves == moves;
	pthread_mutex_unlock(&fs->lock);
	return holds;
}

void shmfs_place_stamp(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t moves,
		       const struct stat *st)
{
	pthread_mutex_lock(&fs->lock);
	r->placed_stamp = (struct shmfs_place_stamp){
		.set = r->placed != 0, .moves = moves, .ctime = st->st_ctim,
		.size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
	};
	pthread_mutex_unlock(&fs->lock);
}

bool shmfs_place_known(struct shmfs_fs *fs, struct shmfsd_region *r, pid_t caller, shmfs_nodemask_t *ret)
{
	uint64_t moves;
	struct stat st;
	bool known;

	if (shmfs_page_moves(fs, caller > 0 ? caller : -1, &moves) < 0)
		return false;
	pthread_mutex_lock(&fs->lock);
	known = r->linked && r->placed &&
		fstatat(fs->type[r->kind].dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		S_ISREG(st.st_mode) && st.st_ino == r->backing_ino &&
		(uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size &&
		stamp_matches_locked(r, &st) && r->placed_stamp.moves == moves;
	if (known) {
		memset(ret, 0, sizeof(*ret));
		ret->bits[0] = r->placed;
	}
	pthread_mutex_unlock(&fs->lock);
	return known;
}

int shmfs_place_nodes(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t page_sz,
		      const struct stat *st, pid_t caller, shmfs_nodemask_t *ret)
{
	uint64_t len = (uint64_t)st->st_size / page_sz * page_sz, placed, missing = 0, moves = 0;
	bool sparse = (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size, have_moves;
	shmfs_nodemask_t seen;
	int rc;

	/* the count first: a move after it shows in the next one */
	have_moves = shmfs_page_moves(fs, caller > 0 ? caller : -1, &moves) == 0;
	pthread_mutex_lock(&fs->lock);
	placed = r->placed;
	if (placed && have_moves && stamp_matches_locked(r, st) && r->placed_stamp.moves == moves) {
		pthread_mutex_unlock(&fs->lock);
		memset(ret, 0, sizeof(*ret));
		ret->bits[0] = placed;
		return 0;
	}
	pthread_mutex_unlock(&fs->lock);
	if (placed && !sparse) {
		rc = sample_nodes(fd, page_sz, 0, len, &seen, &missing);
		if (rc < 0)
			return rc;
		/* the record holds if the sample found every recorded node,
		 * no other, and no page missing */
		if (missing == 0 && mask_word(&seen) == placed) {
			if (have_moves)
				shmfs_place_stamp(fs, r, moves, st);
			*ret = seen;
			return 0;
		}
	}
	rc = range_nodes(fd, page_sz, 0, len, ret, &missing, -1, NULL);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	/* not over a record a resize or a move made meanwhile */
	if (r->placed == placed) {
		r->placed = missing == 0 ? mask_word(ret) : 0;
		r->placed_stamp.set = false;
	}
	pthread_mutex_unlock(&fs->lock);
	if (have_moves && !sparse && missing == 0)
		shmfs_place_stamp(fs, r, moves, st);
	return 0;
}

void shmfs_place_record(struct shmfs_fs *fs, struct shmfsd_region *r, uint64_t nodes, bool add)
{
	pthread_mutex_lock(&fs->lock);
	if (!add)
		r->placed = nodes;
	else if (r->placed && nodes)
		r->placed |= nodes;
	else
		r->placed = 0;
	/* true now, but since when the caller stamps (shmfs_place_stamp) */
	r->placed_stamp.set = false;
	pthread_mutex_unlock(&fs->lock);
}

static bool only_node(const shmfs_nodemask_t *m, int node)
{
	for (size_t i = 0; i < SHMFS_NODE_MAX / 64; i++) {
		uint64_t want = i == (size_t)node / 64 ? UINT64_C(1) << (node % 64) : 0;
		if (m->bits[i] != want)
			return false;
	}
	return true;
}

/* Take the pages for [old, size) from the pools of the nodes the policy
 * names, at once, and check they are there. The pages are allocated beyond
 * the end first (KEEP_SIZE) and the size set only when all are there:
 * hugetlbfs sets the full size even when a fallocate is interrupted, and a
 * daemon killed here must leave the old size (start-up trims pages beyond
 * it). On any failure the file is put back to old, which also returns pages
 * an interrupted hugetlbfs fallocate kept (it does not undo itself). */
int shmfs_place_grow(struct shmfs_fs *fs, int fd, uint64_t page_sz, bool huge, uint64_t old,
		     uint64_t size, const struct shmfs_policy *pol, int home, uint64_t *ret_nodes,
		     struct stat *ret_st)
{
	uint64_t pos, nodes = 0, blocks0 = 0;
	struct stat st;
	bool sparse, all_new = false, have_blocks0 = false;
	int r, err = 0;

	/* the blocks it has now, to tell afterwards whether every page of the
	 * range was taken by the fallocates below (none was there before) */
	if (huge && fstat(fd, &st) == 0) {
		blocks0 = (uint64_t)st.st_blocks;
		have_blocks0 = true;
	}
	for (pos = old; pos < size && err == 0;) {
		uint64_t run_end, chunk_end;
		int node = shmfs_policy_node(pol, home, pos / page_sz, &run_end);

		chunk_end = run_end > size / page_sz ? size : run_end * page_sz;
		/* a small normal chunk is not worth the look at the node's free
		 * pages: the sample below holds the last page, where a spill is */
		if (!huge && chunk_end - pos > SHMFS_PLACE_PRECHECK_MIN) {
			uint64_t total, free_pages;
			/* plainly too big for the node: refuse before filling it and
			 * spilling over (the verification catches the racy rest) */
			if (shmfs_normal_pool(fs, node, &total, &free_pages) == 0 &&
			    free_pages < (chunk_end - pos + page_sz - 1) / page_sz) {
				err = -ENOMEM;
				break;
			}
		}
		r = bind_node(node, huge);
		if (r < 0) {
			err = r;
			break;
		}
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)(chunk_end - pos)) < 0)
			err = -errno;
		unbind();
		pos = chunk_end;
	}
	if (err == 0 && ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	/* Verified by a sample of each run (sample_nodes): the pages are all
	 * there when the file has no hole (st_blocks), huge pages are bound so
	 * can only be on the node, and normal pages that spilled over from a
	 * node running out are the last of the run, which the sample always
	 * holds. A file with holes (made by another program) is checked page
	 * by page, as the sample would fill them. */
	if (err == 0 && fstat(fd, &st) < 0)
		err = -errno;
	sparse = err == 0 && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
	/* Huge pages taken by a bound fallocate come from the node's pool or
	 * not at all: when every page of the range is one it took (the file
	 * grew by exactly their blocks, no hole), where they are is known
	 * without mapping them. A page that was there before (put beyond the
	 * end by another program) is asked about like the rest. */
	if (err == 0 && huge && !sparse && have_blocks0 &&
	    (uint64_t)st.st_blocks - blocks0 == (size - old) / 512)
		all_new = true;
	for (pos = old; pos < size && err == 0;) {
		uint64_t run_end, chunk_end, vstart, missing = 0;
		shmfs_nodemask_t where;
		int node = shmfs_policy_node(pol, home, pos / page_sz, &run_end);

		chunk_end = run_end > size / page_sz ? size : run_end * page_sz;
		vstart = pos / page_sz * page_sz;
		if (all_new) {
			memset(&where, 0, sizeof(where));
			shmfs_bit_set(where.bits, (size_t)node);
			r = 0;
		} else if (sparse)
			r = range_nodes(fd, page_sz, vstart, chunk_end - vstart, &where, &missing, -1, NULL);
		else
			r = sample_nodes(fd, page_sz, vstart, chunk_end - vstart, &where, &missing);
		if (r < 0)
			err = r;
		else if (missing || !only_node(&where, node))
			err = -ENOMEM;
		else if (nodes != UINT64_MAX)
			nodes = node < 64 ? nodes | UINT64_C(1) << node : UINT64_MAX;
		pos = chunk_end;
	}
	if (err < 0) {
		if (ftruncate(fd, (off_t)old) < 0)
			SHMFS_LOG("Failed to give back pages after a failed resize: %m");
		return err;
	}
	/* nodes beyond 63 do not fit a record: none (asked in full) */
	*ret_nodes = nodes == UINT64_MAX ? 0 : nodes;
	if (ret_st)
		*ret_st = st;
	return 0;
}

/* Allocate the pages of [start, end) a file made behind our back may lack
 * (holes), on r's home node, before the daemon touches them through a
 * mapping: touching a hole would allocate it unplaced, or SIGBUS on an
 * empty pool. Files the daemon sizes have no holes. */
int shmfs_place_fill_holes(struct shmfs_fs *fs, struct shmfsd_region *r, int fd, uint64_t start,
			   uint64_t end)
{
	int node, rc;

	if (!file_sparse(fd))
		return 0;
	pthread_mutex_lock(&fs->lock);
	node = r->meta.node;
	pthread_mutex_unlock(&fs->lock);
	rc = bind_node(node, shmfs_page_type_is_huge(fs->type[r->kind].pt));
	if (rc < 0)
		return rc;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)start, (off_t)(end - start)) < 0)
		rc = -errno;
	unbind();
	return rc;
}

int shmfs_place_move(int fd, uint64_t page_sz, uint64_t len, int node, uint64_t *ret_failed)
{
	void *pages[MOVE_PAGES_BATCH];
	int nodes[MOVE_PAGES_BATCH], status[MOVE_PAGES_BATCH];
	uint64_t cnt = len / page_sz, failed = 0;
	char *map;
	int r = 0;

	map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	for (uint64_t i = 0; i < cnt; i += MOVE_PAGES_BATCH) {
		unsigned long n = (unsigned long)(cnt - i < MOVE_PAGES_BATCH ? cnt - i : MOVE_PAGES_BATCH);
		for (unsigned long j = 0; j < n; j++) {
			pages[j] = map + (i + j) * page_sz;
			nodes[j] = node;
		}
		/* MOVE_ALL: the pages are shared with every process mapping the region */
		if (move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		for (unsigned long j = 0; j < n; j++)
			if (status[j] != node)
				failed++;
	}
	munmap(map, len);
	*ret_failed = failed;
	return r;
}

/* Move every page of the open backing file to node to; all or nothing: on a
 * shortfall the pages go back to from and -ENOMEM is returned. */
int shmfsd_region_migrate_fd(struct shmfs_fs *fs, enum shmfs_page_kind k, int fd, int from, int to)
{
	const struct shmfs_page_type *pt = fs->type[k].pt;
	uint64_t page_sz = pt->page_sz, size, failed = 0, need = 0;
	shmfs_nodemask_t where;
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	size = (uint64_t)st.st_size / page_sz * page_sz;
	if (size == 0)
		return 0;
	if (file_sparse(fd))
		return -ENOMEM; /* its missing pages could not be placed anyway */
	rc = range_nodes(fd, page_sz, 0, size, &where, NULL, to, &need);
	if (rc < 0)
		return rc;
	if (need == 0)
		return 0;
	if (shmfs_page_type_is_huge(pt)) {
		struct shmfs_pool_stat ps;
		/* do not start what the target pool cannot finish */
		if (shmfs_pool_stat(pt, to, &ps) < 0 || ps.free < need)
			return -ENOMEM;
	}
	rc = shmfs_place_move(fd, page_sz, size, to, &failed);
	if (rc == 0 && failed == 0)
		return 0;
	if (from >= 0)
		shmfs_place_move(fd, page_sz, size, from, &failed);
	return rc < 0 ? rc : -ENOMEM;
}

/* ------------------------------------------------------------ policy */

static int parse_node_num(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
	char buf[24];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (shmfs_parse_u64(buf, ret) < 0 || *ret > max)
		return -EINVAL;
	return 0;
}

int shmfs_policy_parse(const char *text, struct shmfs_policy *ret)
{
	struct shmfs_policy p = { 0 };
	const char *s;

	if (strncmp(text, "bind:", 5) == 0) {
		uint64_t n;
		if (parse_node_num(text + 5, strlen(text + 5), SHMFS_NODE_MAX - 1, &n) < 0)
			return -EINVAL;
		p.cnt = 1;
		p.node[0] = (int)n;
		p.pages[0] = UINT64_MAX;
		*ret = p;
		return 0;
	}
	if (strncmp(text, "split:", 6) != 0)
		return -EINVAL;
	s = text + 6;
	for (;;) {
		const char *eq = strchr(s, '='), *end = strchr(s, ',');
		uint64_t n, c;

		if (!end)
			end = s + strlen(s);
		if (!eq || eq > end || p.cnt == SHMFS_SPLIT_MAX)
			return -EINVAL;
		if (parse_node_num(s, (size_t)(eq - s), SHMFS_NODE_MAX - 1, &n) < 0 ||
		    parse_node_num(eq + 1, (size_t)(end - eq - 1), UINT32_MAX, &c) < 0 || c == 0)
			return -EINVAL;
		for (size_t i = 0; i < p.cnt; i++)
			if (p.node[i] == (int)n)
				return -EINVAL; /* each node once */
		p.node[p.cnt] = (int)n;
		p.pages[p.cnt] = c;
		p.cnt++;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	*ret = p;
	return 0;
}

int shmfs_policy_node(const struct shmfs_policy *p, int home, uint64_t page, uint64_t *ret_run_end)
{
	uint64_t start = 0;

	for (size_t i = 0; i < p->cnt; i++) {
		uint64_t end = p->pages[i] == UINT64_MAX || start + p->pages[i] < start
				       ? UINT64_MAX : start + p->pages[i];
		if (page < end) {
			*ret_run_end = end;
			return p->node[i];
		}
		start = end;
	}
	*ret_run_end = UINT64_MAX;
	return home;
}
