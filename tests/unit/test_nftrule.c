/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nftrule.c: nft rule text by handle from saved `nft -a -s list table`, and rule changes */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <cmocka.h>

#include "iptrace/nftrule.h"
#include "test_util.h"

#define MS 1000000ull

/* ---- the parser ---- */

struct got {
	char	chain[16][32];
	uint64_t handle[16];
	char	rule[16][256];	/* "" for a chain header */
	int	n;
};

static int collect(void *ctx, const char *chain, uint64_t handle, const char *rule, size_t len)
{
	struct got *g = ctx;

	assert_true(g->n < 16);
	snprintf(g->chain[g->n], sizeof(g->chain[0]), "%s", chain);
	g->handle[g->n] = handle;
	snprintf(g->rule[g->n], sizeof(g->rule[0]), "%.*s", rule ? (int)len : 0, rule ? rule : "");
	g->n++;
	return 0;
}

static void test_parse_saved_table(void **state)
{
	char *text = slurp("nft-list-table.txt");
	struct got g = { 0 };
	uint64_t th;
	static const struct { const char *chain; uint64_t h; const char *rule; } want[] = {
		{ "d", 1, "" },
		{ "d", 8, "iifname \"ab\" return" },
		{ "c", 2, "" },
		{ "c", 10, "ip saddr { 1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4, 5.5.5.5, 6.6.6.6, "
			   "7.7.7.7, 8.8.8.8, 9.9.9.9, 10.10.10.10, 11.11.11.11, 12.12.12.12, "
			   "13.13.13.13 } counter accept comment \"a rule # handle 99\"" },
		{ "c", 12, "tcp dport vmap { 22 : accept, 23 : drop, 24 : jump d }" },
		{ "c", 13, "meta mark 0x00000004 counter name \"x\"" },
		{ "c", 14, "ip saddr @s log prefix \"x y { }\" drop" },
		{ "c", 15, "ip daddr vmap @m" },
		{ "empty", 3, "" },
		{ "nat-pre", 4, "" },
		{ "nat-pre", 16, "ip daddr 10.96.0.10 udp dport 53 dnat ip to 10.0.2.7:53" },
	};

	(void)state;
	assert_int_equal(nftrule_parse(text, &th, collect, &g), 0);
	assert_int_equal(th, 1);
	/* Sets' and maps' element lines, chain declarations and comments are no rules. */
	assert_int_equal(g.n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < g.n; i++) {
		assert_string_equal(g.chain[i], want[i].chain);
		assert_int_equal(g.handle[i], want[i].h);
		assert_string_equal(g.rule[i], want[i].rule);
	}
	free(text);
}

static void test_parse_continuation_and_errors(void **state)
{
	/* A rule over two lines (deeper indent) is joined; no table header is an error. */
	const char *text = "# Warning: table ip x is managed by iptables-nft, do not touch!\n"
			   "table ip x { # handle 7\n"
			   "\tchain y { # handle 1\n"
			   "\t\tip saddr { 1.1.1.1,\n"
			   "\t\t\t     2.2.2.2 } drop # handle 2\n"
			   "\t\taccept # handle 3\n"
			   "\t}\n"
			   "}\n";
	struct got g = { 0 };
	uint64_t th;

	(void)state;
	assert_int_equal(nftrule_parse(text, &th, collect, &g), 0);
	assert_int_equal(th, 7);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.rule[1], "ip saddr { 1.1.1.1, 2.2.2.2 } drop");
	assert_int_equal(g.handle[1], 2);
	assert_string_equal(g.rule[2], "accept");
	assert_int_equal(nftrule_parse("Error: No such file or directory\n", &th, collect, &g),
			 -EINVAL);
}

/* ---- the cache, with a table the test controls ---- */

struct fake {
	const char	*text;		/* the table now; NULL: no such table */
	uint32_t	gen;		/* the ruleset's generation now */
	unsigned	lists;
	int		fail;		/* a listing error to answer, 0: none */
	const char	*text_d;	/* chain d's listing apart; NULL: the whole table */
	char		asked[8][32];	/* the chains asked for, in order */
	/* Listings started and not answered yet (the answer is the table then). */
	struct {
		uint8_t	family;
		char	table[32], chain[32];
	} pending[8];
	unsigned	npending;
};

