/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pipeline.c: the path every record takes after decoding, whatever its source */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>

#include <netinet/in.h>
#include <linux/netfilter.h>

#include "iptrace/annotate.h"
#include "iptrace/hold.h"
#include "iptrace/logline.h"
#include "iptrace/natlog.h"
#include "iptrace/nfhook.h"
#include "iptrace/nflog.h"
#include "iptrace/nftrace.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"

#define PIPELINE_MAX_STEPS 256
#define PIPELINE_MAX_NAT 16	/* NAT changes kept per packet (a path has a few at most) */
#define PIPELINE_MAX_SINKS 2	/* the format's, and the pcapng file's */

/* The nft traces our marker started, remembered per set of ids (own_trace()). */
#define OWN_SETS	1024
#define OWN_WAYS	4
#define OWN_VALID	(1ull << 32)

struct pipeline {
	char			nft_verdict[PIPELINE_MAX_STEPS][16 + TRACE_NFT_NAME_MAX];
	struct pipeline_cfg	cfg;
	struct sink		*sink;		/* sinks[0] */
	struct sink		*sinks[PIPELINE_MAX_SINKS];
	size_t			nsinks;
	/* The packet being emitted: its NAT changes, and the source conntrack gave it. */
	struct packet_nat	nat[PIPELINE_MAX_NAT];
	/* Its steps that are shown when some are not (hide_marks()): PIPELINE_MAX_STEPS. */
	struct trace_record	*shown;
	struct pkt_hdr		snat_after;
	/* Per family (0 IPv4, 1 IPv6): hooks where a legacy table reports every packet. */
	unsigned		legacy_hooks[2];
	struct grouper		*grouper;
	/* Packets whose rule texts are still to come: with a resolver of either kind. */
	struct hold		*hold;
	struct ifcache		ifc;
	struct summary		sum;
	uint64_t		mono_ns, wall_ns;
	bool			done;
	bool			ended;		/* pipeline_end_input(): no more records */
	uint32_t		next_seq;
	int			sink_err;
	struct nftrace_ctx	*nft;		/* chain map + per-trace-id headers */
	/*
	 * The last OWN_WAYS traces of each set of ids our marker started (id | OWN_VALID).
	 * A packet's records come within microseconds of its first, so a trace is forgotten
	 * only after thousands of newer ones: never while its records still come.
	 */
	uint64_t		own_traces[OWN_SETS][OWN_WAYS];
	uint8_t			own_next[OWN_SETS];
	struct names		*names;		/* every record's table and chain names */
};

/*
 * nft records carry their verdict: name it here, in the resolve stage, so every sink prints
 * one "verdict" whatever the backend. The strings live in the pipeline until the next packet.
 */
static void name_nft_verdicts(struct pipeline *pl, struct trace_record *steps, size_t n)
{
	for (size_t i = 0; i < n && i < PIPELINE_MAX_STEPS; i++) {
		struct trace_record *r = &steps[i];

		if (r->backend != TRACE_BACKEND_NFT || r->verdict)
			continue;
		r->verdict = nftrace_step_verdict(r, pl->nft_verdict[i], sizeof(pl->nft_verdict[i]));
		if (!r->rule && !r->rule_reason && !nftrule_fill_fixed(r))
			r->rule_reason = "no live nft ruleset to read the rule from";
	}
}

#define ALL_HOOKS (HOOK_BIT(HOOK_PREROUTING) | HOOK_BIT(HOOK_INPUT) | HOOK_BIT(HOOK_FORWARD) | \
		   HOOK_BIT(HOOK_OUTPUT) | HOOK_BIT(HOOK_POSTROUTING))

static size_t family_index(uint8_t family)
{
	return family == AF_INET6;
}

/*
 * The legacy tables a packet crossed: each reports every packet at its hooks, which is what
 * tells a trace that stopped early (annotate_ended()) from one with nothing more to show.
 */
