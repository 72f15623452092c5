/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftrace.c: pure decoder of NFT_MSG_TRACE messages, and the chain map records lack */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "iptrace/nftrace.h"
#include "iptrace/nlattr.h"
#include "iptrace/pkt.h"

/*
 * Newer than Debian's uapi headers and libnftnl 1.2.4: the conntrack attributes the kernel
 * puts on the first record of a traversal (nf_trace_fill_ct_info()).
 */
#define TRACE_CT_ID		18	/* be32, equals conntrack's CTA_ID */
#define TRACE_CT_DIRECTION	19	/* u8 */
#define TRACE_CT_STATUS		20	/* be32, IPS_* */
#define TRACE_CT_STATE		21	/* be32, NF_CT_STATE_* bits */
#define TRACE_ATTR_MAX		21

/* Each known attribute's type, so one table validates them all. */
static const enum mnl_attr_data_type trace_types[TRACE_ATTR_MAX + 1] = {
	[NFTA_TRACE_TABLE]		= MNL_TYPE_NUL_STRING,
	[NFTA_TRACE_CHAIN]		= MNL_TYPE_NUL_STRING,
	[NFTA_TRACE_RULE_HANDLE]	= MNL_TYPE_U64,
	[NFTA_TRACE_TYPE]		= MNL_TYPE_U32,
	[NFTA_TRACE_VERDICT]		= MNL_TYPE_NESTED,
	[NFTA_TRACE_ID]			= MNL_TYPE_U32,
	[NFTA_TRACE_LL_HEADER]		= MNL_TYPE_BINARY,
	[NFTA_TRACE_NETWORK_HEADER]	= MNL_TYPE_BINARY,
	[NFTA_TRACE_TRANSPORT_HEADER]	= MNL_TYPE_BINARY,
	[NFTA_TRACE_IIF]		= MNL_TYPE_U32,
	[NFTA_TRACE_IIFTYPE]		= MNL_TYPE_U16,
	[NFTA_TRACE_OIF]		= MNL_TYPE_U32,
	[NFTA_TRACE_OIFTYPE]		= MNL_TYPE_U16,
	[NFTA_TRACE_MARK]		= MNL_TYPE_U32,
	[NFTA_TRACE_NFPROTO]		= MNL_TYPE_U32,
	[NFTA_TRACE_POLICY]		= MNL_TYPE_U32,
	[NFTA_TRACE_PAD]		= MNL_TYPE_UNSPEC,
	[TRACE_CT_ID]			= MNL_TYPE_U32,
	[TRACE_CT_DIRECTION]		= MNL_TYPE_U8,
	[TRACE_CT_STATUS]		= MNL_TYPE_U32,
	[TRACE_CT_STATE]		= MNL_TYPE_U32,
};

/*
 * An attribute table this file reads: each known type's libmnl data type; types past max
 * are newer than this build and skipped, types the table leaves at 0 get no size check and
 * are not used.
 */
struct policy {
	const enum mnl_attr_data_type	*types;
	unsigned			max;
};

struct tb {
	const struct nlattr	*a[TRACE_ATTR_MAX + 1];
};

/*
 * One pass over the attributes in [@p, @end), as mnl_attr_parse() walks them (a truncated
 * attribute ends the walk), checking each known one as mnl_attr_validate() would (the exact
 * size of fixed-size types, a NUL-terminated string, an empty or well-sized nest), but
 * without a callback and two library calls per attribute: that walk was 40 % of the cost
 * of a trace message (9 to 11 of them per forwarded packet). The last of a repeated
 * attribute wins. Returns 0, or -EINVAL when a known attribute has the wrong size.
 */