static int fake_list(void *ctx, uint8_t family, const char *table, const char *chain)
{
	struct fake *fk = ctx;

	if (fk->lists < 8)
		snprintf(fk->asked[fk->lists], sizeof(fk->asked[0]), "%s", chain);
	fk->lists++;
	assert_true(fk->npending < 8);
	fk->pending[fk->npending].family = family;
	snprintf(fk->pending[fk->npending].table, sizeof(fk->pending[0].table), "%s", table);
	snprintf(fk->pending[fk->npending].chain, sizeof(fk->pending[0].chain), "%s", chain);
	fk->npending++;
	return 0;
}

static int fake_gen(void *ctx, uint32_t *gen)
{
	*gen = ((struct fake *)ctx)->gen;
	return 0;
}

/* The listings started so far answered at @now, from the table as it is now. */
static void answer_all(struct nftrule *nr, struct fake *fk, uint64_t now)
{
	for (unsigned i = 0; i < fk->npending; i++) {
		const char *chain = fk->pending[i].chain, *table = fk->pending[i].table;
		char *text = NULL;
		int err = fk->fail;

		if (!err && (!fk->text || strcmp(table, "t") != 0))
			err = -ENOENT;
		if (!err) {
			text = strdup(fk->text_d && strcmp(chain, "d") == 0 ? fk->text_d : fk->text);
			assert_non_null(text);
		}
		nftrule_listed(nr, fk->pending[i].family, table, chain, err, text, fk->gen, now);
	}
	fk->npending = 0;
}

/* What the pipeline does for a packet complete at @now: its listings, then its texts. */
static void resolve(struct nftrule *nr, struct fake *fk, struct trace_record *r, size_t n,
		    uint64_t now)
{
	nftrule_wait(nr, r, n, now, now);
	answer_all(nr, fk, now);
	nftrule_resolve(nr, r, n, now);
}

static const char T1[] = "table inet t { # handle 1\n\tchain c { # handle 1\n"
			 "\t\ttype filter hook forward priority filter; policy drop;\n"
			 "\t\tudp dport 53 counter accept # handle 2\n"
			 "\t\ttcp dport 22 drop # handle 3\n\t}\n}\n";
/* handle 2 replaced, handle 4 added at the head */
static const char T2[] = "table inet t { # handle 1\n\tchain c { # handle 1\n"
			 "\t\tudp dport 5353 accept # handle 4\n"
			 "\t\tudp dport 53 log accept # handle 2\n"
			 "\t\ttcp dport 22 drop # handle 3\n\t}\n}\n";

/* One ruleset event, as the kernel multicasts it. */
static void event(struct nftrule *nr, uint16_t type, uint64_t handle, uint32_t gen, uint64_t now)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	nlh->nlmsg_flags = 0;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = type == NFT_MSG_NEWGEN ? AF_UNSPEC : NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	switch (type) {
	case NFT_MSG_NEWGEN:
		mnl_attr_put_u32(nlh, NFTA_GEN_ID, htobe32(gen));
		break;
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "t");
		break;
	default:
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
		mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "c");
		mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(handle));
		break;
	}
	assert_int_equal(nftrule_event(nr, nlh, now), 0);
}

static struct trace_record step(uint64_t handle, uint64_t recv_ns)
{
	struct trace_record r = { 0 };

	r.backend = TRACE_BACKEND_NFT;
	r.kind = TRACE_KIND_RULE;
	r.table_family = NFPROTO_INET;
	r.table = "t";
	r.chain = "c";
	r.verdict_chain = "";
	r.handle = handle;
	r.recv_ns = recv_ns;
	return r;
}

/* resolve one step at @now: its text, or NULL (with a reason). */
static const char *text_at(struct nftrule *nr, struct fake *fk, uint64_t handle, uint64_t recv,
			   uint64_t now, const char **reason)
{
	static struct trace_record r;

	r = step(handle, recv);
	resolve(nr, fk, &r, 1, now);
	if (reason)
		*reason = r.rule_reason;
	if (!r.rule)
		assert_non_null(r.rule_reason);
	return r.rule;
}

static struct nftrule *new_nr(struct fake *fk, struct nftrule_source *src)
{
	struct nftrule_cfg cfg = { .grace_ns = 20 * MS, .source = src };
	struct nftrule *nr;

	*src = (struct nftrule_source){ .list = fake_list, .gen = fake_gen, .ctx = fk };
	nr = nftrule_new(&cfg);
	assert_non_null(nr);
	/* The marker's own commit: the first generation taken in. */
	event(nr, NFT_MSG_NEWGEN, 0, fk->gen, 1 * MS);
	return nr;
}

