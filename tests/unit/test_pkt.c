/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_pkt.c: the network/transport header decoder on hand-built packets */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "iptrace/pkt.h"

#define V4_HLEN 20	/* what v4() writes before the transport header */

/*
 * At @p: an IPv4 header 10.44.0.44 > 10.96.0.10 of @proto, total length @totlen, flags and
 * fragment offset @frag, then the @n transport bytes at @l4. Returns the bytes written.
 */
static size_t v4(uint8_t *p, uint8_t proto, uint16_t totlen, uint16_t frag, const void *l4,
		 size_t n)
{
	memset(p, 0, V4_HLEN);
	p[0] = 0x45;
	p[1] = 0x10;
	p[2] = (uint8_t)(totlen >> 8);
	p[3] = (uint8_t)totlen;
	p[4] = 0x50;	/* ID 0x503b = 20539 */
	p[5] = 0x3b;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, "10.44.0.44", p + 12);
	inet_pton(AF_INET, "10.96.0.10", p + 16);
	memcpy(p + V4_HLEN, l4, n);
	return V4_HLEN + n;
}

static void test_udp(void **state)
{
	uint8_t p[64];
	struct pkt_hdr h;
	size_t len = v4(p, IPPROTO_UDP, 33, 0x4000, "\xab\x3a\x00\x35\x00\x0d\x00\x00hello", 13);

	(void)state;
	assert_int_equal(pkt_decode(p, len, AF_INET, &h), 0);
	assert_int_equal(h.family, AF_INET);
	assert_int_equal(h.proto, IPPROTO_UDP);
	assert_int_equal(h.ipid, 20539);
	assert_int_equal(h.len, 33);
	assert_int_equal(h.ttl, 64);
	assert_int_equal(h.tos, 0x10);
	assert_int_equal(h.frag, 0x4000);
	assert_true(h.has_ports);
	assert_int_equal(h.sport, 43834);
	assert_int_equal(h.dport, 53);
	assert_int_equal(h.l4len, 13);
	assert_int_equal(h.payload_hash, pkt_payload_hash("hello", 5));
	/* Link-layer padding past the total length is not payload. */
	memset(p + len, 0, 10);
	assert_int_equal(pkt_decode(p, len + 10, 0, &h), 0);
	assert_int_equal(h.payload_hash, pkt_payload_hash("hello", 5));
}

static void test_tcp_and_truncation(void **state)
{
	static const uint8_t syn_ack[20] = {
		[1] = 80, [3] = 22, [4] = 0x01, 0x02, 0x03, 0x04,	/* ports, sequence */
		[12] = 0x50, [13] = 0x12 /* SYN ACK */, [14] = 0xff, 0xff,
	};
	uint8_t p[80];
	struct pkt_hdr h;
	size_t len = v4(p, IPPROTO_TCP, 40, 0, syn_ack, sizeof(syn_ack));

	(void)state;
	assert_int_equal(pkt_decode(p, len, AF_INET, &h), 0);
	assert_true(h.has_l4);
	assert_int_equal(h.sport, 80);
	assert_int_equal(h.dport, 22);
	assert_int_equal(h.tcp_seq, 0x01020304);
	assert_int_equal(h.tcp_flags, 0x12);
	assert_int_equal(h.tcp_window, 65535);
	assert_int_equal(h.payload_hash, 0);
	/* A truncated transport header leaves the network header decoded. */
	assert_int_equal(pkt_decode(p, V4_HLEN + 10, AF_INET, &h), 0);
	assert_false(h.has_l4);
	assert_false(h.has_ports);
	assert_int_equal(h.proto, IPPROTO_TCP);
	/* Not even a network header. */
	assert_int_equal(pkt_decode(p, 10, AF_INET, &h), -EINVAL);
	assert_int_equal(pkt_decode(p, 0, 0, &h), -EINVAL);
	p[0] = 0x43;	/* IHL below 5 */
	assert_int_equal(pkt_decode(p, 40, AF_INET, &h), -EINVAL);
}

