/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_json.c: JSON lines — one packet object per line, the summary object last */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "iptrace/ct.h"
#include "iptrace/natlog.h"
#include "iptrace/nftrace.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"

static void put_proto(FILE *f, uint8_t proto)
{
	const char *n = pkt_proto_name(proto);

	if (n)
		fprintf(f, "\"proto\":\"%s\"", n);
	else
		fprintf(f, "\"proto\":%u", proto);
}

static void put_addrs(FILE *f, const struct pkt_hdr *h)
{
	char a[INET6_ADDRSTRLEN];

	if (h->family != AF_INET && h->family != AF_INET6)
		return;
	fputs(",\"src\":", f);
	sink_json_str(f, sink_fmt_addr(h, false, a, sizeof(a)));
	if (h->has_ports)
		fprintf(f, ",\"sport\":%u", h->sport);
	fputs(",\"dst\":", f);
	sink_json_str(f, sink_fmt_addr(h, true, a, sizeof(a)));
	if (h->has_ports)
		fprintf(f, ",\"dport\":%u", h->dport);
}

/* "10.0.0.1:53", "[2001:db8::1]:53", or the address alone when there are no ports. */
static void put_endpoint(FILE *f, const struct pkt_hdr *h, bool dst)
{
	char a[INET6_ADDRSTRLEN], ep[INET6_ADDRSTRLEN + 10];

	sink_fmt_addr(h, dst, a, sizeof(a));
	if (!h->has_ports)
		snprintf(ep, sizeof(ep), "%s", a);
	else
		snprintf(ep, sizeof(ep), h->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
			 dst ? h->dport : h->sport);
	sink_json_str(f, ep);
}

/*
 * "nat" on a step whose addresses or ports differ from the step before (NAT ran in
 * between): {"src":[before, after]} and/or {"dst":[before, after]}, each endpoint as
 * "addr:port" ("[v6]:port", or the address alone without ports). Absent when nothing changed.
 */
static void put_nat(FILE *f, const struct pkt_hdr *prev, const struct pkt_hdr *cur)
{
	bool s, d;

	if (!prev || prev->family != cur->family || !cur->family)
		return;
	s = memcmp(&prev->saddr, &cur->saddr, sizeof(cur->saddr)) || prev->sport != cur->sport;
	d = memcmp(&prev->daddr, &cur->daddr, sizeof(cur->daddr)) || prev->dport != cur->dport;
	if (!s && !d)
		return;
	fputs(",\"nat\":{", f);
	if (s) {
		fputs("\"src\":[", f);
		put_endpoint(f, prev, false);
		putc(',', f);
		put_endpoint(f, cur, false);
		putc(']', f);
	}
	if (d) {
		fputs(s ? ",\"dst\":[" : "\"dst\":[", f);
		put_endpoint(f, prev, true);
		putc(',', f);
		put_endpoint(f, cur, true);
		putc(']', f);
	}
	putc('}', f);
}

/*
 * The resolver's answer: "rule" (string, or null with "rule_reason"), "verdict", and
 * "continue":true for targets that let the packet go on (MARK, LOG, ...). Absent when no
 * resolver ran (--read, --replay).
 */
static void put_rule(FILE *f, const struct trace_record *r)
{
	if (!r->verdict && !r->rule_reason)
		return;
	fputs(",\"rule\":", f);
	if (r->rule)
		sink_json_str(f, r->rule);
	else
		fputs("null", f);
	if (r->verdict) {
		fputs(",\"verdict\":", f);
		sink_json_str(f, r->verdict);
	}
	if (r->verdict_continues)
		fputs(",\"continue\":true", f);
	if (!r->rule && r->rule_reason) {
		fputs(",\"rule_reason\":", f);
		sink_json_str(f, r->rule_reason);
	}
}

