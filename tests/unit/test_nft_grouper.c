/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nft_grouper.c: nft records grouped by trace id and merged with legacy records */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/grouper.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "iptrace/pkt.h"
#include "test_nlrec.h"
#include "test_step.h"

#define MAX_PKTS 8
#define MAX_STEPS 64

struct seen {
	size_t			npkts;
	size_t			nsteps[MAX_PKTS];
	struct trace_record	steps[MAX_PKTS][MAX_STEPS];
};

static struct seen *seen;

static int cap_begin(struct sink *s)
{
	(void)s;
	return 0;
}

static int cap_packet(struct sink *s, const struct packet *p)
{
	(void)s;
	assert_true(seen->npkts < MAX_PKTS);
	assert_true(p->nsteps <= MAX_STEPS);
	memcpy(seen->steps[seen->npkts], p->steps, p->nsteps * sizeof(*p->steps));
	seen->nsteps[seen->npkts++] = p->nsteps;
	return 0;
}

static const struct sink_ops cap_ops = {
	.name = "capture", .begin = cap_begin, .packet = cap_packet,
};

static int emit_cb(void *ctx, const struct packet *p)
{
	return cap_packet(ctx, p);
}

static long step_index(size_t pkt, int backend, const char *table, const char *chain)
{
	for (size_t i = 0; i < seen->nsteps[pkt]; i++) {
		const struct trace_record *r = &seen->steps[pkt][i];

		if ((int)r->backend == backend && strncmp(r->table, table, strlen(table)) == 0 &&
		    strcmp(r->chain, chain) == 0)
			return (long)i;
	}
	return -1;
}

/*
 * hybrid-dnat.nlrec: `iptrace --port 53 --record` (legacy+nft marker) on a router with
 * legacy kube-proxy-like nat chains and an nft table inet fw (prerouting at -200 jumping to
 * a regular chain, forward at +10). Two sockets, one packet, in kernel order.
 */
static void test_hybrid_replay(void **state)
{
	static struct seen s;
	struct pipeline_cfg pc = { .window_ns = 250000000ull };
	struct sink sink = { .ops = &cap_ops };
	struct pipeline *pl;
	bool legacy = false, nft = false;
	long raw, pre, sub, mangle, nat, filt, fwd, post;

	(void)state;
	memset(&s, 0, sizeof(s));
	seen = &s;
	pl = pipeline_new(&pc, &sink);
	assert_non_null(pl);
	each_chunk(TEST_DATA_DIR "/hybrid-dnat.nlrec", replay_chunk, pl);
	assert_int_equal(pipeline_finish(pl, NULL), 0);

	assert_int_equal(s.npkts, 1);
	for (size_t i = 0; i < s.nsteps[0]; i++) {
		legacy |= s.steps[0][i].backend == TRACE_BACKEND_LEGACY;
		nft |= s.steps[0][i].backend == TRACE_BACKEND_NFT;
	}
	assert_true(legacy && nft);
	/* The marker's own chain at -350 comes first. */
	assert_int_equal(step_index(0, TRACE_BACKEND_NFT, "iptrace_", "prerouting"), 0);
	raw = step_index(0, TRACE_BACKEND_LEGACY, "raw", "PREROUTING");
	pre = step_index(0, TRACE_BACKEND_NFT, "fw", "mypre");
	sub = step_index(0, TRACE_BACKEND_NFT, "fw", "mysub");
	mangle = step_index(0, TRACE_BACKEND_LEGACY, "mangle", "PREROUTING");
	nat = step_index(0, TRACE_BACKEND_LEGACY, "nat", "KUBE-SEP-DNS");
	filt = step_index(0, TRACE_BACKEND_LEGACY, "filter", "FORWARD");
	fwd = step_index(0, TRACE_BACKEND_NFT, "fw", "myfwd");
	post = step_index(0, TRACE_BACKEND_LEGACY, "nat", "POSTROUTING");
	/* raw -300 < fw -200 (and its jump) < mangle -150 < nat -100; filter 0 < fw +10. */
	assert_true(raw > 0 && raw < pre);
	assert_true(pre < sub && sub < mangle);
	assert_true(mangle < nat && nat < filt);
	assert_true(filt < fwd && fwd < post);
	/* The regular chain's step came without headers: it inherited them. */
	assert_int_equal(s.steps[0][sub].pkt.family, AF_INET);
	assert_int_equal(s.steps[0][sub].pkt.dport, 53);
	/* Last: the steps kept point at the pipeline's names. */
	pipeline_free(pl);
}

