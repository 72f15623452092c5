/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nftrace.c: pure decoder of NFT_MSG_TRACE messages, and the chain map records lack.
 * One libmnl walk (nlattr_parse()), not libnftnl's nftnl_trace_nlmsg_parse(): that one
 * calls exit(1) on a malformed message (a --replay file, a fuzzer's input), allocates per
 * message and skips the conntrack attributes below (BENCHMARKS.md, "Profile").
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

/* What each attribute the decoder reads must be (nlattr.h). */
static const struct nlattr_policy trace_policy[TRACE_ATTR_MAX + 1] = {
	[NFTA_TRACE_TABLE]		= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_TRACE_CHAIN]		= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_TRACE_RULE_HANDLE]	= { .type = MNL_TYPE_U64 },
	[NFTA_TRACE_TYPE]		= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_VERDICT]		= { .type = MNL_TYPE_NESTED },
	[NFTA_TRACE_ID]			= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_LL_HEADER]		= { .type = MNL_TYPE_BINARY },
	[NFTA_TRACE_NETWORK_HEADER]	= { .type = MNL_TYPE_BINARY },
	[NFTA_TRACE_TRANSPORT_HEADER]	= { .type = MNL_TYPE_BINARY },
	[NFTA_TRACE_IIF]		= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_IIFTYPE]		= { .type = MNL_TYPE_U16 },
	[NFTA_TRACE_OIF]		= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_MARK]		= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_NFPROTO]		= { .type = MNL_TYPE_U32 },
	[NFTA_TRACE_POLICY]		= { .type = MNL_TYPE_U32 },
	[TRACE_CT_ID]			= { .type = MNL_TYPE_U32 },
	[TRACE_CT_DIRECTION]		= { .type = MNL_TYPE_U8 },
	[TRACE_CT_STATUS]		= { .type = MNL_TYPE_U32 },
	[TRACE_CT_STATE]		= { .type = MNL_TYPE_U32 },
};

static const struct nlattr_policy verdict_policy[NFTA_VERDICT_MAX + 1] = {
	[NFTA_VERDICT_CODE]	= { .type = MNL_TYPE_U32 },
	[NFTA_VERDICT_CHAIN]	= { .type = MNL_TYPE_NUL_STRING },
};

static const struct nlattr_policy chain_policy[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_TABLE]	= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_NAME]	= { .type = MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_HOOK]	= { .type = MNL_TYPE_NESTED },
	[NFTA_CHAIN_TYPE]	= { .type = MNL_TYPE_NUL_STRING },
};

static const struct nlattr_policy hook_policy[NFTA_HOOK_MAX + 1] = {
	[NFTA_HOOK_HOOKNUM]	= { .type = MNL_TYPE_U32 },
	[NFTA_HOOK_PRIORITY]	= { .type = MNL_TYPE_U32 },
};

/* Only the name is read; the rest (flags, use, handle...) must not be checked as a chain's. */
static const struct nlattr_policy table_policy[NFTA_TABLE_NAME + 1] = {
	[NFTA_TABLE_NAME]	= { .type = MNL_TYPE_NUL_STRING },
};

/*
 * A name attribute, whole (the kernel bounds names to NFT_NAME_MAXLEN; a longer, forged one
 * is cut alike), interned in @nm. NULL when @nm cannot take it.
 */
static const char *name_attr(const struct nlattr *a, struct names *nm)
{
	/* NUL-terminated: checked by the policy. */
	size_t n = strnlen(mnl_attr_get_str(a), TRACE_NFT_NAME_MAX - 1);

	return names_intern(nm, mnl_attr_get_str(a), n);
}

static int decode_verdict(const struct nlattr *nest, struct names *nm,
			  struct trace_record *rec)
{
	const struct nlattr *tb[NFTA_VERDICT_MAX + 1] = { NULL };

