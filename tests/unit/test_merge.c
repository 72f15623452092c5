/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_merge.c: --merge's matching — which parts of which nodes make one packet, in order */
#include <errno.h>
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
#include <cmocka.h>

#include "iptrace/merge.h"
#include "iptrace/sink.h"
#include "test_step.h"

#define T0	1795000000000000000ull	/* 2026-11-18T11:06:40Z */
#define MS	1000000ull
#define SKEW	(500 * MS)

/* One node's view of a packet: two steps, where it came in and where it went on. */
struct side {
	const char	*node;		/* NULL: no "node" in the line */
	uint16_t	ipid;
	const char	*src, *dst_in, *dst_out;
	uint16_t	sport, dport;
	uint8_t		ttl_in, ttl_out;
	int		hook_in, hook_out;
	int64_t		t_us;		/* first step, µs after T0; the second 100 µs later */
	const char	*in;		/* the first step's input interface, to tell parts apart */
	bool		untimed;
	const char	*src_out;	/* the last step's source (SNAT), NULL: src */
};

/* The JSON line the sink prints for @s (without its newline); the caller frees it. */
static char *line_of(const struct side *s)
{
	struct trace_record st[2];
	struct packet p = { .id = 1, .nsteps = 2, .steps = st };
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	struct sink sk = { .ops = &sink_json_ops, .out = f };

	assert_non_null(f);
	for (int i = 0; i < 2; i++) {
		struct trace_record *r = &st[i];

		step_rule(r, "t", i ? "out" : "in", i ? s->hook_out : s->hook_in);
		/* nft: its chain names say no hook, only "hook" does. */
		r->backend = TRACE_BACKEND_NFT;
		snprintf(r->in, sizeof(r->in), "%s", s->in ? s->in : "eth0");
		r->node = s->node;
		hdr_v4(&r->pkt, i && s->src_out ? s->src_out : s->src, i ? s->dst_out : s->dst_in);
		hdr_udp(&r->pkt, s->sport ? s->sport : 40000, s->dport ? s->dport : 53);
		r->pkt.len = 40;
		r->pkt.ipid = s->ipid;
		r->pkt.head_hash = 0xfeed;
		r->pkt.ttl = i ? s->ttl_out : s->ttl_in;
		if (!s->untimed)
			r->ts_ns = (uint64_t)((int64_t)T0 + (s->t_us + 100 * i) * 1000);
	}
	assert_int_equal(sk.ops->packet(&sk, &p), 0);
	assert_int_equal(fclose(f), 0);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void feed(struct merge *m, const char *src, const struct side *s)
{
	char *l = line_of(s);

	assert_int_equal(merge_line(m, src, 1, l, strlen(l)), 0);
	free(l);
}

/* What came out: per packet, its steps' nodes and first interfaces, "A,A,B,B". */
struct seen {
	size_t	n;
	char	nodes[16][256];
	char	ins[16][256];
	int	stop_after;	/* emit returns -1 after this many; 0: never */
};

static int collect(void *ctx, const struct packet *p)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	s->nodes[s->n][0] = s->ins[s->n][0] = '\0';
	for (size_t i = 0; i < p->nsteps; i++) {
		snprintf(s->nodes[s->n] + strlen(s->nodes[s->n]), 256 - strlen(s->nodes[s->n]),
			 "%s%s", i ? "," : "", p->steps[i].node);
		snprintf(s->ins[s->n] + strlen(s->ins[s->n]), 256 - strlen(s->ins[s->n]),
			 "%s%s", i ? "," : "", p->steps[i].in);
	}
	assert_int_equal(p->id, s->n + 1);
	s->n++;
	return s->stop_after && (int)s->n >= s->stop_after ? -1 : 0;
}

static struct merge *new_merge(uint64_t skew)
{
	struct merge *m = merge_new(&(struct merge_cfg){ .skew_ns = skew });

	assert_non_null(m);
	return m;
}

static void run(struct merge *m, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(merge_run(m, collect, s), 0);
}

/* One input line: the sink's line for @side, read from the input named @src. */
struct part {
	const char		*src;
	const struct side	*side;
};

/*
 * The lines of @parts (up to the first without a src), in that order, merged with @skew:
 * how many packets, each in @s; the merge's counters in @st unless it is NULL.
 */
static size_t merged(uint64_t skew, const struct part *parts, struct seen *s,
		     struct merge_stats *st)
{
	struct merge *m = new_merge(skew);

	for (; parts->src; parts++)
		feed(m, parts->src, parts->side);
	run(m, s);
	if (st)
		merge_get_stats(m, st);
	merge_free(m);
	return s->n;
}

