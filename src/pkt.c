/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkt.c: pure decoder of network and transport headers */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "iptrace/pkt.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t pkt_payload_hash(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;

	/* Words read little-endian: a node of either byte order prints the same hash. */
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, sizeof(w));
		h = (h ^ le64toh(w)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ le64toh(w)) * 0xff51afd7ed558ccdull;
	}
	h ^= h >> 29;
	return (uint32_t)h;
}

const char *pkt_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:	return "tcp";
	case IPPROTO_UDP:	return "udp";
	case IPPROTO_ICMP:	return "icmp";
	case IPPROTO_ICMPV6:	return "icmpv6";
	case IPPROTO_SCTP:	return "sctp";
	case IPPROTO_UDPLITE:	return "udplite";
	case IPPROTO_DCCP:	return "dccp";
	case IPPROTO_GRE:	return "gre";
	case IPPROTO_ESP:	return "esp";
	case IPPROTO_AH:	return "ah";
	}
	return NULL;
}

/*
 * The payload hash is what lets the grouper recognise a packet after NAT rewrote its
 * addresses, ports and checksums: it covers only bytes NAT leaves alone.
 */
static void decode_l4(const uint8_t *p, size_t len, struct pkt_hdr *h)
{
	size_t hl;

	switch (h->proto) {
	case IPPROTO_TCP:
		if (len < 20)
			return;
		hl = (size_t)(p[12] >> 4) * 4;
		h->sport = get16(p);
		h->dport = get16(p + 2);
		h->has_ports = true;
		h->tcp_seq = get32(p + 4);
		h->tcp_ack = get32(p + 8);
		h->tcp_res = p[12] & 0x0f;
		h->tcp_flags = p[13];
		h->tcp_window = get16(p + 14);
		h->tcp_urg = get16(p + 18);
		h->has_l4 = true;
		if (hl >= 20 && hl < len)
			h->payload_hash = pkt_payload_hash(p + hl, len - hl);
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (len < 8)
			return;
		h->sport = get16(p);
		h->dport = get16(p + 2);
		h->l4len = get16(p + 4);
		h->has_ports = true;
		h->has_l4 = true;
		if (len > 8)
			h->payload_hash = pkt_payload_hash(p + 8, len - 8);
		break;
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		if (len < 4)
			return;
		h->sport = get16(p);
		h->dport = get16(p + 2);
		h->has_ports = true;
		h->has_l4 = true;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (len < 8)
			return;
		h->icmp_type = p[0];
		h->icmp_code = p[1];
		h->icmp_ident = get16(p + 4);
		h->icmp_seqno = get16(p + 6);
		h->has_l4 = true;
		if (len > 8)
			h->payload_hash = pkt_payload_hash(p + 8, len - 8);
		break;
	}
}

static int decode_v4(const uint8_t *p, size_t len, struct pkt_hdr *h)
{
	size_t ihl, tot;

	if (len < 20 || (p[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20)
		return -EINVAL;
	h->family = AF_INET;
	h->tos = p[1];
	h->len = get16(p + 2);
	h->ipid = get16(p + 4);
	h->frag = get16(p + 6);
	h->ttl = p[8];
	h->proto = p[9];
	memcpy(&h->saddr, p + 12, 4);
	memcpy(&h->daddr, p + 16, 4);
	/* Options cut off (an nft trace copies 40 bytes of them): no transport header. */
	if (ihl > len)
		return 0;
	tot = h->len;
	if (tot < len && tot >= ihl)
		len = tot;	/* ignore link-layer padding */
	/* Only the first fragment carries the transport header. */
	if ((h->frag & 0x1fff) == 0)
		decode_l4(p + ihl, len - ihl, h);
	return 0;
}

static int decode_v6(const uint8_t *p, size_t len, struct pkt_hdr *h)
{
	uint8_t nexthdr;
	size_t off = 40, hl;

	if (len < 40 || (p[0] >> 4) != 6)
		return -EINVAL;
	h->family = AF_INET6;
	h->tos = (uint8_t)((get16(p) >> 4) & 0xff);
	h->flowlabel = get32(p) & 0xfffff;
	h->len = (uint16_t)(get16(p + 4) + 40);
	h->ttl = p[7];		/* alone: see decode_v4() */
	memcpy(&h->saddr, p + 8, 16);
	memcpy(&h->daddr, p + 24, 16);
	nexthdr = p[6];
	/* Walk the extension headers to reach the transport header. */
	for (;;) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (off + 8 > len)
				goto out;
			hl = ((size_t)p[off + 1] + 1) * 8;
			nexthdr = p[off];
			off += hl;
			continue;
		case IPPROTO_FRAGMENT:
			if (off + 8 > len)
				goto out;
			nexthdr = p[off];
			h->frag = get16(p + off + 2);
			h->ipid = (uint16_t)get32(p + off + 4);
			off += 8;
			if (h->frag & 0xfff8)	/* not the first fragment */
				goto out_proto;
			continue;
		case IPPROTO_AH:
			if (off + 8 > len)
				goto out;
			hl = ((size_t)p[off + 1] + 2) * 4;
			nexthdr = p[off];
			off += hl;
			continue;
		}
		break;
	}
	h->proto = nexthdr;
	if (off <= len)
		decode_l4(p + off, len - off, h);
	return 0;
out_proto:
	h->proto = nexthdr;
	return 0;
out:
	h->proto = nexthdr;
	return 0;
}

