/* SPDX-License-Identifier: GPL-2.0-or-later */
/* grouper.c: packet identity — records in, complete packets out, memory bounded */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>

#include "iptrace/grouper.h"
#include "iptrace/nfhook.h"
#include "iptrace/pkt.h"

/*
 * A packet is found by up to GLINKS keys of three kinds:
 * - K_LEGACY: what NAT leaves alone, with a hash of the whole L4 payload (legacy records);
 * - K_TRACE: the nft trace id (it changes when the packet loops back);
 * - K_WEAK: the NAT-proof fields both backends can compute, the L4 payload only as far as
 *   the nft transport header goes (20 bytes). It joins nft records to legacy ones and the
 *   two trace ids of a looped-back packet.
 */
enum { K_LEGACY = 1, K_WEAK, K_TRACE };
#define GLINKS 4

struct gkey {
	uint64_t	hash;
	/* The fields, and the same bytes as three words: compared and hashed as those. */
	union {
		struct {
			uint8_t		type;
			uint8_t		family, proto;
			uint8_t		zero;		/* padding, named so it is set */
			uint16_t	ipid, len;
			uint32_t	payload_hash;
			uint32_t	seq, ack;	/* TCP; ICMP type/code/seq */
			uint32_t	trace_id;	/* nft */
		};
		uint64_t	w[3];
	};
};
_Static_assert(sizeof(struct gkey) == 4 * sizeof(uint64_t), "a key is its hash and 3 words");

struct gpkt;

struct glink {
	struct gkey	key;
	struct gpkt	*pkt;		/* NULL: slot unused */
	struct glink	*hnext;		/* hash chain */
};

struct gpkt {
	struct glink		links[GLINKS];
	uint64_t		id;
	uint64_t		last_ns;
	int8_t			hook;		/* last hook of a legacy record, HOOK_NONE at start */
	int8_t			rank;		/* table rank within that hook */
	bool			looped;		/* went back to PREROUTING once (loopback) */
	bool			has_legacy, has_nft;
	uint32_t		nft_id;		/* trace id of the last nft record */
	/* The interfaces of its legacy records on this pass through the stack (same_place()). */
	char			in[IF_NAMESIZE], physin[IF_NAMESIZE];
	char			out[IF_NAMESIZE], physout[IF_NAMESIZE];
	uint8_t			seg[2];		/* per backend: 1 after the loopback re-entry */
	size_t			nsteps, cap;
	uint32_t		steps_dropped;
	struct trace_record	*steps;
	/*
	 * Per step: its segment (seg[] as it was added), then, in sort_steps(), its sort key
	 * (segment, hook order, priority). The key is only needed for packets with steps of
	 * both backends: it is made there, not per record.
	 */
	uint64_t		*order;
	bool			own_steps;	/* steps, order: malloc'd, not the slab's */
	struct gpkt		*prev, *next;	/* LRU list (oldest first) or free list */
};

/*
 * Packets are allocated GSLAB at a time, each with room for its first SLAB_STEPS steps
 * (8 holds the usual 1-6; at 4,096 open packets a step is ~550 bytes of RSS, only once
 * used): one malloc per 32 packets rather than three per packet, and as few frees at the
 * end. A packet with more steps moves them to memory of its own, kept while it is reused.
 */
#define GSLAB		32
#define SLAB_STEPS	8

struct gslab {
	struct gslab	*next;
	struct gpkt	pkt[GSLAB];
	/* then GSLAB * cap0 steps and GSLAB * cap0 orders (cap0: grouper.slab_cap) */
};

/*
 * The order chosen for legacy and nft steps that share a hook and a priority, once per
 * (family, hook, priority, legacy table, nft tables) of the capture (grouper.h).
 */
#define TIE_MAX		64
#define TIE_UNITS	8	/* nft tables at one tie; more: the fixed order, unmarked as known */

struct tie {
	char	key[16 + TIE_UNITS * (TRACE_NFT_NAME_MAX + 4) + TRACE_NAME_MAX];
	int8_t	pos;		/* how many nft tables run before the legacy one */
	bool	known;		/* the records told; false: the fixed choice */
};

struct grouper {
	struct grouper_cfg	cfg;
	struct glink		**buckets;
	size_t			nbuckets;	/* power of two */
	struct gpkt		*lru_head, *lru_tail;
	struct gpkt		*free_list;
	struct gslab		*slabs;
	size_t			slab_cap;	/* steps each packet of a slab has room for */
	size_t			nopen;
	uint64_t		next_id;
	/*
	 * No nft record yet: legacy packets are not indexed by the weak key, which only ever
	 * joins an nft record. The first nft record indexes the open ones (index_weak_keys()),
	 * so a join finds what it would have found.
	 */
	bool			seen_nft;
	/* grouper_slot() when the packet of the last record has no free step: the fallback. */
	struct trace_record	spare;
	struct grouper_stats	st;
	struct tie		*ties;		/* TIE_MAX, allocated at the first tie */
	size_t			nties;
};

