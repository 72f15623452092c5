/* SPDX-License-Identifier: GPL-2.0-or-later */
/* marker_legacy.c: TRACE rules at the head of raw PREROUTING/OUTPUT through libiptc */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>

#include "iptrace/diag.h"
#include "iptrace/marker.h"
#include "iptrace/xtblob.h"
#include "iptrace/xtlock.h"

/*
 * libiptc is two libraries with the same shape (iptc_* for IPv4, ip6tc_* for IPv6); this
 * table lets one body of code drive both. Everything libiptc stays in this file.
 */
struct tc_ops {
	int			family;
	const char		*cmd;	/* for messages */
	struct xtc_handle	*(*init)(const char *table);
	void			(*free)(struct xtc_handle *h);
	int			(*insert)(const xt_chainlabel chain, const void *e, unsigned int num,
					  struct xtc_handle *h);
	const void		*(*first)(const char *chain, struct xtc_handle *h);
	const void		*(*next)(const void *prev, struct xtc_handle *h);
	int			(*delete_num)(const xt_chainlabel chain, unsigned int num,
					      struct xtc_handle *h);
	int			(*commit)(struct xtc_handle *h);
	const char		*(*strerror)(int err);
	size_t			entry_size;	/* XT_ALIGN(sizeof(ipt_entry / ip6t_entry)) */
};

/* Thin casts: the two libraries differ only in the entry type. */
static int v4_insert(const xt_chainlabel c, const void *e, unsigned int n, struct xtc_handle *h)
{
	return iptc_insert_entry(c, e, n, h);
}
static const void *v4_first(const char *c, struct xtc_handle *h)
{
	return iptc_first_rule(c, h);
}
static const void *v4_next(const void *p, struct xtc_handle *h)
{
	return iptc_next_rule(p, h);
}
static int v6_insert(const xt_chainlabel c, const void *e, unsigned int n, struct xtc_handle *h)
{
	return ip6tc_insert_entry(c, e, n, h);
}
static const void *v6_first(const char *c, struct xtc_handle *h)
{
	return ip6tc_first_rule(c, h);
}
static const void *v6_next(const void *p, struct xtc_handle *h)
{
	return ip6tc_next_rule(p, h);
}

static const struct tc_ops tc_v4 = {
	.family = AF_INET, .cmd = "iptables",
	.init = iptc_init, .free = iptc_free, .insert = v4_insert,
	.first = v4_first, .next = v4_next, .delete_num = iptc_delete_num_entry,
	.commit = iptc_commit, .strerror = iptc_strerror,
	.entry_size = XT_ALIGN(sizeof(struct ipt_entry)),
};

static const struct tc_ops tc_v6 = {
	.family = AF_INET6, .cmd = "ip6tables",
	.init = ip6tc_init, .free = ip6tc_free, .insert = v6_insert,
	.first = v6_first, .next = v6_next, .delete_num = ip6tc_delete_num_entry,
	.commit = ip6tc_commit, .strerror = ip6tc_strerror,
	.entry_size = XT_ALIGN(sizeof(struct ip6t_entry)),
};

/* The chains the seed recipe marks in: every packet meets one of them first. */
static const char *const mark_chains[] = { "PREROUTING", "OUTPUT" };
#define NCHAINS 2

struct legacy_priv {
	uint64_t	unmarked;		/* selected packets --limit left unmarked */
	unsigned	installed[2][NCHAINS];	/* [v4/v6][chain] rules we inserted */
	bool		any;
	/* legacy_check(): the raw table's GET_INFO when our rules were last found whole. */
	struct xtblob_info	seen[2];
	bool			seen_ok[2];
};

#define ENTRY_MAX 2048

/* An entry under construction: the family's ipt_entry/ip6t_entry, then matches, target. */
struct entry_buf {
	union {
		struct ipt_entry	v4;
		struct ip6t_entry	v6;
		uint8_t			bytes[ENTRY_MAX];
	} u;
	size_t	len;
};

static void *add_ext(struct entry_buf *b, const char *name, uint8_t rev, size_t datalen)
{
	size_t size = XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(datalen);
	struct xt_entry_match *m;

	if (b->len + size > ENTRY_MAX)
		return NULL;
	m = (struct xt_entry_match *)(b->u.bytes + b->len);
	memset(m, 0, size);
	m->u.user.match_size = (uint16_t)size;
	snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", name);
	m->u.user.revision = rev;
	b->len += size;
	return m->data;
}