/* An event header of @type built in @buf, for the malformed ones. */
static struct nlmsghdr *event_hdr(char *buf, uint16_t type)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, 512);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	((struct nfgenmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg)))->nfgen_family =
		NFPROTO_INET;
	return nlh;
}

/*
 * Events whose attributes the parser refuses (a size, a missing NUL, a length that is not
 * a multiple of 4) or that lack what they need are -EINVAL; what is not an event is 0.
 */
static void test_malformed_events(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr;
	char buf[512];
	struct nlmsghdr *nlh;

	(void)state;
	nr = new_nr(&fk, &src);
	nlh = event_hdr(buf, NFT_MSG_NEWRULE);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	mnl_attr_put_u32(nlh, NFTA_RULE_HANDLE, 2);	/* a be64 */
	assert_int_equal(nftrule_event(nr, nlh, MS), -EINVAL);
	nlh = event_hdr(buf, NFT_MSG_NEWRULE);
	mnl_attr_put(nlh, NFTA_RULE_TABLE, 1, "t");	/* no NUL */
	assert_int_equal(nftrule_event(nr, nlh, MS), -EINVAL);
	nlh = event_hdr(buf, NFT_MSG_DELCHAIN);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "c");	/* no table */
	assert_int_equal(nftrule_event(nr, nlh, MS), -EINVAL);
	nlh = event_hdr(buf, NFT_MSG_NEWGEN);
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, 1);	/* no ID */
	assert_int_equal(nftrule_event(nr, nlh, MS), -EINVAL);
	nlh = event_hdr(buf, NFT_MSG_NEWTABLE);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "t");
	nlh->nlmsg_len += 1;
	assert_int_equal(nftrule_event(nr, nlh, MS), -EINVAL);
	/* Attributes nothing reads, of any size, and types beyond this build: skipped. */
	nlh = event_hdr(buf, NFT_MSG_NEWRULE);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	mnl_attr_put(nlh, NFTA_RULE_USERDATA, 3, "abc");
	mnl_attr_put(nlh, NFTA_RULE_MAX + 1, 1, "x");
	assert_int_equal(nftrule_event(nr, nlh, MS), 0);
	/* A dump's reply and another message type are no events. */
	nlh = event_hdr(buf, NFT_MSG_NEWRULE);
	nlh->nlmsg_flags = NLM_F_MULTI;
	assert_int_equal(nftrule_event(nr, nlh, MS), 0);
	nlh = event_hdr(buf, NFT_MSG_NEWSET);
	assert_int_equal(nftrule_event(nr, nlh, MS), 0);
	nftrule_free(nr);
}

static void test_lookup_policy_and_return(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	struct trace_record r[4] = { step(2, 5 * MS), step(3, 6 * MS), step(0, 7 * MS), step(0, 8 * MS) };

	(void)state;
	r[2].kind = TRACE_KIND_POLICY;
	r[2].has_policy = true;
	r[2].policy = NF_DROP;
	r[3].kind = TRACE_KIND_RETURN;
	resolve(nr, &fk, r, 4, 10 * MS);
	assert_string_equal(r[0].rule, "udp dport 53 counter accept");
	assert_string_equal(r[1].rule, "tcp dport 22 drop");
	assert_string_equal(r[2].rule, "policy drop");
	assert_null(r[3].rule);
	assert_non_null(r[3].rule_reason);
	assert_int_equal(fk.lists, 1);	/* one listing for the whole packet */
	/* A step naming another chain than the listing's is never given that text. */
	r[0] = step(2, 11 * MS);
	r[0].chain = "other";
	resolve(nr, &fk, r, 1, 12 * MS);
	assert_null(r[0].rule);
	nftrule_free(nr);
}