static void learn_tables(struct pipeline *pl, const struct packet *p)
{
	const char *seen = NULL;

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		int family = r->pkt.family ? r->pkt.family :
			     r->nfproto == NFPROTO_IPV6 ? AF_INET6 : AF_INET;

		/* Once every hook is known (mangle alone tells), nothing is left to learn. */
		if (r->backend != TRACE_BACKEND_LEGACY || (seen && strcmp(seen, r->table) == 0) ||
		    pl->legacy_hooks[family_index((uint8_t)family)] == ALL_HOOKS)
			continue;
		seen = r->table;
		pipeline_table_seen(pl, family, r->table);
	}
}

/*
 * A step put the packet in a conntrack zone (`-j CT --zone[-orig|-reply] N`, `ct zone set`):
 * only then is its entry looked for beyond zone 0, which costs a walk of the kernel's table.
 */
static bool zoned(const struct trace_record *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (steps[i].rule && (strstr(steps[i].rule, " --zone") ||
				      strstr(steps[i].rule, "ct zone set")))
			return true;
	return false;
}

/*
 * Where the packet's NAT happened, the source NAT no step showed (one conntrack lookup,
 * only for a path that ends on an SNAT or MASQUERADE step in POSTROUTING), and whether its
 * trace stopped early.
 */
static void annotate(struct pipeline *pl, struct packet *q)
{
	const struct trace_record *last = &q->steps[q->nsteps - 1];
	struct ct_entry ce;
	struct ct_tuple t;
	const struct ct_entry *e = q->ct;
	int fam;

	q->nat = pl->nat;
	q->nnat = annotate_nat(q, pl->nat, PIPELINE_MAX_NAT);
	if (q->nnat < PIPELINE_MAX_NAT && pl->cfg.ct_snat && annotate_snat_last(q)) {
		if (!e && ct_tuple_from_pkt(&q->steps[0].pkt, &t) == 0 &&
		    ct_lookup_get(pl->cfg.ct_snat, &t, zoned(q->steps, q->nsteps), &ce) == 0)
			e = &ce;
		/* The packet's own direction: its first source is the entry's original one. */
		if (e && e->orig.family == q->steps[0].pkt.family &&
		    !memcmp(&e->orig.src, &q->steps[0].pkt.saddr, sizeof(e->orig.src)) &&
		    annotate_snat(&last->pkt, e, &pl->snat_after))
			pl->nat[q->nnat++] = (struct packet_nat){
				.step = q->nsteps - 1, .before = &last->pkt, .after = &pl->snat_after,
				.src = true, .hook = HOOK_POSTROUTING,
			};
	}
	learn_tables(pl, q);
	fam = last->pkt.family ? last->pkt.family : AF_INET;
	/* The chain map's walk only for a packet that may have stopped early. */
	if (last->hook == HOOK_PREROUTING || last->hook == HOOK_OUTPUT)
		q->ended_hint = annotate_ended(q, pl->legacy_hooks[family_index((uint8_t)fam)] |
					       nftrace_ctx_hooks(pl->nft, fam));
}

/*
 * Live marking, not the firewall: ours, or another capture's nft table. --verbose shows
 * them; a replay (no marker) shows what was recorded.
 */
static bool marking(const struct pipeline *pl, const struct trace_record *r)
{
	return pl->shown && (marker_owns(pl->cfg.marker, r) || marker_nft_table(r));
}

/*
 * The marking steps are grouped and annotated with their packet, then left out of what is
 * printed: the nft marker's is the one record of a reply's headers before conntrack undid
 * its NAT, so it stays the packet's first view (packet_first()) and the start of its NAT.
 * The shown steps are copied, so that the NAT changes' headers still point at theirs.
 */
