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

/* A u32 attribute into @dst: -EINVAL unless its payload (@plen bytes) is exactly that. */
static inline int u32_attr(const struct nlattr *a, size_t plen, uint32_t *dst)
{
	if (plen != sizeof(*dst))
		return -EINVAL;
	*dst = be32_attr(a);
	return 0;
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

/*
 * One pass over the attributes, as mnl_attr_parse() walks them (a truncated attribute ends
 * the walk), each written straight into the record: no table of attributes to clear and
 * read again, no callback and validate call per attribute (that walk was most of the decode
 * cost, BENCHMARKS.md). Every attribute is still checked as mnl_attr_validate() would with
 * nfnetlink_log's policy: the exact size of fixed-size ones, a NUL-terminated non-empty
 * prefix; a bad one rejects the message. Types beyond NFULA_MAX are skipped. The last of a
 * repeated attribute wins. The prefix, the MAC header and the packet are read after the
 * walk (the MAC header's length depends on NFULA_HWLEN, wherever it comes).
 */
int nflog_decode_memo(const struct nlmsghdr *nlh, struct trace_record *rec,
		      struct trace_prefix_memo *memo)
{
	const struct nlattr *prefix = NULL, *pkthdr = NULL, *hwheader = NULL, *packet = NULL;
	const struct nfgenmsg *nfg;
	const char *p, *end;
	int hwlen = -1, n;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = (const void *)((const char *)nlh + MNL_NLMSG_HDRLEN);

	/*
	 * raw[] is written only as far as raw_len says: skip clearing it. Everything after it
	 * is cleared, the resolver's rule/verdict pointers included, which the sinks read.
	 */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->backend = TRACE_BACKEND_LEGACY;
	rec->nfproto = nfg->nfgen_family;

	p = (const char *)nfg + MNL_ALIGN(sizeof(*nfg));
	/* nlmsg_len, not its aligned size: the buffer may end right there (a last message). */
	end = (const char *)nlh + nlh->nlmsg_len;
	/* Signed: the aligned step past an unaligned last attribute may go beyond the end. */
	while (end - p >= (ptrdiff_t)sizeof(struct nlattr)) {
		const struct nlattr *a = (const void *)p;
		size_t len = a->nla_len, plen = len - MNL_ATTR_HDRLEN;

		if (len < sizeof(struct nlattr) || len > (size_t)(end - p))
			break;
		p += (len + NLA_ALIGNTO - 1) & ~(size_t)(NLA_ALIGNTO - 1);
		switch (a->nla_type & NLA_TYPE_MASK) {
		case NFULA_PACKET_HDR:
			if (plen != sizeof(struct nfulnl_msg_packet_hdr))
				return -EINVAL;
			pkthdr = a;
			break;
		case NFULA_MARK:
			if (u32_attr(a, plen, &rec->mark) < 0)
				return -EINVAL;
			break;
		case NFULA_TIMESTAMP: {
			/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
			struct nfulnl_msg_packet_timestamp ts;

			if (plen != sizeof(ts))
				return -EINVAL;
			memcpy(&ts, payload(a), sizeof(ts));
			rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
			break;
		}
		case NFULA_IFINDEX_INDEV:
			if (u32_attr(a, plen, &rec->ifindex_in) < 0)
				return -EINVAL;
			break;
		case NFULA_IFINDEX_OUTDEV:
			if (u32_attr(a, plen, &rec->ifindex_out) < 0)
				return -EINVAL;
			break;
		case NFULA_IFINDEX_PHYSINDEV:
			if (u32_attr(a, plen, &rec->ifindex_physin) < 0)
				return -EINVAL;
			break;
		case NFULA_IFINDEX_PHYSOUTDEV:
			if (u32_attr(a, plen, &rec->ifindex_physout) < 0)
				return -EINVAL;
			break;
		case NFULA_SEQ:
			if (u32_attr(a, plen, &rec->seq) < 0)
				return -EINVAL;
			rec->has_seq = true;
			break;
		case NFULA_UID:
		case NFULA_GID:
		case NFULA_SEQ_GLOBAL:
			if (plen != sizeof(uint32_t))
				return -EINVAL;
			break;
		case NFULA_HWTYPE:
			if (plen != sizeof(uint16_t))
				return -EINVAL;
			rec->hw_type = be16_attr(a);
			break;
		case NFULA_HWLEN:
			if (plen != sizeof(uint16_t))
				return -EINVAL;
			hwlen = be16_attr(a);
			break;
		case NFULA_HWADDR:
			if (plen != sizeof(struct nfulnl_msg_packet_hw))
				return -EINVAL;
			break;
		case NFULA_PREFIX:
			if (plen == 0 || ((const char *)a)[len - 1] != '\0')
				return -EINVAL;
			prefix = a;
			break;
		case NFULA_HWHEADER:
			hwheader = a;
			break;
		case NFULA_PAYLOAD:
			packet = a;
			break;
		}
	}
	if (!pkthdr || !prefix)
		return -EINVAL;
	/* NUL-terminated (checked): the parser stops at the NUL as at the end. */
	n = trace_prefix_parse_memo(memo, payload(prefix), payload_len(prefix), rec);
	if (n < 0)
		return n;
	{
		const struct nfulnl_msg_packet_hdr *ph = payload(pkthdr);

		rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	}
	if (hwheader) {
		uint16_t len = payload_len(hwheader);

		if (hwlen >= 0 && hwlen < len)
			len = (uint16_t)hwlen;
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		memcpy(rec->hw, payload(hwheader), len);
		rec->hw_len = len;
	}
	if (packet) {
		const uint8_t *pk = payload(packet);
		size_t len = payload_len(packet);

		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		memcpy(rec->raw, pk, rec->raw_len);
		if (pkt_decode(pk, len, nfg->nfgen_family == AF_INET6 ? AF_INET6 :
			       nfg->nfgen_family == AF_INET ? AF_INET : 0, &rec->pkt) < 0)
			memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}
