/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_sinks.c: the text lines for NAT and early ends, the pcapng blocks, the Graphviz graph */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <cmocka.h>

#include "iptrace/pkt.h"
#include "iptrace/sink.h"
#include "test_step.h"

/* A legacy step of an ICMP echo request 10.0.1.2 > 10.0.2.7 at @hook, in on r0. */
static void step(struct trace_record *r, const char *table, const char *chain, int hook,
		 const char *verdict)
{
	step_rule(r, table, chain, hook);
	r->rulenum = 1;
	strcpy(r->in, "r0");
	r->verdict = verdict;
	r->ts_ns = 1795000000123456789ull;
	hdr_v4(&r->pkt, "10.0.1.2", "10.0.2.7");
	r->pkt.proto = IPPROTO_ICMP;
	r->pkt.has_l4 = true;
	r->pkt.icmp_type = 8;
	r->pkt.icmp_ident = 7;
	r->pkt.len = 84;
	r->pkt.ttl = 64;
}

/* Run @ops over @n packets (begin, packet..., end) into memory; the caller frees it. */
static char *run(const struct sink_ops *ops, const struct packet *p, size_t n, size_t *len)
{
	static const struct summary sum;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct sink s = { .ops = ops, .out = f };

	assert_non_null(f);
	assert_int_equal(ops->begin(&s), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ops->packet(&s, &p[i]), 0);
	assert_int_equal(ops->end(&s, &sum), 0);
	assert_int_equal(fclose(f), 0);
	if (len)
		*len = size;
	return buf;
}

/* ---- text ---- */

static void test_text(void **state)
{
	struct trace_record st[3];
	struct packet_nat nat = { .step = 1, .dst = true, .conntrack = true, .hook = HOOK_PREROUTING };
	struct packet p = { .id = 4, .nsteps = 3, .steps = st, .nnat = 1, .nat = &nat };
	char *out;

	(void)state;
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT");
	step(&st[1], "mangle", "PREROUTING", HOOK_PREROUTING, "ACCEPT");
	step(&st[2], "fw", "forward", HOOK_FORWARD, "accept");
	st[2].backend = TRACE_BACKEND_NFT;
	st[2].table_family = NFPROTO_INET;
	st[2].handle = 12;
	inet_pton(AF_INET, "10.0.9.9", &st[2].pkt.daddr);
	nat.before = &st[1].pkt;
	nat.after = &st[2].pkt;
	out = run(&sink_text_ops, &p, 1, NULL);
	/* The ICMP name on the header line. */
	assert_non_null(strstr(out, "packet 4  icmp 10.0.1.2 \u2192 10.0.2.7  echo-request  id 0"));
	/* The NAT line right under the step it belongs to, conntrack's own said so. */
	assert_non_null(strstr(out, "\n  mangle  PREROUTING rule 1   ACCEPT in r0\n"
			       "                              \u21b3 dst 10.0.2.7 \u2192 10.0.9.9 "
			       "(conntrack, at nat PREROUTING)\n  inet fw "));
	/* nft steps name their table's family. */
	assert_non_null(strstr(out, "\n  inet fw forward    rule #12 accept in r0\n"));
	free(out);

	/* The early end, last. */
	p.nsteps = 2;
	p.nnat = 0;
	p.ended_hint = "dropped after routing: no route";
	st[1].pkt.icmp_type = 3;
	st[0].pkt.icmp_type = 3;
	st[0].pkt.icmp_code = 3;
	out = run(&sink_text_ops, &p, 1, NULL);
	assert_non_null(strstr(out, "port-unreachable"));
	assert_non_null(strstr(out, "\n  \u2717 ended after mangle PREROUTING: dropped after "
			       "routing: no route\n\n"));
	free(out);

	/* sink_text_steps: the same lines, no header. */
	{
		char *buf = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&buf, &size);

		sink_text_steps(f, &p);
		fclose(f);
		assert_true(strncmp(buf, "  raw    PREROUTING", 19) == 0);
		assert_null(strstr(buf, "packet 4"));
		assert_non_null(strstr(buf, "ended after mangle PREROUTING"));
		free(buf);
	}
}

/* ---- log ---- */

/*
 * A bridged packet: br0 with ports p1 and p2 (bridge-nf-call-iptables=1). Its POSTROUTING
 * record has no input device, so NFLOG sent no PHYSINDEV; the kernel's own line prints
 * PHYSIN= there all the same (kube-dns-trace.messages: "IN= OUT=weave PHYSIN=... PHYSOUT=").
 */
