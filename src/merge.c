/* SPDX-License-Identifier: GPL-2.0-or-later */
/* merge.c: one node's packets matched to the next node's, printed as one packet each */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "iptrace/jsonpkt.h"
#include "iptrace/merge.h"
#include "iptrace/pkt.h"

#define NONE	UINT32_MAX

/* What must be equal where one part ends and the next begins (merge.h). */
struct mkey {
	uint8_t		family, proto;
	uint16_t	len, ipid, sport, dport;
	uint8_t		has_ports, zero;	/* padding, named so it is set */
	uint32_t	hash;
	struct in6_addr	src, dst;
};

/* One node's view of a packet: the line, kept to be read again for printing. */
struct mpart {
	char		*text;		/* the JSON object as read */
	size_t		textlen;
	uint32_t	node;		/* for steps that name none: the pod's or the input's */
	uint32_t	node_in, node_out;	/* its first and last step's node */
	uint64_t	t_in, t_out;	/* its first and last step's time, 0 if none */
	struct mkey	in, out;	/* at its first and last step */
	uint8_t		ttl_in, ttl_out;	/* 0: not in the input */
	int8_t		hook_in, hook_out;	/* the first and last known, HOOK_NONE if none */
	uint32_t	prev, next;	/* the chain of parts: one packet */
	uint32_t	hnext;		/* parts whose out key hashes alike */
};

struct merge {
	struct merge_cfg	cfg;
	struct jsonpkt_reader	*rd;
	struct mpart		*parts;
	size_t			nparts, cap;
	char			**names;	/* node names met, each once */
	size_t			nnames, names_cap, last;
	char			*scratch;	/* lines being read (merge_line, emit) */
	size_t			scratch_cap;
	struct trace_record	*steps;		/* a packet being emitted */
	size_t			steps_cap;
	struct merge_stats	st;
};

struct merge *merge_new(const struct merge_cfg *cfg)
{
	struct merge *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->rd = jsonpkt_reader_new();
	if (!m->rd) {
		free(m);
		return NULL;
	}
	return m;
}

void merge_free(struct merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nparts; i++)
		free(m->parts[i].text);
	for (size_t i = 0; i < m->nnames; i++)
		free(m->names[i]);
	free(m->parts);
	free(m->names);
	free(m->scratch);
	free(m->steps);
	jsonpkt_reader_free(m->rd);
	free(m);
}

