/* SPDX-License-Identifier: GPL-2.0-or-later */
/* resolver.c: legacy trace steps → rule text and verdict from iptables-save, following changes */

/*
 * Why iptables-save and not libxtables: the save program is the canonical printer people
 * compare with (`iptables-legacy-save`), it knows every extension the system has, and it
 * keeps libxtables' global state (xtables_init, loaded extension lists, exit handlers) out of
 * this process. It runs once per table on first need and once per real change, never per
 * record; the per-step work is a lookup in the parsed text.
 *
 * Following changes: legacy tables have no generation number, and IPT_SO_GET_INFO alone
 * misses a rewrite that keeps the sizes (kube-proxy moving an endpoint from .47 to .48). So
 * a table's fingerprint hashes GET_INFO plus the GET_ENTRIES blob with the counters zeroed.
 * Each fingerprint seen is a version ("epoch") with the times it was first and last seen; a
 * packet can have met every version whose possible time span overlaps the packet's (from
 * latency before its receipt up to the receipt). Versions in which the kernel's rule number
 * cannot exist are ruled out; if the rest disagree on the rule, there is no answer.
 */
/* net/if.h (through record.h) before the uapi headers, which then skip their copy of it. */
#include "iptrace/loop.h"
#include "iptrace/resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#define EPOCHS		4		/* versions kept per table */
#define LOAD_TRIES	3
#define MAX_TABLES	16

static const char REASON_CHANGED[] = "table changed during capture";
static const char REASON_RETURN[] = "implicit return at the end of the chain";
static const char REASON_UNREAD[] = "cannot read the ruleset";
static const char VERDICT_RETURN[] = "return";

struct rule {
	const char	*text;		/* "-A CHAIN ...", into snap.buf */
	char		*verdict;	/* malloc'd */
	bool		cont;		/* non-terminal target: the packet goes on */
	bool		uncond;		/* "-A C -j ACCEPT|DROP|RETURN|QUEUE": traced as policy/return */
};

struct chain {
	const char	*name;		/* into snap.buf */
	const char	*policy;	/* into snap.buf; NULL for a user chain */
	char		*ptext;		/* "-P CHAIN POLICY", malloc'd */
	struct rule	*rules;
	size_t		n, cap;
};

struct snap {
	char		*buf;		/* the save text, cut into strings */
	struct chain	*chains;	/* sorted by name after parsing */
	size_t		n, cap;
};

struct epoch {
	uint64_t	fp;
	uint64_t	first_read;	/* clock after the first check that saw fp */
	uint64_t	last_seen;	/* clock before the last check that saw fp */
	struct snap	*snap;		/* NULL until read */
	int		err;		/* why the read failed, 0 if not tried or fine */
};

struct rtable {
	int		family;
	char		name[TRACE_NAME_MAX];
	struct epoch	ep[EPOCHS];	/* oldest first */
	size_t		nep;
	bool		evicted;	/* older versions existed; they end at ep[0].first_read */
	bool		used;		/* a record named it: read new versions as they appear */
	uint64_t	last_check;
	uint64_t	last_reread;	/* forced re-read for an impossible rule number */
	uint64_t	cost_ns;	/* how long the last fingerprint took */
};


struct resolver {
	struct resolver_cfg	cfg;
	struct resolver_source	live;
	const struct resolver_source *src;
	struct rtable		tab[MAX_TABLES];
	size_t			ntab;
	uint64_t		max_load_ns;	/* longest read so far: the loop stalls meanwhile */
	struct snap		**dead;		/* evicted, freed at the next call (borrowed strings) */
	size_t			ndead, capdead;
	struct resolver_stats	st;
	/* live source */
	int			fd[2];		/* raw sockets, AF_INET / AF_INET6, -1 until needed */
	void			*ebuf;
	size_t			ebuf_size;
};

/*
 * A fingerprint costs the kernel's GET_ENTRIES copy: ~30 us for a small table, ~24 ms for
 * 20k kube-proxy rules (measured). Checks are spaced so that they take at most 2% of the
 * time: the refresh interval, or 50 times the cost when that is longer.
 */
#define COST_FACTOR	50

static uint64_t check_gap(const struct resolver *r, const struct rtable *t)
{
	uint64_t g = COST_FACTOR * t->cost_ns;

	return g > r->cfg.refresh_ns ? g : r->cfg.refresh_ns;
}