static void test_log_bridged(void **state)
{
	struct trace_record st[3];
	struct packet p = { .id = 1, .nsteps = 3, .steps = st };
	char *out;

	(void)state;
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT");
	step(&st[1], "filter", "FORWARD", HOOK_FORWARD, "ACCEPT");
	step(&st[2], "mangle", "POSTROUTING", HOOK_POSTROUTING, "ACCEPT");
	strcpy(st[0].in, "br0");
	strcpy(st[0].physin, "p1");
	strcpy(st[1].in, "br0");
	strcpy(st[1].physin, "p1");
	strcpy(st[1].out, "br0");
	strcpy(st[1].physout, "p2");
	st[2].in[0] = '\0';
	strcpy(st[2].out, "br0");
	strcpy(st[2].physout, "p2");
	out = run(&sink_log_ops, &p, 1, NULL);
	assert_non_null(strstr(out, "TRACE: raw:PREROUTING:rule:1 IN=br0 OUT= PHYSIN=p1 MAC= SRC="));
	assert_non_null(strstr(out, "TRACE: filter:FORWARD:rule:1 IN=br0 OUT=br0 PHYSIN=p1 "
			       "PHYSOUT=p2 MAC= SRC="));
	assert_non_null(strstr(out, "TRACE: mangle:POSTROUTING:rule:1 IN= OUT=br0 PHYSIN=p1 "
			       "PHYSOUT=p2 SRC=10.0.1.2 "));
	free(out);
	/* Routed, not bridged: no port on the way out, none made up. */
	st[2].physout[0] = '\0';
	strcpy(st[2].out, "r1");
	out = run(&sink_log_ops, &p, 1, NULL);
	assert_non_null(strstr(out, "TRACE: mangle:POSTROUTING:rule:1 IN= OUT=r1 SRC="));
	free(out);
	/* The records themselves are left as they came. */
	assert_string_equal(st[2].physin, "");
}

/* ---- pcapng ---- */

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Option @code of the options at @p (up to @end), its length into *@len; NULL if absent. */
static const uint8_t *opt(const uint8_t *p, const uint8_t *end, uint16_t code, uint16_t *len)
{
	while (p + 4 <= end && u16(p) != 0) {
		uint16_t l = u16(p + 2);

		if (u16(p) == code) {
			*len = l;
			return p + 4;
		}
		p += 4 + (l + 3u) / 4 * 4;
	}
	return NULL;
}

struct block {
	uint32_t	type;
	const uint8_t	*body, *end;	/* after type and length; before the trailing length */
};

/* Split @buf into blocks, checking each one's two lengths and alignment. */
static size_t blocks(const uint8_t *buf, size_t len, struct block *b, size_t max)
{
	size_t n = 0, off = 0;

	while (off < len) {
		uint32_t total = u32(buf + off + 4);

		assert_true(n < max);
		assert_int_equal(total % 4, 0);
		assert_true(off + total <= len);
		assert_int_equal(u32(buf + off + total - 4), total);
		b[n++] = (struct block){ u32(buf + off), buf + off + 8, buf + off + total - 4 };
		off += total;
	}
	return n;
}

