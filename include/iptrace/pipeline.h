/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pipeline.h: decoded records in → own-rule filter → grouper → sink, with the counters */
#ifndef IPTRACE_PIPELINE_H
#define IPTRACE_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/netlink.h>
#include "iptrace/grouper.h"
#include "iptrace/ifcache.h"
#include "iptrace/logline.h"
#include "iptrace/marker.h"
#include "iptrace/resolver.h"
#include "iptrace/sink.h"

struct ct_lookup;
struct nfhook_order;
struct nftrule;
struct nlrec;

struct pipeline_cfg {
	uint64_t		window_ns;
	uint64_t		count;		/* 0: unlimited */
	bool			no_group;
	bool			verbose;	/* keep the marker's own steps */
	const struct marker	*marker;	/* borrowed, may be NULL */
	/*
	 * Name interfaces from this host's ifindexes: true for live capture only. Replayed
	 * bytes come from another namespace or machine, where index N is not our N: "ifN".
	 */
	bool			live_ifnames;
	struct resolver		*resolver;	/* borrowed, may be NULL: no rule text */
	struct nftrule		*nftrule;	/* borrowed, may be NULL: no nft rule text */
	/*
	 * With either: the bound on a packet's wait for its rule texts (hold.h), from when
	 * it was complete; 0: HOLD_WAIT_NS (5 s). Receiving and grouping never wait.
	 */
	uint64_t		text_wait_ns;
	struct ct_lookup	*ct;		/* --nat: borrowed, NULL for none */
	/*
	 * The kernel's hook order, borrowed, NULL for none: read again after a ruleset event
	 * that moves a hook, if it was read at all.
	 */
	struct nfhook_order	*hooks;
	/*
	 * Live capture: borrowed, NULL for none (may be @ct). One lookup for a packet whose
	 * path ends on an SNAT or MASQUERADE step in POSTROUTING: conntrack's reply tuple is
	 * all that shows its new source (annotate.h). Other packets never ask.
	 */
	struct ct_lookup	*ct_snat;
	/* Every record's node (trace_record.node) and the summary's: borrowed, may be NULL. */
	const char		*node;
	/*
	 * --read, --replay, --merge with selectors: a packet is shown when one of its steps
	 * passes them (before or after NAT), the others are counted as filtered. Borrowed,
	 * finished (selection_finish()); NULL: every packet. Live capture needs none: the
	 * marker selected its packets.
	 */
	const struct selection	*filter;
};

/* Opaque. */
struct pipeline;

/* pipeline_new - @sink is borrowed. NULL with errno. Free with pipeline_free(). */
struct pipeline *pipeline_new(const struct pipeline_cfg *cfg, struct sink *sink);
void pipeline_free(struct pipeline *pl);

/*
 * pipeline_add_sink - another sink fed the same packets and records as the first (--pcap
 * beside the format), begun, flushed and ended by the caller and the pipeline like it.
 * @sink is borrowed. 0, or -ENOSPC when the pipeline has all the sinks it can take (2).
 */
int pipeline_add_sink(struct pipeline *pl, struct sink *sink);

/*
 * pipeline_table_seen - the legacy table @table of @family (AF_INET, AF_INET6) exists: it
 * reports every packet at its hooks, so a trace that stops before them stopped early
 * (struct packet's ended_hint). The tables packets cross are learnt on the way; this tells
 * the ones that exist before any packet did.
 */
void pipeline_table_seen(struct pipeline *pl, int family, const char *table);

/*
 * pipeline_set_clock - the times the next records are seen at: @mono_ns drives grouping
 * windows, @wall_ns stands in for records the kernel sent without a timestamp.
 */
void pipeline_set_clock(struct pipeline *pl, uint64_t mono_ns, uint64_t wall_ns);

/* pipeline_set_window - the grouping window from now on (--read, once its clock is known). */
void pipeline_set_window(struct pipeline *pl, uint64_t window_ns);

/* pipeline_add - one decoded record. Returns 0 or a negative errno. */
int pipeline_add(struct pipeline *pl, struct trace_record *rec);

/*
 * pipeline_dispatch - run a buffer of messages from @source (the live sockets' and the
 * replay's) through its decoder: NFLOG messages are decoded, their interfaces named,
 * sequence gaps counted, then added; nf_tables trace records are decoded, completed from
 * earlier records of their trace id, named and added (the chain-end "continue" record is
 * dropped), and chain messages update the chain map.
 */
