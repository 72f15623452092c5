/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_resolver.c: rule text and verdicts from saved iptables-save output, and table changes */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/resolver.h"
#include "test_util.h"

#define MS 1000000ull

/* A table the test controls: its text, its fingerprint, and the clock. */
struct fake {
	const char	*file[4];	/* tests/data file per table name below */
	const char	*name[4];
	uint64_t	fp[4];
	int		save_err;
	uint64_t	now;
	unsigned	saves;
};

static int slot(struct fake *fk, const char *table)
{
	for (int i = 0; i < 4; i++)
		if (fk->name[i] && strcmp(fk->name[i], table) == 0)
			return i;
	return -1;
}

static int fake_fp(void *ctx, int family, const char *table, uint64_t *fp)
{
	struct fake *fk = ctx;
	int i = slot(fk, table);

	(void)family;
	fk->now += 10000;	/* a look takes time */
	if (i < 0)
		return -ENOENT;
	*fp = fk->fp[i];
	return 0;
}

static int fake_save(void *ctx, int family, const char *table, char **text)
{
	struct fake *fk = ctx;
	int i = slot(fk, table);

	(void)family;
	fk->now += 1 * MS;
	fk->saves++;
	if (fk->save_err)
		return fk->save_err;
	if (i < 0)
		return -ENOENT;
	*text = slurp(fk->file[i]);
	return 0;
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

struct env {
	struct fake		fk;
	struct resolver_source	src;
	struct resolver		*r;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct resolver_cfg cfg = { .refresh_ns = 200 * MS, .latency_ns = 20 * MS };

	assert_non_null(e);
	e->fk.now = 1000 * MS;
	e->src = (struct resolver_source){ fake_fp, fake_save, fake_now, &e->fk };
	cfg.source = &e->src;
	e->r = resolver_new(&cfg);
	assert_non_null(e->r);
	return e;
}

static void env_free(struct env *e)
{
	resolver_free(e->r);
	free(e);
}

static void add_table(struct env *e, const char *name, const char *file, uint64_t fp)
{
	int i = slot(&e->fk, name);

	if (i < 0)
		for (i = 0; e->fk.name[i]; i++)
			;
	e->fk.name[i] = name;
	e->fk.file[i] = file;
	e->fk.fp[i] = fp;
}

static struct trace_record step(const char *table, const char *chain, enum trace_kind kind,
				uint32_t num, uint64_t recv)
{
	struct trace_record r;

	memset(&r, 0, sizeof(r));
	r.backend = TRACE_BACKEND_LEGACY;
	r.nfproto = 2;	/* NFPROTO_IPV4 */
	r.pkt.family = AF_INET;
	snprintf(r.table, sizeof(r.table), "%s", table);
	snprintf(r.chain, sizeof(r.chain), "%s", chain);
	r.kind = kind;
	r.rulenum = num;
	r.recv_ns = recv;
	return r;
}

/* Receive a step now, then resolve it (the window is short in these tests). */
static struct trace_record seen(struct env *e, const char *table, const char *chain,
				enum trace_kind kind, uint32_t num)
{
	struct trace_record r = step(table, chain, kind, num, e->fk.now);

	resolver_observe(e->r, &r);
	resolver_resolve(e->r, &r, 1);
	return r;
}

static void expect(const struct trace_record *r, const char *rule, const char *verdict, bool cont)
{
	if (rule)
		assert_string_equal(r->rule, rule);
	else
		assert_null(r->rule);
	if (verdict)
		assert_string_equal(r->verdict, verdict);
	else
		assert_null(r->verdict);
	assert_int_equal(r->verdict_continues, cont);
}

static void test_nat_rules(void **state)
{
	struct env *e = env_new();
	struct trace_record r;

	(void)state;
	add_table(e, "nat", "save-nat-a.txt", 1);
	assert_int_equal(resolver_watch(e->r, AF_INET, "nat"), 0);

	r = seen(e, "nat", "PREROUTING", TRACE_KIND_RULE, 1);
	expect(&r, "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
	       "jump KUBE-SERVICES", false);
	/* A comment containing "-j trap" is not the target. */
	r = seen(e, "nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1);
	expect(&r, "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "
	       "\"kube-system/kube-dns:dns cluster IP -j trap\" -m udp --dport 53 -j KUBE-SVC-DNS",
	       "jump KUBE-SVC-DNS", false);
	r = seen(e, "nat", "KUBE-SEP-DNS", TRACE_KIND_RULE, 2);
	expect(&r, "-A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.44.0.47:53",
	       "DNAT", false);
	assert_null(r.rule_reason);
	r = seen(e, "nat", "KUBE-MARK-MASQ", TRACE_KIND_RULE, 1);
	expect(&r, "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "MARK", true);
	r = seen(e, "nat", "OUTPUT", TRACE_KIND_RULE, 1);
	expect(&r, "-A OUTPUT -j LOG --log-prefix \"out: \"", "LOG", true);
	r = seen(e, "nat", "OUTPUT", TRACE_KIND_RULE, 2);
	expect(&r, "-A OUTPUT -g KUBE-SERVICES", "goto KUBE-SERVICES", false);
	r = seen(e, "nat", "KUBE-POSTROUTING", TRACE_KIND_RULE, 1);
	expect(&r, "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN", "RETURN", false);
	r = seen(e, "nat", "KUBE-POSTROUTING", TRACE_KIND_RULE, 3);
	expect(&r, "-A KUBE-POSTROUTING -j MASQUERADE --random-fully", "MASQUERADE", false);
	/* Chain ends: the policy of a base chain, the implicit return of a user chain. */
	r = seen(e, "nat", "POSTROUTING", TRACE_KIND_POLICY, 2);
	expect(&r, "-P POSTROUTING ACCEPT", "ACCEPT", false);
	r = seen(e, "nat", "KUBE-SEP-DNS", TRACE_KIND_RETURN, 3);
	expect(&r, NULL, "return", false);
	assert_string_equal(r.rule_reason, "implicit return at the end of the chain");
	/* One save for the table, however many steps. */
	assert_int_equal(e->fk.saves, 1);
	env_free(e);
}

static void test_impossible_numbers(void **state)
{
	struct env *e = env_new();
	struct trace_record r;
	struct resolver_stats st;

	(void)state;
	add_table(e, "nat", "save-nat-a.txt", 1);
	resolver_watch(e->r, AF_INET, "nat");
	/* Beyond the chain's end, a policy in a user chain, a chain that isn't there. */
	r = seen(e, "nat", "KUBE-SEP-DNS", TRACE_KIND_RULE, 3);
	expect(&r, NULL, NULL, false);
	assert_string_equal(r.rule_reason, "table changed during capture");
	e->fk.now += 300 * MS;
	r = seen(e, "nat", "KUBE-SEP-DNS", TRACE_KIND_POLICY, 3);
	expect(&r, NULL, NULL, false);
	assert_string_equal(r.rule_reason, "table changed during capture");
	r = seen(e, "nat", "KUBE-GONE", TRACE_KIND_RULE, 1);
	expect(&r, NULL, NULL, false);
	/* Such a number makes the resolver re-read the table, at most once per interval. */
	resolver_get_stats(e->r, &st);
	assert_true(e->fk.saves >= 2 && e->fk.saves <= 3);
	assert_int_equal(st.unresolved, 3);
	env_free(e);
}

/* The kernel traces an unconditional ACCEPT/DROP/RETURN rule as policy/return at its number. */
static void test_unconditional_and_counters(void **state)
{
	struct env *e = env_new();
	struct trace_record r;

	(void)state;
	add_table(e, "filter", "save-filter-c.txt", 7);	/* saved with -c */
	resolver_watch(e->r, AF_INET, "filter");
	r = seen(e, "filter", "FORWARD", TRACE_KIND_RULE, 1);
	expect(&r, "-A FORWARD -j KUBE-FORWARD", "jump KUBE-FORWARD", false);
	r = seen(e, "filter", "FORWARD", TRACE_KIND_POLICY, 3);
	expect(&r, "-A FORWARD -j ACCEPT", "ACCEPT", false);
	r = seen(e, "filter", "FORWARD", TRACE_KIND_POLICY, 4);
	expect(&r, "-P FORWARD DROP", "DROP", false);
	r = seen(e, "filter", "KUBE-FORWARD", TRACE_KIND_RETURN, 2);
	expect(&r, "-A KUBE-FORWARD -j RETURN", "RETURN", false);
	r = seen(e, "filter", "INPUT", TRACE_KIND_RULE, 1);
	expect(&r, "-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset",
	       "REJECT", false);
	/* "rule 3" cannot be the unconditional ACCEPT: the kernel would have said policy. */
	r = seen(e, "filter", "FORWARD", TRACE_KIND_RULE, 3);
	assert_null(r.rule);
	env_free(e);
}

/* iptrace's own TRACE rules are at the head of raw PREROUTING: numbers include them. */
static void test_raw_with_marker(void **state)
{
	struct env *e = env_new();
	struct trace_record r;

	(void)state;
	add_table(e, "raw", "save-raw.txt", 3);
	resolver_watch(e->r, AF_INET, "raw");
	r = seen(e, "raw", "PREROUTING", TRACE_KIND_RULE, 2);
	expect(&r, "-A PREROUTING -p udp -m comment --comment \"iptrace:4242\" -m multiport "
	       "--ports 53 -j TRACE", "TRACE", true);
	r = seen(e, "raw", "PREROUTING", TRACE_KIND_RULE, 4);
	expect(&r, "-A PREROUTING -p udp -m udp --dport 53 -m comment --comment lab-raw",
	       "continue", true);
	r = seen(e, "raw", "PREROUTING", TRACE_KIND_POLICY, 5);
	expect(&r, "-P PREROUTING ACCEPT", "ACCEPT", false);
	r = seen(e, "raw", "OUTPUT", TRACE_KIND_POLICY, 1);
	expect(&r, "-P OUTPUT ACCEPT", "ACCEPT", false);
	env_free(e);
}

/*
 * A rule inserted at the head of KUBE-SERVICES between two packets. Steps before the change
 * name the old rules, steps after it the new ones, steps around it only what both versions
 * agree on, and no step names a rule of the wrong version.
 */
static void test_change_mid_capture(void **state)
{
	struct env *e = env_new();
	struct trace_record before, around, around_same, around_only_new, after, late;
	struct resolver_stats st;

	(void)state;
	add_table(e, "nat", "save-nat-a.txt", 1);
	resolver_watch(e->r, AF_INET, "nat");
	before = step("nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1, e->fk.now);
	resolver_observe(e->r, &before);	/* reads version A */
	e->fk.now += 50 * MS;
	/* Received after the last look at A, before the change is seen: could be A or B. */
	around = step("nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1, e->fk.now);
	around_same = step("nat", "KUBE-SVC-DNS", TRACE_KIND_RULE, 1, e->fk.now);
	around_only_new = step("nat", "KUBE-SERVICES", TRACE_KIND_RULE, 2, e->fk.now);
	resolver_observe(e->r, &around);
	/* The table changes; the periodic check sees it and reads version B. */
	add_table(e, "nat", "save-nat-b.txt", 2);
	e->fk.now += 200 * MS;
	assert_true(resolver_deadline(e->r) <= e->fk.now);
	resolver_tick(e->r);
	e->fk.now += 100 * MS;
	after = step("nat", "KUBE-SERVICES", TRACE_KIND_RULE, 2, e->fk.now);
	resolver_observe(e->r, &after);

	resolver_resolve(e->r, &before, 1);
	expect(&before, "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "
	       "\"kube-system/kube-dns:dns cluster IP -j trap\" -m udp --dport 53 -j KUBE-SVC-DNS",
	       "jump KUBE-SVC-DNS", false);
	resolver_resolve(e->r, &around, 1);
	expect(&around, NULL, NULL, false);
	assert_string_equal(around.rule_reason, "table changed during capture");
	resolver_resolve(e->r, &around_same, 1);
	expect(&around_same, "-A KUBE-SVC-DNS -j KUBE-SEP-DNS", "jump KUBE-SEP-DNS", false);
	/* Only B has a rule 2 there, so only B can have produced it. */
	resolver_resolve(e->r, &around_only_new, 1);
	expect(&around_only_new, "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "
	       "\"kube-system/kube-dns:dns cluster IP -j trap\" -m udp --dport 53 -j KUBE-SVC-DNS",
	       "jump KUBE-SVC-DNS", false);
	resolver_resolve(e->r, &after, 1);
	expect(&after, "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "
	       "\"kube-system/kube-dns:dns cluster IP -j trap\" -m udp --dport 53 -j KUBE-SVC-DNS",
	       "jump KUBE-SVC-DNS", false);
	late = seen(e, "nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1);
	expect(&late, "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-DNS",
	       "jump KUBE-SVC-DNS", false);
	resolver_get_stats(e->r, &st);
	assert_int_equal(st.changes, 1);
	assert_int_equal(e->fk.saves, 2);
	env_free(e);
}

/* A change not yet seen when the packet is emitted: the resolver looks before answering. */
static void test_change_before_emit(void **state)
{
	struct env *e = env_new();
	struct trace_record r;

	(void)state;
	add_table(e, "nat", "save-nat-a.txt", 1);
	resolver_watch(e->r, AF_INET, "nat");
	r = seen(e, "nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1);
	assert_non_null(r.rule);
	add_table(e, "nat", "save-nat-b.txt", 2);
	e->fk.now += 100 * MS;	/* within the refresh interval: no periodic check yet */
	r = step("nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1, e->fk.now);
	resolver_observe(e->r, &r);
	e->fk.now += 30 * MS;
	resolver_resolve(e->r, &r, 1);
	/* Version A or B: they disagree on rule 1, so no rule rather than a wrong one. */
	assert_null(r.rule);
	env_free(e);
}

static void test_save_fails(void **state)
{
	struct env *e = env_new();
	struct trace_record r;

	(void)state;
	add_table(e, "nat", "save-nat-a.txt", 1);
	e->fk.save_err = -ENOENT;
	resolver_watch(e->r, AF_INET, "nat");
	r = seen(e, "nat", "KUBE-SERVICES", TRACE_KIND_RULE, 1);
	expect(&r, NULL, NULL, false);
	assert_string_equal(r.rule_reason, "cannot read the ruleset");
	env_free(e);
}

/* Non-legacy steps are left alone. */
static void test_nft_untouched(void **state)
{
	struct env *e = env_new();
	struct trace_record r = step("filter", "input", TRACE_KIND_RULE, 0, 0);

	(void)state;
	r.backend = TRACE_BACKEND_NFT;
	resolver_observe(e->r, &r);
	resolver_resolve(e->r, &r, 1);
	assert_null(r.rule);
	assert_null(r.verdict);
	assert_null(r.rule_reason);
	assert_int_equal(e->fk.saves, 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nat_rules),
		cmocka_unit_test(test_impossible_numbers),
		cmocka_unit_test(test_unconditional_and_counters),
		cmocka_unit_test(test_raw_with_marker),
		cmocka_unit_test(test_change_mid_capture),
		cmocka_unit_test(test_change_before_emit),
		cmocka_unit_test(test_save_fails),
		cmocka_unit_test(test_nft_untouched),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
