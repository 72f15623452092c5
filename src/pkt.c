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
	if (ihl < 20 || ihl > len)
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
