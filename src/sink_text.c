/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_text.c: text for people — a header per packet, one aligned line per step */
#include <inttypes.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "iptrace/pkt.h"
#include "iptrace/natlog.h"
#include "iptrace/sink.h"

#define C_BOLD	"\033[1m"
#define C_NAT	"\033[1;33m"
#define C_DIM	"\033[2m"
#define C_ACCEPT "\033[32m"
#define C_DROP	"\033[1;31m"
#define C_JUMP	"\033[36m"
#define C_OFF	"\033[0m"

static const char *col(const struct sink *s, const char *code)
{
	return s->opts.color ? code : "";
}

/* "10.0.0.1:53", "[2001:db8::1]:53" or just the address when there are no ports. */
static void endpoint(const struct pkt_hdr *h, bool dst, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	sink_fmt_addr(h, dst, a, sizeof(a));
	if (!h->has_ports)
		snprintf(buf, size, "%s", a);
	else if (h->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, dst ? h->dport : h->sport);
	else
		snprintf(buf, size, "%s:%u", a, dst ? h->dport : h->sport);
}

static void proto_str(uint8_t proto, char *buf, size_t size)
{
	const char *n = pkt_proto_name(proto);

	if (n)
		snprintf(buf, size, "%s", n);
	else
		snprintf(buf, size, "proto-%u", proto);
}

static int text_begin(struct sink *s)
{
	(void)s;
	return 0;
}

/* NAT between two steps, on a line of its own under the verdict column. */
static void put_nat(struct sink *s, const struct pkt_hdr *prev, const struct pkt_hdr *cur,
		    int indent)
{
	bool sc, dc;
	char a[64], b[64];

	if (prev->family != cur->family || !cur->family)
		return;
	sc = memcmp(&prev->saddr, &cur->saddr, sizeof(cur->saddr)) || prev->sport != cur->sport;
	dc = memcmp(&prev->daddr, &cur->daddr, sizeof(cur->daddr)) || prev->dport != cur->dport;
	if (!sc && !dc)
		return;
	fprintf(s->out, "%*s%s\u21b3", indent, "", col(s, C_NAT));
	if (sc) {
		endpoint(prev, false, a, sizeof(a));
		endpoint(cur, false, b, sizeof(b));
		fprintf(s->out, " src %s \u2192 %s", a, b);
	}
	if (dc) {
		endpoint(prev, true, a, sizeof(a));
		endpoint(cur, true, b, sizeof(b));
		fprintf(s->out, "%s dst %s \u2192 %s", sc ? "," : "", a, b);
	}
	fprintf(s->out, "%s\n", col(s, C_OFF));
}

/* What a verdict looks like at a glance: accepted green, dropped red, NAT yellow. */
static const char *verdict_color(const struct trace_record *r)
{
	static const char *const nat[] = { "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP" };
	const char *v = r->verdict;

	if (!v)
		return C_DIM;
	if (strcmp(v, "ACCEPT") == 0)
		return C_ACCEPT;
	if (strcmp(v, "DROP") == 0 || strcmp(v, "REJECT") == 0)
		return C_DROP;
	for (size_t i = 0; i < sizeof(nat) / sizeof(nat[0]); i++)
		if (strcmp(v, nat[i]) == 0)
			return C_NAT;
	if (strncmp(v, "jump ", 5) == 0 || strncmp(v, "goto ", 5) == 0)
		return C_JUMP;
	return "";
}

static void verdict_str(const struct trace_record *r, char *buf, size_t size)
{
	if (!r->verdict)
		snprintf(buf, size, "%s", r->rule_reason ? "?" : "");
	else
		snprintf(buf, size, "%s%s", r->verdict, r->verdict_continues ? " (continue)" : "");
}

