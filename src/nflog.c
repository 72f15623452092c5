/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog.c: pure decoder of NFLOG packet messages into trace records */
#include <endian.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "iptrace/nflog.h"
#include "iptrace/pkt.h"

/*
 * The payload size each attribute must have, as mnl_attr_validate() would check it with
 * the type nfnetlink_log's policy gives it, plus one; 0 (not listed): any size.
 */
#define SZ(t) (sizeof(t) + 1)
static const uint8_t attr_size[NFULA_MAX + 1] = {
	[NFULA_MARK] = SZ(uint32_t),
	[NFULA_IFINDEX_INDEV] = SZ(uint32_t),
	[NFULA_IFINDEX_OUTDEV] = SZ(uint32_t),
	[NFULA_IFINDEX_PHYSINDEV] = SZ(uint32_t),
	[NFULA_IFINDEX_PHYSOUTDEV] = SZ(uint32_t),
	[NFULA_UID] = SZ(uint32_t),
	[NFULA_GID] = SZ(uint32_t),
	[NFULA_SEQ] = SZ(uint32_t),
	[NFULA_SEQ_GLOBAL] = SZ(uint32_t),
	[NFULA_HWTYPE] = SZ(uint16_t),
	[NFULA_HWLEN] = SZ(uint16_t),
	[NFULA_PACKET_HDR] = SZ(struct nfulnl_msg_packet_hdr),
	[NFULA_TIMESTAMP] = SZ(struct nfulnl_msg_packet_timestamp),
	[NFULA_HWADDR] = SZ(struct nfulnl_msg_packet_hw),
};

/*
 * One pass over the attributes, as mnl_attr_parse() walks them (a truncated attribute ends
 * the walk), but without a callback and a validate call per attribute, the sizes from a
 * table: that walk was half of the decode cost (BENCHMARKS.md). Every attribute read is
 * still checked as mnl_attr_validate() would (the exact size of fixed-size ones, a
 * NUL-terminated non-empty prefix); types beyond NFULA_MAX are skipped; a bad size rejects
 * the message. The last of a repeated attribute wins. Returns 0 or -EINVAL.
 */
static int parse_attrs(const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	const char *p = (const char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	/* nlmsg_len, not its aligned size: the buffer may end right there (a last message). */
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	while ((size_t)(end - p) >= sizeof(struct nlattr)) {
		const struct nlattr *attr = (const void *)p;
		size_t len = attr->nla_len;
		unsigned type = attr->nla_type & NLA_TYPE_MASK;

		if (len < sizeof(struct nlattr) || len > (size_t)(end - p))
			break;
		p += (len + NLA_ALIGNTO - 1) & ~(size_t)(NLA_ALIGNTO - 1);
		if (type > NFULA_MAX)
			continue;
		/* attr_size is the payload size + 1: len - MNL_ATTR_HDRLEN + 1. */
		if (attr_size[type] && attr_size[type] != len - MNL_ATTR_HDRLEN + 1)
			return -EINVAL;
		if (type == NFULA_PREFIX &&
		    (len == MNL_ATTR_HDRLEN || ((const char *)attr)[len - 1] != '\0'))
			return -EINVAL;
		tb[type] = attr;
	}
	return 0;
}

/* libmnl's getters, inline: they are a call each otherwise. */
static inline const void *payload(const struct nlattr *a)
{
	return (const char *)a + MNL_ATTR_HDRLEN;
}

static inline uint16_t payload_len(const struct nlattr *a)
{
	return (uint16_t)(a->nla_len - MNL_ATTR_HDRLEN);
}

static inline uint32_t be32_attr(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, payload(a), sizeof(v));
	return ntohl(v);
}

static inline uint16_t be16_attr(const struct nlattr *a)
{
	uint16_t v;

	memcpy(&v, payload(a), sizeof(v));
	return ntohs(v);
}

int nflog_decode(const struct nlmsghdr *nlh, struct trace_record *rec)
{
	return nflog_decode_memo(nlh, rec, NULL);
}

int nflog_decode_memo(const struct nlmsghdr *nlh, struct trace_record *rec,
		      struct trace_prefix_memo *memo)
{
	const struct nfgenmsg *nfg;
	const struct nfulnl_msg_packet_hdr *ph;
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	int n;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = (const void *)((const char *)nlh + MNL_NLMSG_HDRLEN);
	if (parse_attrs(nlh, tb) < 0)
		return -EINVAL;
	if (!tb[NFULA_PACKET_HDR] || !tb[NFULA_PREFIX])
		return -EINVAL;

	/*
	 * raw[] is written only as far as raw_len says: skip clearing it. Everything after it
	 * is cleared, the resolver's rule/verdict pointers included, which the sinks read.
	 */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->backend = TRACE_BACKEND_LEGACY;
	/* NUL-terminated (checked): the parser stops at the NUL as at the end. */
	n = trace_prefix_parse_memo(memo, payload(tb[NFULA_PREFIX]),
				    payload_len(tb[NFULA_PREFIX]), rec);
	if (n < 0)
		return n;

	ph = payload(tb[NFULA_PACKET_HDR]);
	rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	rec->nfproto = nfg->nfgen_family;
	if (tb[NFULA_MARK])
		rec->mark = be32_attr(tb[NFULA_MARK]);
	if (tb[NFULA_IFINDEX_INDEV])
		rec->ifindex_in = be32_attr(tb[NFULA_IFINDEX_INDEV]);
	if (tb[NFULA_IFINDEX_OUTDEV])
		rec->ifindex_out = be32_attr(tb[NFULA_IFINDEX_OUTDEV]);
	if (tb[NFULA_IFINDEX_PHYSINDEV])
		rec->ifindex_physin = be32_attr(tb[NFULA_IFINDEX_PHYSINDEV]);
	if (tb[NFULA_IFINDEX_PHYSOUTDEV])
		rec->ifindex_physout = be32_attr(tb[NFULA_IFINDEX_PHYSOUTDEV]);
	if (tb[NFULA_SEQ]) {
		rec->seq = be32_attr(tb[NFULA_SEQ]);
		rec->has_seq = true;
	}
	if (tb[NFULA_TIMESTAMP]) {
		/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
		struct nfulnl_msg_packet_timestamp ts;

		memcpy(&ts, payload(tb[NFULA_TIMESTAMP]), sizeof(ts));
		rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
	}
	if (tb[NFULA_HWTYPE])
		rec->hw_type = be16_attr(tb[NFULA_HWTYPE]);
	if (tb[NFULA_HWHEADER]) {
		uint16_t len = payload_len(tb[NFULA_HWHEADER]);

		if (tb[NFULA_HWLEN] && be16_attr(tb[NFULA_HWLEN]) < len)
			len = be16_attr(tb[NFULA_HWLEN]);
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		memcpy(rec->hw, payload(tb[NFULA_HWHEADER]), len);
		rec->hw_len = len;
	}
	if (tb[NFULA_PAYLOAD]) {
		const uint8_t *p = payload(tb[NFULA_PAYLOAD]);
		size_t len = payload_len(tb[NFULA_PAYLOAD]);

		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		memcpy(rec->raw, p, rec->raw_len);
		if (pkt_decode(p, len, nfg->nfgen_family == AF_INET6 ? AF_INET6 :
			       nfg->nfgen_family == AF_INET ? AF_INET : 0, &rec->pkt) < 0)
			memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}