/* --- parsing iptables-save output ---------------------------------------------------- */

static void snap_free(struct snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->chains[i].n; j++)
			free(s->chains[i].rules[j].verdict);
		free(s->chains[i].rules);
		free(s->chains[i].ptext);
	}
	free(s->chains);
	free(s->buf);
	free(s);
}

/*
 * Next token of a save line: a word, or a "quoted string" with \" and \\ escapes as
 * xtables' save_string writes them. Returns the token start (quotes included) or NULL at the
 * end; *@len its length.
 */
static const char *next_token(const char **pp, size_t *len)
{
	const char *p = *pp, *start;

	while (*p == ' ')
		p++;
	if (!*p)
		return NULL;
	start = p;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		if (*p == '"')
			p++;
	} else {
		while (*p && *p != ' ')
			p++;
	}
	*len = (size_t)(p - start);
	*pp = p;
	return start;
}

static bool tok_is(const char *t, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(t, word, len) == 0;
}

static bool in_list(const char *t, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (tok_is(t, len, *list))
			return true;
	return false;
}

/* Binary search: chains are sorted by name once their list is complete. */
static struct chain *chain_find(const struct snap *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, s->chains[mid].name);

		if (c == 0)
			return &s->chains[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int chain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chain *)a)->name, ((const struct chain *)b)->name);
}

/* The verdict of a rule line, from its target: the last -j/-g outside quoted strings. */
static int rule_verdict(const struct snap *s, struct rule *r, const char *after_chain)
{
	/* Targets that end the chain's traversal (standard verdicts and terminal extensions). */
	static const char *const terminal[] = {
		"ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "DNAT", "SNAT", "MASQUERADE",
		"REDIRECT", "NETMAP", "NFQUEUE", "SYNPROXY", "TPROXY", "TARPIT", NULL,
	};
	/* Targets that return XT_CONTINUE: the packet goes on to the next rule. */
	static const char *const nonterminal[] = {
		"MARK", "CONNMARK", "LOG", "NFLOG", "ULOG", "TRACE", "CLASSIFY", "DSCP", "TOS",
		"TTL", "HL", "ECN", "CHECKSUM", "TCPMSS", "TCPOPTSTRIP", "SET", "CT", "NOTRACK",
		"AUDIT", "SECMARK", "CONNSECMARK", "IDLETIMER", "LED", "TEE", "RATEEST", "HMARK",
		"CLUSTERIP", NULL,
	};
	static const char *const standard[] = { "ACCEPT", "DROP", "RETURN", "QUEUE", NULL };
	const char *p = after_chain, *t, *tgt = NULL, *kw = NULL;
	size_t len, tlen = 0, ntok = 0;
	char name[TRACE_NAME_MAX];

	while ((t = next_token(&p, &len))) {
		bool go = tok_is(t, len, "-g");

		ntok++;
		if ((go || tok_is(t, len, "-j")) && (t = next_token(&p, &len))) {
			ntok++;
			kw = go ? "goto" : "jump";
			tgt = t;
			tlen = len;
		}
	}
	if (!tgt) {
		r->verdict = strdup("continue");	/* no target: counts only */
		r->cont = true;
		return r->verdict ? 0 : -ENOMEM;
	}
	if (tlen >= TRACE_NAME_MAX)
		tlen = TRACE_NAME_MAX - 1;
	memcpy(name, tgt, tlen);
	name[tlen] = '\0';
	r->uncond = ntok == 2 && in_list(tgt, tlen, standard);
	if (strcmp(kw, "goto") == 0 || chain_find(s, name)) {
		char v[TRACE_NAME_MAX + 8];

		snprintf(v, sizeof(v), "%s %s", kw, name);
		r->verdict = strdup(v);
	} else {
		r->verdict = strdup(name);
		r->cont = in_list(tgt, tlen, nonterminal) && !in_list(tgt, tlen, terminal);
	}
	return r->verdict ? 0 : -ENOMEM;
}

/*
 * Parse one table of iptables-save output (with or without -c counters). Takes @buf.
 * Returns 0 or -EINVAL (not save output, or more than one table) / -ENOMEM.
 */
