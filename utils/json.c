/* json.c - the tiny JSON writer behind --json: streaming, indented, with
 * string escaping done right (control characters as \u00XX), so any region
 * name, user xattr or path comes out as valid JSON. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "parse.h"

void json_begin(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

static void indent(struct json *j)
{
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Separator, newline, indentation and key before a value. */
static void value_start(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		indent(j);
	}
	j->first[j->depth] = false;
	if (key) {
		put_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_container(struct json *j, const char *key, char ch)
{
	value_start(j, key);
	fputc(ch, j->f);
	if (j->depth + 1 < (int)(sizeof(j->first) / sizeof(j->first[0])))
		j->depth++;
	j->first[j->depth] = true;
}

static void close_container(struct json *j, char ch)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty) {
		fputc('\n', j->f);
		indent(j);
	}
	fputc(ch, j->f);
}

void json_obj_open(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_obj_close(struct json *j) { close_container(j, '}'); }
void json_arr_open(struct json *j, const char *key) { open_container(j, key, '['); }
void json_arr_close(struct json *j) { close_container(j, ']'); }

void json_str(struct json *j, const char *key, const char *val)
{
	value_start(j, key);
	if (val)
		put_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	value_start(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_i64(struct json *j, const char *key, int64_t val)
{
	value_start(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	value_start(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	value_start(j, key);
	fputs("null", j->f);
}

void json_list(struct json *j, const char *key, const char *list)
{
	const char *p = list;

	/* "0-2,5" (nodes) or "123,456" (pids): expanded into numbers. Text
	 * that is not such a list gives what could be read before it. */
	json_arr_open(j, key);
	while (*p) {
		char *end;
		unsigned long long lo = strtoull(p, &end, 10), hi = lo;

		if (end == p)
			break;
		p = end;
		if (*p == '-') {
			hi = strtoull(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi - lo > 65536)
				break;
			p = end;
		}
		/* not v <= hi: hi may be ULLONG_MAX (an overflowing number) */
		for (unsigned long long v = lo;; v++) {
			json_u64(j, NULL, v);
			if (v == hi)
				break;
		}
		if (*p != ',')
			break;
		p++;
	}
	json_arr_close(j);
}

void ctl_json_open(struct ctl *c, struct json *j, const char *cmd)
{
	json_begin(j, stdout);
	if (c->json_chain) {
		/* several documents: one array around them all */
		if (c->json_docs == 0)
			fputs("[\n", stdout);
		else
			fputs(",\n", stdout);
	}
	json_obj_open(j, NULL);
	json_str(j, "command", cmd);
	json_u64(j, "schema_version", CTL_JSON_SCHEMA_VERSION);
}

void ctl_json_fields(struct ctl *c, const char *cmd, ...)
{
	struct json j;
	const char *key;
	va_list ap;

	if (!c->json)
		return;
	ctl_json_open(c, &j, cmd);
	va_start(ap, cmd);
	while ((key = va_arg(ap, const char *)))
		json_str(&j, key, va_arg(ap, const char *));
	va_end(ap);
	ctl_json_close(c, &j);
}

void ctl_json_close(struct ctl *c, struct json *j)
{
	json_obj_close(j);
	c->json_docs++;
	if (!c->json_chain)
		json_end(j);
	else
		fflush(stdout);
}
