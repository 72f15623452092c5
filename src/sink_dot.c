/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_dot.c: --format dot — one Graphviz digraph of every packet's path, written at the end */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iptrace/array.h"
#include "iptrace/sink.h"

/*
 * Only what packets crossed: a node per chain (table and chain, within the hook it was
 * crossed in: a chain jumped to from two hooks shows in both), an edge per (from, to, the
 * rule that sent the packet on) with its packet count, and a node per way packets ended.
 * Kept as the packets come (two hash tables), printed at the end: a kube-proxy node's
 * thousands of packets make as many nodes as chains they crossed, not as packets.
 */
#define NHOOKS 6	/* the five hooks, and one for chains of no known hook (--read) */

struct node {
	char		*table, *chain;
	int		hook;		/* enum trace_hook, or NHOOKS - 1 */
	int		end;		/* an end node: 0 no, 1 accepted, 2 dropped, 3 early, 4 other */
	uint64_t	packets;
};

struct edge {
	size_t		from, to;
	char		*rule;		/* "rule 5 jump KUBE-SVC-X", "policy 2 ACCEPT" */
	uint64_t	packets;
};

struct slot {
	char	*key;		/* NULL: empty */
	size_t	index;
};

struct table {
	struct slot	*slots;
	size_t		size, used;
};

struct dot_state {
	struct node	*nodes;
	size_t		nnodes, cnodes;
	struct edge	*edges;
	size_t		nedges, cedges;
	struct table	node_ix, edge_ix;
	uint64_t	packets;
	int		err;
};

static size_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

/* The index stored under @key, or SIZE_MAX with *@at the empty slot where it would go. */
static size_t lookup(const struct table *t, const char *key, size_t *at)
{
	size_t i = hash(key) & (t->size - 1);

	while (t->slots[i].key) {
		if (strcmp(t->slots[i].key, key) == 0)
			return t->slots[i].index;
		i = (i + 1) & (t->size - 1);
	}
	*at = i;
	return SIZE_MAX;
}

static int grow(struct table *t)
{
	struct table n = { .size = t->size ? t->size * 2 : 64 };

	n.slots = calloc(n.size, sizeof(*n.slots));
	if (!n.slots)
		return -1;
	for (size_t i = 0; i < t->size; i++) {
		size_t at;

		if (!t->slots[i].key)
			continue;
		lookup(&n, t->slots[i].key, &at);
		n.slots[at] = t->slots[i];
		n.used++;
	}
	free(t->slots);
	*t = n;
	return 0;
}

/* Take @key (malloc'd) under @index. */
static int insert(struct table *t, char *key, size_t index)
{
	size_t at;

	if ((t->used + 1) * 2 > t->size && grow(t) < 0)
		return -1;
	lookup(t, key, &at);
	t->slots[at] = (struct slot){ key, index };
	t->used++;
	return 0;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->size; i++)
		free(t->slots[i].key);
	free(t->slots);
}

/* Room for element @n of the array *@arr of *@cap elements of @elem bytes. 0 or -1. */
static int room(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	p = array_grow(*arr, cap, elem, 32);
	if (!p)
		return -1;
	*arr = p;
	return 0;
}

static char *keyf(const char *a, const char *b, const char *c, int d)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 16;
	char *k = malloc(n);

	if (k)
		snprintf(k, n, "%d|%s|%s|%s", d, a, b, c);
	return k;
}

/* The node for (@hook, @table, @chain) or end node @end, made on first sight. SIZE_MAX on ENOMEM. */
static size_t node(struct dot_state *st, int hook, const char *table, const char *chain, int end)
{
	char *key = keyf(table, chain, "", end ? -end : hook);
	size_t at, i;

	if (!key)
		return SIZE_MAX;
	if (!st->node_ix.size && grow(&st->node_ix) < 0)
		goto err;
	i = lookup(&st->node_ix, key, &at);
	if (i != SIZE_MAX) {
		free(key);
		return i;
	}
	if (room((void **)&st->nodes, &st->cnodes, st->nnodes, sizeof(*st->nodes)) < 0)
		goto err;
	st->nodes[st->nnodes] = (struct node){ strdup(table), strdup(chain), hook, end, 0 };
	if (!st->nodes[st->nnodes].table || !st->nodes[st->nnodes].chain ||
	    insert(&st->node_ix, key, st->nnodes) < 0) {
		free(st->nodes[st->nnodes].table);
		free(st->nodes[st->nnodes].chain);
		goto err;
	}
	return st->nnodes++;
err:
	free(key);
	return SIZE_MAX;
}