static int snap_parse(char *buf, struct snap **out)
{
	struct snap *s = calloc(1, sizeof(*s));
	char *line = buf, *next;
	struct chain *last = NULL;
	bool sorted = false;
	int tables = 0, ret = -EINVAL;

	if (!s) {
		free(buf);
		return -ENOMEM;
	}
	s->buf = buf;
	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '[') {	/* -c: "[pkts:bytes] -A ..." */
			char *e = strchr(line, ']');

			if (!e)
				goto err;
			line = e + 1;
			while (*line == ' ')
				line++;
		}
		if (line[0] == '#' || line[0] == '\0' || strcmp(line, "COMMIT") == 0)
			continue;
		if (line[0] == '*') {
			if (++tables > 1)
				goto err;
			continue;
		}
		if (line[0] == ':') {	/* ":NAME POLICY [p:b]" */
			char *sp = strchr(line + 1, ' '), *pol;
			struct chain *c;

			if (!sp || sorted)	/* save prints every chain before the rules */
				goto err;
			*sp = '\0';
			pol = sp + 1;
			sp = strchr(pol, ' ');
			if (sp)
				*sp = '\0';
			if (!*pol)	/* save prints a policy word, "-" for none */
				goto err;
			if (s->n == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 16;
				struct chain *nc = realloc(s->chains, cap * sizeof(*nc));

				if (!nc) {
					ret = -ENOMEM;
					goto err;
				}
				s->chains = nc;
				s->cap = cap;
			}
			c = &s->chains[s->n++];
			memset(c, 0, sizeof(*c));
			c->name = line + 1;
			if (strcmp(pol, "-") != 0) {
				size_t n = strlen(c->name) + strlen(pol) + 5;

				c->policy = pol;
				c->ptext = malloc(n);
				if (!c->ptext) {
					ret = -ENOMEM;
					goto err;
				}
				snprintf(c->ptext, n, "-P %s %s", c->name, pol);
			}
			continue;
		}
		if (strncmp(line, "-A ", 3) == 0) {
			char *name = line + 3, *sp = strchr(name, ' ');
			struct chain *c;
			struct rule *r;

			if (!sorted) {
				/*
				 * Sorted once, so that lookups (targets too) are binary searches.
				 * Without chains there is no array: qsort() takes no NULL.
				 */
				if (s->n)
					qsort(s->chains, s->n, sizeof(*s->chains), chain_cmp);
				sorted = true;
			}
			if (sp)
				*sp = '\0';
			/* A chain's rules come together: most lines need no search. */
			c = last && strcmp(last->name, name) == 0 ? last : chain_find(s, name);
			if (sp)
				*sp = ' ';
			if (!c)
				goto err;
			last = c;
			if (c->n == c->cap) {
				size_t cap = c->cap ? c->cap * 2 : 8;
				struct rule *nr = realloc(c->rules, cap * sizeof(*nr));

				if (!nr) {
					ret = -ENOMEM;
					goto err;
				}
				c->rules = nr;
				c->cap = cap;
			}
			r = &c->rules[c->n++];
			memset(r, 0, sizeof(*r));
			r->text = line;
			ret = rule_verdict(s, r, sp ? sp : "");
			if (ret < 0)
				goto err;
			ret = -EINVAL;
			continue;
		}
		goto err;
	}
	if (tables != 1)
		goto err;
	if (!sorted && s->n)
		qsort(s->chains, s->n, sizeof(*s->chains), chain_cmp);
	*out = s;
	return 0;
err:
	snap_free(s);
	return ret;
}

/* --- looking a step up in one version --------------------------------------------------- */

struct answer {
	const char	*rule, *verdict, *reason;
	bool		cont;
};

/*
 * The step in @s as the kernel's trace_packet() numbers it: rules count from 1 in their
 * chain; the chain's end is number n+1, "policy" in a base chain and "return" in a user
 * chain; and an unconditional rule with a standard verdict is traced as policy/return too,
 * at its own number. Returns false when the record cannot come from this version.
 */
