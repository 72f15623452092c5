/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_annotate.c: where NAT is placed on a packet's path, the source NAT from conntrack, early ends */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <cmocka.h>

#include "iptrace/annotate.h"
#include "test_step.h"

/* A legacy step of a UDP packet @src:40000 > @dst:53 at @hook. */
static void step(struct trace_record *r, const char *table, const char *chain, int hook,
		 const char *verdict, const char *src, const char *dst)
{
	step_rule(r, table, chain, hook);
	r->verdict = verdict;
	hdr_v4(&r->pkt, src, dst);
	hdr_udp(&r->pkt, 40000, 53);
	r->pkt.ttl = 64;
}

static struct packet pkt(struct trace_record *st, size_t n)
{
	return (struct packet){ .id = 1, .nsteps = n, .steps = st };
}

/* annotate_nat() finds exactly one change on @p: at step @at, by conntrack or not; that one. */
static struct packet_nat one_nat(const struct packet *p, size_t at, bool conntrack)
{
	struct packet_nat n[4];

	assert_int_equal(annotate_nat(p, n, 4), 1);
	assert_int_equal(n[0].step, at);
	assert_int_equal(n[0].conntrack, conntrack);
	return n[0];
}

/* A new connection's DNAT: on the rule that chose it, not on the step that shows it. */
static void test_dnat_rule(void **state)
{
	struct trace_record st[4];
	struct packet p;
	struct packet_nat n;

	(void)state;
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT", "10.0.1.2", "10.96.0.10");
	step(&st[1], "nat", "PREROUTING", HOOK_PREROUTING, "jump KUBE-SEP", "10.0.1.2", "10.96.0.10");
	step(&st[2], "nat", "KUBE-SEP", HOOK_PREROUTING, "DNAT", "10.0.1.2", "10.96.0.10");
	step(&st[3], "filter", "FORWARD", HOOK_FORWARD, "ACCEPT", "10.0.1.2", "10.0.2.7");
	p = pkt(st, 4);
	n = one_nat(&p, 2, false);
	assert_true(n.dst);
	assert_false(n.src);
	assert_int_equal(n.hook, HOOK_PREROUTING);
	assert_ptr_equal(n.before, &st[2].pkt);
	assert_ptr_equal(n.after, &st[3].pkt);

	/* --replay: no verdicts, but the nat table crossed at that hook says a rule did it. */
	for (int i = 0; i < 4; i++)
		st[i].verdict = NULL;
	one_nat(&p, 2, false);
	/* No room: nothing written. */
	assert_int_equal(annotate_nat(&p, &n, 0), 0);
}

/*
 * A reply to a masqueraded connection: conntrack restores its destination at nat PREROUTING,
 * after mangle PREROUTING and before mangle FORWARD; no nat table step on its path.
 */
static void test_reply_reverse_snat(void **state)
{
	struct trace_record st[3];
	struct packet p;
	struct packet_nat n;

	(void)state;
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT", "10.0.2.7", "10.0.2.1");
	step(&st[1], "mangle", "PREROUTING", HOOK_PREROUTING, "ACCEPT", "10.0.2.7", "10.0.2.1");
	st[1].kind = TRACE_KIND_POLICY;
	step(&st[2], "mangle", "FORWARD", HOOK_FORWARD, "ACCEPT", "10.0.2.7", "10.0.1.2");
	p = pkt(st, 3);
	n = one_nat(&p, 1, true);
	assert_true(n.dst);
	assert_int_equal(n.hook, HOOK_PREROUTING);

	/* Its reverse DNAT in POSTROUTING: the hook of the later step. */
	step(&st[1], "filter", "FORWARD", HOOK_FORWARD, "ACCEPT", "10.0.2.7", "10.0.1.2");
	step(&st[2], "mangle", "POSTROUTING", HOOK_POSTROUTING, "ACCEPT", "10.96.0.10", "10.0.1.2");
	st[0].pkt.daddr = st[1].pkt.daddr;
	n = one_nat(&p, 1, true);
	assert_true(n.src);
	assert_int_equal(n.hook, HOOK_POSTROUTING);
}

/* nft steps: the conntrack state they carry, and NAT statements in the rule text. */
static void test_nft(void **state)
{
	struct trace_record st[2];
	struct packet p;

	(void)state;
	step(&st[0], "nat", "prerouting", HOOK_PREROUTING, "accept", "10.0.1.2", "10.96.0.10");
	step(&st[1], "filter", "forward", HOOK_FORWARD, "accept", "10.0.1.2", "10.0.2.7");
	st[0].backend = st[1].backend = TRACE_BACKEND_NFT;
	st[0].rule = "ip daddr 10.96.0.10 udp dport 53 dnat to 10.0.2.7";
	p = pkt(st, 2);
	one_nat(&p, 0, false);

	/* Matches on NAT status or ICMP types are not NAT statements; the table name says rule. */
	st[0].rule = "ct status dnat icmp type redirect accept";
	one_nat(&p, 0, false);
	/* ... unless conntrack's state says the connection is not new. */
	st[0].has_ct = true;
	st[0].ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	st[0].ct_dir = IP_CT_DIR_REPLY;
	one_nat(&p, 0, true);
	st[0].ct_state = NF_CT_STATE_BIT(IP_CT_NEW);
	st[0].ct_dir = IP_CT_DIR_ORIGINAL;
	st[0].table = "myfw";
	one_nat(&p, 0, false);
}

