/* SPDX-License-Identifier: GPL-2.0-or-later */
/* record.c: names of record fields and the TRACE prefix parser shared by NFLOG and --read */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "iptrace/record.h"

#define NAME_CASE(v, name) case v: return name;
const char *trace_kind_name(enum trace_kind kind)
{
	switch (kind) {
	TRACE_KIND_NAMES(NAME_CASE)
	}
	return "?";
}

const char *trace_backend_name(enum trace_backend backend)
{
	switch (backend) {
	TRACE_BACKEND_NAMES(NAME_CASE)
	}
	return "?";
}
#undef NAME_CASE

static const char *const hook_names[] = {
#define NAME_AT(v, name) [v] = name,
	TRACE_HOOK_NAMES(NAME_AT)
#undef NAME_AT
};

enum trace_hook trace_hook_of(const char *chain)
{
	for (size_t i = 0; i < sizeof(hook_names) / sizeof(hook_names[0]); i++)
		if (strcmp(chain, hook_names[i]) == 0)
			return (enum trace_hook)i;
	return HOOK_NONE;
}

const char *trace_hook_name(int hook)
{
	if (hook < 0 || (size_t)hook >= sizeof(hook_names) / sizeof(hook_names[0]))
		return NULL;
	return hook_names[hook];
}

bool trace_node_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TRACE_NODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * The field up to @sep, interned in @nm into *@dst; returns the end or NULL: no @sep before
 * @end, an empty field, one of TRACE_NAME_MAX bytes or more, or no room in @nm (*@err
 * -ENOMEM). [p, end) holds no NUL (trace_prefix_parse() ends the text at the first).
 */
static const char *field(const char *p, const char *end, char sep, struct names *nm,
			 const char **dst, int *err)
{
	size_t room = (size_t)(end - p);
	const char *q;

	q = memchr(p, sep, room < TRACE_NAME_MAX ? room : TRACE_NAME_MAX);
	if (!q || q == p)
		return NULL;
	*dst = names_intern(nm, p, (size_t)(q - p));
	if (!*dst) {
		*err = -ENOMEM;
		return NULL;
	}
	return q + 1;
}

/* The kind field with its ':', compared in place: "rule", "return" or "policy". */
static const char *kind_field(const char *p, const char *end, enum trace_kind *kind)
{
	size_t room = (size_t)(end - p);

	if (room >= 5 && memcmp(p, "rule:", 5) == 0) {
		*kind = TRACE_KIND_RULE;
		return p + 5;
	}
	if (room >= 7 && memcmp(p, "return:", 7) == 0) {
		*kind = TRACE_KIND_RETURN;
		return p + 7;
	}
	if (room >= 7 && memcmp(p, "policy:", 7) == 0) {
		*kind = TRACE_KIND_POLICY;
		return p + 7;
	}
	return NULL;
}

int trace_prefix_parse(const char *s, size_t len, struct names *nm, struct trace_record *rec)
{
	static const char tag[] = "TRACE: ";
	/* A NUL ends the text as @len does: NFULA_PREFIX carries one, --read lines none. */
	const char *p = s, *end = s + strnlen(s, len);
	uint32_t num = 0;
	int digits = 0, err = -EINVAL;

	if (len < sizeof(tag) - 1 || memcmp(s, tag, sizeof(tag) - 1) != 0)
		return -ENOMSG;
	p += sizeof(tag) - 1;
	p = field(p, end, ':', nm, &rec->table, &err);
	if (p)
		p = field(p, end, ':', nm, &rec->chain, &err);
	if (p)
		p = kind_field(p, end, &rec->kind);
	if (!p)
		return err;
	while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
		num = num * 10 + (uint32_t)(*p++ - '0');
		digits++;
	}
	if (digits == 0)
		return -EINVAL;
	/* The kernel's prefix ends with one space. */
	if (p < end && *p == ' ')
		p++;
	else if (p < end)
		return -EINVAL;
	rec->rulenum = num;
	return (int)(p - s);
}
