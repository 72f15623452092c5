/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_grouper.c: packet identity across NAT, interleaving, hook order, windows and bounds */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "iptrace/grouper.h"

#define MS 1000000ull

struct out {
	size_t		n;
	uint64_t	ids[64];
	size_t		steps[64];
	char		first_chain[64][32];
	uint16_t	ipid[64];
};

static int on_emit(void *ctx, const struct packet *p)
{
	struct out *o = ctx;

	assert_true(o->n < 64);
	o->ids[o->n] = p->id;
	o->steps[o->n] = p->nsteps;
	o->ipid[o->n] = p->steps[0].pkt.ipid;
	snprintf(o->first_chain[o->n], 32, "%s", p->steps[0].chain);
	o->n++;
	return 0;
}

static struct grouper *mk(struct out *o, size_t max_open)
{
	struct grouper_cfg cfg = {
		.window_ns = 100 * MS, .max_open = max_open, .max_steps = 8,
		.emit = on_emit, .ctx = o,
	};
	memset(o, 0, sizeof(*o));
	return grouper_new(&cfg);
}

static struct trace_record rec(const char *table, const char *chain, int hook, uint16_t ipid,
			       const char *dst)
{
	struct trace_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.table, sizeof(r.table), "%s", table);
	snprintf(r.chain, sizeof(r.chain), "%s", chain);
	r.hook = (int8_t)hook;
	r.pkt.family = AF_INET;
	r.pkt.proto = IPPROTO_UDP;
	r.pkt.ipid = ipid;
	r.pkt.len = 60;
	r.pkt.payload_hash = 0xabcd;
	r.pkt.has_ports = true;
	r.pkt.sport = 40000;
	r.pkt.dport = 53;
	inet_pton(AF_INET, "10.0.1.2", &r.pkt.saddr);
	inet_pton(AF_INET, dst, &r.pkt.daddr);
	return r;
}

/* Two packets interleaved, one DNATed mid-path: two packets, steps in order. */
static void test_interleave_and_nat(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record a1 = rec("raw", "PREROUTING", HOOK_PREROUTING, 1, "10.96.0.10");
	struct trace_record b1 = rec("raw", "PREROUTING", HOOK_PREROUTING, 2, "10.96.0.10");
	struct trace_record a2 = rec("nat", "KUBE-SEP-X", HOOK_PREROUTING, 1, "10.96.0.10");
	struct trace_record a3 = rec("filter", "FORWARD", HOOK_FORWARD, 1, "10.0.2.7");
	struct trace_record b2 = rec("filter", "INPUT", HOOK_INPUT, 2, "10.96.0.10");

	(void)state;
	assert_int_equal(grouper_add(g, &a1, 0), 0);
	assert_int_equal(grouper_add(g, &b1, 1), 0);
	assert_int_equal(grouper_add(g, &a2, 2), 0);
	assert_int_equal(grouper_add(g, &a3, 3), 0);
	assert_int_equal(grouper_add(g, &b2, 60 * MS), 0);
	assert_int_equal(o.n, 0);
	assert_int_equal(grouper_open_count(g), 2);
	assert_int_equal(grouper_next_deadline(g), 3 + 100 * MS);
	grouper_expire(g, 50 * MS);
	assert_int_equal(o.n, 0);
	grouper_expire(g, 103 * MS);
	assert_int_equal(o.n, 1);	/* a's window closed first */
	assert_int_equal(o.ipid[0], 1);
	assert_int_equal(o.steps[0], 3);
	grouper_flush(g);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.ipid[1], 2);
	assert_int_equal(o.steps[1], 2);
	assert_int_equal(o.ids[0], 1);	/* ids in order of first record */
	assert_int_equal(o.ids[1], 2);
	grouper_free(g);
}

/* The same key stepping back in hook order is a new packet (e.g. a retransmission). */
static void test_backwards_is_new_packet(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record r1 = rec("raw", "PREROUTING", HOOK_PREROUTING, 7, "10.0.0.1");
	struct trace_record r2 = rec("filter", "FORWARD", HOOK_FORWARD, 7, "10.0.0.1");

	(void)state;
	grouper_add(g, &r1, 0);
	grouper_add(g, &r2, 1);
	grouper_add(g, &r1, 2);	/* back to raw PREROUTING: not the same traversal */
	assert_int_equal(o.n, 1);
	assert_int_equal(o.steps[0], 2);
	grouper_flush(g);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.steps[1], 1);
	/* Within a hook, a lower-priority table after a higher one is also a new packet. */
	{
		struct trace_record f = rec("filter", "INPUT", HOOK_INPUT, 8, "10.0.0.1");
		struct trace_record m = rec("mangle", "INPUT", HOOK_INPUT, 8, "10.0.0.1");

		grouper_add(g, &f, 10);
		grouper_add(g, &m, 11);
		grouper_flush(g);
		assert_int_equal(o.n, 4);
	}
	grouper_free(g);
}