struct grouper *grouper_new(const struct grouper_cfg *cfg)
{
	struct grouper *g;

	if (!cfg->emit || !cfg->max_open || !cfg->max_steps) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->cfg = *cfg;
	g->slab_cap = cfg->max_steps < SLAB_STEPS ? cfg->max_steps : SLAB_STEPS;
	g->nbuckets = 64;
	while (g->nbuckets < cfg->max_open * 4)
		g->nbuckets <<= 1;
	g->buckets = calloc(g->nbuckets, sizeof(*g->buckets));
	if (!g->buckets) {
		free(g);
		return NULL;
	}
	return g;
}

static void free_steps(struct gpkt *p)
{
	for (; p; p = p->next)
		if (p->own_steps) {
			free(p->steps);
			free(p->order);
		}
}

void grouper_free(struct grouper *g)
{
	if (!g)
		return;
	free_steps(g->lru_head);
	free_steps(g->free_list);
	while (g->slabs) {
		struct gslab *n = g->slabs->next;

		free(g->slabs);
		g->slabs = n;
	}
	free(g->buckets);
	free(g->ties);
	free(g);
}

/* GSLAB more packets on the free list; -ENOMEM. */
static int add_slab(struct grouper *g)
{
	size_t cap = g->slab_cap;
	struct gslab *sl = malloc(sizeof(*sl) + GSLAB * cap * (sizeof(struct trace_record) +
							       sizeof(uint64_t)));
	struct trace_record *steps;
	uint64_t *order;

	if (!sl)
		return -ENOMEM;
	steps = (struct trace_record *)(sl + 1);
	order = (uint64_t *)(steps + GSLAB * cap);
	for (size_t i = 0; i < GSLAB; i++) {
		struct gpkt *p = &sl->pkt[i];

		memset(p, 0, sizeof(*p));
		p->steps = steps + i * cap;
		p->order = order + i * cap;
		p->cap = cap;
		p->next = g->free_list;
		g->free_list = p;
	}
	sl->next = g->slabs;
	g->slabs = sl;
	return 0;
}

/*
 * The next free step of the packet the last record joined: a packet's records come in a
 * run, so the record decoded there most often joins that very packet and is not copied.
 */
struct trace_record *grouper_slot(struct grouper *g)
{
	struct gpkt *p = g->lru_tail;

	if (p && p->nsteps < p->cap)
		return &p->steps[p->nsteps];
	return &g->spare;
}

/* One multiply per word of the key's fields, the type included (a key of each kind). */
static uint64_t key_hash(const struct gkey *k)
{
	uint64_t h = (k->w[0] ^ k->w[1] * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;

	h = (h ^ (h >> 29) ^ k->w[2]) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

/* The legacy key's fields; its hash is left to the caller (find_legacy() may not need it). */
static inline void legacy_key_of(const struct trace_record *r, struct gkey *k)
{
	uint32_t seq = 0, ack = 0;

	if (r->pkt.proto == IPPROTO_TCP) {
		seq = r->pkt.tcp_seq;
		ack = r->pkt.tcp_ack;
	} else if (r->pkt.proto == IPPROTO_ICMP || r->pkt.proto == IPPROTO_ICMPV6) {
		seq = (uint32_t)r->pkt.icmp_type << 24 | (uint32_t)r->pkt.icmp_code << 16 |
		      r->pkt.icmp_seqno;
	}
	*k = (struct gkey){
		.type = K_LEGACY, .family = r->pkt.family, .proto = r->pkt.proto,
		.ipid = r->pkt.ipid, .len = r->pkt.len, .payload_hash = r->pkt.payload_hash,
		.seq = seq, .ack = ack,
	};
}

static void trace_key_of(const struct trace_record *r, struct gkey *k)
{
	memset(k, 0, sizeof(*k));
	k->type = K_TRACE;
	k->trace_id = r->trace_id;
	k->hash = key_hash(k);
}

/* False when the record carries no decoded header to compute it from. */
static bool weak_key_of(const struct trace_record *r, struct gkey *k)
{
	if (r->pkt.family != AF_INET && r->pkt.family != AF_INET6)
		return false;
	legacy_key_of(r, k);
	k->type = K_WEAK;
	/*
	 * The payload as far as both backends see it. NAT leaves the IPv6 flow label alone: it
	 * stands in for the missing IP ID.
	 */
	k->payload_hash = pkt_head_hash(r) ^ r->pkt.flowlabel;
	k->hash = key_hash(k);
	return true;
}

static bool same_fields(const struct gkey *a, const struct gkey *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2])) == 0;
}

