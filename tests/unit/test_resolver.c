/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_resolver.c: GET_ENTRIES blobs → identities and evidence; the reader's rounds and answers */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "iptrace/resolver.h"
#include "iptrace/xtblob.h"
#include "test_util.h"
#include "../xtblob_file.h"

/* A recorded blob of TEST_DATA_DIR (xtblob_file.h). */
static void blob_load(struct blob *b, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	assert_int_equal(blob_read(b, path), 0);
}

static struct xtversion *parse(const struct blob *b, bool (*want)(void *, const char *))
{
	struct xtversion *v = NULL;

	assert_int_equal(xtversion_parse(&b->info, b->entries, b->info.size, want, NULL, &v), 0);
	return v;
}

static bool want_all(void *ctx, const char *chain)
{
	(void)ctx;
	(void)chain;
	return true;
}

static struct pkt_hdr udp4(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	struct pkt_hdr h;

	memset(&h, 0, sizeof(h));
	h.family = AF_INET;
	h.proto = IPPROTO_UDP;
	inet_pton(AF_INET, src, &h.saddr);
	inet_pton(AF_INET, dst, &h.daddr);
	h.has_l4 = h.has_ports = true;
	h.sport = sport;
	h.dport = dport;
	return h;
}

static const char *verdict(const struct xtversion *v, const struct xt_rule *r, bool *cont)
{
	static char buf[64];

	return xtversion_verdict(v, r, buf, sizeof(buf), cont);
}

/* The kube-proxy table: chains, numbering, verdicts, and identities that survive a shift. */
static void test_kube_blob(void **state)
{
	struct blob b0, b1;
	struct xtversion *v0, *v1;
	const struct xt_rule *r, *s;
	const struct xt_chain *c;
	bool cont;

	(void)state;
	blob_load(&b0, "kube-v0.xtblob");
	blob_load(&b1, "kube-v1.xtblob");
	v0 = parse(&b0, NULL);
	v1 = parse(&b1, NULL);
	/* 3 services: 8 rules each, 8 more; 4 base chains and 3 x 3 + 4 user chains. */
	assert_int_equal(xtversion_rules(v0), 32);
	assert_int_equal(xtversion_nchains(v0), 4 + 13);
	assert_int_equal(xtversion_rules(v1), 34);
	assert_true(xtversion_fp(v0) != xtversion_fp(v1));
	c = xtversion_chain(v0, "KUBE-SERVICES");
	assert_non_null(c);
	assert_int_equal(c->n, 4);
	assert_int_equal(c->hook, -1);
	assert_int_equal(xtversion_chain(v0, "PREROUTING")->hook, 0);
	assert_null(xtversion_chain(v0, "KUBE-NOPE"));
	/* Service 1 is rule 2 in v0 and rule 3 in v1: the same identity, the same jump. */
	r = xtversion_step(v0, "KUBE-SERVICES", TRACE_KIND_RULE, 2, NULL);
	s = xtversion_step(v1, "KUBE-SERVICES", TRACE_KIND_RULE, 3, NULL);
	assert_non_null(r);
	assert_non_null(s);
	assert_true(r->id == s->id);
	assert_string_equal(verdict(v0, r, &cont), "jump KUBE-SVC-9E3779B100009E37");
	assert_false(cont);
	assert_string_equal(xtversion_jump_chain(v1, s), "KUBE-SVC-9E3779B100009E37");
	/* ... while rule 2 of v1 is another service's. */
	assert_true(xtversion_step(v1, "KUBE-SERVICES", TRACE_KIND_RULE, 2, NULL)->id != r->id);
	/* Unchanged chains keep their identities though every offset moved. */
	assert_true(xtversion_step(v0, "PREROUTING", TRACE_KIND_RULE, 1, NULL)->id ==
		    xtversion_step(v1, "PREROUTING", TRACE_KIND_RULE, 1, NULL)->id);
	/* Ends: a base chain's policy, a user chain's return; "rule" there is no record. */
	r = xtversion_step(v0, "PREROUTING", TRACE_KIND_POLICY, 2, NULL);
	assert_non_null(r);
	assert_string_equal(verdict(v0, r, &cont), "ACCEPT");
	assert_null(xtversion_step(v0, "PREROUTING", TRACE_KIND_RULE, 2, NULL));
	assert_null(xtversion_step(v0, "PREROUTING", TRACE_KIND_RETURN, 2, NULL));
	assert_non_null(xtversion_step(v0, "KUBE-MARK-MASQ", TRACE_KIND_RETURN, 2, NULL));
	assert_null(xtversion_step(v0, "KUBE-MARK-MASQ", TRACE_KIND_POLICY, 2, NULL));
	assert_null(xtversion_step(v0, "KUBE-MARK-MASQ", TRACE_KIND_RETURN, 3, NULL));
	assert_null(xtversion_step(v0, "KUBE-MARK-MASQ", TRACE_KIND_RULE, 0, NULL));
	r = xtversion_step(v0, "KUBE-MARK-MASQ", TRACE_KIND_RULE, 1, NULL);
	assert_string_equal(verdict(v0, r, &cont), "MARK");
	assert_true(cont);
	r = xtversion_step(v0, "KUBE-POSTROUTING", TRACE_KIND_RULE, 3, NULL);
	assert_string_equal(verdict(v0, r, &cont), "MASQUERADE");
	assert_false(cont);
	xtversion_free(v0);
	xtversion_free(v1);
	blob_free(&b0);
	blob_free(&b1);
}