/* Room for @n bytes in *@buf; -ENOMEM. */
static int reserve(void **buf, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c = *cap ? *cap : 16;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	p = realloc(*buf, c * size);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

/*
 * The index of node name @s (@n bytes), added if new. Lines of one node come in runs: the
 * last one found is tried first; there are few nodes, a search finds the others.
 */
static int intern(struct merge *m, const char *s, size_t n, uint32_t *idx)
{
	char *copy;

	if (m->last < m->nnames && strlen(m->names[m->last]) == n &&
	    memcmp(m->names[m->last], s, n) == 0) {
		*idx = (uint32_t)m->last;
		return 0;
	}
	for (size_t i = 0; i < m->nnames; i++)
		if (strlen(m->names[i]) == n && memcmp(m->names[i], s, n) == 0) {
			*idx = (uint32_t)(m->last = i);
			return 0;
		}
	if (reserve((void **)&m->names, &m->names_cap, m->nnames + 1, sizeof(char *)) < 0)
		return -ENOMEM;
	copy = strndup(s, n);
	if (!copy)
		return -ENOMEM;
	m->names[m->nnames] = copy;
	*idx = (uint32_t)(m->last = m->nnames++);
	return 0;
}

static void key_of(const struct trace_record *r, struct mkey *k)
{
	memset(k, 0, sizeof(*k));
	k->family = r->pkt.family;
	k->proto = r->pkt.proto;
	k->len = r->pkt.len;
	k->ipid = r->pkt.ipid;
	k->hash = r->pkt.head_hash;
	k->src = r->pkt.saddr;
	k->dst = r->pkt.daddr;
	k->has_ports = r->pkt.has_ports;
	if (r->pkt.has_ports) {
		k->sport = r->pkt.sport;
		k->dport = r->pkt.dport;
	}
}

/* A step's hook; legacy input without "hook" says it in its base chains' names. */
static int hook_of(const struct trace_record *r)
{
	if (r->hook != HOOK_NONE || r->backend != TRACE_BACKEND_LEGACY)
		return r->hook;
	return trace_hook_of(r->chain);
}

/*
 * "[pod/NAME/CONTAINER] " (kubectl logs --prefix) and a "2024-01-02T03:04:05.6Z " time
 * (--timestamps) skipped; the pod's NAME (or the whole prefix) in *@pod, *@podlen.
 */
static const char *skip_prefix(const char *s, const char *end, const char **pod, size_t *podlen)
{
	const char *close;

	*pod = NULL;
	*podlen = 0;
	if (s < end && *s == '[' && (close = memchr(s, ']', (size_t)(end - s))) &&
	    close + 1 < end && close[1] == ' ') {
		const char *p = s + 1, *slash;

		if (close - p > 4 && memcmp(p, "pod/", 4) == 0) {
			p += 4;
			slash = memchr(p, '/', (size_t)(close - p));
			*pod = p;
			*podlen = (size_t)((slash ? slash : close) - p);
		} else {
			*pod = p;
			*podlen = (size_t)(close - p);
		}
		s = close + 2;
	}
	if (end - s > 11 && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
	    s[0] >= '0' && s[0] <= '9') {
		const char *sp = memchr(s, ' ', (size_t)(end - s));

		if (sp)
			s = sp + 1;
	}
	return s;
}

static void bad_line(struct merge *m, const char *src, uint64_t lineno, const char *why)
{
	if (!m->st.malformed++)
		snprintf(m->st.first_bad, sizeof(m->st.first_bad), "%s:%llu: %s", src,
			 (unsigned long long)lineno, why);
}

/* A packet part: what matching needs, from its first reading; the text for the second. */
static int add_part(struct merge *m, const struct jsonpkt *jp, const char *text, size_t len,
		    uint32_t node)
{
	const struct trace_record *first = &jp->steps[0], *last = &jp->steps[jp->nsteps - 1];
	struct mpart *p;
	uint32_t idx;

	if (reserve((void **)&m->parts, &m->cap, m->nparts + 1, sizeof(*p)) < 0)
		return -ENOMEM;
	p = &m->parts[m->nparts];
	memset(p, 0, sizeof(*p));
	p->text = malloc(len);
	if (!p->text)
		return -ENOMEM;
	memcpy(p->text, text, len);
	p->textlen = len;
	p->node = p->node_in = p->node_out = node;
	if (first->node && intern(m, first->node, strlen(first->node), &idx) < 0)
		goto err;
	p->node_in = first->node ? idx : node;
	if (last->node && intern(m, last->node, strlen(last->node), &idx) < 0)
		goto err;
	p->node_out = last->node ? idx : node;
	p->t_in = first->ts_ns;
	p->t_out = last->ts_ns;
	key_of(first, &p->in);
	key_of(last, &p->out);
	p->ttl_in = first->pkt.ttl;
	p->ttl_out = last->pkt.ttl;
	p->hook_in = p->hook_out = HOOK_NONE;
	for (size_t i = 0; i < jp->nsteps && p->hook_in == HOOK_NONE; i++)
		p->hook_in = (int8_t)hook_of(&jp->steps[i]);
	for (size_t i = jp->nsteps; i-- > 0 && p->hook_out == HOOK_NONE;)
		p->hook_out = (int8_t)hook_of(&jp->steps[i]);
	p->prev = p->next = p->hnext = NONE;
	m->nparts++;
	m->st.parts++;
	return 0;
err:
	free(p->text);
	return -ENOMEM;
}

int merge_line(struct merge *m, const char *src, uint64_t lineno, const char *line, size_t len)
{
	const char *end = line + len, *s, *pod;
	struct jsonpkt jp;
	const char *why = NULL;
	size_t podlen, n;
	uint32_t node;
	int ret;

	m->st.lines++;
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	s = skip_prefix(line, end, &pod, &podlen);
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end || *s != '{') {
		m->st.other++;	/* blank, or the diagnostics `kubectl logs` mixes in */
		return 0;
	}
	n = (size_t)(end - s);
	/* Read in a copy: reading decodes strings in place. */
	if (reserve((void **)&m->scratch, &m->scratch_cap, n + 1, 1) < 0)
		return -ENOMEM;
	memcpy(m->scratch, s, n);
	m->scratch[n] = '\0';
	ret = jsonpkt_read(m->rd, m->scratch, n, &jp, &why);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		bad_line(m, src, lineno, why);
		return 0;
	}
	if (jp.type == JSONPKT_OTHER) {
		m->st.other++;
		return 0;
	}
	if (jp.type == JSONPKT_SUMMARY) {
		m->st.sum.lost += jp.sum.lost;
		m->st.sum.dropped += jp.sum.dropped;
		m->st.sum.evicted += jp.sum.evicted;
		m->st.sum.overruns += jp.sum.overruns;
		return 0;
	}
	if (jp.node)
		ret = intern(m, jp.node, strlen(jp.node), &node);
	else if (pod)
		ret = intern(m, pod, podlen, &node);
	else
		ret = intern(m, src, strlen(src), &node);
	if (ret < 0)
		return ret;
	return add_part(m, &jp, s, n, node);
}