static void test_added_and_replaced_mid_capture(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	const char *why;

	(void)state;
	/* Packet 1 at 5 ms, resolved at once: the old texts. */
	assert_string_equal(text_at(nr, &fk, 2, 5 * MS, 6 * MS, NULL), "udp dport 53 counter accept");
	/* The loop's GETGEN at 60 ms: generation 10 still (a barrier). */
	nftrule_tick(nr, 60 * MS);
	/*
	 * Commit 11: insert handle 4, replace handle 2 (DELRULE + NEWRULE). The kernel
	 * switched to it at some time after 60 ms; its events come at 100 ms.
	 */
	fk.text = T2;
	fk.gen = 11;
	event(nr, NFT_MSG_NEWRULE, 4, 0, 100 * MS);
	event(nr, NFT_MSG_DELRULE, 2, 0, 100 * MS);
	event(nr, NFT_MSG_NEWRULE, 2, 0, 100 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 11, 101 * MS);
	/* A packet received before the barrier but resolved after the commit: the old text. */
	assert_string_equal(text_at(nr, &fk, 2, 50 * MS, 150 * MS, NULL), "udp dport 53 counter accept");
	/*
	 * Received after the barrier, long before the commit's first event: it may have met
	 * the new rule already (the kernel sends the events only after it walked the whole
	 * commit, the new rules in use meanwhile). No text.
	 */
	assert_null(text_at(nr, &fk, 2, 70 * MS, 150 * MS, &why));
	assert_string_equal(why, "the rule was replaced during the capture");
	/* Packet 2 at 200 ms: the new rule (one reload) and the replacing text. */
	assert_string_equal(text_at(nr, &fk, 4, 200 * MS, 210 * MS, NULL), "udp dport 5353 accept");
	assert_string_equal(text_at(nr, &fk, 2, 200 * MS, 210 * MS, NULL), "udp dport 53 log accept");
	assert_int_equal(fk.lists, 2);
	/* Inside the commit's grace after its NEWGEN: neither text is certain. */
	assert_null(text_at(nr, &fk, 2, 110 * MS, 210 * MS, &why));
	assert_string_equal(why, "the rule was replaced during the capture");
	/* Handle 3 never changed: any time. */
	assert_string_equal(text_at(nr, &fk, 3, 110 * MS, 210 * MS, NULL), "tcp dport 22 drop");
	nftrule_free(nr);
}

/* A step whose text is known does not wait for a listing of its chain under way. */
static void test_known_text_does_not_wait(void **state)
{
	static const char T3[] = "table inet t { # handle 1\n\tchain c { # handle 1\n"
				 "\t\tudp dport 5353 accept # handle 4\n"
				 "\t\tudp dport 53 counter accept # handle 2\n"
				 "\t\ttcp dport 22 drop # handle 3\n\t}\n}\n";
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	struct trace_record r[2];

	(void)state;
	assert_string_equal(text_at(nr, &fk, 2, 5 * MS, 6 * MS, NULL), "udp dport 53 counter accept");
	/* Commit 11 adds handle 4: a step naming it has the chain listed again. */
	fk.text = T3;
	fk.gen = 11;
	event(nr, NFT_MSG_NEWRULE, 4, 0, 100 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 11, 100 * MS);
	r[0] = step(4, 200 * MS);
	r[1] = step(3, 201 * MS);
	assert_true(nftrule_wait(nr, &r[0], 1, 210 * MS, 210 * MS));
	assert_int_equal(fk.lists, 2);
	/* Meanwhile a packet through handle 3, read before and never redefined, goes on. */
	assert_false(nftrule_wait(nr, &r[1], 1, 211 * MS, 211 * MS));
	nftrule_resolve(nr, &r[1], 1, 211 * MS);
	assert_string_equal(r[1].rule, "tcp dport 22 drop");
	answer_all(nr, &fk, 250 * MS);
	assert_false(nftrule_wait(nr, &r[0], 1, 210 * MS, 251 * MS));
	nftrule_resolve(nr, &r[0], 1, 251 * MS);
	assert_string_equal(r[0].rule, "udp dport 5353 accept");
	assert_int_equal(fk.lists, 2);
	nftrule_free(nr);
}

static void test_replaced_before_first_read(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	const char *why;

	(void)state;
	/* The table was never read when handle 2 was replaced: a step before it gets nothing. */
	fk.text = T2;
	fk.gen = 11;
	event(nr, NFT_MSG_DELRULE, 2, 0, 100 * MS);
	event(nr, NFT_MSG_NEWRULE, 2, 0, 100 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 11, 100 * MS);
	assert_null(text_at(nr, &fk, 2, 50 * MS, 150 * MS, &why));
	assert_string_equal(why, "the rule was replaced during the capture");
	assert_string_equal(text_at(nr, &fk, 2, 300 * MS, 310 * MS, NULL), "udp dport 53 log accept");
	nftrule_free(nr);
}