static void hide_marks(struct pipeline *pl, struct packet *q)
{
	uint16_t at[PIPELINE_MAX_STEPS];	/* step i shows as shown step at[i], or the next */
	size_t n = 0, i;

	if (!pl->shown)
		return;		/* --verbose, or no marker (a replay) */
	for (i = 0; i < q->nsteps && !marking(pl, &q->steps[i]); i++)
		;
	if (i == q->nsteps)
		return;
	for (i = 0; i < q->nsteps; i++) {
		at[i] = (uint16_t)n;
		if (!marking(pl, &q->steps[i]))
			pl->shown[n++] = q->steps[i];
	}
	/* A change seen at a hidden step shows at the next shown one (or the last). */
	for (size_t k = 0; k < q->nnat; k++)
		pl->nat[k].step = at[q->nat[k].step] < n ? at[q->nat[k].step] : n - (n > 0);
	q->first = &q->steps[0];
	q->steps = pl->shown;
	q->nsteps = n;
}

/* A resolved packet to the sinks, counted; -1 once --count is reached (stop emitting). */
static int deliver(struct pipeline *pl, struct packet *q)
{
	if (q->nsteps) {
		annotate(pl, q);
		hide_marks(pl, q);
		/* Nothing but the marking: no chain of the firewall saw it. Counted, said. */
		if (!q->nsteps) {
			pl->sum.marked_only++;
			return 0;
		}
	}
	for (size_t i = 0; i < pl->nsinks; i++)
		if (pl->sinks[i]->ops->packet(pl->sinks[i], q) < 0)
			pl->sink_err = -EIO;
	pl->sum.packets++;
	if (pl->cfg.count && pl->sum.packets >= pl->cfg.count) {
		pl->done = true;
		return -1;	/* stop emitting: the rest are dropped */
	}
	return 0;
}

/* A step passes the --read/--replay/--merge selectors: its headers, mark, interfaces. */
static bool step_wanted(const struct selection *sel, const struct trace_record *r)
{
	const struct pkt_hdr *h = &r->pkt;
	struct sel_tuple t = {
		.family = h->family, .proto = h->proto, .has_ports = h->has_ports,
		.sport = h->sport, .dport = h->dport, .src = &h->saddr, .dst = &h->daddr,
	};

	/* Bridge ports too: on a node the pod's veth is what a user knows. */
	if (sel->iface[0] && strcmp(r->in, sel->iface) != 0 && strcmp(r->out, sel->iface) != 0 &&
	    strcmp(r->physin, sel->iface) != 0 && strcmp(r->physout, sel->iface) != 0)
		return false;
	if (sel->has_mark && (r->mark & sel->mark_mask) != sel->mark)
		return false;
	return selection_match(sel, &t);
}

/* Shown unless selectors were given and none of its steps passes them (counted then). */
static bool wanted(struct pipeline *pl, const struct trace_record *steps, size_t n)
{
	if (!pl->cfg.filter)
		return true;
	for (size_t i = 0; i < n; i++)
		if (step_wanted(pl->cfg.filter, &steps[i]))
			return true;
	pl->sum.filtered++;
	return false;
}

/*
 * A packet whose rules are known (or one --no-group record, @single): the rest of the
 * resolve stage, then the sink. Called in the order packets completed.
 */
static int emit_packet(void *ctx, const struct packet *p, bool single)
{
	struct pipeline *pl = ctx;
	struct packet q = *p;
	struct ct_entry ce;
	struct ct_tuple t;

	if (pl->done) {
		/* Held when --count was reached: dropped, like the grouper's open packets. */
		if (!single)
			pl->sum.dropped++;
		return -1;
	}
	if (!wanted(pl, p->steps, p->nsteps))
		return 0;
	if (pl->cfg.resolver)
		resolver_late((struct trace_record *)p->steps, p->nsteps);
	if (pl->cfg.nftrule)
		nftrule_resolve(pl->cfg.nftrule, (struct trace_record *)p->steps, p->nsteps,
				pl->mono_ns);
	if (single) {
		for (size_t i = 0; i < pl->nsinks; i++)
			if (!pl->sinks[i]->ops->record ||
			    pl->sinks[i]->ops->record(pl->sinks[i], p->steps) < 0)
				pl->sink_err = -EIO;
		return 0;
	}
	if (p->has_nft)
		name_nft_verdicts(pl, (struct trace_record *)p->steps, p->nsteps);
	/* --nat: one lookup per packet, by the tuple it was first seen with. */
	if (pl->cfg.ct && ct_tuple_from_pkt(&p->steps[0].pkt, &t) == 0 &&
	    ct_lookup_get(pl->cfg.ct, &t, zoned(p->steps, p->nsteps), &ce) == 0)
		q.ct = &ce;
	return deliver(pl, &q);
}

