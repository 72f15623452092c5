/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkt.h: pure decoder of IPv4/IPv6 + TCP/UDP/ICMP headers from raw bytes */
#ifndef IPTRACE_PKT_H
#define IPTRACE_PKT_H

#include <stddef.h>
#include <stdint.h>
#include "iptrace/record.h"

/*
 * pkt_decode - decode the L3 header at @buf (as NFULA_PAYLOAD carries it) into @hdr.
 * @family is AF_INET or AF_INET6 (the nfgenmsg family); 0 lets the version nibble decide.
 * Truncated transport headers leave has_l4 false. Returns 0, or -EINVAL when not even the
 * network header is there. Never reads past @len.
 */
int pkt_decode(const uint8_t *buf, size_t len, int family, struct pkt_hdr *hdr);

/*
 * pkt_payload_hash - a hash of @len bytes: what tells packets apart by their payload
 * (pkt_hdr.payload_hash and head_hash, the grouper's keys). The same on every host and in
 * every version: JSON's "payload_hash" is compared with other nodes' by --merge.
 */
uint32_t pkt_payload_hash(const void *buf, size_t len);

/*
 * pkt_head_hash - the hash of the first 12 bytes after the UDP or ICMP(v6) echo header of
 * @r's packet, from its raw[] bytes — what both markers' records carry (an nft record has
 * 20 bytes of transport header) and NAT leaves alone: the same packet on any node, traced
 * by either backend, has the same one (the grouper's nft-legacy join, JSON "payload_hash",
 * --merge). 0 if it has none (TCP, an ICMP error, a later fragment, IPv6 with extension
 * headers); a record without raw bytes (read back by --merge) gives its pkt.head_hash.
 */
uint32_t pkt_head_hash(const struct trace_record *r);

/* pkt_proto_name - "tcp", "udp", "icmp", "icmpv6", "sctp", ... or NULL when unnamed. */
const char *pkt_proto_name(uint8_t proto);

/*
 * pkt_icmp_name - an ICMP (@proto IPPROTO_ICMP) or ICMPv6 message's name as iptables names
 * it, the code's where it has one ("port-unreachable", "host-redirect"), else the type's
 * ("echo-request", "redirect"); NULL for an unnamed type or another protocol.
 */
const char *pkt_icmp_name(uint8_t proto, uint8_t type, uint8_t code);

/*
 * pkt_rebuild - network and transport headers rebuilt from decoded fields (a record parsed
 * from a log line has no bytes), into @b (at least PKT_REBUILD_MAX bytes): IPv4 (with its
 * header checksum) or IPv6 without options or extension headers, then the TCP, UDP or ICMP
 * header when has_l4 (transport checksums 0: the payload is unknown). Returns the bytes
 * written, 0 for a header of no known family.
 */
#define PKT_REBUILD_MAX 80
size_t pkt_rebuild(const struct pkt_hdr *h, uint8_t *b);

#endif