static int add_multiport(struct entry_buf *b, const struct port_list *pl, uint8_t flags)
{
	struct xt_multiport_v1 *mp;
	unsigned n = 0;

	mp = add_ext(b, "multiport", 1, sizeof(*mp));
	if (!mp)
		return -E2BIG;
	mp->flags = flags;
	for (size_t i = 0; i < pl->n; i++) {
		mp->ports[n] = pl->r[i].lo;
		if (pl->r[i].lo != pl->r[i].hi) {
			mp->pflags[n++] = 1;
			mp->ports[n] = pl->r[i].hi;
		}
		n++;
	}
	mp->count = (uint8_t)n;
	return 0;
}

/* One rule's variable part, chosen from the selection's lists. */
struct rule_spec {
	uint8_t				proto;	/* 0: any */
	const struct addr_prefix	*src, *dst;
};

static void set_iface(char *name, unsigned char *mask, const char *iface)
{
	size_t len = strlen(iface);

	snprintf(name, IFNAMSIZ, "%s", iface);
	/* A trailing '+' is iptables' wildcard: compare only what precedes it. */
	if (len && iface[len - 1] == '+')
		memset(mask, 0xff, len - 1);
	else
		memset(mask, 0xff, len + 1 > IFNAMSIZ ? IFNAMSIZ : len + 1);
}

/*
 * build_entry - the TRACE rule for @rs, or with @counting its counting twin: the same
 * matches without the limit and without a target (a fall-through rule that only counts).
 * Put right before a limited TRACE rule, the twin counts every selected packet, and is not
 * itself reported (the packet is not marked yet): its counter minus the TRACE rule's is
 * what the limit left unmarked.
 */
static int build_entry(const struct tc_ops *tc, const struct selection *sel,
		       const struct rule_spec *rs, bool output, const char *tag,
		       bool counting, struct entry_buf *b)
{
	struct xt_entry_target *t;
	struct xt_comment_info *ci;
	size_t tsize;

	memset(b, 0, sizeof(b->u.v6) > sizeof(b->u.v4) ? sizeof(b->u.v6) : sizeof(b->u.v4));
	b->len = tc->entry_size;
	if (tc->family == AF_INET) {
		struct ipt_ip *ip = &b->u.v4.ip;

		if (rs->src) {
			memcpy(&ip->src, &rs->src->addr, 4);
			addr_prefix_mask(rs->src->plen, (uint8_t *)&ip->smsk, 4);
		}
		if (rs->dst) {
			memcpy(&ip->dst, &rs->dst->addr, 4);
			addr_prefix_mask(rs->dst->plen, (uint8_t *)&ip->dmsk, 4);
		}
		ip->proto = rs->proto;
		if (sel->iface[0])
			set_iface(output ? ip->outiface : ip->iniface,
				  output ? ip->outiface_mask : ip->iniface_mask, sel->iface);
	} else {
		struct ip6t_ip6 *ip = &b->u.v6.ipv6;

		if (rs->src) {
			memcpy(&ip->src, &rs->src->addr, 16);
			addr_prefix_mask(rs->src->plen, ip->smsk.s6_addr, 16);
		}
		if (rs->dst) {
			memcpy(&ip->dst, &rs->dst->addr, 16);
			addr_prefix_mask(rs->dst->plen, ip->dmsk.s6_addr, 16);
		}
		ip->proto = rs->proto;
		/* Without IP6T_F_PROTO the protocol is ignored and port matches misfire. */
		if (rs->proto)
			ip->flags |= IP6T_F_PROTO;
		if (sel->iface[0])
			set_iface(output ? ip->outiface : ip->iniface,
				  output ? ip->outiface_mask : ip->iniface_mask, sel->iface);
	}
	if (sel->ports.n && add_multiport(b, &sel->ports, XT_MULTIPORT_EITHER) < 0)
		return -E2BIG;
	if (sel->sports.n && add_multiport(b, &sel->sports, XT_MULTIPORT_SOURCE) < 0)
		return -E2BIG;
	if (sel->dports.n && add_multiport(b, &sel->dports, XT_MULTIPORT_DESTINATION) < 0)
		return -E2BIG;
	if (sel->has_mark) {
		struct xt_mark_mtinfo1 *mk = add_ext(b, "mark", 1, sizeof(*mk));

		if (!mk)
			return -E2BIG;
		mk->mark = sel->mark;
		mk->mask = sel->mark_mask;
	}
	if (sel->limit && !counting) {
		struct xt_rateinfo *ri;

		/* A rate xt_limit can't hold would be an avg of 0: no limit at all. */
		if (!sel_limit_fits_xt(sel))
			return -ERANGE;
		ri = add_ext(b, "limit", 0, sizeof(*ri));
		if (!ri)
			return -E2BIG;
		ri->avg = XT_LIMIT_SCALE * sel->limit_unit / sel->limit;
		ri->burst = 5;
	}
	ci = add_ext(b, "comment", 0, sizeof(*ci));
	if (!ci)
		return -E2BIG;
	snprintf(ci->comment, sizeof(ci->comment), "%s", tag);

	/* No target name: libiptc makes it a fall-through, like iptables without -j. */
	tsize = counting ? XT_ALIGN(sizeof(struct xt_standard_target)) :
			   XT_ALIGN(sizeof(struct xt_entry_target));
	if (b->len + tsize > ENTRY_MAX)
		return -E2BIG;
	t = (struct xt_entry_target *)(b->u.bytes + b->len);
	memset(t, 0, tsize);
	t->u.user.target_size = (uint16_t)tsize;
	if (!counting)
		snprintf(t->u.user.name, sizeof(t->u.user.name), "TRACE");
	if (tc->family == AF_INET) {
		b->u.v4.target_offset = (uint16_t)b->len;
		b->u.v4.next_offset = (uint16_t)(b->len + tsize);
	} else {
		b->u.v6.target_offset = (uint16_t)b->len;
		b->u.v6.next_offset = (uint16_t)(b->len + tsize);
	}
	b->len += tsize;
	return 0;
}

