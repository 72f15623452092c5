/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftrule.c: nft trace steps → the rule's text by handle, following ruleset events */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "iptrace/array.h"
#include "iptrace/nftlist.h"
#include "iptrace/nftrace.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlattr.h"

/*
 * The model. A rule's handle is unique in its table and never reused while the table
 * lives, so handle → text holds for the table's life, with three exceptions that
 * "redefine" a handle: `replace rule` (DELRULE and NEWRULE of one handle in one commit),
 * the table deleted and made again (handles restart), a chain renamed (jumps print the new
 * name). Each text read is a version with the ruleset generation it was read at and the
 * span of receive times [from, until) of the steps it answers for; a redefinition seen in
 * a commit ends the versions read before that commit and starts the ones read after it.
 *
 * Where a commit falls among the records is not where its events do. nf_tables_commit()
 * bumps the generation, switches packets to the new rules, then walks every transaction
 * of the commit (for a table of 80k rules made again, 190k of them: half a second here)
 * and only then sends their events, NEWGEN last: records of packets that met the new rules
 * come before the commit's first event, by as long as that walk took. What bounds the
 * switch is the generation itself, which the kernel bumps just before it: a GETGEN that
 * still answered the old one was read before the switch, so every record received before
 * it was asked was made by the old rules. Such "barriers" come from the listings (each asks
 * GETGEN) and from a GETGEN asked at most every BARRIER_NS while the loop is busy
 * (nftrule_tick()). The versions read before a commit end at its last barrier (until); the
 * ones read after it start at its NEWGEN + grace (from): packets inside a chain at the
 * switch finish it with the old rules, and their records come before the events anyway.
 * A version read at a generation whose events are not yet taken in may reflect
 * redefinitions we don't know of: it answers nothing until they are (unsettled).
 */

#define DEFAULT_GRACE_NS	20000000ull		/* 20 ms */
#define BARRIER_NS		10000000ull		/* a GETGEN at most this often */
#define MAX_BARRIERS		16
#define KEEP_NS			60000000000ull		/* forget 60 s old history */
/*
 * More rules replaced in one table by one commit than this, and the table is redefined
 * whole instead: each redefinition is a pass over the table's handles and stays in its
 * history, so tens of thousands (a table deleted and made again, handles restarting) would
 * stall the receive loop for seconds. The price is nulls for the table's other rules near
 * the commit.
 */
#define REPLACES_MAX		64
#define REASON_RETURN		"implicit return at the end of the chain"
#define REASON_REPLACED		"the rule was replaced during the capture"
#define REASON_UNSETTLED	"the ruleset changed while iptrace read it"
#define REASON_GONE		"the rule was deleted before iptrace could read it"
#define REASON_NOTABLE		"the table or chain was deleted before iptrace could read it"
#define REASON_UNREAD		"cannot read the nft ruleset"
#define REASON_NAME		"the table's or chain's name cannot be listed"
#define REASON_CHAIN		"the table's rule of this handle is in another chain"
#define REASON_LATE		"the chain was not read in time"
#define REASON_INFLIGHT		"the ruleset was being changed as the packet passed"

/*
 * A listing that failed (other than "no such table") is tried again after this long or
 * after a commit, not for every packet: a listing costs a process and, for a big chain, a
 * good part of a second of CPU, and a per-packet retry of a table that can't be read
 * (generation racing, nft unable to print it) would keep one running all the time.
 */
#define RELOAD_BACKOFF_NS	1000000000ull

struct ver {
	struct ver	*older;		/* versions of the same handle, newest first */
	uint64_t	from, until;	/* receive times answered for: [from, until) */
	uint64_t	last_seen;	/* when a listing last showed it */
	uint32_t	gen;		/* generation read at */
	char		*chain;		/* points into text's allocation */
	char		text[];		/* "rule\0chain\0" */
};

struct slot {
	uint64_t	handle;		/* 0: empty */
	struct ver	*v;
};

struct redef {
	uint64_t	handle;		/* 0: the whole table (or all tables) */
	/*
	 * t_lo: the commit's last barrier (records received before it met older rules);
	 * t_hi: its NEWGEN (or when the loss was seen).
	 */
	uint64_t	t_lo, t_hi;
	uint32_t	gen;
};

struct redefs {
	struct redef	*a;
	size_t		n, cap;
};

struct chn {
	uint64_t	handle;
	char		name[NFT_NAME_MAXLEN];
};

/*
 * A chain a step named: only those are listed (`list chain`), each when a step first needs
 * it and again after a commit when a handle is missing. The chains a packet never crossed
 * are never read: at 80k rules in 30k chains, most of them.
 */
struct nchain {
	struct nchain	*next;
	char		name[TRACE_NFT_NAME_MAX];
	bool		loaded;
	bool		asked;		/* a listing was asked for: req_at is set */
	bool		listing;	/* ... and its answer has not come yet */
	int		err;		/* last listing's error, 0 if it worked */
	uint32_t	err_gen;	/* the newest generation taken in when it failed */
	uint32_t	gen;		/* generation of the last listing */
	uint64_t	req_at;		/* when the last listing was asked for */
	uint64_t	loaded_at;	/* ... and for a failed one, when it failed */
};

struct ntable {
	struct ntable	*next;
	uint8_t		family;
	char		name[TRACE_NFT_NAME_MAX];
	uint32_t	gen;		/* generation of the last listing of one of its chains */
	uint64_t	loaded_at;	/* ... and when */
	uint64_t	thandle;	/* the table's handle: a new one is a new table */
	struct slot	*slots;		/* handles of every chain listed: unique in a table */
	size_t		nslots, nused;
	struct nchain	*lchains;	/* the chains steps named */
	struct chn	*chains;	/* handle -> name of the chains listed: renames */
	size_t		nchains;
	struct redefs	rd;
	uint64_t	whole_commit;	/* the commit that last redefined it whole */
	uint64_t	rep_commit;	/* the commit nrep counts replaces of */
	size_t		nrep;
};

