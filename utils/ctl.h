/* ctl.h - what the parts of shmfsctl share: the invocation state (mount,
 * output mode, page types), the command table entry, error reporting that
 * turns a negative errno into a sentence for a person, the JSON writer, and
 * the accessors that read the mounted tree (pools, regions, xattrs). Every
 * command talks to the daemon through the tree; only init and fini touch
 * mounts. */
#ifndef SHMFS_UTILS_CTL_H
#define SHMFS_UTILS_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "numa.h"
#include "pagetype.h"

/* ------------------------------------------------------------ invocation */

struct ctl {
	const char *mount;          /* --mount, else $SHMFS_PATH, else /mnt/shmfs */
	bool json;                  /* --json: exact numbers, one document */
	bool quiet;                 /* -q: no progress, no success chatter */
	bool progress_tty;          /* stderr is a terminal: show progress */
	struct shmfs_page_types types;
	int json_docs;              /* JSON documents written so far (chains) */
	bool json_chain;            /* several reporting commands: wrap in an array */
};

struct ctl_opt {
	char short_name;            /* 0 when none */
	const char *long_name;      /* without the dashes; NULL when none. "sort=KEY":
	                             * takes a value (KEY names it in --help) */
	const char *help;
};

/* Parsed options of one command: which of its ctl_opt were given, and the
 * values of those that take one. */
#define CTL_OPT_MAX 8
struct ctl_args {
	bool opt[CTL_OPT_MAX];
	const char *val[CTL_OPT_MAX];
	int argc;
	char **argv;
};

struct ctl_cmd {
	const char *name;
	const char *args;           /* "CNT TYPE NODE" for the usage line */
	const char *summary;        /* one line */
	const char *help;           /* the rest of --help */
	int min_args, max_args;     /* max -1: takes the rest of the command line */
	bool reports;               /* has output that --json applies to */
	struct ctl_opt opts[CTL_OPT_MAX];
	int (*run)(struct ctl *c, const struct ctl_args *a);
};

/* Command tables of each file (terminated by a NULL name). */
extern const struct ctl_cmd ctl_cfg_cmds[];
extern const struct ctl_cmd ctl_region_cmds[];
extern const struct ctl_cmd ctl_info_cmds[];
extern const struct ctl_cmd ctl_numa_cmds[];
extern const struct ctl_cmd ctl_heap_cmds[];
extern const struct ctl_cmd ctl_conf_cmds[];
extern const struct ctl_cmd ctl_quota_cmds[];
extern const struct ctl_cmd ctl_ls_cmds[];
extern const struct ctl_cmd ctl_explain_cmds[];
extern const struct ctl_cmd ctl_shared_cmds[];

/* The version of every JSON document shmfsctl prints ("schema_version"):
 * raised when a field changes meaning or goes away, not when one is added. */
#define CTL_JSON_SCHEMA_VERSION 1

/* ------------------------------------------------------------ output.c */

/* Exit statuses: 0 ok, 1 the operation failed, 2 bad usage. Commands return
 * one of them; helpers below the commands return 0 or -errno. */
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

/* "shmfsctl CMD: WHAT 'ON': WHY (strerror of r)\n  HINT" on stderr. Returns
 * CTL_EXIT_FAIL so a command can `return ctl_fail(...)`. hint may be NULL;
 * r 0 leaves out the strerror part. */