/* Loopback: OUTPUT → POSTROUTING → PREROUTING → INPUT is one packet, but only once. */
static void test_loopback(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record s[] = {
		rec("raw", "OUTPUT", HOOK_OUTPUT, 9, "127.0.0.1"),
		rec("filter", "OUTPUT", HOOK_OUTPUT, 9, "127.0.0.1"),
		rec("nat", "POSTROUTING", HOOK_POSTROUTING, 9, "127.0.0.1"),
		rec("raw", "PREROUTING", HOOK_PREROUTING, 9, "127.0.0.1"),
		rec("filter", "INPUT", HOOK_INPUT, 9, "127.0.0.1"),
		rec("raw", "OUTPUT", HOOK_OUTPUT, 9, "127.0.0.1"),
	};

	(void)state;
	for (size_t i = 0; i < 5; i++)
		grouper_add(g, &s[i], i);
	grouper_flush(g);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.steps[0], 5);
	/* A second loop for the same key within the window is another packet. */
	for (size_t i = 0; i < 5; i++)
		grouper_add(g, &s[i], 10 + i);
	grouper_add(g, &s[3], 20);
	grouper_flush(g);
	assert_int_equal(o.n, 3);
	grouper_free(g);
}

/* User chains (HOOK_NONE from text input) inherit the packet's hook. */
static void test_user_chain_inherits(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record s[] = {
		rec("nat", "PREROUTING", HOOK_NONE, 3, "10.96.0.10"),
		rec("nat", "KUBE-SERVICES", HOOK_NONE, 3, "10.96.0.10"),
		rec("filter", "FORWARD", HOOK_NONE, 3, "10.0.2.7"),
		rec("filter", "WEAVE-NPC", HOOK_NONE, 3, "10.0.2.7"),
		rec("nat", "POSTROUTING", HOOK_NONE, 3, "10.0.2.7"),
	};

	(void)state;
	for (size_t i = 0; i < 5; i++)
		grouper_add(g, &s[i], i);
	grouper_flush(g);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.steps[0], 5);
	grouper_free(g);
}

/* The bound on open packets evicts the oldest and counts it; steps are bounded too. */
static void test_bounds(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 4);
	struct grouper_stats st;

	(void)state;
	for (uint16_t i = 0; i < 10; i++) {
		struct trace_record r = rec("raw", "PREROUTING", HOOK_PREROUTING, i, "10.0.0.1");

		grouper_add(g, &r, i);
	}
	assert_int_equal(grouper_open_count(g), 4);
	grouper_get_stats(g, &st);
	assert_int_equal(st.evicted, 6);
	assert_int_equal(o.n, 6);
	assert_int_equal(o.ipid[0], 0);
	for (int i = 0; i < 12; i++) {
		struct trace_record r = rec("raw", "PREROUTING", HOOK_PREROUTING, 9, "10.0.0.1");

		grouper_add(g, &r, 20 + (uint64_t)i);
	}
	assert_int_equal(grouper_discard(g), 4);
	grouper_get_stats(g, &st);
	assert_int_equal(st.discarded, 4);
	assert_int_equal(st.records, 22);
	grouper_free(g);
}

/* A different payload with the same IP ID is a different packet. */
static void test_payload_in_key(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record a = rec("raw", "PREROUTING", HOOK_PREROUTING, 0, "10.0.0.1");
	struct trace_record b = a;

	(void)state;
	b.pkt.payload_hash = 0x1234;
	grouper_add(g, &a, 0);
	grouper_add(g, &b, 1);
	assert_int_equal(grouper_open_count(g), 2);
	grouper_flush(g);
	grouper_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interleave_and_nat),
		cmocka_unit_test(test_backwards_is_new_packet),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_user_chain_inherits),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_payload_in_key),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