/* Evidence: a version whose rule cannot match the packet is ruled out. */
static void test_evidence(void **state)
{
	struct blob b0, m;
	struct xtversion *v0, *vm;
	const struct xt_evidence *ev;
	struct pkt_hdr h;

	(void)state;
	blob_load(&b0, "kube-v0.xtblob");
	v0 = parse(&b0, want_all);
	/* KUBE-SERVICES rule 2: -d 10.96.0.2/32 -p udp --dport 53. */
	assert_non_null(xtversion_step(v0, "KUBE-SERVICES", TRACE_KIND_RULE, 2, &ev));
	assert_non_null(ev);
	h = udp4("10.0.1.2", "10.96.0.2", 40000, 53);
	assert_true(xtstep_fits(ev, &h));
	h = udp4("10.0.1.2", "10.96.0.3", 40000, 53);
	assert_false(xtstep_fits(ev, &h));
	h = udp4("10.0.1.2", "10.96.0.2", 40000, 54);
	assert_false(xtstep_fits(ev, &h));
	h.proto = IPPROTO_TCP;
	h.dport = 53;
	assert_false(xtstep_fits(ev, &h));
	/* Not wanted: no evidence, nothing ruled out. */
	xtversion_free(v0);
	v0 = parse(&b0, NULL);
	assert_non_null(xtversion_step(v0, "KUBE-SERVICES", TRACE_KIND_RULE, 2, &ev));
	assert_null(ev);
	assert_true(xtstep_fits(ev, &h));

	blob_load(&m, "misc.xtblob");
	vm = parse(&m, want_all);
	/* ! -s 10.1.0.0/16 -p udp ! --dport 53 */
	xtversion_step(vm, "INPUT", TRACE_KIND_RULE, 2, &ev);
	h = udp4("10.2.0.1", "10.0.0.1", 1, 54);
	assert_true(xtstep_fits(ev, &h));
	h = udp4("10.1.0.1", "10.0.0.1", 1, 54);
	assert_false(xtstep_fits(ev, &h));
	h = udp4("10.2.0.1", "10.0.0.1", 1, 53);
	assert_false(xtstep_fits(ev, &h));
	/* -p tcp --dport 22 --tcp-flags SYN,ACK SYN */
	xtversion_step(vm, "INPUT", TRACE_KIND_RULE, 1, &ev);
	h = udp4("10.2.0.1", "10.0.0.1", 1000, 22);
	h.proto = IPPROTO_TCP;
	h.tcp_flags = 0x02;
	assert_true(xtstep_fits(ev, &h));
	h.tcp_flags = 0x12;
	assert_false(xtstep_fits(ev, &h));
	/* -f: only later fragments */
	xtversion_step(vm, "INPUT", TRACE_KIND_RULE, 3, &ev);
	assert_false(xtstep_fits(ev, &h));
	h.frag = 100;
	assert_true(xtstep_fits(ev, &h));
	/* --sport 1000:2000 (the interface is not evidence) */
	xtversion_step(vm, "FORWARD", TRACE_KIND_RULE, 1, &ev);
	h = udp4("10.2.0.1", "10.0.0.1", 1500, 9);
	assert_true(xtstep_fits(ev, &h));
	h.sport = 999;
	assert_false(xtstep_fits(ev, &h));
	xtversion_free(v0);
	xtversion_free(vm);
	blob_free(&b0);
	blob_free(&m);
}

