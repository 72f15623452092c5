/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtblob.c: a legacy table's GET_ENTRIES blob → chains of rule identities and evidence (pure) */
/* net/if.h (through record.h) before the uapi headers, which then skip their copy of it. */
#include "iptrace/array.h"
#include "iptrace/xtblob.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

struct xtversion {
	struct xtblob_info	info;
	uint64_t		fp;
	uint32_t		nrules;
	struct xt_chain		*chains;
	uint32_t		nchains;
	uint32_t		*byname;	/* chain indices sorted by name */
	char			*names;		/* chain names, NUL-separated */
	char			(*tnames)[XT_EXTENSION_MAXNAMELEN];
	uint32_t		ntnames;
	struct xt_rule		*rules;		/* every chain's rules, in blob order */
	struct xt_evidence	*evs;
};

/* Where the fields are: ipt_entry and ip6t_entry differ only in the ip part's size. */
struct layout {
	size_t	esz, ipsz, nfcache, target_offset, next_offset, comefrom, counters;
};

static const struct layout L4 = {
	sizeof(struct ipt_entry), sizeof(struct ipt_ip), offsetof(struct ipt_entry, nfcache),
	offsetof(struct ipt_entry, target_offset), offsetof(struct ipt_entry, next_offset),
	offsetof(struct ipt_entry, comefrom), offsetof(struct ipt_entry, counters),
};
static const struct layout L6 = {
	sizeof(struct ip6t_entry), sizeof(struct ip6t_ip6), offsetof(struct ip6t_entry, nfcache),
	offsetof(struct ip6t_entry, target_offset), offsetof(struct ip6t_entry, next_offset),
	offsetof(struct ip6t_entry, comefrom), offsetof(struct ip6t_entry, counters),
};

static const char *const HOOKS[5] = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" };

static uint16_t u16_at(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int32_t i32_at(const unsigned char *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h, w);
	}
	w = 0;
	memcpy(&w, p, n);
	return mix(h, w ^ ((uint64_t)n << 56));
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return hash_bytes(h, s, strlen(s));
}

void xtversion_free(struct xtversion *v)
{
	if (!v)
		return;
	free(v->chains);
	free(v->byname);
	free(v->names);
	free(v->tnames);
	free(v->rules);
	free(v->evs);
	free(v);
}

