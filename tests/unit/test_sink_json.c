/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_sink_json.c: what the JSON sink writes, field by field, and how its lines reach the FILE */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <cmocka.h>

#include "iptrace/ct.h"
#include "iptrace/sink.h"
#include "../oracle.h"
#include "test_step.h"

/* ---- a sink over a memory stream ---- */

struct cap {
	FILE		*f;
	char		*buf;
	size_t		size;
	struct sink	s;
};

static void cap_open(struct cap *c, bool deferred)
{
	c->buf = NULL;
	c->size = 0;
	c->f = open_memstream(&c->buf, &c->size);
	assert_non_null(c->f);
	c->s = (struct sink){ .ops = &sink_json_ops, .out = c->f,
			      .opts = { .deferred_flush = deferred } };
	assert_int_equal(c->s.ops->begin(&c->s), 0);
}

/* end() with @sum, then what was written, all of it; the caller frees it. */
static char *cap_close(struct cap *c, const struct summary *sum)
{
	assert_int_equal(c->s.ops->end(&c->s, sum), 0);
	assert_int_equal(fclose(c->f), 0);
	return c->buf;
}

/* What comes before the summary line: the packet and record lines. */
static char *cap_lines(struct cap *c)
{
	static const struct summary none;
	char *all = cap_close(c, &none), *sum = strstr(all, "{\"type\":\"summary\"");

	assert_non_null(sum);
	*sum = '\0';
	return all;
}

static char *packet_json(const struct packet *p)
{
	struct cap c;

	cap_open(&c, false);
	assert_int_equal(c.s.ops->packet(&c.s, p), 0);
	return cap_lines(&c);
}

static char *record_json(const struct trace_record *r)
{
	struct cap c;

	cap_open(&c, false);
	assert_int_equal(c.s.ops->record(&c.s, r), 0);
	return cap_lines(&c);
}

/* The sink's line for @p is exactly @want. */
static void assert_packet_json(const struct packet *p, const char *want)
{
	char *got = packet_json(p);

	assert_string_equal(got, want);
	free(got);
}

/* The sink's line for the record @r is exactly @want. */
static void assert_record_json(const struct trace_record *r, const char *want)
{
	char *got = record_json(r);

	assert_string_equal(got, want);
	free(got);
}

/* The summary line for @sum (@deferred: with deferred flushes) is exactly @want. */
static void assert_summary_json(const struct summary *sum, bool deferred, const char *want)
{
	struct cap c;
	char *got;

	cap_open(&c, deferred);
	got = cap_close(&c, sum);
	assert_string_equal(got, want);
	free(got);
}

/* ---- constructed steps ---- */

#define TS 1795000000123456789ull	/* 2026-11-18T11:06:40.123456789Z */
#define V4_EP "\"src\":\"10.0.1.2\",\"sport\":40000,\"dst\":\"10.0.2.7\",\"dport\":53"
/* A step's endpoints, and its TTL after them. */
#define V4_STEP V4_EP ",\"ttl\":64"

static void set_v6(struct pkt_hdr *h, const char *src, const char *dst)
{
	h->family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, src, &h->saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, &h->daddr), 1);
}

/* A legacy rule step of a UDP packet 10.0.1.2:40000 > 10.0.2.7:53 come in on eth0. */
static void step_init(struct trace_record *r, const char *table, const char *chain)
{
	step_rule(r, table, chain, HOOK_NONE);
	r->rulenum = 1;
	strcpy(r->in, "eth0");
	hdr_v4(&r->pkt, "10.0.1.2", "10.0.2.7");
	hdr_udp(&r->pkt, 40000, 53);
	r->pkt.len = 60;
	r->pkt.ipid = 4660;
	r->pkt.ttl = 64;
}

/* ---- the packet line, field by field ---- */

/* The packet head, legacy steps, a time and a step without one (ts 0: no "ts"). */
static void test_legacy_packet(void **state)
{
	struct trace_record st[2];
	struct packet p = { .id = 7, .nsteps = 2, .steps = st };

	(void)state;
	step_init(&st[0], "raw", "PREROUTING");
	st[0].kind = TRACE_KIND_POLICY;
	st[0].rulenum = 2;
	step_init(&st[1], "filter", "FORWARD");
	strcpy(st[1].out, "eth1");
	st[1].ts_ns = TS;
	assert_packet_json(&p,
		"{\"type\":\"packet\",\"id\":\"7\",\"family\":\"ipv4\",\"proto\":\"udp\"," V4_EP
		",\"len\":60,\"ipid\":4660,\"steps\":["
		"{\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\","
		"\"kind\":\"policy\",\"rulenum\":2,\"in\":\"eth0\",\"out\":\"\"," V4_STEP "},"
		"{\"backend\":\"legacy\",\"table\":\"filter\",\"chain\":\"FORWARD\","
		"\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"eth1\"," V4_STEP
		",\"ts\":\"2026-11-18T11:06:40.123456Z\"}]}\n");
}

/*
 * nft steps: "handle" only when there is one, the table's family when it has a name, the
 * conntrack view in either direction, bridge ports, the mark; a "return" kind.
 */
static void test_nft_steps(void **state)
{
	struct trace_record r;

	(void)state;
	step_init(&r, "filter", "input");
	r.backend = TRACE_BACKEND_NFT;
	r.rulenum = 0;
	r.handle = 12;
	r.table_family = NFPROTO_INET;
	r.has_ct = true;
	r.ct_id = 77;
	r.ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	r.ct_dir = IP_CT_DIR_REPLY;
	r.ct_status = IPS_ASSURED | IPS_CONFIRMED;
	strcpy(r.physin, "veth0");
	strcpy(r.physout, "veth1");
	r.mark = 0x1a2b;
	assert_record_json(&r,
		"{\"type\":\"record\",\"step\":{\"backend\":\"nft\",\"table\":\"filter\","
		"\"chain\":\"input\",\"kind\":\"rule\",\"handle\":12,\"family\":\"inet\","
		"\"ct\":{\"id\":77,\"state\":\"established\",\"dir\":\"reply\","
		"\"status\":[\"assured\",\"confirmed\"]},\"in\":\"eth0\",\"out\":\"\","
		"\"physin\":\"veth0\",\"physout\":\"veth1\"," V4_STEP ",\"mark\":\"0x1a2b\"}}\n");

	/*
	 * No handle, a family without a name, a new connection in its original direction, a
	 * bridge port in only.
	 */
	r.kind = TRACE_KIND_RETURN;
	r.handle = 0;
	r.table_family = 99;
	r.ct_state = NF_CT_STATE_BIT(IP_CT_NEW);
	r.ct_dir = IP_CT_DIR_ORIGINAL;
	r.ct_status = 0;
	r.physout[0] = '\0';
	r.mark = 0xffffffff;
	r.ts_ns = 1000;		/* 1970-01-01T00:00:00.000001Z */
	assert_record_json(&r,
		"{\"type\":\"record\",\"step\":{\"backend\":\"nft\",\"table\":\"filter\","
		"\"chain\":\"input\",\"kind\":\"return\","
		"\"ct\":{\"id\":77,\"state\":\"new\",\"dir\":\"original\",\"status\":[]},"
		"\"in\":\"eth0\",\"out\":\"\",\"physin\":\"veth0\"," V4_STEP ",\"mark\":\"0xffffffff\","
		"\"ts\":\"1970-01-01T00:00:00.000001Z\"}}\n");

	/* An ip table's rule with the verdict the nft resolver named: the family after it. */
	r.has_ct = false;
	r.physin[0] = '\0';
	r.kind = TRACE_KIND_RULE;
	r.handle = 5;
	r.table_family = NFPROTO_IPV4;
	r.mark = 0;
	r.ts_ns = 0;
	r.rule = "udp dport 53 accept";
	r.verdict = "accept";
	assert_record_json(&r,
		"{\"type\":\"record\",\"step\":{\"backend\":\"nft\",\"table\":\"filter\","
		"\"chain\":\"input\",\"kind\":\"rule\",\"handle\":5,"
		"\"rule\":\"udp dport 53 accept\",\"verdict\":\"accept\",\"family\":\"ip\","
		"\"in\":\"eth0\",\"out\":\"\"," V4_STEP "}}\n");
}

