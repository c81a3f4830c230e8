/* cmd_heap.c - the heap subcommands: `heap usage [NAME...]`, `heap check
 * NAME...`, `heap reclaim NAME...` for regions holding a libshmfs heap. The
 * region is joined through libshmfs (read-only for usage and check, writable
 * for reclaim) and handed to the heap's own peek, check and reclaim: the
 * heap's format has one home, lib/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmfs/heap.h>
#include <shmfs/shmfs.h>

#include "ctl.h"
#include "name.h"
#include "util.h"

enum heap_op { HEAP_USAGE, HEAP_CHECK, HEAP_RECLAIM };

struct heap_run {
	struct ctl *c;
	enum heap_op op;
	struct json j;
	int failed;
	int shown;
};

static const char *heap_why(int r)
{
	switch (r) {
	case -ENOMSG:
		return "it does not hold a libshmfs heap";
	case -EBADMSG:
		return "its heap header is damaged, of another version, or larger than the region";
	case -EUCLEAN:
		return "the heap is inconsistent";
	default:
		return strerror(-r);
	}
}

static void json_region_head(struct heap_run *h, const struct ctl_region *g)
{
	char rel[128];

	ctl_region_rel(g, rel, sizeof(rel));
	json_obj_open(&h->j, NULL);
	json_str(&h->j, "path", rel);
}

static void heap_error(struct heap_run *h, const struct ctl_region *g, int r, const char *msg)
{
	char rel[128];

	ctl_region_rel(g, rel, sizeof(rel));
	h->failed++;
	if (h->c->json) {
		json_region_head(h, g);
		json_str(&h->j, "error", heap_why(r));
		json_str(&h->j, "detail", msg && msg[0] ? msg : NULL);
		json_obj_close(&h->j);
	}
	fprintf(stderr, "shmfsctl heap: cannot %s the heap of '%s': %s%s%s\n",
		h->op == HEAP_RECLAIM ? "reclaim" : h->op == HEAP_CHECK ? "check" : "read", rel,
		heap_why(r), msg && msg[0] ? ": " : "", msg ? msg : "");
	if (r == -EACCES)
		fprintf(stderr, "  Reading a heap needs read permission on the region, reclaiming it "
			"write permission.\n");
	else if (r == -EUCLEAN)
		fprintf(stderr, "  Stop the programs using it and recreate the heap; 'shmfsctl heap "
			"reclaim' frees only what dead processes held.\n");
}

/* The owner slots in use (host and pid: on memory several hosts share a
 * pid alone names no process); v may be NULL (none could be read). */
static void owners_show(struct heap_run *h, const shmfs_heap_owner_t *v, size_t n)
{
	char id[16];

	if (h->c->json) {
		json_arr_open(&h->j, "owner_list");
		for (size_t i = 0; v && i < n; i++) {
			json_obj_open(&h->j, NULL);
			json_u64(&h->j, "slot", v[i].slot);
			json_u64(&h->j, "pid", v[i].pid);
			json_str(&h->j, "host", v[i].host);
			json_u64(&h->j, "host_id", v[i].host_id);
			json_bool(&h->j, "this_host", v[i].local);
			json_bool(&h->j, "dead", v[i].dead);
			json_u64(&h->j, "start_time", v[i].start_time);
			json_obj_close(&h->j);
		}
		json_arr_close(&h->j);
		return;
	}
	for (size_t i = 0; v && i < n; i++) {
		snprintf(id, sizeof(id), "%07x", v[i].host_id);
		printf("  owner %-5u  pid %u on %s (host %s, %s)%s\n", v[i].slot, v[i].pid,
		       v[i].host[0] ? v[i].host : "?", id, v[i].local ? "this host" : "another host",
		       v[i].dead ? " dead, not yet reclaimed" : "");
	}
}