/* Does entry @e carry a comment match equal to @tag? */
static bool entry_has_tag(const struct tc_ops *tc, const void *e, const char *tag)
{
	const uint8_t *base = e;
	uint16_t target_offset = tc->family == AF_INET ?
		((const struct ipt_entry *)e)->target_offset :
		((const struct ip6t_entry *)e)->target_offset;
	size_t off = tc->entry_size;

	while (off + sizeof(struct xt_entry_match) <= target_offset) {
		const struct xt_entry_match *mt = (const void *)(base + off);

		if (mt->u.match_size < sizeof(*mt))
			break;
		if (strcmp(mt->u.user.name, "comment") == 0) {
			const struct xt_comment_info *ci = (const void *)mt->data;

			if (strncmp(ci->comment, tag, sizeof(ci->comment)) == 0)
				return true;
		}
		off += mt->u.match_size;
	}
	return false;
}

struct remove_arg {
	const char	*tag;
	uint64_t	traced, counted;	/* packets: TRACE rules, counting twins */
};

/* Delete every rule tagged @ra->tag from @chain in @h, adding up their packet counters
 * first (the handle holds them as of init); returns how many or -errno. */
static int delete_tagged(const struct tc_ops *tc, struct xtc_handle *h, const char *chain,
			 struct remove_arg *ra)
{
	unsigned idx[256], n = 0, i = 0;
	const void *e;

	for (e = tc->first(chain, h); e; e = tc->next(e, h), i++) {
		const struct xt_counters *cnt;
		const struct xt_entry_target *t;
		uint16_t toff;

		if (!entry_has_tag(tc, e, ra->tag))
			continue;
		if (n == sizeof(idx) / sizeof(idx[0]))
			return -E2BIG;
		idx[n++] = i;
		if (tc->family == AF_INET) {
			cnt = &((const struct ipt_entry *)e)->counters;
			toff = ((const struct ipt_entry *)e)->target_offset;
		} else {
			cnt = &((const struct ip6t_entry *)e)->counters;
			toff = ((const struct ip6t_entry *)e)->target_offset;
		}
		t = (const void *)((const uint8_t *)e + toff);
		if (strcmp(t->u.user.name, "TRACE") == 0)
			ra->traced += cnt->pcnt;
		else
			ra->counted += cnt->pcnt;
	}
	/* From the last so earlier indices stay valid (delete_num is 0-based). */
	for (unsigned k = n; k-- > 0;)
		if (!tc->delete_num(chain, idx[k], h))
			return -errno;
	return (int)n;
}

