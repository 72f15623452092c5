/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ct_decode.c: pure decoder of ctnetlink conntrack messages, and the entry's NAT helpers */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "iptrace/ct.h"
#include "iptrace/nlattr.h"
#include "iptrace/pkt.h"

static const struct nlattr_policy ip_policy[CTA_IP_MAX + 1] = {
	[CTA_IP_V4_SRC] = { .type = MNL_TYPE_U32 },
	[CTA_IP_V4_DST] = { .type = MNL_TYPE_U32 },
	[CTA_IP_V6_SRC] = { MNL_TYPE_BINARY, 16 },
	[CTA_IP_V6_DST] = { MNL_TYPE_BINARY, 16 },
};

static const struct nlattr_policy proto_policy[CTA_PROTO_MAX + 1] = {
	[CTA_PROTO_NUM] = { .type = MNL_TYPE_U8 },
	[CTA_PROTO_SRC_PORT] = { .type = MNL_TYPE_U16 },
	[CTA_PROTO_DST_PORT] = { .type = MNL_TYPE_U16 },
	[CTA_PROTO_ICMP_ID] = { .type = MNL_TYPE_U16 },
	[CTA_PROTO_ICMP_TYPE] = { .type = MNL_TYPE_U8 },
	[CTA_PROTO_ICMP_CODE] = { .type = MNL_TYPE_U8 },
	[CTA_PROTO_ICMPV6_ID] = { .type = MNL_TYPE_U16 },
	[CTA_PROTO_ICMPV6_TYPE] = { .type = MNL_TYPE_U8 },
	[CTA_PROTO_ICMPV6_CODE] = { .type = MNL_TYPE_U8 },
};

static const struct nlattr_policy tuple_policy[CTA_TUPLE_MAX + 1] = {
	[CTA_TUPLE_IP] = { .type = MNL_TYPE_NESTED },
	[CTA_TUPLE_PROTO] = { .type = MNL_TYPE_NESTED },
	[CTA_TUPLE_ZONE] = { .type = MNL_TYPE_U16 },
};

static const struct nlattr_policy top_policy[CTA_MAX + 1] = {
	[CTA_TUPLE_ORIG] = { .type = MNL_TYPE_NESTED },
	[CTA_TUPLE_REPLY] = { .type = MNL_TYPE_NESTED },
	[CTA_STATUS] = { .type = MNL_TYPE_U32 },
	[CTA_TIMEOUT] = { .type = MNL_TYPE_U32 },
	[CTA_MARK] = { .type = MNL_TYPE_U32 },
	[CTA_ID] = { .type = MNL_TYPE_U32 },
};

