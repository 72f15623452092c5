/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog.c: pure decoder of NFLOG packet messages into trace records */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
/*
 * The kernel's header before the library's (both guard with _NFNETLINK_LOG_H): its
 * NFULA_MAX (NFULA_L2HDR) is at least that of any libnetfilter_log of its time, so the
 * table below holds every type nflog_nlmsg_parse() may fill.
 */
#include <linux/netfilter/nfnetlink_log.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include "iptrace/nflog.h"
#include "iptrace/nlattr.h"
#include "iptrace/pkt.h"

/* What pkt_decode() is told for a message of nfgenmsg family @nfproto. */
static int pkt_family(uint8_t nfproto)
{
	return nfproto == AF_INET6 ? AF_INET6 : nfproto == AF_INET ? AF_INET : 0;
}

int nflog_decode(const struct nlmsghdr *nlh, struct names *nm, struct trace_record *rec)
{
	/*
	 * nflog_nlmsg_parse()'s callback checks every type read here (libnetfilter_log
	 * 1.0.2, src/nlmsg.c): the exact size of PACKET_HDR, TIMESTAMP, the u32s and u16s, a
	 * non-empty NUL-terminated PREFIX; it skips types beyond its NFULA_MAX, the last of a
	 * repeated type wins. test_nflog holds the library to that.
	 */
	struct nlattr *tb[NFULA_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nfulnl_msg_packet_hdr *ph;
	const struct nlattr *a;
	int ret;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (!nlattr_walkable(nlh, sizeof(*nfg)) || nflog_nlmsg_parse(nlh, tb) < 0 ||
	    !tb[NFULA_PACKET_HDR] || !tb[NFULA_PREFIX])
		return -EINVAL;

	/* raw[] is written only as far as raw_len says (record.h). */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->verdict_chain = "";
	rec->backend = TRACE_BACKEND_LEGACY;
	rec->nfproto = nfg->nfgen_family;
	/* The length with the NUL: the parser stops at the NUL as at the end. */
	a = tb[NFULA_PREFIX];
	ret = trace_prefix_parse(mnl_attr_get_str(a), mnl_attr_get_payload_len(a), nm,
				 rec);
	if (ret < 0)
		return ret;
	ph = mnl_attr_get_payload(tb[NFULA_PACKET_HDR]);
	rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	if (tb[NFULA_MARK])
		rec->mark = ntohl(mnl_attr_get_u32(tb[NFULA_MARK]));
	if (tb[NFULA_IFINDEX_INDEV])
		rec->ifindex_in = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_INDEV]));
	if (tb[NFULA_IFINDEX_OUTDEV])
		rec->ifindex_out = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_OUTDEV]));
	if (tb[NFULA_IFINDEX_PHYSINDEV])
		rec->ifindex_physin = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_PHYSINDEV]));
	if (tb[NFULA_IFINDEX_PHYSOUTDEV])
		rec->ifindex_physout = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_PHYSOUTDEV]));
	if (tb[NFULA_UID] && tb[NFULA_GID]) {
		rec->uid = ntohl(mnl_attr_get_u32(tb[NFULA_UID]));
		rec->gid = ntohl(mnl_attr_get_u32(tb[NFULA_GID]));
		rec->has_uid = true;
	}
	if (tb[NFULA_SEQ]) {
		rec->seq = ntohl(mnl_attr_get_u32(tb[NFULA_SEQ]));
		rec->has_seq = true;
	}
	if (tb[NFULA_TIMESTAMP]) {
		/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
		struct nfulnl_msg_packet_timestamp ts;

		memcpy(&ts, mnl_attr_get_payload(tb[NFULA_TIMESTAMP]), sizeof(ts));
		rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
	}
	if (tb[NFULA_HWTYPE])
		rec->hw_type = ntohs(mnl_attr_get_u16(tb[NFULA_HWTYPE]));
	if (tb[NFULA_HWHEADER]) {
		uint16_t len = mnl_attr_get_payload_len(tb[NFULA_HWHEADER]);

		if (tb[NFULA_HWLEN] && ntohs(mnl_attr_get_u16(tb[NFULA_HWLEN])) < len)
			len = ntohs(mnl_attr_get_u16(tb[NFULA_HWLEN]));
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		memcpy(rec->hw, mnl_attr_get_payload(tb[NFULA_HWHEADER]), len);
		rec->hw_len = len;
	}
	if (tb[NFULA_PAYLOAD]) {
		const uint8_t *pk = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
		size_t len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);

		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		memcpy(rec->raw, pk, rec->raw_len);
		if (pkt_decode(pk, len, pkt_family(nfg->nfgen_family), &rec->pkt) < 0)
			memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}
