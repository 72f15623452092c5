/* SPDX-License-Identifier: GPL-2.0-or-later */
/* resolver.h: legacy trace steps → the rule's text and verdict, never a rule the packet didn't meet */
#ifndef IPTRACE_RESOLVER_H
#define IPTRACE_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "iptrace/grouper.h"
#include "iptrace/hold.h"
#include "iptrace/record.h"
#include "iptrace/xtblob.h"

/*
 * How a legacy step gets its rule (resolver.c has the reasoning in full):
 *
 * - A table reader, a child process, reads the tables in "rounds": it sends a barrier
 *   message into our own NFLOG socket, takes every followed table with GET_ENTRIES, sends a
 *   second barrier. The kernel queues a TRACE record on that socket while the rule runs
 *   (qthreshold 1), and a table replace returns only once no CPU runs the old rules, under
 *   the mutex GET_ENTRIES takes: so a record that comes between two barriers was made by a
 *   version in force between the two rounds around them, however late we read it.
 * - Versions are compared by rule identity (xtblob.h), not by text: "every version the
 *   packet could have met holds the same rule at that number" is a comparison of numbers.
 *   A version whose rule there cannot have matched the packet (addresses, protocol, ports)
 *   or whose jump does not lead to the chain of the packet's next record is ruled out.
 * - Between rounds the reader polls GET_INFO every 10 ms; an interval in which it saw more
 *   changes than the versions at its ends explain may hold a version nobody read: its steps
 *   get no rule.
 * - Texts come from iptables-legacy-save runs bracketed by two rounds that saw the same
 *   version (and no change polled in between), kept only for chains packets crossed.
 * - A packet with legacy steps is held (in order with the others, hold.h) until its steps
 *   are answered: about one round after its last record (a tenth of the time goes to
 *   rounds: ~1.2 s for 80k rules, ~0.25 s for 16k, less for small tables), at most the
 *   hold's bound (5 s).
 *
 * What remains possible: two rewrites that keep the table's size between two rounds, or
 *   a rewrite and its undo within one 10 ms poll, where the packet met the middle version
 *   and the versions at both ends hold one rule at its number; and two packets the grouper
 *   merged (identical NAT-proof fields within its window) whose records interleave with
 *   consecutive NFLOG numbers, fooling the next-chain evidence.
 *
 * A step's "rule" is NULL ("rule":null in JSON) with one of these reasons (rule_reason),
 * never a guess. Only the first is no loss: there is no rule to show.
 *   RETURN   a user chain's end: the verdict is "return", there is no rule line.
 *   CHANGED  the versions the packet may have met hold different rules at that number and
 *            the packet's own fields (addresses, protocol, ports, the next record's chain)
 *            fit more than one of them.
 *   NOFIT    no version read around the packet can have made the record (a version the
 *            reader never saw, or a record the kernel made in a way we do not model).
 *   UNSEEN   the GET_INFO polls saw the table change more often than the two rounds around
 *            the packet explain: a version nobody read may have made it.
 *   UNREAD   a read of the table failed (or the reader is gone).
 *   NOTEXT   the rule is certain but three save runs in a row did not match a version read
 *            on both sides of them (the table kept changing, or the save program failed);
 *            tried again after the table's next change.
 *   LATE     the packet waited its bound (hold.h, 5 s) without an answer, or
 *            its rounds were forgotten (a table that is a new version at every round keeps
 *            only the last 6 versions).
 *   START    the record came before the table's first read (a table created after the
 *            capture started is read from then on).
 */
#define RESOLVER_REASON_RETURN	"implicit return at the end of the chain"
#define RESOLVER_REASON_CHANGED	"table changed during capture"
#define RESOLVER_REASON_NOFIT	"no version of the table fits the step"
#define RESOLVER_REASON_UNSEEN	"table rewritten more than once around the packet"
#define RESOLVER_REASON_UNREAD	"cannot read the ruleset"
#define RESOLVER_REASON_NOTEXT	"cannot read the rule's text"
#define RESOLVER_REASON_LATE	"table not read in time"
#define RESOLVER_REASON_START	"packet before the first read of the table"

/* The socket source id (as NLREC_*) of the reader's answers, for the receive loop. */
#define RESOLVER_SOURCE	0x7e01
/* The NFLOG-socket message type of a barrier (not an nfnetlink type: subsystem 0x7e). */
#define RESOLVER_BARRIER_TYPE	0x7e01

/*
 * The reader's way to the tables: the live kernel (resolver_new) or a test's blobs
 * (resolver_reader_new). All return 0 or a negative errno.
 */
struct resolver_source {
	/* info - GET_INFO of @table. */
	int	(*info)(void *ctx, int family, const char *table, struct xtblob_info *info);
	/*
	 * read - GET_INFO + GET_ENTRIES of @table, parsed (xtversion_parse() with @want and
	 * @wctx) into *@out; *@info is what GET_INFO said of that version.
	 */
	int	(*read)(void *ctx, int family, const char *table,
			bool (*want)(void *wctx, const char *chain), void *wctx,
			struct xtblob_info *info, struct xtversion **out);
	/*
	 * save - run the save program for @table: each line (no newline, NUL-terminated,
	 * borrowed for the call) to @line(@arg, line), @tick(@arg) every 10 ms meanwhile.
	 * 0, or the first negative value @line returned, or -errno.
	 */
	int	(*save)(void *ctx, int family, const char *table,
			int (*line)(void *arg, char *line), void (*tick)(void *arg), void *arg);
	/* barrier - queue barrier @pos on the NFLOG socket (errors ignored). */
	void	(*barrier)(void *ctx, int32_t pos);
	void	*ctx;
};