static int parse_attrs(const char *p, const char *end, const struct policy *pol,
		       struct tb *tb)
{
	while (end - p >= (ptrdiff_t)sizeof(struct nlattr)) {
		const struct nlattr *attr = (const void *)p;
		uint16_t type = attr->nla_type & NLA_TYPE_MASK, len = attr->nla_len, plen;
		bool ok;

		if (len < sizeof(struct nlattr) || len > end - p)
			break;
		p += MNL_ALIGN(len);
		if (type > pol->max)
			continue;
		plen = (uint16_t)(len - MNL_ATTR_HDRLEN);
		switch (pol->types[type]) {
		case MNL_TYPE_U8:
			ok = plen == sizeof(uint8_t);
			break;
		case MNL_TYPE_U16:
			ok = plen == sizeof(uint16_t);
			break;
		case MNL_TYPE_U32:
			ok = plen == sizeof(uint32_t);
			break;
		case MNL_TYPE_U64:
			ok = plen == sizeof(uint64_t);
			break;
		case MNL_TYPE_NUL_STRING:
			ok = plen > 0 && ((const char *)attr)[len - 1] == '\0';
			break;
		case MNL_TYPE_NESTED:
			ok = plen == 0 || plen >= MNL_ATTR_HDRLEN;
			break;
		default:
			ok = true;	/* binary: any size */
			break;
		}
		if (!ok)
			return -EINVAL;
		tb->a[type] = attr;
	}
	return 0;
}

/* The attributes of a message after its nfgenmsg (nlmsg_len: the buffer may end there). */
static int parse_msg(const struct nlmsghdr *nlh, const struct policy *pol, struct tb *tb)
{
	const char *p = (const char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	return parse_attrs(p, (const char *)nlh + nlh->nlmsg_len, pol, tb);
}

static int parse_nested(const struct nlattr *nest, const struct policy *pol, struct tb *tb)
{
	const char *p = attr_data(nest);

	return parse_attrs(p, (const char *)nest + nest->nla_len, pol, tb);
}

static const struct policy trace_policy = { trace_types, TRACE_ATTR_MAX };

static const enum mnl_attr_data_type verdict_types[NFTA_VERDICT_MAX + 1] = {
	[NFTA_VERDICT_CODE]	= MNL_TYPE_U32,
	[NFTA_VERDICT_CHAIN]	= MNL_TYPE_NUL_STRING,
};
static const struct policy verdict_policy = { verdict_types, NFTA_VERDICT_MAX };

static const enum mnl_attr_data_type chain_types[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_TABLE]	= MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_NAME]	= MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_HOOK]	= MNL_TYPE_NESTED,
};
static const struct policy chain_policy = { chain_types, NFTA_CHAIN_MAX };

static const enum mnl_attr_data_type hook_types[NFTA_HOOK_MAX + 1] = {
	[NFTA_HOOK_HOOKNUM]	= MNL_TYPE_U32,
	[NFTA_HOOK_PRIORITY]	= MNL_TYPE_U32,
};
static const struct policy hook_policy = { hook_types, NFTA_HOOK_MAX };

/* Only the name is read; the rest (flags, use, handle...) must not be checked as a chain's. */
static const enum mnl_attr_data_type table_types[NFTA_TABLE_NAME + 1] = {
	[NFTA_TABLE_NAME]	= MNL_TYPE_NUL_STRING,
};
static const struct policy table_policy = { table_types, NFTA_TABLE_NAME };

_Static_assert(NFTA_VERDICT_MAX <= TRACE_ATTR_MAX && NFTA_CHAIN_MAX <= TRACE_ATTR_MAX &&
	       NFTA_HOOK_MAX <= TRACE_ATTR_MAX, "struct tb holds every table this file reads");

/* Copy a string attribute, cut to TRACE_NAME_MAX-1 (nft names may be longer). */
static void name_attr(const struct nlattr *a, char *dst)
{
	size_t n = strnlen(attr_data(a), attr_len(a));

	if (n > TRACE_NAME_MAX - 1)
		n = TRACE_NAME_MAX - 1;
	memcpy(dst, attr_data(a), n);
	dst[n] = '\0';
}

static int decode_verdict(const struct nlattr *nest, struct trace_record *rec)
{
	struct tb v = { { 0 } };

	if (parse_nested(nest, &verdict_policy, &v) < 0)
		return -EINVAL;
	if (!v.a[NFTA_VERDICT_CODE])
		return -EINVAL;
	rec->has_verdict = true;
	rec->verdict_code = (int32_t)attr_be32(v.a[NFTA_VERDICT_CODE]);
	if (v.a[NFTA_VERDICT_CHAIN])
		name_attr(v.a[NFTA_VERDICT_CHAIN], rec->verdict_chain);
	return 0;
}

