/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_hold.c: packets wait for their rule texts in order, while records keep being grouped */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <cmocka.h>

#include "iptrace/hold.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"

#define MS 1000000ull
#define MAX_PKTS 8
#define MAX_STEPS 8

/* What the sink saw: each packet's steps, rule texts copied (they are borrowed). */
struct seen {
	size_t	n;
	size_t	nsteps[MAX_PKTS];
	bool	single[MAX_PKTS];
	struct {
		uint32_t	trace_id;
		uint64_t	handle;
		char		chain[32];
		char		rule[64];	/* "" for none */
		char		reason[64];
	} step[MAX_PKTS][MAX_STEPS];
};

static void see(struct seen *s, const struct trace_record *steps, size_t n, bool single)
{
	assert_true(s->n < MAX_PKTS);
	assert_true(n <= MAX_STEPS);
	s->nsteps[s->n] = n;
	s->single[s->n] = single;
	for (size_t i = 0; i < n; i++) {
		s->step[s->n][i].trace_id = steps[i].trace_id;
		s->step[s->n][i].handle = steps[i].handle;
		snprintf(s->step[s->n][i].chain, sizeof(s->step[0][0].chain), "%s", steps[i].chain);
		snprintf(s->step[s->n][i].rule, sizeof(s->step[0][0].rule), "%s",
			 steps[i].rule ? steps[i].rule : "");
		snprintf(s->step[s->n][i].reason, sizeof(s->step[0][0].reason), "%s",
			 steps[i].rule_reason ? steps[i].rule_reason : "");
	}
	s->n++;
}

/* ---- the queue alone ---- */

struct qctx {
	struct seen	seen;
	bool		busy;		/* what busy() says of every packet */
	unsigned	asked;		/* busy() calls */
};

static bool q_busy(void *ctx, const struct packet *p, uint64_t since_ns)
{
	struct qctx *q = ctx;

	(void)p;
	(void)since_ns;
	q->asked++;
	return q->busy;
}

static int q_emit(void *ctx, const struct packet *p, bool single)
{
	see(&((struct qctx *)ctx)->seen, p->steps, p->nsteps, single);
	return 0;
}

static struct packet one_packet(struct trace_record *r, size_t n, uint32_t first_trace_id)
{
	for (size_t i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].trace_id = first_trace_id;
		r[i].handle = i + 1;
	}
	return (struct packet){ .nsteps = n, .steps = r };
}

/*
 * Answers counted by id come in any order; packets leave in the order they came, each when
 * its answers came or its bound passed; the strings kept live until it left.
 */