/* The resolver's answer: rule text or null with its reason, verdict, "continue". */
static void test_rule_fields(void **state)
{
	static const struct {
		const char	*rule, *verdict, *reason;
		bool		cont;
		const char	*want;	/* between "rulenum":1 and "in" */
	} cases[] = {
		{ NULL, NULL, NULL, false, "" },	/* no resolver ran (--read, --replay) */
		{ "-A FORWARD -j ACCEPT", "ACCEPT", NULL, false,
		  ",\"rule\":\"-A FORWARD -j ACCEPT\",\"verdict\":\"ACCEPT\"" },
		{ "-A FORWARD -j MARK --set-xmark 0x1/0xffffffff", "MARK", NULL, true,
		  ",\"rule\":\"-A FORWARD -j MARK --set-xmark 0x1/0xffffffff\","
		  "\"verdict\":\"MARK\",\"continue\":true" },
		{ NULL, "ACCEPT", "rules changed since the packet", false,
		  ",\"rule\":null,\"verdict\":\"ACCEPT\","
		  "\"rule_reason\":\"rules changed since the packet\"" },
		{ NULL, NULL, "no rule: the chain's end", false,
		  ",\"rule\":null,\"rule_reason\":\"no rule: the chain's end\"" },
		/* A rule and a reason: the reason is for a missing rule only. */
		{ "-P FORWARD DROP", "DROP", "unused", false,
		  ",\"rule\":\"-P FORWARD DROP\",\"verdict\":\"DROP\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace_record r;
		char want[512];

		step_init(&r, "filter", "FORWARD");
		r.rule = cases[i].rule;
		r.verdict = cases[i].verdict;
		r.rule_reason = cases[i].reason;
		r.verdict_continues = cases[i].cont;
		snprintf(want, sizeof(want),
			 "{\"type\":\"record\",\"step\":{\"backend\":\"legacy\",\"table\":\"filter\","
			 "\"chain\":\"FORWARD\",\"kind\":\"rule\",\"rulenum\":1%s,"
			 "\"in\":\"eth0\",\"out\":\"\"," V4_STEP "}}\n", cases[i].want);
		assert_record_json(&r, want);
	}
}

/* Endpoints: v6 with ports (no "ipid"), v4 without ports, a protocol without a name. */
static void test_endpoints(void **state)
{
	struct trace_record r;
	struct packet p = { .id = 18446744073709551615ull, .nsteps = 1, .steps = &r };

	(void)state;
	step_init(&r, "raw", "PREROUTING");
	set_v6(&r.pkt, "2001:db8::1", "2001:db8:0:1::7");
	r.pkt.proto = IPPROTO_TCP;
	r.pkt.sport = 443;
	r.pkt.dport = 8;
	r.pkt.len = 1280;
	r.pkt.ipid = 0;
	assert_packet_json(&p,
		"{\"type\":\"packet\",\"id\":\"18446744073709551615\",\"family\":\"ipv6\","
		"\"proto\":\"tcp\",\"src\":\"2001:db8::1\",\"sport\":443,"
		"\"dst\":\"2001:db8:0:1::7\",\"dport\":8,\"len\":1280,\"steps\":["
		"{\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\","
		"\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"\","
		"\"src\":\"2001:db8::1\",\"sport\":443,\"dst\":\"2001:db8:0:1::7\",\"dport\":8,\"ttl\":64}]}\n");

	step_init(&r, "raw", "PREROUTING");
	hdr_v4(&r.pkt, "192.168.100.200", "0.0.0.0");
	r.pkt.proto = IPPROTO_ICMP;
	r.pkt.has_ports = false;
	r.pkt.ipid = 0;
	p.id = 1;
	assert_packet_json(&p,
		"{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"icmp\","
		"\"src\":\"192.168.100.200\",\"dst\":\"0.0.0.0\",\"len\":60,\"ipid\":0,\"steps\":["
		"{\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\","
		"\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"\","
		"\"src\":\"192.168.100.200\",\"dst\":\"0.0.0.0\",\"ttl\":64}]}\n");

	/* A protocol without a name is its number; a packet of no known family has no addresses. */
	r.pkt.proto = 253;
	r.pkt.family = 0;
	assert_packet_json(&p,
		"{\"type\":\"packet\",\"id\":\"1\",\"family\":\"unknown\",\"proto\":253,\"len\":60,"
		"\"steps\":[{\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\","
		"\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"\"}]}\n");
}

/*
 * The "nat" block of the step where the kernel changed the packet (struct packet_nat): on
 * that step, the endpoints before and after it; conntrack's own with "by" and "hook".
 */
static void test_nat(void **state)
{
	struct trace_record st[2];
	struct packet_nat n = { .step = 0, .before = &st[0].pkt, .after = &st[1].pkt };
	struct packet p = { .id = 3, .nsteps = 2, .steps = st, .nnat = 1, .nat = &n };
	const char *head =
		"{\"type\":\"packet\",\"id\":\"3\",\"family\":\"ipv4\",\"proto\":\"udp\"," V4_EP
		",\"len\":60,\"ipid\":4660,\"steps\":[{\"backend\":\"legacy\",\"table\":\"nat\","
		"\"chain\":\"PREROUTING\",\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\","
		"\"out\":\"\"," V4_STEP;
	const char *tail = "},{\"backend\":\"legacy\",\"table\":\"filter\","
		"\"chain\":\"FORWARD\",\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"\",";
	char want[1024], *got;

	(void)state;
	step_init(&st[0], "nat", "PREROUTING");
	/* DNAT: the destination only. */
	step_init(&st[1], "filter", "FORWARD");
	hdr_v4(&st[1].pkt, "10.0.1.2", "10.244.0.5");
	st[1].pkt.dport = 5353;
	n.dst = true;
	snprintf(want, sizeof(want), "%s%s%s%s", head,
		 ",\"nat\":{\"dst\":[\"10.0.2.7:53\",\"10.244.0.5:5353\"]}", tail,
		 "\"src\":\"10.0.1.2\",\"sport\":40000,\"dst\":\"10.244.0.5\",\"dport\":5353,\"ttl\":64}]}\n");
	assert_packet_json(&p, want);

	/* SNAT: the source port only. */
	step_init(&st[1], "filter", "FORWARD");
	st[1].pkt.sport = 1024;
	n.dst = false;
	n.src = true;
	snprintf(want, sizeof(want), "%s%s%s%s", head,
		 ",\"nat\":{\"src\":[\"10.0.1.2:40000\",\"10.0.1.2:1024\"]}", tail,
		 "\"src\":\"10.0.1.2\",\"sport\":1024,\"dst\":\"10.0.2.7\",\"dport\":53,\"ttl\":64}]}\n");
	assert_packet_json(&p, want);

	/* Both, done by conntrack at a hook: it says so. */
	hdr_v4(&st[1].pkt, "172.16.0.1", "10.244.0.5");
	n.dst = true;
	n.conntrack = true;
	n.hook = HOOK_PREROUTING;
	snprintf(want, sizeof(want), "%s%s%s%s", head,
		 ",\"nat\":{\"src\":[\"10.0.1.2:40000\",\"172.16.0.1:1024\"],"
		 "\"dst\":[\"10.0.2.7:53\",\"10.244.0.5:53\"],\"by\":\"conntrack\","
		 "\"hook\":\"PREROUTING\"}", tail,
		 "\"src\":\"172.16.0.1\",\"sport\":1024,\"dst\":\"10.244.0.5\",\"dport\":53,\"ttl\":64}]}\n");
	assert_packet_json(&p, want);

	/* Unknown hook: "by" alone. Steps that differ without a packet_nat show none. */
	n.hook = HOOK_NONE;
	got = packet_json(&p);
	assert_non_null(strstr(got, "\"by\":\"conntrack\"}"));
	free(got);
	p.nnat = 0;
	got = packet_json(&p);
	assert_null(strstr(got, ",\"nat\":"));
	free(got);
}

/* NAT endpoints of v6 with ports in brackets, and addresses alone without ports. */
static void test_nat_endpoint_forms(void **state)
{
	struct trace_record st[2];
	struct packet_nat n = { .step = 1, .before = &st[0].pkt, .after = &st[1].pkt, .dst = true };
	struct packet p = { .id = 4, .nsteps = 2, .steps = st, .nnat = 1, .nat = &n };
	char *got, *nat;

	(void)state;
	step_init(&st[0], "nat", "PREROUTING");
	set_v6(&st[0].pkt, "2001:db8::1", "2001:db8::7");
	st[1] = st[0];
	set_v6(&st[1].pkt, "2001:db8::1", "fd00::5");
	got = packet_json(&p);
	nat = strstr(got, ",\"nat\":");
	assert_non_null(nat);
	assert_string_equal(nat, ",\"nat\":{\"dst\":[\"[2001:db8::7]:53\",\"[fd00::5]:53\"]}}]}\n");
	free(got);

	st[0].pkt.has_ports = st[1].pkt.has_ports = false;
	st[0].pkt.proto = st[1].pkt.proto = IPPROTO_ICMPV6;
	st[0].pkt.sport = st[0].pkt.dport = st[1].pkt.sport = st[1].pkt.dport = 0;
	got = packet_json(&p);
	nat = strstr(got, ",\"nat\":");
	assert_non_null(nat);
	assert_string_equal(nat, ",\"nat\":{\"dst\":[\"2001:db8::7\",\"fd00::5\"]}}]}\n");
	free(got);
}

/* "ended" before the steps: where the trace was last seen, its hook, and the hint. */
static void test_ended(void **state)
{
	struct trace_record r;
	struct packet p = { .id = 6, .nsteps = 1, .steps = &r, .ended_hint = "dropped \"here\"" };
	char *got;

	(void)state;
	step_init(&r, "mangle", "PREROUTING");
	r.hook = HOOK_PREROUTING;
	got = packet_json(&p);
	assert_non_null(strstr(got, ",\"ended\":{\"after\":\"mangle PREROUTING\",\"hook\":"
			       "\"PREROUTING\",\"hint\":\"dropped \\\"here\\\"\"},\"steps\":["));
	free(got);
	/* An nft step names its table's family. */
	r.backend = TRACE_BACKEND_NFT;
	r.table_family = NFPROTO_INET;
	r.table = "firewalld";
	r.chain = "filter_PREROUTING";
	got = packet_json(&p);
	assert_non_null(strstr(got, "\"after\":\"inet firewalld filter_PREROUTING\""));
	free(got);
}

/* ICMP type and code on the packet, where the header was there to read them. */
static void test_icmp_fields(void **state)
{
	struct trace_record r;
	struct packet p = { .id = 5, .nsteps = 1, .steps = &r };
	char *got;

	(void)state;
	step_init(&r, "raw", "PREROUTING");
	r.pkt.proto = IPPROTO_ICMP;
	r.pkt.has_ports = false;
	r.pkt.has_l4 = true;
	r.pkt.icmp_type = 3;
	r.pkt.icmp_code = 3;
	got = packet_json(&p);
	assert_non_null(strstr(got, ",\"proto\":\"icmp\",\"src\":\"10.0.1.2\",\"dst\":\"10.0.2.7\","
			       "\"len\":60,\"ipid\":4660,\"icmp_type\":3,\"icmp_code\":3,\"steps\":["));
	free(got);

	/* Cut before the ICMP header: nothing to say. */
	r.pkt.has_l4 = false;
	got = packet_json(&p);
	assert_null(strstr(got, "icmp_type"));
	free(got);
}

/* Steps past the packet's bound, and its conntrack entry (--nat), before the steps. */
static void test_dropped_and_conntrack(void **state)
{
	struct trace_record r;
	struct ct_entry ce;
	struct packet p = { .id = 9, .nsteps = 1, .steps = &r, .steps_dropped = 300, .ct = &ce };

	(void)state;
	step_init(&r, "raw", "PREROUTING");
	memset(&ce, 0, sizeof(ce));
	ce.family = AF_INET;
	ce.orig.family = ce.reply.family = AF_INET;
	ce.orig.proto = ce.reply.proto = IPPROTO_UDP;
	ce.orig.has_ports = ce.reply.has_ports = true;
	assert_int_equal(inet_pton(AF_INET, "10.0.1.2", &ce.orig.src), 1);
	assert_int_equal(inet_pton(AF_INET, "10.96.0.10", &ce.orig.dst), 1);
	assert_int_equal(inet_pton(AF_INET, "10.0.2.7", &ce.reply.src), 1);
	assert_int_equal(inet_pton(AF_INET, "10.0.1.2", &ce.reply.dst), 1);
	ce.orig.sport = ce.reply.dport = 40000;
	ce.orig.dport = ce.reply.sport = 53;
	ce.has_status = ce.has_id = true;
	ce.status = IPS_DST_NAT;
	ce.id = 4242;
	assert_packet_json(&p,
		"{\"type\":\"packet\",\"id\":\"9\",\"family\":\"ipv4\",\"proto\":\"udp\"," V4_EP
		",\"len\":60,\"ipid\":4660,\"steps_dropped\":300,\"ct\":{\"id\":4242,"
		"\"orig\":{\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"dst\":\"10.96.0.10\","
		"\"sport\":40000,\"dport\":53},\"reply\":{\"proto\":\"udp\",\"src\":\"10.0.2.7\","
		"\"dst\":\"10.0.1.2\",\"sport\":53,\"dport\":40000},\"nat\":[\"dnat\"],"
		"\"status\":[\"dst_nat\"]},\"steps\":[{\"backend\":\"legacy\",\"table\":\"raw\","
		"\"chain\":\"PREROUTING\",\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\","
		"\"out\":\"\"," V4_STEP "}]}\n");
}

/*
 * Names and resolver strings: '"' and '\\' after a backslash, control bytes, DEL and C1
 * controls as \u00xx, valid UTF-8 as it is.
 */
static void test_escapes(void **state)
{
	struct trace_record r;

	(void)state;
	step_init(&r, "we\"ird\\", "tab\there\x01\x1f");
	strcpy(r.in, "a\nb");
	strcpy(r.out, "\x7f\xc3\xa9\xc2\x9b");	/* DEL, é, CSI as a C1 control */
	r.rule = "-A C -m comment --comment \"x\\y\"";
	r.verdict = "ACCEPT";
	assert_record_json(&r,
		"{\"type\":\"record\",\"step\":{\"backend\":\"legacy\",\"table\":\"we\\\"ird\\\\\","
		"\"chain\":\"tab\\u0009here\\u0001\\u001f\",\"kind\":\"rule\",\"rulenum\":1,"
		"\"rule\":\"-A C -m comment --comment \\\"x\\\\y\\\"\",\"verdict\":\"ACCEPT\","
		"\"in\":\"a\\u000ab\",\"out\":\"\\u007f\xc3\xa9\\u009b\"," V4_STEP "}}\n");
}

/*
 * Bytes that are not UTF-8: each as U+FFFD, and the exact bytes in a "<key>_hex" sibling
 * right after the field; a valid name gets none.
 */
static void test_invalid_utf8(void **state)
{
	static char rule[] = "-A CH -m comment --comment \"\xff\xfe\"";
	struct trace_record r;
	char *got;

	(void)state;
	step_init(&r, "raw", "CH\xc0\xaf");	/* an overlong '/' */
	strcpy(r.in, "v\xed\xa0\x80");		/* a surrogate */
	strcpy(r.out, "\xf4\x90\x80\x80");	/* past U+10FFFF */
	strcpy(r.physin, "ok\xc3\xa9");
	r.rule = rule;
	r.verdict = "jump CH\xc0\xaf";
	got = record_json(&r);
	assert_string_equal(got,
		"{\"type\":\"record\",\"step\":{\"backend\":\"legacy\",\"table\":\"raw\","
		"\"chain\":\"CH\xef\xbf\xbd\xef\xbf\xbd\",\"chain_hex\":\"4348c0af\",\"kind\":\"rule\","
		"\"rulenum\":1,\"rule\":\"-A CH -m comment --comment \\\"\xef\xbf\xbd\xef\xbf\xbd\\\"\","
		"\"rule_hex\":\"2d41204348202d6d20636f6d6d656e74202d2d636f6d6d656e74202"
		"2fffe22\",\"verdict\":\"jump CH\xef\xbf\xbd\xef\xbf\xbd\",\"verdict_hex\":"
		"\"6a756d70204348c0af\",\"in\":\"v\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
		"\"in_hex\":\"76eda080\",\"out\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
		"\"out_hex\":\"f4908080\",\"physin\":\"ok\xc3\xa9\"," V4_STEP "}}\n");
	assert_null(oracle_json_lines(got, strlen(got)));
	free(got);
}

/* @n bytes of @dst: one that is not UTF-8 (U+FFFD and a _hex sibling), then controls (\u0001). */
static void worst_name(char *dst, size_t n)
{
	memset(dst, 0x01, n - 1);
	dst[0] = (char)0xff;
	dst[n - 1] = '\0';
}

/*
 * A step with every field a step can have, each at its longest: the sink writes a step in
 * two bounded parts (sink_json.c's PART_MAX, held by an assert) around the rule texts; the
 * whole step, with 255-byte nft names, stays under 6 KiB.
 */
static void test_longest_step(void **state)
{
	static const uint8_t all_ones[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	struct trace_record r;
	struct pkt_hdr before, after;
	struct packet_nat nat = { .step = 0, .before = &before, .after = &after, .src = true,
				  .dst = true, .conntrack = true, .hook = HOOK_POSTROUTING };
	struct packet p = { .id = UINT64_MAX, .nsteps = 1, .steps = &r, .nat = &nat, .nnat = 1 };
	char table[TRACE_NFT_NAME_MAX], chain[TRACE_NFT_NAME_MAX];
	char *got, *step;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.backend = TRACE_BACKEND_NFT;
	r.kind = TRACE_KIND_POLICY;
	r.hook = HOOK_POSTROUTING;
	worst_name(table, sizeof(table));
	worst_name(chain, sizeof(chain));
	r.table = table;
	r.chain = chain;
	r.verdict_chain = "";
	worst_name(r.in, sizeof(r.in));
	worst_name(r.out, sizeof(r.out));
	worst_name(r.physin, sizeof(r.physin));
	worst_name(r.physout, sizeof(r.physout));
	r.handle = UINT64_MAX;
	r.table_family = NFPROTO_BRIDGE;
	r.order_unknown = true;
	r.has_ct = true;
	r.ct_id = UINT32_MAX;
	r.ct_state = UINT32_MAX;
	r.ct_dir = IP_CT_DIR_REPLY;
	r.ct_status = UINT32_MAX;
	r.mark = UINT32_MAX;
	r.ts_ns = UINT64_MAX;
	r.uptime_ns = UINT64_MAX;
	r.pkt.family = AF_INET6;
	r.pkt.proto = IPPROTO_UDP;
	r.pkt.has_ports = true;
	r.pkt.sport = r.pkt.dport = UINT16_MAX;
	r.pkt.ttl = UINT8_MAX;
	memcpy(&r.pkt.saddr, all_ones, 16);
	memcpy(&r.pkt.daddr, all_ones, 16);
	before = after = r.pkt;
	got = packet_json(&p);
	assert_null(oracle_json_lines(got, strlen(got)));
	step = strstr(got, "\"steps\":[");
	assert_non_null(step);
	assert_non_null(strstr(step, "\"chain_hex\":\"ff01"));
	assert_non_null(strstr(step, "\"physout_hex\":\"ff01"));
	assert_non_null(strstr(step, "\"uptime\":"));
	assert_true(strlen(step) < 6144);
	free(got);
}

/* The FILE writer and the escaper itself, also where the escaper's buffer ends mid-string. */
static void test_escaper(void **state)
{
	static const char in[] = "a\"b\\c\x01\x1f d\t\xc3\xa9\xf0\x9f\x98\x80\xff\xc2\x85";
	static const char want[] = "a\\\"b\\\\c\\u0001\\u001f d\\u0009\xc3\xa9\xf0\x9f\x98\x80"
				   "\xef\xbf\xbd\\u0085";
	char buf[64], *got = NULL;
	size_t n = 0;
	bool bad;
	FILE *f;

	(void)state;
	f = open_memstream(&got, &n);
	assert_non_null(f);
	sink_json_field(f, "k", "a\"b\\c\x01\x1f d\t");
	sink_json_field(f, "e", "");
	sink_json_field(f, "x", "\xfe" "A");
	assert_int_equal(fclose(f), 0);
	assert_string_equal(got, ",\"k\":\"a\\\"b\\\\c\\u0001\\u001f d\\u0009\",\"e\":\"\","
				 "\"x\":\"\xef\xbf\xbd" "A\",\"x_hex\":\"fe41\"");
	free(got);

	/* In pieces of every size from SINK_JSON_ESC_MAX up: whole escapes only, same text. */
	for (size_t size = SINK_JSON_ESC_MAX; size <= sizeof(want); size++) {
		const char *s = in;
		size_t len = 0;

		bad = false;
		while (*s) {
			size_t k = sink_json_escape(buf + len, size, &s, &bad);

			assert_true(k > 0 && k <= size);
			len += k;
			assert_true(len < sizeof(buf));
		}
		assert_true(bad);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(buf, want, len);
	}
}

/* The summary object, with its optional fields. */
static void test_summary(void **state)
{
	struct summary sum = { .packets = 3, .records = 15, .lost = 1, .dropped = 2,
			       .evicted = 4 };

	(void)state;
	assert_summary_json(&sum, false,
		"{\"type\":\"summary\",\"packets\":3,\"records\":15,\"lost\":1,"
		"\"dropped\":2,\"evicted\":4}\n");

	sum.overruns = 5;
	sum.marker = "nft";
	sum.limited = true;
	sum.unmarked = 0;	/* shown when --limit was given, 0 too */
	assert_summary_json(&sum, true,
		"{\"type\":\"summary\",\"packets\":3,\"records\":15,\"lost\":1,"
		"\"dropped\":2,\"evicted\":4,\"overruns\":5,\"marker\":\"nft\","
		"\"unmarked\":0}\n");

	sum.overruns = 0;
	sum.marker = "legacy";
	sum.limited = false;
	sum.unmarked = 7;
	assert_summary_json(&sum, false,
		"{\"type\":\"summary\",\"packets\":3,\"records\":15,\"lost\":1,"
		"\"dropped\":2,\"evicted\":4,\"marker\":\"legacy\"}\n");
}

/*
 * The node: on the packet (its first step's), on each step only when the steps come from
 * several nodes (--merge); on a record and the summary. The hook and the payload hash.
 */
#define NODE_STEP(node) \
	"{" node "\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\"," \
	"\"kind\":\"rule\",\"rulenum\":1,\"hook\":\"PREROUTING\",\"in\":\"eth0\"," \
	"\"out\":\"\"," V4_STEP "}"
#define NODE_HEAD \
	"{\"type\":\"packet\",\"id\":\"1\",\"node\":\"node-a\",\"family\":\"ipv4\"," \
	"\"proto\":\"udp\"," V4_EP ",\"len\":60,\"ipid\":4660,\"payload_hash\":\"0000abcd\"," \
	"\"steps\":["

static void test_nodes(void **state)
{
	struct trace_record st[2];
	struct packet p = { .id = 1, .nsteps = 2, .steps = st };
	struct summary sum = { .packets = 1, .records = 2, .malformed = 3, .node = "node-a" };

	(void)state;
	step_init(&st[0], "raw", "PREROUTING");
	st[0].hook = HOOK_PREROUTING;
	st[0].pkt.head_hash = 0xabcd;
	st[0].node = "node-a";
	st[1] = st[0];
	assert_packet_json(&p, NODE_HEAD NODE_STEP("") "," NODE_STEP("") "]}\n");

	/* Two nodes: each step says its own (an equal name in another string is the same). */
	st[1].node = "node-b";
	assert_packet_json(&p, NODE_HEAD NODE_STEP("\"node\":\"node-a\",") ","
			   NODE_STEP("\"node\":\"node-b\",") "]}\n");
	assert_true(sink_multi_node(&p));
	st[1].node = strdup("node-a");
	assert_false(sink_multi_node(&p));
	free((char *)st[1].node);
	st[1].node = NULL;
	assert_true(sink_multi_node(&p));

	/* A record names its node beside the step. */
	assert_record_json(&st[0], "{\"type\":\"record\",\"node\":\"node-a\",\"step\":"
			   NODE_STEP("") "}\n");

	assert_summary_json(&sum, false,
		"{\"type\":\"summary\",\"packets\":1,\"records\":2,\"lost\":0,"
		"\"dropped\":0,\"evicted\":0,\"malformed\":3,\"node\":\"node-a\"}\n");
}

/* ---- lines longer than the sink's buffer ---- */

#define STEP_TEXT "{\"backend\":\"legacy\",\"table\":\"filter\",\"chain\":\"FORWARD\"," \
		  "\"kind\":\"rule\",\"rulenum\":1,\"in\":\"eth0\",\"out\":\"\"," V4_STEP "}"
#define PKT_HEAD "{\"type\":\"packet\",\"id\":\"5\",\"family\":\"ipv4\",\"proto\":\"udp\"," \
		 V4_EP ",\"len\":60,\"ipid\":4660,\"steps\":["

static void long_lines(bool deferred)
{
	enum { NSTEPS = 1000, RULE_UNITS = 12000 };
	static struct trace_record st[NSTEPS];
	struct packet p = { .id = 5, .nsteps = NSTEPS, .steps = st };
	char *rule = malloc(4 * RULE_UNITS + 1), *want, *got, *w;
	struct cap c;

	assert_non_null(rule);
	want = malloc(sizeof(PKT_HEAD) + NSTEPS * sizeof(STEP_TEXT) + 10 * RULE_UNITS + 512);
	assert_non_null(want);

	/* Many steps: a line of some 170 KB. */
	for (size_t i = 0; i < NSTEPS; i++)
		step_init(&st[i], "filter", "FORWARD");
	w = want + sprintf(want, "%s", PKT_HEAD);
	for (size_t i = 0; i < NSTEPS; i++)
		w += sprintf(w, "%s%s", i ? "," : "", STEP_TEXT);
	w += sprintf(w, "]}\n");
	cap_open(&c, deferred);
	assert_int_equal(c.s.ops->packet(&c.s, &p), 0);

	/* One string of 48,000 bytes, 120,000 escaped, with escapes across every buffer end. */
	for (size_t i = 0; i < RULE_UNITS; i++)
		memcpy(rule + 4 * i, "ab\"\x02", 4);
	rule[4 * RULE_UNITS] = '\0';
	st[0].rule = rule;
	st[0].verdict = "ACCEPT";
	w += sprintf(w, "{\"type\":\"record\",\"step\":{\"backend\":\"legacy\",\"table\":\"filter\","
			"\"chain\":\"FORWARD\",\"kind\":\"rule\",\"rulenum\":1,\"rule\":\"");
	for (size_t i = 0; i < RULE_UNITS; i++)
		w += sprintf(w, "ab\\\"\\u0002");
	sprintf(w, "\",\"verdict\":\"ACCEPT\",\"in\":\"eth0\",\"out\":\"\"," V4_STEP "}}\n");
	assert_int_equal(c.s.ops->record(&c.s, &st[0]), 0);

	got = cap_lines(&c);
	assert_true(strlen(got) > 4 * (64 << 10));
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(rule);
}

static void test_long_lines(void **state)
{
	(void)state;
	long_lines(false);
}

static void test_long_lines_deferred(void **state)
{
	(void)state;
	long_lines(true);
}

/* ---- drawn packets ---- */

#define MAX_STEPS 20

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void pick_name(char *dst, size_t size)
{
	static const char *const names[] = {
		"raw", "mangle", "filter", "nat", "PREROUTING", "KUBE-SEP-ABCDEFGHIJKLMNOPQRSTU",
		"we\"ird\\", "tab\there", "if2", "", "veth1234567890a",
	};
	size_t n = 0;

	if (pick(4)) {
		snprintf(dst, size, "%s", names[pick(sizeof(names) / sizeof(names[0]))]);
		return;
	}
	/* Any bytes but NUL. */
	for (size_t len = pick((unsigned)size); n < len; n++)
		dst[n] = (char)(1 + pick(255));
	dst[n] = '\0';
}

static void pick_endpoints(struct pkt_hdr *h)
{
	static const uint16_t ports[] = { 55522, 5001, 53, 0, 65535 };

	memset(h, 0, sizeof(*h));
	switch (pick(5)) {
	case 0:
		set_v6(h, pick(2) ? "2001:db8::1" : "fe80::2", "2001:db8::7");
		break;
	case 1:
		break;	/* family unknown */
	default:
		hdr_v4(h, pick(2) ? "10.0.1.2" : "255.255.255.255", "10.0.2.7");
		break;
	}
	h->proto = (uint8_t)(pick(3) ? IPPROTO_UDP : pick(256));
	h->has_ports = pick(5) != 0;
	h->sport = ports[pick(5)];
	h->dport = ports[pick(5)];
	h->len = (uint16_t)pick(65536);
	h->ipid = (uint16_t)pick(65536);
}

/* A step in @r, its texts in @rule: three texts, then its table and chain names. */
static void draw_step(struct trace_record *r, const struct trace_record *prev, char rule[5][300])
{
	size_t name_max;

	memset(r, 0, sizeof(*r));
	r->backend = pick(3) ? TRACE_BACKEND_LEGACY : TRACE_BACKEND_NFT;
	r->kind = (enum trace_kind)pick(3);
	name_max = r->backend == TRACE_BACKEND_NFT ? TRACE_NFT_NAME_MAX : TRACE_NAME_MAX;
	pick_name(rule[3], name_max);
	pick_name(rule[4], name_max);
	r->table = rule[3];
	r->chain = rule[4];
	r->verdict_chain = "";
	pick_name(r->in, sizeof(r->in));
	pick_name(r->out, sizeof(r->out));
	if (!pick(4))
		pick_name(r->physin, sizeof(r->physin));
	if (!pick(4))
		pick_name(r->physout, sizeof(r->physout));
	r->rulenum = pick(1000);
	r->handle = pick(2) ? (uint64_t)pick(1u << 31) << pick(33) : 0;
	r->table_family = (uint8_t)pick(14);
	if (prev && pick(4))
		r->pkt = prev->pkt;
	else
		pick_endpoints(&r->pkt);
	r->mark = pick(4) ? 0 : (uint32_t)pick(1u << 31) * 3;
	r->has_ct = !pick(4);
	r->ct_id = pick(1u << 31);
	r->ct_state = 1u << pick(8);
	r->ct_dir = (uint8_t)pick(2);
	r->ct_status = (uint32_t)pick(1u << 31) * 2;
	r->ts_ns = pick(8) ? (uint64_t)pick(1u << 31) * pick(1u << 31) * 4 + pick(1000) : 0;
	if (!pick(3)) {
		for (int i = 0; i < 3; i++)
			pick_name(rule[i], 300);
		r->rule = pick(3) ? rule[0] : NULL;
		r->verdict = pick(3) ? rule[1] : NULL;
		r->rule_reason = pick(3) ? rule[2] : NULL;
		r->verdict_continues = pick(2);
	}
}

/* Does the validator (tests/oracle.h) tell JSON from what is not? */
static void test_validator(void **state)
{
	static const char *const good[] = {
		"{}", "[]", "{\"a\":[1,-2,\"x\\u001f\\\"\",true,false,null,{}]}", "\"\xc3\xa9\"",
		"{\"in\":\"a\xef\xbf\xbd\",\"in_hex\":\"61ff\"}", "1.5e3",
	};
	static const char *const bad[] = {
		"{", "{\"a\"}", "{\"a\":}", "[1,]", "\"a\x01\"", "\"\\x\"", "\"\\u12\"", "01",
		"{\"a\":1,}", "tru", "\"abc", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xc3\"",
		/* _hex: right after its field, lower-case, even, and only for what is not UTF-8 */
		"{\"in\":\"a\",\"out\":\"\",\"in_hex\":\"61ff\"}", "{\"in\":\"a\",\"in_hex\":\"61FF\"}",
		"{\"in\":\"a\",\"in_hex\":\"61f\"}", "{\"in\":\"a\",\"in_hex\":\"61\"}",
		"{\"in\":\"a\",\"in_hex\":\"\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!oracle_json_line(good[i], strlen(good[i])))
			fail_msg("not taken: %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (oracle_json_line(bad[i], strlen(bad[i])))
			fail_msg("taken: %s", bad[i]);
}

/* Print @n drawn packets (and, one in ten, a record) to @c; with @flushes, flush() at times. */
static void print_drawn(struct cap *c, unsigned n, bool flushes, size_t *nsteps)
{
	static struct trace_record st[MAX_STEPS];
	static char rules[MAX_STEPS][5][300];

	for (unsigned k = 0; k < n; k++) {
		struct packet p = { .id = 1 + pick(1u << 31), .steps = st };

		p.nsteps = pick(4) ? 5 : 1 + pick(MAX_STEPS);
		p.steps_dropped = pick(20) ? 0 : pick(100);
		for (size_t i = 0; i < p.nsteps; i++)
			draw_step(&st[i], i ? &st[i - 1] : NULL, rules[i]);
		if (!pick(10)) {
			assert_int_equal(c->s.ops->record(&c->s, &st[0]), 0);
			nsteps[k] = 1;
		} else {
			assert_int_equal(c->s.ops->packet(&c->s, &p), 0);
			nsteps[k] = p.nsteps;
		}
		if (flushes && k % 97 == 0)
			assert_int_equal(c->s.ops->flush(&c->s), 0);
	}
}

/*
 * Drawn packets, any bytes in the names: every line is one JSON object with as many step
 * objects as the packet has steps (a name's '"' is escaped, so {"backend" can only start
 * a step), and the summary is the last line.
 */
static void test_drawn_lines_parse(void **state)
{
	enum { N = 3000 };
	static size_t nsteps[N];
	const struct summary sum = { .packets = N };
	struct cap c;
	char *all, *line;
	unsigned k = 0;

	(void)state;
	cap_open(&c, true);
	print_drawn(&c, N, true, nsteps);
	all = cap_close(&c, &sum);
	for (line = all; *line; k++) {
		char *nl = strchr(line, '\n');
		size_t steps = 0;

		assert_non_null(nl);
		*nl = '\0';
		if (!oracle_json_line(line, (size_t)(nl - line)))
			fail_msg("line %u is not one JSON value: %s", k + 1, line);
		if (k < N) {
			for (const char *s = line; (s = strstr(s, "{\"backend\":")); s++)
				steps++;
			assert_int_equal(steps, nsteps[k]);
		} else {
			assert_int_equal(strncmp(line, "{\"type\":\"summary\",", 18), 0);
		}
		line = nl + 1;
	}
	assert_int_equal(k, N + 1);
	free(all);
}

/*
 * With deferred_flush the sink collects many packets in its buffer, across its edges, and
 * flush() at any point: the bytes are those of the same packets printed one by one.
 */
static void test_deferred_same_bytes(void **state)
{
	enum { N = 3000 };
	static size_t nsteps[N];
	const struct summary sum = { .packets = N };
	uint64_t seed = rng;
	struct cap one, many;
	char *a, *b;

	(void)state;
	cap_open(&one, false);
	print_drawn(&one, N, false, nsteps);
	rng = seed;
	cap_open(&many, true);
	print_drawn(&many, N, true, nsteps);
	a = cap_close(&one, &sum);
	b = cap_close(&many, &sum);
	assert_true(strlen(a) > 16 * (64 << 10));
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/*
 * A sink used without begin() (tests drive the pipeline so) writes each line at once
 * through a smaller buffer of its own: the same bytes, long lines too.
 */
static void test_without_begin(void **state)
{
	enum { N = 500 };
	static size_t nsteps[N];
	static struct trace_record st[100];
	struct packet p = { .id = 2, .nsteps = 100, .steps = st };
	const struct summary sum = { .packets = N };
	uint64_t seed = rng;
	struct cap begun, bare;
	char *a;

	(void)state;
	for (size_t i = 0; i < 100; i++)
		step_init(&st[i], "filter", "FORWARD");
	cap_open(&begun, false);
	print_drawn(&begun, N, false, nsteps);
	assert_int_equal(begun.s.ops->packet(&begun.s, &p), 0);
	rng = seed;
	bare.buf = NULL;
	bare.size = 0;
	bare.f = open_memstream(&bare.buf, &bare.size);
	assert_non_null(bare.f);
	bare.s = (struct sink){ .ops = &sink_json_ops, .out = bare.f };
	print_drawn(&bare, N, false, nsteps);
	assert_int_equal(bare.s.ops->packet(&bare.s, &p), 0);	/* some 17 KB */
	a = cap_close(&begun, &sum);
	assert_string_equal(a, cap_close(&bare, &sum));
	free(a);
	free(bare.buf);
}

/* What an unbuffered FILE got: write() calls, bytes, the smallest write. */
struct writes {
	size_t	calls, bytes, min;
};

static ssize_t counting_write(void *cookie, const char *buf, size_t size)
{
	struct writes *w = cookie;

	(void)buf;
	w->calls++;
	w->bytes += size;
	if (size < w->min)
		w->min = size;
	return (ssize_t)size;
}

/* Without deferred_flush one write per packet; with it, one per buffer (64 KiB) of packets. */
static void test_writes_per_packet(void **state)
{
	struct trace_record st[5];
	struct packet p = { .id = 1, .nsteps = 5, .steps = st };
	const struct summary sum = { .packets = 1 };
	size_t line = 0;

	(void)state;
	for (size_t i = 0; i < 5; i++)
		step_init(&st[i], "filter", "FORWARD");
	for (int deferred = 0; deferred < 2; deferred++) {
		struct writes w = { .min = SIZE_MAX };
		FILE *f = fopencookie(&w, "w", (cookie_io_functions_t){ .write = counting_write });
		struct sink s = { .ops = &sink_json_ops, .out = f,
				  .opts = { .deferred_flush = deferred } };

		assert_non_null(f);
		assert_int_equal(setvbuf(f, NULL, _IONBF, 0), 0);
		assert_int_equal(s.ops->begin(&s), 0);
		for (int i = 0; i < 1000; i++)
			assert_int_equal(s.ops->packet(&s, &p), 0);
		if (!deferred) {
			assert_int_equal(w.calls, 1000);
			assert_int_equal(w.bytes % 1000, 0);
			line = w.bytes / 1000;
		} else {
			/* Only whole buffers so far: each write 64 KiB of packets, less a part. */
			assert_true(w.calls >= 1);
			assert_true(w.min > (56 << 10));
		}
		assert_int_equal(s.ops->end(&s, &sum), 0);
		assert_int_equal(w.bytes, 1000 * line + strlen("{\"type\":\"summary\","
			"\"packets\":1,\"records\":0,\"lost\":0,\"dropped\":0,\"evicted\":0}\n"));
		fclose(f);
	}
}

/* ---- failed writes ---- */

/* A FILE that takes @ok bytes, then fails every write. */
static ssize_t failing_write(void *cookie, const char *buf, size_t size)
{
	size_t *ok = cookie;

	(void)buf;
	if (*ok < size)
		return -1;
	*ok -= size;
	return (ssize_t)size;
}

static FILE *failing_file(size_t *ok)
{
	FILE *f = fopencookie(ok, "w", (cookie_io_functions_t){ .write = failing_write });

	assert_non_null(f);
	return f;
}

static void test_write_fails(void **state)
{
	struct trace_record r;
	struct packet p = { .id = 1, .nsteps = 1, .steps = &r };
	const struct summary sum = { .packets = 1 };
	size_t ok = 0;
	struct sink s = { .ops = &sink_json_ops };
	int rc = 0;

	(void)state;
	step_init(&r, "filter", "FORWARD");

	/* Each packet flushed: the first one fails. */
	s.out = failing_file(&ok);
	assert_int_equal(s.ops->begin(&s), 0);
	assert_int_equal(s.ops->packet(&s, &p), -1);
	assert_int_equal(s.ops->end(&s, &sum), -1);
	fclose(s.out);

	/* Deferred: a flush after the FILE failed says so, and so does end(). */
	ok = 1000;
	s.out = failing_file(&ok);
	s.opts.deferred_flush = true;
	assert_int_equal(s.ops->begin(&s), 0);
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = s.ops->packet(&s, &p);
	assert_int_equal(rc, 0);	/* all in the sink's buffer */
	assert_int_equal(s.ops->flush(&s), -1);
	assert_int_equal(s.ops->end(&s, &sum), -1);
	fclose(s.out);

	/* Deferred, many packets: the buffer fills, its write fails, a later packet says so. */
	ok = 1000;
	s.out = failing_file(&ok);
	assert_int_equal(s.ops->begin(&s), 0);
	for (int i = 0; i < 10000 && rc == 0; i++)
		rc = s.ops->packet(&s, &p);
	assert_int_equal(rc, -1);
	/* Records don't say (--no-group reports at the end); end() does. */
	assert_int_equal(s.ops->record(&s, &r), 0);
	assert_int_equal(s.ops->end(&s, &sum), -1);
	fclose(s.out);
}

/* ---- the writers the formatters share ---- */

/*
 * sink_fmt_time() is strftime's ISO 8601 with microseconds: a time of every day a uint64_t of
 * ns can name, and the last second.
 */
static void test_fmt_time(void **state)
{
	const uint64_t last_sec = UINT64_MAX / 1000000000u;
	char got[SINK_TIME_MAX], want[64];

	(void)state;
	assert_string_equal(sink_fmt_time(0, got, sizeof(got)), "");
	assert_string_equal(sink_fmt_time(UINT64_MAX, got, sizeof(got)),
			    "2554-07-21T23:34:33.709551Z");
	for (uint64_t day = 0; day <= last_sec / 86400; day++) {
		uint64_t sec = day * 86400 + pick(86400), ns = 1 + pick(999999999);
		time_t t;
		struct tm tm;
		size_t n;

		if (sec >= last_sec)
			sec = last_sec - 1;
		t = (time_t)sec;
		assert_non_null(gmtime_r(&t, &tm));
		n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want + n, sizeof(want) - n, ".%06uZ", (unsigned)(ns / 1000));
		assert_string_equal(sink_fmt_time(sec * 1000000000u + ns, got, sizeof(got)), want);
	}
}

/* sink_fmt_addr() writes a v4 address as inet_ntop() does, every octet value in every place. */
static void test_fmt_addr(void **state)
{
	struct pkt_hdr h = { .family = AF_INET };
	char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];

	(void)state;
	for (unsigned place = 0; place < 4; place++)
		for (unsigned v = 0; v < 256; v++) {
			for (unsigned i = 0; i < 4; i++)
				h.saddr.s6_addr[i] = h.daddr.s6_addr[3 - i] =
					(uint8_t)(i == place ? v : pick(256));
			assert_non_null(inet_ntop(AF_INET, &h.saddr, want, sizeof(want)));
			assert_string_equal(sink_fmt_addr(&h, false, got, sizeof(got)), want);
			assert_non_null(inet_ntop(AF_INET, &h.daddr, want, sizeof(want)));
			assert_string_equal(sink_fmt_addr(&h, true, got, sizeof(got)), want);
		}
	h.family = 0;
	assert_string_equal(sink_fmt_addr(&h, false, got, sizeof(got)), "");
}

static void put_u64_is(uint64_t v)
{
	char got[24], want[24];

	snprintf(want, sizeof(want), "%" PRIu64, v);
	*sink_put_u64(got, v) = '\0';
	assert_string_equal(got, want);
}

/*
 * sink_put_u64() writes what printf's PRIu64 does: every value to 10^6, each power of ten
 * and its neighbours, random ones.
 */
static void test_put_u64(void **state)
{
	uint64_t p10 = 1;

	(void)state;
	for (uint64_t v = 0; v <= 1000000; v++)
		put_u64_is(v);
	for (int d = 0; d < 20; d++, p10 *= 10) {
		put_u64_is(p10 - 1);
		put_u64_is(p10);
		put_u64_is(p10 + 1);
	}
	for (int i = 0; i < 1000000; i++)
		put_u64_is(((uint64_t)pick(UINT32_MAX) << 32 | pick(UINT32_MAX)) >> pick(64));
	put_u64_is(UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_packet),
		cmocka_unit_test(test_nft_steps),
		cmocka_unit_test(test_rule_fields),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_nat),
		cmocka_unit_test(test_nat_endpoint_forms),
		cmocka_unit_test(test_icmp_fields),
		cmocka_unit_test(test_ended),
		cmocka_unit_test(test_dropped_and_conntrack),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_escaper),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_long_lines_deferred),
		cmocka_unit_test(test_validator),
		cmocka_unit_test(test_drawn_lines_parse),
		cmocka_unit_test(test_deferred_same_bytes),
		cmocka_unit_test(test_without_begin),
		cmocka_unit_test(test_writes_per_packet),
		cmocka_unit_test(test_write_fails),
		cmocka_unit_test(test_fmt_time),
		cmocka_unit_test(test_fmt_addr),
		cmocka_unit_test(test_put_u64),
		cmocka_unit_test(test_longest_step),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