/* An IPv4/UDP datagram with a 30-byte payload; @ipid and @daddr vary. */
static size_t datagram(uint8_t *b, uint16_t ipid, uint8_t dlast)
{
	static const char payload[] = "0123456789abcdefghijklmnopqrst";
	size_t plen = sizeof(payload) - 1, len = 20 + 8 + plen;

	memset(b, 0, len);
	b[0] = 0x45;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	b[4] = (uint8_t)(ipid >> 8);
	b[5] = (uint8_t)ipid;
	b[8] = 64;
	b[9] = IPPROTO_UDP;
	b[12] = 10, b[13] = 0, b[14] = 1, b[15] = 2;
	b[16] = 10, b[17] = 96, b[18] = 0, b[19] = dlast;
	b[20] = 0x9c, b[21] = 0x40;	/* sport 40000 */
	b[23] = 53;
	b[25] = (uint8_t)(8 + plen);
	memcpy(b + 28, payload, plen);
	return len;
}

/* A record of @backend whose headers are @len bytes of @b (nft: at most 20 of L4). */
static void mkrec(struct trace_record *r, int backend, const uint8_t *b, size_t len,
		  uint32_t id, int hook, const char *table, const char *chain, int32_t prio)
{
	step_rule(r, table, chain, hook);
	r->backend = (enum trace_backend)backend;
	r->trace_id = id;
	if (backend == TRACE_BACKEND_NFT) {
		r->has_prio = true;
		r->prio = prio;
		r->handle = 1;
		if (len > 40)
			len = 40;
		r->has_hdr = len > 0;
	} else {
		r->rulenum = 1;
	}
	memcpy(r->raw, b, len);
	r->raw_len = (uint16_t)len;
	if (len)
		assert_int_equal(pkt_decode(b, len, AF_INET, &r->pkt), 0);
}

/* mkrec()'s record added to @g at @t. */
static void add(struct grouper *g, uint64_t t, int backend, const uint8_t *b, size_t len,
		uint32_t id, int hook, const char *table, const char *chain, int32_t prio)
{
	struct trace_record r;

	mkrec(&r, backend, b, len, id, hook, table, chain, prio);
	assert_int_equal(grouper_add(g, &r, t), 0);
}

/* The grouping tests' fixture: a grouper (*@state) whose packets go to a fresh seen. */
static int grouper_up(void **state)
{
	static struct seen s;
	struct grouper_cfg gc = {
		.window_ns = 1000, .max_open = 16, .max_steps = 32, .emit = emit_cb, .ctx = NULL,
	};

	memset(&s, 0, sizeof(s));
	seen = &s;
	*state = grouper_new(&gc);
	return *state ? 0 : -1;
}

static int grouper_down(void **state)
{
	grouper_free(*state);
	return 0;
}

/* Legacy records first (full payload), then nft ones (20 bytes of L4): one packet. */
static void test_legacy_then_nft(void **state)
{
	struct grouper *g = *state;
	struct trace_record r;
	uint8_t b[128];
	size_t len = datagram(b, 4242, 10), len2;
	uint8_t b2[128];

	add(g, 1, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_PREROUTING, "raw", "PREROUTING", 0);
	add(g, 2, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_PREROUTING, "nat", "PREROUTING", 0);
	/* DNAT changed the destination: the NAT-proof fields still match. */
	len2 = datagram(b2, 4242, 99);
	add(g, 3, TRACE_BACKEND_NFT, b2, len2, 77, HOOK_FORWARD, "fw", "fwd", 10);
	mkrec(&r, TRACE_BACKEND_NFT, b, len, 77, HOOK_PREROUTING, "fw", "pre", -200);
	r.has_hdr = false;	/* a later record of a traversal (order here is artificial) */
	assert_int_equal(grouper_add(g, &r, 4), 0);
	/* Another datagram (other IP ID) is another packet. */
	len = datagram(b, 4243, 10);
	add(g, 5, TRACE_BACKEND_NFT, b, len, 78, HOOK_PREROUTING, "fw", "pre", -200);
	assert_int_equal(grouper_flush(g), 0);
	assert_int_equal(seen->npkts, 2);
	assert_int_equal(seen->nsteps[0], 4);
	/* Sorted by hook and priority: raw -300, fw pre -200, nat -100, then forward. */
	assert_string_equal(seen->steps[0][0].table, "raw");
	assert_string_equal(seen->steps[0][1].chain, "pre");
	assert_string_equal(seen->steps[0][2].table, "nat");
	assert_string_equal(seen->steps[0][3].chain, "fwd");
	assert_int_equal(seen->nsteps[1], 1);
}