static bool key_eq(const struct gkey *a, const struct gkey *b)
{
	return a->hash == b->hash && same_fields(a, b);
}

/* The hook of step @r. User chains carry none in --read input: they inherit the packet's. */
static int step_hook(const struct trace_record *r)
{
	if (r->hook == HOOK_NONE && r->backend != TRACE_BACKEND_NFT)
		return trace_hook_of(r->chain);
	return r->hook;
}

/* The legacy tables, known by name: their order at a hook and their priorities. */
enum ltable { LT_OTHER, LT_RAW, LT_MANGLE, LT_NAT, LT_FILTER, LT_SECURITY };

static enum ltable ltable_of(const char *t)
{
	switch (t[0]) {
	case 'r':
		return memcmp(t, "raw", 4) == 0 ? LT_RAW : LT_OTHER;
	case 'm':
		return memcmp(t, "mangle", 7) == 0 ? LT_MANGLE : LT_OTHER;
	case 'n':
		return memcmp(t, "nat", 4) == 0 ? LT_NAT : LT_OTHER;
	case 'f':
		return memcmp(t, "filter", 7) == 0 ? LT_FILTER : LT_OTHER;
	case 's':
		return memcmp(t, "security", 9) == 0 ? LT_SECURITY : LT_OTHER;
	}
	return LT_OTHER;
}

/* Where nat does DNAT (at priority -100); it does SNAT (+100) at the others. */
static bool dnat_hook(int hook)
{
	return hook == HOOK_PREROUTING || hook == HOOK_OUTPUT;
}

/* Table order within a hook, by the tables' hook priorities. -1: unknown, don't judge. */
static int table_rank(enum ltable t, int hook)
{
	/* By enum ltable; nat's is its DNAT hooks' (-100): at the SNAT ones (+100), 5. */
	static const int8_t rank[] = {
		[LT_OTHER] = -1, [LT_RAW] = 0, [LT_MANGLE] = 1, [LT_NAT] = 2, [LT_FILTER] = 3,
		[LT_SECURITY] = 4,
	};

	if (t == LT_NAT && !dnat_hook(hook))
		return 5;
	return rank[t];
}

/* May a packet last seen at (@p->hook, @p->rank) go on at (@hook, @rank)? */
static bool follows(const struct gpkt *p, int hook, int rank, bool *loops)
{
	*loops = false;
	if (p->hook == HOOK_NONE || hook == HOOK_NONE)
		return true;
	if (hook == p->hook)
		return rank < 0 || p->rank < 0 || rank >= p->rank;
	switch (p->hook) {
	case HOOK_PREROUTING:
		return hook == HOOK_INPUT || hook == HOOK_FORWARD || hook == HOOK_POSTROUTING;
	case HOOK_FORWARD:
		return hook == HOOK_POSTROUTING;
	case HOOK_OUTPUT:
		if (hook == HOOK_POSTROUTING)
			return true;
		/* loopback without POSTROUTING records */
		/* fallthrough */
	case HOOK_POSTROUTING:
		if ((hook == HOOK_PREROUTING || hook == HOOK_INPUT) && !p->looped) {
			*loops = true;
			return true;
		}
		return false;
	}
	return false;	/* INPUT is the end of the road */
}

static bool forwarded(int hook)
{
	return hook == HOOK_FORWARD || hook == HOOK_POSTROUTING;
}

static bool differ(const char *a, const char *b)
{
	return a[0] && b[0] && strncmp(a, b, IF_NAMESIZE) != 0;
}

/*
 * May a packet whose legacy records so far came in on @p's interfaces go on at @r? Within
 * one pass through the stack its input (and bridge port) stays; once routed to forward, its
 * output too (OUTPUT's can change: rerouted after mangle or nat). Looping back (@loops) it
 * comes in where it went out (lo): from another port it is another packet.
 */
static bool same_place(const struct gpkt *p, const struct trace_record *r, int hook, bool loops)
{
	if (loops)
		return !differ(p->out, r->in) && !differ(p->physout, r->physin);
	if (differ(p->in, r->in) || differ(p->physin, r->physin))
		return false;
	return !(forwarded(p->hook) && forwarded(hook) && differ(p->out, r->out));
}

static void keep_place(struct gpkt *p, const struct trace_record *r, bool loops)
{
	if (loops)
		p->in[0] = p->physin[0] = p->out[0] = p->physout[0] = '\0';
	if (r->in[0])
		memcpy(p->in, r->in, IF_NAMESIZE);
	if (r->physin[0])
		memcpy(p->physin, r->physin, IF_NAMESIZE);
	if (r->out[0])
		memcpy(p->out, r->out, IF_NAMESIZE);
	if (r->physout[0])
		memcpy(p->physout, r->physout, IF_NAMESIZE);
}

