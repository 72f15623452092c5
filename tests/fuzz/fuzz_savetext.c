/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_savetext.c: libFuzzer harness — iptables-save text through the rule resolver's parser and look-ups */
#include <errno.h>
#include <sys/socket.h>

#include "iptrace/resolver.h"
#include "harness.h"

/*
 * The input is what the save program printed for a table (bytes up to the first NUL: the
 * resolver takes a C string). It reaches the parser as on a capture: through the
 * resolver's source (resolver.h), read when the first record of the table comes. Then
 * every step a record could name is resolved: each chain the text mentions, rule numbers 0
 * to two past its rules, as rule, return and policy.
 *
 * The oracle is the save format, read here on its own: a rule the resolver gives is the
 * text's own line — "-A C ..." the k-th line appending to chain C (after an optional
 * "[packets:bytes] " counter) for rule number k, or "-P C POLICY" for the policy step with
 * a policy a ":C POLICY" line gave — never a line of another chain or number; and a step
 * left without a rule says why.
 */

#define MAX_CHAINS	16

struct text {
	const char	*s;	/* the input, NUL-terminated */
	char		chain[MAX_CHAINS][TRACE_NAME_MAX];
	size_t		nchains;
};

struct fake {
	const struct text	*t;
	uint64_t		now;
};

static int fake_fp(void *ctx, int family, const char *table, uint64_t *fp)
{
	struct fake *fk = ctx;

	fk->now += 10000;
	*fp = 1;	/* the table never changes */
	return 0;
}