static int edge(struct dot_state *st, size_t from, size_t to, const char *rule)
{
	char f[24], t[24], *key;
	size_t at, i;

	snprintf(f, sizeof(f), "%zu", from);
	snprintf(t, sizeof(t), "%zu", to);
	key = keyf(f, t, rule, 0);
	if (!key || (!st->edge_ix.size && grow(&st->edge_ix) < 0))
		goto err;
	i = lookup(&st->edge_ix, key, &at);
	if (i != SIZE_MAX) {
		free(key);
		st->edges[i].packets++;
		return 0;
	}
	if (room((void **)&st->edges, &st->cedges, st->nedges, sizeof(*st->edges)) < 0)
		goto err;
	st->edges[st->nedges] = (struct edge){ from, to, strdup(rule), 1 };
	if (!st->edges[st->nedges].rule || insert(&st->edge_ix, key, st->nedges) < 0) {
		free(st->edges[st->nedges].rule);
		goto err;
	}
	st->nedges++;
	return 0;
err:
	free(key);
	return -1;
}

/* What sent the packet on from step @r: "rule 5 jump KUBE-SVC-X", "policy 2 ACCEPT". */
static void rule_label(const struct trace_record *r, char *buf, size_t size)
{
	char num[32] = "";

	if (r->backend == TRACE_BACKEND_NFT && r->handle)
		snprintf(num, sizeof(num), " #%" PRIu64, r->handle);
	else if (r->backend == TRACE_BACKEND_LEGACY)
		snprintf(num, sizeof(num), " %" PRIu32, r->rulenum);
	snprintf(buf, size, "%s%s%s%s", trace_kind_name(r->kind), num, r->verdict ? " " : "",
		 r->verdict ? r->verdict : "");
}

/* How the packet ended, from its last step: accepted, dropped (red), or stopped early. */
static int end_kind(const struct packet *p, const struct trace_record *last, const char **label)
{
	static const char *const accepted[] = {
		"ACCEPT", "accept", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP",
	};
	const char *v = last->verdict;

	if (p->ended_hint) {
		*label = p->ended_hint;
		return 3;
	}
	if (v && (strcmp(v, "DROP") == 0 || strcmp(v, "REJECT") == 0 || strcmp(v, "drop") == 0)) {
		*label = v;
		return 2;
	}
	for (size_t i = 0; v && i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (strcmp(v, accepted[i]) == 0) {
			*label = "ACCEPT";
			return 1;
		}
	*label = v ? v : "end";
	return 4;
}

static int dot_begin(struct sink *s)
{
	s->priv = calloc(1, sizeof(struct dot_state));
	return s->priv ? 0 : -1;
}

static int dot_packet(struct sink *s, const struct packet *p)
{
	struct dot_state *st = s->priv;
	char table[SINK_TABLE_MAX], rule[64 + TRACE_NFT_NAME_MAX];
	const char *label;
	size_t prev = SIZE_MAX, n;
	int hook = NHOOKS - 1, end;

	if (!st || st->err)
		return -1;
	st->packets++;
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];

		/* A chain of no known hook (--read's user chains) stays in its caller's. */
		if (r->hook >= 0 && r->hook < NHOOKS - 1)
			hook = r->hook;
		n = node(st, hook, sink_fmt_table(r, table, sizeof(table)), r->chain, 0);
		if (n == SIZE_MAX)
			goto err;
		st->nodes[n].packets++;
		if (prev != SIZE_MAX) {
			rule_label(&p->steps[i - 1], rule, sizeof(rule));
			if (edge(st, prev, n, rule) < 0)
				goto err;
		}
		prev = n;
	}
	if (prev == SIZE_MAX)
		return 0;
	end = end_kind(p, &p->steps[p->nsteps - 1], &label);
	n = node(st, NHOOKS - 1, label, "", end);
	if (n == SIZE_MAX)
		goto err;
	st->nodes[n].packets++;
	rule_label(&p->steps[p->nsteps - 1], rule, sizeof(rule));
	if (edge(st, prev, n, rule) < 0)
		goto err;
	return 0;
err:
	st->err = -1;
	return -1;
}

/*
 * A DOT string's text: '"' and '\\' escaped, a control byte as the text \xNN (never raw in
 * a label, as text output never carries one). dot_str() adds the quotes.
 */
/*
 * @s as the text formats show a name (sink_text_name(): controls and bytes that are not
 * UTF-8 as \xhh), then quoted for DOT ('"' and '\\' escaped).
 */
static void dot_esc(FILE *f, const char *s)
{
	size_t size = SINK_TEXT_NAME_MAX(strlen(s));
	char *t = malloc(size);

	if (!t)
		return;
	sink_text_name(s, t, size);
	for (const char *p = t; *p; p++) {
		if (*p == '"' || *p == '\\')
			putc('\\', f);
		putc(*p, f);
	}
	free(t);
}