/*
 * One transaction on the raw table: lock, init, @apply, commit, unlock; retried when the
 * commit races another writer (EAGAIN: the table changed under us). The lock is iptables'
 * (xtlock.h): its wait is bounded and a signal ends it; a caller may hold it already.
 */
static int raw_transaction(const struct tc_ops *tc, struct xtlock *lock, char *err,
			   size_t errlen,
			   int (*apply)(const struct tc_ops *tc, struct xtc_handle *h, void *arg),
			   void *arg)
{
	int ret = 0;

	for (int attempt = 0; attempt < 20; attempt++) {
		struct xtc_handle *h;

		ret = xtlock_take(lock);
		if (ret < 0) {
			snprintf(err, errlen, "%s", xtlock_error(lock));
			return ret;
		}
		h = tc->init("raw");
		if (!h) {
			ret = -errno;
			snprintf(err, errlen, "cannot open the %s raw table: %s", tc->cmd,
				 tc->strerror(errno));
			xtlock_drop(lock);
			return ret ? ret : -EIO;
		}
		ret = apply(tc, h, arg);
		if (ret >= 0 && !tc->commit(h)) {
			int e = errno;

			tc->free(h);
			xtlock_drop(lock);
			if (e == EAGAIN)
				continue;
			snprintf(err, errlen, "cannot commit the %s raw table: %s", tc->cmd,
				 tc->strerror(e));
			return -(e ? e : EIO);
		}
		if (ret < 0)
			snprintf(err, errlen, "cannot change the %s raw table: %s", tc->cmd,
				 tc->strerror(-ret));
		tc->free(h);
		xtlock_drop(lock);
		return ret;
	}
	snprintf(err, errlen, "the %s raw table kept changing under us (xtables lock not honoured?)",
		 tc->cmd);
	return -EAGAIN;
}

struct install_arg {
	const struct selection	*sel;
	const char		*tag;
	unsigned		*installed;	/* [NCHAINS] */
};

static int apply_install(const struct tc_ops *tc, struct xtc_handle *h, void *argp)
{
	struct install_arg *arg = argp;
	const struct selection *sel = arg->sel;
	const uint8_t *protos;
	size_t nprotos = selection_protos(sel, &protos);
	struct entry_buf b;
	int ret;

	for (size_t c = 0; c < NCHAINS; c++) {
		bool output = c == 1;
		unsigned pos = 0;
		/* One rule per address pair (selector.h) and protocol. */
		for (size_t ai = 0; ai < selection_addr_pairs(sel); ai++)
		for (size_t pi = 0; pi < (nprotos ? nprotos : 1); pi++) {
			struct rule_spec rs = { .proto = nprotos ? protos[pi] : 0 };

			selection_addr_pair(sel, ai, &rs.src, &rs.dst);
			if ((rs.src && rs.src->family != tc->family) ||
			    (rs.dst && rs.dst->family != tc->family) ||
			    !proto_fits_family(rs.proto, tc->family))
				continue;
			/* With --limit, the counting twin goes first (see build_entry). */
			for (int twin = sel->limit ? 1 : 0; twin >= 0; twin--) {
				ret = build_entry(tc, sel, &rs, output, arg->tag, twin, &b);
				if (ret < 0)
					return ret;
				/* At the head, in order: 0-based, whatever the header says. */
				if (!tc->insert(mark_chains[c], &b.u, pos, h))
					return -errno;
				pos++;
			}
		}
		arg->installed[c] = pos;
	}
	return 0;
}

