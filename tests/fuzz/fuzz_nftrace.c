/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_nftrace.c: libFuzzer harness — nf_tables trace socket bytes through the decoder and the live path */
#include <errno.h>

#include "iptrace/nftrace.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input is what one recv() on the trace socket could return: trace records, ruleset
 * events and chain-dump replies back to back (tests/fuzz/seeds.c cuts the NLREC_NFTRACE
 * chunks of the recorded files into such buffers).
 */

/* What a decoded (and completed) record must look like whatever the bytes were. */
static void check_record(const struct trace_record *r)
{
	if (r->raw_len > TRACE_RAW_MAX || r->hw_len > TRACE_HW_MAX ||
	    !r->table || !r->chain || !r->verdict_chain || strlen(r->table) >= TRACE_NFT_NAME_MAX ||
	    strlen(r->chain) >= TRACE_NFT_NAME_MAX ||
	    strlen(r->verdict_chain) >= TRACE_NFT_NAME_MAX)
		abort();
}

/*
 * The decoder alone, message by message, with the chain map the pipeline keeps:
 * what is not a trace record teaches the map, what is gets completed from it. A message
 * of unaligned length is refused by both (libmnl would walk its missing padding).
 */
static void decode_each(const void *buf, size_t size)
{
	struct nftrace_ctx *c = nftrace_ctx_new();
	struct names *nm = names_new();
	const struct nlmsghdr *nlh;
	size_t off = 0;
	char v[16 + TRACE_NFT_NAME_MAX];

	if (!c || !nm)
		abort();
	while ((nlh = fuzz_next_msg(buf, size, &off))) {
		/* At a guard page: a read past the message faults, in libmnl's walk too. */
		const struct nlmsghdr *g = fuzz_guarded(nlh);
		struct trace_record rec;
		int ret = nftrace_decode(g, nm, &rec);

		if (ret == -ENOMSG) {
			ret = nftrace_ctx_learn(c, g);
			if (ret != 0 && ret != -EINVAL)
				abort();	/* -ENOMEM can't happen at these sizes */
			continue;
		}
		if (ret != 0) {
			if (ret != -EINVAL)
				abort();	/* the header promises only these */
			continue;
		}
		if (g->nlmsg_len % 4)
			abort();
		check_record(&rec);
		nftrace_ctx_fill(c, &rec);
		check_record(&rec);
		nftrace_chain_end(&rec);
		nftrace_family_name(rec.table_family);
		nftrace_verdict_name(rec.verdict_code);
		if (nftrace_step_verdict(&rec, v, sizeof(v)) && !memchr(v, '\0', sizeof(v)))
			abort();
		nftrule_fill_fixed(&rec);
	}
	nftrace_ctx_free(c);
	names_free(nm);
}

/*
 * The rule cache's table source: no libnftables, no kernel (as tests/unit/test_nftrule.c).
 * Every table asked for exists with the chains the recordings trace through, in one of two
 * versions; the harness moves the generation while messages arrive, so the cache sees its
 * tables redefined under it as it does around a live commit. Listings are answered later,
 * between messages (as the live child's come while records do), some not before the end.
 */
struct fake {
	uint32_t	gen;
	unsigned	n;		/* listings asked for, not answered yet */
	struct {
		uint8_t	family;
		char	table[TRACE_NFT_NAME_MAX], chain[TRACE_NFT_NAME_MAX];
	} q[16];
};

static int fake_list(void *ctx, uint8_t family, const char *table, const char *chain)
{
	struct fake *fk = ctx;

	if (fk->n == sizeof(fk->q) / sizeof(fk->q[0]))
		return -EAGAIN;
	fk->q[fk->n].family = family;
	snprintf(fk->q[fk->n].table, sizeof(fk->q[0].table), "%s", table);
	snprintf(fk->q[fk->n].chain, sizeof(fk->q[0].chain), "%s", chain);
	fk->n++;
	return 0;
}