int pipeline_packet(struct pipeline *pl, const struct packet *p)
{
	struct packet q = *p;

	if (pl->done)
		return 0;
	pl->sum.records += p->nsteps;
	if (wanted(pl, p->steps, p->nsteps))
		deliver(pl, &q);
	return pl->sink_err;
}

void pipeline_add_counts(struct pipeline *pl, const struct summary *c)
{
	pl->sum.lost += c->lost;
	pl->sum.dropped += c->dropped;
	pl->sum.evicted += c->evicted;
	pl->sum.overruns += c->overruns;
	pl->sum.skipped += c->skipped;
	pl->sum.malformed += c->malformed;
	pl->sum.foreign += c->foreign;
	pl->sum.filtered += c->filtered;
	pl->sum.marked_only += c->marked_only;
}

static bool has_legacy(const struct packet *p)
{
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].backend == TRACE_BACKEND_LEGACY)
			return true;
	return false;
}

/* The hold's busy: an nft step whose chain is being read (nftrule_wait()). */
static bool nft_busy(void *ctx, const struct packet *p, uint64_t since_ns)
{
	struct pipeline *pl = ctx;

	return pl->cfg.nftrule && nftrule_wait(pl->cfg.nftrule, p->steps, p->nsteps, since_ns,
					       pl->mono_ns);
}

/*
 * A complete packet (or one --no-group record, @single) to the resolve stage. One whose
 * rule texts are still to come is held (hold.h), and so is every one after it, so that
 * packets are printed in the order they completed; the others go straight on.
 */
static int take(struct pipeline *pl, const struct packet *p, bool single)
{
	bool wait = false;
	uint32_t id;

	if (!pl->hold)
		return emit_packet(pl, p, single);
	/* First, so that its listings start now, whatever is held before it. */
	if (pl->cfg.nftrule)
		wait = nftrule_wait(pl->cfg.nftrule, p->steps, p->nsteps, pl->mono_ns, pl->mono_ns);
	if (pl->cfg.resolver && has_legacy(p))
		wait = true;
	if (!wait && !hold_count(pl->hold))
		return emit_packet(pl, p, single);
	if (hold_add(pl->hold, p, single, pl->mono_ns, &id) < 0)
		return -ENOMEM;
	if (pl->cfg.resolver)
		resolver_ask(pl->cfg.resolver, pl->hold, id, p->nsteps);
	return hold_release(pl->hold, pl->mono_ns);
}

/* The grouper's emit. */
static int on_packet(void *ctx, const struct packet *p)
{
	struct pipeline *pl = ctx;

	if (pl->done)
		return -1;
	return take(pl, p, false) < 0 ? -1 : 0;
}

struct pipeline *pipeline_new(const struct pipeline_cfg *cfg, struct sink *sink)
{
	struct grouper_cfg gc = {
		.window_ns = cfg->window_ns,
		.max_open = 4096,
		.max_steps = PIPELINE_MAX_STEPS,
		.emit = on_packet,
		.hooks = cfg->hooks,
	};
	struct pipeline *pl = calloc(1, sizeof(*pl));

