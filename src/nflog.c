/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog.c: pure decoder of NFLOG packet messages into trace records */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "iptrace/nflog.h"
#include "iptrace/pkt.h"

struct attrs {
	const struct nlattr *tb[NFULA_MAX + 1];
};

/* Check the size of every attribute we read; skip types we don't know. */
static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFULA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case NFULA_MARK:
	case NFULA_IFINDEX_INDEV:
	case NFULA_IFINDEX_OUTDEV:
	case NFULA_IFINDEX_PHYSINDEV:
	case NFULA_IFINDEX_PHYSOUTDEV:
	case NFULA_UID:
	case NFULA_GID:
	case NFULA_SEQ:
	case NFULA_SEQ_GLOBAL:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	case NFULA_HWTYPE:
	case NFULA_HWLEN:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		break;
	case NFULA_PACKET_HDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfulnl_msg_packet_hdr)) < 0)
			return MNL_CB_ERROR;
		break;
	case NFULA_TIMESTAMP:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfulnl_msg_packet_timestamp)) < 0)
			return MNL_CB_ERROR;
		break;
	case NFULA_HWADDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				       sizeof(struct nfulnl_msg_packet_hw)) < 0)
			return MNL_CB_ERROR;
		break;
	case NFULA_PREFIX:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	}
	a->tb[type] = attr;
	return MNL_CB_OK;
}

static uint32_t be32_attr(const struct nlattr *a)
{
	return ntohl(mnl_attr_get_u32(a));
}

int nflog_decode(const struct nlmsghdr *nlh, struct trace_record *rec)
{
	const struct nfgenmsg *nfg;
	const struct nfulnl_msg_packet_hdr *ph;
	struct attrs a = { 0 };
	const char *prefix;
	int n;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)))
		return -EINVAL;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, &a) < 0)
		return -EINVAL;
	if (!a.tb[NFULA_PACKET_HDR] || !a.tb[NFULA_PREFIX])
		return -EINVAL;

	/* raw[] is written only as far as raw_len says: skip clearing it. */
	memset(rec, 0, offsetof(struct trace_record, raw));
	rec->backend = TRACE_BACKEND_LEGACY;
	prefix = mnl_attr_get_str(a.tb[NFULA_PREFIX]);
	n = trace_prefix_parse(prefix, strnlen(prefix, mnl_attr_get_payload_len(a.tb[NFULA_PREFIX])), rec);
	if (n < 0)
		return n;

	ph = mnl_attr_get_payload(a.tb[NFULA_PACKET_HDR]);
	rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	rec->nfproto = nfg->nfgen_family;
	if (a.tb[NFULA_MARK])
		rec->mark = be32_attr(a.tb[NFULA_MARK]);
	if (a.tb[NFULA_IFINDEX_INDEV])
		rec->ifindex_in = be32_attr(a.tb[NFULA_IFINDEX_INDEV]);
	if (a.tb[NFULA_IFINDEX_OUTDEV])
		rec->ifindex_out = be32_attr(a.tb[NFULA_IFINDEX_OUTDEV]);
	if (a.tb[NFULA_IFINDEX_PHYSINDEV])
		rec->ifindex_physin = be32_attr(a.tb[NFULA_IFINDEX_PHYSINDEV]);
	if (a.tb[NFULA_IFINDEX_PHYSOUTDEV])
		rec->ifindex_physout = be32_attr(a.tb[NFULA_IFINDEX_PHYSOUTDEV]);
	if (a.tb[NFULA_SEQ]) {
		rec->seq = be32_attr(a.tb[NFULA_SEQ]);
		rec->has_seq = true;
	}
	if (a.tb[NFULA_TIMESTAMP]) {
		const struct nfulnl_msg_packet_timestamp *ts =
			mnl_attr_get_payload(a.tb[NFULA_TIMESTAMP]);
		rec->ts_ns = be64toh(ts->sec) * 1000000000ull + be64toh(ts->usec) * 1000ull;
	}
	if (a.tb[NFULA_HWTYPE])
		rec->hw_type = ntohs(mnl_attr_get_u16(a.tb[NFULA_HWTYPE]));
	if (a.tb[NFULA_HWHEADER]) {
		uint16_t len = mnl_attr_get_payload_len(a.tb[NFULA_HWHEADER]);

		if (a.tb[NFULA_HWLEN] && ntohs(mnl_attr_get_u16(a.tb[NFULA_HWLEN])) < len)
			len = ntohs(mnl_attr_get_u16(a.tb[NFULA_HWLEN]));
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		memcpy(rec->hw, mnl_attr_get_payload(a.tb[NFULA_HWHEADER]), len);
		rec->hw_len = len;
	}
	if (a.tb[NFULA_PAYLOAD]) {
		const uint8_t *p = mnl_attr_get_payload(a.tb[NFULA_PAYLOAD]);
		size_t len = mnl_attr_get_payload_len(a.tb[NFULA_PAYLOAD]);

		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		memcpy(rec->raw, p, rec->raw_len);
		if (pkt_decode(p, len, nfg->nfgen_family == AF_INET6 ? AF_INET6 :
			       nfg->nfgen_family == AF_INET ? AF_INET : 0, &rec->pkt) < 0)
			memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}