/*
 * One ruleset event of a commit still open (its NEWGEN not yet seen). Small: a whole-table
 * rewrite of 80k rules is 160k events in one commit. Its names are "table\0chain\0" at
 * offset @name of nftrule.names, shared with the event before when the same.
 */
struct pend {
	uint64_t	handle;
	uint32_t	name;
	uint16_t	type;
	uint8_t		family;
};

struct nftrule {
	struct nftrule_cfg	cfg;
	struct nftrule_source	live;	/* used when cfg.source is NULL: */
	struct nftlist		*lister;
	struct ntable		*tables;
	struct redefs		global;	/* losses: redefine every table */
	struct pend		*pend;
	size_t			npend, pcap;
	char			*names;		/* the pending events' names */
	size_t			nlen, ncap;
	bool			pend_open;	/* an event of a commit was taken in */
	uint64_t		pend_t0;	/* ... at this time */
	bool			have_gen;
	uint32_t		last_gen;	/* newest NEWGEN taken in */
	/*
	 * Barriers: per generation a GETGEN answered, in generation order, the last time
	 * (records' clock) before which it was asked. The newest taken in and those after.
	 */
	struct barrier {
		uint32_t	gen;
		uint64_t	t;
	}			bar[MAX_BARRIERS];
	size_t			nbar;
	uint64_t		last_poll;
	uint64_t		now;
	uint64_t		commits;	/* NEWGEN events taken in: numbers the commits */
};

/* Serial-number order: generations are u32 counters that wrap. */
static bool gen_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- barriers ---- */

/* Records received before @t_ns were made by rules of generation @gen or older. */
static void barrier_add(struct nftrule *nr, uint32_t gen, uint64_t t_ns)
{
	size_t i = nr->nbar;

	while (i > 0 && !gen_le(nr->bar[i - 1].gen, gen))
		i--;
	if (i > 0 && nr->bar[i - 1].gen == gen) {
		if (t_ns > nr->bar[i - 1].t)
			nr->bar[i - 1].t = t_ns;
		return;
	}
	/* A barrier of an older generation than one held: it tells nothing more. */
	if (i < nr->nbar && nr->bar[i].t >= t_ns)
		return;
	if (nr->nbar == MAX_BARRIERS) {
		if (i == 0)
			return;
		memmove(&nr->bar[0], &nr->bar[1], --i * sizeof(nr->bar[0]));
		nr->nbar--;
	}
	memmove(&nr->bar[i + 1], &nr->bar[i], (nr->nbar - i) * sizeof(nr->bar[0]));
	nr->bar[i] = (struct barrier){ gen, t_ns };
	nr->nbar++;
}

/*
 * The last time before which every record received was made by a generation before @gen
 * (0 when none is known: nothing received is known to be older).
 */
static uint64_t barrier_before(const struct nftrule *nr, uint32_t gen)
{
	uint64_t t = 0;

	for (size_t i = 0; i < nr->nbar && !gen_le(gen, nr->bar[i].gen); i++)
		if (nr->bar[i].t > t)
			t = nr->bar[i].t;
	return t;
}

/* The barriers no commit still to come needs: all but the newest of those taken in. */
static void barrier_prune(struct nftrule *nr)
{
	size_t k = 0;

	while (k + 1 < nr->nbar && gen_le(nr->bar[k + 1].gen, nr->last_gen))
		k++;
	memmove(&nr->bar[0], &nr->bar[k], (nr->nbar - k) * sizeof(nr->bar[0]));
	nr->nbar -= k;
}

/*
 * Whether step @r's rules are of a generation whose commits were all taken in: a barrier
 * of such a generation came after it. If not, the commit it may have met has not sent its
 * events yet, and what it redefined is not known.
 */
static bool settled(const struct nftrule *nr, const struct trace_record *r)
{
	return nr->have_gen && r->recv_ns <= barrier_before(nr, nr->last_gen + 1);
}

/* A barrier now (the records' clock @nr->now is before the GETGEN is asked). */
static void barrier_poll(struct nftrule *nr)
{
	const struct nftrule_source *src = nr->cfg.source;
	uint32_t gen;

	nr->last_poll = nr->now;
	if (src->gen(src->ctx, &gen) == 0)
		barrier_add(nr, gen, nr->now);
}

/* ---- the parser ---- */

static size_t tabs(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] == '\t')
		i++;
	return i;
}