int pipeline_dispatch(struct pipeline *pl, uint16_t source, const void *buf, size_t len);

/*
 * pipeline_replay - --replay: every chunk of @r through pipeline_dispatch() at its recorded
 * time (the grouping clock), until the end, *@stop, --count or a failed output. Returns 0,
 * or nlrec_next()'s negative errno when the file is truncated or corrupt. *@nat_chunks:
 * the chunks of conntrack events it passed over (--nat-log's, not traced packets).
 */
int pipeline_replay(struct pipeline *pl, struct nlrec *r, const volatile sig_atomic_t *stop,
		    uint64_t *nat_chunks);

/*
 * pipeline_read - --read: every line of @in (kernel TRACE lines, logline_parse()) through
 * the pipeline until the end, *@stop, --count or a failed output. The clock is chosen by
 * the first TRACE line: the kernel's seconds since boot when the lines show them, else
 * their calendar time (whole seconds in syslog: the window, @window_ns, grows by one), else
 * line order alone (one tick a line, with a window no line order closes: packets end by
 * identity, order, place and the end of the input). What is skipped is counted in @st by
 * reason (struct logline_stats). Returns 0, a negative errno when reading @in failed
 * (-EISDIR for a directory), or -ENOMEM.
 */
int pipeline_read(struct pipeline *pl, FILE *in, uint64_t window_ns,
		  const volatile sig_atomic_t *stop, struct logline_stats *st);

/*
 * pipeline_packet - a packet complete and resolved already (--merge read it back): to the
 * sink as the grouper's packets go, counted, up to --count. @p is borrowed for the call.
 * Returns 0, or -EIO once the output failed; after --count, 0 without printing it.
 */
int pipeline_packet(struct pipeline *pl, const struct packet *p);

/*
 * pipeline_add_counts - counts from elsewhere added to the summary (--merge: what the
 * nodes' summaries said, and its own lines skipped or malformed): @c's lost, dropped,
 * evicted, overruns, skipped and malformed. Its packets and records are not added.
 */
void pipeline_add_counts(struct pipeline *pl, const struct summary *c);

/*
 * pipeline_flush - flush the sink's output (the sink defers it: sink_opts.deferred_flush).
 * Returns 0, or -EIO once the output failed.
 */
int pipeline_flush(struct pipeline *pl);

/* pipeline_tick - complete packets idle past the window at the current clock. */
int pipeline_tick(struct pipeline *pl);
/* pipeline_deadline - monotonic ns of the next window end, UINT64_MAX if none. */
uint64_t pipeline_deadline(const struct pipeline *pl);
/* pipeline_done - true once --count packets were printed. */
bool pipeline_done(const struct pipeline *pl);
/*
 * pipeline_add_overrun - the nft trace socket overran (ENOBUFS): an unknown number of
 * records was lost, so it is counted apart from the exact "lost".
 */
void pipeline_add_overrun(struct pipeline *pl);
/*
 * pipeline_socket_drops - the NFLOG socket's own count of the records it dropped, read when
 * the run ends: a sequence gap shows only records lost before one that arrived, so those
 * lost at the very end of a burst count from this ("lost" becomes the larger of the two).
 */
void pipeline_socket_drops(struct pipeline *pl, uint64_t drops);

/*
 * pipeline_end_input - no more records are taken: open packets complete now (or are
 * dropped when --count was reached). Packets may still wait for their rule texts: keep
 * feeding the resolvers' sources (RESOLVER_SOURCE, NFTRULE_SOURCE) and the nft ruleset
 * events (NLREC_NFTRACE: its records are ignored now) with pipeline_dispatch() and ticking
 * while pipeline_waiting() says so; pipeline_deadline() says when the next bound passes.
 */
void pipeline_end_input(struct pipeline *pl);
bool pipeline_waiting(const struct pipeline *pl);

/*
 * pipeline_finish - end of capture: pipeline_end_input(), the packets still held printed
 * with what came for them (in order; past --count, dropped), then the sink's end with the
 * summary. Returns 0 or negative errno.
 */
int pipeline_finish(struct pipeline *pl, const char *marker_name);
/* pipeline_summary - the counters so far. */
void pipeline_summary(const struct pipeline *pl, struct summary *sum);

#endif