/* The network header (cut at the transport header) and the transport header, joined. */
static void decode_headers(const struct tb *tb, struct trace_record *rec)
{
	const struct nlattr *nh = tb->a[NFTA_TRACE_NETWORK_HEADER];
	const struct nlattr *th = tb->a[NFTA_TRACE_TRANSPORT_HEADER];
	size_t nlen = attr_len(nh), tlen = th ? attr_len(th) : 0;
	int family = rec->nfproto == NFPROTO_IPV6 ? AF_INET6 :
		     rec->nfproto == NFPROTO_IPV4 ? AF_INET : 0;

	if (nlen > TRACE_RAW_MAX)
		nlen = TRACE_RAW_MAX;
	if (tlen > TRACE_RAW_MAX - nlen)
		tlen = TRACE_RAW_MAX - nlen;
	memcpy(rec->raw, attr_data(nh), nlen);
	if (tlen)
		memcpy(rec->raw + nlen, attr_data(th), tlen);
	rec->raw_len = (uint16_t)(nlen + tlen);
	rec->has_hdr = true;
	if (pkt_decode(rec->raw, rec->raw_len, family, &rec->pkt) < 0)
		memset(&rec->pkt, 0, sizeof(rec->pkt));
}

int nftrace_decode(const struct nlmsghdr *nlh, struct trace_record *rec)
{
	const struct nfgenmsg *nfg;
	struct tb tb = { { 0 } };
	uint32_t type;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (parse_msg(nlh, &trace_policy, &tb) < 0)
		return -EINVAL;
	if (!tb.a[NFTA_TRACE_TABLE] || !tb.a[NFTA_TRACE_CHAIN] || !tb.a[NFTA_TRACE_TYPE] ||
	    !tb.a[NFTA_TRACE_ID])
		return -EINVAL;

	/* raw[] is written only as far as raw_len says: skip clearing it. */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->backend = TRACE_BACKEND_NFT;
	rec->hook = HOOK_NONE;
	rec->table_family = nfg->nfgen_family;
	type = attr_be32(tb.a[NFTA_TRACE_TYPE]);
	switch (type) {
	case NFT_TRACETYPE_RULE:
		rec->kind = TRACE_KIND_RULE;
		break;
	case NFT_TRACETYPE_RETURN:
		rec->kind = TRACE_KIND_RETURN;
		break;
	case NFT_TRACETYPE_POLICY:
		rec->kind = TRACE_KIND_POLICY;
		break;
	default:
		return -ENOMSG;	/* a kind this build doesn't know */
	}
	name_attr(tb.a[NFTA_TRACE_TABLE], rec->table);
	name_attr(tb.a[NFTA_TRACE_CHAIN], rec->chain);
	rec->trace_id = attr_be32(tb.a[NFTA_TRACE_ID]);
	if (tb.a[NFTA_TRACE_RULE_HANDLE])
		rec->handle = attr_be64(tb.a[NFTA_TRACE_RULE_HANDLE]);
	if (tb.a[NFTA_TRACE_VERDICT] && decode_verdict(tb.a[NFTA_TRACE_VERDICT], rec) < 0)
		return -EINVAL;
	if (tb.a[NFTA_TRACE_POLICY]) {
		rec->has_policy = true;
		rec->policy = attr_be32(tb.a[NFTA_TRACE_POLICY]);
	}
	if (tb.a[NFTA_TRACE_NFPROTO])
		rec->nfproto = (uint8_t)attr_be32(tb.a[NFTA_TRACE_NFPROTO]);
	else
		rec->nfproto = nfg->nfgen_family;
	if (tb.a[NFTA_TRACE_MARK])
		rec->mark = attr_be32(tb.a[NFTA_TRACE_MARK]);
	if (tb.a[NFTA_TRACE_IIF])
		rec->ifindex_in = attr_be32(tb.a[NFTA_TRACE_IIF]);
	if (tb.a[NFTA_TRACE_OIF])
		rec->ifindex_out = attr_be32(tb.a[NFTA_TRACE_OIF]);
	if (tb.a[NFTA_TRACE_IIFTYPE])
		rec->hw_type = attr_be16(tb.a[NFTA_TRACE_IIFTYPE]);
	if (tb.a[NFTA_TRACE_LL_HEADER]) {
		/* An Ethernet header as the log format's MAC= shows it: dst, src, type. */
		uint16_t len = attr_len(tb.a[NFTA_TRACE_LL_HEADER]);

		if (len > 14)
			len = 14;
		memcpy(rec->hw, attr_data(tb.a[NFTA_TRACE_LL_HEADER]), len);
		rec->hw_len = len;
	}
	if (tb.a[NFTA_TRACE_NETWORK_HEADER])
		decode_headers(&tb, rec);
	if (tb.a[TRACE_CT_ID]) {
		rec->has_ct = true;
		rec->ct_id = attr_be32(tb.a[TRACE_CT_ID]);
		if (tb.a[TRACE_CT_DIRECTION])
			rec->ct_dir = *(const uint8_t *)attr_data(tb.a[TRACE_CT_DIRECTION]);
		if (tb.a[TRACE_CT_STATUS])
			rec->ct_status = attr_be32(tb.a[TRACE_CT_STATUS]);
		if (tb.a[TRACE_CT_STATE])
			rec->ct_state = attr_be32(tb.a[TRACE_CT_STATE]);
	}
	return 0;
}