static int apply_remove(const struct tc_ops *tc, struct xtc_handle *h, void *arg)
{
	struct remove_arg *ra = arg;
	int total = 0;

	ra->traced = ra->counted = 0;	/* a retried transaction counts afresh */
	for (size_t c = 0; c < NCHAINS; c++) {
		int n = delete_tagged(tc, h, mark_chains[c], ra);

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static const struct tc_ops *tc_for(int family)
{
	return family == AF_INET ? &tc_v4 : &tc_v6;
}

static int remove_counted(int family, struct xtlock *lock, struct remove_arg *ra, char *err,
			  size_t errlen)
{
	return raw_transaction(tc_for(family), lock, err, errlen, apply_remove, ra);
}

int legacy_remove_tagged(int family, const char *tag, struct xtlock *lock, char *err,
			 size_t errlen)
{
	struct remove_arg ra = { .tag = tag };

	return remove_counted(family, lock, &ra, err, errlen);
}

static int legacy_remove(struct marker *m)
{
	struct legacy_priv *lp = m->priv;
	int ret = 0;

	if (!lp || !lp->any)
		return 0;
	for (int f = 0; f < 2; f++) {
		int r;

		if (!lp->installed[f][0] && !lp->installed[f][1])
			continue;
		struct remove_arg ra = { .tag = m->tag };

		r = remove_counted(f ? AF_INET6 : AF_INET, m->lock, &ra, m->err, sizeof(m->err));
		if (r < 0) {
			ret = r;
			continue;
		}
		if (ra.counted > ra.traced)
			lp->unmarked += ra.counted - ra.traced;
		lp->installed[f][0] = lp->installed[f][1] = 0;
	}
	if (ret == 0)
		lp->any = false;
	return ret;
}

/* Read from /proc, never by opening a table: iptc_init() on a missing table creates it. */
int legacy_tables(int family, void (*fn)(void *ctx, const char *name), void *ctx)
{
	FILE *f = fopen(family == AF_INET6 ? "/proc/net/ip6_tables_names" :
			"/proc/net/ip_tables_names", "re");
	char line[64];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		n++;
		if (fn)
			fn(ctx, line);
	}
	fclose(f);
	return n;
}

bool legacy_family_in_use(int family)
{
	return legacy_tables(family, NULL, NULL) > 0;
}

struct table_find {
	const char	*name;
	bool		found;
};

static void table_seen(void *ctx, const char *name)
{
	struct table_find *tf = ctx;

	tf->found |= strcmp(name, tf->name) == 0;
}

bool legacy_table_exists(int family, const char *name)
{
	struct table_find tf = { name, false };

	legacy_tables(family, table_seen, &tf);
	return tf.found;
}

int legacy_table_info(int fd, int family, const char *table, struct xtblob_info *out)
{
	int v6 = family == AF_INET6;
	struct ipt_getinfo info;	/* ip6t_getinfo has the same layout */
	socklen_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	snprintf(info.name, sizeof(info.name), "%s", table);
	if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO,
		       &info, &len) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->family = family;
	snprintf(out->name, sizeof(out->name), "%s", table);
	out->valid_hooks = info.valid_hooks;
	memcpy(out->hook_entry, info.hook_entry, sizeof(out->hook_entry));
	memcpy(out->underflow, info.underflow, sizeof(out->underflow));
	out->num_entries = info.num_entries;
	out->size = info.size;
	return 0;
}

static int legacy_install(struct marker *m)
{
	unsigned fams = m->sel->families, used = 0;
	struct legacy_priv *lp = m->priv;
	int ret;

	if (!lp) {
		lp = calloc(1, sizeof(*lp));
		if (!lp)
			return -ENOMEM;
		m->priv = lp;
	}
	/*
	 * A family whose legacy tables are unused has no legacy chains to trace: marking it
	 * would only create its raw table for good. Unless no family is in use at all (the
	 * legacy marker was asked for on a bare namespace), mark only the families in use.
	 */
	for (int f = 0; f < 2; f++)
		if (legacy_family_in_use(f ? AF_INET6 : AF_INET))
			used |= f ? SEL_IPV6 : SEL_IPV4;
	if (fams & used)
		fams &= used;
	for (int f = 0; f < 2; f++) {
		struct install_arg arg = { m->sel, m->tag, lp->installed[f] };

		if (!(fams & (f ? SEL_IPV6 : SEL_IPV4)))
			continue;
		if (!legacy_table_exists(f ? AF_INET6 : AF_INET, "raw"))
			diag_note("creating the %s legacy raw table for the trace rules; the kernel "
				  "keeps it after iptrace exits", f ? "ip6tables" : "iptables");
		/* Mark before committing: a crash after the commit must still be cleaned. */
		lp->any = true;
		ret = raw_transaction(tc_for(f ? AF_INET6 : AF_INET), m->lock, m->err,
				      sizeof(m->err), apply_install, &arg);
		if (ret < 0) {
			char saved[sizeof(m->err)];

			memcpy(saved, m->err, sizeof(saved));
			legacy_remove(m);
			memcpy(m->err, saved, sizeof(saved));
			return ret;
		}
	}
	return 0;
}

