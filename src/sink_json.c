/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_json.c: JSON lines — one packet object per line, the summary object last */
#include <assert.h>
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

/* @v as 8 lower-case hex digits. */
static char *put_hex32(char *w, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 7; i >= 0; i--, v >>= 4)
		w[i] = hex[v & 0xf];
	return w + 8;
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

/*
 * Most of a line is bounded: names of at most TRACE_NFT_NAME_MAX or IF_NAMESIZE bytes,
 * numbers, addresses, times. Room for a bounded part is made once (jb_begin()) and its fields
 * are written through a cursor @w with no check each: per field, the checks cost more than
 * the writing. Texts of any length (rules, verdicts, node names, hints) go through
 * jb_name(). A whole step with every field at its longest (255-byte nft names) is 5,559
 * bytes (test_longest_step); jb_end() holds each part to PART_MAX.
 */
#define PART_MAX 8192

static inline char *jb_begin(struct jb *b)
{
	return jb_room(b, PART_MAX);
}

static inline void jb_end(struct jb *b, char *w)
{
	assert(w >= b->buf + b->len && w <= b->buf + b->len + PART_MAX);
	b->len = (size_t)(w - b->buf);
}

static inline char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

/* String literals only. */
#define lit(w, s) put((w), "" s "", sizeof(s) - 1)

/* A name of our own (a hook, a kind, a protocol): plain ASCII, nothing to escape. */
static inline char *put_plain(char *w, const char *s)
{
	while (*s)
		*w++ = *s++;
	return w;
}

/*
 * A name's field: @key ("...":), the string, and where its bytes are not UTF-8 the
 * @hexkey ("..._hex":") sibling with the exact bytes. At most @keylen + @hexlen + 8 bytes
 * for each byte of @s, and 3.
 */
static __attribute__((noinline)) char *put_hex_sibling(char *w, const char *hexkey,
							 size_t hexlen, const char *s)
{
	w = put(w, hexkey, hexlen);
	w += sink_hex(w, SIZE_MAX, &s);
	*w++ = '"';
	return w;
}

static inline char *put_name(char *w, const char *key, size_t keylen, const char *hexkey,
			     size_t hexlen, const char *s)
{
	bool bad = false;

	w = put(w, key, keylen);
	*w++ = '"';
	w = sink_json_put(w, s, &bad);
	*w++ = '"';
	return bad ? put_hex_sibling(w, hexkey, hexlen, s) : w;
}

/* ,"KEY":"the name" (and ,"KEY_hex":"..." when it is not UTF-8); KEY a string literal. */
#define field(w, KEY, s) \
	put_name((w), ",\"" KEY "\":", sizeof(",\"" KEY "\":") - 1, \
		 ",\"" KEY "_hex\":\"", sizeof(",\"" KEY "_hex\":\"") - 1, (s))

/* put_name() for a text of any length: in one piece when it fits the buffer. */
static void jb_name(struct jb *b, const char *key, size_t keylen, const char *hexkey,
		    size_t hexlen, const char *s)
{
	size_t most = keylen + hexlen + 8 * strlen(s) + 3;

	if (most <= b->size) {
		b->len = (size_t)(put_name(jb_room(b, most), key, keylen, hexkey, hexlen, s) -
				  b->buf);
		return;
	}
	jb_put(b, key, keylen);
	if (jb_str(b, s))
		jb_hex(b, hexkey, hexlen, s);
}

/* field() for texts of any length. */
#define jb_field(b, KEY, s) \
	jb_name((b), ",\"" KEY "\":", sizeof(",\"" KEY "\":") - 1, \
		",\"" KEY "_hex\":\"", sizeof(",\"" KEY "_hex\":\"") - 1, (s))
/* The same for the first field of an object: no comma before it. */
#define jb_field_first(b, KEY, s) \
	jb_name((b), "\"" KEY "\":", sizeof("\"" KEY "\":") - 1, \
		",\"" KEY "_hex\":\"", sizeof(",\"" KEY "_hex\":\"") - 1, (s))

static char *put_proto(char *w, uint8_t proto)
{
	const char *n = pkt_proto_name(proto);

	w = lit(w, "\"proto\":");
	if (!n)
		return sink_put_u64(w, proto);
	*w++ = '"';
	w = put_plain(w, n);
	*w++ = '"';
	return w;
}

/* An address, quoted: it needs no escaping. */
static char *put_addr(char *w, const struct pkt_hdr *h, bool dst)
{
	*w++ = '"';
	w = sink_put_addr(w, h, dst);
	*w++ = '"';
	return w;
}

