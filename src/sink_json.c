/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_json.c: JSON lines — one packet object per line, the summary object last */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>

#include "iptrace/ct.h"
#include "iptrace/diag.h"
#include "iptrace/natlog.h"
#include "iptrace/nftrace.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"

/*
 * Each line is built afresh in a buffer and handed to stdio in one fwrite(): stdio calls
 * per field cost many times the rest of a record's path. With deferred_flush the buffer
 * collects many lines and goes out when full or when the caller flushes (sink_ops.flush),
 * so a flood costs one write() per batch, not per packet.
 */
struct jb {
	FILE	*f;
	char	*buf;
	size_t	len, size;
	int	err;		/* -1 once a write to f failed */
};

static void jb_init(struct jb *b, FILE *f, char *buf, size_t size)
{
	b->f = f;
	b->buf = buf;
	b->len = 0;
	b->size = size;
	b->err = 0;
}

static void jb_flush(struct jb *b)
{
	if (b->len && fwrite(b->buf, 1, b->len, b->f) != b->len)
		b->err = -1;
	b->len = 0;
}

/* A place for @n more bytes (at most b->size) at the end of the line. */
static inline char *jb_room(struct jb *b, size_t n)
{
	if (n > b->size - b->len)
		jb_flush(b);
	return b->buf + b->len;
}

/*
 * @n is at most b->size: strings of any length go through jb_str(). Inline: most texts
 * are literals, whose copy the compiler turns into a few moves.
 */
static inline void jb_put(struct jb *b, const char *s, size_t n)
{
	memcpy(jb_room(b, n), s, n);
	b->len += n;
}

/* String literals only. */
#define jb_lit(b, s) jb_put((b), "" s "", sizeof(s) - 1)