bool nftrace_chain_end(const struct trace_record *rec)
{
	return rec->backend == TRACE_BACKEND_NFT && rec->kind == TRACE_KIND_RULE &&
	       !rec->handle && rec->has_verdict && rec->verdict_code == NFT_CONTINUE;
}

const char *nftrace_verdict_name(int32_t verdict)
{
	switch (verdict) {
	case NF_ACCEPT:		return "accept";
	case NF_DROP:		return "drop";
	case NF_STOLEN:		return "stolen";
	case NF_QUEUE:		return "queue";
	case NF_REPEAT:		return "repeat";
	case NFT_CONTINUE:	return "continue";
	case NFT_BREAK:		return "break";
	case NFT_JUMP:		return "jump";
	case NFT_GOTO:		return "goto";
	case NFT_RETURN:	return "return";
	}
	/* NF_QUEUE with a queue number in the upper bits */
	if ((verdict & NF_VERDICT_MASK) == NF_QUEUE)
		return "queue";
	return "unknown";
}

const char *nftrace_family_name(uint8_t nfproto)
{
	switch (nfproto) {
	case NFPROTO_INET:	return "inet";
	case NFPROTO_IPV4:	return "ip";
	case NFPROTO_IPV6:	return "ip6";
	case NFPROTO_ARP:	return "arp";
	case NFPROTO_BRIDGE:	return "bridge";
	case NFPROTO_NETDEV:	return "netdev";
	}
	return NULL;
}

/* ---- the per-capture context: chain map and per-trace-id inheritance ---- */

#define CHAIN_BUCKETS	1024
#define TRACE_SLOTS	256	/* trace ids live for one packet's path: few at a time */
#define NFT_NAME_MAX	256	/* NFT_CHAIN_MAXNAMELEN */

struct chain_ent {
	struct chain_ent	*next;
	uint8_t			family;
	int8_t			hook;
	int32_t			prio;
	char			*table, *chain;	/* full names, as ruleset events give them */
	/* The key: the names cut to TRACE_NAME_MAX-1, as records carry them. */
	char			ktable[TRACE_NAME_MAX], kchain[TRACE_NAME_MAX];
};

struct trace_slot {
	bool		used;
	uint32_t	id;
	int8_t		hook;
	bool		has_prio;
	int32_t		prio;
	uint32_t	ifindex_in, ifindex_out;
	uint16_t	hw_type, hw_len;
	uint8_t		hw[TRACE_HW_MAX];
	uint16_t	raw_len;
	uint8_t		raw[TRACE_RAW_MAX];
	struct pkt_hdr	pkt;
};

struct nftrace_ctx {
	struct chain_ent	*buckets[CHAIN_BUCKETS];
	struct trace_slot	slots[TRACE_SLOTS];
};

struct nftrace_ctx *nftrace_ctx_new(void)
{
	return calloc(1, sizeof(struct nftrace_ctx));
}

void nftrace_ctx_free(struct nftrace_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CHAIN_BUCKETS; i++) {
		struct chain_ent *e = c->buckets[i], *n;

		for (; e; e = n) {
			n = e->next;
			free(e->table);
			free(e->chain);
			free(e);
		}
	}
	free(c);
}

/* Copy @name cut to TRACE_NAME_MAX-1 bytes, as the decoder cuts records' names. */
static void cut_name(char *dst, const char *name)
{
	size_t n = strnlen(name, TRACE_NAME_MAX - 1);

	memcpy(dst, name, n);
	dst[n] = '\0';
}