/* Goto, fallthrough, an unconditional ACCEPT traced as policy, IPv6. */
static void test_misc_blobs(void **state)
{
	struct blob m, m6;
	struct xtversion *vm, *v6;
	const struct xt_evidence *ev;
	const struct xt_rule *r;
	struct pkt_hdr h;
	bool cont;

	(void)state;
	blob_load(&m, "misc.xtblob");
	vm = parse(&m, want_all);
	r = xtversion_step(vm, "FORWARD", TRACE_KIND_RULE, 1, NULL);
	assert_string_equal(verdict(vm, r, &cont), "continue");
	assert_true(cont);
	r = xtversion_step(vm, "FORWARD", TRACE_KIND_RULE, 2, NULL);
	assert_string_equal(verdict(vm, r, &cont), "goto LAB");
	/* -A FORWARD -j ACCEPT: the kernel says "policy" at its number, and 4 is the policy. */
	assert_null(xtversion_step(vm, "FORWARD", TRACE_KIND_RULE, 3, NULL));
	r = xtversion_step(vm, "FORWARD", TRACE_KIND_POLICY, 3, NULL);
	assert_string_equal(verdict(vm, r, &cont), "ACCEPT");
	r = xtversion_step(vm, "FORWARD", TRACE_KIND_POLICY, 4, NULL);
	assert_string_equal(verdict(vm, r, &cont), "DROP");
	r = xtversion_step(vm, "LAB", TRACE_KIND_RETURN, 2, NULL);
	assert_string_equal(verdict(vm, r, &cont), "RETURN");

	blob_load(&m6, "misc6.xtblob");
	v6 = parse(&m6, want_all);
	assert_int_equal(xtversion_rules(v6), 2);
	assert_non_null(xtversion_step(v6, "INPUT", TRACE_KIND_RULE, 2, &ev));
	memset(&h, 0, sizeof(h));
	h.family = AF_INET6;
	h.proto = IPPROTO_TCP;
	inet_pton(AF_INET6, "2001:db8::1", &h.saddr);
	assert_true(xtstep_fits(ev, &h));
	inet_pton(AF_INET6, "2001:db9::1", &h.saddr);
	assert_false(xtstep_fits(ev, &h));
	xtversion_step(v6, "INPUT", TRACE_KIND_RULE, 1, &ev);
	h.has_l4 = h.has_ports = true;
	h.dport = 443;
	assert_true(xtstep_fits(ev, &h));
	h.dport = 80;
	assert_false(xtstep_fits(ev, &h));
	xtversion_free(vm);
	xtversion_free(v6);
	blob_free(&m);
	blob_free(&m6);
}

/* Blobs that no kernel wrote are refused, not read past their end. */
static void test_bad_blobs(void **state)
{
	struct blob b;
	struct xtversion *v = NULL;
	struct xtblob_info in;

	(void)state;
	blob_load(&b, "kube-v0.xtblob");
	for (uint32_t cut = 0; cut < b.info.size; cut += 8)
		if (xtversion_parse(&b.info, b.entries, cut, NULL, NULL, &v) == 0) {
			/* A prefix that is whole entries must still name every chain's end. */
			xtversion_free(v);
			v = NULL;
		}
	in = b.info;
	in.hook_entry[0] = 8;	/* not an entry's start: no base chain begins there */
	assert_int_equal(xtversion_parse(&in, b.entries, b.info.size, NULL, NULL, &v), -EINVAL);
	blob_free(&b);
}