/* The source NAT of nat POSTROUTING, which no later step shows, from conntrack's reply tuple. */
static void test_snat_from_conntrack(void **state)
{
	struct trace_record st[2];
	struct packet p;
	struct ct_entry e;
	struct pkt_hdr after;

	(void)state;
	step(&st[0], "filter", "FORWARD", HOOK_FORWARD, "ACCEPT", "10.0.1.2", "10.0.2.7");
	step(&st[1], "nat", "POSTROUTING", HOOK_POSTROUTING, "MASQUERADE", "10.0.1.2", "10.0.2.7");
	p = pkt(st, 2);
	assert_true(annotate_snat_last(&p));
	st[1].verdict = "SNAT";
	assert_true(annotate_snat_last(&p));
	st[1].verdict = "ACCEPT";
	assert_false(annotate_snat_last(&p));
	st[1].verdict = "MASQUERADE";
	st[1].hook = HOOK_FORWARD;
	assert_false(annotate_snat_last(&p));
	st[1].hook = HOOK_POSTROUTING;
	st[1].backend = TRACE_BACKEND_NFT;
	st[1].rule = "oifname \"r1\" masquerade";
	assert_true(annotate_snat_last(&p));

	memset(&e, 0, sizeof(e));
	e.orig.family = e.reply.family = AF_INET;
	e.reply.has_ports = true;
	inet_pton(AF_INET, "10.0.2.7", &e.reply.src);
	inet_pton(AF_INET, "10.0.2.1", &e.reply.dst);
	e.reply.sport = 53;
	e.reply.dport = 40001;
	assert_true(annotate_snat(&st[1].pkt, &e, &after));
	assert_memory_equal(&after.daddr, &st[1].pkt.daddr, 4);
	assert_memory_equal(&after.saddr, &e.reply.dst, 4);
	assert_int_equal(after.sport, 40001);
	/* No source NAT in the entry: nothing to show. */
	e.reply.dst = st[1].pkt.saddr;
	e.reply.dport = 40000;
	assert_false(annotate_snat(&st[1].pkt, &e, &after));
	p.nsteps = 0;
	assert_false(annotate_snat_last(&p));
}

/* Early ends: only where a later hook would have reported the packet. */
static void test_ended(void **state)
{
	const unsigned both = HOOK_BIT(HOOK_INPUT) | HOOK_BIT(HOOK_FORWARD);
	struct trace_record st[2];
	struct packet p;
	const char *h;

	(void)state;
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING, "ACCEPT", "10.0.1.2", "10.99.0.1");
	step(&st[1], "mangle", "PREROUTING", HOOK_PREROUTING, "ACCEPT", "10.0.1.2", "10.99.0.1");
	p = pkt(st, 2);
	h = annotate_ended(&p, both);
	assert_non_null(h);
	assert_non_null(strstr(h, "no route"));
	assert_non_null(strstr(h, "rp_filter"));
	assert_null(annotate_ended(&p, HOOK_BIT(HOOK_INPUT)));
	st[1].pkt.ttl = 1;
	assert_non_null(strstr(annotate_ended(&p, both), "TTL"));
	/* A multicast group not joined (an MLD report's hop limit is 1): no TTL expired. */
	st[1].pkt.daddr.s6_addr[0] = 224;
	assert_non_null(strstr(annotate_ended(&p, both), "multicast group"));
	st[1].pkt.family = AF_INET6;
	assert_non_null(strstr(annotate_ended(&p, both), "TTL"));	/* 224:: is unicast */
	st[1].pkt.daddr.s6_addr[0] = 0xff;
	assert_non_null(strstr(annotate_ended(&p, both), "multicast group"));
	st[1].pkt.family = AF_INET;
	assert_non_null(strstr(annotate_ended(&p, both), "TTL"));
	st[1].pkt.daddr.s6_addr[0] = 10;
	st[1].verdict = "DROP";
	assert_null(annotate_ended(&p, both));
	/* nft: a drop verdict or a drop policy ended it. */
	st[1].verdict = NULL;
	st[1].backend = TRACE_BACKEND_NFT;
	st[1].has_policy = true;
	st[1].policy = NF_DROP;
	assert_null(annotate_ended(&p, both));
	st[1].policy = NF_ACCEPT;
	assert_non_null(annotate_ended(&p, both));
	/* A packet that reached FORWARD ended where it should, as far as we can tell. */
	st[1].hook = HOOK_FORWARD;
	assert_null(annotate_ended(&p, ~0u));
	/* Local output that never reached a reporting POSTROUTING. */
	st[1].hook = HOOK_OUTPUT;
	assert_non_null(annotate_ended(&p, HOOK_BIT(HOOK_POSTROUTING)));
	assert_null(annotate_ended(&p, both));
	/* Steps past the bound: the end is unknown. */
	p.steps_dropped = 1;
	assert_null(annotate_ended(&p, ~0u));

	assert_int_equal(annotate_table_hooks("filter"), both | HOOK_BIT(HOOK_OUTPUT));
	assert_int_equal(annotate_table_hooks("raw"),
			 HOOK_BIT(HOOK_PREROUTING) | HOOK_BIT(HOOK_OUTPUT));
	assert_int_equal(annotate_table_hooks("nat"), 0);
	assert_int_equal(annotate_table_hooks("mangle"), 0x1f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnat_rule),
		cmocka_unit_test(test_reply_reverse_snat),
		cmocka_unit_test(test_nft),
		cmocka_unit_test(test_snat_from_conntrack),
		cmocka_unit_test(test_ended),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