/* " # handle N" at the end of @s[0..*len): N, and *len cut before it; 0 if none. */
static uint64_t cut_handle(const char *s, size_t *len)
{
	static const char tag[] = " # handle ";
	size_t n = *len, d = n;
	uint64_t h = 0;

	while (d > 0 && isdigit((unsigned char)s[d - 1]))
		d--;
	if (d == n || d < sizeof(tag) - 1 || memcmp(s + d - (sizeof(tag) - 1), tag, sizeof(tag) - 1))
		return 0;
	for (size_t i = d; i < n; i++)
		h = h * 10 + (uint64_t)(s[i] - '0');
	*len = d - (sizeof(tag) - 1);
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return h;
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

int nftrule_parse(const char *text, uint64_t *table_handle,
		  int (*fn)(void *ctx, const char *chain, uint64_t handle, const char *rule,
			    size_t len),
		  void *ctx)
{
	const char *p = text, *stmt = NULL;
	char chain[NFT_NAME_MAXLEN] = "";
	bool header = false, in_chain = false;
	char *join = NULL;
	int ret = 0;

	*table_handle = 0;
	while (*p && ret >= 0) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
		size_t len = (size_t)(end - p), t = tabs(p, len);

		if (!header) {
			/* Blank lines, and nft's "# Warning: table ... managed by iptables-nft". */
			if (len == 0 || p[0] == '#') {
				p = nl ? nl + 1 : end;
				continue;
			}
			if (len < 6 || memcmp(p, "table ", 6) != 0)
				return -EINVAL;
			header = true;
			*table_handle = cut_handle(p, &len);
		} else if (t == 1) {
			/* A table-level object: a chain opens, anything else (sets, maps) skips. */
			in_chain = false;
			stmt = NULL;
			if (len > 7 && memcmp(p + 1, "chain ", 6) == 0) {
				uint64_t ch = cut_handle(p, &len);
				size_t nlen;

				if (len >= 2 && memcmp(p + len - 2, " {", 2) == 0) {
					nlen = len - 2 - 7;
					if (nlen > 0 && nlen < sizeof(chain)) {
						memcpy(chain, p + 7, nlen);
						chain[nlen] = '\0';
						in_chain = true;
						ret = fn(ctx, chain, ch, NULL, 0);
					}
				}
			}
		} else if (in_chain && t >= 2) {
			size_t l = len;
			uint64_t h;

			if (t == 2)
				stmt = p;
			h = cut_handle(p, &l);
			if (h && stmt == p) {
				const char *s = skip_ws(p, p + l);

				ret = fn(ctx, chain, h, s, (size_t)(p + l - s));
			} else if (h && stmt) {
				/* A rule printed over several lines: join them with one space. */
				size_t cap = (size_t)(p + l - stmt) + 1, o = 0;
				const char *q = stmt;

				free(join);
				join = malloc(cap);
				if (!join) {
					ret = -ENOMEM;
					break;
				}
				while (q < p + l) {
					const char *e = memchr(q, '\n', (size_t)(p + l - q));
					const char *s = skip_ws(q, e ? e : p + l), *f = e ? e : p + l;

					while (f > s && f[-1] == ' ')
						f--;
					if (o && f > s)
						join[o++] = ' ';
					memcpy(join + o, s, (size_t)(f - s));
					o += (size_t)(f - s);
					q = e ? e + 1 : p + l;
				}
				ret = fn(ctx, chain, h, join, o);
			}
			if (h)
				stmt = NULL;
		} else if (t == 0 && len) {
			in_chain = false;	/* the table's closing brace */
		}
		p = nl ? nl + 1 : end;
	}
	free(join);
	if (!header)
		return -EINVAL;
	return ret < 0 ? ret : 0;
}

/* ---- the live source: listings in a child process (nftlist.h) ---- */

static void live_listed(void *ctx, struct nftlist_answer *a)
{
	struct nftrule *nr = ctx;

	nftrule_listed(nr, a->family, a->table, a->chain, a->err, a->text, a->gen, nr->now);
	a->text = NULL;	/* taken */
}

static int live_list(void *ctx, uint8_t family, const char *table, const char *chain)
{
	struct nftrule *nr = ctx;

	return nftlist_start(nr->lister, family, table, chain, nr->now);
}

static int live_gen(void *ctx, uint32_t *gen)
{
	return nftlist_gen(((struct nftrule *)ctx)->lister, gen);
}

static int live_open(struct nftrule *nr)
{
	nr->lister = nftlist_new(live_listed, nr);
	if (!nr->lister)
		return -errno;
	nr->live = (struct nftrule_source){ .list = live_list, .gen = live_gen, .ctx = nr };
	return 0;
}

int nftrule_fd(const struct nftrule *nr)
{
	return nr->lister ? nftlist_fd(nr->lister) : -1;
}

void nftrule_feed(struct nftrule *nr, const void *buf, size_t len, uint64_t now_ns)
{
	if (now_ns > nr->now)
		nr->now = now_ns;
	if (nr->lister)
		nftlist_feed(nr->lister, buf, len, nr->now);
}

void nftrule_tick(struct nftrule *nr, uint64_t now_ns)
{
	if (now_ns > nr->now)
		nr->now = now_ns;
	if (nr->lister)
		nftlist_tick(nr->lister, nr->now);
	/* A barrier after every record taken so far, while they come. */
	if (nr->now - nr->last_poll >= BARRIER_NS)
		barrier_poll(nr);
}

/* ---- versions, tables ---- */

static void free_vers(struct ver *v)
{
	while (v) {
		struct ver *o = v->older;

		free(v);
		v = o;
	}
}

static struct slot *slot_of(struct ntable *t, uint64_t handle)
{
	size_t mask, i;

	if (!t->nslots)
		return NULL;
	mask = t->nslots - 1;
	for (i = (size_t)(handle * 0x9e3779b97f4a7c15ull) & mask; t->slots[i].handle; i = (i + 1) & mask)
		if (t->slots[i].handle == handle)
			return &t->slots[i];
	return &t->slots[i];
}

static int slots_grow(struct ntable *t)
{
	struct slot *old = t->slots;
	size_t n = t->nslots;

	if ((t->nused + 1) * 2 <= t->nslots)
		return 0;
	t->nslots = n ? n * 2 : 64;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		t->nslots = n;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (old[i].handle)
			*slot_of(t, old[i].handle) = old[i];
	free(old);
	return 0;
}

static void table_free(struct ntable *t)
{
	while (t->lchains) {
		struct nchain *c = t->lchains;

		t->lchains = c->next;
		free(c);
	}
	for (size_t i = 0; i < t->nslots; i++)
		free_vers(t->slots[i].v);
	free(t->slots);
	free(t->chains);
	free(t->rd.a);
	free(t);
}