/*
 * The L4 bytes after the transport header that both backends see: nft sends at most 20
 * bytes from the transport header on. Only where NAT can't touch them: UDP payload, ICMP
 * echo data (ICMP errors quote a header that NAT rewrites). Per packet or per join, not in
 * pkt_decode(): most records never need it.
 */
uint32_t pkt_head_hash(const struct trace_record *r)
{
	const struct pkt_hdr *h = &r->pkt;
	size_t l4 = 0, end;

	if (r->raw_len < 1)
		return h->head_hash;
	if (h->family == AF_INET)
		l4 = (size_t)(r->raw[0] & 0x0f) * 4;
	else if (h->family == AF_INET6 && r->raw_len > 6 && r->raw[6] == h->proto)
		l4 = 40;
	if (!l4 || l4 >= r->raw_len || (h->frag & 0x1fff))
		return 0;
	end = l4 + 20 < r->raw_len ? l4 + 20 : r->raw_len;
	switch (h->proto) {
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		break;
	case IPPROTO_ICMP:
		if (h->icmp_type != 0 && h->icmp_type != 8)
			return 0;
		break;
	case IPPROTO_ICMPV6:
		if (h->icmp_type != 128 && h->icmp_type != 129)
			return 0;
		break;
	default:
		return 0;
	}
	l4 += 8;
	return l4 < end ? pkt_payload_hash(r->raw + l4, end - l4) : 0;
}

