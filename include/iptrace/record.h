/* SPDX-License-Identifier: GPL-2.0-or-later */
/* record.h: the trace record, the one currency of the pipeline after decoding */
#ifndef IPTRACE_RECORD_H
#define IPTRACE_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include "iptrace/names.h"

enum trace_backend {
	TRACE_BACKEND_LEGACY,	/* ip_tables / ip6_tables via nfnetlink_log */
	TRACE_BACKEND_NFT,	/* nf_tables trace group */
};

enum trace_kind {
	TRACE_KIND_RULE,
	TRACE_KIND_RETURN,
	TRACE_KIND_POLICY,
};

/* How many L3+L4 header bytes a record keeps for the kernel log format. */
#define TRACE_RAW_MAX	128
#define TRACE_HW_MAX	32
#define TRACE_NAME_MAX	32	/* legacy table and chain names, as xt_chainlabel */
/*
 * nf_tables table and chain names: 255 bytes and a NUL (NFT_NAME_MAXLEN). Real ones are
 * longer than 31 (kube-proxy's "service-HASH-NAMESPACE/NAME/PROTO/PORT", firewalld's
 * "filter_IN_policy_allow-host-ipv6_allow"); records point at them (names.h).
 */
#define TRACE_NFT_NAME_MAX	256

/*
 * The decoded network and transport headers of one record, as the packet looked at that
 * step. Pure data: filled by pkt_decode() or by the log-line parser.
 */
struct pkt_hdr {
	uint8_t		family;		/* AF_INET, AF_INET6, or 0 if unknown */
	uint8_t		proto;		/* L4 protocol (after IPv6 extension headers) */
	uint8_t		ttl;		/* TTL / hop limit */
	uint8_t		tos;		/* TOS / traffic class */
	uint16_t	len;		/* IPv4 total length / IPv6 payload length + 40 */
	uint16_t	ipid;		/* IPv4 identification (0 for IPv6) */
	uint16_t	frag;		/* IPv4 flags+fragment offset, host order */
	uint32_t	flowlabel;	/* IPv6 only */
	struct in6_addr	saddr;		/* IPv4 as v4-mapped is not used: first 4 bytes */
	struct in6_addr	daddr;
	bool		has_l4;		/* transport header fully present */
	bool		has_ports;	/* tcp, udp, udplite, sctp, dccp */
	uint16_t	sport, dport;
	uint16_t	l4len;		/* UDP length field */
	uint32_t	tcp_seq, tcp_ack;
	uint16_t	tcp_window;
	uint8_t		tcp_flags;	/* FIN..CWR as in the header byte 13 */
	uint8_t		tcp_res;	/* reserved bits (byte 12 low nibble) */
	uint16_t	tcp_urg;
	uint8_t		icmp_type, icmp_code;
	uint16_t	icmp_ident, icmp_seqno;
	uint32_t	payload_hash;	/* hash of the L4 payload (NAT-proof), 0 if none */
	/*
	 * pkt_head_hash() of a record that has no raw bytes to compute it from: as --merge
	 * reads it back ("payload_hash"). 0 in records of a capture; ask pkt_head_hash().
	 */
	uint32_t	head_hash;
};