static int decode_ip(const struct nlattr *nest, struct ct_tuple *t)
{
	const struct nlattr *tb[CTA_IP_MAX + 1] = { NULL };

	if (nlattr_parse_nested(nest, ip_policy, CTA_IP_MAX, tb) < 0)
		return -EINVAL;
	if (tb[CTA_IP_V4_SRC] && tb[CTA_IP_V4_DST]) {
		t->family = AF_INET;
		memcpy(&t->src, mnl_attr_get_payload(tb[CTA_IP_V4_SRC]), 4);
		memcpy(&t->dst, mnl_attr_get_payload(tb[CTA_IP_V4_DST]), 4);
	} else if (tb[CTA_IP_V6_SRC] && tb[CTA_IP_V6_DST]) {
		t->family = AF_INET6;
		memcpy(&t->src, mnl_attr_get_payload(tb[CTA_IP_V6_SRC]), 16);
		memcpy(&t->dst, mnl_attr_get_payload(tb[CTA_IP_V6_DST]), 16);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int decode_proto(const struct nlattr *nest, struct ct_tuple *t)
{
	const struct nlattr *tb[CTA_PROTO_MAX + 1] = { NULL };
	int id = CTA_PROTO_ICMP_ID, type = CTA_PROTO_ICMP_TYPE, code = CTA_PROTO_ICMP_CODE;

	if (nlattr_parse_nested(nest, proto_policy, CTA_PROTO_MAX, tb) < 0 || !tb[CTA_PROTO_NUM])
		return -EINVAL;
	t->proto = mnl_attr_get_u8(tb[CTA_PROTO_NUM]);
	if (tb[CTA_PROTO_SRC_PORT] && tb[CTA_PROTO_DST_PORT]) {
		t->has_ports = true;
		t->sport = ntohs(mnl_attr_get_u16(tb[CTA_PROTO_SRC_PORT]));
		t->dport = ntohs(mnl_attr_get_u16(tb[CTA_PROTO_DST_PORT]));
	}
	if (!tb[id]) {
		id = CTA_PROTO_ICMPV6_ID;
		type = CTA_PROTO_ICMPV6_TYPE;
		code = CTA_PROTO_ICMPV6_CODE;
	}
	if (tb[id]) {
		t->has_icmp = true;
		t->icmp_id = ntohs(mnl_attr_get_u16(tb[id]));
		t->icmp_type = tb[type] ? mnl_attr_get_u8(tb[type]) : 0;
		t->icmp_code = tb[code] ? mnl_attr_get_u8(tb[code]) : 0;
	}
	return 0;
}

static int decode_tuple(const struct nlattr *nest, struct ct_tuple *t)
{
	const struct nlattr *tb[CTA_TUPLE_MAX + 1] = { NULL };

	if (nlattr_parse_nested(nest, tuple_policy, CTA_TUPLE_MAX, tb) < 0 || !tb[CTA_TUPLE_IP] ||
	    !tb[CTA_TUPLE_PROTO])
		return -EINVAL;
	if (decode_ip(tb[CTA_TUPLE_IP], t) < 0 || decode_proto(tb[CTA_TUPLE_PROTO], t) < 0)
		return -EINVAL;
	return 0;
}

int ct_decode(const struct nlmsghdr *nlh, struct ct_entry *e)
{
	const struct nlattr *tb[CTA_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg;
	uint8_t msg;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -ENOMSG;
	msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (msg != IPCTNL_MSG_CT_NEW && msg != IPCTNL_MSG_CT_DELETE)
		return -ENOMSG;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	nfg = mnl_nlmsg_get_payload(nlh);
	e->family = nfg->nfgen_family;
	if (msg == IPCTNL_MSG_CT_DELETE)
		e->op = CT_OP_DESTROY;
	else if ((nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) == (NLM_F_CREATE | NLM_F_EXCL))
		e->op = CT_OP_NEW;
	else
		e->op = CT_OP_UPDATE;
	if (nlattr_parse(nlh, sizeof(*nfg), top_policy, CTA_MAX, tb) < 0)
		return -EINVAL;
	if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY])
		return -EINVAL;
	if (decode_tuple(tb[CTA_TUPLE_ORIG], &e->orig) < 0 ||
	    decode_tuple(tb[CTA_TUPLE_REPLY], &e->reply) < 0)
		return -EINVAL;
	if (tb[CTA_STATUS]) {
		e->has_status = true;
		e->status = ntohl(mnl_attr_get_u32(tb[CTA_STATUS]));
	}
	if (tb[CTA_ID]) {
		e->has_id = true;
		e->id = ntohl(mnl_attr_get_u32(tb[CTA_ID]));
	}
	if (tb[CTA_TIMEOUT]) {
		e->has_timeout = true;
		e->timeout = ntohl(mnl_attr_get_u32(tb[CTA_TIMEOUT]));
	}
	if (tb[CTA_MARK]) {
		e->has_mark = true;
		e->mark = ntohl(mnl_attr_get_u32(tb[CTA_MARK]));
	}
	return 0;
}

int ct_tuple_from_pkt(const struct pkt_hdr *h, struct ct_tuple *t)
{
	memset(t, 0, sizeof(*t));
	if (h->family != AF_INET && h->family != AF_INET6)
		return -EINVAL;
	t->family = h->family;
	t->proto = h->proto;
	t->src = h->saddr;
	t->dst = h->daddr;
	if (h->has_ports) {
		t->has_ports = true;
		t->sport = h->sport;
		t->dport = h->dport;
	} else if (h->proto == IPPROTO_ICMP || h->proto == IPPROTO_ICMPV6) {
		/* Echo request/reply only: errors belong to another flow's entry. */
		bool echo = h->proto == IPPROTO_ICMP ? h->icmp_type == 8 || h->icmp_type == 0 :
						       h->icmp_type == 128 || h->icmp_type == 129;

		if (!h->has_l4 || !echo)
			return -EINVAL;
		t->has_icmp = true;
		t->icmp_id = h->icmp_ident;
		t->icmp_type = h->icmp_type;
		t->icmp_code = h->icmp_code;
	} else if (h->proto == IPPROTO_TCP || h->proto == IPPROTO_UDP) {
		return -EINVAL;	/* ports cut off */
	}
	return 0;
}

static size_t addr_len(const struct ct_tuple *t)
{
	return t->family == AF_INET6 ? 16 : 4;
}

/* The "port" NAT may rewrite: the port, or the ICMP echo id, which masquerade maps too. */
static bool same_endpoint(const struct ct_tuple *a, bool adst, const struct ct_tuple *b, bool bdst)
{
	const struct in6_addr *x = adst ? &a->dst : &a->src, *y = bdst ? &b->dst : &b->src;

	if (memcmp(x, y, addr_len(a)) != 0)
		return false;
	if (a->has_ports && b->has_ports)
		return (adst ? a->dport : a->sport) == (bdst ? b->dport : b->sport);
	if (a->has_icmp && b->has_icmp)
		return a->icmp_id == b->icmp_id;
	return true;
}

bool ct_is_dnat(const struct ct_entry *e)
{
	return !same_endpoint(&e->orig, true, &e->reply, false);
}

bool ct_is_snat(const struct ct_entry *e)
{
	return !same_endpoint(&e->orig, false, &e->reply, true);
}

bool ct_is_nat(const struct ct_entry *e)
{
	return (e->has_status && (e->status & IPS_NAT_MASK)) || ct_is_dnat(e) || ct_is_snat(e);
}

char *ct_fmt_addr(const struct ct_tuple *t, bool dst, char *buf, size_t size)
{
	if (!inet_ntop(t->family == AF_INET6 ? AF_INET6 : AF_INET, dst ? &t->dst : &t->src,
		       buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

char *ct_fmt_endpoint(const struct ct_tuple *t, bool dst, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN], p[8];
	bool v6 = t->family == AF_INET6;

	ct_fmt_addr(t, dst, a, sizeof(a));
	if (t->has_ports)
		snprintf(p, sizeof(p), "%u", dst ? t->dport : t->sport);
	else if (t->has_icmp)
		snprintf(p, sizeof(p), "%u", t->icmp_id);
	else
		snprintf(p, sizeof(p), "*");
	/* Brackets keep an IPv6 address apart from its port. */
	snprintf(buf, size, "%s%s%s:%s", v6 ? "[" : "", a, v6 ? "]" : "", p);
	return buf;
}

const char *ct_proto_name(uint8_t proto, char *buf, size_t size)
{
	const char *n = pkt_proto_name(proto);

	if (n)
		return n;
	snprintf(buf, size, "%u", proto);
	return buf;
}

const char *ct_status_name(unsigned bit)
{
	static const char *const names[] = {
		"expected", "seen_reply", "assured", "confirmed", "src_nat", "dst_nat",
		"seq_adjust", "src_nat_done", "dst_nat_done", "dying", "fixed_timeout",
		"template", "untracked", "helper", "offload", "hw_offload",
	};

	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : NULL;
}

char *ct_status_json(char *buf, size_t size, uint32_t status)
{
	size_t off = 0;
	int n;

	n = snprintf(buf, size, "[");
	off = n > 0 ? (size_t)n : 0;
	for (unsigned b = 0; b < 32 && off < size; b++) {
		const char *name = ct_status_name(b);

		if (!(status & (1u << b)) || !name)
			continue;
		n = snprintf(buf + off, size - off, "%s\"%s\"", off > 1 ? "," : "", name);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < size)
		snprintf(buf + off, size - off, "]");
	return buf;
}

const char *ct_state_name(uint32_t state)
{
	/* NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo % IP_CT_IS_REPLY + 1), as nft's ct state. */
	if (state & NF_CT_STATE_INVALID_BIT)
		return "invalid";
	if (state & NF_CT_STATE_UNTRACKED_BIT)
		return "untracked";
	if (state & NF_CT_STATE_BIT(IP_CT_NEW))
		return "new";
	if (state & NF_CT_STATE_BIT(IP_CT_RELATED))
		return "related";
	if (state & NF_CT_STATE_BIT(IP_CT_ESTABLISHED))
		return "established";
	return "unknown";
}
