/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hold.c: complete packets wait here, in order, until their rule texts are answered or a bound passes */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iptrace/hold.h"

/* A string an answer brought, freed with its packet. */
struct kept {
	struct kept	*next;
	char		s[];
};

struct held {
	struct packet		p;
	struct trace_record	*steps;		/* p.steps: the copy */
	struct kept		*kept;
	uint32_t		first_id;
	uint32_t		left;		/* answers announced, not come yet */
	uint64_t		since, deadline;
	bool			single;
};

struct hold {
	struct hold_cfg	cfg;
	struct held	*q;		/* ring: head, n of cap */
	size_t		head, n, cap;
	uint32_t	next_id;
};

static void held_free(struct held *x)
{
	while (x->kept) {
		struct kept *k = x->kept;

		x->kept = k->next;
		free(k);
	}
	free(x->steps);
	memset(x, 0, sizeof(*x));
}

struct hold *hold_new(const struct hold_cfg *cfg)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cfg = *cfg;
	if (!h->cfg.wait_ns)
		h->cfg.wait_ns = HOLD_WAIT_NS;
	return h;
}

void hold_free(struct hold *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		held_free(&h->q[(h->head + i) % h->cap]);
	free(h->q);
	free(h);
}

int hold_add(struct hold *h, const struct packet *p, bool single, uint64_t now_ns,
	     uint32_t *id)
{
	struct held *x;
	size_t n = p->nsteps;

	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct held *q = calloc(nc, sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < h->n; i++)
			q[i] = h->q[(h->head + i) % h->cap];
		free(h->q);
		h->q = q;
		h->head = 0;
		h->cap = nc;
	}
	x = &h->q[(h->head + h->n) % h->cap];
	memset(x, 0, sizeof(*x));
	x->steps = malloc((n ? n : 1) * sizeof(*x->steps));
	if (!x->steps)
		return -ENOMEM;
	memcpy(x->steps, p->steps, n * sizeof(*x->steps));
	x->p = *p;
	x->p.steps = x->steps;
	x->single = single;
	x->since = now_ns;
	x->deadline = now_ns + h->cfg.wait_ns;
	x->first_id = h->next_id;
	/* Ids of a packet are consecutive and never span the wrap, so "id - first" finds it. */
	if (x->first_id + (uint32_t)n < x->first_id)
		x->first_id = 0;
	h->next_id = x->first_id + (uint32_t)(n ? n : 1);
	*id = x->first_id;
	h->n++;
	return 0;
}

/*
 * Ids grow along the queue, counted modulo 2^32 from the head's first id (a packet whose ids
 * would wrap starts again at 0, still after the ones before it in that count): the packet
 * that can hold @id is the last one starting at or before it, found by halving. Answers
 * come for any held packet, and a burst can hold thousands.
 */
static struct held *held_of(struct hold *h, uint32_t id, size_t *step)
{
	size_t lo = 0, hi = h->n;
	uint32_t base, key;
	struct held *x;

	if (!h->n)
		return NULL;
	base = h->q[h->head].first_id;
	key = id - base;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->q[(h->head + mid) % h->cap].first_id - base <= key)
			lo = mid;
		else
			hi = mid;
	}
	x = &h->q[(h->head + lo) % h->cap];
	if (id - x->first_id >= x->p.nsteps)
		return NULL;
	*step = id - x->first_id;
	return x;
}

struct trace_record *hold_step(struct hold *h, uint32_t id)
{
	size_t i;
	struct held *x = held_of(h, id, &i);

	return x ? &x->steps[i] : NULL;
}

void hold_expect(struct hold *h, uint32_t id)
{
	size_t i;
	struct held *x = held_of(h, id, &i);

	if (x)
		x->left++;
}

void hold_answered(struct hold *h, uint32_t id)
{
	size_t i;
	struct held *x = held_of(h, id, &i);

	if (x && x->left)
		x->left--;
}

const char *hold_keep(struct hold *h, uint32_t id, const char *s)
{
	size_t i, len = strlen(s);
	struct held *x = held_of(h, id, &i);
	struct kept *k;

	if (!x || !(k = malloc(sizeof(*k) + len + 1)))
		return NULL;
	memcpy(k->s, s, len + 1);
	k->next = x->kept;
	x->kept = k;
	return k->s;
}

int hold_release(struct hold *h, uint64_t now_ns)
{
	int ret = 0;

	while (h->n) {
		struct held *x = &h->q[h->head];
		int e;

		if (now_ns < x->deadline &&
		    (x->left || (h->cfg.busy && h->cfg.busy(h->cfg.ctx, &x->p, x->since))))
			break;
		/* Each one is handed over, also after a failure: emit counts them. */
		e = h->cfg.emit(h->cfg.ctx, &x->p, x->single);
		if (e < 0 && ret == 0)
			ret = e;
		held_free(x);
		h->head = (h->head + 1) % h->cap;
		h->n--;
	}
	return ret;
}

uint64_t hold_deadline(const struct hold *h)
{
	return h->n ? h->q[h->head].deadline : UINT64_MAX;
}

size_t hold_count(const struct hold *h)
{
	return h->n;
}
