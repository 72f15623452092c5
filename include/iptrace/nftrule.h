/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftrule.h: nft trace steps → the rule's text by handle, following ruleset events */
#ifndef IPTRACE_NFTRULE_H
#define IPTRACE_NFTRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "iptrace/record.h"

/* The socket source id (as NLREC_*) of the chain listings' texts, for the receive loop. */
#define NFTRULE_SOURCE	0x7e02

/*
 * Where chains are read from. The live source (cfg.source NULL) lists them in a child
 * process (nftlist.h) whose texts come back on nftrule_fd(); tests replace it with saved
 * text, answered when they choose.
 */
struct nftrule_source {
	/*
	 * list - start listing @chain of @table of @family (NFPROTO_*) as `nft -a -s list
	 * chain` prints it, the table's header with its "# handle N" (more chains may come
	 * with it: they are taken too). The answer comes later, through nftrule_listed(),
	 * never from inside this call. 0, or a negative errno (then no answer comes).
	 */
	int	(*list)(void *ctx, uint8_t family, const char *table, const char *chain);
	/* gen - the current ruleset generation (NFTA_GEN_ID). 0 or a negative errno. */
	int	(*gen)(void *ctx, uint32_t *gen);
	void	*ctx;
};

struct nftrule_cfg {
	/*
	 * How long after a commit that redefined a handle (replace rule, table deleted and
	 * made again, chain renamed, or events lost) was taken in a step is still left
	 * unresolved: packets already inside a chain when the kernel switched finish it with
	 * the old rules. Before the commit, the last GETGEN that saw the old generation bounds
	 * it (nftrule.c). 0: 20 ms.
	 */
	uint64_t			grace_ns;
	const struct nftrule_source	*source;	/* borrowed; NULL: the live kernel */
};

/* Opaque. */
struct nftrule;

/*
 * nftrule_new - a resolver for nft steps. Nothing is read yet: a chain is listed when a
 * step first needs it (nftrule_wait()), and again after a commit when a handle is missing.
 * With the live source, create it in the traced namespace. NULL with errno. Free with
 * nftrule_free() (which ends a listing still running).
 */
struct nftrule *nftrule_new(const struct nftrule_cfg *cfg);
void nftrule_free(struct nftrule *nr);

/*
 * The live source's listings: nftrule_fd() is what the loop reads (source NFTRULE_SOURCE;
 * -1 with a test's source), nftrule_feed() takes its bytes. nftrule_tick(), when the loop
 * wakes, notices a listing that died or took too long (NFTLIST_BOUND_NS) and starts the
 * next, and asks the ruleset's generation (at most every 10 ms): what bounds, among the
 * records received so far, where the next commit falls. @now_ns is the records' clock.
 */
int nftrule_fd(const struct nftrule *nr);
void nftrule_feed(struct nftrule *nr, const void *buf, size_t len, uint64_t now_ns);
void nftrule_tick(struct nftrule *nr, uint64_t now_ns);

/*
 * nftrule_listed - the answer to a listing the source started: 0 and @text (taken:
 * malloc'd, NUL-terminated; NULL with an error) of generation @gen; -ENOENT (no such
 * table or chain, at generation @gen); -EINVAL (a name nft can't be asked for); another
 * negative errno. An answer nobody waits for is dropped.
 */
void nftrule_listed(struct nftrule *nr, uint8_t family, const char *table, const char *chain,
		    int err, char *text, uint32_t gen, uint64_t now_ns);

/*
 * nftrule_event - one message from the nf_tables socket that also carries the trace
 * records (NFNLGRP_NFTABLES: NEWRULE, DELRULE, NEWCHAIN, DELTABLE, NEWGEN...), in the order
 * received, interleaved with the records as they came; @now_ns is the clock the records'
 * recv_ns is read from. That one socket orders each record against the commits around it,
 * which is what tells which version of a replaced rule a step saw. Dump replies and other
 * messages are ignored. Returns 0, or -EINVAL for a malformed ruleset event.
 */
int nftrule_event(struct nftrule *nr, const struct nlmsghdr *nlh, uint64_t now_ns);

/*
 * nftrule_wait - true while one of the nft rule steps among @n records waits for a text
 * that is coming: a listing of its chain is running, a listing showed a generation whose
 * ruleset events have not been taken in yet, or the step came after the last GETGEN that
 * saw only commits taken in (asked now when none came after it) — it may have met a commit
 * whose events are still to come (they settle it). Starts the listings
 * the steps need: a chain not read yet, or read before a commit that may have added the
 * rule; once per chain after @since_ns (when the packet was complete: a listing from then
 * on shows every rule it can have met), and not again within a second of a failed one
 * unless a commit came. @now_ns is the records' clock now. A packet that waits is held
 * (hold.h), so receiving never does.
 */
bool nftrule_wait(struct nftrule *nr, const struct trace_record *recs, size_t n,
		  uint64_t since_ns, uint64_t now_ns);

/*
 * nftrule_resolve - fill rule (nft syntax, as `nft -a list ruleset` prints the rule, less
 * its "# handle N" comment and the counter values — also for tables iptables-nft manages:
 * one syntax for every nft step, exactly nft's, even where nft 1.0.6 leaves an xtables
 * match such as -m comment out) or rule_reason of the rule steps among @n records (nft
 * rule steps only; others are left alone) from what was read: it never reads, and never
 * waits. A text is given only when it is certain to be the one the packet met. Past its
 * packet's bound, a step whose chain is still being read gets "the chain was not read in
 * time", one that may have met a commit whose events did not come "the ruleset was being
 * changed as the packet passed". @now_ns is the records' clock now (after every record
 * of the packet was received). The strings are borrowed from @nr until the next
 * nftrule_event(), nftrule_listed() (nftrule_feed(), nftrule_tick()) or
 * nftrule_resolve() call.
 */
void nftrule_resolve(struct nftrule *nr, struct trace_record *recs, size_t n, uint64_t now_ns);

/*
 * nftrule_fill_fixed - what a step says without any ruleset (pure): a policy step's rule
 * is "policy accept" or "policy drop" (from the record), a chain end's reason is the
 * implicit return. Returns true when @r was such a step (nothing else to look up).
 */
bool nftrule_fill_fixed(struct trace_record *r);


/*
 * nftrule_lost - ruleset events may have been lost (ENOBUFS on the socket) at @now_ns:
 * steps received since the last message taken are left unresolved rather than trusted.
 */
void nftrule_lost(struct nftrule *nr, uint64_t now_ns);

/*
 * nftrule_parse - the parser behind the cache (pure): call @fn for each chain and each
 * rule of the `nft -a list table` text @text (one table). For a chain header: @chain, its
 * handle, @rule NULL. For a rule: @chain, the rule's handle and its text (trimmed, the
 * handle comment cut off, continuation lines joined by one space; not NUL-terminated:
 * @len bytes). *@table_handle gets the table's own handle (0 if absent). Returns 0, the
 * first negative value @fn returned, or -EINVAL when no table header opens the text.
 */
int nftrule_parse(const char *text, uint64_t *table_handle,
		  int (*fn)(void *ctx, const char *chain, uint64_t handle, const char *rule,
			    size_t len),
		  void *ctx);

#endif