static void lru_unlink(struct grouper *g, struct gpkt *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		g->lru_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		g->lru_tail = p->prev;
	p->prev = p->next = NULL;
}

static void lru_append(struct grouper *g, struct gpkt *p)
{
	p->prev = g->lru_tail;
	p->next = NULL;
	if (g->lru_tail)
		g->lru_tail->next = p;
	else
		g->lru_head = p;
	g->lru_tail = p;
}

static void link_del(struct grouper *g, struct glink *l)
{
	struct glink **pp = &g->buckets[l->key.hash & (g->nbuckets - 1)];

	while (*pp && *pp != l)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = l->hnext;
	l->hnext = NULL;
	l->pkt = NULL;
}

/* Index @p under @k too; a packet with every slot taken stays findable by its other keys. */
static void link_add(struct grouper *g, struct gpkt *p, const struct gkey *k)
{
	struct glink *l = NULL;
	size_t b = k->hash & (g->nbuckets - 1);

	for (size_t i = 0; i < GLINKS; i++) {
		if (p->links[i].pkt && key_eq(&p->links[i].key, k))
			return;
		if (!p->links[i].pkt && !l)
			l = &p->links[i];
	}
	if (!l)
		return;
	l->key = *k;
	l->pkt = p;
	l->hnext = g->buckets[b];
	g->buckets[b] = l;
}

static bool has_link(const struct gpkt *p, const struct gkey *k)
{
	for (size_t i = 0; i < GLINKS; i++)
		if (p->links[i].pkt && key_eq(&p->links[i].key, k))
			return true;
	return false;
}

/* Take @p out of the open set and put it on the free list (its steps buffer is kept). */
static void retire(struct grouper *g, struct gpkt *p)
{
	for (size_t i = 0; i < GLINKS; i++)
		if (p->links[i].pkt)
			link_del(g, &p->links[i]);
	lru_unlink(g, p);
	p->next = g->free_list;
	g->free_list = p;
	g->nopen--;
}

/* The legacy tables' priorities, for ordering them among nft chains. */
static int32_t legacy_prio(enum ltable t, int hook)
{
	switch (t) {
	case LT_RAW:
		return -300;
	case LT_MANGLE:
		return -150;
	case LT_NAT:
		return dnat_hook(hook) ? -100 : 100;
	case LT_SECURITY:
		return 50;
	case LT_FILTER:
	case LT_OTHER:
		break;
	}
	return 0;
}

/* Hooks in path order: the entry hooks, then INPUT/FORWARD, then POSTROUTING. */
static int8_t hook_order(int hook)
{
	switch (hook) {
	case HOOK_PREROUTING:
	case HOOK_OUTPUT:
		return 0;
	case HOOK_INPUT:
	case HOOK_FORWARD:
		return 1;
	case HOOK_POSTROUTING:
		return 2;
	}
	return -1;
}

/*
 * Could the mark go from step @a to step @b, @b run right after @a? A legacy record is
 * sent before its rule's target runs, an nft record after its rule's statements: the mark
 * changes after a legacy rule step or at an nft rule step, never across a policy or a
 * return, nor into a legacy step from an nft one that didn't set it.
 */
static bool mark_may_go(const struct trace_record *a, const struct trace_record *b)
{
	return a->mark == b->mark || (a->backend == TRACE_BACKEND_LEGACY && a->kind == TRACE_KIND_RULE) ||
	       (b->backend == TRACE_BACKEND_NFT && b->kind == TRACE_KIND_RULE);
}

/* A tie's steps: the legacy ones, then per nft table the run of its steps. */
struct tie_units {
	size_t	nlegacy, legacy[64];
	size_t	k, start[TIE_UNITS + 1];	/* nft units: [start[i], start[i+1]) of nft[] */
	size_t	nnft, nft[64];
};

/* The run's steps in the order "nft units before @pos, legacy, the rest" into @perm. */
static size_t tie_perm(const struct tie_units *u, int pos, size_t *perm)
{
	size_t n = 0;

	for (size_t i = 0; i < u->start[pos]; i++)
		perm[n++] = u->nft[i];
	for (size_t i = 0; i < u->nlegacy; i++)
		perm[n++] = u->legacy[i];
	for (size_t i = u->start[pos]; i < u->nnft; i++)
		perm[n++] = u->nft[i];
	return n;
}