/* A question about one legacy step (what the client sends the reader). */
struct resolver_query {
	uint32_t	id;
	int32_t		lo;		/* last barrier before the record, -1: none */
	uint8_t		family;		/* AF_INET, AF_INET6 */
	uint8_t		kind;		/* enum trace_kind */
	bool		has_next;	/* next: the chain of the packet's next record */
	uint32_t	rulenum;
	char		table[TRACE_NAME_MAX], chain[TRACE_NAME_MAX], next[TRACE_NAME_MAX];
	struct pkt_hdr	pkt;
};

#define RESOLVER_TEXT_MAX	4096
struct resolver_answer {
	uint32_t	id;
	bool		has_rule, cont;
	char		verdict[TRACE_NAME_MAX + 8];	/* "" when unresolved */
	char		reason[64];			/* "" when resolved */
	char		rule[RESOLVER_TEXT_MAX];
};

/* Opaque: the reader's state (in the child, or in a test). */
struct resolver_reader;

struct resolver_reader *resolver_reader_new(const struct resolver_source *src);
void resolver_reader_free(struct resolver_reader *rd);
/* resolver_reader_watch - follow @table of @family from the next round on. 0 or -errno. */
int resolver_reader_watch(struct resolver_reader *rd, int family, const char *table);
/* resolver_reader_round - one round: barrier 2k, every table, barrier 2k+1. Returns k. */
int32_t resolver_reader_round(struct resolver_reader *rd);
/* resolver_reader_poll - GET_INFO of every table: count changes between rounds. */
void resolver_reader_poll(struct resolver_reader *rd);
/*
 * resolver_reader_answer - answer @q if the rounds it needs are done: 1 and *@a; 0 when it
 * must wait for a round (*@need_round) or a text (*@need_save set: call
 * resolver_reader_save() for q->table); -errno.
 */
int resolver_reader_answer(struct resolver_reader *rd, const struct resolver_query *q,
			   struct resolver_answer *a, bool *need_round, bool *need_save);
/* resolver_reader_save - a bracketed save run of @table for the texts queries wait for. */
int resolver_reader_save(struct resolver_reader *rd, int family, const char *table);

struct resolver_stats {
	uint64_t	rounds;		/* rounds of reads */
	uint64_t	versions;	/* distinct table versions read */
	uint64_t	saves;		/* save programs run */
	uint64_t	saves_aligned;	/* of which bracketed by one version */
	uint64_t	unresolved;	/* steps answered without a rule */
};
void resolver_reader_stats(const struct resolver_reader *rd, struct resolver_stats *st);

/* --- the client, in iptrace's own process ------------------------------------------ */

struct resolver_cfg {
	uint32_t	nflog_portid;	/* where barriers go: our NFLOG socket */
};

/* Opaque. */
struct resolver;

/*
 * resolver_new - fork the table reader (call it before dropping capabilities: it keeps
 * CAP_NET_ADMIN and CAP_NET_RAW for GET_ENTRIES and the save program) in the current
 * network namespace, and wait until its first round is in our NFLOG queue. It follows every
 * legacy table that exists (/proc/net/ip{,6}_tables_names; it never opens a missing one,
 * which would create it) and tables records name later. NULL with errno. Free with
 * resolver_free(), which ends the reader.
 */
struct resolver *resolver_new(const struct resolver_cfg *cfg);
void resolver_free(struct resolver *r);

/* resolver_fd - the reader's answers: read by the loop as source RESOLVER_SOURCE. */
int resolver_fd(const struct resolver *r);

/* resolver_barrier - a barrier message arrived on the NFLOG socket (pipeline). */
void resolver_barrier(struct resolver *r, const struct nlmsghdr *nlh);

/* resolver_observe - a legacy record just arrived: note its barrier, ask for a round. */
void resolver_observe(struct resolver *r, struct trace_record *rec);

/*
 * resolver_ask - ask the reader about the legacy steps among the @n steps of a packet held
 * in @h from id @id on (hold_add()): each question is announced to @h (hold_expect()), and
 * its answer, when it comes (resolver_feed()), is written into the held step: rule,
 * verdict and rule_reason (NULL rule with a reason when not certain), strings kept by @h.
 * A step that can't be asked (the reader's queue is full, or it is gone) gets its reason
 * at once. The packet waits (hold.h) until every answer came or its bound passed.
 */
void resolver_ask(struct resolver *r, struct hold *h, uint32_t id, size_t n);

/* resolver_feed - answers from the reader (one datagram of RESOLVER_SOURCE), into @h. */
void resolver_feed(struct resolver *r, struct hold *h, const void *buf, size_t len);

/*
 * resolver_late - the legacy steps among @recs that got no answer before their packet's
 * bound passed: RESOLVER_REASON_LATE (pure).
 */
void resolver_late(struct trace_record *recs, size_t n);

#endif