static void dot_str(FILE *f, const char *s)
{
	putc('"', f);
	dot_esc(f, s);
	putc('"', f);
}

/* An end node's label: the hint up to its first ':' ("dropped after routing"), the count. */
static void end_label(FILE *f, const struct node *n)
{
	size_t len = strcspn(n->table, ":");

	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		char c[2] = { n->table[i], '\0' };

		dot_esc(f, c);
	}
	fprintf(f, "\\n%" PRIu64 " packet%s\"", n->packets, n->packets == 1 ? "" : "s");
}

static void print_node(FILE *f, const struct dot_state *st, size_t i)
{
	const struct node *n = &st->nodes[i];
	static const char *const style[] = {
		"", "shape=doubleoctagon,color=\"#2e7d32\",fontcolor=\"#2e7d32\"",
		"shape=doubleoctagon,color=\"#c62828\",fontcolor=\"#c62828\",penwidth=2",
		"shape=octagon,color=\"#ef6c00\",fontcolor=\"#ef6c00\",penwidth=2",
		"shape=octagon",
	};

	fprintf(f, "    n%zu [", i);
	if (n->end) {
		fputs("label=", f);
		end_label(f, n);
		fprintf(f, ",%s", style[n->end]);
		if (n->end == 3) {
			fputs(",tooltip=", f);
			dot_str(f, n->table);
		}
	} else {
		/* "nat\nKUBE-SERVICES": the \n is DOT's own line break. */
		fputs("label=\"", f);
		dot_esc(f, n->table);
		fputs("\\n", f);
		dot_esc(f, n->chain);
		putc('"', f);
	}
	fputs("];\n", f);
}

static int dot_end(struct sink *s, const struct summary *sum)
{
	static const char *const hooks[NHOOKS] = {
		"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "",
	};
	struct dot_state *st = s->priv;
	FILE *f = s->out;
	int err;

	(void)sum;
	if (!st)
		return -1;
	fprintf(f, "digraph iptrace {\n"
		"  rankdir=LR;\n"
		"  label=\"iptrace: %" PRIu64 " packet%s\";\n"
		"  labelloc=t;\n"
		"  node [shape=box,style=rounded,fontname=\"Helvetica\",fontsize=10];\n"
		"  edge [fontname=\"Helvetica\",fontsize=9];\n",
		st->packets, st->packets == 1 ? "" : "s");
	/* Hooks in kernel order, each a cluster of the chains crossed in it. */
	for (int h = 0; h < NHOOKS - 1; h++) {
		bool any = false;

		for (size_t i = 0; i < st->nnodes; i++) {
			if (st->nodes[i].end || st->nodes[i].hook != h)
				continue;
			if (!any)
				fprintf(f, "  subgraph cluster_%s {\n    label=\"%s\";\n"
					"    style=rounded;\n    color=\"#90a4ae\";\n", hooks[h], hooks[h]);
			any = true;
			print_node(f, st, i);
		}
		if (any)
			fputs("  }\n", f);
	}
	for (size_t i = 0; i < st->nnodes; i++)
		if (st->nodes[i].end || st->nodes[i].hook == NHOOKS - 1)
			print_node(f, st, i);
	for (size_t i = 0; i < st->nedges; i++) {
		const struct edge *e = &st->edges[i];
		char count[32];
		bool red = st->nodes[e->to].end == 2;

		snprintf(count, sizeof(count), "%" PRIu64 "\u00d7 ", e->packets);
		fprintf(f, "  n%zu -> n%zu [label=\"%s", e->from, e->to, count);
		dot_esc(f, e->rule);
		putc('"', f);
		fprintf(f, ",penwidth=%.1f%s];\n", 1 + fmin(4.0, log2((double)e->packets) / 2),
			red ? ",color=\"#c62828\",fontcolor=\"#c62828\"" : "");
	}
	fputs("}\n", f);
	err = st->err;
	for (size_t i = 0; i < st->nnodes; i++) {
		free(st->nodes[i].table);
		free(st->nodes[i].chain);
	}
	for (size_t i = 0; i < st->nedges; i++)
		free(st->edges[i].rule);
	free(st->nodes);
	free(st->edges);
	table_free(&st->node_ix);
	table_free(&st->edge_ix);
	free(st);
	s->priv = NULL;
	return err < 0 || fflush(f) == EOF ? -1 : 0;
}

const struct sink_ops sink_dot_ops = {
	.name = "dot",
	.begin = dot_begin,
	.packet = dot_packet,
	.record = NULL,	/* a picture of packets' paths: not with --no-group */
	.end = dot_end,
};