	if (!pl)
		return NULL;
	pl->cfg = *cfg;
	pl->sink = sink;
	pl->sinks[pl->nsinks++] = sink;
	/*
	 * Our NFLOG instance is bound fresh and numbers its records from 0: expecting 0 counts
	 * even records lost before the first one that arrived.
	 */
	pl->next_seq = 0;
	gc.ctx = pl;
	pl->grouper = grouper_new(&gc);
	pl->nft = nftrace_ctx_new();
	pl->names = names_new();
	if (cfg->resolver || cfg->nftrule)
		pl->hold = hold_new(&(struct hold_cfg){
			.wait_ns = cfg->text_wait_ns, .busy = nft_busy, .emit = emit_packet, .ctx = pl });
	/* Live without --verbose: the marking's steps are left out of what is printed. */
	if (cfg->marker && !cfg->verbose)
		pl->shown = malloc(PIPELINE_MAX_STEPS * sizeof(*pl->shown));
	if (!pl->grouper || !pl->nft || !pl->names || ((cfg->resolver || cfg->nftrule) && !pl->hold) ||
	    (cfg->marker && !cfg->verbose && !pl->shown)) {
		pipeline_free(pl);
		return NULL;
	}
	return pl;
}

void pipeline_free(struct pipeline *pl)
{
	if (!pl)
		return;
	grouper_free(pl->grouper);
	hold_free(pl->hold);
	free(pl->shown);
	nftrace_ctx_free(pl->nft);
	names_free(pl->names);
	free(pl);
}

int pipeline_add_sink(struct pipeline *pl, struct sink *sink)
{
	if (pl->nsinks == PIPELINE_MAX_SINKS)
		return -ENOSPC;
	pl->sinks[pl->nsinks++] = sink;
	return 0;
}

void pipeline_table_seen(struct pipeline *pl, int family, const char *table)
{
	pl->legacy_hooks[family_index((uint8_t)family)] |= annotate_table_hooks(table);
}

void pipeline_set_clock(struct pipeline *pl, uint64_t mono_ns, uint64_t wall_ns)
{
	pl->mono_ns = mono_ns;
	pl->wall_ns = wall_ns;
}

void pipeline_set_window(struct pipeline *pl, uint64_t window_ns)
{
	grouper_set_window(pl->grouper, window_ns);
}

/* pipeline_add(), inline in the decoders' callbacks: they run once per record. */
static inline int add(struct pipeline *pl, struct trace_record *rec)
{
	if (pl->done || pl->ended)
		return 0;
	pl->sum.records++;
	/* Marking is shown by no record of its own; in a packet it is its first view. */
	if (pl->cfg.no_group && marking(pl, rec))
		return 0;
	if (!rec->ts_ns)
		rec->ts_ns = pl->wall_ns;
	rec->recv_ns = pl->mono_ns;
	rec->node = pl->cfg.node;
	if (pl->cfg.resolver)
		resolver_observe(pl->cfg.resolver, rec);
	if (pl->cfg.no_group) {
		struct packet one = { .nsteps = 1, .steps = rec };

		/* A failed write (sink_err) ends the run as in grouped output, not as malformed. */
		return take(pl, &one, true) == -ENOMEM ? -ENOMEM : 0;
	}
	return grouper_add(pl->grouper, rec, pl->mono_ns) == -ENOMEM ? -ENOMEM : 0;
}

int pipeline_add(struct pipeline *pl, struct trace_record *rec)
{
	return add(pl, rec);
}

/* "ifN" for a replayed record (no live interface to name it): at most 13 bytes. */
static void fmt_ifn(uint32_t index, char *name)
{
	memcpy(name, "if", 2);
	*sink_put_u64(name + 2, index) = '\0';
}

/* ifindex @index into @name, afresh for each record: the kernel's name, or "ifN". */
static inline void name_one(struct pipeline *pl, uint32_t index, char *name)
{
	if (!index)
		name[0] = '\0';
	else if (pl->cfg.live_ifnames)
		ifcache_name(&pl->ifc, index, name);
	else
		fmt_ifn(index, name);
}

/*
 * The record's interface names from its indexes (decoders leave the names empty); inline
 * in both callbacks, as GCC would not.
 */
static inline __attribute__((always_inline)) void name_ifaces(struct pipeline *pl,
							     struct trace_record *rec)
{
	name_one(pl, rec->ifindex_in, rec->in);
	name_one(pl, rec->ifindex_out, rec->out);
	name_one(pl, rec->ifindex_physin, rec->physin);
	name_one(pl, rec->ifindex_physout, rec->physout);
}

