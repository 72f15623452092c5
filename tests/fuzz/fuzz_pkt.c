/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_pkt.c: libFuzzer harness — raw L3 bytes through pkt_decode and the log dumper */
#include <sys/socket.h>

#include "iptrace/logline.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input: one byte choosing the family pkt_decode is told (as the nfgenmsg family would:
 * 0, AF_INET or AF_INET6), then the bytes NFULA_PAYLOAD carried.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int families[] = { 0, AF_INET, AF_INET6 };
	struct trace_record rec = { .kind = TRACE_KIND_RULE, .table = "", .chain = "",
				    .verdict_chain = "" };
	char a[64];
	uint8_t *p;
	size_t len;
	int family;

	if (size < 1)
		return -1;
	family = families[data[0] % 3];
	len = size - 1;
	p = fuzz_dup(data + 1, len);
	if (pkt_decode(p, len, family, &rec.pkt) == 0) {
		if (rec.pkt.family != AF_INET && rec.pkt.family != AF_INET6)
			abort();
		pkt_proto_name(rec.pkt.proto);
		sink_fmt_addr(&rec.pkt, false, a, sizeof(a));
		sink_fmt_addr(&rec.pkt, true, a, sizeof(a));
	}
	/* The same bytes as a live record keeps them: the log format dumps raw[]. */
	rec.raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
	memcpy(rec.raw, p, rec.raw_len);
	rec.ifindex_in = 1;
	if (logline_format(fuzz_null(), &rec) < 0)
		abort();
	/* And as a record parsed from text is printed: rebuilt from the decoded fields. */
	rec.raw_len = 0;
	if (logline_format(fuzz_null(), &rec) < 0)
		abort();
	free(p);
	return 0;
}