static void test_queue_order_and_bound(void **state)
{
	struct qctx q = { 0 };
	struct hold *h = hold_new(&(struct hold_cfg){
		.wait_ns = 100 * MS, .busy = q_busy, .emit = q_emit, .ctx = &q });
	struct trace_record r[3];
	struct packet p;
	uint32_t a, b, c;

	(void)state;
	assert_non_null(h);
	p = one_packet(r, 2, 1);
	assert_int_equal(hold_add(h, &p, false, 10 * MS, &a), 0);
	p = one_packet(r, 3, 2);
	assert_int_equal(hold_add(h, &p, false, 20 * MS, &b), 0);
	p = one_packet(r, 1, 3);
	assert_int_equal(hold_add(h, &p, true, 30 * MS, &c), 0);
	/* The copies are the queue's: the caller's records may change. */
	r[0].trace_id = 99;
	assert_int_equal(hold_step(h, b)->trace_id, 2);
	assert_int_equal(hold_step(h, b + 2)->handle, 3);
	assert_non_null(hold_step(h, c));
	/* Packet 1 waits for two answers, packet 2 for one. */
	hold_expect(h, a);
	hold_expect(h, a + 1);
	hold_expect(h, b + 1);
	assert_int_equal(hold_count(h), 3);
	assert_int_equal(hold_deadline(h), 110 * MS);
	/* Packet 2's answer first: nothing leaves, packet 1 is still waiting. */
	hold_step(h, b + 1)->rule = hold_keep(h, b + 1, "rule b");
	hold_answered(h, b + 1);
	assert_int_equal(hold_release(h, 40 * MS), 0);
	assert_int_equal(q.seen.n, 0);
	assert_int_equal(q.asked, 0);	/* busy is asked only when the count is done */
	hold_answered(h, a);
	assert_int_equal(hold_release(h, 50 * MS), 0);
	assert_int_equal(q.seen.n, 0);
	/* Its last answer: 1, 2 and 3 leave, in order (busy() said no for each). */
	hold_answered(h, a + 1);
	assert_int_equal(hold_release(h, 60 * MS), 0);
	assert_int_equal(q.seen.n, 3);
	assert_int_equal(q.asked, 3);
	assert_int_equal(q.seen.step[0][0].trace_id, 1);
	assert_int_equal(q.seen.step[1][0].trace_id, 2);
	assert_string_equal(q.seen.step[1][1].rule, "rule b");
	assert_int_equal(q.seen.step[2][0].trace_id, 3);
	assert_true(q.seen.single[2]);
	assert_null(hold_step(h, b));	/* gone: a late answer finds nothing */
	assert_null(hold_keep(h, b, "late"));
	hold_answered(h, b);
	/* busy() holds the head until its bound, and everything behind it. */
	q.busy = true;
	p = one_packet(r, 1, 4);
	assert_int_equal(hold_add(h, &p, false, 100 * MS, &a), 0);
	p = one_packet(r, 1, 5);
	assert_int_equal(hold_add(h, &p, false, 150 * MS, &b), 0);
	assert_int_equal(hold_release(h, 199 * MS), 0);
	assert_int_equal(q.seen.n, 3);
	assert_int_equal(hold_deadline(h), 200 * MS);
	assert_int_equal(hold_release(h, 200 * MS), 0);
	assert_int_equal(q.seen.n, 4);
	assert_int_equal(hold_deadline(h), 250 * MS);
	/* The end: whatever is held leaves. */
	assert_int_equal(hold_release(h, UINT64_MAX), 0);
	assert_int_equal(q.seen.n, 5);
	assert_int_equal(hold_count(h), 0);
	assert_int_equal(hold_deadline(h), UINT64_MAX);
	/* Freed with packets still held (and their strings): no leak under ASan. */
	p = one_packet(r, 2, 6);
	assert_int_equal(hold_add(h, &p, false, 300 * MS, &a), 0);
	assert_non_null(hold_keep(h, a + 1, "kept"));
	hold_free(h);
}

/* ---- the pipeline with an nft source whose listings answer when the test says ---- */

struct lst {
	char	chain[32];
	bool	open;
};

struct env {
	struct seen		seen;
	struct lst		asked[8];
	size_t			nasked;
	uint32_t		gen;
	struct nftrule_source	src;
	struct nftrule		*nr;
	struct sink		sink;
	struct pipeline		*pl;
};

static int env_list(void *ctx, uint8_t family, const char *table, const char *chain)
{
	struct env *e = ctx;

	assert_int_equal(family, NFPROTO_IPV4);
	assert_string_equal(table, "t");
	assert_true(e->nasked < 8);
	snprintf(e->asked[e->nasked].chain, sizeof(e->asked[0].chain), "%s", chain);
	e->asked[e->nasked++].open = true;
	return 0;
}

static int env_gen(void *ctx, uint32_t *gen)
{
	*gen = ((struct env *)ctx)->gen;
	return 0;
}

static const char TEXT_C[] = "table ip t { # handle 1\n\tchain c { # handle 1\n"
			     "\t\tudp dport 53 accept # handle 2\n"
			     "\t\ttcp dport 22 accept # handle 3\n\t}\n}\n";
static const char TEXT_D[] = "table ip t { # handle 1\n\tchain d { # handle 9\n"
			     "\t\tip saddr 10.0.0.1 drop # handle 10\n\t}\n}\n";