/* The NFLOG decoder's callback (see pipeline_dispatch()). */
static int nflog_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pipeline *pl = data;
	/* Decoded where the grouper will keep it, most of the time (grouper_slot()). */
	struct trace_record *rec;
	int ret;

	/* The table reader's barriers share the queue with the records (resolver.h). */
	if (nlh->nlmsg_type == RESOLVER_BARRIER_TYPE) {
		if (pl->cfg.resolver)
			resolver_barrier(pl->cfg.resolver, nlh);
		return MNL_CB_OK;
	}
	rec = grouper_slot(pl->grouper);
	ret = nflog_decode(nlh, pl->names, rec);
	if (ret == -ENOMSG) {
		pl->sum.skipped++;
		return MNL_CB_OK;
	}
	if (ret < 0) {
		pl->sum.malformed++;
		return MNL_CB_OK;
	}
	/* The instance numbers every record it sends: a gap is records the kernel dropped. */
	if (rec->has_seq) {
		pl->sum.lost += (uint32_t)(rec->seq - pl->next_seq);
		pl->next_seq = rec->seq + 1;
	}
	name_ifaces(pl, rec);
	return add(pl, rec) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/*
 * Whether nft record @rec belongs to a trace our marker started. The kernel sends every
 * trace to every listener, and another capture's marker or a user's own `meta nftrace set
 * 1` sets the same bit: only a trace that passed our marker's rule (its RULE step, the
 * first record of the trace unless someone marked the packet before us) is ours. Trace ids
 * are siphash values: their low bits pick the set.
 */
static bool own_trace(struct pipeline *pl, const struct trace_record *rec)
{
	uint64_t *set = pl->own_traces[rec->trace_id & (OWN_SETS - 1)];
	uint8_t *next = &pl->own_next[rec->trace_id & (OWN_SETS - 1)];
	uint64_t id = rec->trace_id | OWN_VALID;

	for (int i = 0; i < OWN_WAYS; i++)
		if (set[i] == id)
			return true;
	if (rec->kind != TRACE_KIND_RULE || !marker_owns(pl->cfg.marker, rec))
		return false;
	set[*next] = id;
	*next = (uint8_t)((*next + 1) % OWN_WAYS);
	return true;
}

