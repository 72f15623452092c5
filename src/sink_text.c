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

/*
 * A NAT change on a line of its own under the verdict column, below the step it belongs to;
 * conntrack's own (no rule of this path chose it) says so, and at which nat hook.
 */
static void put_nat(struct sink *s, const struct packet_nat *n, int indent)
{
	const char *hook = trace_hook_name(n->hook);
	char a[64], b[64];

	fprintf(s->out, "%*s%s\u21b3", indent, "", col(s, C_NAT));
	if (n->src) {
		endpoint(n->before, false, a, sizeof(a));
		endpoint(n->after, false, b, sizeof(b));
		fprintf(s->out, " src %s \u2192 %s", a, b);
	}
	if (n->dst) {
		endpoint(n->before, true, a, sizeof(a));
		endpoint(n->after, true, b, sizeof(b));
		fprintf(s->out, "%s dst %s \u2192 %s", n->src ? "," : "", a, b);
	}
	if (n->conntrack)
		fprintf(s->out, " (conntrack%s%s)", hook ? ", at nat " : "", hook ? hook : "");
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

/*
 * A step's columns as text. Names are whatever a namespace's root chose: escaped
 * (sink_text_escape()), so no name can move the cursor, set a title or start a colour.
 */
#define NAME_TEXT	SINK_TEXT_NAME_MAX(TRACE_NFT_NAME_MAX)
#define NODE_TEXT	SINK_TEXT_NAME_MAX(TRACE_NODE_MAX)
#define IF_TEXT		SINK_TEXT_NAME_MAX(IF_NAMESIZE)
#define VERDICT_TEXT	SINK_TEXT_NAME_MAX(16 + TRACE_NFT_NAME_MAX)	/* "jump CHAIN" */
struct step_text {
	char	table[SINK_TABLE_MAX], chain[NAME_TEXT];
	char	kind[32];
	char	verdict[VERDICT_TEXT + 16];
	char	where[4 * IF_TEXT + 32];
};

static void verdict_str(const struct trace_record *r, char *buf, size_t size)
{
	char v[VERDICT_TEXT];

	if (!r->verdict)
		snprintf(buf, size, "%s", r->rule_reason ? "?" : "");
	else
		snprintf(buf, size, "%s%s", sink_text_name(r->verdict, v, sizeof(v)),
			 r->verdict_continues ? " (continue)" : "");
}

static void where_str(const struct trace_record *r, char *buf, size_t size)
{
	char a[IF_TEXT], b[IF_TEXT];
	size_t n = 0;

	buf[0] = '\0';
	if (r->in[0])
		n += (size_t)snprintf(buf + n, size - n, "in %s", sink_text_name(r->in, a, sizeof(a)));
	if (r->out[0] && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sout %s", n ? " " : "",
				      sink_text_name(r->out, a, sizeof(a)));
	if ((r->physin[0] || r->physout[0]) && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sphys %s>%s", n ? " " : "",
				      sink_text_name(r->physin, a, sizeof(a)),
				      sink_text_name(r->physout, b, sizeof(b)));
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

static void step_text(const struct trace_record *r, struct step_text *t)
{
	sink_fmt_table(r, t->table, sizeof(t->table));
	sink_text_name(r->chain, t->chain, sizeof(t->chain));
	kind_str(r, t->kind, sizeof(t->kind));
	verdict_str(r, t->verdict, sizeof(t->verdict));
	where_str(r, t->where, sizeof(t->where));
}

static int width(const char *s, int w)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

/* A step's node as text shows names (escaped), "?" when it has none. */
static const char *node_text(const struct trace_record *r, char *buf, size_t size)
{
	return r->node ? sink_text_name(r->node, buf, size) : "?";
}

/* "  node A", or for a packet seen on several nodes "  nodes A → B", in the order crossed. */
static void put_nodes(struct sink *s, const struct packet *p, bool multi)
{
	char node[NODE_TEXT];
	const char *last = NULL;

	if (!multi) {
		if (s->opts.show_node && p->steps[0].node)
			fprintf(s->out, "  node %s", node_text(&p->steps[0], node, sizeof(node)));
		return;
	}
	fputs("  nodes", s->out);
	for (size_t i = 0; i < p->nsteps; i++) {
		const char *n = p->steps[i].node;

		if (i && (n == last || (n && last && strcmp(n, last) == 0)))
			continue;
		fprintf(s->out, "%s%s", i ? " \u2192 " : " ", node_text(&p->steps[i], node, sizeof(node)));
		last = n;
	}
}

/*
 * One line per step, in aligned columns: table, chain, kind and number, verdict, the
 * interfaces (and mark), then the rule as iptables-save prints it — last, as it is the
 * widest. NAT shows as its own line under the step where the kernel did it; a trace that
 * stopped early says so last. A packet seen on
 * several nodes (--merge) gets a first column: the node of each step.
 */
static void text_steps(struct sink *s, const struct packet *p)
{
	struct step_text t;
	char node[NODE_TEXT];
	bool multi = sink_multi_node(p);
	int wn = 0, wt = 5, wc = 5, wk = 6, wv = 0, ww = 0;
	FILE *f = s->out;
	bool ct_seen = false, unknown = false;
	uint32_t ct_state = 0;
	uint8_t ct_dir = 0;
	size_t k = 0;

	for (size_t i = 0; i < p->nsteps; i++) {
		step_text(&p->steps[i], &t);
		if (multi)
			wn = width(node_text(&p->steps[i], node, sizeof(node)), wn);
		wt = width(t.table, wt);
		wc = width(t.chain, wc);
		wk = width(t.kind, wk);
		wv = width(t.verdict, wv);
		ww = width(t.where, ww);
	}
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		int indent = 2 + (wn ? wn + 1 : 0) + wt + 1 + wc + 1 + wk + 1;

		step_text(r, &t);
		/* "~": its place next to the other backend's steps at this hook is not known. */
		fputc(' ', f);
		if (wn)
			fprintf(f, " %-*s", wn, node_text(r, node, sizeof(node)));
		fprintf(f, "%c%-*s %-*s %-*s ", r->order_unknown ? '~' : ' ', wt, t.table, wc,
			t.chain, wk, t.kind);
		unknown |= r->order_unknown;
		if (wv)
			fprintf(f, "%s%-*s%s ", col(s, verdict_color(r)), wv, t.verdict, col(s, C_OFF));
		if (r->rule) {
			fprintf(f, "%-*s  ", ww, t.where);
			sink_text_put(f, r->rule);
			fputc('\n', f);
		} else if (r->rule_reason) {
			fprintf(f, "%-*s  %s(", ww, t.where, col(s, C_DIM));
			sink_text_put(f, r->rule_reason);
			fprintf(f, ")%s\n", col(s, C_OFF));
		} else {
			fprintf(f, "%s\n", t.where);
		}
		/* Conntrack as the kernel saw it (nft records): said when it first shows or changes. */
		if (r->has_ct && (!ct_seen || r->ct_state != ct_state || r->ct_dir != ct_dir)) {
			fprintf(f, "%*s%s\u21b3 ct %s %s, id %" PRIu32 "%s\n", indent, "", col(s, C_DIM),
				ct_state_name(r->ct_state), r->ct_dir ? "reply" : "original", r->ct_id,
				col(s, C_OFF));
			ct_seen = true;
			ct_state = r->ct_state;
			ct_dir = r->ct_dir;
		}
		for (; k < p->nnat && p->nat[k].step <= i; k++)
			if (p->nat[k].step == i)
				put_nat(s, &p->nat[k], indent);
	}
	if (p->steps_dropped)
		fprintf(f, "  (%" PRIu32 " more steps not kept)\n", p->steps_dropped);
	if (unknown)
		fprintf(f, "  %s(~ legacy and nft steps at one hook and priority: which ran first is "
			"not known)%s\n", col(s, C_DIM), col(s, C_OFF));
	if (p->ended_hint && p->nsteps) {
		step_text(&p->steps[p->nsteps - 1], &t);
		fprintf(f, "  %s\u2717 ended after %s %s: %s%s\n", col(s, C_DROP), t.table, t.chain,
			p->ended_hint, col(s, C_OFF));
	}
}

void sink_text_steps(FILE *f, const struct packet *p)
{
	struct sink t = { .ops = &sink_text_ops, .out = f };

	text_steps(&t, p);
}

/* The header line (and the conntrack entry, --nat), then the steps. */
static int text_packet(struct sink *s, const struct packet *p)
{
	const struct trace_record *first = packet_first(p);
	const struct pkt_hdr *h = &first->pkt;
	char src[64], dst[64], proto[16], ts[40];
	FILE *f = s->out;

	endpoint(h, false, src, sizeof(src));
	endpoint(h, true, dst, sizeof(dst));
	proto_str(h->proto, proto, sizeof(proto));
	fprintf(f, "%spacket %" PRIu64 "%s  %s %s \u2192 %s", col(s, C_BOLD), p->id, col(s, C_OFF),
		proto, src, dst);
	if ((h->proto == IPPROTO_ICMP || h->proto == IPPROTO_ICMPV6) && h->has_l4) {
		const char *name = pkt_icmp_name(h->proto, h->icmp_type, h->icmp_code);

		if (name)
			fprintf(f, "  %s", name);
		else
			fprintf(f, "  type %u code %u", h->icmp_type, h->icmp_code);
	}
	if (h->family == AF_INET)
		fprintf(f, "  id %u", h->ipid);
	fprintf(f, "  len %u  %s", h->len, sink_fmt_time(first->ts_ns, ts, sizeof(ts)));
	if (first->uptime_ns)	/* --read: the kernel's seconds since boot on the line */
		fprintf(f, "%suptime %" PRIu64 ".%06" PRIu64, first->ts_ns ? "  " : "",
			first->uptime_ns / 1000000000u, first->uptime_ns % 1000000000u / 1000u);
	put_nodes(s, p, sink_multi_node(p));
	fputc('\n', f);
	if (p->ct) {
		fputs("  ", f);
		ct_print_text_line(f, p->ct);
	}
	text_steps(s, p);
	fputc('\n', f);
	return sink_flush(s);
}

static int text_record(struct sink *s, const struct trace_record *r)
{
	char src[64], dst[64], proto[16], in[IF_TEXT], out[IF_TEXT], node[NODE_TEXT];
	struct step_text t;

	endpoint(&r->pkt, false, src, sizeof(src));
	endpoint(&r->pkt, true, dst, sizeof(dst));
	proto_str(r->pkt.proto, proto, sizeof(proto));
	step_text(r, &t);
	fprintf(s->out, "%s:%s:%s:%" PRIu32 " in=%s out=%s", t.table, t.chain,
		trace_kind_name(r->kind), r->rulenum, sink_text_name(r->in, in, sizeof(in)),
		sink_text_name(r->out, out, sizeof(out)));
	if (s->opts.show_node && r->node)
		fprintf(s->out, " node=%s", node_text(r, node, sizeof(node)));
	fprintf(s->out, " %s %s \u2192 %s", proto, src, dst);
	if (r->pkt.family == AF_INET)
		fprintf(s->out, " id %u", r->pkt.ipid);
	if (r->verdict)
		fprintf(s->out, "  %s%s%s", col(s, verdict_color(r)), t.verdict, col(s, C_OFF));
	if (r->rule) {
		fputs("  ", s->out);
		sink_text_put(s->out, r->rule);
	} else if (r->rule_reason) {
		fprintf(s->out, "  %s(", col(s, C_DIM));
		sink_text_put(s->out, r->rule_reason);
		fprintf(s->out, ")%s", col(s, C_OFF));
	}
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