static struct ntable *table_find(struct nftrule *nr, uint8_t family, const char *name)
{
	for (struct ntable *t = nr->tables; t; t = t->next)
		if (t->family == family && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static struct ntable *table_get(struct nftrule *nr, uint8_t family, const char *name)
{
	struct ntable *t = table_find(nr, family, name);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->family = family;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->next = nr->tables;
	nr->tables = t;
	return t;
}

/* The chain @name of @t, as steps name it. */
static struct nchain *chain_find(struct ntable *t, const char *name)
{
	for (struct nchain *c = t->lchains; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static struct nchain *chain_get(struct ntable *t, const char *name)
{
	struct nchain *c = chain_find(t, name);

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->next = t->lchains;
	t->lchains = c;
	return c;
}

static int redefs_add(struct redefs *rd, const struct redef *r, uint64_t now)
{
	size_t k = 0;

	/* History older than any step still waiting is no longer needed. */
	for (size_t i = 0; i < rd->n; i++)
		if (rd->a[i].t_hi + KEEP_NS > now)
			rd->a[k++] = rd->a[i];
	rd->n = k;
	if (rd->n == rd->cap) {
		struct redef *a = array_grow(rd->a, &rd->cap, sizeof(*a), 8);

		if (!a)
			return -ENOMEM;
		rd->a = a;
	}
	rd->a[rd->n++] = *r;
	return 0;
}

/* What a redefinition does to one version: end it, or start it after the commit. */
static void redef_apply(const struct nftrule *nr, const struct redef *r, struct ver *v)
{
	if (gen_le(r->gen, v->gen)) {
		if (v->from < r->t_hi + nr->cfg.grace_ns)
			v->from = r->t_hi + nr->cfg.grace_ns;
	} else if (v->until > r->t_lo) {
		v->until = r->t_lo;
	}
}

static void redef_table(struct nftrule *nr, struct ntable *t, const struct redef *r)
{
	if (redefs_add(&t->rd, r, nr->now) < 0) {
		/* Can't remember it for later listings: forget the table's texts instead. */
		for (struct nchain *c = t->lchains; c; c = c->next)
			c->loaded = false;
	}
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i].handle || (r->handle && t->slots[i].handle != r->handle))
			continue;
		for (struct ver *v = t->slots[i].v; v; v = v->older)
			redef_apply(nr, r, v);
	}
}

struct load_ctx {
	struct nftrule	*nr;
	struct ntable	*t;
	uint32_t	gen;
	uint64_t	seen;		/* when the listing was asked for */
	struct chn	*chains;
	size_t		nchains, ccap;
};

static int load_one(void *data, const char *chain, uint64_t handle, const char *rule, size_t len)
{
	struct load_ctx *lc = data;
	struct ntable *t = lc->t;
	struct nftrule *nr = lc->nr;
	size_t cl = strlen(chain);
	struct slot *s;
	struct ver *v, *cur;

	if (!rule) {
		/* The table's chains listed so far, by handle: a listing holds one or a few. */
		for (size_t i = 0; i < lc->nchains; i++)
			if (lc->chains[i].handle == handle) {
				snprintf(lc->chains[i].name, sizeof(lc->chains[i].name), "%s", chain);
				return 0;
			}
		if (lc->nchains == lc->ccap) {
			struct chn *c = array_grow(lc->chains, &lc->ccap, sizeof(*c), 16);

			if (!c)
				return -ENOMEM;
			lc->chains = c;
		}
		lc->chains[lc->nchains].handle = handle;
		snprintf(lc->chains[lc->nchains++].name, sizeof(lc->chains[0].name), "%s", chain);
		return 0;
	}
	if (slots_grow(t) < 0)
		return -ENOMEM;
	s = slot_of(t, handle);
	cur = s->handle ? s->v : NULL;
	if (cur && cur->until == UINT64_MAX && strlen(cur->text) == len &&
	    memcmp(cur->text, rule, len) == 0 && strcmp(cur->chain, chain) == 0) {
		cur->last_seen = lc->seen;	/* the same text: the version goes on */
		return 0;
	}
	v = malloc(sizeof(*v) + len + 1 + cl + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v->text, rule, len);
	v->text[len] = '\0';
	v->chain = v->text + len + 1;
	memcpy(v->chain, chain, cl + 1);
	v->from = 0;
	v->until = UINT64_MAX;
	v->gen = lc->gen;
	v->last_seen = lc->seen;
	if (cur && cur->until == UINT64_MAX && gen_le(lc->gen, nr->last_gen) && nr->have_gen) {
		/*
		 * A different text under a live handle with every event up to this listing taken
		 * in, yet no redefinition seen: trust neither beyond what is certain (the old
		 * one up to the last listing that showed it, the new one from when this one
		 * came back).
		 */
		cur->until = cur->last_seen;
		v->from = nr->now;
	}
	for (size_t i = 0; i < nr->global.n; i++)
		redef_apply(nr, &nr->global.a[i], v);
	for (size_t i = 0; i < t->rd.n; i++)
		if (!t->rd.a[i].handle || t->rd.a[i].handle == handle)
			redef_apply(nr, &t->rd.a[i], v);
	v->older = cur;
	if (!s->handle) {
		s->handle = handle;
		t->nused++;
	}
	s->v = v;
	return 0;
}

/*
 * Drop versions of chain @c no step can still need: ended, or gone from its listings,
 * KEEP_NS ago (other chains' versions were not seen by this listing: they stay).
 */
static void table_gc(struct nftrule *nr, struct ntable *t, const struct nchain *c)
{
	for (size_t i = 0; i < t->nslots; i++) {
		struct ver **pv = &t->slots[i].v;

		while (*pv) {
			struct ver *v = *pv;
			bool old = strcmp(v->chain, c->name) == 0 &&
				   ((v->until != UINT64_MAX && v->until + KEEP_NS < nr->now) ||
				    v->last_seen + KEEP_NS < nr->now);

			if (old) {
				*pv = v->older;
				free(v);
			} else {
				pv = &v->older;
			}
		}
	}
}

/*
 * A listing of @c came back (@ret, @text taken, of generation @gen). Its versions stand
 * for the time it was asked for (req_at) on the side of the past, and for now on the side
 * of the future: the kernel may have read the ruleset anywhere in between.
 */
static void chain_apply(struct nftrule *nr, struct ntable *t, struct nchain *c, int ret,
			char *text, uint32_t gen)
{
	struct load_ctx lc = { .nr = nr, .t = t, .gen = gen, .seen = c->req_at };
	uint64_t th = 0, prev_at = t->loaded_at;

	if (ret < 0) {
		c->err = ret;
		c->err_gen = nr->last_gen;
		c->loaded_at = nr->now;
		/* "No such table or chain" is an answer too, of the generation it came with. */
		c->loaded = ret == -ENOENT;
		if (c->loaded) {
			c->gen = gen;
			barrier_add(nr, gen, c->req_at);
		}
		free(text);
		return;
	}
	/* The chains listed before: a listing adds to them (renames are told by handle). */
	if (t->nchains) {
		lc.chains = malloc(t->nchains * sizeof(*lc.chains));
		if (!lc.chains) {
			free(text);
			c->err = -ENOMEM;
			c->loaded = false;
			c->loaded_at = nr->now;
			return;
		}
		memcpy(lc.chains, t->chains, t->nchains * sizeof(*lc.chains));
		lc.nchains = lc.ccap = t->nchains;
	}
	/* Parse the table's handle first: a new table under an old name redefines all. */
	ret = nftrule_parse(text, &th, load_one, &lc);
	if (ret == 0 && t->loaded_at && t->thandle && th && th != t->thandle) {
		bool seen = false;

		for (size_t i = 0; i < t->rd.n; i++)
			if (!t->rd.a[i].handle && !gen_le(t->rd.a[i].gen, t->gen))
				seen = true;
		if (!seen) {
			struct redef r = { 0, prev_at, nr->now, lc.gen };

			redef_table(nr, t, &r);
		}
	}
	free(text);
	if (ret < 0) {
		c->err = ret;
		c->loaded = false;
		c->loaded_at = nr->now;
		free(lc.chains);
		return;
	}
	free(t->chains);
	t->chains = lc.chains;
	t->nchains = lc.nchains;
	/* Its GETGEN was asked after the listing was: a barrier at that time. */
	barrier_add(nr, gen, c->req_at);
	if (th)
		t->thandle = th;
	t->gen = c->gen = lc.gen;
	if (c->req_at > t->loaded_at)
		t->loaded_at = c->req_at;
	c->loaded_at = c->req_at;
	c->err = 0;
	c->loaded = true;
	table_gc(nr, t, c);
}

/* Ask for a listing of @c; its answer comes through nftrule_listed(). */
static void chain_request(struct nftrule *nr, struct ntable *t, struct nchain *c)
{
	const struct nftrule_source *src = nr->cfg.source;
	int ret;

	c->asked = true;
	c->req_at = nr->now;
	ret = src->list(src->ctx, t->family, t->name, c->name);
	if (ret < 0)
		chain_apply(nr, t, c, ret, NULL, 0);
	else
		c->listing = true;
}

void nftrule_listed(struct nftrule *nr, uint8_t family, const char *table, const char *chain,
		    int err, char *text, uint32_t gen, uint64_t now_ns)
{
	struct ntable *t = table_find(nr, family, table);
	struct nchain *c = t ? chain_find(t, chain) : NULL;

	if (now_ns > nr->now)
		nr->now = now_ns;
	if (!c || !c->listing) {
		free(text);	/* nobody asked */
		return;
	}
	c->listing = false;
	chain_apply(nr, t, c, err, text, gen);
}

/* ---- events ---- */

static const struct nlattr_policy gen_policy[NFTA_GEN_MAX + 1] = {
	[NFTA_GEN_ID]	= { .type = MNL_TYPE_U32 },
};

static const struct nlattr_policy rule_policy[NFTA_RULE_MAX + 1] = {
	[NFTA_RULE_TABLE]	= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_RULE_HANDLE]	= { .type = MNL_TYPE_U64 },
};

