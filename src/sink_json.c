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

/*
 * @s as a JSON string, escaped in place by the escaper sink_json_field() uses too. Returns
 * true when @s is not valid UTF-8 (its bad bytes were written as U+FFFD).
 */
static bool jb_str(struct jb *b, const char *s)
{
	bool bad = false;

	jb_c(b, '"');
	while (*s) {
		char *p = jb_room(b, SINK_JSON_ESC_MAX);

		b->len += sink_json_escape(p, b->size - b->len, &s, &bad);
	}
	jb_c(b, '"');
	return bad;
}

/*
 * A name's field: @key ("...":), the string, and where its bytes are not UTF-8 the
 * @hexkey ("..._hex":") sibling with the exact bytes. Out of line: it runs only then.
 */
static __attribute__((noinline)) void jb_hex(struct jb *b, const char *hexkey, size_t hexlen,
					     const char *s)
{
	jb_put(b, hexkey, hexlen);
	while (*s) {
		char *p = jb_room(b, 2);

		b->len += sink_hex(p, b->size - b->len, &s);
	}
	jb_c(b, '"');
}

static inline void jb_name(struct jb *b, const char *key, size_t keylen, const char *hexkey,
			   size_t hexlen, const char *s)
{
	jb_put(b, key, keylen);
	if (jb_str(b, s))
		jb_hex(b, hexkey, hexlen, s);
}

/* ,"KEY":"the name" (and ,"KEY_hex":"..." when it is not UTF-8); KEY a string literal. */
#define jb_field(b, KEY, s) \
	jb_name((b), ",\"" KEY "\":", sizeof(",\"" KEY "\":") - 1, \
		",\"" KEY "_hex\":\"", sizeof(",\"" KEY "_hex\":\"") - 1, (s))