static void put_step(FILE *f, const struct trace_record *r, const struct trace_record *prev)
{
	char ts[40];

	fprintf(f, "{\"backend\":\"%s\",\"table\":", trace_backend_name(r->backend));
	sink_json_str(f, r->table);
	fputs(",\"chain\":", f);
	sink_json_str(f, r->chain);
	fprintf(f, ",\"kind\":\"%s\"", trace_kind_name(r->kind));
	if (r->backend == TRACE_BACKEND_LEGACY)
		fprintf(f, ",\"rulenum\":%" PRIu32, r->rulenum);
	else if (r->handle)
		fprintf(f, ",\"handle\":%" PRIu64, r->handle);
	put_rule(f, r);
	if (r->backend == TRACE_BACKEND_NFT) {
		/* nft steps also name the family of their table. */
		const char *fam = nftrace_family_name(r->table_family);

		if (fam)
			fprintf(f, ",\"family\":\"%s\"", fam);
	}
	if (r->has_ct) {
		/* The conntrack view the kernel attached (nft records, first of a traversal). */
		fprintf(f, ",\"ct\":{\"id\":%" PRIu32 ",\"state\":\"%s\",\"dir\":\"%s\",\"status\":",
			r->ct_id, ct_state_name(r->ct_state), r->ct_dir ? "reply" : "original");
		ct_put_status_json(f, r->ct_status);
		putc('}', f);
	}
	fputs(",\"in\":", f);
	sink_json_str(f, r->in);
	fputs(",\"out\":", f);
	sink_json_str(f, r->out);
	if (r->physin[0]) {
		fputs(",\"physin\":", f);
		sink_json_str(f, r->physin);
	}
	if (r->physout[0]) {
		fputs(",\"physout\":", f);
		sink_json_str(f, r->physout);
	}
	put_addrs(f, &r->pkt);
	put_nat(f, prev ? &prev->pkt : NULL, &r->pkt);
	if (r->mark)
		fprintf(f, ",\"mark\":\"0x%" PRIx32 "\"", r->mark);
	if (r->ts_ns)
		fprintf(f, ",\"ts\":\"%s\"", sink_fmt_time(r->ts_ns, ts, sizeof(ts)));
	putc('}', f);
}

static int json_begin(struct sink *s)
{
	(void)s;
	return 0;
}

static int json_packet(struct sink *s, const struct packet *p)
{
	const struct pkt_hdr *h = &p->steps[0].pkt;
	FILE *f = s->out;

	fprintf(f, "{\"type\":\"packet\",\"id\":\"%" PRIu64 "\",\"family\":\"%s\",", p->id,
		h->family == AF_INET6 ? "ipv6" : h->family == AF_INET ? "ipv4" : "unknown");
	put_proto(f, h->proto);
	put_addrs(f, h);
	fprintf(f, ",\"len\":%u", h->len);
	if (h->family == AF_INET)
		fprintf(f, ",\"ipid\":%u", h->ipid);
	if (p->steps_dropped)
		fprintf(f, ",\"steps_dropped\":%" PRIu32, p->steps_dropped);
	if (p->ct) {
		fputs(",\"ct\":", f);
		ct_print_json_obj(f, p->ct);
	}
	fputs(",\"steps\":[", f);
	for (size_t i = 0; i < p->nsteps; i++) {
		if (i)
			putc(',', f);
		put_step(f, &p->steps[i], i ? &p->steps[i - 1] : NULL);
	}
	fputs("]}\n", f);
	/* Per packet, so `| jq` and `tail -f` see each packet as it completes. */
	return fflush(f) == EOF ? -1 : 0;
}

static int json_record(struct sink *s, const struct trace_record *r)
{
	fputs("{\"type\":\"record\",\"step\":", s->out);
	put_step(s->out, r, NULL);
	fputs("}\n", s->out);
	return 0;
}

static int json_end(struct sink *s, const struct summary *sum)
{
	fprintf(s->out, "{\"type\":\"summary\",\"packets\":%" PRIu64 ",\"records\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"evicted\":%" PRIu64,
		sum->packets, sum->records, sum->lost, sum->dropped, sum->evicted);
	if (sum->marker)
		fprintf(s->out, ",\"marker\":\"%s\"", sum->marker);
	if (sum->limited)
		fprintf(s->out, ",\"unmarked\":%" PRIu64, sum->unmarked);
	fputs("}\n", s->out);
	return fflush(s->out) == EOF ? -1 : 0;
}

const struct sink_ops sink_json_ops = {
	.name = "json",
	.begin = json_begin,
	.packet = json_packet,
	.record = json_record,
	.end = json_end,
};