/*
 * Steps without a hook or a priority take their backend's step before's: a legacy user
 * chain (no hook in --read input) sorts after the nat step it was jumped to from, an nft
 * record of an unknown chain after the nft step before it, each stream in its own order.
 */
static void test_merge_inherits(void **state)
{
	struct grouper *g = *state;
	static const char *want[][2] = {
		{ "raw", "PREROUTING" }, { "fw", "pre" }, { "fw", "unknown" },
		{ "nat", "PREROUTING" }, { "nat", "KUBE-X" }, { "filter", "FORWARD" },
		{ "fw", "fwd" },
	};
	struct trace_record r;
	uint8_t b[128];
	size_t len = datagram(b, 4244, 10);
	uint64_t t = 1;

	add(g, t++, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_PREROUTING, "raw", "PREROUTING", 0);
	add(g, t++, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_PREROUTING, "nat", "PREROUTING", 0);
	add(g, t++, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_NONE, "nat", "KUBE-X", 0);
	add(g, t++, TRACE_BACKEND_LEGACY, b, len, 0, HOOK_FORWARD, "filter", "FORWARD", 0);
	add(g, t++, TRACE_BACKEND_NFT, b, len, 90, HOOK_PREROUTING, "fw", "pre", -200);
	mkrec(&r, TRACE_BACKEND_NFT, b, len, 90, HOOK_NONE, "fw", "unknown", 0);
	r.has_prio = false;
	r.has_hdr = false;
	assert_int_equal(grouper_add(g, &r, t++), 0);
	mkrec(&r, TRACE_BACKEND_NFT, b, len, 90, HOOK_FORWARD, "fw", "fwd", 10);
	r.has_hdr = false;
	assert_int_equal(grouper_add(g, &r, t++), 0);
	assert_int_equal(grouper_flush(g), 0);
	assert_int_equal(seen->npkts, 1);
	assert_int_equal(seen->nsteps[0], 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(seen->steps[0][i].table, want[i][0]);
		assert_string_equal(seen->steps[0][i].chain, want[i][1]);
	}
}

/* On loopback the trace id changes: the new id's headers join it to the same packet. */
static void test_loopback_id_change(void **state)
{
	struct grouper *g = *state;
	uint8_t b[128];
	size_t len = datagram(b, 7, 1);

	add(g, 1, TRACE_BACKEND_NFT, b, len, 100, HOOK_OUTPUT, "t", "out", 0);
	add(g, 2, TRACE_BACKEND_NFT, b, len, 100, HOOK_POSTROUTING, "t", "post", 100);
	add(g, 3, TRACE_BACKEND_NFT, b, len, 200, HOOK_PREROUTING, "t", "pre", -100);
	add(g, 4, TRACE_BACKEND_NFT, b, 0, 200, HOOK_PREROUTING, "t", "sub", -100);
	assert_int_equal(grouper_flush(g), 0);
	assert_int_equal(seen->npkts, 1);
	assert_int_equal(seen->nsteps[0], 4);
	assert_string_equal(seen->steps[0][3].chain, "sub");
}

/* A trace id reused by another packet within the window: two packets, not one. */
static void test_trace_id_reuse(void **state)
{
	struct grouper *g = *state;
	uint8_t b[128];
	size_t len = datagram(b, 1, 1);

	add(g, 1, TRACE_BACKEND_NFT, b, len, 5, HOOK_PREROUTING, "t", "pre", 0);
	len = datagram(b, 2, 1);
	add(g, 2, TRACE_BACKEND_NFT, b, len, 5, HOOK_PREROUTING, "t", "pre", 0);
	/* Past the window, the same id and headers start a new packet too. */
	add(g, 5000, TRACE_BACKEND_NFT, b, len, 5, HOOK_PREROUTING, "t", "pre", 0);
	assert_int_equal(grouper_flush(g), 0);
	assert_int_equal(seen->npkts, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid_replay),
		cmocka_unit_test_setup_teardown(test_legacy_then_nft, grouper_up, grouper_down),
		cmocka_unit_test_setup_teardown(test_merge_inherits, grouper_up, grouper_down),
		cmocka_unit_test_setup_teardown(test_loopback_id_change, grouper_up, grouper_down),
		cmocka_unit_test_setup_teardown(test_trace_id_reuse, grouper_up, grouper_down),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