/* FNV-1a over the cut names, inline: this runs for every trace message. */
static size_t chain_hash(uint8_t family, const char *table, const char *chain)
{
	uint32_t h = 2166136261u ^ family;

	for (const unsigned char *p = (const void *)table; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const unsigned char *p = (const void *)chain; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (h ^ (h >> 16)) & (CHAIN_BUCKETS - 1);
}

/*
 * The chain named by cut names (at most TRACE_NAME_MAX-1 bytes, as records carry them): a
 * long name still finds its chain. Returns the link that points to it, or to NULL.
 */
static struct chain_ent **chain_find(struct nftrace_ctx *c, uint8_t family, const char *table,
				     const char *chain)
{
	struct chain_ent **pp = &c->buckets[chain_hash(family, table, chain)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->family == family && strcmp((*pp)->ktable, table) == 0 &&
		    strcmp((*pp)->kchain, chain) == 0)
			return pp;
	return pp;
}

static void chain_del(struct nftrace_ctx *c, uint8_t family, const char *table,
		      const char *chain)
{
	for (size_t i = 0; i < CHAIN_BUCKETS; i++) {
		struct chain_ent **pp = &c->buckets[i];

		while (*pp) {
			struct chain_ent *e = *pp;

			if (e->family == family && strcmp(e->table, table) == 0 &&
			    (!chain || strcmp(e->chain, chain) == 0)) {
				*pp = e->next;
				free(e->table);
				free(e->chain);
				free(e);
				continue;
			}
			pp = &e->next;
		}
	}
}

/* The hooks ip, ip6, inet and bridge share; netdev's ingress/egress stay HOOK_NONE. */
static int8_t hook_of(uint8_t family, uint32_t hooknum)
{
	if (family == NFPROTO_NETDEV || family == NFPROTO_ARP || hooknum > NF_INET_POST_ROUTING)
		return HOOK_NONE;
	return (int8_t)hooknum;
}

int nftrace_ctx_learn(struct nftrace_ctx *c, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg;
	struct tb tb = { { 0 } }, hk = { { 0 } };
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const char *table, *chain;
	char ktable[TRACE_NAME_MAX], kchain[TRACE_NAME_MAX];
	struct chain_ent **pp, *e;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    (type != NFT_MSG_NEWCHAIN && type != NFT_MSG_DELCHAIN && type != NFT_MSG_DELTABLE))
		return 0;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (type == NFT_MSG_DELTABLE) {
		/*
		 * The table's own policy: read as a chain message, its NFTA_TABLE_USE (3, a
		 * be32) would have to pass as NFTA_CHAIN_NAME's string, which it does only
		 * while the use count's low byte is 0.
		 */
		if (parse_msg(nlh, &table_policy, &tb) < 0)
			return -EINVAL;
		if (tb.a[NFTA_TABLE_NAME])
			chain_del(c, nfg->nfgen_family, attr_data(tb.a[NFTA_TABLE_NAME]), NULL);
		return 0;
	}
	if (parse_msg(nlh, &chain_policy, &tb) < 0)
		return -EINVAL;
	if (!tb.a[NFTA_CHAIN_TABLE] || !tb.a[NFTA_CHAIN_NAME])
		return -EINVAL;
	table = mnl_attr_get_str(tb.a[NFTA_CHAIN_TABLE]);
	chain = mnl_attr_get_str(tb.a[NFTA_CHAIN_NAME]);
	if (type == NFT_MSG_DELCHAIN) {
		chain_del(c, nfg->nfgen_family, table, chain);
		return 0;
	}
	/* Regular chains take their place from the base chain that reached them. */
	if (!tb.a[NFTA_CHAIN_HOOK])
		return 0;
	if (parse_nested(tb.a[NFTA_CHAIN_HOOK], &hook_policy, &hk) < 0 ||
	    !hk.a[NFTA_HOOK_HOOKNUM] || !hk.a[NFTA_HOOK_PRIORITY])
		return -EINVAL;
	cut_name(ktable, table);
	cut_name(kchain, chain);
	pp = chain_find(c, nfg->nfgen_family, ktable, kchain);
	e = *pp;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->table = strndup(table, NFT_NAME_MAX);
		e->chain = strndup(chain, NFT_NAME_MAX);
		if (!e->table || !e->chain) {
			free(e->table);
			free(e->chain);
			free(e);
			return -ENOMEM;
		}
		memcpy(e->ktable, ktable, sizeof(ktable));
		memcpy(e->kchain, kchain, sizeof(kchain));
		e->family = nfg->nfgen_family;
		*pp = e;
	}
	e->hook = hook_of(e->family, attr_be32(hk.a[NFTA_HOOK_HOOKNUM]));
	e->prio = (int32_t)attr_be32(hk.a[NFTA_HOOK_PRIORITY]);
	return 0;
}