static char *put_addrs(char *w, const struct pkt_hdr *h)
{
	if (h->family != AF_INET && h->family != AF_INET6)
		return w;
	w = lit(w, ",\"src\":");
	w = put_addr(w, h, false);
	if (h->has_ports) {
		w = lit(w, ",\"sport\":");
		w = sink_put_u64(w, h->sport);
	}
	w = lit(w, ",\"dst\":");
	w = put_addr(w, h, true);
	if (h->has_ports) {
		w = lit(w, ",\"dport\":");
		w = sink_put_u64(w, h->dport);
	}
	return w;
}

/* "10.0.0.1:53", "[2001:db8::1]:53", or the address alone when there are no ports. */
static char *put_endpoint(char *w, const struct pkt_hdr *h, bool dst)
{
	bool v6 = h->family == AF_INET6 && h->has_ports;

	w = v6 ? lit(w, "\"[") : lit(w, "\"");
	w = sink_put_addr(w, h, dst);
	if (h->has_ports) {
		w = v6 ? lit(w, "]:") : lit(w, ":");
		w = sink_put_u64(w, dst ? h->dport : h->sport);
	}
	*w++ = '"';
	return w;
}

/*
 * "nat" on the step where the kernel changed addresses or ports (struct packet_nat):
 * {"src":[before, after]} and/or {"dst":[before, after]}, each endpoint as "addr:port"
 * ("[v6]:port", or the address alone without ports); with "by":"conntrack" and the "hook"
 * it happened in when no NAT rule of this path did it (a reply's reverse NAT).
 */
