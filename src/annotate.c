/* SPDX-License-Identifier: GPL-2.0-or-later */
/* annotate.c: where NAT happened on a packet's path and where its trace stopped, from its steps */
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>

#include "iptrace/annotate.h"

#define NAT_SRC	1u
#define NAT_DST	2u

/* Words of nft's syntax after which "dnat", "redirect"... are a value, not a statement. */
static bool value_context(const char *prev, size_t n)
{
	static const char *const words[] = { "status", "type", "code" };

	if (n && (prev[n - 1] == ',' || prev[n - 1] == '{'))
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(prev, words[i], n) == 0)
			return true;
	return false;
}

/* The NAT statements of an nft rule's text ("dnat to", "masquerade", ... but not "ct status dnat"). */
static unsigned nft_rule_nat(const char *rule)
{
	static const struct {
		const char	*word;
		unsigned	kind;
	} stmts[] = {
		{ "dnat", NAT_DST }, { "redirect", NAT_DST },
		{ "snat", NAT_SRC }, { "masquerade", NAT_SRC },
	};
	const char *p = rule, *prev = "";
	size_t prevn = 0;
	unsigned kind = 0;

	while (*p) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		for (size_t i = 0; n && i < sizeof(stmts) / sizeof(stmts[0]); i++)
			if (strlen(stmts[i].word) == n && memcmp(p, stmts[i].word, n) == 0 &&
			    !value_context(prev, prevn))
				kind |= stmts[i].kind;
		prev = p;
		prevn = n;
		p += n;
	}
	return kind;
}

/* What NAT step @r chose: NAT_SRC, NAT_DST, both or none. */
static unsigned nat_kind(const struct trace_record *r)
{
	const char *v = r->verdict;

	if (r->backend == TRACE_BACKEND_NFT)
		return r->rule ? nft_rule_nat(r->rule) : 0;
	if (!v)
		return 0;
	if (strcmp(v, "DNAT") == 0 || strcmp(v, "REDIRECT") == 0)
		return NAT_DST;
	if (strcmp(v, "SNAT") == 0 || strcmp(v, "MASQUERADE") == 0)
		return NAT_SRC;
	if (strcmp(v, "NETMAP") == 0)
		return r->hook == HOOK_PREROUTING || r->hook == HOOK_OUTPUT ? NAT_DST :
		       r->hook == HOOK_POSTROUTING || r->hook == HOOK_INPUT ? NAT_SRC :
		       NAT_SRC | NAT_DST;
	return 0;
}

static bool dst_hook(int8_t h)
{
	return h == HOOK_PREROUTING || h == HOOK_OUTPUT;
}

static bool src_hook(int8_t h)
{
	return h == HOOK_POSTROUTING || h == HOOK_INPUT;
}

/*
 * Where the change from step @a to step @b happened: HOOK2MANIP's hooks, destinations
 * rewritten in PREROUTING/OUTPUT, sources in POSTROUTING/INPUT.
 */
static int8_t change_hook(const struct trace_record *a, const struct trace_record *b, bool src,
			  bool dst)
{
	if (dst && !src)
		return dst_hook(a->hook) ? a->hook : dst_hook(b->hook) ? b->hook : HOOK_NONE;
	if (src && !dst)
		return src_hook(b->hook) ? b->hook : src_hook(a->hook) ? a->hook : HOOK_NONE;
	return HOOK_NONE;
}

/*
 * No NAT rule named on the path (no verdicts: --read, --replay; or none chosen): was it a
 * connection's first packet, which crosses the nat table and gets its mapping there? nft
 * records say so by their conntrack state; legacy ones by a nat table step at the hook.
 */
static bool conntrack_did(const struct packet *p, size_t upto, int8_t hook)
{
	for (size_t j = 0; j < p->nsteps; j++) {
		const struct trace_record *r = &p->steps[j];

		if (r->has_ct)
			return !((r->ct_state & NF_CT_STATE_BIT(IP_CT_NEW)) &&
				 r->ct_dir == IP_CT_DIR_ORIGINAL);
	}
	for (size_t j = 0; j <= upto; j++) {
		const struct trace_record *r = &p->steps[j];

		if (strcmp(r->table, "nat") == 0 &&
		    (hook == HOOK_NONE || r->hook == HOOK_NONE || r->hook == hook))
			return false;
	}
	return true;
}

static bool same_src(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	return !memcmp(&a->saddr, &b->saddr, sizeof(a->saddr)) && a->sport == b->sport;
}

static bool same_dst(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	return !memcmp(&a->daddr, &b->daddr, sizeof(a->daddr)) && a->dport == b->dport;
}