/*
 * Without the map (a --replay of a file recorded without the dump) iptables-nft's names
 * still tell: PREROUTING..POSTROUTING, in nft's lower case too, at the xtables priorities.
 */
static bool guess_base(const struct trace_record *rec, int8_t *hook, int32_t *prio)
{
	static const char *const lower[] = {
		"prerouting", "input", "forward", "output", "postrouting",
	};
	int h = trace_hook_of(rec->chain);

	for (int i = 0; h == HOOK_NONE && i < 5; i++)
		if (strcmp(rec->chain, lower[i]) == 0)
			h = i;
	if (h == HOOK_NONE)
		return false;
	*hook = (int8_t)h;
	if (strcmp(rec->table, "raw") == 0)
		*prio = -300;
	else if (strcmp(rec->table, "mangle") == 0)
		*prio = -150;
	else if (strcmp(rec->table, "nat") == 0)
		*prio = h == HOOK_PREROUTING || h == HOOK_OUTPUT ? -100 : 100;
	else if (strcmp(rec->table, "security") == 0)
		*prio = 50;
	else
		*prio = 0;
	return true;
}

void nftrace_ctx_fill(struct nftrace_ctx *c, struct trace_record *rec)
{
	struct trace_slot *s = &c->slots[rec->trace_id & (TRACE_SLOTS - 1)];
	struct chain_ent *e = *chain_find(c, rec->table_family, rec->table, rec->chain);
	int8_t hook = HOOK_NONE;
	int32_t prio = 0;
	bool base = false;

	if (e) {
		base = true;
		hook = e->hook;
		prio = e->prio;
	} else {
		base = guess_base(rec, &hook, &prio);
	}
	if (rec->has_hdr) {
		/* A new base-chain traversal: remember what it carried. */
		s->used = true;
		s->id = rec->trace_id;
		s->ifindex_in = rec->ifindex_in;
		s->ifindex_out = rec->ifindex_out;
		s->hw_type = rec->hw_type;
		s->hw_len = rec->hw_len;
		memcpy(s->hw, rec->hw, rec->hw_len);
		s->raw_len = rec->raw_len;
		memcpy(s->raw, rec->raw, rec->raw_len);
		s->pkt = rec->pkt;
		s->hook = HOOK_NONE;
		s->has_prio = false;
	} else if (s->used && s->id == rec->trace_id) {
		rec->ifindex_in = s->ifindex_in;
		rec->ifindex_out = s->ifindex_out;
		rec->hw_type = s->hw_type;
		rec->hw_len = s->hw_len;
		memcpy(rec->hw, s->hw, s->hw_len);
		rec->raw_len = s->raw_len;
		memcpy(rec->raw, s->raw, s->raw_len);
		rec->pkt = s->pkt;
	}
	if (base) {
		rec->hook = hook;
		rec->prio = prio;
		rec->has_prio = true;
		if (s->used && s->id == rec->trace_id) {
			s->hook = hook;
			s->prio = prio;
			s->has_prio = true;
		}
	} else if (s->used && s->id == rec->trace_id && s->has_prio) {
		rec->hook = s->hook;
		rec->prio = s->prio;
		rec->has_prio = true;
	}
}

char *nftrace_step_verdict(const struct trace_record *r, char *buf, size_t size)
{
	const char *name;
	size_t n, c;

	if (!r->has_verdict && !r->has_policy)
		return NULL;
	if (!size)
		return buf;
	/* By hand, not snprintf: the pipeline names every nft step's verdict. */
	name = nftrace_verdict_name(r->has_verdict ? r->verdict_code : (int32_t)r->policy);
	n = strlen(name);
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, name, n);
	c = strnlen(r->verdict_chain, sizeof(r->verdict_chain));
	if (c && n < size - 1) {
		buf[n++] = ' ';
		if (c > size - 1 - n)
			c = size - 1 - n;
		memcpy(buf + n, r->verdict_chain, c);
		n += c;
	}
	buf[n] = '\0';
	return buf;
}
