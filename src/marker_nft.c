/* SPDX-License-Identifier: GPL-2.0-or-later */
/* marker_nft.c: an owned inet table whose base chains set nftrace on selected packets */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "iptrace/diag.h"
#include "iptrace/marker.h"

/*
 * Before raw (-300), after defragmentation (-400): the bit is set before any other table
 * sees the packet, so every later chain, legacy or nft, reports it.
 */
#define MARK_PRIO	-350
#define MAX_RULES	256	/* per chain: a selection that needs more is refused */
#define BATCH_SIZE	(1u << 20)

static const struct {
	const char	*name;
	uint32_t	hook;
	bool		output;
} mark_chains[] = {
	{ "prerouting", NF_INET_PRE_ROUTING, false },
	{ "output", NF_INET_LOCAL_OUT, true },
};

struct nft_priv {
	/*
	 * The socket that created the table: the owner flag ties the table's life to it, so it
	 * stays open for the whole capture and only it may change the table.
	 */
	struct mnl_socket	*nl;
	char			table[TRACE_NAME_MAX];
	bool			installed;
	uint32_t		seq;
	uint64_t		unmarked;	/* selected packets --limit left unmarked */
};

static int fail(struct marker *m, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- expressions ---- */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int put_meta_load(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add_expr(r, e);
}

static int put_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	return add_expr(r, e);
}

static int put_cmp(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

static int put_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return add_expr(r, e);
}

/* th sport/dport in [lo, hi]: a cmp for one port, a range for more. */
static int put_port(struct nftnl_rule *r, bool dst, const struct port_range *pr)
{
	uint16_t lo = htons(pr->lo), hi = htons(pr->hi);
	struct nftnl_expr *e;
	int ret = put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, dst ? 2 : 0, 2);

	if (ret < 0)
		return ret;
	if (pr->lo == pr->hi)
		return put_cmp(r, &lo, sizeof(lo));
	e = nftnl_expr_alloc("range");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &lo, sizeof(lo));
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &hi, sizeof(hi));
	}
	return add_expr(r, e);
}

/* ip saddr/daddr or ip6 saddr/daddr within a prefix. */
static int put_addr(struct nftnl_rule *r, const struct addr_prefix *a, bool dst)
{
	unsigned len = a->family == AF_INET ? 4 : 16;
	unsigned off = a->family == AF_INET ? (dst ? 16 : 12) : (dst ? 24 : 8);
	uint8_t mask[16] = { 0 }, val[16];
	int ret;

	addr_prefix_mask(a->plen, mask, len);
	for (unsigned i = 0; i < len; i++)
		val[i] = a->addr.s6_addr[i] & mask[i];
	ret = put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, len);
	if (ret == 0 && a->plen < len * 8)
		ret = put_bitwise(r, mask, len);
	return ret < 0 ? ret : put_cmp(r, val, len);
}

static int put_iface(struct nftnl_rule *r, const char *iface, bool output)
{
	char name[IFNAMSIZ] = { 0 };
	size_t len = strlen(iface);
	int ret = put_meta_load(r, output ? NFT_META_OIFNAME : NFT_META_IIFNAME);

	if (ret < 0)
		return ret;
	snprintf(name, sizeof(name), "%s", iface);
	/* A trailing '+' is the wildcard: compare only what precedes it, as nft does. */
	if (len && iface[len - 1] == '+')
		return put_cmp(r, name, (uint32_t)(len - 1));
	return put_cmp(r, name, IFNAMSIZ);
}

/* One rule's variable part, chosen from the selection's lists. */
struct rule_spec {
	uint8_t				nfproto;	/* 0: either family */
	uint8_t				proto;		/* 0: any */
	const struct addr_prefix	*src, *dst;
	const struct port_range		*sport, *dport;
};

