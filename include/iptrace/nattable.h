/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nattable.h: the NAT table — rows keyed by id, folded from a NAT log or filled from a dump */
#ifndef IPTRACE_NATTABLE_H
#define IPTRACE_NATTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "iptrace/ct.h"

#define NAT_FIELD_MAX	64	/* "[ipv6]:port" fits */
#define NAT_ID_MAX	32

/* One table row, as text: what a log line says and what the table prints. */
struct nat_row {
	char	proto[16];
	char	local[NAT_FIELD_MAX];	/* original source */
	char	public_[NAT_FIELD_MAX];	/* original destination */
	char	alias[NAT_FIELD_MAX];	/* reply destination */
	char	proxy[NAT_FIELD_MAX];	/* reply source if not the original destination, "*:*" */
	char	id[NAT_ID_MAX];		/* the key: "1234" for "(id 1234)", "0x8060100" */
};

/* nat_row_from_ct - the row describing @e; the id is CTA_ID in decimal ("" without one). */
void nat_row_from_ct(const struct ct_entry *e, struct nat_row *row);

/*
 * nat_row_orig - the original tuple a row describes (protocol, local, public) into @e's
 * orig (ICMP: the number after the colon is the echo id). Returns 0, or -EINVAL when the
 * row's fields are not iptrace's own "addr:port" / "[addr]:port" text.
 */
int nat_row_orig(const struct nat_row *row, struct ct_entry *e);

/*
 * nat_line_parse - parse one NAT log line "OP proto local public alias proxy (ID)" (ID as
 * "id 1234" or "0x8060100"; a trailing newline is allowed). @op gets '+', '-' or '='.
 * Returns 0 or -EINVAL for anything else (comments, blank lines, diagnostics).
 */
int nat_line_parse(const char *line, char *op, struct nat_row *row);

/* nat_row_format - "OP proto local public alias proxy (id N)" without a newline into @buf. */
char *nat_row_format(char op, const struct nat_row *row, char *buf, size_t size);

struct nattable;	/* opaque: rows in order of first insertion, an index by id */

/* nattable_new - an empty table; NULL with errno ENOMEM. Free with nattable_free(). */
struct nattable *nattable_new(void);
void nattable_free(struct nattable *t);

/* nattable_put - add @row, or replace the row with its id in place. 0 or -ENOMEM. */
int nattable_put(struct nattable *t, const struct nat_row *row);
/* nattable_del - remove the row with @id; 0, or -ENOENT when there is none. */
int nattable_del(struct nattable *t, const char *id);
/*
 * nattable_apply - natstat.awk's step: '+' and '=' put, '-' deletes (a '-' for an id
 * not in the table is ignored: the log may start after the entry was made).
 * Returns 0 or -ENOMEM.
 */
int nattable_apply(struct nattable *t, char op, const struct nat_row *row);
/*
 * nattable_fold - fold every NAT log line of @in into @t. Lines that are not NAT log
 * lines are skipped and counted in *@skipped. Returns 0 or negative errno (the read's,
 * e.g. -EISDIR, or -EIO; -ENOMEM).
 */
int nattable_fold(struct nattable *t, FILE *in, uint64_t *skipped);

/*
 * nattable_filter - keep only the rows @keep returns true for (order kept). Returns the
 * number of rows removed.
 */
size_t nattable_filter(struct nattable *t, bool (*keep)(const struct nat_row *, void *), void *arg);

/* nattable_count - rows now in the table. */
size_t nattable_count(const struct nattable *t);
/* nattable_get - the @i-th live row in insertion order (0-based), NULL past the end. */
const struct nat_row *nattable_get(const struct nattable *t, size_t i);

/*
 * nattable_print - the header "Type Local Public Alias Proxy" then one row per entry, the
 * protocol at column 1, columns aligned with spaces. Returns 0 or -EIO.
 */
int nattable_print(const struct nattable *t, FILE *out);
/* nattable_print_json - one {"type":"nat_entry",...} object per row. 0 or -EIO. */
int nattable_print_json(const struct nattable *t, FILE *out);

#endif