static void test_icmp_and_fragment(void **state)
{
	uint8_t p[64];
	struct pkt_hdr h;
	size_t len = v4(p, IPPROTO_ICMP, 28, 0, "\x08\x00\x00\x00\x12\x34\x00\x07", 8);

	(void)state;
	assert_int_equal(pkt_decode(p, len, AF_INET, &h), 0);
	assert_int_equal(h.icmp_type, 8);
	assert_int_equal(h.icmp_ident, 0x1234);
	assert_int_equal(h.icmp_seqno, 7);
	assert_false(h.has_ports);
	/* A later fragment has no transport header to decode. */
	len = v4(p, IPPROTO_UDP, 28, 0x0010, "\xab\x3a\x00\x35\x00\x0d\x00\x00", 8);
	assert_int_equal(pkt_decode(p, len, AF_INET, &h), 0);
	assert_false(h.has_l4);
}

static void test_ipv6_ext_headers(void **state)
{
	uint8_t p[128];
	struct pkt_hdr h;

	(void)state;
	memset(p, 0, sizeof(p));
	p[0] = 0x60;
	p[1] = 0x00;
	p[2] = 0x01;	/* flow label 0x100 */
	p[3] = 0x00;
	p[5] = 8 + 8 + 8;
	p[6] = 0;	/* hop-by-hop */
	p[7] = 63;
	inet_pton(AF_INET6, "2001:db8:1::2", p + 8);
	inet_pton(AF_INET6, "2001:db8:2::2", p + 24);
	p[40] = 60;	/* → destination options */
	p[41] = 0;
	p[48] = IPPROTO_UDP;
	p[49] = 0;
	memcpy(p + 56, "\x9c\x40\x00\x35\x00\x08\x00\x00", 8);
	assert_int_equal(pkt_decode(p, 64, AF_INET6, &h), 0);
	assert_int_equal(h.family, AF_INET6);
	assert_int_equal(h.proto, IPPROTO_UDP);
	assert_int_equal(h.sport, 40000);
	assert_int_equal(h.dport, 53);
	assert_int_equal(h.ttl, 63);
	assert_int_equal(h.flowlabel, 0x100);
	assert_int_equal(h.len, 64);
	/* Extension header running past the end: protocol known, no ports. */
	assert_int_equal(pkt_decode(p, 44, AF_INET6, &h), 0);
	assert_false(h.has_ports);
}

/* Headers rebuilt from fields decode to the same fields, with a right IPv4 checksum. */
static void test_rebuild(void **state)
{
	uint8_t p[64], b[PKT_REBUILD_MAX];
	struct pkt_hdr h, g;
	size_t n = v4(p, IPPROTO_TCP, 40, 0x4000, "\x9c\x40\x00\x50\x00\x00\x00\x01\x00\x00\x00\x02"
		      "\x50\x12\x72\x10\x00\x00\x00\x00", 20);
	uint32_t sum = 0;

	(void)state;
	assert_int_equal(pkt_decode(p, n, AF_INET, &h), 0);
	n = pkt_rebuild(&h, b);
	assert_int_equal(n, 40);
	assert_int_equal(pkt_decode(b, n, AF_INET, &g), 0);
	assert_int_equal(g.sport, 40000);
	assert_int_equal(g.dport, 80);
	assert_int_equal(g.tcp_seq, 1);
	assert_int_equal(g.tcp_ack, 2);
	assert_int_equal(g.tcp_flags, 0x12);
	assert_int_equal(g.ipid, h.ipid);
	assert_int_equal(g.len, 40);
	assert_memory_equal(&g.saddr, &h.saddr, 4);
	for (size_t i = 0; i < 20; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);	/* a header with its checksum sums to all ones */

	/* ICMP echo: type, code, id and sequence. */
	memset(&h, 0, sizeof(h));
	h.family = AF_INET6;
	h.proto = IPPROTO_ICMPV6;
	h.len = 104;
	h.has_l4 = true;
	h.icmp_type = 128;
	h.icmp_ident = 7;
	h.icmp_seqno = 3;
	n = pkt_rebuild(&h, b);
	assert_int_equal(n, 48);
	assert_int_equal(pkt_decode(b, n, AF_INET6, &g), 0);
	assert_int_equal(g.icmp_type, 128);
	assert_int_equal(g.icmp_ident, 7);
	assert_int_equal(g.icmp_seqno, 3);
	assert_int_equal(g.len, 104);

	h.family = 0;
	assert_int_equal(pkt_rebuild(&h, b), 0);
}

