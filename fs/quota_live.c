/* quota_live.c - the quota rules in force: set up from the built-in
 * defaults and the quota= mount options, then what root wrote to .quota
 * since (kept in <backing>/.shmfs/quota, so a restarted daemon keeps them),
 * and the .quota write that changes one rule. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define QUOTA_FILE       "quota"
#define QUOTA_WRITE_MAX  SHMFS_QUOTA_RULE_MAX

static int live_save(struct shmfs_fs *fs, const struct shmfs_quota_rules *live)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int fd, rc = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < live->cnt; i++) {
		char buf[SHMFS_QUOTA_RULE_MAX];

		if (shmfs_quota_rule_format(&live->v[i], &fs->types, buf, sizeof(buf)) >= 0)
			fprintf(f, "%s\n", buf);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	/* whole or not at all: a crash leaves the old file */
	fd = openat(fs->metafd, QUOTA_FILE ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (len && write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(fs->metafd, QUOTA_FILE ".new", fs->metafd, QUOTA_FILE) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(fs->metafd, QUOTA_FILE ".new", 0);
	return rc;
}

/* Record r in the list of rules written live. Unlike a rule set, the list
 * keeps "default" too: it must drop a mount option's per-id rule again at
 * the next start. */
static int live_put(struct shmfs_quota_rules *live, const struct shmfs_quota_rule *r)
{
	struct shmfs_quota_rule *v;

	for (size_t i = 0; i < live->cnt; i++)
		if (shmfs_quota_rule_same_key(&live->v[i], r)) {
			live->v[i] = *r;
			return 0;
		}
	if (live->cnt >= SHMFS_QUOTA_SUBJECT_CNT * SHMFS_PAGE_KIND_CNT + SHMFS_QUOTA_RULES_MAX)
		return -ENOSPC;
	v = realloc(live->v, (live->cnt + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[live->cnt++] = *r;
	live->v = v;
	return 0;
}

/* The rules root wrote before a restart. The file is the daemon's own, but a
 * bad one (edited by hand) is refused whole, with a message, not half used. */
static int live_load(struct shmfs_fs *fs, struct shmfs_quota *q)
{
	_cleanup_fclose_ FILE *f = NULL;
	struct shmfs_quota_rules rules, live = { 0 };
	char line[SHMFS_QUOTA_RULE_MAX + 2];
	int fd, rc = 0, n = 0;

	fd = openat(fs->metafd, QUOTA_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	rc = shmfs_quota_rules_copy(&q->rules, &rules);
	if (rc < 0)
		return rc;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		struct shmfs_quota_rule r;
		size_t len = strlen(line);

		n++;
		if (len == 0 || line[len - 1] != '\n') {
			rc = -EINVAL;
			break;
		}
		line[len - 1] = '\0';
		rc = shmfs_quota_rule_parse(line, &fs->types, &r);
		if (rc == 0)
			rc = shmfs_quota_rules_set(&rules, &r);
		if (rc == 0)
			rc = live_put(&live, &r);
	}
	if (rc < 0) {
		SHMFS_LOG("Ignoring the quota rules kept in '%s/.shmfs/" QUOTA_FILE "' (line %d: %s); "
			  "the mount options apply", fs->backing, n, strerror(-rc));
		shmfs_quota_rules_free(&rules);
		shmfs_quota_rules_free(&live);
		return 0;
	}
	shmfs_quota_rules_free(&q->rules);
	q->rules = rules;
	q->live = live;
	return 0;
}

/* ------------------------------------------------------------ set-up */

int shmfs_quota_setup(struct shmfs_fs *fs, char *const *rules, size_t rule_cnt)
{
	struct shmfs_quota *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->enforced = fs->is_root;
	rc = shmfs_quota_rules_init(&q->rules);
	for (size_t i = 0; rc == 0 && i < rule_cnt; i++) {
		struct shmfs_quota_rule r;

		rc = shmfs_quota_rule_parse(rules[i], &fs->types, &r);
		if (rc == 0)
			rc = shmfs_quota_rules_set(&q->rules, &r);
		if (rc < 0)
			SHMFS_LOG("Bad option quota=%s: want SUBJECT.TYPE=LIMIT, e.g. user.huge=50%%, "
				  "user:1000.normal=1G, group:100.huge=unlimited, reserve.huge=2 (see shmfs(8))",
				  rules[i]);
	}
	if (rc < 0) {
		shmfs_quota_rules_free(&q->rules);
		shmfs_quota_rules_free(&q->live);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return rc;
	}
	fs->quota = q;
	return 0;
}

int shmfs_quota_load(struct shmfs_fs *fs)
{
	int rc;

	pthread_mutex_lock(&fs->quota->lock);
	rc = live_load(fs, fs->quota);
	pthread_mutex_unlock(&fs->quota->lock);
	return rc;
}

void shmfs_quota_free(struct shmfs_fs *fs)
{
	struct shmfs_quota *q = fs->quota;

	if (!q)
		return;
	shmfs_quota_rules_free(&q->rules);
	shmfs_quota_rules_free(&q->live);
	pthread_mutex_destroy(&q->lock);
	free(q);
	fs->quota = NULL;
}


int shmfs_quota_write(struct shmfs_fs *fs, uid_t uid, const char *buf, size_t len, off_t off)
{
	struct shmfs_quota *q = fs->quota;
	struct shmfs_quota_rules rules, live;
	struct shmfs_quota_rule r;
	char text[QUOTA_WRITE_MAX];
	int rc;

	if (uid != 0)
		return -EACCES;
	if (!q)
		return -ENOENT;
	if (!q->enforced)
		return -EOPNOTSUPP; /* a daemon without root has one user: its own */
	if (off != 0)
		return -EINVAL;
	rc = shmfs_control_text(buf, len, text, sizeof(text));
	if (rc == 0)
		rc = shmfs_quota_rule_parse(text, &fs->types, &r);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&q->lock);
	/* on copies: a failure anywhere changes nothing */
	rc = shmfs_quota_rules_copy(&q->rules, &rules);
	if (rc == 0) {
		rc = shmfs_quota_rules_copy(&q->live, &live);
		if (rc < 0)
			shmfs_quota_rules_free(&rules);
	}
	if (rc < 0)
		goto out;
	rc = shmfs_quota_rules_set(&rules, &r);
	if (rc == 0)
		rc = live_put(&live, &r);
	if (rc == 0)
		rc = live_save(fs, &live);
	if (rc == 0) {
		shmfs_quota_rules_free(&q->rules);
		shmfs_quota_rules_free(&q->live);
		q->rules = rules;
		q->live = live;
	} else {
		shmfs_quota_rules_free(&rules);
		shmfs_quota_rules_free(&live);
	}
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}
