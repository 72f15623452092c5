/* SPDX-License-Identifier: GPL-2.0-or-later */
/* grouper.c: packet identity — records in, complete packets out, memory bounded */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "iptrace/grouper.h"

struct gkey {
	uint64_t	hash;
	uint8_t		backend;
	uint8_t		family, proto;
	uint16_t	ipid, len;
	uint32_t	payload_hash;
	uint32_t	seq, ack;	/* TCP; ICMP type/code/seq */
	uint32_t	trace_id;	/* nft */
};

struct gpkt {
	struct gkey		key;
	uint64_t		id;
	uint64_t		last_ns;
	int8_t			hook;		/* last known hook, HOOK_NONE at start */
	int8_t			rank;		/* table rank within that hook */
	bool			looped;		/* went back to PREROUTING once (loopback) */
	size_t			nsteps, cap;
	uint32_t		steps_dropped;
	struct trace_record	*steps;
	struct gpkt		*hnext;		/* hash chain */
	struct gpkt		*prev, *next;	/* LRU list (oldest first) or free list */
};

struct grouper {
	struct grouper_cfg	cfg;
	struct gpkt		**buckets;
	size_t			nbuckets;	/* power of two */
	struct gpkt		*lru_head, *lru_tail;
	struct gpkt		*free_list;
	size_t			nopen, nalloc;
	uint64_t		next_id;
	struct grouper_stats	st;
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
	g->nbuckets = 64;
	while (g->nbuckets < cfg->max_open * 2)
		g->nbuckets <<= 1;
	g->buckets = calloc(g->nbuckets, sizeof(*g->buckets));
	if (!g->buckets) {
		free(g);
		return NULL;
	}
	return g;
}

static void free_list(struct gpkt *p, bool via_next)
{
	while (p) {
		struct gpkt *n = via_next ? p->next : p->next;

		free(p->steps);
		free(p);
		p = n;
	}
}