static const struct nlattr_policy chain_policy[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_TABLE]	= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_NAME]	= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_HANDLE]	= { .type = MNL_TYPE_U64 },
};

static const struct nlattr_policy table_policy[NFTA_TABLE_MAX + 1] = {
	[NFTA_TABLE_NAME]	= { .type = MNL_TYPE_NUL_STRING },
};

/* How each kind of event is read: its policy, and where its table, chain name and handle are. */
struct ev_kind {
	const struct nlattr_policy	*pol;
	unsigned			max;
	uint16_t			table, name, handle;	/* 0: none */
};

#define EV_ATTR_MAX	NFTA_CHAIN_MAX
_Static_assert(NFTA_RULE_MAX <= EV_ATTR_MAX && NFTA_TABLE_MAX <= EV_ATTR_MAX &&
	       NFTA_GEN_MAX <= EV_ATTR_MAX, "one table holds every event's attributes");

static const struct ev_kind *ev_kind(uint16_t type)
{
	static const struct ev_kind rule = {
		rule_policy, NFTA_RULE_MAX, NFTA_RULE_TABLE, 0, NFTA_RULE_HANDLE,
	};
	static const struct ev_kind chain = {
		chain_policy, NFTA_CHAIN_MAX, NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, NFTA_CHAIN_HANDLE,
	};
	static const struct ev_kind table = { table_policy, NFTA_TABLE_MAX, NFTA_TABLE_NAME, 0, 0 };
	static const struct ev_kind gen = { gen_policy, NFTA_GEN_MAX, 0, 0, 0 };

	switch (type) {
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		return &rule;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		return &chain;
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		return &table;
	case NFT_MSG_NEWGEN:
		return &gen;
	}
	return NULL;
}