static void test_unsettled_deleted_and_table_gone(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	struct trace_record r;
	const char *why;

	(void)state;
	/*
	 * A step the loop's GETGEN (55 ms) put before any new commit, read when a commit is
	 * not yet taken in from the socket: the listing may already reflect it. The packet
	 * waits for the commit's events; past its bound, it gets no text.
	 */
	nftrule_tick(nr, 55 * MS);
	fk.text = T2;
	fk.gen = 11;
	r = step(3, 50 * MS);
	assert_true(nftrule_wait(nr, &r, 1, 60 * MS, 60 * MS));
	answer_all(nr, &fk, 61 * MS);
	assert_true(nftrule_wait(nr, &r, 1, 60 * MS, 62 * MS));
	nftrule_resolve(nr, &r, 1, 62 * MS);
	assert_null(r.rule);
	assert_string_equal(r.rule_reason, "the ruleset changed while iptrace read it");
	/*
	 * A step after it (58 ms) that only a GETGEN of the new generation follows: it may
	 * have met the commit, whose events have not come. It waits for them too.
	 */
	r = step(3, 58 * MS);
	assert_true(nftrule_wait(nr, &r, 1, 63 * MS, 63 * MS));
	nftrule_resolve(nr, &r, 1, 63 * MS);
	assert_null(r.rule);
	assert_string_equal(r.rule_reason, "the ruleset was being changed as the packet passed");
	/* Their events come: settled, no second listing, the texts. */
	event(nr, NFT_MSG_NEWRULE, 4, 0, 70 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 11, 70 * MS);
	r = step(3, 50 * MS);
	assert_false(nftrule_wait(nr, &r, 1, 60 * MS, 71 * MS));
	nftrule_resolve(nr, &r, 1, 71 * MS);
	assert_string_equal(r.rule, "tcp dport 22 drop");
	r = step(3, 58 * MS);
	assert_false(nftrule_wait(nr, &r, 1, 63 * MS, 71 * MS));
	nftrule_resolve(nr, &r, 1, 71 * MS);
	assert_string_equal(r.rule, "tcp dport 22 drop");
	assert_int_equal(fk.lists, 1);
	assert_string_equal(text_at(nr, &fk, 3, 80 * MS, 90 * MS, NULL), "tcp dport 22 drop");
	/* A handle the table no longer has, never read: deleted before iptrace could read it. */
	assert_null(text_at(nr, &fk, 9, 80 * MS, 90 * MS, &why));
	assert_string_equal(why, "the rule was deleted before iptrace could read it");
	/* A rule read before it was deleted keeps its text: handles are never reused. */
	fk.text = "table inet t { # handle 1\n\tchain c { # handle 1\n\t}\n}\n";
	fk.gen = 12;
	event(nr, NFT_MSG_DELRULE, 3, 0, 100 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 12, 100 * MS);
	assert_string_equal(text_at(nr, &fk, 3, 95 * MS, 120 * MS, NULL), "tcp dport 22 drop");
	/*
	 * The table deleted and made again: handles restart, old texts end with it, at the
	 * last GETGEN that still saw generation 12 (160 ms).
	 */
	nftrule_tick(nr, 160 * MS);
	fk.text = "table inet t { # handle 2\n\tchain c { # handle 1\n"
		  "\t\ticmp type echo-request drop # handle 3\n\t}\n}\n";
	fk.gen = 13;
	event(nr, NFT_MSG_DELTABLE, 0, 0, 200 * MS);
	event(nr, NFT_MSG_NEWTABLE, 0, 0, 200 * MS);
	event(nr, NFT_MSG_NEWRULE, 3, 0, 200 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 13, 201 * MS);
	assert_string_equal(text_at(nr, &fk, 3, 150 * MS, 300 * MS, NULL), "tcp dport 22 drop");
	assert_string_equal(text_at(nr, &fk, 3, 300 * MS, 310 * MS, NULL), "icmp type echo-request drop");
	assert_null(text_at(nr, &fk, 3, 205 * MS, 310 * MS, NULL));
	assert_null(text_at(nr, &fk, 3, 170 * MS, 310 * MS, NULL));
	/* No such table. */
	fk.text = NULL;
	fk.gen = 14;
	event(nr, NFT_MSG_DELTABLE, 0, 0, 400 * MS);
	event(nr, NFT_MSG_NEWGEN, 0, 14, 400 * MS);
	assert_null(text_at(nr, &fk, 5, 500 * MS, 510 * MS, &why));
	assert_string_equal(why, "the table or chain was deleted before iptrace could read it");
	nftrule_free(nr);
}