int ctl_fail(int r, const char *cmd, const char *on, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Bad usage: message plus "try 'shmfsctl CMD --help'". Returns CTL_EXIT_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A warning on stderr (continues). */
void ctl_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Say what was done (stdout, human mode only, not with -q). */
void ctl_say(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Human size ("4.0G") into a static rotating buffer: fine for a printf. */
const char *ctl_size(uint64_t bytes);

/* Progress of a long operation on stderr (only when it is a terminal and
 * not -q); done ends the line. */
void ctl_progress(struct ctl *c, const char *what, uint64_t have, uint64_t target, bool done);

/* ------------------------------------------------------------ json.c */

/* A tiny streaming JSON writer: objects, arrays, strings (escaped), numbers,
 * booleans, null. Keys are given to the value functions (NULL inside arrays).
 * Indented two spaces, one key per line. */
struct json {
	FILE *f;
	int depth;
	bool first[32];
};

void json_begin(struct json *j, FILE *f);
void json_end(struct json *j);          /* final newline */
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *val);  /* NULL → null */
void json_u64(struct json *j, const char *key, uint64_t val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* A JSON array of integers from a list: "0-2,5" (nodes), "123,456" (pids). */
void json_list(struct json *j, const char *key, const char *list);

/* Start and end one command's document (handles chains: an array around
 * several documents). The object opened carries "command": name. */
void ctl_json_open(struct ctl *c, struct json *j, const char *cmd);
void ctl_json_close(struct ctl *c, struct json *j);
/* With --json, a whole document for a command whose result is a sentence:
 * string fields as KEY, VALUE pairs ending with NULL. Nothing without it. */
void ctl_json_fields(struct ctl *c, const char *cmd, ...) __attribute__((sentinel));

/* ------------------------------------------------------------ tree.c */

/* The mount, checked to be a live shmfs (its root carries user.shmfs.backing).
 * On failure prints why and what to do and returns CTL_EXIT_FAIL. */
int ctl_mount_check(struct ctl *c, const char *cmd);

/* Read an xattr as a NUL-terminated string; 0 or -errno (-ENODATA absent). */
int ctl_xattr(const char *path, const char *name, char *buf, size_t buf_sz);
int ctl_xattr_u64(const char *path, const char *name, uint64_t *ret);

/* A page type named on the command line: "huge", ".huge"; prints the error
 * (with the types this kernel offers) itself. */
const struct shmfs_page_type *ctl_page_type(struct ctl *c, const char *cmd, const char *name,
					    bool huge_only);
/* A page count on the command line ("8", or a size that is a whole number of
 * t's pages, "4G"); prints the error itself (returns CTL_EXIT_USAGE). */
int ctl_parse_pages(const char *cmd, const char *s, const struct shmfs_page_type *t, uint64_t *ret);

/* The same with an optional sign: +N adds to the pool, -N takes away
 * (*ret_sign 1, -1; 0 without a sign). */
int ctl_parse_pages_rel(const char *cmd, const char *s, const struct shmfs_page_type *t, int *ret_sign,
			uint64_t *ret);

/* A node named on the command line: "N" or "nodeN"; must exist and have memory. */
int ctl_node(const char *cmd, const char *s, int *ret);

struct ctl_pool {
	const struct shmfs_page_type *t;
	int node;
	uint64_t total, free, reserved, surplus;
};

/* The target of alloc: n itself, or the persistent pool of p plus or minus n
 * (sign from ctl_parse_pages_rel). Prints the error itself (CTL_EXIT_USAGE). */
int ctl_pool_target(const char *cmd, const struct ctl_pool *p, int sign, uint64_t n, uint64_t *ret);

/* The pool of one type and node, read through the tree (directory xattrs). */
int ctl_pool_read(struct ctl *c, const struct shmfs_page_type *t, int node, struct ctl_pool *ret);

/* Call fn(p, ctx) with the pool of every huge page type of this kernel
 * (largest first) on every memory node. 0, or fn's non-zero return, or
 * CTL_EXIT_FAIL after saying which pool cmd could not read. */
int ctl_pools_each(struct ctl *c, const char *cmd, int (*fn)(const struct ctl_pool *p, void *ctx), void *ctx);

struct ctl_region {
	char name[64];
	char path[4096];            /* in the tree */
	const struct shmfs_page_type *t;
	int node;                   /* home: the directory it shows in */
	uint64_t size, allocated;   /* st_size, st_blocks * 512 */
	uint64_t page_sz, page_cnt;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	char numa_nodes[256];
	char policy[128];
	int64_t creator_pid;        /* -1 unknown */
	uint64_t creator_start;
	char created[48];
	uint64_t mapper_cnt;
	char mapper_pids[4096];
	int orphaned;               /* 1, 0, -1 unknown */
	char lifetime[32];          /* persistent | process | lock; "" unknown (old daemon) */
	char program[64];           /* another program's file: "dpdk:PREFIX"; "" */
	char backing[4096];
	bool has_heap;
	uint64_t heap_sz, heap_used, heap_free, heap_alloc_cnt;
	bool readable;              /* xattrs could be read */
	/* a region of a shared backing (MOUNT/shared/NAME/REGION, node -1):
	 * an extent of a device several hosts map, in the log the master
	 * writes; backing is the device; the rest needs read permission */
	bool shared;
	uint64_t shared_off, shared_extent;
	char shared_master[64];     /* the host that writes the log */
	char shared_host[64];       /* this daemon's host */
	char shared_role[16];       /* "master" | "replica" (this daemon) */
};

/* Read one region by tree path. 0 or -errno. */
int ctl_region_read(struct ctl *c, const char *path, const struct shmfs_page_type *t, int node,
		    struct ctl_region *ret);

/* Every region of the mount (all types and nodes), sorted by type then name.
 * *ret is malloc'ed. Regions that vanish meanwhile are skipped. */
int ctl_regions_list(struct ctl *c, struct ctl_region **ret, size_t *ret_cnt);

/* A listing read one region at a time, in ctl_regions_list's order: the
 * names first (ctl_regions_scan: 0 or -errno), then each region as it is
 * asked for (ctl_regions_scan_next: 1 with *ret filled, 0 at the end;
 * regions that vanished meanwhile are skipped). Memory is per name, not per
 * region read: for commands that show regions as they go. */
struct ctl_region_ent;
struct ctl_region_scan {
	struct ctl *c;
	struct ctl_region_ent *ent;
	size_t cnt, cap, next;
	size_t tree_cnt;            /* the first ones, in TYPE/nodeN/ (then shared/) */
};
int ctl_regions_scan(struct ctl *c, struct ctl_region_scan *s);
int ctl_regions_scan_next(struct ctl_region_scan *s, struct ctl_region *ret);
void ctl_regions_scan_free(struct ctl_region_scan *s);
/* Whether the scan listed a region NAME of type t in the tree (TYPE/nodeN/). */
bool ctl_regions_scan_has(const struct ctl_region_scan *s, const struct shmfs_page_type *t,
			  const char *name);

/* What a command listing regions starts with: the mount checked, then every
 * region (ctl_regions_list). 0, or the exit status after saying why. */
int ctl_regions_load(struct ctl *c, const char *cmd, struct ctl_region **ret, size_t *ret_cnt);

/* Find a region by bare name (largest page size first, like libshmfs) or by
 * a path relative to the mount ("huge/node0/x"). -ENOENT when none. */
int ctl_region_find(struct ctl *c, const char *name, struct ctl_region *ret);
/* The region's path in the tree (TYPE/nodeN/NAME, or shared/NAME/REGION for
 * a region of a shared backing, node -1) into buf; and its type's name
 * ("shared" for those). */
const char *ctl_region_rel(const struct ctl_region *g, char *buf, size_t sz);
const char *ctl_region_type(const struct ctl_region *g);

/* A region for people (the info block) and for --json (one schema for
 * query, info, clean: see shmfsctl(8)). */
void ctl_region_print(const struct ctl_region *g, bool all);
void ctl_region_json(struct json *j, const struct ctl_region *g);

/* info --prometheus (prometheus.c). */
int ctl_info_prometheus(struct ctl *c);

/* query NAME [TYPE] (cmd_region.c). */
int ctl_region_query(struct ctl *c, const struct ctl_args *a);

/* Memory nodes as a list of ints. */
int ctl_memory_nodes(int *nodes, int max);

/* The user name / group name for an id ("1000" when unknown). */
const char *ctl_user(uid_t uid, char *buf, size_t sz);
const char *ctl_group(gid_t gid, char *buf, size_t sz);

/* ------------------------------------------------------------ cmd_quota.c */

/* The quota usage of every user and group: a "quota" object into j, or a
 * section for people when j is NULL. Nothing when the daemon has no .quota.
 * 0 or -errno. */
int ctl_quota_report(struct ctl *c, struct json *j);

/* The longest rule, canonical or as given. */
#define CTL_QUOTA_RULE_MAX 80
/* A rule as people write it, SUBJECT[:ID|:NAME].TYPE=LIMIT (a size for a
 * limit), into the canonical text .quota takes (names become numbers, sizes
 * page counts). Bad input: says why on stderr, prefixed with where ("FILE:3: "
 * or ""), as bad usage of cmd, and returns CTL_EXIT_USAGE; else 0. */
int ctl_quota_rule_canon(struct ctl *c, const char *cmd, const char *where, const char *in, char *out,
			 size_t out_sz);
/* Write one canonical rule to the mount's .quota: 0 or -errno (-EACCES not
 * root, -EOPNOTSUPP a daemon without root, -EINVAL refused). */
int ctl_quota_write(struct ctl *c, const char *canon);
/* Whether the mount's daemon enforces quotas (1, 0), or -errno (-ENOENT: a
 * daemon without quotas). */
int ctl_quota_enforced(struct ctl *c);

#endif
