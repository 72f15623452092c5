/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_savetext.c: libFuzzer harness — iptables-save text through the legacy rule resolver's reader */
#include <errno.h>
#include <sys/socket.h>

#include "iptrace/resolver.h"
#include "iptrace/xtblob.h"
#include "harness.h"
#include "../xtblob_file.h"

/*
 * The input's first byte picks a table recorded from a namespace (tests/data: kube-v0, a
 * kube-proxy nat table, or misc, a filter table with every kind of target); the rest is what
 * the save program "printed" for it, fed line by line to the reader as live (resolver.h's
 * source: the table never changes, so every save run is bracketed by one version). Then
 * every step a record could name is asked: each chain of the table, rule numbers 0 to two
 * past its end, as rule, return and policy.
 *
 * The oracle: an answer comes within a few rounds and saves; a rule given is the text's
 * own line — the k-th "-A C ..." line for rule number k of chain C — or "-P C POLICY" for a
 * base chain's policy step with its verdict; a step without a rule says why.
 */

#define MAX_QUERIES	400

static struct blob blobs[2];

struct fake {
	const struct blob	*b;
	const char		*text;	/* the save output, NUL-terminated */
};

static int fake_info(void *ctx, int family, const char *table, struct xtblob_info *info)
{
	const struct fake *f = ctx;

	if (family != f->b->info.family || strcmp(table, f->b->info.name) != 0)
		return -ENOENT;
	*info = f->b->info;
	return 0;
}

static int fake_read(void *ctx, int family, const char *table,
		     bool (*want)(void *wctx, const char *chain), void *wctx,
		     struct xtblob_info *info, struct xtversion **out)
{
	const struct fake *f = ctx;
	int ret = fake_info(ctx, family, table, info);

	return ret < 0 ? ret : xtversion_parse(&f->b->info, f->b->entries, f->b->info.size,
					       want, wctx, out);
}

/* Each line, as the save program's reader hands them on: NUL-terminated, no newline. */
static int fake_save(void *ctx, int family, const char *table,
		     int (*line)(void *arg, char *line), void (*tick)(void *arg), void *arg)
{
	const struct fake *f = ctx;
	const char *p = f->text;
	int ret = 0;

	(void)family;
	(void)table;
	tick(arg);
	while (!ret && *p) {
		size_t n = strcspn(p, "\n");
		char *l = fuzz_dup((const uint8_t *)p, n + 1);

		l[n] = '\0';
		ret = line(arg, l);
		free(l);
		p += n + (p[n] == '\n');
	}
	return ret;
}

static void fake_barrier(void *ctx, int32_t pos)
{
	(void)ctx;
	(void)pos;
}

/* The k-th "-A @chain " line of @text, or NULL; its length in *@len. */
static FUZZ_ORACLE const char *rule_line(const char *text, const char *chain, uint32_t k,
					 size_t *len)
{
	size_t cl = strlen(chain);

	for (const char *p = text; *p; p += *len + (p[*len] == '\n')) {
		*len = strcspn(p, "\n");
		if (*len > 3 + cl && memcmp(p, "-A ", 3) == 0 && memcmp(p + 3, chain, cl) == 0 &&
		    p[3 + cl] == ' ' && k && --k == 0)
			return p;
	}
	return NULL;
}

static FUZZ_ORACLE void check(const char *text, const struct xt_chain *c,
			      const struct resolver_query *q, const struct resolver_answer *a)
{
	const char *line;
	size_t len, n = strlen(c->name);

	if (!a->has_rule) {
		if (!a->reason[0])
			goto bad;
		return;
	}
	if (!a->verdict[0] || a->reason[0])
		goto bad;
	if (strncmp(a->rule, "-P ", 3) == 0) {
		/* A base chain's policy step: "-P C VERDICT", past the chain's last rule. */
		if (q->kind != TRACE_KIND_POLICY || c->hook < 0 || q->rulenum != c->n + 1 ||
		    strncmp(a->rule + 3, c->name, n) != 0 || a->rule[3 + n] != ' ' ||
		    strcmp(a->rule + 4 + n, a->verdict) != 0)
			goto bad;
		return;
	}
	line = rule_line(text, c->name, q->rulenum, &len);
	if (!line || strlen(a->rule) != len || memcmp(a->rule, line, len) != 0)
		goto bad;
	return;
bad:
	fprintf(stderr, "step %s %s %u: rule '%s', verdict '%s', reason '%s'\n", c->name,
		trace_kind_name((enum trace_kind)q->kind), q->rulenum, a->rule, a->verdict,
		a->reason);
	abort();
}

/* Answer @q, running the rounds and saves the reader asks for; aborts when it never does. */
static void ask(struct resolver_reader *rd, const struct blob *b,
		const struct resolver_query *q, struct resolver_answer *a)
{
	for (int i = 0; i < 16; i++) {
		bool need_round = false, need_save = false;
		int ret = resolver_reader_answer(rd, q, a, &need_round, &need_save);

		if (ret == 1)
			return;
		if (ret < 0 || !(need_round || need_save))
			abort();
		if (need_round)
			resolver_reader_round(rd);
		if (need_save)
			resolver_reader_save(rd, b->info.family, b->info.name);
	}
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[2] = { "kube-v0.xtblob", "misc.xtblob" };
	const char *dir = getenv("TEST_DATA_DIR");

	(void)argc;
	(void)argv;
	for (int i = 0; i < 2; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", names[i]);
		if (blob_read(&blobs[i], path) < 0) {
			fprintf(stderr, "fuzz_savetext: cannot read %s (TEST_DATA_DIR)\n", path);
			abort();
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake f;
	struct resolver_source src = { fake_info, fake_read, fake_save, fake_barrier, &f };
	struct resolver_reader *rd;
	struct xtversion *v = NULL;
	char *text;
	size_t asked = 0;

	if (size < 1)
		return 0;
	f.b = &blobs[data[0] & 1];
	text = malloc(size);	/* the text and its NUL */
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	f.text = text;
	rd = resolver_reader_new(&src);
	if (!rd || resolver_reader_watch(rd, f.b->info.family, f.b->info.name) < 0 ||
	    xtversion_parse(&f.b->info, f.b->entries, f.b->info.size, NULL, NULL, &v) < 0)
		abort();
	resolver_reader_round(rd);	/* round 0: barriers 0 and 1 */
	for (uint32_t i = 0; i < xtversion_nchains(v) && asked < MAX_QUERIES; i++) {
		const struct xt_chain *c = xtversion_chain_at(v, i);

		for (uint32_t k = 0; k <= c->n + 2 && asked < MAX_QUERIES; k++)
			for (int kind = TRACE_KIND_RULE; kind <= TRACE_KIND_POLICY; kind++) {
				struct resolver_query q = {
					.id = (uint32_t)asked++, .lo = 1, .family = (uint8_t)f.b->info.family,
					.kind = (uint8_t)kind, .rulenum = k,
				};
				struct resolver_answer a;

				snprintf(q.table, sizeof(q.table), "%s", f.b->info.name);
				snprintf(q.chain, sizeof(q.chain), "%s", c->name);
				ask(rd, f.b, &q, &a);
				check(text, c, &q, &a);
			}
	}
	xtversion_free(v);
	resolver_reader_free(rd);
	free(text);
	return 0;
}
