/* SPDX-License-Identifier: GPL-2.0-or-later */
/* grouper.h: joins trace records into packets and emits each packet when it is complete */
#ifndef IPTRACE_GROUPER_H
#define IPTRACE_GROUPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "iptrace/record.h"

/* A complete packet: its steps in arrival order. Borrowed for the emit callback only. */
struct ct_entry;

/*
 * A change of the packet's addresses or ports, on the step where the kernel made it: the
 * NAT rule that chose it, or, where conntrack did it with no NAT rule on the path (a
 * reply's reverse NAT, a later packet of a NATed connection), the last step before the nat
 * hook it happened at. The resolve stage places them (annotate.h); the grouper leaves none.
 */
struct packet_nat {
	size_t			step;		/* index into the packet's steps */
	const struct pkt_hdr	*before, *after;	/* borrowed, like the steps */
	bool			src, dst;	/* which endpoints changed */
	bool			conntrack;	/* conntrack did it, no NAT rule of this path */
	int8_t			hook;		/* enum trace_hook it happened in; HOOK_NONE: unknown */
};

struct packet {
	uint64_t			id;		/* 1-based, in order of first record */
	size_t				nsteps;
	const struct trace_record	*steps;
	/*
	 * The packet as first seen, when that is a step not shown (the nft marker's own: the
	 * one record of a reply's headers before conntrack undid its NAT); NULL: steps[0].
	 * Read it through packet_first().
	 */
	const struct trace_record	*first;
	uint32_t			steps_dropped;	/* past max_steps */
	bool				has_nft;	/* one of the steps is an nft record */
	const struct ct_entry		*ct;		/* --nat: its conntrack entry, or NULL */
	size_t				nnat;		/* NAT changes, in step order */
	const struct packet_nat		*nat;
	/*
	 * The trace stopped before the packet's last hook although its last step let it go
	 * on, and a later hook would have reported it: what that usually means (annotate.h);
	 * NULL otherwise.
	 */
	const char			*ended_hint;
};

/* packet_first - the record whose headers a packet is shown by: first seen. */
static inline const struct trace_record *packet_first(const struct packet *p)
{
	return p->first ? p->first : &p->steps[0];
}

struct nfhook_order;

struct grouper_cfg {
	uint64_t	window_ns;	/* a packet is complete after this long without records */
	size_t		max_open;	/* bound on packets open at once; the oldest is evicted */
	size_t		max_steps;	/* bound on steps kept per packet */
	/* Called for each complete packet, in completion order; return <0 to stop emitting. */
	int		(*emit)(void *ctx, const struct packet *pkt);
	void		*ctx;
	/* The kernel's hook order (nfnetlink_hook), borrowed; NULL or empty: not known. */
	const struct nfhook_order *hooks;
};

struct grouper_stats {
	uint64_t	records;	/* records added */
	uint64_t	packets;	/* packets emitted */
	uint64_t	evicted;	/* packets emitted early because max_open was reached */
	uint64_t	discarded;	/* open packets thrown away by grouper_discard() */
	uint64_t	steps_dropped;
};

/* Opaque. */
struct grouper;

/* grouper_new - returns NULL with errno ENOMEM or EINVAL. Free with grouper_free(). */
struct grouper *grouper_new(const struct grouper_cfg *cfg);
void grouper_free(struct grouper *g);

/*
 * grouper_add - add one record seen at @now_ns (a monotonic clock, or the record time in
 * replay). The record is copied, unless it is in the grouper_slot() that becomes its step.
 * May emit packets (a key collision closes the older one).
 * Returns 0, or the emit callback's negative value.
 *
 * Packet identity (legacy records carry no packet id): records belong to one packet when
 * they share what NAT leaves alone — family, protocol, IPv4 ID, total length, a hash of the
 * L4 payload, TCP seq/ack, ICMP type/code — arrive within window_ns of the previous one,
 * and follow hook order (PREROUTING → INPUT | FORWARD → POSTROUTING; OUTPUT → POSTROUTING
 * → PREROUTING on loopback; tables by priority within a hook). A record that would step
 * backwards starts a new packet. Limits: two packets identical in all those fields (IP ID
 * 0 with the same payload, e.g. retransmitted DF segments) met within the window and in a
 * valid order are merged; nft records are grouped by their trace id instead. A legacy record
 * on another input interface than the packet's, within one pass through the stack, is
 * another packet too (the path can't go on there).
 *
 * Order at a shared hook: legacy and nft records come on two sockets, so steps of both
 * backends are merged by hook and priority. Where a legacy table and nft base chains share a
 * hook and a priority the kernel runs the one registered last first, which no record says.
 * The grouper takes that order from, in turn: the kernel's hook list (cfg.hooks); the
 * records themselves (a mark set by one step and seen, or not seen, by the next: only one
 * order may explain the marks); else one fixed choice, the legacy table first, with those
 * steps marked order_unknown. The choice is made once per (family, hook, priority, tables)
 * and kept for the capture, so two packets that met the same chains never come out in two
 * orders; only the kernel's hook list, which is the truth, is asked afresh.
 */
int grouper_add(struct grouper *g, const struct trace_record *rec, uint64_t now_ns);

/*
 * grouper_slot - room for the next record, owned by the grouper: decode a record there and
 * pass it to grouper_add(), which then mostly need not copy it. Valid until the next call
 * into the grouper (any of them); its old contents are garbage.
 */
struct trace_record *grouper_slot(struct grouper *g);

/* grouper_expire - emit packets idle for window_ns at @now_ns. Returns 0 or emit's value. */
int grouper_expire(struct grouper *g, uint64_t now_ns);

/* grouper_set_window - a new window_ns, for packets open now and later (--read's clock). */
void grouper_set_window(struct grouper *g, uint64_t window_ns);

/* grouper_next_deadline - when the oldest open packet completes, or UINT64_MAX if none. */
uint64_t grouper_next_deadline(const struct grouper *g);

/* grouper_flush - emit every open packet (at the end of input). Returns 0 or emit's value. */
int grouper_flush(struct grouper *g);

/* grouper_discard - drop every open packet without emitting; returns how many. */
size_t grouper_discard(struct grouper *g);

size_t grouper_open_count(const struct grouper *g);
void grouper_get_stats(const struct grouper *g, struct grouper_stats *st);

#endif