/* Do the marks of steps @lo..@hi of @p, with the neighbours in its segment, allow @perm? */
static bool tie_consistent(const struct gpkt *p, size_t lo, size_t hi, const size_t *perm)
{
	const struct trace_record *prev = NULL;
	uint64_t seg = p->order[lo] >> 36;

	if (lo > 0 && p->order[lo - 1] >> 36 == seg)
		prev = &p->steps[lo - 1];
	for (size_t i = 0; i < hi - lo; i++) {
		const struct trace_record *r = &p->steps[perm[i]];

		if (prev && !mark_may_go(prev, r))
			return false;
		prev = r;
	}
	return hi >= p->nsteps || p->order[hi] >> 36 != seg || mark_may_go(prev, &p->steps[hi]);
}

/* Split steps @lo..@hi into units; false when there are too many to judge. */
static bool tie_split(const struct gpkt *p, size_t lo, size_t hi, struct tie_units *u)
{
	const struct trace_record *last = NULL;

	u->nlegacy = u->nnft = u->k = 0;
	if (hi - lo > 64)
		return false;
	for (size_t i = lo; i < hi; i++) {
		const struct trace_record *r = &p->steps[i];

		if (r->backend != TRACE_BACKEND_NFT) {
			u->legacy[u->nlegacy++] = i;
			continue;
		}
		if (!last || last->table_family != r->table_family || strcmp(last->table, r->table)) {
			if (u->k == TIE_UNITS)
				return false;
			u->start[u->k++] = u->nnft;
		}
		u->nft[u->nnft++] = i;
		last = r;
	}
	u->start[u->k] = u->nnft;
	return true;
}

static void tie_key(const struct gpkt *p, size_t lo, const struct tie_units *u, char *key,
		    size_t size)
{
	const struct trace_record *f = &p->steps[lo];
	int n = snprintf(key, size, "%u %d %d %s", f->pkt.family, step_hook(f),
			 (int32_t)(uint32_t)(p->order[lo] ^ 0x80000000u),
			 p->steps[u->legacy[0]].table);

	for (size_t i = 0; i < u->k && n > 0 && (size_t)n < size; i++) {
		const struct trace_record *r = &p->steps[u->nft[u->start[i]]];

		n += snprintf(key + n, size - (size_t)n, " %u:%s", r->table_family, r->table);
	}
}

/* The kernel's hook list on this tie: the legacy table's place, or -1. */
static int tie_from_hooks(const struct grouper *g, const struct gpkt *p, size_t lo,
			  const struct tie_units *u)
{
	const struct trace_record *f = &p->steps[lo];
	const char *tables[TIE_UNITS];
	uint8_t fams[TIE_UNITS];

	if (!nfhook_order_known(g->cfg.hooks))
		return -1;
	for (size_t i = 0; i < u->k; i++) {
		tables[i] = p->steps[u->nft[u->start[i]]].table;
		fams[i] = p->steps[u->nft[u->start[i]]].table_family;
	}
	/* AF_INET and AF_INET6 are NFPROTO_IPV4 and NFPROTO_IPV6. */
	return nfhook_order_legacy_pos(g->cfg.hooks, f->pkt.family, step_hook(f),
				       (int32_t)(uint32_t)(p->order[lo] ^ 0x80000000u), tables,
				       fams, u->k);
}

/* The place the marks allow, when they allow only one; -1 otherwise, *@first the first. */
static int tie_from_marks(const struct gpkt *p, size_t lo, size_t hi, const struct tie_units *u,
			  int *first)
{
	size_t perm[64];
	int pos = -1, n = 0;

	*first = -1;
	for (int i = 0; i <= (int)u->k; i++) {
		tie_perm(u, i, perm);
		if (!tie_consistent(p, lo, hi, perm))
			continue;
		if (*first < 0)
			*first = i;
		pos = i;
		n++;
	}
	return n == 1 ? pos : -1;
}

static struct tie *tie_find(struct grouper *g, const char *key)
{
	for (size_t i = 0; i < g->nties; i++)
		if (strcmp(g->ties[i].key, key) == 0)
			return &g->ties[i];
	return NULL;
}