static void test_lost_events(void **state)
{
	struct fake fk = { .text = T1, .gen = 10 };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);

	(void)state;
	assert_string_equal(text_at(nr, &fk, 2, 5 * MS, 6 * MS, NULL), "udp dport 53 counter accept");
	/* Generation 11 (the replace) was lost: 12 arrives with a gap. */
	fk.text = T2;
	fk.gen = 12;
	event(nr, NFT_MSG_NEWGEN, 0, 12, 100 * MS);
	/* Before the last message taken (1 ms) the old text stands; after, only re-read text. */
	assert_null(text_at(nr, &fk, 2, 50 * MS, 150 * MS, NULL));
	assert_string_equal(text_at(nr, &fk, 2, 200 * MS, 210 * MS, NULL), "udp dport 53 log accept");
	/* ENOBUFS: the same without a generation to tell. */
	nftrule_lost(nr, 300 * MS);
	assert_null(text_at(nr, &fk, 2, 290 * MS, 310 * MS, NULL));
	assert_string_equal(text_at(nr, &fk, 2, 400 * MS, 410 * MS, NULL), "udp dport 53 log accept");
	nftrule_free(nr);
}

/*
 * Only the chains steps name are listed, each once, by name: a packet through chains c and
 * d lists both; another packet in c lists nothing more.
 */
static void test_chains_listed_apart(void **state)
{
	static const char D[] = "table inet t\n\tchain d { # handle 9\n"
				"\t\tip saddr 10.0.0.1 accept # handle 10\n\t}\n}\n";
	struct fake fk = { .text = T1, .gen = 10, .text_d = D };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	struct trace_record r[2] = { step(2, 5 * MS), step(10, 6 * MS) };

	(void)state;
	r[1].chain = "d";
	resolve(nr, &fk, r, 2, 10 * MS);
	assert_string_equal(r[0].rule, "udp dport 53 counter accept");
	assert_string_equal(r[1].rule, "ip saddr 10.0.0.1 accept");
	assert_int_equal(fk.lists, 2);
	assert_string_equal(fk.asked[0], "c");
	assert_string_equal(fk.asked[1], "d");
	r[0] = step(3, 20 * MS);
	resolve(nr, &fk, r, 1, 30 * MS);
	assert_string_equal(r[0].rule, "tcp dport 22 drop");
	assert_int_equal(fk.lists, 2);
	nftrule_free(nr);
}

/*
 * A table that can't be read is not listed again for every packet (each listing runs in the
 * receive loop): again after a commit, or a second later.
 */
static void test_failed_listing_backoff(void **state)
{
	struct fake fk = { .text = T1, .gen = 10, .fail = -EIO };
	struct nftrule_source src;
	struct nftrule *nr = new_nr(&fk, &src);
	const char *why;

	(void)state;
	assert_null(text_at(nr, &fk, 2, 5 * MS, 6 * MS, &why));
	assert_string_equal(why, "cannot read the nft ruleset");
	assert_int_equal(fk.lists, 1);
	for (uint64_t t = 10; t < 900; t += 10)
		assert_null(text_at(nr, &fk, 2, t * MS, (t + 1) * MS, NULL));
	assert_int_equal(fk.lists, 1);
	/* A commit: worth another try (it fails again). */
	fk.gen = 11;
	event(nr, NFT_MSG_NEWGEN, 0, 11, 900 * MS);
	assert_null(text_at(nr, &fk, 2, 910 * MS, 911 * MS, NULL));
	assert_int_equal(fk.lists, 2);
	assert_null(text_at(nr, &fk, 2, 920 * MS, 921 * MS, NULL));
	assert_int_equal(fk.lists, 2);
	/* A second after the last try, with the table readable again: the text. */
	fk.fail = 0;
	assert_null(text_at(nr, &fk, 2, 1500 * MS, 1501 * MS, NULL));
	assert_int_equal(fk.lists, 2);
	assert_string_equal(text_at(nr, &fk, 2, 1920 * MS, 1921 * MS, NULL),
			    "udp dport 53 counter accept");
	assert_int_equal(fk.lists, 3);
	nftrule_free(nr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_saved_table),
		cmocka_unit_test(test_parse_continuation_and_errors),
		cmocka_unit_test(test_lookup_policy_and_return),
		cmocka_unit_test(test_added_and_replaced_mid_capture),
		cmocka_unit_test(test_replaced_before_first_read),
		cmocka_unit_test(test_known_text_does_not_wait),
		cmocka_unit_test(test_unsettled_deleted_and_table_gone),
		cmocka_unit_test(test_lost_events),
		cmocka_unit_test(test_failed_listing_backoff),
		cmocka_unit_test(test_chains_listed_apart),
		cmocka_unit_test(test_malformed_events),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