size_t annotate_nat(const struct packet *p, struct packet_nat *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 1; i < p->nsteps && n < max; i++) {
		const struct trace_record *a = &p->steps[i - 1], *b = &p->steps[i];
		struct packet_nat *e = &out[n];
		unsigned want;

		if (a->pkt.family != b->pkt.family || !b->pkt.family)
			continue;
		e->src = !same_src(&a->pkt, &b->pkt);
		e->dst = !same_dst(&a->pkt, &b->pkt);
		if (!e->src && !e->dst)
			continue;
		e->before = &a->pkt;
		e->after = &b->pkt;
		e->hook = change_hook(a, b, e->src, e->dst);
		e->step = i - 1;
		e->conntrack = true;
		want = (e->src ? NAT_SRC : 0) | (e->dst ? NAT_DST : 0);
		/* The rule that chose it, searched back through the hook it happened in. */
		for (size_t j = i; j-- > 0;) {
			const struct trace_record *r = &p->steps[j];

			if (e->hook != HOOK_NONE && r->hook != HOOK_NONE && r->hook != e->hook)
				break;
			if (nat_kind(r) & want) {
				e->step = j;
				e->conntrack = false;
				break;
			}
		}
		if (e->conntrack)
			e->conntrack = conntrack_did(p, i - 1, e->hook);
		n++;
	}
	return n;
}

bool annotate_snat_last(const struct packet *p)
{
	const struct trace_record *last;

	if (!p->nsteps)
		return false;
	last = &p->steps[p->nsteps - 1];
	return last->hook == HOOK_POSTROUTING && (nat_kind(last) & NAT_SRC);
}

bool annotate_snat(const struct pkt_hdr *last, const struct ct_entry *e, struct pkt_hdr *after)
{
	*after = *last;
	if (e->reply.family != last->family)
		return false;
	after->saddr = e->reply.dst;
	if (last->has_ports && e->reply.has_ports)
		after->sport = e->reply.dport;
	if (e->reply.has_icmp)
		after->icmp_ident = e->reply.icmp_id;
	return !same_src(last, after);
}

unsigned annotate_table_hooks(const char *table)
{
	static const struct {
		const char	*name;
		unsigned	hooks;
	} tables[] = {
		{ "raw", HOOK_BIT(HOOK_PREROUTING) | HOOK_BIT(HOOK_OUTPUT) },
		{ "mangle", HOOK_BIT(HOOK_PREROUTING) | HOOK_BIT(HOOK_INPUT) |
			    HOOK_BIT(HOOK_FORWARD) | HOOK_BIT(HOOK_OUTPUT) |
			    HOOK_BIT(HOOK_POSTROUTING) },
		{ "filter", HOOK_BIT(HOOK_INPUT) | HOOK_BIT(HOOK_FORWARD) | HOOK_BIT(HOOK_OUTPUT) },
		{ "security", HOOK_BIT(HOOK_INPUT) | HOOK_BIT(HOOK_FORWARD) | HOOK_BIT(HOOK_OUTPUT) },
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(table, tables[i].name) == 0)
			return tables[i].hooks;
	return 0;
}

/* Whether step @r let the packet go on: not dropped, rejected, queued or stolen by it. */
static bool lets_on(const struct trace_record *r)
{
	static const char *const ends[] = {
		"DROP", "REJECT", "NFQUEUE", "QUEUE", "TARPIT", "SYNPROXY",
	};
	uint32_t v;

	if (r->backend == TRACE_BACKEND_NFT) {
		if (!r->has_verdict && !r->has_policy)
			return true;
		v = r->has_verdict ? (uint32_t)r->verdict_code : r->policy;
		v &= NF_VERDICT_MASK;
		return v != NF_DROP && v != NF_QUEUE && v != NF_STOLEN;
	}
	for (size_t i = 0; r->verdict && i < sizeof(ends) / sizeof(ends[0]); i++)
		if (strcmp(r->verdict, ends[i]) == 0)
			return false;
	return true;
}

static bool is_multicast(const struct pkt_hdr *h)
{
	const uint8_t *a = (const uint8_t *)&h->daddr;

	return (h->family == AF_INET && (a[0] & 0xf0) == 0xe0) ||
	       (h->family == AF_INET6 && a[0] == 0xff);
}

const char *annotate_ended(const struct packet *p, unsigned reporting)
{
	const struct trace_record *last;

	if (!p->nsteps || p->steps_dropped)
		return NULL;
	last = &p->steps[p->nsteps - 1];
	if (!lets_on(last))
		return NULL;
	switch (last->hook) {
	case HOOK_PREROUTING:
		if (!(reporting & HOOK_BIT(HOOK_INPUT)) || !(reporting & HOOK_BIT(HOOK_FORWARD)))
			return NULL;
		/*
		 * Multicast goes to INPUT only for a group the host joined, and is never
		 * forwarded without a multicast router. Its TTL is often 1 (IGMP, MLD), which
		 * says nothing here: no time-exceeded is ever sent for it.
		 */
		if (is_multicast(&last->pkt))
			return "not delivered: a multicast group this host has not joined";
		/* ip_forward() checks the TTL before the FORWARD hook. */
		if (last->pkt.family && last->pkt.ttl <= 1)
			return "dropped after routing: TTL expired (time-exceeded sent back)";
		return "dropped after routing: no route (or forwarding off), rp_filter, a martian "
		       "address, or too big for the next hop with DF set";
	case HOOK_OUTPUT:
		if (!(reporting & HOOK_BIT(HOOK_POSTROUTING)))
			return NULL;
		return "dropped after OUTPUT: no route after rerouting (a mark or address changed), "
		       "or an IPsec policy";
	default:
		return NULL;
	}
}