/* The listing of @chain started earlier comes back now, at @now (a loop turn). */
static void answer(struct env *e, const char *chain, const char *text, uint64_t now)
{
	for (size_t i = 0; i < e->nasked; i++)
		if (e->asked[i].open && strcmp(e->asked[i].chain, chain) == 0) {
			e->asked[i].open = false;
			nftrule_listed(e->nr, NFPROTO_IPV4, "t", chain, 0, strdup(text), e->gen, now);
			pipeline_set_clock(e->pl, now, 0);
			pipeline_tick(e->pl);
			return;
		}
	fail_msg("no listing of %s was asked for", chain);
}

static int cap_begin(struct sink *s)
{
	(void)s;
	return 0;
}

static int cap_packet(struct sink *s, const struct packet *p)
{
	see(s->priv, p->steps, p->nsteps, false);
	return 0;
}

static int cap_record(struct sink *s, const struct trace_record *r)
{
	see(s->priv, r, 1, true);
	return 0;
}

static const struct sink_ops cap_ops = {
	.name = "capture", .begin = cap_begin, .packet = cap_packet, .record = cap_record,
};

static void env_init(struct env *e, bool no_group, uint64_t wait_ns)
{
	struct nftrule_cfg nc = { .grace_ns = 20 * MS, .source = &e->src };
	struct pipeline_cfg pc = {
		.window_ns = 10 * MS, .no_group = no_group, .text_wait_ns = wait_ns,
	};
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	memset(e, 0, sizeof(*e));
	e->gen = 10;
	e->src = (struct nftrule_source){ .list = env_list, .gen = env_gen, .ctx = e };
	e->nr = nftrule_new(&nc);
	assert_non_null(e->nr);
	assert_int_equal(nftrule_fd(e->nr), -1);
	e->sink = (struct sink){ .ops = &cap_ops, .priv = &e->seen };
	pc.nftrule = e->nr;
	e->pl = pipeline_new(&pc, &e->sink);
	assert_non_null(e->pl);
	/* The generation the capture started at, as the marker's commit brings it. */
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
	((struct nfgenmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg)))->version =
		NFNETLINK_V0;
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(e->gen));
	pipeline_set_clock(e->pl, 1 * MS, 0);
	assert_int_equal(pipeline_dispatch(e->pl, NLREC_NFTRACE, nlh, nlh->nlmsg_len), 0);
}

static void env_free(struct env *e)
{
	assert_int_equal(pipeline_finish(e->pl, NULL), 0);
	pipeline_free(e->pl);
	nftrule_free(e->nr);
}

/* One nf_tables trace record of a rule (@handle) or, with handle 0, the chain's policy. */
static void record(struct env *e, uint64_t now, uint32_t id, const char *chain, uint64_t handle)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nlattr *nest;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_IPV4;
	nfg->version = NFNETLINK_V0;
	mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, chain);
	mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(id));
	mnl_attr_put_u32(nlh, NFTA_TRACE_NFPROTO, htonl(NFPROTO_IPV4));
	if (handle) {
		mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_RULE));
		mnl_attr_put_u64(nlh, NFTA_TRACE_RULE_HANDLE, htobe64(handle));
		nest = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_ACCEPT));
		mnl_attr_nest_end(nlh, nest);
	} else {
		mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_POLICY));
		mnl_attr_put_u32(nlh, NFTA_TRACE_POLICY, htonl(NF_ACCEPT));
	}
	pipeline_set_clock(e->pl, now, 0);
	assert_int_equal(pipeline_dispatch(e->pl, NLREC_NFTRACE, nlh, nlh->nlmsg_len), 0);
}

/* A loop turn with nothing received: windows close, held packets are looked at. */
static void turn(struct env *e, uint64_t now)
{
	pipeline_set_clock(e->pl, now, 0);
	assert_int_equal(pipeline_tick(e->pl), 0);
}

static uint64_t records_taken(const struct env *e)
{
	struct summary sum;

	pipeline_summary(e->pl, &sum);
	return sum.records;
}