/* ---- matching ---- */

static uint64_t key_hash(const struct mkey *k)
{
	return pkt_payload_hash(k, sizeof(*k));
}

/* @a before @b: by its own first time, then input order. */
static bool earlier(const struct mpart *parts, uint32_t a, uint32_t b)
{
	if (parts[a].t_in != parts[b].t_in)
		return parts[a].t_in < parts[b].t_in;
	return a < b;
}

/* May part @y continue part @x, keys aside (merge.h)? */
static bool may_follow(const struct merge *m, const struct mpart *x, const struct mpart *y)
{
	uint64_t d;

	if (x == y || x->node_out == y->node_in || !x->t_out || !y->t_in)
		return false;
	d = y->t_in > x->t_out ? y->t_in - x->t_out : x->t_out - y->t_in;
	if (d > m->cfg.skew_ns)
		return false;
	if (x->hook_out == HOOK_INPUT || y->hook_in == HOOK_OUTPUT)
		return false;
	if (x->ttl_out && y->ttl_in &&
	    (y->ttl_in > x->ttl_out || x->ttl_out - y->ttl_in > MERGE_MAX_HOPS))
		return false;
	return true;
}

static bool same_key(const struct mkey *a, const struct mkey *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static uint32_t head_of(const struct mpart *parts, uint32_t i)
{
	while (parts[i].prev != NONE)
		i = parts[i].prev;
	return i;
}

static int by_time(const void *a, const void *b, void *ctx)
{
	const struct mpart *parts = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (x == y)
		return 0;
	return earlier(parts, x, y) ? -1 : 1;
}

/* Link every part to the one it continues, if any (merge.h). @order: parts by time. */
static int link_parts(struct merge *m, const uint32_t *order)
{
	struct mpart *parts = m->parts;
	size_t nb = 64;
	uint32_t *bucket;

	while (nb < m->nparts * 2)
		nb <<= 1;
	bucket = malloc(nb * sizeof(*bucket));
	if (!bucket)
		return -ENOMEM;
	for (size_t i = 0; i < nb; i++)
		bucket[i] = NONE;
	/* By out key, in reverse time order pushed: each chain lists the earliest first. */
	for (size_t i = m->nparts; i-- > 0;) {
		uint32_t x = order[i];
		size_t b = key_hash(&parts[x].out) & (nb - 1);

		parts[x].hnext = bucket[b];
		bucket[b] = x;
	}
	for (size_t i = 0; i < m->nparts; i++) {
		uint32_t y = order[i];
		size_t b = key_hash(&parts[y].in) & (nb - 1);

		for (uint32_t x = bucket[b]; x != NONE; x = parts[x].hnext) {
			if (parts[x].next != NONE || !same_key(&parts[x].out, &parts[y].in) ||
			    !may_follow(m, &parts[x], &parts[y]))
				continue;
			/* Both ways possible (no hook or TTL tells): the earlier one first. */
			if (same_key(&parts[y].out, &parts[x].in) && may_follow(m, &parts[y], &parts[x]) &&
			    earlier(parts, y, x))
				continue;
			if (head_of(parts, x) == y)
				continue;	/* a loop */
			parts[x].next = y;
			parts[y].prev = x;
			break;
		}
	}
	free(bucket);
	return 0;
}

/* The steps of the chain from @head, read again from their text, as one packet. */
static int emit_chain(struct merge *m, uint32_t head, uint64_t id,
		      int (*emit)(void *ctx, const struct packet *p), void *ctx)
{
	struct packet pkt = { .id = id };
	size_t total = 0, off = 0;
	uint32_t i;
	int ret;

	for (i = head; i != NONE; i = m->parts[i].next)
		total += m->parts[i].textlen + 1;
	/* One buffer for all: the steps point into it until emit returns. */
	if (reserve((void **)&m->scratch, &m->scratch_cap, total, 1) < 0)
		return -ENOMEM;
	for (i = head; i != NONE; i = m->parts[i].next) {
		const struct mpart *p = &m->parts[i];
		char *text = m->scratch + off;
		const char *why;
		struct jsonpkt jp;

		memcpy(text, p->text, p->textlen);
		text[p->textlen] = '\0';
		off += p->textlen + 1;
		ret = jsonpkt_read(m->rd, text, p->textlen, &jp, &why);
		if (ret < 0)
			return ret;	/* it was read once: only memory can fail now */
		if (reserve((void **)&m->steps, &m->steps_cap, pkt.nsteps + jp.nsteps,
			    sizeof(*m->steps)) < 0)
			return -ENOMEM;
		for (size_t k = 0; k < jp.nsteps; k++) {
			struct trace_record *r = &m->steps[pkt.nsteps + k];

			*r = jp.steps[k];
			if (!r->node)
				r->node = m->names[p->node];
			pkt.has_nft |= r->backend == TRACE_BACKEND_NFT;
		}
		pkt.nsteps += jp.nsteps;
		pkt.steps_dropped = pkt.steps_dropped + jp.steps_dropped < pkt.steps_dropped ?
				    UINT32_MAX : pkt.steps_dropped + jp.steps_dropped;
	}
	pkt.steps = m->steps;
	m->st.packets++;
	if (m->parts[head].next != NONE)
		m->st.joined++;
	return emit(ctx, &pkt);
}

int merge_run(struct merge *m, int (*emit)(void *ctx, const struct packet *p), void *ctx)
{
	uint32_t *order;
	uint64_t id = 0;
	int ret = 0;

	if (!m->nparts)
		return 0;
	order = malloc(m->nparts * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < m->nparts; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, m->nparts, sizeof(*order), by_time, m->parts);
	ret = link_parts(m, order);
	/* Heads in time order: each packet by where it was first seen. */
	for (size_t i = 0; ret == 0 && i < m->nparts; i++)
		if (m->parts[order[i]].prev == NONE)
			ret = emit_chain(m, order[i], ++id, emit, ctx);
	free(order);
	return ret;
}

void merge_get_stats(const struct merge *m, struct merge_stats *st)
{
	*st = m->st;
	st->nodes = m->nnames;
}
