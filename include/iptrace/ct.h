/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ct.h: the conntrack message decoder — ctnetlink bytes in, a plain entry out */
#ifndef IPTRACE_CT_H
#define IPTRACE_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include "iptrace/record.h"

/* What an event did to the table. Dump and GET replies decode as CT_OP_UPDATE. */
enum ct_op {
	CT_OP_NEW,	/* IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL */
	CT_OP_UPDATE,	/* IPCTNL_MSG_CT_NEW without them */
	CT_OP_DESTROY,	/* IPCTNL_MSG_CT_DELETE */
};

/* One direction of a connection, as conntrack keys it. Ports and ids in host order. */
struct ct_tuple {
	uint8_t		family;		/* AF_INET or AF_INET6 (from the address attributes) */
	uint8_t		proto;		/* CTA_PROTO_NUM */
	struct in6_addr	src, dst;	/* IPv4 in the first 4 bytes */
	bool		has_ports;	/* CTA_PROTO_SRC_PORT and _DST_PORT present */
	uint16_t	sport, dport;
	bool		has_icmp;	/* ICMP(v6) id/type/code present */
	uint16_t	icmp_id;
	uint8_t		icmp_type, icmp_code;
};

/* One conntrack entry as a message described it. Plain struct: copy freely. */
struct ct_entry {
	enum ct_op	op;
	uint8_t		family;		/* nfgen_family */
	struct ct_tuple	orig, reply;
	bool		has_status, has_id, has_timeout, has_mark;
	uint32_t	status;		/* IPS_* bits */
	uint32_t	id;		/* CTA_ID */
	uint32_t	timeout;	/* seconds left */
	uint32_t	mark;
};

/*
 * ct_decode - decode one ctnetlink conntrack message (IPCTNL_MSG_CT_NEW / _DELETE) into @e.
 * Pure: no socket, no output. Every attribute is validated; unknown ones are skipped.
 * Returns 0, -ENOMSG when @nlh is not a conntrack entry message (another subsystem,
 * NLMSG_ERROR, DONE), -EINVAL when it is one but malformed or lacks either tuple.
 */
int ct_decode(const struct nlmsghdr *nlh, struct ct_entry *e);

/*
 * ct_tuple_from_pkt - the conntrack tuple a packet with headers @h is keyed by (its
 * direction's tuple), for a lookup. Returns 0, or -EINVAL when @h can't name one (no
 * family, truncated transport header, an ICMP message that is not an echo).
 */
int ct_tuple_from_pkt(const struct pkt_hdr *h, struct ct_tuple *t);

/* DNAT: the reply comes from elsewhere than the original destination. */
bool ct_is_dnat(const struct ct_entry *e);
/* SNAT / masquerade: the reply goes elsewhere than the original source. */
bool ct_is_snat(const struct ct_entry *e);
/* ct_is_nat - SNAT or DNAT, by status bits or by the tuples. */
bool ct_is_nat(const struct ct_entry *e);

/*
 * ct_fmt_endpoint - "10.0.1.2:53", "[2001:db8::1]:53" into @buf (size >= 64); the
 * source (@dst false) or destination of @t. ICMP shows its echo id in the port's place,
 * protocols without ports "*". Returns @buf.
 */
char *ct_fmt_endpoint(const struct ct_tuple *t, bool dst, char *buf, size_t size);
/* ct_fmt_addr - the address alone into @buf (size >= INET6_ADDRSTRLEN). Returns @buf. */
char *ct_fmt_addr(const struct ct_tuple *t, bool dst, char *buf, size_t size);
/* ct_proto_name - "tcp", "udp", "icmp", ... or the number as text into @buf (size >= 4). */
const char *ct_proto_name(uint8_t proto, char *buf, size_t size);
/* ct_status_name - lower-case name of IPS_* bit @bit ("assured"), NULL if unnamed. */
const char *ct_status_name(unsigned bit);

/* ct_put_status_json - @status (IPS_* bits) as a JSON array of names to @f. */
void ct_put_status_json(FILE *f, uint32_t status);

/* ct_state_name - nft's ct state for NF_CT_STATE_* bits: "new", "established", ... */
const char *ct_state_name(uint32_t state);

#endif