void grouper_free(struct grouper *g)
{
	if (!g)
		return;
	free_list(g->lru_head, true);
	free_list(g->free_list, true);
	free(g->buckets);
	free(g);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static void key_of(const struct trace_record *r, struct gkey *k)
{
	memset(k, 0, sizeof(*k));
	k->backend = (uint8_t)r->backend;
	if (r->backend == TRACE_BACKEND_NFT) {
		k->trace_id = r->trace_id;
		k->hash = mix(1, r->trace_id);
		return;
	}
	k->family = r->pkt.family;
	k->proto = r->pkt.proto;
	k->ipid = r->pkt.ipid;
	k->len = r->pkt.len;
	k->payload_hash = r->pkt.payload_hash;
	if (r->pkt.proto == IPPROTO_TCP) {
		k->seq = r->pkt.tcp_seq;
		k->ack = r->pkt.tcp_ack;
	} else if (r->pkt.proto == IPPROTO_ICMP || r->pkt.proto == IPPROTO_ICMPV6) {
		k->seq = (uint32_t)r->pkt.icmp_type << 24 | (uint32_t)r->pkt.icmp_code << 16 |
			 r->pkt.icmp_seqno;
	}
	k->hash = mix(mix(mix(mix(mix(2, k->family), k->proto), k->ipid), k->len),
		      mix(k->payload_hash, (uint64_t)k->seq << 32 | k->ack));
}

static bool key_eq(const struct gkey *a, const struct gkey *b)
{
	return a->hash == b->hash && a->backend == b->backend && a->family == b->family &&
	       a->proto == b->proto && a->ipid == b->ipid && a->len == b->len &&
	       a->payload_hash == b->payload_hash && a->seq == b->seq && a->ack == b->ack &&
	       a->trace_id == b->trace_id;
}

/* Table order within a hook, by the tables' hook priorities. -1: unknown, don't judge. */
static int table_rank(const char *table, int hook)
{
	if (strcmp(table, "raw") == 0)
		return 0;
	if (strcmp(table, "mangle") == 0)
		return 1;
	if (strcmp(table, "nat") == 0)	/* DNAT at -100, SNAT at +100 */
		return hook == HOOK_PREROUTING || hook == HOOK_OUTPUT ? 2 : 5;
	if (strcmp(table, "filter") == 0)
		return 3;
	if (strcmp(table, "security") == 0)
		return 4;
	return -1;
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

static void hash_unlink(struct grouper *g, struct gpkt *p)
{
	struct gpkt **pp = &g->buckets[p->key.hash & (g->nbuckets - 1)];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	p->hnext = NULL;
}

/* Take @p out of the open set and put it on the free list (its steps buffer is kept). */
static void retire(struct grouper *g, struct gpkt *p)
{
	hash_unlink(g, p);
	lru_unlink(g, p);
	p->next = g->free_list;
	g->free_list = p;
	g->nopen--;
}

static int emit(struct grouper *g, struct gpkt *p)
{
	struct packet out = {
		.id = p->id, .nsteps = p->nsteps, .steps = p->steps,
		.steps_dropped = p->steps_dropped,
	};
	int ret;

	g->st.packets++;
	g->st.steps_dropped += p->steps_dropped;
	ret = g->cfg.emit(g->cfg.ctx, &out);
	retire(g, p);
	return ret;
}

static struct gpkt *find(struct grouper *g, const struct gkey *k)
{
	struct gpkt *p = g->buckets[k->hash & (g->nbuckets - 1)];

	for (; p; p = p->hnext)
		if (key_eq(&p->key, k))
			return p;
	return NULL;
}

static struct gpkt *open_packet(struct grouper *g, const struct gkey *k, int *ret)
{
	struct gpkt *p;
	size_t b;

	*ret = 0;
	if (g->nopen >= g->cfg.max_open) {
		g->st.evicted++;
		*ret = emit(g, g->lru_head);
	}
	p = g->free_list;
	if (p) {
		g->free_list = p->next;
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		g->nalloc++;
	}
	p->key = *k;
	p->id = ++g->next_id;
	p->nsteps = 0;
	p->steps_dropped = 0;
	p->hook = HOOK_NONE;
	p->rank = -1;
	p->looped = false;
	b = k->hash & (g->nbuckets - 1);
	p->hnext = g->buckets[b];
	g->buckets[b] = p;
	lru_append(g, p);
	g->nopen++;
	return p;
}

int grouper_add(struct grouper *g, const struct trace_record *rec, uint64_t now_ns)
{
	struct gkey k;
	struct gpkt *p;
	int ret = 0, hook = rec->hook, rank;
	bool loops = false;

	g->st.records++;
	/* User chains carry no hook in --read input: they inherit the packet's. */
	if (hook == HOOK_NONE && rec->backend == TRACE_BACKEND_LEGACY)
		hook = trace_hook_of(rec->chain);
	rank = hook == HOOK_NONE ? -1 : table_rank(rec->table, hook);
	key_of(rec, &k);
	p = find(g, &k);
	if (p && (now_ns - p->last_ns > g->cfg.window_ns || !follows(p, hook, rank, &loops))) {
		ret = emit(g, p);
		p = NULL;
	}
	if (!p) {
		int r;

		p = open_packet(g, &k, &r);
		if (r < 0 && ret == 0)
			ret = r;
		if (!p)
			return -ENOMEM;
	} else {
		lru_unlink(g, p);
		lru_append(g, p);
	}
	if (hook != HOOK_NONE) {
		if (loops)
			p->looped = true;
		p->hook = (int8_t)hook;
		p->rank = (int8_t)rank;
	}
	p->last_ns = now_ns;
	if (p->nsteps >= g->cfg.max_steps) {
		p->steps_dropped++;
		return ret;
	}
	if (p->nsteps == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct trace_record *s;

		if (cap > g->cfg.max_steps)
			cap = g->cfg.max_steps;
		s = realloc(p->steps, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		p->steps = s;
		p->cap = cap;
	}
	p->steps[p->nsteps++] = *rec;
	return ret;
}

int grouper_expire(struct grouper *g, uint64_t now_ns)
{
	while (g->lru_head && now_ns - g->lru_head->last_ns >= g->cfg.window_ns) {
		int ret = emit(g, g->lru_head);

		if (ret < 0)
			return ret;
	}
	return 0;
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