static void heap_usage_show(struct heap_run *h, const struct ctl_region *g, const shmfs_heap_stats_t *s,
			    const shmfs_heap_owner_t *v, size_t n)
{
	if (h->c->json) {
		json_region_head(h, g);
		json_u64(&h->j, "size", s->size);
		json_u64(&h->j, "used", s->used);
		json_u64(&h->j, "free", s->free);
		json_u64(&h->j, "alloc_count", s->alloc_cnt);
		json_u64(&h->j, "footprint", s->footprint);
		json_u64(&h->j, "high_water", s->hwm);
		json_u64(&h->j, "owners", s->owner_cnt);
		json_u64(&h->j, "owner_max", s->owner_max);
		owners_show(h, v, n);
		json_obj_close(&h->j);
		return;
	}
	if (h->shown++)
		putchar('\n');
	char rel[128];

	printf("%s\n", ctl_region_rel(g, rel, sizeof(rel)));
	printf("  heap size:   %s\n", ctl_size(s->size));
	printf("  heap used:   %s (%.1f%%)\n", ctl_size(s->used),
	       s->size ? 100.0 * (double)s->used / (double)s->size : 0.0);
	printf("  heap free:   %s\n", ctl_size(s->free));
	printf("  allocations: %llu\n", (unsigned long long)s->alloc_cnt);
	printf("  footprint:   %s (high water %s)\n", ctl_size(s->footprint), ctl_size(s->hwm));
	printf("  owners:      %llu of %llu\n", (unsigned long long)s->owner_cnt,
	       (unsigned long long)s->owner_max);
	owners_show(h, v, n);
}

static void heap_one(struct heap_run *h, const struct ctl_region *g)
{
	unsigned flags = h->op == HEAP_RECLAIM ? SHMFS_JOIN_RDWR : SHMFS_JOIN_RDONLY;
	shmfs_join_info_t info;
	char msg[512] = "";
	void *mem;
	int r;

	if (g->size == 0) {
		heap_error(h, g, -ENOMSG, "the region is empty");
		return;
	}
	mem = shmfs_join_opts(g->path, flags, NULL, &info);
	if (!mem) {
		heap_error(h, g, -errno, NULL);
		return;
	}
	switch (h->op) {
	case HEAP_USAGE: {
		shmfs_heap_stats_t s = { .sz = sizeof(s) };

		shmfs_heap_owner_t *v = NULL;
		int n = 0;

		r = shmfs_heap_peek(info.shmem, info.sz, &s);
		if (r == -EUCLEAN) /* counts would be garbage: show what is damaged */
			shmfs_heap_check(info.shmem, info.sz, msg, sizeof(msg));
		if (r == 0 && s.owner_max && (v = calloc(s.owner_max, sizeof(*v))))
			n = shmfs_heap_owners(info.shmem, info.sz, v, s.owner_max);
		if (r < 0)
			heap_error(h, g, r, msg);
		else
			heap_usage_show(h, g, &s, v, n < 0 ? 0 : n > (int)s.owner_max ? s.owner_max : (size_t)n);
		free(v);
		break;
	}
	case HEAP_CHECK:
		r = shmfs_heap_check(info.shmem, info.sz, msg, sizeof(msg));
		if (r < 0) {
			heap_error(h, g, r, msg);
		} else if (h->c->json) {
			json_region_head(h, g);
			json_bool(&h->j, "consistent", true);
			json_obj_close(&h->j);
		} else if (!h->c->quiet) {
			char rel[128];

			printf("%s: heap consistent\n", ctl_region_rel(g, rel, sizeof(rel)));
		}
		break;
	case HEAP_RECLAIM: {
		shmfs_heap_reclaim_stats_t s = { .sz = sizeof(s) };

		r = shmfs_heap_reclaim(info.shmem, info.sz, &s);
		if (r == -EUCLEAN) {
			/* Done for everything but the damaged blocks: say what was
			 * freed and what was skipped, with check's first finding. */
			char first[384] = "";

			shmfs_heap_check(info.shmem, info.sz, first, sizeof(first));
			snprintf(msg, sizeof(msg), "skipped %llu damaged block%s, freed %llu allocation%s of "
				 "%llu dead process%s%s%s", (unsigned long long)s.damaged, s.damaged == 1 ? "" : "s",
				 (unsigned long long)s.alloc_cnt, s.alloc_cnt == 1 ? "" : "s",
				 (unsigned long long)s.owner_cnt, s.owner_cnt == 1 ? "" : "es",
				 first[0] ? "; " : "", first);
			heap_error(h, g, r, msg);
		} else if (r < 0) {
			heap_error(h, g, r, NULL);
		} else if (h->c->json) {
			json_region_head(h, g);
			json_u64(&h->j, "owners", s.owner_cnt);
			json_u64(&h->j, "alloc_count", s.alloc_cnt);
			json_u64(&h->j, "bytes", s.bytes);
			json_u64(&h->j, "blocks", s.blocks);
			json_u64(&h->j, "foreign", s.foreign);
			json_obj_close(&h->j);
		} else if (!h->c->quiet) {
			char rel[128];

			printf("%s: reclaimed %llu allocation%s (%s) of %llu dead process%s\n",
			       ctl_region_rel(g, rel, sizeof(rel)), (unsigned long long)s.alloc_cnt,
			       s.alloc_cnt == 1 ? "" : "s", ctl_size(s.bytes), (unsigned long long)s.owner_cnt,
			       s.owner_cnt == 1 ? "" : "es");
			/* only this host's /proc judges this host's pids */
			if (s.foreign)
				printf("%s: left %llu owner%s of other hosts alone: run 'shmfsctl heap reclaim' on "
				       "their hosts\n", rel, (unsigned long long)s.foreign, s.foreign == 1 ? "" : "s");
		}
		break;
	}
	}
	shmfs_leave(mem);
}

