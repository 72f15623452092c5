/* SPDX-License-Identifier: GPL-2.0-or-later */
/* record.c: names of record fields and the TRACE prefix parser shared by NFLOG and --read */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iptrace/record.h"

const char *trace_kind_name(enum trace_kind kind)
{
	switch (kind) {
	case TRACE_KIND_RULE:	return "rule";
	case TRACE_KIND_RETURN:	return "return";
	case TRACE_KIND_POLICY:	return "policy";
	}
	return "?";
}

const char *trace_backend_name(enum trace_backend backend)
{
	return backend == TRACE_BACKEND_NFT ? "nft" : "legacy";
}

enum trace_hook trace_hook_of(const char *chain)
{
	static const char *const names[] = {
		[HOOK_PREROUTING] = "PREROUTING", [HOOK_INPUT] = "INPUT",
		[HOOK_FORWARD] = "FORWARD", [HOOK_OUTPUT] = "OUTPUT",
		[HOOK_POSTROUTING] = "POSTROUTING",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(chain, names[i]) == 0)
			return (enum trace_hook)i;
	return HOOK_NONE;
}

/*
 * Copy the field up to @sep into @dst (size TRACE_NAME_MAX); returns the end or NULL: no
 * @sep before @end, an empty field, one of TRACE_NAME_MAX bytes or more, or a NUL inside.
 */
static const char *field(const char *p, const char *end, char sep, char *dst)
{
	size_t room = (size_t)(end - p);
	const char *q = memchr(p, sep, room < TRACE_NAME_MAX ? room : TRACE_NAME_MAX);
	size_t n;

	if (!q || q == p || memchr(p, '\0', (size_t)(q - p)))
		return NULL;
	n = (size_t)(q - p);
	memcpy(dst, p, n);
	dst[n] = '\0';
	return q + 1;
}

/* The kind field, compared in place: "rule", "return" or "policy". */
static const char *kind_field(const char *p, const char *end, enum trace_kind *kind)
{
	size_t room = (size_t)(end - p);
	const char *q = memchr(p, ':', room < TRACE_NAME_MAX ? room : TRACE_NAME_MAX);

	if (!q)
		return NULL;
	if (q - p == 4 && memcmp(p, "rule", 4) == 0)
		*kind = TRACE_KIND_RULE;
	else if (q - p == 6 && memcmp(p, "return", 6) == 0)
		*kind = TRACE_KIND_RETURN;
	else if (q - p == 6 && memcmp(p, "policy", 6) == 0)
		*kind = TRACE_KIND_POLICY;
	else
		return NULL;
	return q + 1;
}

int trace_prefix_parse(const char *s, size_t len, struct trace_record *rec)
{
	static const char tag[] = "TRACE: ";
	const char *p = s, *end = s + len;
	uint32_t num = 0;
	int digits = 0;

	if (len < sizeof(tag) - 1 || memcmp(s, tag, sizeof(tag) - 1) != 0)
		return -ENOMSG;
	p += sizeof(tag) - 1;
	p = field(p, end, ':', rec->table);
	if (p)
		p = field(p, end, ':', rec->chain);
	if (p)
		p = kind_field(p, end, &rec->kind);
	if (!p)
		return -EINVAL;
	while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
		num = num * 10 + (uint32_t)(*p++ - '0');
		digits++;
	}
	if (digits == 0)
		return -EINVAL;
	/* The kernel's prefix ends with one space; a NUL may follow in NFULA_PREFIX. */
	if (p < end && *p == ' ')
		p++;
	else if (p < end && *p != '\0')
		return -EINVAL;
	rec->rulenum = num;
	return (int)(p - s);
}

/*
 * Direct-mapped: a packet path meets a handful of prefixes, so 64 slots rarely collide.
 * Prefixes under 16 bytes (not the kernel's) or over MEMO_TEXT are parsed every time.
 */
#define MEMO_SLOTS	64
#define MEMO_TEXT	64

struct memo_slot {
	uint16_t	len;		/* 0: empty */
	uint16_t	consumed;	/* trace_prefix_parse()'s return */
	enum trace_kind	kind;
	uint32_t	rulenum;
	char		names[2 * TRACE_NAME_MAX];	/* table, chain as the record lays them */
	char		text[MEMO_TEXT];
};

struct trace_prefix_memo {
	struct memo_slot	slot[MEMO_SLOTS];
};

_Static_assert(offsetof(struct trace_record, chain) ==
	       offsetof(struct trace_record, table) + TRACE_NAME_MAX, "table, chain adjacent");

struct trace_prefix_memo *trace_prefix_memo_new(void)
{
	return calloc(1, sizeof(struct trace_prefix_memo));
}

void trace_prefix_memo_free(struct trace_prefix_memo *m)
{
	free(m);
}

static uint64_t load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Four words spread over the text after "TRACE: " (16 <= @len <= MEMO_TEXT): all of it up
 * to 39 bytes, all but 2-byte gaps up to 45, where a word a time cost more than the
 * compare. Chains of one table differ only in the middle, the rule number at the end. A
 * miss costs a parse, never a wrong answer: a hit compares the whole text.
 */
static size_t memo_index(const char *s, size_t len)
{
	size_t step = (len - 15) / 3;
	uint64_t h = (load64(s + 7) ^ len) * 0x9e3779b97f4a7c15ull;

	h = (h ^ load64(s + 7 + step)) * 0xff51afd7ed558ccdull;
	h = (h ^ load64(s + 7 + 2 * step)) * 0x9e3779b97f4a7c15ull;
	h = (h ^ load64(s + len - 8)) * 0xff51afd7ed558ccdull;
	return (size_t)(h >> 58);
}

/* memcmp(a, b, len) == 0 for @len >= 16, two words at a time, the last two overlapping. */
static bool same_text(const char *a, const char *b, size_t len)
{
	uint64_t d = (load64(a + len - 16) ^ load64(b + len - 16)) |
		     (load64(a + len - 8) ^ load64(b + len - 8));

	for (size_t i = 0; i + 16 < len; i += 16)
		d |= (load64(a + i) ^ load64(b + i)) | (load64(a + i + 8) ^ load64(b + i + 8));
	return d == 0;
}

/*
 * A miss: parse into a cleared record, so the names are kept with their zero padding, and
 * remember the answer in @e. Out of line: the hit path then needs no registers saved.
 */
static __attribute__((noinline)) int memo_fill(struct memo_slot *e, const char *s, size_t len,
					       struct trace_record *rec)
{
	int n;

	memset(rec->table, 0, sizeof(e->names));
	n = trace_prefix_parse(s, len, rec);
	if (n < 0)
		return n;
	e->len = (uint16_t)len;
	e->consumed = (uint16_t)n;
	e->kind = rec->kind;
	e->rulenum = rec->rulenum;
	memcpy(e->names, rec->table, sizeof(e->names));
	memcpy(e->text, s, len);
	return n;
}

int trace_prefix_parse_memo(struct trace_prefix_memo *m, const char *s, size_t len,
			    struct trace_record *rec)
{
	struct memo_slot *e;

	/* Cleared here too: callers count on the names written whole (record.h). */
	if (!m || len < 16 || len > MEMO_TEXT) {
		memset(rec->table, 0, 2 * TRACE_NAME_MAX);
		return trace_prefix_parse(s, len, rec);
	}
	e = &m->slot[memo_index(s, len)];
	if (e->len == len && same_text(e->text, s, len)) {
		memcpy(rec->table, e->names, sizeof(e->names));
		rec->kind = e->kind;
		rec->rulenum = e->rulenum;
		return e->consumed;
	}
	return memo_fill(e, s, len, rec);
}