static char *put_nat(char *w, const struct packet_nat *n)
{
	const char *hook = trace_hook_name(n->hook);

	w = lit(w, ",\"nat\":{");
	if (n->src) {
		w = lit(w, "\"src\":[");
		w = put_endpoint(w, n->before, false);
		*w++ = ',';
		w = put_endpoint(w, n->after, false);
		*w++ = ']';
	}
	if (n->dst) {
		w = n->src ? lit(w, ",\"dst\":[") : lit(w, "\"dst\":[");
		w = put_endpoint(w, n->before, true);
		*w++ = ',';
		w = put_endpoint(w, n->after, true);
		*w++ = ']';
	}
	if (n->conntrack) {
		w = lit(w, ",\"by\":\"conntrack\"");
		if (hook) {
			w = lit(w, ",\"hook\":\"");
			w = put_plain(w, hook);
			*w++ = '"';
		}
	}
	*w++ = '}';
	return w;
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
static char *put_ct_view(char *w, const struct trace_record *r)
{
	char st[CT_STATUS_JSON_MAX];

	w = lit(w, ",\"ct\":{\"id\":");
	w = sink_put_u64(w, r->ct_id);
	w = lit(w, ",\"state\":\"");
	w = put_plain(w, ct_state_name(r->ct_state));
	w = lit(w, "\",\"dir\":\"");
	w = r->ct_dir == IP_CT_DIR_ORIGINAL ? lit(w, "original") : lit(w, "reply");
	w = lit(w, "\",\"status\":");
	w = put_plain(w, ct_status_json(st, sizeof(st), r->ct_status));
	*w++ = '}';
	return w;
}

/*
 * The names record.h gives the enums, as literals: a constant copy each, the fields of
 * every step. An unknown value writes nothing (hook) or "?" (as trace_*_name()).
 */
#define HOOK_CASE(v, name) case v: return lit(w, ",\"hook\":\"" name "\"");
static char *put_hook(char *w, int hook)
{
	switch (hook) {
	TRACE_HOOK_NAMES(HOOK_CASE)
	}
	return w;
}

#define KIND_CASE(v, name) case v: return lit(w, ",\"kind\":\"" name "\"");
static char *put_kind(char *w, enum trace_kind kind)
{
	switch (kind) {
	TRACE_KIND_NAMES(KIND_CASE)
	}
	return lit(w, ",\"kind\":\"?\"");
}

#define BACKEND_CASE(v, name) case v: return lit(w, "\"backend\":\"" name "\"");
static char *put_backend(char *w, enum trace_backend backend)
{
	switch (backend) {
	TRACE_BACKEND_NAMES(BACKEND_CASE)
	}
	return lit(w, "\"backend\":\"?\"");
}

static char *put_ifs(char *w, const struct trace_record *r)
{
	w = field(w, "in", r->in);
	w = field(w, "out", r->out);
	if (r->physin[0])
		w = field(w, "physin", r->physin);
	if (r->physout[0])
		w = field(w, "physout", r->physout);
	return w;
}

/*
 * One step object; @nat is the NAT change the kernel made at this step (NULL: none).
 * @node: the packet crossed several nodes, each step says which (--merge).
 */
static void put_step(struct jb *b, const struct trace_record *r, const struct packet_nat *nat,
		     bool node)
{
	const char *family;
	char *w;

	jb_c(b, '{');
	if (node && r->node) {
		jb_field_first(b, "node", r->node);
		jb_c(b, ',');
	}
	w = jb_begin(b);
	w = put_backend(w, r->backend);
	w = field(w, "table", r->table);
	w = field(w, "chain", r->chain);
	w = put_kind(w, r->kind);
	if (r->backend == TRACE_BACKEND_LEGACY) {
		w = lit(w, ",\"rulenum\":");
		w = sink_put_u64(w, r->rulenum);
	} else if (r->handle) {
		w = lit(w, ",\"handle\":");
		w = sink_put_u64(w, r->handle);
	}
	jb_end(b, w);
	put_rule(b, r);

	w = jb_begin(b);
	if (r->order_unknown)
		w = lit(w, ",\"order\":\"unknown\"");
	family = r->backend == TRACE_BACKEND_NFT ? nftrace_family_name(r->table_family) : NULL;
	if (family) {
		w = lit(w, ",\"family\":\"");
		w = put_plain(w, family);
		*w++ = '"';
	}
	if (r->has_ct)
		w = put_ct_view(w, r);
	w = put_hook(w, r->hook);
	w = put_ifs(w, r);
	w = put_addrs(w, &r->pkt);
	/* Per step: one lower after each routing decision, and across nodes (--merge). */
	if (r->pkt.family == AF_INET || r->pkt.family == AF_INET6) {
		w = lit(w, ",\"ttl\":");
		w = sink_put_u64(w, r->pkt.ttl);
	}
	if (nat)
		w = put_nat(w, nat);
	if (r->mark)
		w += snprintf(w, 32, ",\"mark\":\"0x%" PRIx32 "\"", r->mark);
	if (r->ts_ns) {
		w = lit(w, ",\"ts\":\"");
		w = sink_put_time(w, r->ts_ns);
		*w++ = '"';
	}
	if (r->uptime_ns)	/* --read: the kernel's seconds since boot on the line */
		w += snprintf(w, 48, ",\"uptime\":%" PRIu64 ".%06" PRIu64,
			      r->uptime_ns / 1000000000u, r->uptime_ns % 1000000000u / 1000u);
	*w++ = '}';
	jb_end(b, w);
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
	char after[16 + 2 * TRACE_NFT_NAME_MAX];

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
	char		buf[2 * PART_MAX];
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
	const struct pkt_hdr *h = &packet_first(p)->pkt;
	struct json_line line;
	struct jb *b = json_jb(s, &line);
	bool multi = sink_multi_node(p);
	uint32_t hash;
	char *w;

	w = jb_begin(b);
	w = lit(w, "{\"type\":\"packet\",\"id\":\"");
	w = sink_put_u64(w, p->id);
	*w++ = '"';
	jb_end(b, w);
	/* Where it was first seen; each step says its own when there were several. */
	if (p->steps[0].node)
		jb_field(b, "node", p->steps[0].node);
	w = jb_begin(b);
	w = lit(w, ",\"family\":\"");
	w = put_plain(w, h->family == AF_INET6 ? "ipv6" : h->family == AF_INET ? "ipv4" :
			 "unknown");
	w = lit(w, "\",");
	w = put_proto(w, h->proto);
	w = put_addrs(w, h);
	w = lit(w, ",\"len\":");
	w = sink_put_u64(w, h->len);
	if (h->family == AF_INET) {
		w = lit(w, ",\"ipid\":");
		w = sink_put_u64(w, h->ipid);
	}
	/* On the packet only: no step can change them (NAT rewrites an error's inner header). */
	if ((h->proto == IPPROTO_ICMP || h->proto == IPPROTO_ICMPV6) && h->has_l4) {
		w = lit(w, ",\"icmp_type\":");
		w = sink_put_u64(w, h->icmp_type);
		w = lit(w, ",\"icmp_code\":");
		w = sink_put_u64(w, h->icmp_code);
	}
	hash = pkt_head_hash(packet_first(p));
	if (hash) {
		w = lit(w, ",\"payload_hash\":\"");
		w = put_hex32(w, hash);
		*w++ = '"';
	}
	if (p->steps_dropped) {
		w = lit(w, ",\"steps_dropped\":");
		w = sink_put_u64(w, p->steps_dropped);
	}
	jb_end(b, w);
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
	if (sum->foreign)
		fprintf(s->out, ",\"foreign\":%" PRIu64, sum->foreign);
	if (sum->filtered)
		fprintf(s->out, ",\"filtered\":%" PRIu64, sum->filtered);
	if (sum->marked_only)
		fprintf(s->out, ",\"marked_only\":%" PRIu64, sum->marked_only);
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