/* The nf_tables trace socket's callback (see pipeline_dispatch()). */
static int nftrace_cb(const struct nlmsghdr *nlh, void *data)
{
	struct pipeline *pl = data;
	struct trace_record *rec = grouper_slot(pl->grouper);
	int ret = nftrace_decode(nlh, pl->names, rec);

	if (ret == -ENOMSG) {
		/*
		 * Chain events and the start-up dump: the map that places nft steps. Ruleset
		 * events reach the rule cache here, in order with the records around them.
		 */
		ret = nftrace_ctx_learn(pl->nft, nlh);
		/* A base chain came or went: the hook order the kernel lists changed. */
		if (nfhook_order_known(pl->cfg.hooks) && nfhook_event_moves(nlh))
			nfhook_order_load(pl->cfg.hooks);
		if (pl->cfg.nftrule && nftrule_event(pl->cfg.nftrule, nlh, pl->mono_ns) < 0)
			ret = -EINVAL;
		if (ret < 0)
			pl->sum.malformed++;
		return MNL_CB_OK;
	}
	if (ret < 0) {
		pl->sum.malformed++;
		return MNL_CB_OK;
	}
	/* Before any filtering: hidden records carry the headers later ones inherit. */
	nftrace_ctx_fill(pl->nft, rec);
	if (nftrace_chain_end(rec))
		return MNL_CB_OK;
	if (pl->cfg.marker && marker_starts_nft(pl->cfg.marker) && !own_trace(pl, rec)) {
		pl->sum.foreign++;
		return MNL_CB_OK;
	}
	name_ifaces(pl, rec);
	return add(pl, rec) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* pipeline_dispatch(), inline in the replay's loop as well. */
static inline int dispatch(struct pipeline *pl, uint16_t source, const void *buf, size_t len)
{
	bool broken;
	int ret;

	/* One pass, no call per message to check it (BENCHMARKS.md); never trust a length. */
	switch (source) {
	case NLREC_NFLOG:
		ret = nlrec_walk(buf, len, nflog_cb, pl, &broken);
		break;
	case NLREC_NFTRACE:
		/* Trace multicast, ruleset events and the chain dump's replies. */
		ret = nlrec_walk(buf, len, nftrace_cb, pl, &broken);
		break;
	case RESOLVER_SOURCE:
		if (pl->cfg.resolver) {
			resolver_feed(pl->cfg.resolver, pl->hold, buf, len);
			hold_release(pl->hold, pl->mono_ns);
		}
		return pl->sink_err;
	case NFTRULE_SOURCE:
		if (pl->cfg.nftrule) {
			nftrule_feed(pl->cfg.nftrule, buf, len, pl->mono_ns);
			hold_release(pl->hold, pl->mono_ns);
		}
		return pl->sink_err;
	default:
		return 0;	/* a source this build doesn't decode */
	}
	if (broken)
		pl->sum.malformed++;	/* a broken message ends the buffer's walk */
	if (ret < 0)
		pl->sum.malformed++;
	return pl->sink_err;
}

int pipeline_dispatch(struct pipeline *pl, uint16_t source, const void *buf, size_t len)
{
	return dispatch(pl, source, buf, len);
}

int pipeline_replay(struct pipeline *pl, struct nlrec *r, const volatile sig_atomic_t *stop,
		    uint64_t *nat_chunks)
{
	struct nlrec_chunk c[64];
	int n = 0;

	*nat_chunks = 0;
	/* Here rather than in main: no call per chunk for the clock, done or dispatch. */
	while (!*stop && !pl->done && (n = nlrec_next_batch(r, c, 64)) > 0)
		for (int i = 0; i < n && !*stop && !pl->done; i++) {
			*nat_chunks += c[i].source == NLREC_CONNTRACK;
			pipeline_set_clock(pl, c[i].ts_ns, 0);
			pipeline_tick(pl);
			if (dispatch(pl, c[i].source, c[i].buf, c[i].len) < 0)
				return 0;	/* the output failed: pipeline_finish() reports it */
		}
	return n < 0 ? n : 0;
}

enum read_clock { CLOCK_NONE, CLOCK_UPTIME, CLOCK_WALL, CLOCK_LINES };

/* --read's clock, chosen by the first TRACE line (pipeline_read()). */
static enum read_clock read_clock_of(struct pipeline *pl, const struct trace_record *rec,
				     uint64_t window_ns)
{
	if (rec->uptime_ns) {
		pipeline_set_window(pl, window_ns);
		return CLOCK_UPTIME;
	}
	if (rec->ts_ns) {
		pipeline_set_window(pl, window_ns + 1000000000ull);
		return CLOCK_WALL;
	}
	return CLOCK_LINES;
}

int pipeline_read(struct pipeline *pl, FILE *in, uint64_t window_ns,
		  const volatile sig_atomic_t *stop, struct logline_stats *st)
{
	struct logline_reader *r = logline_reader_new(in);
	uint64_t lineno = 0, clock = 0;
	enum read_clock kind = CLOCK_NONE;
	const char *line;
	size_t len;
	int ret = 0;

	if (!r)
		return -ENOMEM;
	while (!*stop && !pl->done && (ret = logline_next(r, &line, &len, st)) > 0) {
		struct trace_record rec;
		uint64_t t;

		lineno++;
		switch (logline_parse(line, len, pl->names, &rec)) {
		case 0:
			break;
		case -EPROTO:
			st->foreign++;
			continue;
		case -ERANGE:
			st->bad_time++;
			continue;
		case -ENOMSG:
			continue;
		default:
			st->malformed++;
			continue;
		}
		if (kind == CLOCK_NONE)
			kind = read_clock_of(pl, &rec, window_ns);
		/* A line without the clock's time, or one that steps back, keeps the clock. */
		t = kind == CLOCK_UPTIME ? rec.uptime_ns : kind == CLOCK_WALL ? rec.ts_ns : lineno;
		if (t > clock)
			clock = t;
		pipeline_set_clock(pl, clock, 0);
		pipeline_tick(pl);
		ret = add(pl, &rec);
		if (ret < 0 || pl->sink_err)
			break;	/* out of memory, or the output failed (pipeline_finish() says) */
	}
	logline_reader_free(r);
	return ret < 0 ? ret : 0;
}

int pipeline_flush(struct pipeline *pl)
{
	for (size_t i = 0; i < pl->nsinks; i++) {
		struct sink *s = pl->sinks[i];

		if (s->ops->flush && s->ops->flush(s) < 0)
			pl->sink_err = -EIO;
		if (s->out && fflush(s->out) == EOF)
			pl->sink_err = -EIO;
	}
	return pl->sink_err;
}

int pipeline_tick(struct pipeline *pl)
{
	grouper_expire(pl->grouper, pl->mono_ns);
	if (pl->cfg.nftrule)
		nftrule_tick(pl->cfg.nftrule, pl->mono_ns);
	if (pl->hold)
		hold_release(pl->hold, pl->mono_ns);
	return pl->sink_err;
}

uint64_t pipeline_deadline(const struct pipeline *pl)
{
	uint64_t d = grouper_next_deadline(pl->grouper);

	/* A held packet's wait bound. */
	if (pl->hold && hold_deadline(pl->hold) < d)
		d = hold_deadline(pl->hold);
	return d;
}

bool pipeline_done(const struct pipeline *pl)
{
	return pl->done;
}

void pipeline_add_overrun(struct pipeline *pl)
{
	pl->sum.overruns++;
}

void pipeline_socket_drops(struct pipeline *pl, uint64_t drops)
{
	/* Every gap is records the socket dropped: the gaps are part of its count. */
	if (drops > pl->sum.lost)
		pl->sum.lost = drops;
}

void pipeline_summary(const struct pipeline *pl, struct summary *sum)
{
	struct grouper_stats st;

	*sum = pl->sum;
	grouper_get_stats(pl->grouper, &st);
	sum->evicted += st.evicted;
	sum->node = pl->cfg.node;
	/* Read by the marker from its counters as it came out: meaningful after teardown. */
	if (pl->cfg.marker && pl->cfg.marker->sel->limit) {
		sum->limited = true;
		sum->unmarked = marker_unmarked(pl->cfg.marker);
	}
}

void pipeline_end_input(struct pipeline *pl)
{
	pl->ended = true;
	if (pl->done)
		pl->sum.dropped += grouper_discard(pl->grouper);
	else
		grouper_flush(pl->grouper);
}

bool pipeline_waiting(const struct pipeline *pl)
{
	return pl->hold && hold_count(pl->hold) && !pl->done;
}

int pipeline_finish(struct pipeline *pl, const char *marker_name)
{
	struct summary sum;
	int ret = 0;

	pipeline_end_input(pl);
	/* Held packets: what came for them, in order (the rest "late"); past --count, dropped. */
	if (pl->hold)
		hold_release(pl->hold, UINT64_MAX);
	if (pl->done)	/* flush may have reached the count too */
		pl->sum.dropped += grouper_discard(pl->grouper);
	pipeline_summary(pl, &sum);
	sum.marker = marker_name;
	for (size_t i = 0; i < pl->nsinks; i++)
		if (pl->sinks[i]->ops->end && pl->sinks[i]->ops->end(pl->sinks[i], &sum) < 0)
			ret = -EIO;
	if (ret < 0)
		return ret;
	return pipeline_flush(pl);	/* what a deferring sink wrote, before any summary */
}