/* The entry at byte offset @off, by binary search over the entries' offsets. */
static long entry_index(const uint32_t *offs, uint32_t n, uint32_t off)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (offs[mid] == off)
			return mid;
		if (offs[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const struct xtversion *sort_ctx;	/* qsort has no context argument */

static int byname_cmp(const void *a, const void *b)
{
	return strcmp(sort_ctx->chains[*(const uint32_t *)a].name,
		      sort_ctx->chains[*(const uint32_t *)b].name);
}

static uint32_t tname_index(struct xtversion *v, const char *name, size_t *cap)
{
	for (uint32_t i = 0; i < v->ntnames; i++)
		if (strncmp(v->tnames[i], name, XT_EXTENSION_MAXNAMELEN) == 0)
			return i;
	if (v->ntnames == *cap) {
		void *p = array_grow(v->tnames, cap, sizeof(*v->tnames), 8);

		if (!p)
			return UINT32_MAX;
		v->tnames = p;
	}
	memset(v->tnames[v->ntnames], 0, XT_EXTENSION_MAXNAMELEN);
	memcpy(v->tnames[v->ntnames], name, strnlen(name, XT_EXTENSION_MAXNAMELEN - 1));
	return v->ntnames++;
}

/* -g: the ip part's flag (entries are not aligned for the struct in every caller's buffer). */
static bool is_goto(int family, const unsigned char *e)
{
	if (family == AF_INET)
		return e[offsetof(struct ipt_ip, flags)] & IPT_F_GOTO;
	return e[offsetof(struct ip6t_ip6, flags)] & IP6T_F_GOTO;
}

/* The ip part and a tcp/udp match of entry @e, for xtstep_fits(). */
static void evidence(const struct layout *L, int family, const unsigned char *e,
		     struct xt_evidence *ev)
{
	uint16_t toff = u16_at(e + L->target_offset);

	memset(ev, 0, sizeof(*ev));
	ev->family = (uint8_t)family;
	if (family == AF_INET) {
		struct ipt_ip ip;

		memcpy(&ip, e, sizeof(ip));
		memcpy(ev->src, &ip.src, 4);
		memcpy(ev->dst, &ip.dst, 4);
		memcpy(ev->smsk, &ip.smsk, 4);
		memcpy(ev->dmsk, &ip.dmsk, 4);
		ev->proto = ip.proto;
		ev->flags = ip.flags;
		ev->invflags = ip.invflags;
	} else {
		struct ip6t_ip6 ip;

		memcpy(&ip, e, sizeof(ip));
		memcpy(ev->src, &ip.src, 16);
		memcpy(ev->dst, &ip.dst, 16);
		memcpy(ev->smsk, &ip.smsk, 16);
		memcpy(ev->dmsk, &ip.dmsk, 16);
		ev->proto = ip.proto;
		ev->flags = ip.flags;
		ev->invflags = ip.invflags;
	}
	for (size_t off = L->esz; off + sizeof(struct xt_entry_match) <= toff;) {
		const unsigned char *m = e + off;
		uint16_t msz = u16_at(m);
		const char *name = (const char *)m + offsetof(struct xt_entry_match, u.user.name);
		uint8_t rev = m[offsetof(struct xt_entry_match, u.user.revision)];
		size_t dlen = msz - sizeof(struct xt_entry_match);

		if (msz < sizeof(struct xt_entry_match) || off + msz > toff)
			break;
		if (rev == 0 && strcmp(name, "udp") == 0 && dlen >= sizeof(struct xt_udp)) {
			struct xt_udp u;

			memcpy(&u, m + sizeof(struct xt_entry_match), sizeof(u));
			ev->l4proto = IPPROTO_UDP;
			memcpy(ev->spts, u.spts, sizeof(ev->spts));
			memcpy(ev->dpts, u.dpts, sizeof(ev->dpts));
			ev->l4inv = u.invflags;
			ev->flg_mask = 0;
			break;
		}
		if (rev == 0 && strcmp(name, "tcp") == 0 && dlen >= sizeof(struct xt_tcp)) {
			struct xt_tcp t;

			memcpy(&t, m + sizeof(struct xt_entry_match), sizeof(t));
			ev->l4proto = IPPROTO_TCP;
			memcpy(ev->spts, t.spts, sizeof(ev->spts));
			memcpy(ev->dpts, t.dpts, sizeof(ev->dpts));
			ev->l4inv = t.invflags;
			ev->flg_mask = t.flg_mask;
			ev->flg_cmp = t.flg_cmp;
			break;
		}
		off += msz;
	}
}

/*
 * The parse goes entry by entry in one pass, so that a reader can feed the blob as the
 * kernel writes it and drop what was read (resolver.c): only a jump's target is resolved at
 * the end, when every chain's place is known.
 */
struct xtparse {
	const struct layout	*L;
	bool			(*want)(void *ctx, const char *chain);
	void			*ctx;
	struct xtversion	*v;
	size_t			done;		/* bytes of entries consumed */
	bool			ended;		/* the table's closing ERROR entry was read */
	int			err;
	/* Per entry (rules and ERROR heads alike), for a jump's target. */
	uint32_t		*offs, *chain_of, *pos_of, n, ecap;
	uint32_t		nrule, rcap;	/* rules (chain ends included) so far */
	uint32_t		ccap;		/* chains, first, evbase */
	uint32_t		evcap;
	size_t			names_len, ncap, tcap, nev;
	uint32_t		*first;		/* per chain: its first rule's index */
	uint32_t		*evbase;	/* per chain: its first evidence's index, or -1 */
};

/* @ptr to room for @need elements of @size bytes (capacity *@cap). 0 or -ENOMEM. */
static int grow(void **ptr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t nc;
	void *n;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	if (nc < need)
		nc = need;
	n = realloc(*ptr, (size_t)nc * size);
	if (!n)
		return -ENOMEM;
	*ptr = n;
	*cap = nc;
	return 0;
}

/* grow() for arrays that share one count: each keeps its data if another fails. */
static int grow3(void **a, void **b, void **c, uint32_t *cap, uint32_t need,
		 size_t sa, size_t sb, size_t sc)
{
	uint32_t ca = *cap, cb = *cap, cc = *cap;

	if (grow(a, &ca, need, sa) < 0 || grow(b, &cb, need, sb) < 0 ||
	    (c && grow(c, &cc, need, sc) < 0))
		return -ENOMEM;
	*cap = ca;
	return 0;
}

struct xtparse *xtparse_new(const struct xtblob_info *info,
			    bool (*want)(void *ctx, const char *chain), void *ctx)
{
	struct xtparse *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->v = calloc(1, sizeof(*p->v));
	if (!p->v) {
		free(p);
		return NULL;
	}
	p->v->info = *info;
	p->L = info->family == AF_INET6 ? &L6 : &L4;
	p->want = want;
	p->ctx = ctx;
	/* Room for every entry GET_INFO counted (no more than the size can hold): no regrowth. */
	{
		uint32_t n = info->num_entries, most = (uint32_t)(info->size /
			     (p->L->esz + sizeof(struct xt_entry_target)));

		if (n > most)
			n = most;
		if (n && (grow3((void **)&p->offs, (void **)&p->chain_of, (void **)&p->pos_of,
				&p->ecap, n, sizeof(*p->offs), sizeof(*p->chain_of),
				sizeof(*p->pos_of)) < 0 ||
			  grow((void **)&p->v->rules, &p->rcap, n, sizeof(*p->v->rules)) < 0)) {
			xtparse_free(p);
			return NULL;
		}
	}
	return p;
}

void xtparse_free(struct xtparse *p)
{
	if (!p)
		return;
	xtversion_free(p->v);
	free(p->offs);
	free(p->chain_of);
	free(p->pos_of);
	free(p->first);
	free(p->evbase);
	free(p);
}

/* A new chain named @name (base: @hook >= 0). */
static int chain_start(struct xtparse *p, const char *name, int hook)
{
	struct xtversion *v = p->v;
	size_t l = strlen(name) + 1;
	struct xt_chain *c;

	if (grow3((void **)&v->chains, (void **)&p->first, (void **)&p->evbase, &p->ccap,
		  v->nchains + 1, sizeof(*v->chains), sizeof(*p->first), sizeof(*p->evbase)) < 0)
		return -ENOMEM;
	if (p->names_len + l > p->ncap) {
		size_t nc = p->ncap ? p->ncap * 2 : 4096;
		char *n;

		while (nc < p->names_len + l)
			nc *= 2;
		n = realloc(v->names, nc);
		if (!n)
			return -ENOMEM;
		v->names = n;
		p->ncap = nc;
	}
	memcpy(v->names + p->names_len, name, l);
	c = &v->chains[v->nchains];
	memset(c, 0, sizeof(*c));
	c->name = (const char *)(uintptr_t)p->names_len;	/* an offset until the end */
	c->hook = (int8_t)hook;
	p->first[v->nchains] = p->nrule;
	p->evbase[v->nchains] = p->want && p->want(p->ctx, name) ? (uint32_t)p->nev : UINT32_MAX;
	p->names_len += l;
	v->nchains++;
	return 0;
}

/* One whole entry at p->done. */
static int entry(struct xtparse *p, const unsigned char *e)
{
	const struct layout *L = p->L;
	struct xtversion *v = p->v;
	const struct xtblob_info *info = &v->info;
	uint16_t toff = u16_at(e + L->target_offset), noff = u16_at(e + L->next_offset);
	const unsigned char *t = e + toff;
	const char *tname = (const char *)t + offsetof(struct xt_entry_target, u.user.name);
	uint32_t off = (uint32_t)p->done, cur = v->nchains - 1;
	unsigned char buf[65536];
	struct xt_rule *r;
	uint64_t h = 0x510e527fade682d1ull;
	int hook = -1, ret;

	if (toff < L->esz || (size_t)toff + sizeof(struct xt_entry_target) > noff || noff % 8 ||
	    memchr(tname, '\0', XT_EXTENSION_MAXNAMELEN) == NULL || p->ended)
		return -EINVAL;
	if (grow3((void **)&p->offs, (void **)&p->chain_of, (void **)&p->pos_of, &p->ecap,
		  p->n + 1, sizeof(*p->offs), sizeof(*p->chain_of), sizeof(*p->pos_of)) < 0)
		return -ENOMEM;
	p->offs[p->n] = off;
	p->chain_of[p->n] = UINT32_MAX;
	for (int k = 0; k < 5; k++)
		if ((info->valid_hooks & (1u << k)) && info->hook_entry[k] == off)
			hook = k;
	if (strcmp(tname, XT_ERROR_TARGET) == 0 && hook < 0) {
		const char *name = (const char *)t + sizeof(struct xt_entry_target);

		p->n++;
		if (off + noff == info->size) {
			p->ended = true;	/* the table's end */
			return 0;
		}
		if (u16_at(t) < sizeof(struct xt_error_target) ||
		    memchr(name, '\0', XT_FUNCTION_MAXNAMELEN) == NULL)
			return -EINVAL;
		if (v->nchains && v->chains[cur].n == 0)
			return -EINVAL;	/* every chain ends with its policy/RETURN */
		return chain_start(p, name, -1);
	}
	if (hook >= 0) {
		if (v->nchains && v->chains[cur].n == 0)
			return -EINVAL;
		ret = chain_start(p, HOOKS[hook], hook);
		if (ret < 0)
			return ret;
		cur = v->nchains - 1;
	}
	if (!v->nchains)
		return -EINVAL;	/* an entry outside any chain */
	if (grow((void **)&v->rules, &p->rcap, p->nrule + 1, sizeof(*v->rules)) < 0)
		return -ENOMEM;
	p->chain_of[p->n] = cur;
	p->pos_of[p->n] = ++v->chains[cur].n;
	p->n++;
	r = &v->rules[p->nrule++];
	memset(r, 0, sizeof(*r));
	memcpy(buf, e, noff);
	memset(buf + L->nfcache, 0, 4);
	memset(buf + L->comefrom, 0, 4);
	memset(buf + L->counters, 0, sizeof(struct xt_counters));
	r->uncond = toff == L->esz;
	for (size_t k = 0; r->uncond && k < L->ipsz; k++)
		if (e[k])
			r->uncond = false;
	if (tname[0] == '\0' && u16_at(t) >= sizeof(struct xt_standard_target)) {
		int32_t verdict = i32_at(t + sizeof(struct xt_entry_target));

		memset(buf + toff + sizeof(struct xt_entry_target), 0, sizeof(int32_t));
		if (verdict < 0) {
			r->kind = XTV_STANDARD;
			r->verdict = verdict;
			h = mix(h, (uint64_t)(uint32_t)verdict);
		} else if ((uint32_t)verdict == off + noff && !is_goto(info->family, e)) {
			r->kind = XTV_FALLTHROUGH;
			h = mix(h, 0xfa11);
		} else {
			/* Named at the end, when the target's chain is known. */
			r->kind = is_goto(info->family, e) ? XTV_GOTO : XTV_JUMP;
			r->target = (uint32_t)verdict;
		}
	} else {
		r->kind = XTV_EXTENSION;
		r->target = tname_index(v, tname, &p->tcap);
		if (r->target == UINT32_MAX)
			return -ENOMEM;
	}
	r->id = hash_bytes(h, buf, noff);
	if (p->evbase[cur] != UINT32_MAX) {
		if (grow((void **)&v->evs, &p->evcap, (uint32_t)p->nev + 1, sizeof(*v->evs)) < 0)
			return -ENOMEM;
		evidence(L, info->family, e, &v->evs[p->nev++]);
	}
	return 0;
}

int xtparse_feed(struct xtparse *p, const void *entries, size_t upto)
{
	const unsigned char *blob = entries;
	const struct layout *L = p->L;

	if (upto > p->v->info.size)
		upto = p->v->info.size;
	while (!p->err && p->done + L->esz + sizeof(struct xt_entry_target) <= upto) {
		uint16_t noff = u16_at(blob + p->done + L->next_offset);

		if (noff < L->esz + sizeof(struct xt_entry_target) ||
		    p->done + noff > p->v->info.size) {
			p->err = -EINVAL;
			break;
		}
		if (p->done + noff > upto)
			break;	/* not all written yet */
		p->err = entry(p, blob + p->done);
		p->done += noff;
	}
	return p->err;
}

size_t xtparse_done(const struct xtparse *p)
{
	return p->done;
}

int xtparse_end(struct xtparse *p, struct xtversion **out)
{
	struct xtversion *v = p->v;
	uint64_t fp;
	int ret = p->err;

	if (!ret && (p->done != v->info.size || !p->ended || !v->nchains ||
		     v->chains[v->nchains - 1].n == 0))
		ret = -EINVAL;
	if (ret)
		goto out;
	for (uint32_t c = 0; c < v->nchains; c++) {
		struct xt_chain *ch = &v->chains[c];

		ch->name = v->names + (uintptr_t)ch->name;
		ch->rules = v->rules + p->first[c];
		ch->ev = p->evbase[c] != UINT32_MAX ? v->evs + p->evbase[c] : NULL;
		ch->n--;	/* the end is not a rule */
		v->nrules += ch->n;
	}
	/* A jump names its chain (and the rule, if not the chain's head). */
	for (uint32_t i = 0; i < p->nrule; i++) {
		struct xt_rule *r = &v->rules[i];
		long j;

		if (r->kind != XTV_JUMP && r->kind != XTV_GOTO)
			continue;
		j = entry_index(p->offs, p->n, r->target);
		if (j < 0 || p->chain_of[j] == UINT32_MAX) {
			ret = -EINVAL;
			goto out;
		}
		r->target = p->chain_of[j];
		r->id = mix(hash_str(r->id ^ r->kind, v->chains[r->target].name), p->pos_of[j]);
	}
	/* Identity stands for content: the same chains and rules, the same fingerprint. */
	fp = mix(0x6a09e667f3bcc908ull, (uint64_t)v->info.family << 32 | v->info.valid_hooks);
	for (uint32_t c = 0; c < v->nchains; c++) {
		fp = hash_str(fp, v->chains[c].name);
		for (uint32_t k = 0; k <= v->chains[c].n; k++)
			fp = mix(fp, v->chains[c].rules[k].id);
	}
	v->fp = fp;
	v->byname = malloc(v->nchains * sizeof(*v->byname));
	if (!v->byname) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t c = 0; c < v->nchains; c++)
		v->byname[c] = c;
	sort_ctx = v;
	qsort(v->byname, v->nchains, sizeof(*v->byname), byname_cmp);
	sort_ctx = NULL;
	*out = v;
	p->v = NULL;
out:
	xtparse_free(p);
	return ret;
}

int xtversion_parse(const struct xtblob_info *info, const void *entries, size_t size,
		    bool (*want)(void *ctx, const char *chain), void *ctx,
		    struct xtversion **out)
{
	struct xtparse *p = xtparse_new(info, want, ctx);

	if (!p)
		return -ENOMEM;
	xtparse_feed(p, entries, size);	/* a short blob ends early: xtparse_end() says so */
	return xtparse_end(p, out);
}

uint64_t xtversion_fp(const struct xtversion *v)
{
	return v->fp;
}

uint32_t xtversion_rules(const struct xtversion *v)
{
	return v->nrules;
}

const struct xt_chain *xtversion_chain(const struct xtversion *v, const char *name)
{
	uint32_t lo = 0, hi = v->nchains;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct xt_chain *c = &v->chains[v->byname[mid]];
		int d = strcmp(name, c->name);

		if (d == 0)
			return c;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct xt_chain *xtversion_chain_at(const struct xtversion *v, uint32_t i)
{
	return i < v->nchains ? &v->chains[i] : NULL;
}

uint32_t xtversion_nchains(const struct xtversion *v)
{
	return v->nchains;
}

const char *xtversion_target_name(const struct xtversion *v, uint32_t i)
{
	return i < v->ntnames ? v->tnames[i] : "";
}

const struct xt_rule *xtversion_step(const struct xtversion *v, const char *chain,
				     enum trace_kind kind, uint32_t num,
				     const struct xt_evidence **ev)
{
	const struct xt_chain *c = xtversion_chain(v, chain);
	const struct xt_rule *r;
	enum trace_kind label;

	if (!c || num == 0 || num > c->n + 1)
		return NULL;
	r = &c->rules[num - 1];
	/* ip_tables.c: an unconditional rule with a standard verdict is traced as the end. */
	label = TRACE_KIND_RULE;
	if (r->uncond && r->kind == XTV_STANDARD)
		label = c->hook >= 0 ? TRACE_KIND_POLICY : TRACE_KIND_RETURN;
	if (ev)
		*ev = c->ev ? &c->ev[num - 1] : NULL;
	return label == kind ? r : NULL;
}

const char *xtversion_jump_chain(const struct xtversion *v, const struct xt_rule *r)
{
	if (r->kind != XTV_JUMP && r->kind != XTV_GOTO)
		return NULL;
	return v->chains[r->target].name;
}

const char *xtversion_verdict(const struct xtversion *v, const struct xt_rule *r, char *buf,
			      size_t size, bool *cont)
{
	/* Targets that return XT_CONTINUE: the packet goes on to the next rule. */
	static const char *const nonterminal[] = {
		"MARK", "CONNMARK", "LOG", "NFLOG", "ULOG", "TRACE", "CLASSIFY", "DSCP", "TOS",
		"TTL", "HL", "ECN", "CHECKSUM", "TCPMSS", "TCPOPTSTRIP", "SET", "CT", "NOTRACK",
		"AUDIT", "SECMARK", "CONNSECMARK", "IDLETIMER", "LED", "TEE", "RATEEST", "HMARK",
		"CLUSTERIP", NULL,
	};

	*cont = false;
	switch (r->kind) {
	case XTV_STANDARD:
		switch (r->verdict) {
		case -NF_ACCEPT - 1:
			snprintf(buf, size, "ACCEPT");
			break;
		case -NF_DROP - 1:
			snprintf(buf, size, "DROP");
			break;
		case -NF_QUEUE - 1:
			snprintf(buf, size, "QUEUE");
			break;
		case XT_RETURN:
			snprintf(buf, size, "RETURN");
			break;
		default:
			snprintf(buf, size, "verdict %d", (int)r->verdict);
			break;
		}
		break;
	case XTV_JUMP:
	case XTV_GOTO:
		snprintf(buf, size, "%s %s", r->kind == XTV_JUMP ? "jump" : "goto",
			 v->chains[r->target].name);
		break;
	case XTV_FALLTHROUGH:
		snprintf(buf, size, "continue");
		*cont = true;
		break;
	default:
		snprintf(buf, size, "%s", xtversion_target_name(v, r->target));
		for (const char *const *p = nonterminal; *p; p++)
			if (strcmp(*p, buf) == 0)
				*cont = true;
		break;
	}
	return buf;
}

static bool port_in(uint16_t port, const uint16_t range[2], bool inv)
{
	return (port >= range[0] && port <= range[1]) != inv;
}

/* Masked address compare over @n bytes, as ip_packet_match()/ip6_packet_match() do. */
static bool addr_ok(const uint8_t *pkt, const uint8_t *addr, const uint8_t *msk, size_t n,
		    bool inv)
{
	bool eq = true;

	for (size_t i = 0; i < n; i++)
		if ((pkt[i] & msk[i]) != addr[i])
			eq = false;
	return eq != inv;
}

bool xtstep_fits(const struct xt_evidence *ev, const struct pkt_hdr *pkt)
{
	size_t alen;
	bool frag;

	if (!ev || pkt->family != ev->family)
		return true;	/* nothing to say */
	alen = ev->family == AF_INET ? 4 : 16;
	if (ev->family == AF_INET) {
		if (!addr_ok((const uint8_t *)&pkt->saddr, ev->src, ev->smsk, 4,
			     ev->invflags & IPT_INV_SRCIP) ||
		    !addr_ok((const uint8_t *)&pkt->daddr, ev->dst, ev->dmsk, 4,
			     ev->invflags & IPT_INV_DSTIP))
			return false;
		if (ev->proto && (pkt->proto != ev->proto) != !!(ev->invflags & IPT_INV_PROTO))
			return false;
		frag = (pkt->frag & 0x1fff) != 0;
		if ((ev->flags & IPT_F_FRAG) && frag == !!(ev->invflags & IPT_INV_FRAG))
			return false;
	} else {
		if (!addr_ok((const uint8_t *)&pkt->saddr, ev->src, ev->smsk, alen,
			     ev->invflags & IP6T_INV_SRCIP) ||
		    !addr_ok((const uint8_t *)&pkt->daddr, ev->dst, ev->dmsk, alen,
			     ev->invflags & IP6T_INV_DSTIP))
			return false;
		/* ip6_packet_match's protocol test walks extension headers: only the plain case. */
		if ((ev->flags & IP6T_F_PROTO) && !(ev->invflags & IP6T_INV_PROTO) &&
		    ev->proto && pkt->proto != ev->proto)
			return false;
		frag = false;
	}
	/* tcp/udp matches: never on a later fragment; ports (and TCP flags) as the kernel. */
	if (ev->l4proto && !frag && pkt->has_l4 && pkt->proto == ev->l4proto &&
	    pkt->has_ports) {
		if (!port_in(pkt->sport, ev->spts, ev->l4inv & XT_UDP_INV_SRCPT) ||
		    !port_in(pkt->dport, ev->dpts, ev->l4inv & XT_UDP_INV_DSTPT))
			return false;
		if (ev->l4proto == IPPROTO_TCP &&
		    ((pkt->tcp_flags & ev->flg_mask) == ev->flg_cmp) ==
		    !!(ev->l4inv & XT_TCP_INV_FLAGS))
			return false;
	}
	return true;
}