static bool snap_lookup(const struct snap *s, const struct trace_record *rec, struct answer *a)
{
	const struct chain *c = chain_find(s, rec->chain);
	uint32_t k = rec->rulenum;

	memset(a, 0, sizeof(*a));
	if (!c || k == 0 || k > c->n + 1)
		return false;
	switch (rec->kind) {
	case TRACE_KIND_RULE:
		if (k > c->n || c->rules[k - 1].uncond)
			return false;
		break;
	case TRACE_KIND_POLICY:
	case TRACE_KIND_RETURN:
		if ((rec->kind == TRACE_KIND_POLICY) != (c->policy != NULL))
			return false;
		if (k == c->n + 1) {
			if (c->policy) {
				a->rule = c->ptext;
				a->verdict = c->policy;
			} else {
				a->verdict = VERDICT_RETURN;
				a->reason = REASON_RETURN;
			}
			return true;
		}
		if (!c->rules[k - 1].uncond)
			return false;
		break;
	}
	a->rule = c->rules[k - 1].text;
	a->verdict = c->rules[k - 1].verdict;
	a->cont = c->rules[k - 1].cont;
	return true;
}

static bool answer_same(const struct answer *a, const struct answer *b)
{
	if ((a->rule == NULL) != (b->rule == NULL) || a->cont != b->cont)
		return false;
	if (a->rule && strcmp(a->rule, b->rule) != 0)
		return false;
	return strcmp(a->verdict, b->verdict) == 0;
}

/* --- the live source -------------------------------------------------------------------- */

static uint64_t live_now(void *ctx)
{
	(void)ctx;
	return loop_clock_ns(CLOCK_MONOTONIC);	/* the clock records are stamped with */
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h, w);
	}
	w = 0;
	memcpy(&w, p, n);
	return mix(h, w ^ n);
}

/*
 * GET_INFO, then GET_ENTRIES with the counters zeroed (they move with every packet; the
 * rest of the blob is what the kernel holds of the rules, kernel pointers excluded by
 * xt_{match,target}_to_user), hashed. IPv4 and IPv6 share the layout up to the entry type.
 */