/* Steps @lo..@hi of @p share hook and priority and hold both backends: put them in order. */
static void order_tie(struct grouper *g, struct gpkt *p, size_t lo, size_t hi)
{
	struct trace_record *moved;
	struct tie_units u;
	char key[sizeof(((struct tie *)0)->key)];
	size_t perm[64];
	int pos, first;
	bool known = true;
	struct tie *t;

	if (!tie_split(p, lo, hi, &u)) {
		for (size_t i = lo; i < hi; i++)
			p->steps[i].order_unknown = true;
		return;
	}
	pos = tie_from_hooks(g, p, lo, &u);
	if (pos < 0) {
		/* What this capture chose before for these tables holds; the marks may confirm it. */
		int marks = tie_from_marks(p, lo, hi, &u, &first);

		tie_key(p, lo, &u, key, sizeof(key));
		t = tie_find(g, key);
		if (!t && (g->ties || (g->ties = calloc(TIE_MAX, sizeof(*g->ties)))) &&
		    g->nties < TIE_MAX) {
			t = &g->ties[g->nties++];
			memcpy(t->key, key, sizeof(key));
			t->pos = (int8_t)(marks >= 0 ? marks : first >= 0 ? first : 0);
			t->known = marks >= 0;
		} else if (t && !t->known && marks == t->pos) {
			t->known = true;
		}
		pos = t ? t->pos : marks >= 0 ? marks : 0;
		known = t ? t->known : marks >= 0;
	}
	tie_perm(&u, pos, perm);
	moved = malloc((hi - lo) * sizeof(*moved));
	if (moved) {
		for (size_t i = 0; i < hi - lo; i++)
			moved[i] = p->steps[perm[i]];
		memcpy(&p->steps[lo], moved, (hi - lo) * sizeof(*moved));
		free(moved);
	} else {
		known = false;
	}
	for (size_t i = lo; i < hi; i++)
		p->steps[i].order_unknown = !known;
}

/* After the sort: each run of equal keys that holds steps of both backends is a tie. */
static void order_ties(struct grouper *g, struct gpkt *p)
{
	for (size_t lo = 0, hi; lo < p->nsteps; lo = hi) {
		bool both = false;

		for (hi = lo + 1; hi < p->nsteps && p->order[hi] == p->order[lo]; hi++)
			both |= p->steps[hi].backend != p->steps[lo].backend;
		if (both)
			order_tie(g, p, lo, hi);
	}
}

/*
 * Legacy and nft records come on two sockets, so their interleaving is lost; each stream
 * alone is in kernel order. A stable sort on (segment, hook order, priority) merges them
 * back; within one stream nothing moves. The keys are made first, in arrival order: a
 * step without a hook (a user chain in --read input, an nft record of an unknown chain)
 * takes the hook order of its backend's step before, one without a priority its priority.
 * (Steps past max_steps were never kept: they came after all of these.)
 */
static void sort_steps(struct grouper *g, struct gpkt *p)
{
	int8_t last_order[2] = { 0, 0 };
	int32_t last_prio[2] = { 0, 0 };

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		int b = r->backend == TRACE_BACKEND_NFT, hook = step_hook(r);
		int8_t order = hook_order(hook);
		int32_t prio = r->has_prio ? r->prio : !b && hook != HOOK_NONE ?
			       legacy_prio(ltable_of(r->table), hook) : last_prio[b];

		if (order < 0)
			order = last_order[b];
		last_order[b] = order;
		last_prio[b] = prio;
		p->order[i] = p->order[i] << 36 | (uint64_t)order << 32 |
			      ((uint32_t)prio ^ 0x80000000u);
	}
	for (size_t i = 1; i < p->nsteps; i++) {
		struct trace_record r = p->steps[i];
		uint64_t o = p->order[i];
		size_t j = i;

		for (; j > 0 && p->order[j - 1] > o; j--) {
			p->steps[j] = p->steps[j - 1];
			p->order[j] = p->order[j - 1];
		}
		p->steps[j] = r;
		p->order[j] = o;
	}
	order_ties(g, p);
}

static int emit(struct grouper *g, struct gpkt *p)
{
	struct packet out;
	int ret;

	if (p->has_legacy && p->has_nft)
		sort_steps(g, p);
	out = (struct packet){
		.id = p->id, .nsteps = p->nsteps, .steps = p->steps,
		.steps_dropped = p->steps_dropped, .has_nft = p->has_nft,
	};
	g->st.packets++;
	g->st.steps_dropped += p->steps_dropped;
	ret = g->cfg.emit(g->cfg.ctx, &out);
	retire(g, p);
	return ret;
}

static struct gpkt *find(struct grouper *g, const struct gkey *k)
{
	struct glink *l = g->buckets[k->hash & (g->nbuckets - 1)];

	for (; l; l = l->hnext)
		if (key_eq(&l->key, k))
			return l->pkt;
	return NULL;
}

/*
 * find() for a legacy key @k whose hash is not computed yet, tried on the packet of the
 * record before first: a packet's records come in a run. An open packet is the only one
 * holding its legacy key (legacy_packet() links one only where find() found no holder, or
 * after retiring the one it found), so a hit is what find() would return. On a hit @k
 * gets its hash from the link; on a miss it is hashed and looked up.
 */
static struct gpkt *find_legacy(struct grouper *g, struct gkey *k)
{
	struct gpkt *p = g->lru_tail;

