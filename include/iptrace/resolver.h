/* SPDX-License-Identifier: GPL-2.0-or-later */
/* resolver.h: legacy trace steps → the rule's text and verdict, following ruleset changes */
#ifndef IPTRACE_RESOLVER_H
#define IPTRACE_RESOLVER_H

#include <stdint.h>
#include "iptrace/record.h"

/*
 * Where the resolver reads tables from. The live source (cfg.source NULL) runs
 * iptables-legacy-save / ip6tables-legacy-save in the current network namespace and takes
 * fingerprints with IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES; tests replace it with saved text.
 */
struct resolver_source {
	/*
	 * fingerprint - a value that changes whenever the rules of @table (family AF_INET or
	 * AF_INET6) change, and not when only counters move. 0 or a negative errno.
	 */
	int		(*fingerprint)(void *ctx, int family, const char *table, uint64_t *fp);
	/* save - the table in iptables-save syntax, malloc'd and NUL-terminated into *@text. */
	int		(*save)(void *ctx, int family, const char *table, char **text);
	/* now - the monotonic clock records' recv_ns is taken from, in ns. */
	uint64_t	(*now)(void *ctx);
	void		*ctx;
};

struct resolver_cfg {
	uint64_t			refresh_ns;	/* gap between checks of a table (0: 200 ms) */
	uint64_t			latency_ns;	/* bound on packet → recv delay (0: 100 ms) */
	const struct resolver_source	*source;	/* borrowed; NULL: the live kernel */
};

/* Opaque. */
struct resolver;

/*
 * resolver_new - a resolver. With the live source it fingerprints every legacy table that
 * exists now (/proc/net/ip{,6}_tables_names; it never opens a missing one, which would create
 * it), so create it after the marker is installed: then changes are seen from the start of
 * the capture. Nothing is saved yet: a table is read on first need. NULL with errno.
 * Free with resolver_free().
 */
struct resolver *resolver_new(const struct resolver_cfg *cfg);
void resolver_free(struct resolver *r);

/*
 * resolver_watch - start following @table of @family (AF_INET/AF_INET6): take its
 * fingerprint now. resolver_new() does this for the live tables; tests call it. 0 or -errno.
 */
int resolver_watch(struct resolver *r, int family, const char *table);

/*
 * resolver_observe - a legacy record just received (rec->recv_ns set): make sure its table
 * is followed and read (the first record of a table runs the save program once), and check
 * it for changes at most once per refresh interval. Other records are ignored.
 */
void resolver_observe(struct resolver *r, const struct trace_record *rec);

/*
 * resolver_tick - check followed tables whose refresh interval passed, so that a change is
 * seen within one interval even while no records arrive. resolver_deadline() says when
 * the next check is due (monotonic ns, UINT64_MAX if none).
 */
void resolver_tick(struct resolver *r);
uint64_t resolver_deadline(const struct resolver *r);

/*
 * resolver_resolve - fill rule, verdict, verdict_continues and rule_reason of @n legacy
 * records (others are left alone). A rule is given only when it is certain: when the table
 * changed around the packet's time and the versions disagree on that step, rule is NULL
 * with rule_reason "table changed during capture". No I/O unless no check ran since a
 * record arrived, or a rule number fits no version (then one re-read).
 * The strings are borrowed from the resolver: valid until the next call of any resolver
 * function (so print the packet before resolving the next one).
 */
void resolver_resolve(struct resolver *r, struct trace_record *recs, size_t n);

struct resolver_stats {
	uint64_t	checks;		/* fingerprints taken */
	uint64_t	loads;		/* save programs run */
	uint64_t	changes;	/* new table versions seen */
	uint64_t	unresolved;	/* steps left without a rule for lack of certainty */
};
void resolver_get_stats(const struct resolver *r, struct resolver_stats *st);

#endif