/* --- the reader, with a table the test rewrites ------------------------------------------ */

struct fake {
	struct blob	*now;		/* what GET_ENTRIES returns */
	struct blob	*polls[8];	/* what the next GET_INFO polls see, then @now */
	int		npolls;
	const char	*save_file;	/* what the save program prints */
	struct blob	*during_save;	/* the table while it is saved (NULL: unchanged) */
	int32_t		barriers[64];
	int		nbarriers;
	int		saves;
};

static int fake_info(void *ctx, int family, const char *table, struct xtblob_info *info)
{
	struct fake *f = ctx;

	(void)family;
	if (strcmp(table, "nat") != 0)
		return -ENOENT;
	if (f->npolls) {
		*info = f->polls[0]->info;
		memmove(f->polls, f->polls + 1, sizeof(f->polls) - sizeof(f->polls[0]));
		f->npolls--;
		return 0;
	}
	*info = f->now->info;
	return 0;
}

static int fake_read(void *ctx, int family, const char *table,
		     bool (*want)(void *wctx, const char *chain), void *wctx,
		     struct xtblob_info *info, struct xtversion **out)
{
	struct fake *f = ctx;

	(void)family;
	if (strcmp(table, "nat") != 0)
		return -ENOENT;
	*info = f->now->info;
	return xtversion_parse(&f->now->info, f->now->entries, f->now->info.size, want, wctx,
			       out);
}

static int fake_save(void *ctx, int family, const char *table,
		     int (*line)(void *arg, char *line), void (*tick)(void *arg), void *arg)
{
	struct fake *f = ctx;
	struct blob *before = f->now;
	char *text, *l, *next;
	int ret = 0;

	(void)family;
	(void)table;
	f->saves++;
	if (f->during_save) {
		f->now = f->during_save;
		tick(arg);
		f->now = before;
	}
	text = slurp(f->save_file);
	for (l = text; !ret && l && *l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		ret = line(arg, l);
	}
	free(text);
	return ret;
}

static void fake_barrier(void *ctx, int32_t pos)
{
	struct fake *f = ctx;

	if (f->nbarriers < 64)
		f->barriers[f->nbarriers++] = pos;
}

struct env {
	struct fake		f;
	struct resolver_source	src;
	struct resolver_reader	*rd;
	struct blob		v0, v1;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	blob_load(&e->v0, "kube-v0.xtblob");
	blob_load(&e->v1, "kube-v1.xtblob");
	e->f.now = &e->v0;
	e->f.save_file = "kube-v0.save";
	e->src = (struct resolver_source){ fake_info, fake_read, fake_save,
					   fake_barrier, &e->f };
	e->rd = resolver_reader_new(&e->src);
	assert_non_null(e->rd);
	assert_int_equal(resolver_reader_watch(e->rd, AF_INET, "nat"), 0);
	return e;
}

static void env_free(struct env *e)
{
	resolver_reader_free(e->rd);
	blob_free(&e->v0);
	blob_free(&e->v1);
	free(e);
}

static struct resolver_query query(int32_t lo, const char *chain, enum trace_kind kind,
				   uint32_t num)
{
	struct resolver_query q;

	memset(&q, 0, sizeof(q));
	q.id = 7;
	q.lo = lo;
	q.family = AF_INET;
	q.kind = (uint8_t)kind;
	q.rulenum = num;
	snprintf(q.table, sizeof(q.table), "nat");
	snprintf(q.chain, sizeof(q.chain), "%s", chain);
	return q;
}

/* Answer @q, running the rounds and saves it asks for; returns the answer. */
static struct resolver_answer ask(struct env *e, const struct resolver_query *q)
{
	struct resolver_answer a;

	for (int i = 0; i < 10; i++) {
		bool nr, ns;
		int ret = resolver_reader_answer(e->rd, q, &a, &nr, &ns);

		assert_true(ret >= 0);
		if (ret == 1)
			return a;
		assert_true(nr || ns);
		if (nr)
			resolver_reader_round(e->rd);
		if (ns)
			resolver_reader_save(e->rd, AF_INET, "nat");
	}
	fail_msg("no answer");
	return a;
}