static void where_str(const struct trace_record *r, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	if (r->in[0])
		n += (size_t)snprintf(buf + n, size - n, "in %s", r->in);
	if (r->out[0] && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sout %s", n ? " " : "", r->out);
	if ((r->physin[0] || r->physout[0]) && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sphys %s>%s", n ? " " : "", r->physin,
				      r->physout);
	if (r->mark && n < size)
		snprintf(buf + n, size - n, "%smark 0x%" PRIx32, n ? " " : "", r->mark);
}

static void kind_str(const struct trace_record *r, char *buf, size_t size)
{
	if (r->backend == TRACE_BACKEND_NFT && r->handle)
		snprintf(buf, size, "%s #%" PRIu64, trace_kind_name(r->kind), r->handle);
	else if (r->backend == TRACE_BACKEND_NFT)
		snprintf(buf, size, "%s", trace_kind_name(r->kind));
	else
		snprintf(buf, size, "%s %" PRIu32, trace_kind_name(r->kind), r->rulenum);
}

static int width(const char *s, int w)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

/* "  node A", or for a packet seen on several nodes "  nodes A → B", in the order crossed. */
static void put_nodes(struct sink *s, const struct packet *p, bool multi)
{
	const char *last = NULL;

	if (!multi) {
		if (s->opts.show_node && p->steps[0].node)
			fprintf(s->out, "  node %s", p->steps[0].node);
		return;
	}
	fputs("  nodes", s->out);
	for (size_t i = 0; i < p->nsteps; i++) {
		const char *n = p->steps[i].node ? p->steps[i].node : "?";

		if (last && strcmp(n, last) == 0)
			continue;
		fprintf(s->out, "%s%s", last ? " \u2192 " : " ", n);
		last = n;
	}
}

/*
 * One line per step, in aligned columns: table, chain, kind and number, verdict, the
 * interfaces (and mark), then the rule as iptables-save prints it — last, as it is the
 * widest. NAT shows as its own line between the steps it happened between. A packet seen
 * on several nodes (--merge) gets a first column: the node of each step.
 */
static int text_packet(struct sink *s, const struct packet *p)
{
	const struct trace_record *first = &p->steps[0];
	const struct pkt_hdr *h = &first->pkt;
	char src[64], dst[64], proto[16], ts[40], where[96], kind[32], verdict[48];
	bool multi = sink_multi_node(p);
	int wn = 0, wt = 5, wc = 5, wk = 6, wv = 0, ww = 0;
	FILE *f = s->out;

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];

		if (multi)
			wn = width(r->node ? r->node : "?", wn);
		wt = width(r->table, wt);
		wc = width(r->chain, wc);
		kind_str(r, kind, sizeof(kind));
		wk = width(kind, wk);
		verdict_str(r, verdict, sizeof(verdict));
		wv = width(verdict, wv);
		where_str(r, where, sizeof(where));
		ww = width(where, ww);
	}
	endpoint(h, false, src, sizeof(src));
	endpoint(h, true, dst, sizeof(dst));
	proto_str(h->proto, proto, sizeof(proto));
	fprintf(f, "%spacket %" PRIu64 "%s  %s %s \u2192 %s", col(s, C_BOLD), p->id, col(s, C_OFF),
		proto, src, dst);
	if (h->family == AF_INET)
		fprintf(f, "  id %u", h->ipid);
	fprintf(f, "  len %u  %s", h->len, sink_fmt_time(first->ts_ns, ts, sizeof(ts)));
	put_nodes(s, p, multi);
	fputc('\n', f);
	if (p->ct) {
		fputs("  ", f);
		ct_print_text_line(f, p->ct);
	}
	bool ct_seen = false;
	uint32_t ct_state = 0;
	uint8_t ct_dir = 0;

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		int indent = 2 + (wn ? wn + 1 : 0) + wt + 1 + wc + 1 + wk + 1;

		if (i)
			put_nat(s, &p->steps[i - 1].pkt, &r->pkt, indent);
		kind_str(r, kind, sizeof(kind));
		verdict_str(r, verdict, sizeof(verdict));
		where_str(r, where, sizeof(where));
		fputs("  ", f);
		if (wn)
			fprintf(f, "%-*s ", wn, r->node ? r->node : "?");
		fprintf(f, "%-*s %-*s %-*s ", wt, r->table, wc, r->chain, wk, kind);
		if (wv)
			fprintf(f, "%s%-*s%s ", col(s, verdict_color(r)), wv, verdict, col(s, C_OFF));
		if (r->rule)
			fprintf(f, "%-*s  %s\n", ww, where, r->rule);
		else if (r->rule_reason)
			fprintf(f, "%-*s  %s(%s)%s\n", ww, where, col(s, C_DIM), r->rule_reason,
				col(s, C_OFF));
		else
			fprintf(f, "%s\n", where);
		/* Conntrack as the kernel saw it (nft records): said when it first shows or changes. */
		if (r->has_ct && (!ct_seen || r->ct_state != ct_state || r->ct_dir != ct_dir)) {
			fprintf(f, "%*s%s\u21b3 ct %s %s, id %" PRIu32 "%s\n", indent, "", col(s, C_DIM),
				ct_state_name(r->ct_state), r->ct_dir ? "reply" : "original", r->ct_id,
				col(s, C_OFF));
			ct_seen = true;
			ct_state = r->ct_state;
			ct_dir = r->ct_dir;
		}
	}
	if (p->steps_dropped)
		fprintf(f, "  (%" PRIu32 " more steps not kept)\n", p->steps_dropped);
	fputc('\n', f);
	return sink_flush(s);
}

static int text_record(struct sink *s, const struct trace_record *r)
{
	char src[64], dst[64], proto[16];

	endpoint(&r->pkt, false, src, sizeof(src));
	endpoint(&r->pkt, true, dst, sizeof(dst));
	proto_str(r->pkt.proto, proto, sizeof(proto));
	fprintf(s->out, "%s:%s:%s:%" PRIu32 " in=%s out=%s", r->table, r->chain,
		trace_kind_name(r->kind), r->rulenum, r->in, r->out);
	if (s->opts.show_node && r->node)
		fprintf(s->out, " node=%s", r->node);
	fprintf(s->out, " %s %s \u2192 %s", proto, src, dst);
	if (r->pkt.family == AF_INET)
		fprintf(s->out, " id %u", r->pkt.ipid);
	if (r->verdict)
		fprintf(s->out, "  %s%s%s%s", col(s, verdict_color(r)), r->verdict,
			r->verdict_continues ? " (continue)" : "", col(s, C_OFF));
	if (r->rule)
		fprintf(s->out, "  %s", r->rule);
	else if (r->rule_reason)
		fprintf(s->out, "  %s(%s)%s", col(s, C_DIM), r->rule_reason, col(s, C_OFF));
	fputc('\n', s->out);
	return 0;
}

static int text_end(struct sink *s, const struct summary *sum)
{
	(void)s;
	(void)sum;
	return 0;	/* the text summary goes to stderr, from main */
}

const struct sink_ops sink_text_ops = {
	.name = "text",
	.begin = text_begin,
	.packet = text_packet,
	.record = text_record,
	.end = text_end,
};