static int run_heap(struct ctl *c, const struct ctl_args *a)
{
	static const char *const ops[] = { "usage", "check", "reclaim" };
	struct heap_run h = { .c = c };
	int op = -1, r;

	for (int i = 0; i < 3; i++)
		if (strcmp(a->argv[0], ops[i]) == 0)
			op = i;
	if (op < 0)
		return ctl_usage("heap", "unknown heap command '%s' (usage, check or reclaim)", a->argv[0]);
	h.op = (enum heap_op)op;
	if (h.op != HEAP_USAGE && a->argc < 2)
		return ctl_usage("heap", "'heap %s' needs the NAME of a region", ops[op]);
	for (int i = 1; i < a->argc; i++)
		if (!strchr(a->argv[i], '/') && shmfs_name_check(a->argv[i]) < 0)
			return ctl_usage("heap", "'%s' is not a valid region name", a->argv[i]);
	r = ctl_mount_check(c, "heap");
	if (r)
		return r;
	if (c->json) {
		char cmd[32];

		snprintf(cmd, sizeof(cmd), "heap %s", ops[op]);
		ctl_json_open(c, &h.j, cmd);
		json_arr_open(&h.j, "regions");
	}
	if (a->argc == 1) {
		/* usage of every heap the caller may read (the daemon marks them) */
		_cleanup_free_ struct ctl_region *regs = NULL;
		size_t cnt = 0;

		r = ctl_regions_list(c, &regs, &cnt);
		if (r < 0) {
			h.failed++;
			ctl_fail(r, "heap", c->mount, NULL, "cannot list the regions of");
		}
		for (size_t i = 0; i < cnt; i++)
			if (regs[i].has_heap)
				heap_one(&h, &regs[i]);
		if (!c->json && h.shown == 0 && h.failed == 0)
			ctl_say(c, "no region holds a libshmfs heap");
	}
	for (int i = 1; i < a->argc; i++) {
		struct ctl_region g;

		r = ctl_region_find(c, a->argv[i], &g);
		if (r < 0) {
			h.failed++;
			ctl_fail(r, "heap", a->argv[i], r == -ENOENT ? "See the regions with 'shmfsctl query'." : NULL,
				 "cannot find region");
			continue;
		}
		heap_one(&h, &g);
	}
	if (c->json) {
		json_arr_close(&h.j);
		json_u64(&h.j, "failed", (uint64_t)h.failed);
		ctl_json_close(c, &h.j);
	}
	return h.failed ? CTL_EXIT_FAIL : 0;
}

const struct ctl_cmd ctl_heap_cmds[] = {
	{ "heap", "usage|check|reclaim [NAME...]", "inspect, check or repair libshmfs heaps",
	  "usage [NAME...]   size, bytes used and free, allocations, owners (without NAME:\n"
	  "                  every region holding a heap that you may read)\n"
	  "check NAME...     full consistency check (read-only); exit 1 on a problem\n"
	  "reclaim NAME...   free what processes that died still held in the heap\n"
	  "                  (needs write permission; live processes are not touched,\n"
	  "                  nor those of other hosts: see SHMFS_HOST_ID in shmfsctl(8))\n"
	  "NAMEs take the rest of the command line.\n",
	  1, -1, true, { { 0 } }, run_heap },
	{ NULL },
};