static int count_emit(void *ctx, const struct packet *p, bool single)
{
	(void)p;
	(void)single;
	(*(size_t *)ctx)++;
	return 0;
}

/*
 * A burst holds thousands of packets, and answers come for any of them: every step id finds
 * its own step, also once the head has moved on and the ring has wrapped, and the ids of
 * packets that left, or not given yet, find nothing.
 */
static void test_many_held(void **state)
{
	enum { FIRST = 3000, MORE = 1500, LEFT = 1000, ALL = FIRST + MORE };
	static uint32_t id[ALL];
	size_t emitted = 0;
	struct hold *h = hold_new(&(struct hold_cfg){ .wait_ns = 100 * MS, .emit = count_emit,
						      .ctx = &emitted });
	struct trace_record r[4];
	uint64_t handle = 0;

	(void)state;
	assert_non_null(h);
	for (size_t i = 0; i < ALL; i++) {
		size_t n = i % 4 + 1;
		struct packet p = one_packet(r, n, (uint32_t)i);

		for (size_t k = 0; k < n; k++)
			r[k].handle = ++handle;
		assert_int_equal(hold_add(h, &p, false, MS, &id[i]), 0);
		hold_expect(h, id[i]);
		/* The first LEFT are answered and leave before the rest come. */
		if (i == FIRST - 1) {
			for (size_t j = 0; j < LEFT; j++)
				hold_answered(h, id[j]);
			assert_int_equal(hold_release(h, 2 * MS), 0);
			assert_int_equal(emitted, LEFT);
		}
	}
	assert_int_equal(hold_count(h), ALL - LEFT);
	handle = 0;
	for (size_t i = 0; i < ALL; i++) {
		for (size_t k = 0; k < i % 4 + 1; k++) {
			struct trace_record *t = hold_step(h, id[i] + (uint32_t)k);

			handle++;
			if (i < LEFT) {
				assert_null(t);
				continue;
			}
			assert_non_null(t);
			assert_int_equal(t->handle, handle);
			assert_int_equal(t->trace_id, i);
		}
	}
	assert_null(hold_step(h, id[ALL - 1] + (ALL - 1) % 4 + 1));
	hold_free(h);
}

/*
 * Three packets: A in chain c, B in chain d, C in chain c with two records received in two
 * loop turns. Both listings run for several loop turns, during which every record is taken
 * and grouped (C stays one packet of two steps) and nothing is printed; d answers first,
 * yet B waits behind A; when c answers all three come out in order with their texts.
 */
static void test_listing_completes_later(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, false, 0);
	record(&e, 2 * MS, 0xa, "c", 2);
	turn(&e, 20 * MS);			/* A complete: c asked for, A held */
	assert_int_equal(e.nasked, 1);
	assert_string_equal(e.asked[0].chain, "c");
	assert_true(pipeline_waiting(e.pl));
	record(&e, 30 * MS, 0xb, "d", 10);
	record(&e, 31 * MS, 0xb, "d", 0);
	turn(&e, 50 * MS);			/* B complete: d asked for, B held */
	assert_int_equal(e.nasked, 2);
	record(&e, 60 * MS, 0xc, "c", 3);
	turn(&e, 65 * MS);
	record(&e, 68 * MS, 0xc, "c", 0);	/* C's second record, another turn */
	turn(&e, 100 * MS);			/* C complete, held: c is being listed */
	assert_int_equal(e.nasked, 2);		/* c is not asked for twice */
	for (uint64_t t = 110; t < 300; t += 10)
		turn(&e, t * MS);
	assert_int_equal(records_taken(&e), 5);
	assert_int_equal(e.seen.n, 0);
	answer(&e, "d", TEXT_D, 300 * MS);	/* B is ready, A is not: nothing yet */
	assert_int_equal(e.seen.n, 0);
	answer(&e, "c", TEXT_C, 310 * MS);
	assert_int_equal(e.seen.n, 3);
	assert_false(pipeline_waiting(e.pl));
	assert_int_equal(e.seen.nsteps[0], 1);
	assert_int_equal(e.seen.step[0][0].trace_id, 0xa);
	assert_string_equal(e.seen.step[0][0].rule, "udp dport 53 accept");
	assert_int_equal(e.seen.nsteps[1], 2);
	assert_int_equal(e.seen.step[1][0].trace_id, 0xb);
	assert_string_equal(e.seen.step[1][0].rule, "ip saddr 10.0.0.1 drop");
	assert_string_equal(e.seen.step[1][1].rule, "policy accept");
	assert_int_equal(e.seen.nsteps[2], 2);
	assert_int_equal(e.seen.step[2][0].trace_id, 0xc);
	assert_string_equal(e.seen.step[2][0].rule, "tcp dport 22 accept");
	/* Chains read and nothing changed since: the next packet goes straight out. */
	record(&e, 400 * MS, 0xd, "c", 2);
	turn(&e, 420 * MS);
	assert_int_equal(e.seen.n, 4);
	assert_string_equal(e.seen.step[3][0].rule, "udp dport 53 accept");
	assert_int_equal(e.nasked, 2);
	env_free(&e);
}