static const char SVC1[] = "-A KUBE-SERVICES -d 10.96.0.2/32 -p udp -m comment --comment "
			   "\"ns1/svc1:dns cluster IP\" -m udp --dport 53 -j "
			   "KUBE-SVC-9E3779B100009E37";

/* Barriers bracket each round; a quiet table answers with the saved text. */
static void test_rounds_and_text(void **state)
{
	struct env *e = env_new();
	struct resolver_query q;
	struct resolver_answer a;

	(void)state;
	assert_int_equal(resolver_reader_round(e->rd), 0);
	assert_int_equal(e->f.nbarriers, 2);
	assert_int_equal(e->f.barriers[0], 0);
	assert_int_equal(e->f.barriers[1], 1);
	/* After barrier 1: rounds 0 and 1. */
	q = query(1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_true(a.has_rule);
	assert_string_equal(a.rule, SVC1);
	assert_string_equal(a.verdict, "jump KUBE-SVC-9E3779B100009E37");
	assert_int_equal(a.id, 7);
	assert_int_equal(e->f.saves, 1);
	/* Chain ends need no text; the same rule again needs no new save. */
	a = ask(e, &(struct resolver_query){ .lo = 1, .family = AF_INET, .kind = TRACE_KIND_POLICY,
				      .rulenum = 2, .table = "nat", .chain = "PREROUTING" });
	assert_string_equal(a.rule, "-P PREROUTING ACCEPT");
	q = query(3, "KUBE-MARK-MASQ", TRACE_KIND_RETURN, 2);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.verdict, "return");
	assert_string_equal(a.reason, RESOLVER_REASON_RETURN);
	q = query(3, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_string_equal(a.rule, SVC1);
	/* Before the first barrier: no bound. */
	q = query(-1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_START);
	env_free(e);
}

/*
 * The churn: v0 at round 0, v1 at round 1, every number shifted between them. A record in
 * between could come from either: the packet's address picks the one whose rule matches;
 * without it the two disagree and there is no rule.
 */
static void test_churn_evidence(void **state)
{
	struct env *e = env_new();
	struct resolver_query q;
	struct resolver_answer a;

	(void)state;
	resolver_reader_round(e->rd);		/* round 0: v0 */
	/* The record names the chain: its evidence is kept from the next round on. */
	q = query(-1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	ask(e, &q);
	e->f.now = &e->v1;
	resolver_reader_poll(e->rd);		/* one change seen */
	resolver_reader_round(e->rd);		/* round 1: v1 */
	e->f.now = &e->v0;
	resolver_reader_poll(e->rd);
	resolver_reader_round(e->rd);		/* round 2: v0 */
	/* Between barrier 3 (after round 1) and 4: v1 or v0. No packet: they disagree. */
	q = query(3, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_CHANGED);
	/* To 10.96.0.2: only v0's rule 2 matches. */
	q.pkt = udp4("10.0.1.2", "10.96.0.2", 40000, 53);
	a = ask(e, &q);
	assert_true(a.has_rule);
	assert_string_equal(a.rule, SVC1);
	/* Rule 3 to the same address: only v1's. The text is v0's line, the same rule. */
	q.rulenum = 3;
	a = ask(e, &q);
	assert_string_equal(a.rule, SVC1);
	/* To 10.96.0.1 as rule 3: neither version's rule 3 matches. */
	q.pkt = udp4("10.0.1.2", "10.96.0.1", 40000, 53);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_NOFIT);
	/* The next record's chain decides as well. */
	q = query(3, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	q.has_next = true;
	snprintf(q.next, sizeof(q.next), "KUBE-SVC-0000000000000000");
	a = ask(e, &q);
	assert_true(a.has_rule);
	assert_string_equal(a.verdict, "jump KUBE-SVC-0000000000000000");
	assert_non_null(strstr(a.rule, "-d 10.96.0.1/32"));
	env_free(e);
}

/* v0 -> v1 -> v0 between two rounds that both read v0: a version nobody read. */
static void test_unseen_version(void **state)
{
	struct env *e = env_new();
	struct resolver_query q;
	struct resolver_answer a;

	(void)state;
	resolver_reader_round(e->rd);
	e->f.polls[0] = &e->v1;
	e->f.polls[1] = &e->v0;
	e->f.npolls = 2;
	resolver_reader_poll(e->rd);
	resolver_reader_poll(e->rd);
	resolver_reader_round(e->rd);
	q = query(1, "PREROUTING", TRACE_KIND_RULE, 1);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_UNSEEN);
	/* The next interval is quiet again. */
	q.lo = 3;
	a = ask(e, &q);
	assert_true(a.has_rule);
	env_free(e);
}

/* A save whose table moved meanwhile, or that is another version's, gives no text. */
static void test_save_misaligned(void **state)
{
	struct env *e = env_new();
	struct resolver_query q;
	struct resolver_answer a;
	struct resolver_stats st;

	(void)state;
	resolver_reader_round(e->rd);
	e->f.during_save = &e->v1;	/* v0 -> v1 -> v0 while saving */
	q = query(1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_NOTEXT);
	assert_int_equal(e->f.saves, 3);
	/* Quiet, but the save program printed v1's table while the kernel holds v0. */
	e->f.during_save = NULL;
	e->f.save_file = "kube-v1.save";
	resolver_reader_stats(e->rd, &st);
	assert_int_equal(st.saves_aligned, 0);
	a = ask(e, &q);
	assert_false(a.has_rule);
	resolver_reader_stats(e->rd, &st);
	assert_int_equal(st.saves_aligned, 0);
	/* After another version, the right save. */
	e->f.save_file = "kube-v0.save";
	e->f.now = &e->v1;
	resolver_reader_poll(e->rd);
	resolver_reader_round(e->rd);
	e->f.now = &e->v0;
	resolver_reader_poll(e->rd);
	q.lo = 2 * resolver_reader_round(e->rd) + 1;
	a = ask(e, &q);
	assert_string_equal(a.rule, SVC1);
	env_free(e);
}

/* A table that is another version at every round: old rounds are forgotten, not kept. */
static void test_versions_bounded(void **state)
{
	struct env *e = env_new();
	struct resolver_query q;
	struct resolver_answer a;
	struct resolver_stats st;
	struct blob var[20];

	(void)state;
	resolver_reader_round(e->rd);
	q = query(-1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	ask(e, &q);
	for (int i = 0; i < 20; i++) {
		/* v0 with one letter of a KUBE-SEP comment changed: a version of its own. */
		char *c;

		var[i] = e->v0;
		var[i].entries = aligned_alloc(8, e->v0.info.size + 8);
		assert_non_null(var[i].entries);
		memcpy(var[i].entries, e->v0.entries, e->v0.info.size);
		c = memmem(var[i].entries, e->v0.info.size, "ns2/svc2:dns", 12);
		assert_non_null(c);
		c[0] = (char)('a' + i);
		e->f.now = &var[i];
		resolver_reader_round(e->rd);
	}
	e->f.now = &e->v0;
	resolver_reader_stats(e->rd, &st);
	assert_int_equal(st.versions, 21);
	/* The first rounds are gone (with their versions); the last ones answer. */
	q = query(1, "KUBE-SERVICES", TRACE_KIND_RULE, 2);
	a = ask(e, &q);
	assert_false(a.has_rule);
	assert_string_equal(a.reason, RESOLVER_REASON_LATE);
	q.lo = 2 * 20 + 1;
	a = ask(e, &q);
	assert_string_equal(a.rule, SVC1);
	env_free(e);
	for (int i = 0; i < 20; i++)
		free(var[i].entries);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kube_blob),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_misc_blobs),
		cmocka_unit_test(test_bad_blobs),
		cmocka_unit_test(test_rounds_and_text),
		cmocka_unit_test(test_churn_evidence),
		cmocka_unit_test(test_unseen_version),
		cmocka_unit_test(test_save_misaligned),
		cmocka_unit_test(test_versions_bounded),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