static void test_pcap(void **state)
{
	struct trace_record st[4];
	struct packet p[3] = {
		{ .id = 1, .nsteps = 2, .steps = st },
		{ .id = 2, .nsteps = 1, .steps = &st[2] },
		{ .id = 3, .nsteps = 1, .steps = &st[3] },
	};
	struct block b[8];
	uint8_t want[PKT_REBUILD_MAX];
	const uint8_t *o;
	uint16_t ol;
	size_t len, n;
	uint8_t *buf;
	char comment[1024];

	(void)state;
	/* Packet 1: an NFLOG copy on its legacy step (after an nft step's headers). */
	step(&st[0], "trace", "pre", HOOK_PREROUTING, "accept");
	st[0].backend = TRACE_BACKEND_NFT;
	st[0].table_family = NFPROTO_INET;
	st[0].raw_len = 28;
	memset(st[0].raw, 0xee, 28);
	step(&st[1], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT");
	st[1].raw_len = 84;
	for (int i = 0; i < 84; i++)
		st[1].raw[i] = (uint8_t)i;
	/* Packet 2: nft only, headers. Packet 3: --read, on another interface, rebuilt. */
	st[2] = st[0];
	step(&st[3], "raw", "PREROUTING", HOOK_PREROUTING, NULL);
	strcpy(st[3].in, "eth1");
	st[3].ts_ns = 0;			/* dmesg's line: only the time since boot */
	st[3].uptime_ns = 12345678901000ull;
	buf = (uint8_t *)run(&sink_pcap_ops, p, 3, &len);
	n = blocks(buf, len, b, 8);
	assert_int_equal(n, 6);	/* SHB, IDB r0, EPB, EPB, IDB eth1, EPB */
	assert_int_equal(b[0].type, 0x0A0D0D0A);
	assert_int_equal(u32(b[0].body), 0x1A2B3C4D);
	assert_int_equal(b[1].type, 1);
	assert_int_equal(u16(b[1].body), 101);	/* LINKTYPE_RAW */
	o = opt(b[1].body + 8, b[1].end, 2, &ol);
	assert_non_null(o);
	assert_int_equal(ol, 2);
	assert_memory_equal(o, "r0", 2);
	o = opt(b[1].body + 8, b[1].end, 9, &ol);
	assert_non_null(o);
	assert_int_equal(*o, 9);	/* ns */

	/* EPB 1: interface 0, time in ns, the NFLOG copy, the steps as comment. */
	assert_int_equal(b[2].type, 6);
	assert_int_equal(u32(b[2].body), 0);
	assert_int_equal((uint64_t)u32(b[2].body + 4) << 32 | u32(b[2].body + 8),
			 1795000000123456789ull);
	assert_int_equal(u32(b[2].body + 12), 84);
	assert_int_equal(u32(b[2].body + 16), 84);
	assert_memory_equal(b[2].body + 20, st[1].raw, 84);
	o = opt(b[2].body + 20 + 84, b[2].end, 1, &ol);
	assert_non_null(o);
	assert_true(ol < sizeof(comment));
	memcpy(comment, o, ol);
	comment[ol] = '\0';
	assert_true(strncmp(comment, "  inet trace pre", 16) == 0);
	assert_non_null(strstr(comment, "\n  raw        PREROUTING rule 1 ACCEPT in r0"));
	assert_int_equal(comment[ol - 1] != '\n', 1);
	o = opt(b[2].body + 20 + 84, b[2].end, 5, &ol);	/* epb_packetid */
	assert_non_null(o);
	assert_int_equal(ol, 8);

	/* EPB 2: nft headers only, said first in the comment; same interface. */
	assert_int_equal(u32(b[3].body), 0);
	assert_int_equal(u32(b[3].body + 12), 28);
	assert_int_equal(u32(b[3].body + 16), 84);
	o = opt(b[3].body + 20 + 28, b[3].end, 1, &ol);
	assert_non_null(o);
	assert_true(ol > 13 && memcmp(o, "headers only:", 13) == 0);

	/* A second interface, then the rebuilt headers. */
	assert_int_equal(b[4].type, 1);
	o = opt(b[4].body + 8, b[4].end, 2, &ol);
	assert_memory_equal(o, "eth1", 4);
	assert_int_equal(u32(b[5].body), 1);
	assert_int_equal((uint64_t)u32(b[5].body + 4) << 32 | u32(b[5].body + 8),
			 12345678901000ull);
	assert_int_equal(pkt_rebuild(&st[3].pkt, want), 28);
	assert_int_equal(u32(b[5].body + 12), 28);
	assert_memory_equal(b[5].body + 20, want, 28);
	o = opt(b[5].body + 20 + 28, b[5].end, 1, &ol);
	assert_true(ol > 16 && memcmp(o, "headers rebuilt ", 16) == 0);
	free(buf);

	/* No packet: still a valid file, the section header alone. */
	buf = (uint8_t *)run(&sink_pcap_ops, p, 0, &len);
	assert_int_equal(blocks(buf, len, b, 8), 1);
	free(buf);
}

/* ---- Graphviz ---- */

static void test_dot(void **state)
{
	struct trace_record st[6];
	struct packet p[3] = {
		{ .id = 1, .nsteps = 2, .steps = st },
		{ .id = 2, .nsteps = 2, .steps = &st[2] },
		{ .id = 3, .nsteps = 2, .steps = &st[4], .ended_hint = "dropped after routing: x" },
	};
	char *out;

	(void)state;
	step(&st[0], "nat", "PREROUTING", HOOK_PREROUTING, "jump KUBE-SVC-\"X\"");
	step(&st[1], "filter", "FORWARD", HOOK_FORWARD, "ACCEPT");
	st[2] = st[0];
	st[3] = st[1];
	st[3].verdict = "DROP";
	st[4] = st[0];
	step(&st[5], "mangle", "PREROUTING", HOOK_PREROUTING, "ACCEPT");
	out = run(&sink_dot_ops, p, 3, NULL);
	assert_true(strncmp(out, "digraph iptrace {\n", 18) == 0);
	assert_non_null(strstr(out, "label=\"iptrace: 3 packets\""));
	/* Clusters in kernel order, a chain once per hook. */
	assert_non_null(strstr(out, "subgraph cluster_PREROUTING"));
	assert_true(strstr(out, "cluster_PREROUTING") < strstr(out, "cluster_FORWARD"));
	assert_non_null(strstr(out, "n0 [label=\"nat\\nPREROUTING\"];"));
	assert_null(strstr(out, "n4 [label=\"nat"));
	/* Merged edges with counts, the rule escaped. */
	assert_non_null(strstr(out, "n0 -> n1 [label=\"2\u00d7 rule 1 jump KUBE-SVC-\\\"X\\\"\""));
	/* Ends: accepted, dropped in red, an early end. */
	assert_non_null(strstr(out, "[label=\"ACCEPT\\n1 packet\",shape=doubleoctagon"));
	assert_non_null(strstr(out, "[label=\"DROP\\n1 packet\",shape=doubleoctagon,color=\"#c62828\""));
	assert_non_null(strstr(out, "[label=\"dropped after routing\\n1 packet\",shape=octagon"));
	assert_non_null(strstr(out, "color=\"#c62828\",fontcolor=\"#c62828\"];"));
	assert_true(out[strlen(out) - 2] == '}');
	free(out);
	/* Nothing traced: an empty graph, still valid. */
	out = run(&sink_dot_ops, p, 0, NULL);
	assert_non_null(strstr(out, "iptrace: 0 packets"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_log_bridged),
		cmocka_unit_test(test_pcap),
		cmocka_unit_test(test_dot),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