/* @x from input "x", then @y from "y", merged with the default skew: how many packets. */
static size_t pair(const struct side *x, const struct side *y, struct seen *s)
{
	const struct part parts[] = { { "x", x }, { "y", y }, { NULL, NULL } };

	return merged(SKEW, parts, s, NULL);
}

/* A pod on A asks a service whose endpoint is on B: the query DNATed on A, then B. */
static const struct side query_a = {
	"A", 100, "10.244.1.2", "10.96.0.10", "10.244.2.5", 0, 0, 64, 63,
	HOOK_PREROUTING, HOOK_POSTROUTING, 0, NULL, false, NULL,
};
static const struct side query_b = {
	"B", 100, "10.244.1.2", "10.244.2.5", "10.244.2.5", 0, 0, 63, 62,
	HOOK_PREROUTING, HOOK_POSTROUTING, 200, NULL, false, NULL,
};
static const struct side reply_b = {
	"B", 200, "10.244.2.5", "10.244.1.2", "10.244.1.2", 53, 40000, 64, 63,
	HOOK_PREROUTING, HOOK_POSTROUTING, 1000, NULL, false, NULL,
};
static const struct side reply_a = {
	"A", 200, "10.244.2.5", "10.244.1.2", "10.244.1.2", 53, 40000, 63, 62,
	HOOK_PREROUTING, HOOK_POSTROUTING, 1200, NULL, false, NULL,
};

static void test_direct(void **state)
{
	static const struct part parts[] = {
		{ "a.json", &query_a }, { "a.json", &reply_a }, { "b.json", &query_b },
		{ "b.json", &reply_b }, { NULL, NULL },
	};
	struct merge_stats st;
	struct seen s;

	(void)state;
	assert_int_equal(merged(SKEW, parts, &s, &st), 2);
	assert_string_equal(s.nodes[0], "A,A,B,B");
	assert_string_equal(s.nodes[1], "B,B,A,A");
	assert_int_equal(st.parts, 4);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.joined, 2);
	assert_int_equal(st.nodes, 2);
}

/* B's clock off by @off_us: joined within the skew, apart beyond it. */
static size_t packets_with_offset(int64_t off_us, uint64_t skew, struct seen *s)
{
	struct side qb = query_b, rb = reply_b;
	const struct part parts[] = {
		{ "a", &query_a }, { "a", &reply_a }, { "b", &qb }, { "b", &rb }, { NULL, NULL },
	};

	qb.t_us += off_us;
	rb.t_us += off_us;
	return merged(skew, parts, s, NULL);
}

static void test_skew(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(packets_with_offset(300000, SKEW, &s), 2);
	assert_int_equal(packets_with_offset(-300000, SKEW, &s), 2);
	/* B's clock behind: its reply is printed first (its own time), each in path order. */
	assert_string_equal(s.nodes[0], "B,B,A,A");
	assert_string_equal(s.nodes[1], "A,A,B,B");
	assert_int_equal(packets_with_offset(700000, SKEW, &s), 4);
	assert_int_equal(packets_with_offset(700000, 1000 * MS, &s), 2);
	assert_int_equal(packets_with_offset(1, 0, &s), 4);
	/* --skew 0: the query exactly 0 apart (A's last step, B's first) joins, the reply not. */
	assert_int_equal(packets_with_offset(-100, 0, &s), 3);
}