int pkt_decode(const uint8_t *buf, size_t len, int family, struct pkt_hdr *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (len < 1)
		return -EINVAL;
	if (family == AF_INET || (family == 0 && (buf[0] >> 4) == 4))
		return decode_v4(buf, len, hdr);
	if (family == AF_INET6 || (family == 0 && (buf[0] >> 4) == 6))
		return decode_v6(buf, len, hdr);
	return -EINVAL;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The IPv4 header checksum (RFC 1071) of a header without options. */
static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)get16(p + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t pkt_rebuild(const struct pkt_hdr *h, uint8_t *b)
{
	size_t l3, n;
	bool l4 = h->has_l4;

	memset(b, 0, PKT_REBUILD_MAX);
	if (h->family == AF_INET) {
		b[0] = 0x45;
		b[1] = h->tos;
		put16(b + 2, h->len);
		put16(b + 4, h->ipid);
		put16(b + 6, h->frag);
		b[8] = h->ttl;
		b[9] = h->proto;
		memcpy(b + 12, &h->saddr, 4);
		memcpy(b + 16, &h->daddr, 4);
		/* Right, so that a reader checking it (Wireshark can) does not flag our bytes. */
		put16(b + 10, ip_csum(b, 20));
		l3 = 20;
		if (h->frag & 0x1fff)
			l4 = false;
	} else if (h->family == AF_INET6) {
		put32(b, 6u << 28 | (uint32_t)h->tos << 20 | (h->flowlabel & 0xfffff));
		put16(b + 4, h->len >= 40 ? h->len - 40u : 0);
		b[6] = h->proto;
		b[7] = h->ttl;
		memcpy(b + 8, &h->saddr, 16);
		memcpy(b + 24, &h->daddr, 16);
		l3 = 40;
	} else {
		return 0;
	}
	if (!l4)
		return l3;
	n = l3;
	switch (h->proto) {
	case IPPROTO_TCP:
		put16(b + n, h->sport);
		put16(b + n + 2, h->dport);
		put32(b + n + 4, h->tcp_seq);
		put32(b + n + 8, h->tcp_ack);
		b[n + 12] = (uint8_t)(5 << 4 | (h->tcp_res & 0x0f));
		b[n + 13] = h->tcp_flags;
		put16(b + n + 14, h->tcp_window);
		put16(b + n + 18, h->tcp_urg);
		return n + 20;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		put16(b + n, h->sport);
		put16(b + n + 2, h->dport);
		put16(b + n + 4, h->l4len);
		return n + 8;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		b[n] = h->icmp_type;
		b[n + 1] = h->icmp_code;
		put16(b + n + 4, h->icmp_ident);
		put16(b + n + 6, h->icmp_seqno);
		return n + 8;
	}
	return l3;
}

/*
 * ICMP and ICMPv6 messages as iptables' --icmp-type / --icmpv6-type name them (nft uses the
 * same type names): a type with code 0xff names the type whatever its code; a (type, code)
 * entry names that code, more precisely.
 */
struct icmp_name {
	uint8_t		type, code;
	const char	*name;
};

#define ANY 0xff
static const struct icmp_name icmp4[] = {
	{ 0, ANY, "echo-reply" },
	{ 3, 0, "network-unreachable" }, { 3, 1, "host-unreachable" },
	{ 3, 2, "protocol-unreachable" }, { 3, 3, "port-unreachable" },
	{ 3, 4, "fragmentation-needed" }, { 3, 5, "source-route-failed" },
	{ 3, 6, "network-unknown" }, { 3, 7, "host-unknown" }, { 3, 9, "network-prohibited" },
	{ 3, 10, "host-prohibited" }, { 3, 11, "TOS-network-unreachable" },
	{ 3, 12, "TOS-host-unreachable" }, { 3, 13, "communication-prohibited" },
	{ 3, 14, "host-precedence-violation" }, { 3, 15, "precedence-cutoff" },
	{ 3, ANY, "destination-unreachable" },
	{ 4, ANY, "source-quench" },
	{ 5, 0, "network-redirect" }, { 5, 1, "host-redirect" },
	{ 5, 2, "TOS-network-redirect" }, { 5, 3, "TOS-host-redirect" },
	{ 5, ANY, "redirect" },
	{ 8, ANY, "echo-request" },
	{ 9, ANY, "router-advertisement" },
	{ 10, ANY, "router-solicitation" },
	{ 11, 0, "ttl-zero-during-transit" }, { 11, 1, "ttl-zero-during-reassembly" },
	{ 11, ANY, "time-exceeded" },
	{ 12, 0, "ip-header-bad" }, { 12, 1, "required-option-missing" },
	{ 12, ANY, "parameter-problem" },
	{ 13, ANY, "timestamp-request" },
	{ 14, ANY, "timestamp-reply" },
	{ 15, ANY, "info-request" },
	{ 16, ANY, "info-reply" },
	{ 17, ANY, "address-mask-request" },
	{ 18, ANY, "address-mask-reply" },
};

static const struct icmp_name icmp6[] = {
	{ 1, 0, "no-route" }, { 1, 1, "communication-prohibited" }, { 1, 2, "beyond-scope" },
	{ 1, 3, "address-unreachable" }, { 1, 4, "port-unreachable" },
	{ 1, 5, "failed-policy" }, { 1, 6, "reject-route" },
	{ 1, ANY, "destination-unreachable" },
	{ 2, ANY, "packet-too-big" },
	{ 3, 0, "ttl-zero-during-transit" }, { 3, 1, "ttl-zero-during-reassembly" },
	{ 3, ANY, "time-exceeded" },
	{ 4, 0, "bad-header" }, { 4, 1, "unknown-header-type" }, { 4, 2, "unknown-option" },
	{ 4, ANY, "parameter-problem" },
	{ 128, ANY, "echo-request" },
	{ 129, ANY, "echo-reply" },
	{ 130, ANY, "mld-listener-query" },
	{ 131, ANY, "mld-listener-report" },
	{ 132, ANY, "mld-listener-done" },
	{ 133, ANY, "router-solicitation" },
	{ 134, ANY, "router-advertisement" },
	{ 135, ANY, "neighbour-solicitation" },
	{ 136, ANY, "neighbour-advertisement" },
	{ 137, ANY, "redirect" },
	{ 143, ANY, "mld2-listener-report" },	/* nft's name: ip6tables has none */
};
#undef ANY

const char *pkt_icmp_name(uint8_t proto, uint8_t type, uint8_t code)
{
	const struct icmp_name *t = proto == IPPROTO_ICMPV6 ? icmp6 : icmp4;
	size_t n = proto == IPPROTO_ICMPV6 ? sizeof(icmp6) / sizeof(icmp6[0]) :
					     sizeof(icmp4) / sizeof(icmp4[0]);

	if (proto != IPPROTO_ICMP && proto != IPPROTO_ICMPV6)
		return NULL;
	/* Codes come before their type's catch-all: the first match is the most precise. */
	for (size_t i = 0; i < n; i++)
		if (t[i].type == type && (t[i].code == code || t[i].code == 0xff))
			return t[i].name;
	return NULL;
}