/* The same for the first field of an object: no comma before it. */
#define jb_field_first(b, KEY, s) \
	jb_name((b), "\"" KEY "\":", sizeof("\"" KEY "\":") - 1, \
		",\"" KEY "_hex\":\"", sizeof(",\"" KEY "_hex\":\"") - 1, (s))

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
 * "nat" on the step where the kernel changed addresses or ports (struct packet_nat):
 * {"src":[before, after]} and/or {"dst":[before, after]}, each endpoint as "addr:port"
 * ("[v6]:port", or the address alone without ports); with "by":"conntrack" and the "hook"
 * it happened in when no NAT rule of this path did it (a reply's reverse NAT).
 */
static void put_nat(struct jb *b, const struct packet_nat *n)
{
	const char *hook = trace_hook_name(n->hook);

	jb_lit(b, ",\"nat\":{");
	if (n->src) {
		jb_lit(b, "\"src\":[");
		put_endpoint(b, n->before, false);
		jb_c(b, ',');
		put_endpoint(b, n->after, false);
		jb_c(b, ']');
	}
	if (n->dst) {
		jb_puts(b, n->src ? ",\"dst\":[" : "\"dst\":[");
		put_endpoint(b, n->before, true);
		jb_c(b, ',');
		put_endpoint(b, n->after, true);
		jb_c(b, ']');
	}
	if (n->conntrack) {
		jb_lit(b, ",\"by\":\"conntrack\"");
		if (hook) {
			jb_lit(b, ",\"hook\":\"");
			jb_puts(b, hook);
			jb_c(b, '"');
		}
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
	/* A text is shown whenever there is one: --merge reads it back as it was written. */
	if (!r->verdict && !r->rule_reason && !r->rule)
		return;
	if (r->rule)
		jb_field(b, "rule", r->rule);
	else
		jb_lit(b, ",\"rule\":null");
	if (r->verdict)
		jb_field(b, "verdict", r->verdict);
	if (r->verdict_continues)
		jb_lit(b, ",\"continue\":true");
	if (!r->rule && r->rule_reason)
		jb_field(b, "rule_reason", r->rule_reason);
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
	const char *name = trace_hook_name(hook);

	if (name) {
		jb_lit(b, ",\"hook\":\"");
		jb_puts(b, name);
		jb_c(b, '"');
	}
}

static void put_ifs(struct jb *b, const struct trace_record *r)
{
	jb_field(b, "in", r->in);
	jb_field(b, "out", r->out);
	if (r->physin[0])
		jb_field(b, "physin", r->physin);
	if (r->physout[0])
		jb_field(b, "physout", r->physout);
}

/*
 * One step object; @nat is the NAT change the kernel made at this step (NULL: none).
 * @node: the packet crossed several nodes, each step says which (--merge).
 */
static void put_step(struct jb *b, const struct trace_record *r, const struct packet_nat *nat,
		     bool node)
{
	const char *family;

	jb_c(b, '{');
	if (node && r->node) {
		jb_field_first(b, "node", r->node);
		jb_c(b, ',');
	}
	jb_lit(b, "\"backend\":\"");
	jb_puts(b, trace_backend_name(r->backend));
	jb_c(b, '"');
	jb_field(b, "table", r->table);
	jb_field(b, "chain", r->chain);
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
	if (r->order_unknown)
		jb_lit(b, ",\"order\":\"unknown\"");
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
	if (nat)
		put_nat(b, nat);
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
	if (r->uptime_ns) {	/* --read: the kernel's seconds since boot on the line */
		char u[32];

		snprintf(u, sizeof(u), ",\"uptime\":%" PRIu64 ".%06" PRIu64,
			 r->uptime_ns / 1000000000u, r->uptime_ns % 1000000000u / 1000u);
		jb_puts(b, u);
	}
	jb_c(b, '}');
}

/*
 * "ended": the trace stopped before the packet's last hook (struct packet's ended_hint):
 * {"after":"mangle PREROUTING","hook":"PREROUTING","hint":"dropped after routing: ..."}.
 */
static void put_ended(struct jb *b, const struct trace_record *last, const char *hint)
{
	const char *family = last->backend == TRACE_BACKEND_NFT ?
			     nftrace_family_name(last->table_family) : NULL;
	const char *hook = trace_hook_name(last->hook);
	char after[16 + 2 * TRACE_NAME_MAX];

	/* The names as they are: jb_field() escapes them (and adds "after_hex" if it must). */
	snprintf(after, sizeof(after), "%s%s%s %s", family ? family : "", family ? " " : "",
		 last->table, last->chain);
	jb_lit(b, ",\"ended\":{");
	jb_field_first(b, "after", after);
	if (hook) {
		jb_lit(b, ",\"hook\":\"");
		jb_puts(b, hook);
		jb_c(b, '"');
	}
	jb_lit(b, ",\"hint\":");
	jb_str(b, hint);
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
	jb_c(b, '"');
	if (p->steps[0].node)
		jb_field(b, "node", p->steps[0].node);
	jb_lit(b, ",\"family\":\"");
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
	/* On the packet only: no step can change them (NAT rewrites an error's inner header). */
	if ((h->proto == IPPROTO_ICMP || h->proto == IPPROTO_ICMPV6) && h->has_l4) {
		jb_lit(b, ",\"icmp_type\":");
		jb_u64(b, h->icmp_type);
		jb_lit(b, ",\"icmp_code\":");
		jb_u64(b, h->icmp_code);
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
	if (p->ended_hint && p->nsteps)
		put_ended(b, &p->steps[p->nsteps - 1], p->ended_hint);
	jb_lit(b, ",\"steps\":[");
	for (size_t i = 0, k = 0; i < p->nsteps; i++) {
		/* One "nat" per step: a second change placed on the same step is left out. */
		while (k < p->nnat && p->nat[k].step < i)
			k++;
		if (i)
			jb_c(b, ',');
		put_step(b, &p->steps[i], k < p->nnat && p->nat[k].step == i ? &p->nat[k] : NULL,
			 multi);
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
		jb_field_first(b, "node", r->node);
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
	if (sum->node)
		sink_json_field(s->out, "node", sum->node);
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