	if (p)
		for (size_t i = 0; i < GLINKS; i++)
			if (p->links[i].pkt && same_fields(&p->links[i].key, k)) {
				k->hash = p->links[i].key.hash;
				return p;
			}
	k->hash = key_hash(k);
	return find(g, k);
}

static struct gpkt *open_packet(struct grouper *g, int *ret)
{
	struct gpkt *p;

	*ret = 0;
	if (g->nopen >= g->cfg.max_open) {
		g->st.evicted++;
		*ret = emit(g, g->lru_head);
	}
	if (!g->free_list && add_slab(g) < 0)
		return NULL;
	p = g->free_list;
	g->free_list = p->next;
	for (size_t i = 0; i < GLINKS; i++)
		p->links[i].pkt = NULL;
	p->id = ++g->next_id;
	p->nsteps = 0;
	p->steps_dropped = 0;
	p->hook = HOOK_NONE;
	p->rank = -1;
	p->looped = false;
	p->has_legacy = p->has_nft = false;
	p->nft_id = 0;
	p->in[0] = p->physin[0] = p->out[0] = p->physout[0] = '\0';
	memset(p->seg, 0, sizeof(p->seg));
	lru_append(g, p);
	g->nopen++;
	return p;
}

static bool expired(const struct grouper *g, const struct gpkt *p, uint64_t now_ns)
{
	return now_ns - p->last_ns > g->cfg.window_ns;
}

/*
 * The end of both finders when @p was not found by its key @k: @p, or a new packet when
 * none was found at all, indexed under @k and, when there is one, the NAT-proof key @wk
 * that joins the other backend. (Found by @k, a packet holds @wk too: nothing to index.)
 */
static struct gpkt *attach(struct grouper *g, struct gpkt *p, const struct gkey *k,
			   const struct gkey *wk, int *ret)
{
	if (!p) {
		int r;

		p = open_packet(g, &r);
		if (r < 0 && *ret == 0)
			*ret = r;
		if (!p)
			return NULL;
	}
	link_add(g, p, k);
	if (wk)
		link_add(g, p, wk);
	return p;
}

/* Find (or open) the packet of a legacy record. */
static struct gpkt *legacy_packet(struct grouper *g, const struct trace_record *rec,
				  uint64_t now_ns, int hook, int rank, bool *loops, int *ret)
{
	struct gkey k, wk;
	bool weak = g->seen_nft && weak_key_of(rec, &wk);
	struct gpkt *p;

	legacy_key_of(rec, &k);
	p = find_legacy(g, &k);
	if (p && (expired(g, p, now_ns) || !follows(p, hook, rank, loops) ||
		  !same_place(p, rec, hook, *loops))) {
		*ret = emit(g, p);
		p = NULL;
	}
	/*
	 * Found by its key: indexed by the weak one too, which the same NAT-proof fields give
	 * (since the first nft record, or when a slot was free). Nothing to index.
	 */
	if (p)
		return p;
	/* The same packet seen first through nft chains: join it by the NAT-proof fields. */
	if (weak) {
		p = find(g, &wk);
		if (p && (p->has_legacy || expired(g, p, now_ns)))
			p = NULL;
	}
	return attach(g, p, &k, weak ? &wk : NULL, ret);
}

/* The first nft record: index the open (legacy) packets by the weak keys of their steps. */
static void index_weak_keys(struct grouper *g)
{
	g->seen_nft = true;
	for (struct gpkt *p = g->lru_head; p; p = p->next)
		for (size_t i = 0; i < p->nsteps; i++) {
			struct gkey wk;

			if (p->steps[i].backend == TRACE_BACKEND_LEGACY &&
			    weak_key_of(&p->steps[i], &wk))
				link_add(g, p, &wk);
		}
}

/* Find (or open) the packet of an nft record. */
static struct gpkt *nft_packet(struct grouper *g, const struct trace_record *rec,
			       uint64_t now_ns, int *ret)
{
	struct gkey k, wk;
	bool weak;
	struct gpkt *p;

	if (!g->seen_nft)
		index_weak_keys(g);
	weak = weak_key_of(rec, &wk);
	trace_key_of(rec, &k);
	p = find(g, &k);
	/*
	 * Trace ids are reused quickly (a recycled skb of the same flow gets the same id): other
	 * fields are another packet. Not only on a record that carried the headers: the live
	 * pipeline hides the marker's records, which are the ones that carry them, and the
	 * records after inherit them (nftrace_ctx_fill), so their fields are as good.
	 */
	if (p && (expired(g, p, now_ns) || (weak && !has_link(p, &wk)))) {
		*ret = emit(g, p);
		p = NULL;
	}
	if (p)	/* by its trace id, and by the weak key when there is one (checked above) */
		return p;
	/* Legacy records came first, or the packet looped back under a new id. */
	if (weak) {
		p = find(g, &wk);
		if (p && expired(g, p, now_ns))
			p = NULL;
	}
	return attach(g, p, &k, weak ? &wk : NULL, ret);
}

