/* SPDX-License-Identifier: GPL-2.0-or-later */
/* names.h: one copy of each table and chain name, shared by every record that names it */
#ifndef IPTRACE_NAMES_H
#define IPTRACE_NAMES_H

#include <stddef.h>

/*
 * A trace record points at its table, chain and jump target names instead of holding them:
 * nf_tables' names may be 255 bytes, and a capture holds many records but few names (they
 * come from the ruleset). A pool keeps each distinct name once, for as long as the pool
 * lives; nothing is freed before names_free(). It stops taking new names at NAMES_MAX_COUNT
 * names or NAMES_MAX_BYTES of text, so a hostile ruleset cannot grow it without bound.
 */
#define NAMES_MAX_COUNT	(1u << 20)
#define NAMES_MAX_BYTES	(64u << 20)

struct names;

/* names_new - an empty pool; NULL on ENOMEM. The caller frees it with names_free(). */
struct names *names_new(void);
/* names_free - free @nm and every string it returned; NULL is allowed. */
void names_free(struct names *nm);
/*
 * names_intern - the pool's copy of the @len bytes at @s (which need no NUL and may hold
 * none: a NUL inside is copied as any byte), NUL-terminated. The same bytes give the same
 * pointer. Owned by the pool: valid until names_free(@nm). "" (a constant) for @len 0.
 * NULL on ENOMEM or when the pool is full (NAMES_MAX_COUNT, NAMES_MAX_BYTES).
 */
const char *names_intern(struct names *nm, const char *s, size_t len);

#endif