static void jb_puts(struct jb *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

static void jb_c(struct jb *b, char c)
{
	jb_put(b, &c, 1);
}

/* "00" to "99": numbers are written two digits at a time, half the divisions. */
static const char digits2[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static void jb_u64(struct jb *b, uint64_t v)
{
	char t[20], *p = t + sizeof(t);

	while (v >= 100) {
		p -= 2;
		memcpy(p, digits2 + v % 100 * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digits2 + v * 2, 2);
	} else {
		*--p = (char)('0' + v);
	}
	jb_put(b, p, (size_t)(t + sizeof(t) - p));
}

/* @v as 8 lower-case hex digits. */
static void jb_hex32(struct jb *b, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";
	char *p = jb_room(b, 8);

	for (int i = 7; i >= 0; i--, v >>= 4)
		p[i] = hex[v & 0xf];
	b->len += 8;
}

/* @s as a JSON string, escaped in place by the escaper sink_json_str() uses too. */
static void jb_str(struct jb *b, const char *s)
{
	jb_c(b, '"');
	while (*s) {
		char *p = jb_room(b, SINK_JSON_ESC_MAX);

		b->len += sink_json_escape(p, b->size - b->len, &s);
	}
	jb_c(b, '"');
}

static void put_proto(struct jb *b, uint8_t proto)
{
	const char *n = pkt_proto_name(proto);

	jb_lit(b, "\"proto\":");
	if (n) {
		jb_c(b, '"');
		jb_puts(b, n);
		jb_c(b, '"');
	} else {
		jb_u64(b, proto);
	}
}

/* An address, quoted: it needs no escaping. Formatted in place. */
static void put_addr(struct jb *b, const struct pkt_hdr *h, bool dst)
{
	char *p = jb_room(b, INET6_ADDRSTRLEN + 2);
	size_t n = strlen(sink_fmt_addr(h, dst, p + 1, INET6_ADDRSTRLEN));

	p[0] = '"';
	p[n + 1] = '"';
	b->len += n + 2;
}

static void put_addrs(struct jb *b, const struct pkt_hdr *h)
{
	if (h->family != AF_INET && h->family != AF_INET6)
		return;
	jb_lit(b, ",\"src\":");
	put_addr(b, h, false);
	if (h->has_ports) {
		jb_lit(b, ",\"sport\":");
		jb_u64(b, h->sport);
	}
	jb_lit(b, ",\"dst\":");
	put_addr(b, h, true);
	if (h->has_ports) {
		jb_lit(b, ",\"dport\":");
		jb_u64(b, h->dport);
	}
}

/* "10.0.0.1:53", "[2001:db8::1]:53", or the address alone when there are no ports. */
static void put_endpoint(struct jb *b, const struct pkt_hdr *h, bool dst)
{
	char a[INET6_ADDRSTRLEN];
	bool v6 = h->family == AF_INET6 && h->has_ports;

	jb_puts(b, v6 ? "\"[" : "\"");
	jb_puts(b, sink_fmt_addr(h, dst, a, sizeof(a)));
	if (h->has_ports) {
		jb_puts(b, v6 ? "]:" : ":");
		jb_u64(b, dst ? h->dport : h->sport);
	}
	jb_c(b, '"');
}

/*
 * "nat" on a step whose addresses or ports differ from the step before (NAT ran in
 * between): {"src":[before, after]} and/or {"dst":[before, after]}, each endpoint as
 * "addr:port" ("[v6]:port", or the address alone without ports). Absent when nothing changed.
 */
static void put_nat(struct jb *b, const struct pkt_hdr *prev, const struct pkt_hdr *cur)
{
	bool s, d;

	if (!prev || prev->family != cur->family || !cur->family)
		return;
	s = memcmp(&prev->saddr, &cur->saddr, sizeof(cur->saddr)) || prev->sport != cur->sport;
	d = memcmp(&prev->daddr, &cur->daddr, sizeof(cur->daddr)) || prev->dport != cur->dport;
	if (!s && !d)
		return;
	jb_lit(b, ",\"nat\":{");
	if (s) {
		jb_lit(b, "\"src\":[");
		put_endpoint(b, prev, false);
		jb_c(b, ',');
		put_endpoint(b, cur, false);
		jb_c(b, ']');
	}
	if (d) {
		jb_puts(b, s ? ",\"dst\":[" : "\"dst\":[");
		put_endpoint(b, prev, true);
		jb_c(b, ',');
		put_endpoint(b, cur, true);
		jb_c(b, ']');
	}
	jb_c(b, '}');
}

/*
 * The resolver's answer: "rule" (string, or null with "rule_reason"), "verdict", and
 * "continue":true for targets that let the packet go on (MARK, LOG, ...). Absent when no
 * resolver ran (--read, --replay).
 */
static void put_rule(struct jb *b, const struct trace_record *r)
{
	if (!r->verdict && !r->rule_reason)
		return;
	jb_lit(b, ",\"rule\":");
	if (r->rule)
		jb_str(b, r->rule);
	else
		jb_lit(b, "null");
	if (r->verdict) {
		jb_lit(b, ",\"verdict\":");
		jb_str(b, r->verdict);
	}
	if (r->verdict_continues)
		jb_lit(b, ",\"continue\":true");
	if (!r->rule && r->rule_reason) {
		jb_lit(b, ",\"rule_reason\":");
		jb_str(b, r->rule_reason);
	}
}

/* The conntrack view the kernel attached (nft records, first of a traversal). */
static void put_ct_view(struct jb *b, const struct trace_record *r)
{
	char st[CT_STATUS_JSON_MAX];

	jb_lit(b, ",\"ct\":{\"id\":");
	jb_u64(b, r->ct_id);
	jb_lit(b, ",\"state\":\"");
	jb_puts(b, ct_state_name(r->ct_state));
	jb_lit(b, "\",\"dir\":\"");
	jb_puts(b, r->ct_dir == IP_CT_DIR_ORIGINAL ? "original" : "reply");
	jb_lit(b, "\",\"status\":");
	jb_puts(b, ct_status_json(st, sizeof(st), r->ct_status));
	jb_c(b, '}');
}

/*
 * ,"hook":"NAME", the names trace_hook_name() gives (what --merge reads back), as literals:
 * one copy of a known size per step rather than a strlen() and a copy.
 */
static void put_hook(struct jb *b, int hook)
{
	switch (hook) {
	case HOOK_PREROUTING:
		jb_lit(b, ",\"hook\":\"prerouting\"");
		break;
	case HOOK_INPUT:
		jb_lit(b, ",\"hook\":\"input\"");
		break;
	case HOOK_FORWARD:
		jb_lit(b, ",\"hook\":\"forward\"");
		break;
	case HOOK_OUTPUT:
		jb_lit(b, ",\"hook\":\"output\"");
		break;
	case HOOK_POSTROUTING:
		jb_lit(b, ",\"hook\":\"postrouting\"");
		break;
	}
}

static void put_ifs(struct jb *b, const struct trace_record *r)
{
	jb_lit(b, ",\"in\":");
	jb_str(b, r->in);
	jb_lit(b, ",\"out\":");
	jb_str(b, r->out);
	if (r->physin[0]) {
		jb_lit(b, ",\"physin\":");
		jb_str(b, r->physin);
	}
	if (r->physout[0]) {
		jb_lit(b, ",\"physout\":");
		jb_str(b, r->physout);
	}
}

/*
 * One step object; @prev is the step before it in the packet (NULL: none), for "nat".
 * @node: the packet crossed several nodes, each step says which (--merge).
 */
static void put_step(struct jb *b, const struct trace_record *r, const struct trace_record *prev,
		     bool node)
{
	const char *family;

	jb_c(b, '{');
	if (node && r->node) {
		jb_lit(b, "\"node\":");
		jb_str(b, r->node);
		jb_c(b, ',');
	}
	jb_lit(b, "\"backend\":\"");
	jb_puts(b, trace_backend_name(r->backend));
	jb_lit(b, "\",\"table\":");
	jb_str(b, r->table);
	jb_lit(b, ",\"chain\":");
	jb_str(b, r->chain);
	jb_lit(b, ",\"kind\":\"");
	jb_puts(b, trace_kind_name(r->kind));
	jb_c(b, '"');
	if (r->backend == TRACE_BACKEND_LEGACY) {
		jb_lit(b, ",\"rulenum\":");
		jb_u64(b, r->rulenum);
	} else if (r->handle) {
		jb_lit(b, ",\"handle\":");
		jb_u64(b, r->handle);
	}
	put_rule(b, r);
	family = r->backend == TRACE_BACKEND_NFT ? nftrace_family_name(r->table_family) : NULL;
	if (family) {
		jb_lit(b, ",\"family\":\"");
		jb_puts(b, family);
		jb_c(b, '"');
	}
	if (r->has_ct)
		put_ct_view(b, r);
	put_hook(b, r->hook);
	put_ifs(b, r);
	put_addrs(b, &r->pkt);
	/* Per step: one lower after each routing decision, and across nodes (--merge). */
	if (r->pkt.family == AF_INET || r->pkt.family == AF_INET6) {
		jb_lit(b, ",\"ttl\":");
		jb_u64(b, r->pkt.ttl);
	}
	put_nat(b, prev ? &prev->pkt : NULL, &r->pkt);
	if (r->mark) {
		char m[16];

		snprintf(m, sizeof(m), "%" PRIx32, r->mark);
		jb_lit(b, ",\"mark\":\"0x");
		jb_puts(b, m);
		jb_c(b, '"');
	}
	if (r->ts_ns) {
		char *t;

		jb_lit(b, ",\"ts\":\"");
		t = jb_room(b, SINK_TIME_MAX);
		b->len += strlen(sink_fmt_time(r->ts_ns, t, SINK_TIME_MAX));
		jb_c(b, '"');
	}
	jb_c(b, '}');
}

/* From begin() to end(): a line buffer that, with deferred_flush, holds many packets. */
#define JSON_BUF_SIZE (64u << 10)
struct json_state {
	struct jb	b;
	char		buf[JSON_BUF_SIZE];
};

static int json_begin(struct sink *s)
{
	struct json_state *st = malloc(sizeof(*st));

	if (!st) {
		diag_error("out of memory");
		return -1;
	}
	jb_init(&st->b, s->out, st->buf, sizeof(st->buf));
	s->priv = st;
	return 0;
}

/* A sink used without begin() (a test driving the pipeline) writes each line through one. */
struct json_line {
	struct jb	b;
	char		buf[4096];
};

static struct jb *json_jb(struct sink *s, struct json_line *l)
{
	struct json_state *st = s->priv;

	if (st)
		return &st->b;
	jb_init(&l->b, s->out, l->buf, sizeof(l->buf));
	return &l->b;
}

/* The end of a packet or record: to the FILE now, unless the caller flushes later. */
static int json_done(struct sink *s, struct jb *b)
{
	if (!s->opts.deferred_flush || !s->priv)
		jb_flush(b);
	return b->err;
}

static int json_flush(struct sink *s)
{
	struct json_state *st = s->priv;

	if (!st)
		return 0;
	jb_flush(&st->b);
	return st->b.err;
}

static int json_packet(struct sink *s, const struct packet *p)
{
	const struct pkt_hdr *h = &p->steps[0].pkt;
	struct json_line line;
	struct jb *b = json_jb(s, &line);
	bool multi = sink_multi_node(p);
	uint32_t hash;

	jb_lit(b, "{\"type\":\"packet\",\"id\":\"");
	jb_u64(b, p->id);
	/* Where it was first seen; each step says its own when there were several. */
	if (p->steps[0].node) {
		jb_lit(b, "\",\"node\":");
		jb_str(b, p->steps[0].node);
		jb_lit(b, ",\"family\":\"");
	} else {
		jb_lit(b, "\",\"family\":\"");
	}
	jb_puts(b, h->family == AF_INET6 ? "ipv6" : h->family == AF_INET ? "ipv4" : "unknown");
	jb_lit(b, "\",");
	put_proto(b, h->proto);
	put_addrs(b, h);
	jb_lit(b, ",\"len\":");
	jb_u64(b, h->len);
	if (h->family == AF_INET) {
		jb_lit(b, ",\"ipid\":");
		jb_u64(b, h->ipid);
	}
	hash = pkt_head_hash(&p->steps[0]);
	if (hash) {
		jb_lit(b, ",\"payload_hash\":\"");
		jb_hex32(b, hash);
		jb_c(b, '"');
	}
	if (p->steps_dropped) {
		jb_lit(b, ",\"steps_dropped\":");
		jb_u64(b, p->steps_dropped);
	}
	if (p->ct) {
		jb_lit(b, ",\"ct\":");
		jb_flush(b);	/* the ct printer writes to the FILE itself */
		ct_print_json_obj(s->out, p->ct);
	}
	jb_lit(b, ",\"steps\":[");
	for (size_t i = 0; i < p->nsteps; i++) {
		if (i)
			jb_c(b, ',');
		put_step(b, &p->steps[i], i ? &p->steps[i - 1] : NULL, multi);
	}
	jb_lit(b, "]}\n");
	/* Per packet (or when the capture goes idle), so `| jq` and `tail -f` see each packet. */
	if (json_done(s, b) < 0)
		return -1;
	return sink_flush(s);
}

static int json_record(struct sink *s, const struct trace_record *r)
{
	struct json_line line;
	struct jb *b = json_jb(s, &line);

	jb_lit(b, "{\"type\":\"record\",");
	if (r->node) {
		jb_lit(b, "\"node\":");
		jb_str(b, r->node);
		jb_c(b, ',');
	}
	jb_lit(b, "\"step\":");
	put_step(b, r, NULL, false);
	jb_lit(b, "}\n");
	json_done(s, b);
	return 0;	/* --no-group output errors show at the end */
}

static int json_end(struct sink *s, const struct summary *sum)
{
	int err = json_flush(s);	/* the packets before the summary */

	fprintf(s->out, "{\"type\":\"summary\",\"packets\":%" PRIu64 ",\"records\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"evicted\":%" PRIu64,
		sum->packets, sum->records, sum->lost, sum->dropped, sum->evicted);
	/* Only when non-zero: the summary of a run without loss keeps its shape. */
	if (sum->overruns)
		fprintf(s->out, ",\"overruns\":%" PRIu64, sum->overruns);
	if (sum->marker)
		fprintf(s->out, ",\"marker\":\"%s\"", sum->marker);
	if (sum->limited)
		fprintf(s->out, ",\"unmarked\":%" PRIu64, sum->unmarked);
	if (sum->malformed)
		fprintf(s->out, ",\"malformed\":%" PRIu64, sum->malformed);
	if (sum->node) {
		fputs(",\"node\":", s->out);
		sink_json_str(s->out, sum->node);
	}
	fputs("}\n", s->out);
	free(s->priv);
	s->priv = NULL;
	return fflush(s->out) == EOF || err < 0 ? -1 : 0;
}

const struct sink_ops sink_json_ops = {
	.name = "json",
	.begin = json_begin,
	.packet = json_packet,
	.record = json_record,
	.end = json_end,
	.flush = json_flush,
};