/* ICMP names as iptables gives them: the code's where it has one, else the type's. */
static void test_icmp_names(void **state)
{
	(void)state;
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 8, 0), "echo-request");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 0, 0), "echo-reply");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 3, 3), "port-unreachable");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 3, 8), "destination-unreachable");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 5, 1), "host-redirect");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 5, 9), "redirect");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMP, 11, 0), "ttl-zero-during-transit");
	assert_null(pkt_icmp_name(IPPROTO_ICMP, 42, 0));
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMPV6, 128, 0), "echo-request");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMPV6, 1, 4), "port-unreachable");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMPV6, 137, 0), "redirect");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMPV6, 2, 0), "packet-too-big");
	assert_string_equal(pkt_icmp_name(IPPROTO_ICMPV6, 143, 0), "mld2-listener-report");
	assert_null(pkt_icmp_name(IPPROTO_ICMPV6, 8, 0));
	assert_null(pkt_icmp_name(IPPROTO_UDP, 8, 0));
}

/* A record of the first @len bytes of @p, decoded, as a decoder keeps them in raw[]. */
static void rec_of(struct trace_record *r, const uint8_t *p, size_t len)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->raw, p, len);
	r->raw_len = (uint16_t)len;
	assert_int_equal(pkt_decode(p, len, 0, &r->pkt), 0);
}

/*
 * pkt_head_hash: the first 12 bytes after the UDP or ICMP echo header, the same from the
 * whole packet (an NFLOG record) and from 20 bytes of transport header (an nft trace
 * record); none where NAT rewrites the bytes or nft's would not line up; a record without
 * raw bytes gives what was read back.
 */
static void test_head_hash(void **state)
{
	static const char data[] = "0123456789abcdefghij";	/* 20 bytes of payload */
	uint8_t p[128];
	struct trace_record whole, nft;
	size_t off = V4_HLEN;

	(void)state;
	v4(p, IPPROTO_UDP, 48, 0, "\xab\x3a\x00\x35\x00\x1c\x00\x00", 8);
	memcpy(p + off + 8, data, 20);
	rec_of(&whole, p, off + 28);
	rec_of(&nft, p, off + 20);
	assert_int_equal(pkt_head_hash(&whole), pkt_payload_hash(data, 12));
	assert_int_equal(pkt_head_hash(&nft), pkt_head_hash(&whole));
	assert_int_not_equal(whole.pkt.payload_hash, nft.pkt.payload_hash);
	/* Shorter than 12 bytes: all there is; none at all: no hash. */
	rec_of(&nft, p, off + 13);
	assert_int_equal(pkt_head_hash(&nft), pkt_payload_hash(data, 5));
	rec_of(&nft, p, off + 8);
	assert_int_equal(pkt_head_hash(&nft), 0);
	/* No raw bytes: the hash as read back. */
	nft.raw_len = 0;
	nft.pkt.head_hash = 0x1234;
	assert_int_equal(pkt_head_hash(&nft), 0x1234);
	/* ICMP: echo data yes, an error's quoted header (NAT rewrites it) no. */
	v4(p, IPPROTO_ICMP, 48, 0, "\x08\x00\x00\x00\x12\x34\x00\x07", 8);
	memcpy(p + off + 8, data, 20);
	rec_of(&whole, p, off + 28);
	assert_int_equal(pkt_head_hash(&whole), pkt_payload_hash(data, 12));
	p[off] = 3;	/* destination unreachable */
	rec_of(&whole, p, off + 28);
	assert_int_equal(pkt_head_hash(&whole), 0);
	/* TCP: nft's 20 bytes are all header. */
	v4(p, IPPROTO_TCP, 60, 0, (const uint8_t[20]){ [12] = 0x50 }, 20);
	memcpy(p + off + 20, data, 20);
	rec_of(&whole, p, off + 40);
	assert_int_equal(pkt_head_hash(&whole), 0);
}

/*
 * Other nodes' "payload_hash" is compared with ours (--merge): the values are pinned, as
 * first computed here. The hash reads its words little-endian, so a big-endian host gets
 * them too; a change to the hash that breaks this breaks merging with older versions.
 */
static void test_hash_stable(void **state)
{
	(void)state;
	assert_int_equal(pkt_payload_hash("", 0), 0x8ef1b1deu);
	assert_int_equal(pkt_payload_hash("0123456789ab", 12), 0xbf4f9435u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_tcp_and_truncation),
		cmocka_unit_test(test_icmp_and_fragment),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_icmp_names),
		cmocka_unit_test(test_head_hash),
		cmocka_unit_test(test_hash_stable),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