static int fake_save(void *ctx, int family, const char *table, char **text)
{
	struct fake *fk = ctx;

	fk->now += 1000000;
	*text = strdup(fk->t->s);	/* exactly the text's size: ASan sees a read past it */
	return *text ? 0 : -ENOMEM;
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

/* A line of @t without its counters: from *@p, its start in *@line and length; false at the end. */
static FUZZ_ORACLE bool next_line(const char **p, const char **line, size_t *len)
{
	const char *s = *p, *nl;

	if (!*s)
		return false;
	nl = strchr(s, '\n');
	*len = nl ? (size_t)(nl - s) : strlen(s);
	*p = nl ? nl + 1 : s + *len;
	if (s[0] == '[') {
		const char *e = memchr(s, ']', *len);

		if (e) {
			*len -= (size_t)(e + 1 - s);
			s = e + 1;
			while (*len && *s == ' ')
				s++, (*len)--;
		}
	}
	*line = s;
	return true;
}

/* The chain a line names after its first two bytes (":C ..." or "-A C ..."): its length. */
static FUZZ_ORACLE size_t name_len(const char *name, size_t left)
{
	const char *sp = memchr(name, ' ', left);

	return sp ? (size_t)(sp - name) : left;
}

static FUZZ_ORACLE bool is_chain(const char *name, size_t len, const char *chain)
{
	return len == strlen(chain) && memcmp(name, chain, len) == 0;
}

/* The chains the text names, as a record can name them (up to 31 bytes). */
static FUZZ_ORACLE void chains_of(struct text *t)
{
	const char *p = t->s, *line;
	size_t len;

	while (next_line(&p, &line, &len) && t->nchains < MAX_CHAINS) {
		size_t off = line[0] == ':' ? 1 : len >= 3 && memcmp(line, "-A ", 3) == 0 ? 3 : 0;
		size_t n;
		bool dup = false;

		if (!off)
			continue;
		n = name_len(line + off, len - off);
		if (n == 0 || n >= TRACE_NAME_MAX)
			continue;
		for (size_t i = 0; i < t->nchains; i++)
			dup = dup || is_chain(line + off, n, t->chain[i]);
		if (dup)
			continue;
		memcpy(t->chain[t->nchains], line + off, n);
		t->chain[t->nchains++][n] = '\0';
	}
}

/* The k-th "-A @chain" line, or NULL; its length in *@len. */
static FUZZ_ORACLE const char *rule_line(const struct text *t, const char *chain, uint32_t k,
					 size_t *len)
{
	const char *p = t->s, *line;

	while (next_line(&p, &line, len))
		if (*len >= 3 && memcmp(line, "-A ", 3) == 0 &&
		    is_chain(line + 3, name_len(line + 3, *len - 3), chain) && --k == 0)
			return line;
	return NULL;
}

/* Whether a ":@chain @policy ..." line is there. */
static FUZZ_ORACLE bool has_policy(const struct text *t, const char *chain, const char *policy)
{
	const char *p = t->s, *line;
	size_t len;

	while (next_line(&p, &line, &len)) {
		size_t n, pn;

		if (line[0] != ':')
			continue;
		n = name_len(line + 1, len - 1);
		if (!is_chain(line + 1, n, chain) || n + 2 > len)
			continue;
		pn = name_len(line + n + 2, len - n - 2);
		if (pn == strlen(policy) && memcmp(line + n + 2, policy, pn) == 0)
			return true;
	}
	return false;
}

static FUZZ_ORACLE void check(const struct text *t, const struct trace_record *r)
{
	const char *line;
	size_t len;

	if (!r->rule) {
		if (!r->rule_reason || (r->verdict && r->kind != TRACE_KIND_RETURN))
			goto bad;
		return;
	}
	if (!r->verdict || !r->verdict[0])
		goto bad;
	if (strncmp(r->rule, "-P ", 3) == 0) {
		size_t n = strlen(r->chain);

		/* "-P C POLICY": a policy step of a chain with that policy. */
		if (r->kind != TRACE_KIND_POLICY || strncmp(r->rule + 3, r->chain, n) != 0 ||
		    r->rule[3 + n] != ' ' || !has_policy(t, r->chain, r->rule + 4 + n) ||
		    strcmp(r->verdict, r->rule + 4 + n) != 0)
			goto bad;
		return;
	}
	line = rule_line(t, r->chain, r->rulenum, &len);
	if (!line || strlen(r->rule) != len || memcmp(r->rule, line, len) != 0)
		goto bad;
	return;
bad:
	fprintf(stderr, "step %s %s %u: rule '%s', verdict '%s', reason '%s'\n", r->chain,
		trace_kind_name(r->kind), r->rulenum, r->rule ? r->rule : "(null)",
		r->verdict ? r->verdict : "(null)", r->rule_reason ? r->rule_reason : "(null)");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct text t = { 0 };
	struct fake fk = { &t, 1000000000 };
	struct resolver_source src = { fake_fp, fake_save, fake_now, &fk };
	struct resolver_cfg cfg = { .source = &src };
	struct resolver *r;
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	t.s = s;
	chains_of(&t);
	if (!t.nchains)	/* a step of a chain the text lacks: the text is still read */
		strcpy(t.chain[t.nchains++], "INPUT");
	r = resolver_new(&cfg);
	if (!r)
		abort();
	for (size_t c = 0; c < t.nchains; c++) {
		for (uint32_t k = 0; k < 40; k++) {
			for (int kind = TRACE_KIND_RULE; kind <= TRACE_KIND_POLICY; kind++) {
				struct trace_record rec;

				memset(&rec, 0, sizeof(rec));
				rec.backend = TRACE_BACKEND_LEGACY;
				rec.nfproto = 2;	/* NFPROTO_IPV4 */
				rec.pkt.family = AF_INET;
				strcpy(rec.table, "filter");
				strcpy(rec.chain, t.chain[c]);
				rec.kind = (enum trace_kind)kind;
				rec.rulenum = k;
				rec.recv_ns = fk.now;
				resolver_observe(r, &rec);
				resolver_resolve(r, &rec, 1);
				check(&t, &rec);
			}
		}
	}
	resolver_free(r);
	free(s);
	return 0;
}