/* TTL: never higher on the next node, at most MERGE_MAX_HOPS lower. */
static void test_ttl(void **state)
{
	static const struct {
		uint8_t	ttl_in;
		size_t	packets;
	} cases[] = {
		{ 63, 1 }, { 60, 1 }, { 63 - MERGE_MAX_HOPS, 1 }, { 62 - MERGE_MAX_HOPS, 2 },
		{ 64, 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side qb = query_b;
		struct seen s;

		qb.ttl_in = cases[i].ttl_in;
		assert_int_equal(pair(&query_a, &qb, &s), cases[i].packets);
	}
}

/*
 * Equal TTLs (a host's own packet, on a link without routers): the hooks say who sent and
 * who took it, whatever the clocks; without hooks, the earlier by its own clock is first.
 */
static void test_hooks(void **state)
{
	struct side a = { "A", 7, "192.168.50.1", "192.168.50.2", "192.168.50.2", 0, 0, 64, 64,
			  HOOK_OUTPUT, HOOK_POSTROUTING, 0, NULL, false, NULL };
	struct side b = { "B", 7, "192.168.50.1", "192.168.50.2", "192.168.50.2", 0, 0, 64, 64,
			  HOOK_PREROUTING, HOOK_INPUT, -100000, NULL, false, NULL };
	struct seen s;

	(void)state;
	assert_int_equal(pair(&b, &a, &s), 1);
	assert_string_equal(s.nodes[0], "A,A,B,B");

	/* B delivered it: nothing goes on from B, A's send can't follow anything. */
	a.hook_in = a.hook_out = b.hook_in = HOOK_NONE;
	assert_int_equal(pair(&a, &b, &s), 1);
	assert_string_equal(s.nodes[0], "A,A,B,B");

	/* Nothing tells: by time. */
	b.hook_out = HOOK_NONE;
	assert_int_equal(pair(&a, &b, &s), 1);
	assert_string_equal(s.nodes[0], "B,B,A,A");

	/* A sent it, but A's part ends delivered: it can't go on to B. */
	a.hook_in = HOOK_OUTPUT;
	a.hook_out = HOOK_INPUT;
	assert_int_equal(pair(&a, &b, &s), 2);
}

/*
 * Packets equal in everything compared pair in the order each node saw them — also when
 * B's clock is off by almost their spacing, where the closest in time would cross them.
 */
static void test_order_ties(void **state)
{
	struct side a0 = query_a, a1 = query_a, b0 = query_b, b1 = query_b;
	const struct part parts[] = {
		{ "b", &b1 }, { "a", &a1 }, { "b", &b0 }, { "a", &a0 }, { NULL, NULL },
	};
	struct seen s;

	(void)state;
	a0.in = "a0";
	a1.in = "a1";
	a1.t_us = 10000;
	b0.in = "b0";
	b0.t_us = 9500;
	b1.in = "b1";
	b1.t_us = 19500;
	assert_int_equal(merged(SKEW, parts, &s, NULL), 2);
	assert_string_equal(s.ins[0], "a0,a0,b0,b0");
	assert_string_equal(s.ins[1], "a1,a1,b1,b1");
}

/* Never joined: a part without times, two parts of one node, different keys. */
static void test_never(void **state)
{
	struct side qb = query_b, qa2 = query_a;
	struct seen s;

	(void)state;
	qb.untimed = true;
	assert_int_equal(pair(&query_a, &qb, &s), 2);
	qb = query_b;
	qb.node = "A";
	assert_int_equal(pair(&query_a, &qb, &s), 2);
	/* Another IP ID; then another destination than A's last step had. */
	qb = query_b;
	qb.ipid = 101;
	assert_int_equal(pair(&query_a, &qb, &s), 2);
	qa2.dst_out = "10.244.2.6";
	assert_int_equal(pair(&qa2, &query_b, &s), 2);
}

/* A NodePort: the client behind A to node B, DNAT and SNAT there, on to the pod on C. */
static void test_three_nodes(void **state)
{
	struct side a = { "A", 9, "10.0.0.1", "192.168.50.2", "192.168.50.2", 0, 30053, 64, 63,
			  HOOK_PREROUTING, HOOK_POSTROUTING, 0, NULL, false, NULL };
	struct side b = { "B", 9, "10.0.0.1", "192.168.50.2", "10.244.3.4", 0, 30053, 63, 62,
			  HOOK_PREROUTING, HOOK_POSTROUTING, 300, NULL, false, "192.168.50.2" };
	struct side c = { "C", 9, "192.168.50.2", "10.244.3.4", "10.244.3.4", 0, 30053, 62, 61,
			  HOOK_PREROUTING, HOOK_POSTROUTING, 500, NULL, false, NULL };
	struct seen s;

	(void)state;
	assert_int_equal(merged(SKEW, (const struct part[]){ { "c", &c }, { "a", &a }, { "b", &b },
							      { NULL, NULL } }, &s, NULL), 1);
	assert_string_equal(s.nodes[0], "A,A,B,B,C,C");

	/* C saw another source than B sent: B and C are not one packet. */
	c.src = "10.0.0.1";
	assert_int_equal(merged(SKEW, (const struct part[]){ { "c", &c }, { "b", &b }, { "a", &a },
							      { NULL, NULL } }, &s, NULL), 2);
	assert_string_equal(s.nodes[0], "A,A,B,B");
	assert_string_equal(s.nodes[1], "C,C");
}

static void add(struct merge *m, const char *src, uint64_t n, const char *line)
{
	assert_int_equal(merge_line(m, src, n, line, strlen(line)), 0);
}

/*
 * Lines as `kubectl logs --prefix [--timestamps]` gives them, its stderr among them; blank
 * lines; summaries (their counters add up) and records (skipped); a packet line without a
 * "node" takes the pod's name, or else the input's; malformed lines counted, the first said.
 */
static void test_lines(void **state)
{
	struct side qa = query_a, qb = query_b;
	struct merge *m = new_merge(SKEW);
	struct merge_stats st;
	struct seen s;
	char *la, *lb, buf[4096];

	(void)state;
	qa.node = qb.node = NULL;
	la = line_of(&qa);
	lb = line_of(&qb);
	add(m, "-", 1, "[pod/iptrace-x7k2p/iptrace] iptrace: tracing port 53 ...\n");
	snprintf(buf, sizeof(buf), "[pod/iptrace-x7k2p/iptrace] %s\n", la);
	add(m, "-", 2, buf);
	add(m, "-", 3, "\n");
	snprintf(buf, sizeof(buf), "[pod/iptrace-9d4wq/iptrace] 2026-11-18T11:06:41.5Z %s\r\n", lb);
	add(m, "-", 4, buf);
	add(m, "-", 5, "[pod/iptrace-9d4wq/iptrace] {\"type\":\"summary\",\"packets\":1,"
	    "\"records\":2,\"lost\":3,\"dropped\":1,\"evicted\":0,\"overruns\":2}");
	add(m, "-", 6, "{\"type\":\"summary\",\"packets\":1,\"records\":2,\"lost\":4,"
	    "\"dropped\":0,\"evicted\":5}");
	add(m, "-", 7, "{\"type\":\"record\",\"step\":{}}");
	add(m, "-", 8, "{\"type\":\"packet\",\"id\":\"1\"");
	add(m, "-", 9, "{\"type\":\"packet\"}");
	run(m, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.nodes[0], "iptrace-x7k2p,iptrace-x7k2p,iptrace-9d4wq,iptrace-9d4wq");
	merge_get_stats(m, &st);
	assert_int_equal(st.lines, 9);
	assert_int_equal(st.other, 3);		/* stderr, blank, record */
	assert_int_equal(st.malformed, 2);
	assert_string_equal(st.first_bad, "-:8: not JSON");
	assert_int_equal(st.sum.lost, 7);
	assert_int_equal(st.sum.dropped, 1);
	assert_int_equal(st.sum.evicted, 5);
	assert_int_equal(st.sum.overruns, 2);
	merge_free(m);

	/* No prefix, no "node": the input's name is the node. */
	m = new_merge(SKEW);
	add(m, "a.json", 1, la);
	add(m, "b.json", 1, lb);
	run(m, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.nodes[0], "a.json,a.json,b.json,b.json");
	merge_free(m);
	free(la);
	free(lb);
}

static int to_sink(void *ctx, const struct packet *p)
{
	struct sink *sk = ctx;

	return sk->ops->packet(sk, p);
}

/* A merged line merged again: the same packet (its steps name their nodes). */
static void test_merged_again(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(merged(SKEW, (const struct part[]){ { "a", &query_a }, { "b", &query_b },
							      { NULL, NULL } }, &s, NULL), 1);
	/* Now through the sink and back, with a third node after B. */
	{
		struct side c = { "C", 100, "10.244.1.2", "10.244.2.5", "10.244.2.5", 0, 0, 62, 61,
				  HOOK_PREROUTING, HOOK_INPUT, 400, NULL, false, NULL };
		struct merge *m2 = new_merge(SKEW), *m1 = new_merge(SKEW);
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);
		struct sink sk = { .ops = &sink_json_ops, .out = f };

		feed(m1, "a", &query_a);
		feed(m1, "b", &query_b);
		assert_int_equal(merge_run(m1, to_sink, &sk), 0);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(merge_line(m2, "ab", 1, buf, n), 0);
		feed(m2, "c", &c);
		run(m2, &s);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.nodes[0], "A,A,B,B,C,C");
		free(buf);
		merge_free(m1);
		merge_free(m2);
	}
}

/* emit's "stop" ends the run. */
static void test_stop(void **state)
{
	struct merge *m = new_merge(SKEW);
	struct seen s = { .stop_after = 1 };

	(void)state;
	feed(m, "a", &query_a);
	feed(m, "a", &reply_a);
	assert_int_equal(merge_run(m, collect, &s), -1);
	assert_int_equal(s.n, 1);
	merge_free(m);
	/* Nothing read: nothing to do. */
	m = new_merge(SKEW);
	run(m, &s);
	assert_int_equal(s.n, 0);
	merge_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_order_ties),
		cmocka_unit_test(test_never),
		cmocka_unit_test(test_three_nodes),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_merged_again),
		cmocka_unit_test(test_stop),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