static struct nftnl_rule *build_rule(const struct nft_priv *np, size_t c,
				     const struct selection *sel, const struct rule_spec *rs)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	uint8_t one = 1;
	int ret = 0;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, np->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, mark_chains[c].name);
	if (rs->nfproto) {
		ret = put_meta_load(r, NFT_META_NFPROTO);
		if (ret == 0)
			ret = put_cmp(r, &rs->nfproto, 1);
	}
	if (ret == 0 && rs->src)
		ret = put_addr(r, rs->src, false);
	if (ret == 0 && rs->dst)
		ret = put_addr(r, rs->dst, true);
	if (ret == 0 && rs->proto) {
		ret = put_meta_load(r, NFT_META_L4PROTO);
		if (ret == 0)
			ret = put_cmp(r, &rs->proto, 1);
	}
	if (ret == 0 && rs->sport)
		ret = put_port(r, false, rs->sport);
	if (ret == 0 && rs->dport)
		ret = put_port(r, true, rs->dport);
	if (ret == 0 && sel->iface[0])
		ret = put_iface(r, sel->iface, mark_chains[c].output);
	if (ret == 0 && sel->has_mark) {
		uint32_t mask = sel->mark_mask, val = sel->mark & sel->mark_mask;

		ret = put_meta_load(r, NFT_META_MARK);
		if (ret == 0 && mask != 0xffffffffu)
			ret = put_bitwise(r, &mask, 4);
		if (ret == 0)
			ret = put_cmp(r, &val, 4);
	}
	/*
	 * With --limit: a counter before the limit counts every selected packet, one after it
	 * the marked ones; nft_remove() reads both, the difference is what the limit left.
	 */
	if (ret == 0 && sel->limit)
		ret = add_expr(r, nftnl_expr_alloc("counter"));
	if (ret == 0 && sel->limit) {
		e = nftnl_expr_alloc("limit");
		if (e) {
			nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, sel->limit);
			nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, sel->limit_unit);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 5);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
		}
		ret = add_expr(r, e);
	}
	if (ret == 0 && sel->limit)
		ret = add_expr(r, nftnl_expr_alloc("counter"));
	/* meta nftrace set 1 accept */
	if (ret == 0) {
		e = nftnl_expr_alloc("immediate");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
			nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &one, 1);
		}
		ret = add_expr(r, e);
	}
	if (ret == 0) {
		e = nftnl_expr_alloc("meta");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFTRACE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
		}
		ret = add_expr(r, e);
	}
	/*
	 * accept: ends this base chain's walk only (later chains, tables and hooks still see
	 * the packet, as after the chain's accept policy), and the kernel then traces this rule
	 * alone, not also the chain's end and its policy: 3 messages -> 1 per marked packet,
	 * of the 11 a forwarded packet through three tables costs. The chain's other rules
	 * would only mark it again.
	 */
	if (ret == 0) {
		e = nftnl_expr_alloc("immediate");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
		}
		ret = add_expr(r, e);
	}
	if (ret < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* ---- the batch ---- */

struct batch {
	struct mnl_nlmsg_batch	*b;
	void			*buf;
	uint32_t		*seq;
	unsigned		nmsgs;	/* messages that ask for an ack */
	bool			full;
};

static struct nlmsghdr *batch_hdr(struct batch *bt, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, (*bt->seq)++);
}

static void batch_next(struct batch *bt, bool acked)
{
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->full = true;
	if (acked)
		bt->nmsgs++;
}

static int batch_start(struct batch *bt, uint32_t *seq)
{
	bt->buf = malloc(BATCH_SIZE);
	if (!bt->buf)
		return -ENOMEM;
	bt->b = mnl_nlmsg_batch_start(bt->buf, BATCH_SIZE);
	bt->seq = seq;
	bt->nmsgs = 0;
	bt->full = false;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), (*seq)++);
	batch_next(bt, false);
	return 0;
}

static void batch_free(struct batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	bt->b = NULL;
	bt->buf = NULL;
}

/*
 * Send the batch and read one ack or error per message: the kernel applies all of it or
 * none. Returns 0 or the first error.
 */
static int batch_send(struct batch *bt, struct mnl_socket *nl)
{
	uint32_t rbuf[8192 / 4];
	size_t len;
	unsigned acks = 0;
	int err = 0, sndbuf;

	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), (*bt->seq)++);
	batch_next(bt, false);
	if (bt->full)
		return -E2BIG;
	len = mnl_nlmsg_batch_size(bt->b);
	sndbuf = (int)len + 4096;
	/* One sendmsg carries the whole batch: make room for it. */
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), len) < 0)
		return -errno;
	while (acks < bt->nmsgs) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		const struct nlmsghdr *nlh;
		ssize_t n;
		int left;

		/* After an error the kernel may not ack the rest: don't wait long for it. */
		if (poll(&pfd, 1, err ? 200 : 5000) <= 0)
			return err ? err : -ETIMEDOUT;
		n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
		if (n < 0)
			return -errno;
		left = (int)n;
		for (nlh = (const void *)rbuf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			acks++;
			if (e->error && !err)
				err = e->error;
		}
	}
	return err;
}

static int put_table(struct batch *bt, const struct nft_priv *np, uint16_t type)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, np->table);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	/* NLM_F_EXCL: a table of this name that isn't ours is an error, never adopted. */
	nlh = batch_hdr(bt, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_next(bt, true);
	return 0;
}

static int put_chain(struct batch *bt, const struct nft_priv *np, size_t c)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!ch)
		return -ENOMEM;
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, np->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, mark_chains[c].name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, mark_chains[c].hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, MARK_PRIO);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = batch_hdr(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	batch_next(bt, true);
	return 0;
}