/* Our rules in each mark chain of @tc's raw table as it is now (read, not changed). */
static int count_tagged(const struct tc_ops *tc, const char *tag, unsigned n[NCHAINS])
{
	struct xtc_handle *h = tc->init("raw");

	if (!h)
		return -(errno ? errno : EIO);
	for (size_t c = 0; c < NCHAINS; c++) {
		n[c] = 0;
		for (const void *e = tc->first(mark_chains[c], h); e; e = tc->next(e, h))
			n[c] += entry_has_tag(tc, e, tag);
	}
	tc->free(h);
	return 0;
}

/* Put back: what is left of ours out (its counters added up), the whole set in afresh. */
struct readd_arg {
	struct remove_arg	ra;
	struct install_arg	ia;
};

static int apply_readd(const struct tc_ops *tc, struct xtc_handle *h, void *argp)
{
	struct readd_arg *arg = argp;
	int ret = apply_remove(tc, h, &arg->ra);

	return ret < 0 ? ret : apply_install(tc, h, &arg->ia);
}

/*
 * Another program may rewrite the raw table whole (iptables-restore, a firewall's reload)
 * and our rules with it: tracing would stop without a word. GET_INFO tells a change for a
 * few µs; only then are the rules counted, and put back when some are missing.
 */
static int legacy_check(struct marker *m)
{
	struct legacy_priv *lp = m->priv;
	int ret = 0;

	if (!lp || !lp->any)
		return 0;
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, fd, r;
		const struct tc_ops *tc = tc_for(family);
		struct xtblob_info now;
		unsigned have[NCHAINS];

		if (!lp->installed[f][0] && !lp->installed[f][1])
			continue;
		fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (fd < 0)
			return -errno;
		r = legacy_table_info(fd, family, "raw", &now);
		close(fd);
		if (r < 0)
			return r;
		if (lp->seen_ok[f] && memcmp(&now, &lp->seen[f], sizeof(now)) == 0)
			continue;
		/* Counted after the GET_INFO: a change between the two is seen next time. */
		r = count_tagged(tc, m->tag, have);
		if (r < 0)
			return r;
		if (have[0] == lp->installed[f][0] && have[1] == lp->installed[f][1]) {
			lp->seen[f] = now;
			lp->seen_ok[f] = true;
			continue;
		}
		struct readd_arg arg = { .ra = { .tag = m->tag },
					 .ia = { m->sel, m->tag, lp->installed[f] } };

		r = raw_transaction(tc, m->lock, m->err, sizeof(m->err), apply_readd, &arg);
		if (r < 0)
			return r;
		if (arg.ra.counted > arg.ra.traced)
			lp->unmarked += arg.ra.counted - arg.ra.traced;
		/* Not seen whole yet: the next check counts again, then takes its GET_INFO. */
		lp->seen_ok[f] = false;
		ret = 1;
	}
	return ret;
}

static bool legacy_owns(const struct marker *m, const struct trace_record *rec)
{
	const struct legacy_priv *lp = m->priv;
	int f = rec->pkt.family == AF_INET6 || rec->nfproto == AF_INET6 ? 1 : 0;

	if (!lp || rec->backend != TRACE_BACKEND_LEGACY || rec->kind != TRACE_KIND_RULE ||
	    strcmp(rec->table, "raw") != 0)
		return false;
	for (size_t c = 0; c < NCHAINS; c++)
		if (strcmp(rec->chain, mark_chains[c]) == 0)
			return rec->rulenum <= lp->installed[f][c];
	return false;
}

static uint64_t legacy_unmarked(const struct marker *m)
{
	const struct legacy_priv *lp = m->priv;

	return lp ? lp->unmarked : 0;
}

static void legacy_release(struct marker *m)
{
	free(m->priv);
	m->priv = NULL;
}

const struct marker_ops marker_legacy_ops = {
	.name = "legacy",
	.install = legacy_install,
	.remove = legacy_remove,
	.owns = legacy_owns,
	.unmarked = legacy_unmarked,
	.check = legacy_check,
	.release = legacy_release,
};