/*
 * "table\0chain\0" of a pending event into nftrule.names, *@off its offset: the last
 * entry's when the names are the same (a commit's rule events name one table over and
 * over). 0 or -ENOMEM.
 */
static int pend_names(struct nftrule *nr, const struct nlattr *ta, const struct nlattr *ca,
		      uint32_t *off)
{
	const char *table = mnl_attr_get_str(ta), *chain = ca ? mnl_attr_get_str(ca) : "";
	size_t tl = strnlen(table, NFT_NAME_MAXLEN - 1), cl = strnlen(chain, NFT_NAME_MAXLEN - 1);

	if (nr->npend) {
		const char *lt = nr->names + nr->pend[nr->npend - 1].name, *lc = lt + strlen(lt) + 1;

		if (strlen(lt) == tl && memcmp(lt, table, tl) == 0 && strlen(lc) == cl &&
		    memcmp(lc, chain, cl) == 0) {
			*off = nr->pend[nr->npend - 1].name;
			return 0;
		}
	}
	if (nr->nlen + tl + cl + 2 > nr->ncap) {
		size_t cap = nr->ncap ? nr->ncap * 2 : 4096;
		char *a;

		while (cap < nr->nlen + tl + cl + 2)
			cap *= 2;
		if (cap > UINT32_MAX || !(a = realloc(nr->names, cap)))
			return -ENOMEM;
		nr->names = a;
		nr->ncap = cap;
	}
	*off = (uint32_t)nr->nlen;
	memcpy(nr->names + nr->nlen, table, tl);
	nr->names[nr->nlen + tl] = '\0';
	memcpy(nr->names + nr->nlen + tl + 1, chain, cl);
	nr->names[nr->nlen + tl + 1 + cl] = '\0';
	nr->nlen += tl + cl + 2;
	return 0;
}

/* A DELRULE of the commit, for finding replaces: sorted, then searched per NEWRULE. */
struct delkey {
	uint64_t	handle;
	uint8_t		family;
	const char	*table;
};

static int delkey_cmp(const void *a, const void *b)
{
	const struct delkey *x = a, *y = b;

	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return strcmp(x->table, y->table);
}

/* The commit's DELRULEs, sorted; NULL when none (or no memory: then no replace is seen). */
static struct delkey *commit_dels(const struct nftrule *nr, size_t *n)
{
	struct delkey *d;

	*n = 0;
	for (size_t i = 0; i < nr->npend; i++)
		*n += nr->pend[i].type == NFT_MSG_DELRULE;
	if (!*n || !(d = malloc(*n * sizeof(*d)))) {
		*n = 0;
		return NULL;
	}
	*n = 0;
	for (size_t i = 0; i < nr->npend; i++)
		if (nr->pend[i].type == NFT_MSG_DELRULE)
			d[(*n)++] = (struct delkey){ nr->pend[i].handle, nr->pend[i].family,
						     nr->names + nr->pend[i].name };
	qsort(d, *n, sizeof(*d), delkey_cmp);
	return d;
}

/*
 * Redefine @t whole in commit @r (once per commit: nr->commits numbers them); NULL @t is
 * the table @family @name, made to remember it (a table never asked for is remembered once
 * redefined: a step received before the commit and resolved after it must not get the
 * text read after it).
 */
static struct ntable *redef_whole(struct nftrule *nr, struct ntable *t, uint8_t family,
				  const char *name, const struct redef *r)
{
	struct redef w = *r;

	if (!t && !(t = table_get(nr, family, name)))
		return NULL;
	if (t->whole_commit != nr->commits) {
		t->whole_commit = nr->commits;
		w.handle = 0;
		redef_table(nr, t, &w);
	}
	return t;
}