/* The table now: 0 and *@text, or the error a listing would answer. */
static int fake_text(const struct fake *fk, uint8_t family, const char *table, char **text)
{
	static const char *const chains[] = {
		"prerouting", "output", "forward", "input", "postrouting", "PREROUTING",
		"FORWARD", "KUBE-SERVICES", "KUBE-SEP-DNS", "mypre", "mysub", "myfwd",
	};
	const char *fam = nftrace_family_name(family);
	char *t = NULL;
	size_t n = 0;
	FILE *f;

	/* The whole table: more chains than asked for are taken too. */
	if (!fam || (fk->gen % 5) == 4)
		return -ENOENT;		/* now and then the table is gone */
	f = open_memstream(&t, &n);
	if (!f)
		return -ENOMEM;
	fprintf(f, "table %s %s { # handle %u\n", fam, table, 1 + fk->gen % 3);
	for (unsigned i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		unsigned h = 2 + i * 4;

		fprintf(f, "\tchain %s { # handle %u\n", chains[i], h);
		if (i < 5)
			fprintf(f, "\t\ttype filter hook %s priority filter; policy accept;\n",
				chains[i]);
		fprintf(f, "\t\tudp dport %u counter accept # handle %u\n", 53 + fk->gen % 2, h + 1);
		if (fk->gen % 2)
			fprintf(f, "\t\tip saddr { 1.1.1.1,\n\t\t\t     2.2.2.2 } drop # handle %u\n",
				h + 2);
		fprintf(f, "\t\tjump %s # handle %u\n\t}\n", chains[(i + 1) % 12], h + 3);
	}
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(t);
		return -EIO;
	}
	*text = t;
	return 0;
}

/* The listings asked for so far come back, at @now. */
static void fake_answer(struct fake *fk, struct nftrule *nr, uint64_t now)
{
	unsigned n = fk->n;

	fk->n = 0;	/* an answer may ask for more: they wait for the next round */
	for (unsigned i = 0; i < n; i++) {
		char *text = NULL;
		int err = fake_text(fk, fk->q[i].family, fk->q[i].table, &text);

		nftrule_listed(nr, fk->q[i].family, fk->q[i].table, fk->q[i].chain, err, text,
			       fk->gen, now);
	}
}

static int fake_gen(void *ctx, uint32_t *gen)
{
	*gen = ((const struct fake *)ctx)->gen;
	return 0;
}

/* Between messages: the ruleset moves on every few, and now and then events are lost. */
struct ruleset {
	struct fake	*fk;
	struct nftrule	*nr;
	unsigned	i;
	uint64_t	now;	/* the last message's time */
};

static void ruleset_moves(void *ctx, const struct nlmsghdr *nlh, uint64_t now)
{
	struct ruleset *rs = ctx;

	rs->now = now;
	if (++rs->i % 3 == 0)
		rs->fk->gen++;
	if (rs->nr && (nlh->nlmsg_seq & 0xff) == 0x55)
		nftrule_lost(rs->nr, now);
	/* Listings take a few messages' time. */
	if (rs->nr && rs->i % 4 == 0)
		fake_answer(rs->fk, rs->nr, now);
}

/* The end (even sizes): the listings still out come back before the pipeline finishes. */
static void ruleset_ends(void *ctx, struct pipeline *pl)
{
	struct ruleset *rs = ctx;
	uint64_t later = rs->now + 1000000;

	if (!rs->nr)
		return;
	fake_answer(rs->fk, rs->nr, later);
	pipeline_set_clock(pl, later, 0);
	pipeline_tick(pl);
}

/*
 * The live path: pipeline_dispatch → nlrec_walk → the nft decoder → chain map, rule
 * cache → grouper → sink. @per_msg dispatches message by message with the clock moving 0.6
 * windows each time, so groups close mid-stream as they do live; otherwise the whole
 * buffer at once, as one recv() is. @rules: with the nft rule cache on a fake ruleset.
 * What the sink wrote must pass the output oracle (harness.h).
 */
static void run_pipeline(const void *buf, size_t size, const struct sink_ops *ops,
			 bool no_group, uint64_t count, bool per_msg, bool rules)
{
	struct fake fk = { .gen = 1 };
	const struct nftrule_source src = { .list = fake_list, .gen = fake_gen, .ctx = &fk };
	struct pipeline_cfg cfg = { .window_ns = 1000000, .count = count, .no_group = no_group };
	struct ruleset ruleset = { .fk = &fk };

	if (rules) {
		ruleset.nr = nftrule_new(&(struct nftrule_cfg){ .grace_ns = cfg.window_ns / 2,
								.source = &src });
		if (!ruleset.nr)
			abort();
		cfg.nftrule = ruleset.nr;
	}
	fuzz_live(&cfg, ops, NLREC_NFTRACE, buf, size, per_msg, ruleset_moves,
		  size % 2 ? NULL : ruleset_ends, &ruleset);
	nftrule_free(ruleset.nr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_recv_dup(data, size);

	if (!buf)
		return -1;
	decode_each(buf, size);
	run_pipeline(buf, size, &sink_json_ops, false, 0, false, false);
	run_pipeline(buf, size, &sink_text_ops, false, 2, true, true);
	run_pipeline(buf, size, &sink_json_ops, false, 0, true, true);
	run_pipeline(buf, size, &sink_log_ops, true, 0, false, true);
	free(buf);
	return 0;
}