/* Room for twice the steps, up to max_steps (past the slab's room: memory of its own). */
static int grow(struct grouper *g, struct gpkt *p)
{
	size_t cap = p->cap * 2 < g->cfg.max_steps ? p->cap * 2 : g->cfg.max_steps;
	struct trace_record *s;
	uint64_t *o;

	if (p->own_steps) {
		s = realloc(p->steps, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		p->steps = s;
		o = realloc(p->order, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		p->order = o;
	} else {
		s = malloc(cap * sizeof(*s));
		o = malloc(cap * sizeof(*o));
		if (!s || !o) {
			free(s);
			free(o);
			return -ENOMEM;
		}
		memcpy(s, p->steps, p->nsteps * sizeof(*s));
		memcpy(o, p->order, p->nsteps * sizeof(*o));
		p->steps = s;
		p->order = o;
		p->own_steps = true;
	}
	p->cap = cap;
	return 0;
}

int grouper_add(struct grouper *g, const struct trace_record *rec, uint64_t now_ns)
{
	struct gpkt *p;
	int ret = 0, hook = step_hook(rec), rank, b = rec->backend == TRACE_BACKEND_NFT;
	enum ltable lt;
	bool loops = false;

	g->st.records++;
	lt = b ? LT_OTHER : ltable_of(rec->table);
	rank = hook == HOOK_NONE ? -1 : table_rank(lt, hook);
	p = b ? nft_packet(g, rec, now_ns, &ret) : legacy_packet(g, rec, now_ns, hook, rank,
								 &loops, &ret);
	if (!p)
		return -ENOMEM;
	if (p != g->lru_tail) {	/* the packet of the record before, as a rule */
		lru_unlink(g, p);
		lru_append(g, p);
	}

	if (b) {
		/* A new trace id on a packet already traced: it looped back. */
		if (p->has_nft && rec->trace_id != p->nft_id && p->seg[b] < 15)
			p->seg[b]++;
		p->nft_id = rec->trace_id;
		p->has_nft = true;
	} else {
		if (hook != HOOK_NONE) {
			if (loops)
				p->looped = true;
			p->hook = (int8_t)hook;
			p->rank = (int8_t)rank;
		}
		if (loops && p->seg[b] < 15)
			p->seg[b]++;
		keep_place(p, rec, loops);
		p->has_legacy = true;
	}
	p->last_ns = now_ns;
	if (p->nsteps >= g->cfg.max_steps) {
		p->steps_dropped++;
		return ret;
	}
	if (p->nsteps == p->cap && grow(g, p) < 0)
		return -ENOMEM;
	p->order[p->nsteps] = p->seg[b];	/* the rest of its sort key: sort_steps() */
	/*
	 * Decoded into this very step (grouper_slot()): nothing to copy. Otherwise @rec is
	 * the caller's, the spare, or a free step of another packet: past its steps (nothing
	 * emitted or retired writes there), so apart from this one.
	 */
	if (rec != &p->steps[p->nsteps])
		p->steps[p->nsteps] = *rec;
	p->nsteps++;
	return ret;
}

static bool due(const struct grouper *g, uint64_t now_ns)
{
	return g->lru_head && now_ns - g->lru_head->last_ns >= g->cfg.window_ns;
}

static __attribute__((noinline)) int expire(struct grouper *g, uint64_t now_ns)
{
	while (due(g, now_ns)) {
		int ret = emit(g, g->lru_head);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Called per replayed chunk: the check without the loop's frame, as nothing is due mostly. */
int grouper_expire(struct grouper *g, uint64_t now_ns)
{
	return due(g, now_ns) ? expire(g, now_ns) : 0;
}

void grouper_set_window(struct grouper *g, uint64_t window_ns)
{
	g->cfg.window_ns = window_ns;
}

uint64_t grouper_next_deadline(const struct grouper *g)
{
	return g->lru_head ? g->lru_head->last_ns + g->cfg.window_ns : UINT64_MAX;
}

int grouper_flush(struct grouper *g)
{
	while (g->lru_head) {
		int ret = emit(g, g->lru_head);

		if (ret < 0)
			return ret;
	}
	return 0;
}

size_t grouper_discard(struct grouper *g)
{
	size_t n = 0;

	while (g->lru_head) {
		retire(g, g->lru_head);
		n++;
	}
	g->st.discarded += n;
	return n;
}

size_t grouper_open_count(const struct grouper *g)
{
	return g->nopen;
}

void grouper_get_stats(const struct grouper *g, struct grouper_stats *st)
{
	*st = g->st;
}
