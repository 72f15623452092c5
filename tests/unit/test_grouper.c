/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_grouper.c: packet identity across NAT, interleaving, hook order, windows and bounds */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "iptrace/grouper.h"
#include "test_step.h"

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

	step_rule(&r, table, chain, hook);
	hdr_v4(&r.pkt, "10.0.1.2", dst);
	hdr_udp(&r.pkt, 40000, 53);
	r.pkt.ipid = ipid;
	r.pkt.len = 60;
	r.pkt.payload_hash = 0xabcd;
	return r;
}

/* Add @n records of @s to @g, the first at @t0 and each a nanosecond later. */
static void add_each(struct grouper *g, const struct trace_record *s, size_t n, uint64_t t0)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(grouper_add(g, &s[i], t0 + i), 0);
}

/* Add @n records of @s from @t0 on (add_each()) and flush: one more packet, of @n steps. */
static void assert_one_packet(struct grouper *g, const struct out *o, const struct trace_record *s,
			      size_t n, uint64_t t0)
{
	size_t before = o->n;

	add_each(g, s, n, t0);
	grouper_flush(g);
	assert_int_equal(o->n, before + 1);
	assert_int_equal(o->steps[before], n);
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
	assert_one_packet(g, &o, s, 5, 0);
	/* A second loop for the same key within the window is another packet. */
	add_each(g, s, 5, 10);
	add_each(g, &s[3], 1, 20);
	grouper_flush(g);
	assert_int_equal(o.n, 3);
	grouper_free(g);
}

/* Set a record's interfaces (empty strings: none). */
static struct trace_record at(struct trace_record r, const char *in, const char *out)
{
	snprintf(r.in, sizeof(r.in), "%s", in);
	snprintf(r.out, sizeof(r.out), "%s", out);
	return r;
}

/*
 * Place: the same datagram (same key) within the window, in order, but on another input
 * interface is another packet; so is a "loop" back to PREROUTING from another interface
 * than the one it left by. Loopback (out lo, in lo) stays one packet.
 */
static void test_place(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	struct trace_record pre = rec("raw", "PREROUTING", HOOK_PREROUTING, 5, "10.0.2.7");
	struct trace_record fwd = rec("filter", "FORWARD", HOOK_FORWARD, 5, "10.0.2.7");
	struct trace_record post = rec("nat", "POSTROUTING", HOOK_POSTROUTING, 5, "10.0.2.7");

	(void)state;
	grouper_add(g, (struct trace_record[]){ at(pre, "eth0", "") }, 1);
	grouper_add(g, (struct trace_record[]){ at(fwd, "eth1", "eth2") }, 2);
	grouper_flush(g);
	assert_int_equal(o.n, 2);
	/* A forwarded packet leaves by one interface. */
	grouper_add(g, (struct trace_record[]){ at(fwd, "eth0", "eth1") }, 10);
	grouper_add(g, (struct trace_record[]){ at(post, "", "eth2") }, 11);
	grouper_flush(g);
	assert_int_equal(o.n, 4);
	/* Out eth1, then in at PREROUTING on eth0: not a loop, another packet. */
	grouper_add(g, (struct trace_record[]){ at(pre, "eth0", "") }, 20);
	grouper_add(g, (struct trace_record[]){ at(fwd, "eth0", "eth1") }, 21);
	grouper_add(g, (struct trace_record[]){ at(post, "", "eth1") }, 22);
	grouper_add(g, (struct trace_record[]){ at(pre, "eth0", "") }, 23);
	grouper_flush(g);
	assert_int_equal(o.n, 6);
	assert_int_equal(o.steps[4], 3);
	/* Loopback: out lo, in lo. */
	grouper_add(g, (struct trace_record[]){ at(rec("raw", "OUTPUT", HOOK_OUTPUT, 5, "127.0.0.1"), "", "lo") }, 30);
	grouper_add(g, (struct trace_record[]){ at(rec("nat", "POSTROUTING", HOOK_POSTROUTING, 5, "127.0.0.1"), "", "lo") }, 31);
	grouper_add(g, (struct trace_record[]){ at(rec("raw", "PREROUTING", HOOK_PREROUTING, 5, "127.0.0.1"), "lo", "") }, 32);
	grouper_add(g, (struct trace_record[]){ at(rec("filter", "INPUT", HOOK_INPUT, 5, "127.0.0.1"), "lo", "") }, 33);
	grouper_flush(g);
	assert_int_equal(o.n, 7);
	assert_int_equal(o.steps[6], 4);
	grouper_free(g);
}