/* One trace step as the kernel reported it. Plain struct: copy freely. */
struct trace_record {
	enum trace_backend backend;
	enum trace_kind	kind;
	int8_t		hook;		/* enum trace_hook the step ran in, HOOK_NONE if unknown */
	uint8_t		nfproto;	/* NFPROTO_IPV4/IPV6/INET... of the table */
	uint64_t	ts_ns;		/* wall-clock time, ns since the epoch */
	/*
	 * The names, NUL-terminated, "" when none (never NULL): interned in the pipeline's
	 * name pool by the decoders (names.h), valid as long as the pool, so a record may be
	 * copied and kept freely while its pipeline lives. --merge's steps point into the line
	 * read (jsonpkt.h), borrowed as their rule and verdict are; a record made by hand may
	 * point at string literals. Legacy names are under TRACE_NAME_MAX bytes, nft ones
	 * under TRACE_NFT_NAME_MAX.
	 */
	const char	*table;
	const char	*chain;
	uint32_t	rulenum;	/* legacy: 1-based position in the chain */
	uint64_t	handle;		/* nft: rule handle, 0 if none */
	uint32_t	trace_id;	/* nft: NFTA_TRACE_ID */
	uint32_t	ifindex_in, ifindex_out, ifindex_physin, ifindex_physout;
	char		in[IF_NAMESIZE], out[IF_NAMESIZE];
	char		physin[IF_NAMESIZE], physout[IF_NAMESIZE];
	uint32_t	mark;
	/* NFULA_UID/GID: the owner of the local socket that sent the packet (legacy records). */
	bool		has_uid;
	uint32_t	uid, gid;
	bool		has_seq;
	uint32_t	seq;		/* NFULA_SEQ: per-instance sequence number */
	uint16_t	hw_len;		/* MAC header bytes (log format's MAC=) */
	uint8_t		hw[TRACE_HW_MAX];
	uint16_t	hw_type;	/* ARPHRD_* of the input device, 0 if unknown */
	struct pkt_hdr	pkt;
	/* Set by the pipeline on receipt: the monotonic time the record was read. */
	uint64_t	recv_ns;
	/*
	 * The resolve stage's answer, filled just before the sinks see the step (pipeline.c);
	 * all NULL where nothing resolved it (--read, --replay, nft steps). Borrowed from the
	 * resolver: valid while the sink prints this packet, not after (see resolver.h).
	 * rule: the rule in iptables-save syntax ("-A C ...", "-P C ACCEPT"), NULL when not
	 * certain or when there is no rule (a chain's implicit return); verdict: "ACCEPT",
	 * "DNAT", "jump CHAIN", "goto CHAIN", "return", "MARK", ...; verdict_continues: the
	 * target does not end the chain (MARK, LOG, ...); rule_reason: why rule is NULL.
	 */
	const char	*rule;
	const char	*verdict;
	const char	*rule_reason;
	bool		verdict_continues;
	/* nf_tables records (backend NFT); zero for legacy ones. */
	uint8_t		table_family;	/* NFPROTO_* of the table: inet, ip, ip6, bridge... */
	bool		has_hdr;	/* headers came with this record (first of a traversal) */
	bool		has_verdict;
	int32_t		verdict_code;	/* NF_ACCEPT, NF_DROP, ... or NFT_JUMP/GOTO/RETURN/CONTINUE */
	const char	*verdict_chain;	/* jump/goto target, "" if none; as table */
	bool		has_policy;
	uint32_t	policy;		/* NF_ACCEPT or NF_DROP */
	bool		has_ct;
	uint8_t		ct_dir;		/* IP_CT_DIR_ORIGINAL/REPLY */
	uint32_t	ct_id;		/* equals conntrack's CTA_ID */
	uint32_t	ct_state;	/* NF_CT_STATE_* bits */
	uint32_t	ct_status;	/* IPS_* bits */
	int32_t		prio;		/* hook priority of the step's base chain (grouper order) */
	bool		has_prio;
	/* Legacy: the last resolver barrier received before this record (resolver.h). */
	int32_t		barrier;
	/*
	 * Set by the grouper: this step shares its hook and priority with a step of the other
	 * backend, and neither the kernel's hook list nor the packet's records told which ran
	 * first; the order printed is the capture's fixed choice (see grouper.h).
	 */
	bool		order_unknown;
	/*
	 * --read: the kernel's time since boot the line shows ("[12345.678901]" of dmesg and of
	 * syslog's kernel lines), ns; 0 when it shows none.
	 */
	uint64_t	uptime_ns;
	/*
	 * The node the step was traced on: --node or the host name, set by the pipeline as the
	 * record comes in; from the input for --merge; NULL where none is known (--read and
	 * --replay without --node). Borrowed: from the options, or --merge's input, valid while
	 * a sink prints the packet.
	 */
	const char	*node;
	/*
	 * Last on purpose: decoders leave every byte before raw[] zero where they write
	 * nothing (one memset up to offsetof(struct trace_record, raw)) and write raw[] only
	 * as far as raw_len says. Add new fields above this line.
	 */
	uint16_t	raw_len;	/* L3 bytes kept in raw[] */
	uint8_t		raw[TRACE_RAW_MAX];
};

/*
 * The names of the enums' values, once: X(value, "name") for each. The functions below
 * return them; a writer may also expand them into literals (a constant copy each).
 */
#define TRACE_KIND_NAMES(X) \
	X(TRACE_KIND_RULE, "rule") X(TRACE_KIND_RETURN, "return") X(TRACE_KIND_POLICY, "policy")
#define TRACE_BACKEND_NAMES(X) X(TRACE_BACKEND_LEGACY, "legacy") X(TRACE_BACKEND_NFT, "nft")
#define TRACE_HOOK_NAMES(X) \
	X(HOOK_PREROUTING, "PREROUTING") X(HOOK_INPUT, "INPUT") X(HOOK_FORWARD, "FORWARD") \
	X(HOOK_OUTPUT, "OUTPUT") X(HOOK_POSTROUTING, "POSTROUTING")

const char *trace_kind_name(enum trace_kind kind);
const char *trace_backend_name(enum trace_backend backend);

/*
 * trace_prefix_parse - parse the "TRACE: table:chain:kind:num " prefix into @rec's table,
 * chain, kind and rulenum; the names are interned in @nm (names.h). @len is the prefix
 * length without a terminating NUL, if any. Returns the number of bytes consumed (the
 * prefix and its trailing space), -ENOMSG when the text is not a TRACE prefix at all,
 * -EINVAL when it starts like one but is malformed (a name of TRACE_NAME_MAX bytes or
 * more, as xt_chainlabel forbids), -ENOMEM when @nm cannot take a name.
 */
int trace_prefix_parse(const char *s, size_t len, struct names *nm, struct trace_record *rec);

/* Base chains, in the order a packet meets them; used by the grouper and the resolver. */
enum trace_hook {
	HOOK_NONE = -1,
	HOOK_PREROUTING, HOOK_INPUT, HOOK_FORWARD, HOOK_OUTPUT, HOOK_POSTROUTING,
};
/* trace_hook_of - the hook a legacy base chain name stands for, HOOK_NONE for user chains. */
enum trace_hook trace_hook_of(const char *chain);
/* trace_hook_name - "PREROUTING" ... "POSTROUTING" for an enum trace_hook, NULL for others. */
const char *trace_hook_name(int hook);

/*
 * trace_node_ok - true when @s may name a node (--node, "node" in --merge's input): 1 to
 * TRACE_NODE_MAX bytes (a Kubernetes node name's limit), no control byte, as text prints it.
 */
#define TRACE_NODE_MAX	253
bool trace_node_ok(const char *s);

#endif