static int put_rule(struct batch *bt, const struct nft_priv *np, size_t c,
		    const struct selection *sel, const struct rule_spec *rs)
{
	struct nftnl_rule *r = build_rule(np, c, sel, rs);
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nlh = batch_hdr(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_next(bt, true);
	return 0;
}

static bool addr_fits(const struct addr_prefix *a, uint8_t nfproto)
{
	return !a || (a->family == AF_INET ? nfproto == NFPROTO_IPV4 : nfproto == NFPROTO_IPV6);
}

/*
 * The rules of chain @c: one per combination of the selection's lists (fields AND, items of
 * a list OR), as the legacy marker does. Returns how many or a negative errno.
 */
static int put_rules(struct batch *bt, const struct nft_priv *np, size_t c,
		     const struct selection *sel)
{
	const uint8_t *protos;
	size_t nprotos = selection_protos(sel, &protos);
	uint8_t fams[2];
	size_t nfams = 0;
	bool addrs = sel->host.n || sel->src.n || sel->dst.n;
	int count = 0;

	/* Without addresses an inet rule serves both families: no nfproto match needed. */
	if (!addrs && (sel->families & (SEL_IPV4 | SEL_IPV6)) == (SEL_IPV4 | SEL_IPV6)) {
		fams[nfams++] = 0;
	} else {
		if (sel->families & SEL_IPV4)
			fams[nfams++] = NFPROTO_IPV4;
		if (sel->families & SEL_IPV6)
			fams[nfams++] = NFPROTO_IPV6;
	}
	for (size_t fi = 0; fi < nfams; fi++) {
		/* One rule per address pair (selector.h), protocol and port choice. */
		for (size_t ai = 0; ai < selection_addr_pairs(sel); ai++)
		for (size_t pi = 0; pi < (nprotos ? nprotos : 1); pi++)
		/* --port P: either side, so one rule per side. */
		for (size_t ei = 0; ei < (sel->ports.n ? sel->ports.n * 2 : 1); ei++)
		for (size_t spi = 0; spi < (sel->sports.n ? sel->sports.n : 1); spi++)
		for (size_t dpi = 0; dpi < (sel->dports.n ? sel->dports.n : 1); dpi++) {
			struct rule_spec rs = {
				.nfproto = fams[fi],
				.proto = nprotos ? protos[pi] : 0,
				.sport = sel->sports.n ? &sel->sports.r[spi] : NULL,
				.dport = sel->dports.n ? &sel->dports.r[dpi] : NULL,
			};
			int ret;

			selection_addr_pair(sel, ai, &rs.src, &rs.dst);
			if (sel->ports.n) {
				const struct port_range *pr = &sel->ports.r[ei / 2];

				/* both sides given already: this side is the only choice */
				if (ei % 2 == 0) {
					if (rs.sport)
						continue;
					rs.sport = pr;
				} else {
					if (rs.dport)
						continue;
					rs.dport = pr;
				}
			}
			if (!addr_fits(rs.src, rs.nfproto) && rs.nfproto)
				continue;
			if (!addr_fits(rs.dst, rs.nfproto) && rs.nfproto)
				continue;
			/* NFPROTO_IPV4/IPV6 are AF_INET/AF_INET6; 0 is either. */
			if (!proto_fits_family(rs.proto, rs.nfproto))
				continue;
			if (++count > MAX_RULES)
				return -E2BIG;
			ret = put_rule(bt, np, c, sel, &rs);
			if (ret < 0)
				return ret;
		}
	}
	return count;
}

static int nft_remove(struct marker *m);

static int nft_install(struct marker *m)
{
	struct nft_priv *np = m->priv;
	struct batch bt = { 0 };
	int ret;

	if (!np) {
		np = calloc(1, sizeof(*np));
		if (!np)
			return fail(m, -ENOMEM, "out of memory");
		m->priv = np;
		np->seq = (uint32_t)time(NULL);
		/* "iptrace:1234" -> "iptrace_1234": nft names are identifiers. */
		snprintf(np->table, sizeof(np->table), "%.31s", m->tag);
		for (char *p = np->table; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9')))
				*p = '_';
	}
	if (np->installed)
		return 0;
	if (!np->nl) {
		np->nl = mnl_socket_open(NETLINK_NETFILTER);
		if (!np->nl)
			return fail(m, -errno, "cannot open an nf_tables socket: %s", strerror(errno));
		if (mnl_socket_bind(np->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			ret = -errno;
			mnl_socket_close(np->nl);
			np->nl = NULL;
			return fail(m, ret, "cannot bind an nf_tables socket: %s", strerror(-ret));
		}
	}
	ret = batch_start(&bt, &np->seq);
	if (ret < 0)
		return fail(m, ret, "out of memory");
	ret = put_table(&bt, np, NFT_MSG_NEWTABLE);
	for (size_t c = 0; ret >= 0 && c < sizeof(mark_chains) / sizeof(mark_chains[0]); c++) {
		ret = put_chain(&bt, np, c);
		if (ret >= 0)
			ret = put_rules(&bt, np, c, m->sel);
	}
	if (ret == -E2BIG) {
		batch_free(&bt);
		return fail(m, ret, "the selection needs more than %d nft rules per chain; "
			    "narrow it", MAX_RULES);
	}
	if (ret >= 0)
		ret = batch_send(&bt, np->nl);
	batch_free(&bt);
	if (ret < 0) {
		/* All or nothing: the kernel applied none of the batch. */
		return fail(m, ret, "cannot create the nft table inet %s: %s", np->table,
			    ret == -EEXIST ? "it already exists" : strerror(-ret));
	}
	np->installed = true;
	return 0;
}

struct ctr_sum {
	uint64_t	counted, traced;
	unsigned	n;	/* counters seen in the current rule */
};

static int sum_counter(struct nftnl_expr *e, void *data)
{
	struct ctr_sum *cs = data;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") != 0)
		return 0;
	if (cs->n++ == 0)
		cs->counted += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	else
		cs->traced += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ctr_sum *cs = data;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		cs->n = 0;
		nftnl_expr_foreach(r, sum_counter, cs);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* Add up the limit's counters of our rules (see build_rule) into np->unmarked. */
static int read_counters(struct nft_priv *np)
{
	/*
	 * Not MNL_SOCKET_BUFFER_SIZE (4 KiB): the batch acks' 8 KiB reads on this socket let
	 * the kernel fill dump batches as large (up to 32 KiB); a smaller read is truncated.
	 */
	char buf[32768];
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ctr_sum cs = { 0 };
	struct nlmsghdr *nlh;
	uint32_t seq = ++np->seq;
	ssize_t n;
	int ret = 0;

	if (!r)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, np->table);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (mnl_socket_sendto(np->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((n = mnl_socket_recvfrom(np->nl, buf, sizeof(buf))) > 0) {
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(np->nl), rule_cb, &cs);
		if (ret <= MNL_CB_STOP)
			break;
	}
	if (n < 0 || ret < 0)
		return -errno;
	if (cs.counted > cs.traced)
		np->unmarked += cs.counted - cs.traced;
	return 0;
}

static uint64_t nft_unmarked(const struct marker *m)
{
	const struct nft_priv *np = m->priv;

	return np ? np->unmarked : 0;
}

static int nft_remove(struct marker *m)
{
	struct nft_priv *np = m->priv;
	struct batch bt = { 0 };
	int ret;

	if (!np || !np->installed)
		return 0;
	if (m->sel->limit && read_counters(np) < 0)
		diag_warning("cannot read the --limit counters of inet %s", np->table);
	ret = batch_start(&bt, &np->seq);
	if (ret == 0)
		ret = put_table(&bt, np, NFT_MSG_DELTABLE);
	if (ret == 0)
		ret = batch_send(&bt, np->nl);
	batch_free(&bt);
	/* ENOENT: already gone (someone deleted it); the owner flag covers every other end. */
	if (ret < 0 && ret != -ENOENT)
		return fail(m, ret, "cannot delete the nft table inet %s: %s", np->table,
			    strerror(-ret));
	np->installed = false;
	mnl_socket_close(np->nl);
	np->nl = NULL;
	return 0;
}

bool marker_nft_table(const struct trace_record *rec)
{
	static const char prefix[] = "iptrace_";
	const char *p;

	if (rec->backend != TRACE_BACKEND_NFT || rec->table_family != NFPROTO_INET ||
	    strncmp(rec->table, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = rec->table + sizeof(prefix) - 1;
	return *p && strspn(p, "0123456789") == strlen(p);
}

static bool nft_owns(const struct marker *m, const struct trace_record *rec)
{
	const struct nft_priv *np = m->priv;

	return np && rec->backend == TRACE_BACKEND_NFT && rec->table_family == NFPROTO_INET &&
	       strcmp(rec->table, np->table) == 0;
}

static void nft_release(struct marker *m)
{
	struct nft_priv *np = m->priv;

	if (!np)
		return;
	/* Closing the socket deletes an owned table still there: the kernel's cleanup. */
	if (np->nl)
		mnl_socket_close(np->nl);
	free(np);
	m->priv = NULL;
}

const struct marker_ops marker_nft_ops = {
	.name = "nft",
	.starts_nft = true,
	.install = nft_install,
	.remove = nft_remove,
	.owns = nft_owns,
	.unmarked = nft_unmarked,
	.release = nft_release,
};
