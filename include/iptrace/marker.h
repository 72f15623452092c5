/* SPDX-License-Identifier: GPL-2.0-or-later */
/* marker.h: what sets the trace bit on selected packets — one interface, two implementations */
#ifndef IPTRACE_MARKER_H
#define IPTRACE_MARKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "iptrace/record.h"
#include "iptrace/selector.h"

enum marker_kind {
	MARKER_LEGACY,	/* TRACE rules in the raw table through libiptc */
	MARKER_NFT,	/* an owned inet table with meta nftrace set 1 */
	MARKER_LEGACY_NFT, /* both: legacy tables in use and nf_tables base chains too */
};

/* Opaque. */
struct marker;
struct xtlock;

/*
 * marker_new - prepare a marker of @kind for @sel (borrowed: it must outlive the marker),
 * tagging what it installs with @tag (copied; e.g. "iptrace:1234"). Legacy rules are
 * changed under @lock (borrowed, like @sel; xtlock.h): the caller may hold it already.
 * Installs nothing yet. Returns NULL with errno ENOMEM, or ENOTSUP for a kind not built in.
 */
struct marker *marker_new(enum marker_kind kind, const struct selection *sel, const char *tag,
			  struct xtlock *lock);

/*
 * marker_install - install the marks. All or nothing: on failure whatever was installed is
 * removed again. Returns 0 or a negative errno; marker_error() then says what failed.
 */
int marker_install(struct marker *m);

/*
 * marker_remove - remove exactly what this marker installed, found by its tag (never by
 * position). Idempotent. Returns 0 or a negative errno.
 */
int marker_remove(struct marker *m);

/* marker_owns - true when @rec is a step through one of this marker's own rules. */
bool marker_owns(const struct marker *m, const struct trace_record *rec);
/*
 * marker_nft_table - true when @rec is a step through a table the nft marker of some
 * iptrace capture made (inet "iptrace_PID"): another capture's marker, not the firewall.
 */
bool marker_nft_table(const struct trace_record *rec);
/*
 * marker_starts_nft - whether every nft trace this marker starts begins with a record of
 * its own rule (a RULE step marker_owns()): the nft marker's `meta nftrace set 1 accept`
 * is traced. A legacy TRACE rule is not (the bit is set by its own match).
 */
bool marker_starts_nft(const struct marker *m);

/*
 * marker_check - whether the marks are still in place; those another program removed (an
 * iptables-restore of the raw table, a firewall reload) are put back. Returns 0 (in place,
 * or nothing to check), 1 (put back), or a negative errno (could not put them back:
 * marker_error()). Cheap while the tables don't change: call it every second or so.
 */
int marker_check(struct marker *m);
/*
 * marker_checks - whether marker_check() has anything to look at: the legacy marker's rules
 * do, the nft marker's owned table does not (nobody else can remove it).
 */
bool marker_checks(const struct marker *m);
/*
 * marker_unmarked - how many selected packets --limit left unmarked, as the kernel's
 * counters said when marker_remove() took the marks out (0 without --limit).
 */
uint64_t marker_unmarked(const struct marker *m);

/* marker_name - "legacy", "nft" or "legacy+nft". */
const char *marker_name(const struct marker *m);

/* marker_error - a one-line description of the last failure ("" if none). */
const char *marker_error(const struct marker *m);

/* marker_free - free the marker; does not remove anything (call marker_remove first). */
void marker_free(struct marker *m);

/* Implementations' interface: each fills a struct marker_ops. */
struct marker_ops {
	const char	*name;
	int		(*install)(struct marker *m);
	int		(*remove)(struct marker *m);
	bool		(*owns)(const struct marker *m, const struct trace_record *rec);
	bool		starts_nft;	/* see marker_starts_nft() */
	uint64_t	(*unmarked)(const struct marker *m);	/* optional */
	int		(*check)(struct marker *m);		/* optional */
	void		(*release)(struct marker *m);	/* free priv */
};

struct marker {
	const struct marker_ops	*ops;
	const struct selection	*sel;
	struct xtlock		*lock;
	char			tag[64];
	char			err[256];
	void			*priv;
};

extern const struct marker_ops marker_legacy_ops;
extern const struct marker_ops marker_nft_ops;

/*
 * legacy_remove_tagged - remove every rule whose comment is @tag from the raw table of
 * @family (AF_INET or AF_INET6), under @lock; used by --cleanup for dead owners. Returns the
 * number of rules removed (0: none had the tag) or a negative errno, with @err saying why.
 */
int legacy_remove_tagged(int family, const char *tag, struct xtlock *lock, char *err,
			 size_t errlen);

/*
 * legacy_tables - the legacy tables of @family (AF_INET or AF_INET6) that exist now, as
 * /proc/net/ip{,6}_tables_names lists them (opening a missing table would create it, for
 * good): calls @fn (may be NULL) with each name. Returns how many (0: none, or no file).
 */
int legacy_tables(int family, void (*fn)(void *ctx, const char *name), void *ctx);

/* legacy_family_in_use - true when legacy tables of @family exist. */
bool legacy_family_in_use(int family);

/* legacy_table_exists - true when the legacy table @name of @family exists. */
bool legacy_table_exists(int family, const char *name);

struct xtblob_info;
/*
 * legacy_table_info - GET_INFO of @table on @fd (a raw socket of @family: AF_INET, AF_INET6)
 * into @out. 0 or -errno (ENOENT: no such table). Cheap (a few µs): what a rewrite of the
 * table by anyone changes, without reading its entries.
 */
int legacy_table_info(int fd, int family, const char *table, struct xtblob_info *out);

#endif