/* A commit ends: turn its events into redefinitions of the tables they touch. */
static void commit_end(struct nftrule *nr, uint32_t gen)
{
	struct redef r = { 0, barrier_before(nr, gen), nr->now, gen };
	size_t ndels;
	struct delkey *dels = commit_dels(nr, &ndels);

	nr->commits++;
	if (nr->have_gen && !gen_le(gen, nr->last_gen) && gen != nr->last_gen + 1) {
		/* A gap in the generations: a commit's events were lost. */
		struct redef g = { 0, barrier_before(nr, nr->last_gen + 1), nr->now, gen };

		redefs_add(&nr->global, &g, nr->now);
		for (struct ntable *t = nr->tables; t; t = t->next)
			redef_table(nr, t, &g);
	}
	/*
	 * A table deleted (iptables-nft-restore deletes the table it rewrites) is redefined
	 * whole first: the rules made again after it in the commit start their handles
	 * again, and each would otherwise look like a replace of the old one, a pass over
	 * the table's handles apiece.
	 */
	for (size_t i = 0; i < nr->npend; i++)
		if (nr->pend[i].type == NFT_MSG_DELTABLE)
			redef_whole(nr, table_find(nr, nr->pend[i].family, nr->names + nr->pend[i].name),
				    nr->pend[i].family, nr->names + nr->pend[i].name, &r);
	for (size_t i = 0; i < nr->npend; i++) {
		const struct pend *p = &nr->pend[i];
		const char *ptable = nr->names + p->name, *pchain = ptable + strlen(ptable) + 1;
		struct ntable *t = table_find(nr, p->family, ptable);
		struct delkey key = { p->handle, p->family, ptable };
		struct redef h = r;

		if (t && t->whole_commit == nr->commits)
			continue;	/* every handle of it is redefined already */
		switch (p->type) {
		case NFT_MSG_NEWRULE:
			/* Replace: the same handle deleted and added in one commit. */
			if (!dels || !bsearch(&key, dels, ndels, sizeof(*dels), delkey_cmp))
				break;
			if (!t && !(t = table_get(nr, p->family, ptable)))
				break;
			if (t->rep_commit != nr->commits) {
				t->rep_commit = nr->commits;
				t->nrep = 0;
			}
			/* Many of them: one pass for the whole table rather than one apiece. */
			if (++t->nrep > REPLACES_MAX) {
				redef_whole(nr, t, p->family, ptable, &r);
				break;
			}
			h.handle = p->handle;
			redef_table(nr, t, &h);
			break;
		case NFT_MSG_NEWCHAIN:
			/* A known chain handle under another name: a rename. */
			for (size_t j = 0; t && j < t->nchains; j++)
				if (t->chains[j].handle == p->handle && strcmp(t->chains[j].name, pchain)) {
					redef_whole(nr, t, p->family, ptable, &r);
					break;
				}
			break;
		default:
			break;
		}
	}
	free(dels);
	nr->npend = 0;
	nr->nlen = 0;
	nr->pend_open = false;
	if (!nr->have_gen || !gen_le(gen, nr->last_gen)) {
		nr->last_gen = gen;
		nr->have_gen = true;
	}
	barrier_prune(nr);
}

int nftrule_event(struct nftrule *nr, const struct nlmsghdr *nlh, uint64_t now_ns)
{
	const struct nlattr *tb[EV_ATTR_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct ev_kind *k;
	uint16_t type;
	uint32_t name;
	struct pend *p;

	nr->now = now_ns;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    (nlh->nlmsg_flags & NLM_F_MULTI))
		return 0;	/* not an event: a dump's reply, or another subsystem */
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	k = ev_kind(type);
	if (!k)
		return 0;
	if (nlattr_parse(nlh, sizeof(*nfg), k->pol, k->max, tb) < 0)
		return -EINVAL;
	if (type == NFT_MSG_NEWGEN) {
		if (!tb[NFTA_GEN_ID])
			return -EINVAL;
		commit_end(nr, ntohl(mnl_attr_get_u32(tb[NFTA_GEN_ID])));
		return 0;
	}
	if (!tb[k->table])
		return -EINVAL;
	if (!nr->pend_open) {
		nr->pend_open = true;
		nr->pend_t0 = now_ns;
	}
	/* What commit_end() reads: rules (replaces), a table's end, a chain's (re)naming. */
	if (type == NFT_MSG_DELCHAIN || type == NFT_MSG_NEWTABLE)
		return 0;
	if (nr->npend == nr->pcap) {
		struct pend *a = array_grow(nr->pend, &nr->pcap, sizeof(*a), 16);

		if (!a) {
			nftrule_lost(nr, now_ns);	/* can't keep it: as if lost */
			return 0;
		}
		nr->pend = a;
	}
	if (pend_names(nr, tb[k->table], k->name ? tb[k->name] : NULL, &name) < 0) {
		nftrule_lost(nr, now_ns);
		return 0;
	}
	p = &nr->pend[nr->npend++];
	p->type = type;
	p->family = nfg->nfgen_family;
	p->handle = k->handle && tb[k->handle] ? be64toh(mnl_attr_get_u64(tb[k->handle])) : 0;
	p->name = name;
	return 0;
}

void nftrule_lost(struct nftrule *nr, uint64_t now_ns)
{
	struct redef r = { 0, barrier_before(nr, nr->last_gen + 1), now_ns, 0 };
	const struct nftrule_source *src = nr->cfg.source;

	nr->now = now_ns;
	/*
	 * Whatever the lost commits were, they are after the last one taken in and no newer
	 * than the generation now: texts read before it end at the last barrier of the last
	 * one taken in, texts read at or after it start now.
	 */
	if (src->gen(src->ctx, &r.gen) < 0)
		r.gen = nr->have_gen ? nr->last_gen + 1 : 0;
	else
		barrier_add(nr, r.gen, now_ns);
	redefs_add(&nr->global, &r, now_ns);
	for (struct ntable *t = nr->tables; t; t = t->next)
		redef_table(nr, t, &r);
	if (!nr->have_gen || !gen_le(r.gen, nr->last_gen)) {
		nr->last_gen = r.gen;
		nr->have_gen = true;
	}
}

/* ---- resolve ---- */

enum found { FND_OK, FND_UNSETTLED, FND_RANGE, FND_CHAIN, FND_NONE };

static enum found lookup(struct nftrule *nr, struct ntable *t, const struct trace_record *r,
			 const struct ver **out)
{
	struct slot *s = slot_of(t, r->handle);
	enum found f = FND_NONE;

	if (!s || !s->handle)
		return FND_NONE;
	for (const struct ver *v = s->v; v; v = v->older) {
		if (r->recv_ns < v->from || r->recv_ns >= v->until) {
			if (f == FND_NONE)
				f = FND_RANGE;
			continue;
		}
		if (!nr->have_gen || !gen_le(v->gen, nr->last_gen)) {
			f = FND_UNSETTLED;
			continue;
		}
		if (strcmp(v->chain, r->chain) != 0) {
			f = FND_CHAIN;	/* not the rule the step names: never print it */
			continue;
		}
		*out = v;
		return FND_OK;
	}
	return f;
}

