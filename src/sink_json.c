/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_json.c: JSON lines — one packet object per line, the summary object last */
#include <inttypes.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

static void put_step(FILE *f, const struct trace_record *r)
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
	if (r->backend == TRACE_BACKEND_NFT) {
		/* nft steps: the verdict as nft monitor trace names it, and the table's family. */
		const char *fam = nftrace_family_name(r->table_family);

		char v[16 + TRACE_NAME_MAX];

		if (r->has_verdict || r->has_policy) {
			snprintf(v, sizeof(v), "%s%s%s", nftrace_verdict_name(r->has_verdict ?
				 r->verdict : (int32_t)r->policy), r->verdict_chain[0] ? " " : "",
				 r->verdict_chain);
			fputs(",\"verdict\":", f);
			sink_json_str(f, v);
		}
		if (fam)
			fprintf(f, ",\"family\":\"%s\"", fam);
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
	fputs(",\"steps\":[", f);
	for (size_t i = 0; i < p->nsteps; i++) {
		if (i)
			putc(',', f);
		put_step(f, &p->steps[i]);
	}
	fputs("]}\n", f);
	/* Per packet, so `| jq` and `tail -f` see each packet as it completes. */
	return fflush(f) == EOF ? -1 : 0;
}

static int json_record(struct sink *s, const struct trace_record *r)
{
	fputs("{\"type\":\"record\",\"step\":", s->out);
	put_step(s->out, r);
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