	if (nlattr_parse_nested(nest, verdict_policy, NFTA_VERDICT_MAX, tb) < 0 ||
	    !tb[NFTA_VERDICT_CODE])
		return -EINVAL;
	rec->has_verdict = true;
	rec->verdict_code = (int32_t)ntohl(mnl_attr_get_u32(tb[NFTA_VERDICT_CODE]));
	if (tb[NFTA_VERDICT_CHAIN]) {
		rec->verdict_chain = name_attr(tb[NFTA_VERDICT_CHAIN], nm);
		if (!rec->verdict_chain)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The kernel copies the network header up to the transport header but at most 40 bytes
 * (NFT_TRACETYPE_NETWORK_HSIZE), then the transport header from where it found it. Joined,
 * they are the packet's first bytes only when nothing was cut between them. An IPv4 header
 * with more than 20 bytes of options, or IPv6 extension headers (a fragment header, MLD's
 * hop-by-hop), leave a gap of unknown length: the transport header read after the 40 bytes
 * would be taken for those options or extension headers (an ICMPv6 type read as the next
 * header). Then only the network header is kept: its protocol and ports stay unknown.
 */
static bool network_header_cut(const uint8_t *p, size_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4)
		return (size_t)(p[0] & 0x0f) * 4 > len;
	if (len >= 40 && (p[0] >> 4) == 6)
		return p[6] == IPPROTO_HOPOPTS || p[6] == IPPROTO_ROUTING ||
		       p[6] == IPPROTO_FRAGMENT || p[6] == IPPROTO_AH || p[6] == IPPROTO_DSTOPTS;
	return false;
}

/*
 * The network header and the transport header, joined where nothing lies between them.
 * Without a network header (the kernel found no transport header: a later IPv6 fragment,
 * whose 20 "transport" bytes are then the IPv6 header's first ones) there is no packet
 * header to decode; the record still opens a traversal: has_hdr.
 */
static void decode_headers(const struct nlattr *const *tb, struct trace_record *rec)
{
	const struct nlattr *nh = tb[NFTA_TRACE_NETWORK_HEADER];
	const struct nlattr *th = tb[NFTA_TRACE_TRANSPORT_HEADER];
	size_t nlen = nh ? mnl_attr_get_payload_len(nh) : 0;
	size_t tlen = th ? mnl_attr_get_payload_len(th) : 0;
	int family = rec->nfproto == NFPROTO_IPV6 ? AF_INET6 :
		     rec->nfproto == NFPROTO_IPV4 ? AF_INET : 0;

	rec->has_hdr = true;
	if (!nh)
		return;
	if (nlen > TRACE_RAW_MAX)
		nlen = TRACE_RAW_MAX;
	if (network_header_cut(mnl_attr_get_payload(nh), nlen))
		tlen = 0;
	else if (tlen > TRACE_RAW_MAX - nlen)
		tlen = TRACE_RAW_MAX - nlen;
	memcpy(rec->raw, mnl_attr_get_payload(nh), nlen);
	if (tlen)
		memcpy(rec->raw + nlen, mnl_attr_get_payload(th), tlen);
	rec->raw_len = (uint16_t)(nlen + tlen);
	if (pkt_decode(rec->raw, rec->raw_len, family, &rec->pkt) < 0)
		memset(&rec->pkt, 0, sizeof(rec->pkt));
}

int nftrace_decode(const struct nlmsghdr *nlh, struct names *nm, struct trace_record *rec)
{
	const struct nlattr *tb[TRACE_ATTR_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	uint32_t type;
	int ret;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE)
		return -ENOMSG;
	if (nlattr_parse(nlh, sizeof(*nfg), trace_policy, TRACE_ATTR_MAX, tb) < 0)
		return -EINVAL;
	if (!tb[NFTA_TRACE_TABLE] || !tb[NFTA_TRACE_CHAIN] || !tb[NFTA_TRACE_TYPE] ||
	    !tb[NFTA_TRACE_ID])
		return -EINVAL;

	/* raw[] is written only as far as raw_len says: skip clearing it. */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->backend = TRACE_BACKEND_NFT;
	rec->hook = HOOK_NONE;
	rec->table_family = nfg->nfgen_family;
	type = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_TYPE]));
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
	rec->table = name_attr(tb[NFTA_TRACE_TABLE], nm);
	rec->chain = name_attr(tb[NFTA_TRACE_CHAIN], nm);
	rec->verdict_chain = "";
	if (!rec->table || !rec->chain)
		return -ENOMEM;
	rec->trace_id = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_ID]));
	if (tb[NFTA_TRACE_RULE_HANDLE])
		rec->handle = be64toh(mnl_attr_get_u64(tb[NFTA_TRACE_RULE_HANDLE]));
	if (tb[NFTA_TRACE_VERDICT] && (ret = decode_verdict(tb[NFTA_TRACE_VERDICT], nm, rec)) < 0)
		return ret;
	if (tb[NFTA_TRACE_POLICY]) {
		rec->has_policy = true;
		rec->policy = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_POLICY]));
	}
	if (tb[NFTA_TRACE_NFPROTO])
		rec->nfproto = (uint8_t)ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_NFPROTO]));
	else
		rec->nfproto = nfg->nfgen_family;
	if (tb[NFTA_TRACE_MARK])
		rec->mark = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_MARK]));
	if (tb[NFTA_TRACE_IIF])
		rec->ifindex_in = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_IIF]));
	if (tb[NFTA_TRACE_OIF])
		rec->ifindex_out = ntohl(mnl_attr_get_u32(tb[NFTA_TRACE_OIF]));
	if (tb[NFTA_TRACE_IIFTYPE])
		rec->hw_type = ntohs(mnl_attr_get_u16(tb[NFTA_TRACE_IIFTYPE]));
	if (tb[NFTA_TRACE_LL_HEADER]) {
		/* An Ethernet header as the log format's MAC= shows it: dst, src, type. */
		uint16_t len = mnl_attr_get_payload_len(tb[NFTA_TRACE_LL_HEADER]);

		if (len > 14)
			len = 14;
		memcpy(rec->hw, mnl_attr_get_payload(tb[NFTA_TRACE_LL_HEADER]), len);
		rec->hw_len = len;
	}
	if (tb[NFTA_TRACE_NETWORK_HEADER] || tb[NFTA_TRACE_TRANSPORT_HEADER])
		decode_headers(tb, rec);
	if (tb[TRACE_CT_ID]) {
		rec->has_ct = true;
		rec->ct_id = ntohl(mnl_attr_get_u32(tb[TRACE_CT_ID]));
		if (tb[TRACE_CT_DIRECTION])
			rec->ct_dir = mnl_attr_get_u8(tb[TRACE_CT_DIRECTION]);
		if (tb[TRACE_CT_STATUS])
			rec->ct_status = ntohl(mnl_attr_get_u32(tb[TRACE_CT_STATUS]));
		if (tb[TRACE_CT_STATE])
			rec->ct_state = ntohl(mnl_attr_get_u32(tb[TRACE_CT_STATE]));
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

struct chain_ent {
	struct chain_ent	*next;
	uint8_t			family;
	int8_t			hook;
	int32_t			prio;
	bool			nat;	/* type nat: only a connection's first packet crosses it */
	char			*table, *chain;	/* as ruleset events and records give them */
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
	/* nftrace_ctx_hooks()' answer per family (0 IPv4, 1 IPv6), until a chain changes. */
	bool			hooks_known[2];
	unsigned		hooks[2];
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

/* FNV-1a over the names, inline: this runs for every trace message. */
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

/* The chain named so. Returns the link that points to it, or to NULL. */
static struct chain_ent **chain_find(struct nftrace_ctx *c, uint8_t family, const char *table,
				     const char *chain)
{
	struct chain_ent **pp = &c->buckets[chain_hash(family, table, chain)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->family == family && strcmp((*pp)->table, table) == 0 &&
		    strcmp((*pp)->chain, chain) == 0)
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
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { NULL };
	const struct nlattr *hk[NFTA_HOOK_MAX + 1] = { NULL };
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const char *table, *chain;
	struct chain_ent **pp, *e;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    (type != NFT_MSG_NEWCHAIN && type != NFT_MSG_DELCHAIN && type != NFT_MSG_DELTABLE))
		return 0;
	c->hooks_known[0] = c->hooks_known[1] = false;
	if (type == NFT_MSG_DELTABLE) {
		/*
		 * The table's own policy: read as a chain message, its NFTA_TABLE_USE (3, a
		 * be32) would have to pass as NFTA_CHAIN_NAME's string, which it does only
		 * while the use count's low byte is 0.
		 */
		if (nlattr_parse(nlh, sizeof(*nfg), table_policy, NFTA_TABLE_NAME, tb) < 0)
			return -EINVAL;
		if (tb[NFTA_TABLE_NAME])
			chain_del(c, nfg->nfgen_family, mnl_attr_get_str(tb[NFTA_TABLE_NAME]), NULL);
		return 0;
	}
	if (nlattr_parse(nlh, sizeof(*nfg), chain_policy, NFTA_CHAIN_MAX, tb) < 0 ||
	    !tb[NFTA_CHAIN_TABLE] || !tb[NFTA_CHAIN_NAME])
		return -EINVAL;
	table = mnl_attr_get_str(tb[NFTA_CHAIN_TABLE]);
	chain = mnl_attr_get_str(tb[NFTA_CHAIN_NAME]);
	if (type == NFT_MSG_DELCHAIN) {
		chain_del(c, nfg->nfgen_family, table, chain);
		return 0;
	}
	/* Regular chains take their place from the base chain that reached them. */
	if (!tb[NFTA_CHAIN_HOOK])
		return 0;
	if (nlattr_parse_nested(tb[NFTA_CHAIN_HOOK], hook_policy, NFTA_HOOK_MAX, hk) < 0 ||
	    !hk[NFTA_HOOK_HOOKNUM] || !hk[NFTA_HOOK_PRIORITY])
		return -EINVAL;
	pp = chain_find(c, nfg->nfgen_family, table, chain);
	e = *pp;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->table = strndup(table, TRACE_NFT_NAME_MAX - 1);
		e->chain = strndup(chain, TRACE_NFT_NAME_MAX - 1);
		if (!e->table || !e->chain) {
			free(e->table);
			free(e->chain);
			free(e);
			return -ENOMEM;
		}
		e->family = nfg->nfgen_family;
		*pp = e;
	}
	e->hook = hook_of(e->family, ntohl(mnl_attr_get_u32(hk[NFTA_HOOK_HOOKNUM])));
	e->prio = (int32_t)ntohl(mnl_attr_get_u32(hk[NFTA_HOOK_PRIORITY]));
	e->nat = tb[NFTA_CHAIN_TYPE] && strcmp(mnl_attr_get_str(tb[NFTA_CHAIN_TYPE]), "nat") == 0;
	return 0;
}

unsigned nftrace_ctx_hooks(struct nftrace_ctx *c, int family)
{
	uint8_t own = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	size_t f = family == AF_INET6;
	unsigned hooks = 0;

	if (c->hooks_known[f])
		return c->hooks[f];
	for (size_t i = 0; i < CHAIN_BUCKETS; i++)
		for (const struct chain_ent *e = c->buckets[i]; e; e = e->next)
			if ((e->family == own || e->family == NFPROTO_INET) && !e->nat &&
			    e->hook != HOOK_NONE)
				hooks |= 1u << e->hook;
	c->hooks[f] = hooks;
	c->hooks_known[f] = true;
	return hooks;
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
	c = strlen(r->verdict_chain);
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