/* User chains (HOOK_NONE from text input) inherit the packet's hook. */
static void test_user_chain_inherits(void **state)
{
	struct out o;
	struct grouper *g = mk(&o, 16);
	static const char *const path[][2] = {
		{ "nat", "PREROUTING" }, { "nat", "KUBE-SERVICES" },	/* DNATed here */
		{ "filter", "FORWARD" }, { "filter", "WEAVE-NPC" }, { "nat", "POSTROUTING" },
	};
	struct trace_record s[5];

	(void)state;
	for (size_t i = 0; i < 5; i++)
		s[i] = rec(path[i][0], path[i][1], HOOK_NONE, 3, i < 2 ? "10.96.0.10" : "10.0.2.7");
	assert_one_packet(g, &o, s, 5, 0);
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

/* Every emitted packet, whole: its id, steps dropped and each step's bytes. */
struct full {
	size_t			n, nrec;
	uint64_t		ids[64];
	size_t			nsteps[64];
	uint32_t		dropped[64];
	struct trace_record	steps[256];
};

static int on_emit_full(void *ctx, const struct packet *p)
{
	struct full *f = ctx;

	assert_true(f->n < 64 && f->nrec + p->nsteps <= 256);
	f->ids[f->n] = p->id;
	f->nsteps[f->n] = p->nsteps;
	f->dropped[f->n] = p->steps_dropped;
	memcpy(&f->steps[f->nrec], p->steps, p->nsteps * sizeof(*p->steps));
	f->nrec += p->nsteps;
	f->n++;
	return 0;
}

/*
 * The same records, added from the caller's memory and decoded into grouper_slot(): the
 * same packets, step for step. The sequence makes the slot's packet take the record (a
 * run), lose it to another packet (interleaving), be emitted and reused for a new packet
 * (a backwards step; eviction at max_open 2) and be full (max_steps 3, steps dropped).
 */
static void test_slot_same_as_copy(void **state)
{
	struct full *f[2] = { calloc(1, sizeof(struct full)), calloc(1, sizeof(struct full)) };
	static const struct { const char *t, *c; int hook; uint16_t ipid; } seq[] = {
		{ "raw", "PREROUTING", HOOK_PREROUTING, 1 },
		{ "mangle", "PREROUTING", HOOK_PREROUTING, 1 },
		{ "raw", "PREROUTING", HOOK_PREROUTING, 2 },
		{ "filter", "FORWARD", HOOK_FORWARD, 1 },
		{ "mangle", "POSTROUTING", HOOK_POSTROUTING, 1 },
		{ "nat", "POSTROUTING", HOOK_POSTROUTING, 1 },	/* past max_steps */
		{ "raw", "PREROUTING", HOOK_PREROUTING, 1 },	/* backwards: a new packet */
		{ "raw", "PREROUTING", HOOK_PREROUTING, 3 },	/* evicts at max_open 2 */
		{ "filter", "INPUT", HOOK_INPUT, 3 },
		{ "raw", "PREROUTING", HOOK_PREROUTING, 4 },
		{ "filter", "INPUT", HOOK_INPUT, 1 },
		{ "filter", "INPUT", HOOK_INPUT, 4 },
	};

	(void)state;
	assert_non_null(f[0]);
	assert_non_null(f[1]);
	for (int k = 0; k < 2; k++) {
		struct grouper_cfg cfg = {
			.window_ns = 100 * MS, .max_open = 2, .max_steps = 3,
			.emit = on_emit_full, .ctx = f[k],
		};
		struct grouper *g = grouper_new(&cfg);

		assert_non_null(g);
		for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
			struct trace_record r = rec(seq[i].t, seq[i].c, seq[i].hook, seq[i].ipid,
						    "10.0.0.1");
			struct trace_record *to = k ? grouper_slot(g) : &r;

			r.rulenum = (uint32_t)i;	/* which record each step is */
			if (k) {
				memset(to, 0xa5, sizeof(*to));	/* the slot's old contents */
				*to = r;
			}
			assert_int_equal(grouper_add(g, to, i), 0);
		}
		grouper_flush(g);
		grouper_free(g);
	}
	assert_int_equal(f[0]->n, f[1]->n);
	assert_true(f[0]->n >= 5);
	assert_int_equal(f[0]->nrec, f[1]->nrec);
	assert_memory_equal(f[0]->ids, f[1]->ids, sizeof(f[0]->ids));
	assert_memory_equal(f[0]->nsteps, f[1]->nsteps, sizeof(f[0]->nsteps));
	assert_memory_equal(f[0]->dropped, f[1]->dropped, sizeof(f[0]->dropped));
	assert_memory_equal(f[0]->steps, f[1]->steps, f[0]->nrec * sizeof(f[0]->steps[0]));
	free(f[0]);
	free(f[1]);
}

/*
 * Packets longer than a slab's room for steps (8): they move to memory of their own and
 * grow, through the slot too; a packet reused after that keeps it. Steps stay in order.
 */
static void test_many_steps(void **state)
{
	struct full *f = calloc(1, sizeof(*f));
	struct grouper_cfg cfg = {
		.window_ns = 100 * MS, .max_open = 1, .max_steps = 20,
		.emit = on_emit_full, .ctx = f,
	};
	struct grouper *g = grouper_new(&cfg);
	size_t at = 0;

	(void)state;
	assert_non_null(f);
	assert_non_null(g);
	for (uint16_t ipid = 1; ipid <= 3; ipid++) {
		size_t n = ipid == 1 ? 12 : 25;

		for (size_t i = 0; i < n; i++) {
			struct trace_record r = rec("raw", "PREROUTING", HOOK_PREROUTING, ipid,
						    "10.0.0.1");
			struct trace_record *to = i % 2 ? grouper_slot(g) : &r;

			r.rulenum = (uint32_t)i;
			*to = r;
			assert_int_equal(grouper_add(g, to, i), 0);
		}
	}
	grouper_flush(g);
	assert_int_equal(f->n, 3);
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(f->nsteps[k], k ? 20 : 12);
		assert_int_equal(f->dropped[k], k ? 5 : 0);
		for (size_t i = 0; i < f->nsteps[k]; i++) {
			assert_int_equal(f->steps[at + i].rulenum, i);
			assert_int_equal(f->steps[at + i].pkt.ipid, k + 1);
		}
		at += f->nsteps[k];
	}
	grouper_free(g);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interleave_and_nat),
		cmocka_unit_test(test_backwards_is_new_packet),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_user_chain_inherits),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_payload_in_key),
		cmocka_unit_test(test_slot_same_as_copy),
		cmocka_unit_test(test_many_steps),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