static int live_fingerprint(void *ctx, int family, const char *table, uint64_t *fp)
{
	struct resolver *r = ctx;
	int v6 = family == AF_INET6, level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	struct ipt_getinfo info;
	struct ipt_get_entries *ge;
	socklen_t len;
	size_t need, co, no;
	uint64_t h;

	if (r->fd[v6] < 0) {
		r->fd[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (r->fd[v6] < 0)
			return -errno;
	}
	for (int tries = 0; tries < LOAD_TRIES; tries++) {
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", table);
		len = sizeof(info);
		/* ip6t_getinfo has the same layout; IP6T_SO_GET_INFO == IPT_SO_GET_INFO. */
		if (getsockopt(r->fd[v6], level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info,
			       &len) < 0)
			return -errno;
		need = sizeof(*ge) + info.size;
		if (need > r->ebuf_size) {
			void *nb = realloc(r->ebuf, need);

			if (!nb)
				return -ENOMEM;
			r->ebuf = nb;
			r->ebuf_size = need;
		}
		ge = r->ebuf;
		/*
		 * All of it: xt_{match,target}_to_user copy a name only up to its NUL, and the
		 * rest of the name field would keep the previous table's bytes.
		 */
		memset(ge, 0, need);
		snprintf(ge->name, sizeof(ge->name), "%s", table);
		ge->size = info.size;
		len = (socklen_t)need;
		if (getsockopt(r->fd[v6], level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, ge,
			       &len) < 0) {
			if (errno == EAGAIN)	/* replaced between the two calls */
				continue;
			return -errno;
		}
		co = v6 ? offsetof(struct ip6t_entry, counters) : offsetof(struct ipt_entry, counters);
		no = v6 ? offsetof(struct ip6t_entry, next_offset) :
			  offsetof(struct ipt_entry, next_offset);
		for (size_t off = 0; off + co + sizeof(struct xt_counters) <= info.size;) {
			unsigned char *e = (unsigned char *)ge->entrytable + off;
			uint16_t next;

			memset(e + co, 0, sizeof(struct xt_counters));
			memcpy(&next, e + no, sizeof(next));
			if (!next)
				break;
			off += next;
		}
		h = mix(0x6a09e667f3bcc908ull, info.valid_hooks);
		h = hash_bytes(h, (const unsigned char *)info.hook_entry, sizeof(info.hook_entry));
		h = hash_bytes(h, (const unsigned char *)info.underflow, sizeof(info.underflow));
		h = mix(h, ((uint64_t)info.num_entries << 32) | info.size);
		*fp = hash_bytes(h, (const unsigned char *)ge->entrytable, info.size);
		return 0;
	}
	return -EAGAIN;
}

extern char **environ;

/*
 * Run the save program with a fixed argv (no shell) in this network namespace and read its
 * output. The loop is blocked meanwhile: this happens on first need and on real changes only.
 */
static int live_save(void *ctx, int family, const char *table, char **text)
{
	char prog[32], tbl[TRACE_NAME_MAX];
	char *argv[] = { prog, (char *)"-t", tbl, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pfd[2], status, ret;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	pid_t pid;

	(void)ctx;
	/* Table names come from kernel records: keep them to what a table name can be. */
	if (!*table || strspn(table, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(table))
		return -EINVAL;
	snprintf(prog, sizeof(prog), "%s", family == AF_INET6 ? "ip6tables-legacy-save" :
					    "iptables-legacy-save");
	snprintf(tbl, sizeof(tbl), "%s", table);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	/* The caller blocks SIGINT/SIGTERM/SIGPIPE for its loop: the child gets defaults. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	/* Our netlink sockets are not CLOEXEC: the child must not hold group 0. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	ret = posix_spawnp(&pid, prog, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (ret) {
		close(pfd[0]);
		return -ret;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 65536);

			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (!ret && (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		ret = -EIO;
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/* --- versions ----------------------------------------------------------------------------- */

static struct rtable *table_find(struct resolver *r, int family, const char *name)
{
	for (size_t i = 0; i < r->ntab; i++)
		if (r->tab[i].family == family && strcmp(r->tab[i].name, name) == 0)
			return &r->tab[i];
	return NULL;
}

static void bury(struct resolver *r, struct snap *s)
{
	if (!s)
		return;
	if (r->ndead == r->capdead) {
		size_t cap = r->capdead ? r->capdead * 2 : 8;
		struct snap **nd = realloc(r->dead, cap * sizeof(*nd));

		if (!nd) {	/* cannot defer: leak rather than free strings a sink may hold */
			return;
		}
		r->dead = nd;
		r->capdead = cap;
	}
	r->dead[r->ndead++] = s;
}

static void free_dead(struct resolver *r)
{
	for (size_t i = 0; i < r->ndead; i++)
		snap_free(r->dead[i]);
	r->ndead = 0;
}

/* One fingerprint: extends the newest version or starts a new one. 0 or -errno. */
static int check(struct resolver *r, struct rtable *t)
{
	uint64_t before = r->src->now(r->src->ctx), fp, after;
	struct epoch *e;
	int ret = r->src->fingerprint(r->src->ctx, t->family, t->name, &fp);

	after = r->src->now(r->src->ctx);
	t->last_check = before;
	t->cost_ns = after - before;
	r->st.checks++;
	if (ret < 0)
		return ret;	/* a failed look is no change: the versions stay as they were */
	if (t->nep && t->ep[t->nep - 1].fp == fp) {
		t->ep[t->nep - 1].last_seen = before;
		return 0;
	}
	if (t->nep == EPOCHS) {
		bury(r, t->ep[0].snap);
		memmove(&t->ep[0], &t->ep[1], (EPOCHS - 1) * sizeof(t->ep[0]));
		t->nep--;
		t->evicted = true;
	}
	if (t->nep)
		r->st.changes++;
	e = &t->ep[t->nep++];
	memset(e, 0, sizeof(*e));
	e->fp = fp;
	e->first_read = after;
	e->last_seen = before;
	return 0;
}

/*
 * Read the newest version's text: fingerprint, save, fingerprint; the text belongs to the
 * version only if both fingerprints are its own.
 */
static void load(struct resolver *r, struct rtable *t)
{
	for (int tries = 0; tries < LOAD_TRIES; tries++) {
		uint64_t start = r->src->now(r->src->ctx), took, fp;
		char *text = NULL;
		int ret;

		if (tries && check(r, t) < 0)
			return;
		if (!t->nep || t->ep[t->nep - 1].snap)
			return;
		fp = t->ep[t->nep - 1].fp;
		ret = r->src->save(r->src->ctx, t->family, t->name, &text);
		r->st.loads++;
		took = r->src->now(r->src->ctx) - start;
		if (took > r->max_load_ns)
			r->max_load_ns = took;
		if (ret >= 0)
			ret = check(r, t);
		if (ret < 0) {
			free(text);
			t->ep[t->nep - 1].err = ret;
			return;
		}
		/* check() starts a new version only when the fingerprint moved. */
		if (t->ep[t->nep - 1].fp != fp) {
			free(text);
			continue;	/* changed while saving: read the new version */
		}
		ret = snap_parse(text, &t->ep[t->nep - 1].snap);
		t->ep[t->nep - 1].err = ret;
		return;
	}
	if (t->nep && !t->ep[t->nep - 1].snap)
		t->ep[t->nep - 1].err = -EAGAIN;
}

/* After a check found a change: read the newest version now if the table is in use. */
static void refresh(struct resolver *r, struct rtable *t)
{
	const struct epoch *e;

	if (check(r, t) < 0 || !t->used)
		return;
	e = &t->ep[t->nep - 1];
	/* A version that kept changing under the save program is worth another try. */
	if (!e->snap && (!e->err || e->err == -EAGAIN))
		load(r, t);
}

static struct rtable *table_add(struct resolver *r, int family, const char *name)
{
	struct rtable *t;

	if (strlen(name) >= TRACE_NAME_MAX || r->ntab == MAX_TABLES)
		return NULL;
	t = &r->tab[r->ntab++];
	memset(t, 0, sizeof(*t));
	t->family = family;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

int resolver_watch(struct resolver *r, int family, const char *table)
{
	struct rtable *t = table_find(r, family, table);

	free_dead(r);
	if (!t)
		t = table_add(r, family, table);
	if (!t)
		return -ENOSPC;
	return check(r, t);
}

static int rec_family(const struct trace_record *rec)
{
	if (rec->nfproto == NFPROTO_IPV6 || (!rec->nfproto && rec->pkt.family == AF_INET6))
		return AF_INET6;
	return AF_INET;
}

void resolver_observe(struct resolver *r, const struct trace_record *rec)
{
	struct rtable *t;
	int family;

	if (rec->backend != TRACE_BACKEND_LEGACY)
		return;
	free_dead(r);
	family = rec_family(rec);
	t = table_find(r, family, rec->table);
	if (!t) {
		/* Not there at start: versions before this first look are unknown to us. */
		t = table_add(r, family, rec->table);
		if (!t)
			return;
		check(r, t);
	}
	if (!t->used) {
		t->used = true;
		load(r, t);
		return;
	}
	if (rec->recv_ns >= t->last_check + check_gap(r, t))
		refresh(r, t);
}

void resolver_tick(struct resolver *r)
{
	uint64_t now = r->src->now(r->src->ctx);

	free_dead(r);
	for (size_t i = 0; i < r->ntab; i++)
		if (now >= r->tab[i].last_check + check_gap(r, &r->tab[i]))
			refresh(r, &r->tab[i]);
}

uint64_t resolver_deadline(const struct resolver *r)
{
	uint64_t d = UINT64_MAX;

	for (size_t i = 0; i < r->ntab; i++)
		if (r->tab[i].last_check + check_gap(r, &r->tab[i]) < d)
			d = r->tab[i].last_check + check_gap(r, &r->tab[i]);
	return d;
}

enum outcome { OUT_OK, OUT_NONE, OUT_UNKNOWN };

/*
 * Every version the packet may have met: version i was in force some time in
 * (last_seen of i-1, first_read of i+1); the packet passed in [recv - latency, recv].
 */
static enum outcome resolve_in(struct resolver *r, struct rtable *t,
			       const struct trace_record *rec, struct answer *out)
{
	uint64_t lat = r->cfg.latency_ns + 2 * r->max_load_ns;
	uint64_t lo = rec->recv_ns > lat ? rec->recv_ns - lat : 0, hi = rec->recv_ns;
	bool found = false;

	if (t->evicted && t->nep && t->ep[0].first_read > lo)
		return OUT_UNKNOWN;	/* an older version we no longer hold */
	for (size_t i = 0; i < t->nep; i++) {
		uint64_t from = i ? t->ep[i - 1].last_seen : 0;
		uint64_t to = i + 1 < t->nep ? t->ep[i + 1].first_read : UINT64_MAX;
		struct answer a;

		if (!(from < hi && to > lo))
			continue;
		if (!t->ep[i].snap)
			return OUT_UNKNOWN;
		if (!snap_lookup(t->ep[i].snap, rec, &a))
			continue;	/* this version cannot have produced the record */
		if (found && !answer_same(out, &a))
			return OUT_UNKNOWN;
		*out = a;	/* the newest agreeing version's strings */
		found = true;
	}
	return found ? OUT_OK : OUT_NONE;
}

static void resolve_one(struct resolver *r, struct trace_record *rec)
{
	struct rtable *t = table_find(r, rec_family(rec), rec->table);
	enum outcome o;
	struct answer a;

	rec->rule = rec->verdict = rec->rule_reason = NULL;
	rec->verdict_continues = false;
	if (!t || !t->nep) {
		rec->rule_reason = REASON_UNREAD;
		r->st.unresolved++;
		return;
	}
	/*
	 * The newest version is open-ended: make sure it was still in force after the packet.
	 * Only a cheap check is made on the spot (COST_FACTOR times its cost since the last);
	 * for a big table the answer may rest on a look up to one check gap old.
	 */
	if (t->ep[t->nep - 1].last_seen < rec->recv_ns &&
	    r->src->now(r->src->ctx) >= t->last_check + COST_FACTOR * t->cost_ns)
		refresh(r, t);
	o = resolve_in(r, t, rec, &a);
	if (o == OUT_NONE && t->ep[t->nep - 1].snap &&
	    r->src->now(r->src->ctx) >= t->last_reread + r->cfg.refresh_ns) {
		/*
		 * A number no version can have produced: distrust the newest text and read it
		 * again (at most once per refresh interval, so a stream of such records costs
		 * no more than the periodic check).
		 */
		t->last_reread = r->src->now(r->src->ctx);
		bury(r, t->ep[t->nep - 1].snap);
		t->ep[t->nep - 1].snap = NULL;
		t->ep[t->nep - 1].err = 0;
		load(r, t);
		o = resolve_in(r, t, rec, &a);
	}
	if (o != OUT_OK) {
		const struct epoch *e = &t->ep[t->nep - 1];

		rec->rule_reason = e->err && !e->snap ? REASON_UNREAD : REASON_CHANGED;
		r->st.unresolved++;
		return;
	}
	rec->rule = a.rule;
	rec->verdict = a.verdict;
	rec->verdict_continues = a.cont;
	rec->rule_reason = a.reason;
}

void resolver_resolve(struct resolver *r, struct trace_record *recs, size_t n)
{
	free_dead(r);
	for (size_t i = 0; i < n; i++)
		if (recs[i].backend == TRACE_BACKEND_LEGACY)
			resolve_one(r, &recs[i]);
}

void resolver_get_stats(const struct resolver *r, struct resolver_stats *st)
{
	*st = r->st;
}

/* The legacy tables that exist now, from /proc: opening a missing one would create it. */
static void watch_existing(struct resolver *r, int family, const char *path)
{
	FILE *f = fopen(path, "re");
	char name[64];

	if (!f)
		return;
	while (fgets(name, sizeof(name), f)) {
		name[strcspn(name, "\n")] = '\0';
		if (name[0])
			resolver_watch(r, family, name);
	}
	fclose(f);
}

struct resolver *resolver_new(const struct resolver_cfg *cfg)
{
	struct resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *cfg;
	if (!r->cfg.refresh_ns)
		r->cfg.refresh_ns = 200000000ull;
	if (!r->cfg.latency_ns)
		r->cfg.latency_ns = 100000000ull;
	r->fd[0] = r->fd[1] = -1;
	r->live = (struct resolver_source){
		.fingerprint = live_fingerprint, .save = live_save, .now = live_now, .ctx = r,
	};
	r->src = cfg->source ? cfg->source : &r->live;
	if (!cfg->source) {
		watch_existing(r, AF_INET, "/proc/net/ip_tables_names");
		watch_existing(r, AF_INET6, "/proc/net/ip6_tables_names");
	}
	return r;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	free_dead(r);
	free(r->dead);
	for (size_t i = 0; i < r->ntab; i++)
		for (size_t j = 0; j < r->tab[i].nep; j++)
			snap_free(r->tab[i].ep[j].snap);
	for (int i = 0; i < 2; i++)
		if (r->fd[i] >= 0)
			close(r->fd[i]);
	free(r->ebuf);
	free(r);
}
