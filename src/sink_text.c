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

static void put_nat(struct sink *s, const struct pkt_hdr *prev, const struct pkt_hdr *cur)
{
	char a[64], b[64];

	if (prev->family != cur->family || !cur->family)
		return;
	if (memcmp(&prev->saddr, &cur->saddr, sizeof(cur->saddr)) || prev->sport != cur->sport) {
		endpoint(prev, false, a, sizeof(a));
		endpoint(cur, false, b, sizeof(b));
		fprintf(s->out, "  %ssrc %s \u2192 %s%s", col(s, C_NAT), a, b, col(s, C_OFF));
	}
	if (memcmp(&prev->daddr, &cur->daddr, sizeof(cur->daddr)) || prev->dport != cur->dport) {
		endpoint(prev, true, a, sizeof(a));
		endpoint(cur, true, b, sizeof(b));
		fprintf(s->out, "  %sdst %s \u2192 %s%s", col(s, C_NAT), a, b, col(s, C_OFF));
	}
}

static int text_packet(struct sink *s, const struct packet *p)
{
	const struct trace_record *first = &p->steps[0];
	const struct pkt_hdr *h = &first->pkt;
	char src[64], dst[64], proto[16], ts[40], where[64];
	int wt = 5, wc = 5, wk = 6;
	FILE *f = s->out;

	for (size_t i = 0; i < p->nsteps; i++) {
		int n = (int)strlen(p->steps[i].table), m = (int)strlen(p->steps[i].chain);

		wt = n > wt ? n : wt;
		wc = m > wc ? m : wc;
	}
	endpoint(h, false, src, sizeof(src));
	endpoint(h, true, dst, sizeof(dst));
	proto_str(h->proto, proto, sizeof(proto));
	fprintf(f, "%spacket %" PRIu64 "%s  %s %s \u2192 %s", col(s, C_BOLD), p->id, col(s, C_OFF),
		proto, src, dst);
	if (h->family == AF_INET)
		fprintf(f, "  id %u", h->ipid);
	fprintf(f, "  len %u  %s\n", h->len, sink_fmt_time(first->ts_ns, ts, sizeof(ts)));
	if (p->ct) {
		fputs("  ", f);
		ct_print_text_line(f, p->ct);
	}
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		char kind[32];

		if (r->backend == TRACE_BACKEND_NFT && r->handle)
			snprintf(kind, sizeof(kind), "%s #%" PRIu64, trace_kind_name(r->kind), r->handle);
		else if (r->backend == TRACE_BACKEND_NFT)
			snprintf(kind, sizeof(kind), "%s", trace_kind_name(r->kind));
		else
			snprintf(kind, sizeof(kind), "%s %" PRIu32, trace_kind_name(r->kind), r->rulenum);
		where[0] = '\0';
		if (r->in[0] || r->out[0])
			snprintf(where, sizeof(where), "%s%s%s%s%s", r->in[0] ? "in " : "", r->in,
				 r->in[0] && r->out[0] ? " " : "", r->out[0] ? "out " : "", r->out);
		fprintf(f, "  %-*s %-*s %-*s %-20s", wt, r->table, wc, r->chain, wk + 4, kind, where);
		if (r->physin[0] || r->physout[0])
			fprintf(f, " %sphys %s>%s%s", col(s, C_DIM), r->physin, r->physout, col(s, C_OFF));
		if (r->mark)
			fprintf(f, " mark 0x%" PRIx32, r->mark);
		if (i)
			put_nat(s, &p->steps[i - 1].pkt, &r->pkt);
		fputc('\n', f);
	}
	if (p->steps_dropped)
		fprintf(f, "  (%" PRIu32 " more steps not kept)\n", p->steps_dropped);
	fputc('\n', f);
	return fflush(f) == EOF ? -1 : 0;
}

static int text_record(struct sink *s, const struct trace_record *r)
{
	char src[64], dst[64], proto[16];

	endpoint(&r->pkt, false, src, sizeof(src));
	endpoint(&r->pkt, true, dst, sizeof(dst));
	proto_str(r->pkt.proto, proto, sizeof(proto));
	fprintf(s->out, "%s:%s:%s:%" PRIu32 " in=%s out=%s %s %s \u2192 %s", r->table, r->chain,
		trace_kind_name(r->kind), r->rulenum, r->in, r->out, proto, src, dst);
	if (r->pkt.family == AF_INET)
		fprintf(s->out, " id %u", r->pkt.ipid);
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