bool nftrule_fill_fixed(struct trace_record *r)
{
	if (r->kind == TRACE_KIND_POLICY) {
		r->rule = r->has_policy && r->policy == 0 ? "policy drop" :
			  r->has_policy && r->policy == 1 ? "policy accept" : NULL;
		return true;
	}
	if (r->kind == TRACE_KIND_RETURN) {
		r->rule_reason = REASON_RETURN;
		return true;
	}
	if (!r->handle) {
		r->rule_reason = "the record names no rule";
		return true;
	}
	return false;
}

/* A chain whose last listing failed, with nothing new since to make another worth it. */
static bool load_failed_lately(const struct nftrule *nr, const struct nchain *c)
{
	return !c->loaded && c->err && nr->now - c->loaded_at < RELOAD_BACKOFF_NS &&
	       (!nr->have_gen || gen_le(nr->last_gen, c->err_gen));
}

/* The table and chain step @r names, made on first use; false when it can't be asked for. */
static bool step_chain(struct nftrule *nr, const struct trace_record *r, struct ntable **t,
		       struct nchain **c)
{
	return (*t = table_get(nr, r->table_family, r->table)) && (*c = chain_get(*t, r->chain));
}

/* A step nftrule_fill_fixed() answers: nothing to look up. */
static bool fixed(const struct trace_record *r)
{
	return r->kind == TRACE_KIND_POLICY || r->kind == TRACE_KIND_RETURN || !r->handle;
}

bool nftrule_wait(struct nftrule *nr, const struct trace_record *recs, size_t n,
		  uint64_t since_ns, uint64_t now_ns)
{
	bool wait = false;

	if (now_ns > nr->now)
		nr->now = now_ns;
	for (size_t i = 0; i < n; i++) {
		const struct trace_record *r = &recs[i];
		const struct ver *v;
		struct ntable *t;
		struct nchain *c;
		enum found f;

		if (r->backend != TRACE_BACKEND_NFT || r->rule || fixed(r) || !step_chain(nr, r, &t, &c))
			continue;
		/* Which commits it may have met: a GETGEN after it says, then their events. */
		if (!settled(nr, r) && nr->last_poll < r->recv_ns)
			barrier_poll(nr);
		if (!settled(nr, r)) {
			wait = true;
			continue;
		}
		f = c->loaded ? lookup(nr, t, r, &v) : FND_NONE;
		if (f == FND_OK || f == FND_CHAIN)
			continue;
		/*
		 * A text of a generation whose events are on their way (they settle it), or a
		 * listing under way that may bring the step's.
		 */
		if (f == FND_UNSETTLED || c->listing) {
			wait = true;
			continue;
		}
		/*
		 * Worth a listing: a chain never read, or read before a commit that may have
		 * added the rule. Once per chain after the packet was complete (a listing from
		 * then on shows every rule it can have met), and not again soon after a failure.
		 */
		if ((c->asked && c->req_at >= since_ns) || load_failed_lately(nr, c) ||
		    (c->loaded && nr->have_gen && gen_le(nr->last_gen, c->gen)))
			continue;
		chain_request(nr, t, c);
		wait |= c->listing;
	}
	return wait;
}

void nftrule_resolve(struct nftrule *nr, struct trace_record *recs, size_t n, uint64_t now_ns)
{
	if (now_ns > nr->now)
		nr->now = now_ns;

	for (size_t i = 0; i < n; i++) {
		struct trace_record *r = &recs[i];
		const struct ver *v = NULL;
		struct ntable *t;
		struct nchain *c;
		enum found f;

		if (r->backend != TRACE_BACKEND_NFT || r->rule)
			continue;
		r->rule_reason = NULL;
		if (nftrule_fill_fixed(r))
			continue;
		if (!step_chain(nr, r, &t, &c)) {
			r->rule_reason = REASON_NAME;
			continue;
		}
		if (!settled(nr, r)) {
			r->rule_reason = REASON_INFLIGHT;
			continue;
		}
		f = c->loaded ? lookup(nr, t, r, &v) : FND_NONE;
		if (f == FND_OK) {
			r->rule = v->text;
			continue;
		}
		if (c->listing && (f == FND_NONE || f == FND_RANGE))
			r->rule_reason = REASON_LATE;
		else if (c->err == -ENOENT)
			r->rule_reason = REASON_NOTABLE;
		else if (!c->loaded)
			r->rule_reason = c->err == -EINVAL ? REASON_NAME : REASON_UNREAD;
		else if (f == FND_UNSETTLED)
			r->rule_reason = REASON_UNSETTLED;
		else if (f == FND_RANGE)
			r->rule_reason = REASON_REPLACED;
		else if (f == FND_CHAIN)
			r->rule_reason = REASON_CHAIN;
		else
			r->rule_reason = REASON_GONE;
	}
}

/* ---- life ---- */

struct nftrule *nftrule_new(const struct nftrule_cfg *cfg)
{
	struct nftrule *nr = calloc(1, sizeof(*nr));
	int ret;

	if (!nr)
		return NULL;
	nr->cfg = *cfg;
	if (!nr->cfg.grace_ns)
		nr->cfg.grace_ns = DEFAULT_GRACE_NS;
	if (!nr->cfg.source) {
		ret = live_open(nr);
		if (ret < 0) {
			nftrule_free(nr);
			errno = -ret;
			return NULL;
		}
		nr->cfg.source = &nr->live;
	}
	return nr;
}

void nftrule_free(struct nftrule *nr)
{
	if (!nr)
		return;
	while (nr->tables) {
		struct ntable *t = nr->tables;

		nr->tables = t->next;
		table_free(t);
	}
	free(nr->global.a);
	free(nr->pend);
	free(nr->names);
	nftlist_free(nr->lister);
	free(nr);
}