/*
 * A listing that never comes back: its packet leaves at its bound with a reason, and so do
 * the packets behind it, in order; the end of the run prints what is still held.
 */
static void test_bound(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, false, 100 * MS);
	record(&e, 2 * MS, 0xa, "c", 2);
	turn(&e, 20 * MS);			/* A held until 120 ms */
	record(&e, 30 * MS, 0xb, "c", 3);
	turn(&e, 50 * MS);
	assert_int_equal(pipeline_deadline(e.pl), 120 * MS);
	turn(&e, 119 * MS);
	assert_int_equal(e.seen.n, 0);
	turn(&e, 120 * MS);			/* A's bound: A; B has its own */
	assert_int_equal(e.seen.n, 1);
	assert_string_equal(e.seen.step[0][0].rule, "");
	assert_string_equal(e.seen.step[0][0].reason, "the chain was not read in time");
	turn(&e, 150 * MS);
	assert_int_equal(e.seen.n, 2);
	assert_string_equal(e.seen.step[1][0].reason, "the chain was not read in time");
	/* Answered after all: the next packet has its text. */
	answer(&e, "c", TEXT_C, 160 * MS);
	record(&e, 170 * MS, 0xc, "c", 3);
	turn(&e, 190 * MS);
	assert_int_equal(e.seen.n, 3);
	assert_string_equal(e.seen.step[2][0].rule, "tcp dport 22 accept");
	/* At the end, a packet still waiting is printed all the same. */
	record(&e, 200 * MS, 0xd, "d", 10);
	turn(&e, 220 * MS);
	assert_int_equal(e.seen.n, 3);
	assert_int_equal(pipeline_finish(e.pl, NULL), 0);
	assert_int_equal(e.seen.n, 4);
	assert_string_equal(e.seen.step[3][0].reason, "the chain was not read in time");
	pipeline_free(e.pl);
	nftrule_free(e.nr);
}

/* --no-group: each record waits in order like a packet, and gets its text. */
static void test_no_group(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, true, 0);
	record(&e, 2 * MS, 0xa, "c", 2);
	record(&e, 3 * MS, 0xa, "c", 0);	/* a policy: nothing to read, but behind the first */
	record(&e, 4 * MS, 0xb, "d", 10);
	assert_int_equal(e.seen.n, 0);
	answer(&e, "c", TEXT_C, 50 * MS);
	assert_int_equal(e.seen.n, 2);
	answer(&e, "d", TEXT_D, 60 * MS);
	assert_int_equal(e.seen.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(e.seen.single[i]);
	assert_string_equal(e.seen.step[0][0].rule, "udp dport 53 accept");
	assert_string_equal(e.seen.step[1][0].rule, "policy accept");
	assert_string_equal(e.seen.step[2][0].rule, "ip saddr 10.0.0.1 drop");
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_order_and_bound),
		cmocka_unit_test(test_many_held),
		cmocka_unit_test(test_listing_completes_later),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_no_group),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
