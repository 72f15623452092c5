/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog.c: pure decoder of NFLOG packet messages into trace records */
#include <endian.h>
#include <stddef.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
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

static inline uint16_t be16_attr(const struct nlattr *a)
{
	uint16_t v;

	memcpy(&v, payload(a), sizeof(v));
	return ntohs(v);
}

/* Where each attribute the decoder reads is: its offset in the message, 0 when absent. */
struct layout {
	uint32_t	at[NFULA_MAX + 1];
};

/*
 * The shape of a message: its length and every attribute header the walk read, at its
 * offset, and the layout the walk found. The kernel builds every message of one rule and
 * hook alike (the same attributes, of the same lengths, in the same places): a message of
 * the same length whose headers are all the same would make the walk take every step it
 * took then, pass every check it passed (all of them are on the headers but the prefix's
 * NUL, which is checked again) and find the same layout. So it is not walked.
 *
 * The headers are padded to a multiple of 4 entries with the message's first 4 bytes,
 * nlmsg_len (offset 0, the shape's length), so that same_shape() compares four at a time
 * without a branch per header.
 */
#define SHAPE_SLOTS	64	/* direct-mapped: (h * golden ratio) >> 58 */
#define SHAPE_ATTRS	24	/* a multiple of 4 */

struct shape {
	uint32_t	msg_len;		/* 0: empty */
	uint32_t	n;			/* entries in off[], hdr[]: a multiple of 4 */
	uint32_t	off[SHAPE_ATTRS];
	uint32_t	hdr[SHAPE_ATTRS];	/* the header's 4 bytes as they are in memory */
	uint32_t	nul_at;			/* the prefix's last byte, 0 if no prefix */
	struct layout	l;
};

/*
 * The packet bytes of the last record and what pkt_decode() made of them. The kernel
 * reports one packet at every table and chain it passes, one record after another, and
 * most of them leave its bytes alone (NAT and mangle rules, TTL on forwarding change
 * them): a record whose NFULA_PAYLOAD has the same length and bytes, with the same
 * family, decodes to the same pkt_hdr (pkt_decode() reads nothing else), so it is copied.
 * A payload over LAST_PKT_MAX bytes (iptrace asks the kernel for 256) is not kept.
 */
#define LAST_PKT_MAX	256

struct last_pkt {
	uint32_t	key;			/* last_key() of the bytes; 0: none */
	struct pkt_hdr	pkt;
	uint8_t		bytes[LAST_PKT_MAX];
};

struct nflog_memo {
	struct trace_prefix_memo	*prefix;
	struct last_pkt			last;
	struct shape			shape[SHAPE_SLOTS];
};

struct nflog_memo *nflog_memo_new(void)
{
	struct nflog_memo *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->prefix = trace_prefix_memo_new();
	if (!m->prefix) {
		free(m);
		return NULL;
	}
	return m;
}

void nflog_memo_free(struct nflog_memo *m)
{
	if (!m)
		return;
	trace_prefix_memo_free(m->prefix);
	free(m);
}

static uint32_t load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t load16(const char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Messages of one shape have one length and, after PACKET_HDR, one prefix header. */
static struct shape *shape_slot(struct nflog_memo *m, const struct nlmsghdr *nlh)
{
	uint64_t h = nlh->nlmsg_len;

	if (nlh->nlmsg_len >= 32)
		h |= (uint64_t)load32((const char *)nlh + 28) << 32;
	return &m->shape[(h * 0x9e3779b97f4a7c15ull) >> 58];
}

/*
 * Is @nlh of shape @s? Only its length and headers are compared: see struct shape. The
 * headers' differences are OR-ed together, every one read whatever the others hold: once
 * the length is the shape's, all of them lie inside the message (the walk read them there).
 */
static bool same_shape(const struct shape *s, const struct nlmsghdr *nlh)
{
	const char *m = (const char *)nlh;
	uint32_t diff = 0;

	if (s->msg_len != nlh->nlmsg_len)
		return false;
	for (uint32_t i = 0; i < s->n; i += 4)
		diff |= (load32(m + s->off[i]) ^ s->hdr[i]) |
			(load32(m + s->off[i + 1]) ^ s->hdr[i + 1]) |
			(load32(m + s->off[i + 2]) ^ s->hdr[i + 2]) |
			(load32(m + s->off[i + 3]) ^ s->hdr[i + 3]);
	return diff == 0;
}

/*
 * One pass over the attributes, as mnl_attr_parse() walks them (a truncated attribute ends
 * the walk), without a callback and validate call per attribute (that walk was most of the
 * decode cost, BENCHMARKS.md). Every attribute is checked as mnl_attr_validate() would with
 * nfnetlink_log's policy: the exact size of fixed-size ones, a NUL-terminated non-empty
 * prefix; a bad one rejects the message (-EINVAL). Types beyond NFULA_MAX are skipped; the
 * last of a repeated attribute wins. @s (may be NULL) gets the message's shape, msg_len 0
 * (none) when it has more headers than a shape keeps or more than one prefix.
 */
static int walk(const struct nlmsghdr *nlh, struct layout *l, struct shape *s)
{
	const char *m = (const char *)nlh;
	const char *p = m + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	/* nlmsg_len, not its aligned size: the buffer may end right there (a last message). */
	const char *end = m + nlh->nlmsg_len;
	uint32_t n = 0;
	bool keep = true;

	memset(l, 0, sizeof(*l));
	/* Signed: the aligned step past an unaligned last attribute may go beyond the end. */
	while (end - p >= (ptrdiff_t)sizeof(struct nlattr)) {
		const struct nlattr *a = (const void *)p;
		size_t len = a->nla_len, plen = len - MNL_ATTR_HDRLEN, want;
		unsigned type = a->nla_type & NLA_TYPE_MASK;

		if (s && n < SHAPE_ATTRS) {
			s->off[n] = (uint32_t)(p - m);
			s->hdr[n] = load32(p);
		}
		n++;
		if (len < sizeof(struct nlattr) || len > (size_t)(end - p))
			break;
		p += (len + NLA_ALIGNTO - 1) & ~(size_t)(NLA_ALIGNTO - 1);
		if (type > NFULA_MAX)
			continue;
		switch (type) {
		case NFULA_PACKET_HDR:
			want = sizeof(struct nfulnl_msg_packet_hdr);
			break;
		case NFULA_TIMESTAMP:
			want = sizeof(struct nfulnl_msg_packet_timestamp);
			break;
		case NFULA_HWADDR:
			want = sizeof(struct nfulnl_msg_packet_hw);
			break;
		case NFULA_MARK:
		case NFULA_IFINDEX_INDEV:
		case NFULA_IFINDEX_OUTDEV:
		case NFULA_IFINDEX_PHYSINDEV:
		case NFULA_IFINDEX_PHYSOUTDEV:
		case NFULA_SEQ:
		case NFULA_UID:
		case NFULA_GID:
		case NFULA_SEQ_GLOBAL:
			want = sizeof(uint32_t);
			break;
		case NFULA_HWTYPE:
		case NFULA_HWLEN:
			want = sizeof(uint16_t);
			break;
		case NFULA_PREFIX:
			if (plen == 0 || ((const char *)a)[len - 1] != '\0')
				return -EINVAL;
			/* A shape checks one prefix's NUL again, the last: keep no other. */
			if (l->at[NFULA_PREFIX])
				keep = false;
			/* fall through */
		default:
			want = plen;	/* any size */
			break;
		}
		if (plen != want)
			return -EINVAL;
		l->at[type] = (uint32_t)((const char *)a - m);
	}
	if (s) {
		s->msg_len = keep && n <= SHAPE_ATTRS ? nlh->nlmsg_len : 0;
		for (; n % 4 && n < SHAPE_ATTRS; n++) {
			s->off[n] = 0;
			s->hdr[n] = nlh->nlmsg_len;
		}
		s->n = s->msg_len ? n : 0;
		s->nul_at = l->at[NFULA_PREFIX] ?
			    l->at[NFULA_PREFIX] + load16(m + l->at[NFULA_PREFIX]) - 1 : 0;
	}
	return 0;
}

static inline const struct nlattr *attr_at(const struct nlmsghdr *nlh, const struct layout *l,
					    unsigned type)
{
	return (const void *)((const char *)nlh + l->at[type]);
}

/*
 * Clear what the NFLOG path does not write whole, field group by field group: the table
 * and chain names come whole (zero-padded) from trace_prefix_parse_memo(), pkt from
 * pkt_decode() (or its own clear), raw[] is written only as far as raw_len says. Every
 * other byte before raw[], padding included, is zero, as one memset up to raw[] left it:
 * the grouper and the sinks compare records as bytes. Groups of at most 64 bytes are
 * stored inline; one memset of the whole record was a rep stos of 53 words per record.
 */
#define CLEAR_FROM_TO(rec, from, to)						\
	memset((char *)(rec) + offsetof(struct trace_record, from), 0,		\
	       offsetof(struct trace_record, to) - offsetof(struct trace_record, from))
#define PKT_END	(offsetof(struct trace_record, pkt) + sizeof(struct pkt_hdr))

_Static_assert(offsetof(struct trace_record, table) + 2 * TRACE_NAME_MAX ==
	       offsetof(struct trace_record, rulenum), "names, then rulenum");
_Static_assert(offsetof(struct trace_record, hw_type) + sizeof(uint16_t) ==
	       offsetof(struct trace_record, pkt), "hw_type, then pkt");

static inline void clear_unwritten(struct trace_record *rec)
{
	CLEAR_FROM_TO(rec, backend, table);		/* kind, hook, nfproto, ts_ns */
	CLEAR_FROM_TO(rec, rulenum, in);		/* handle, trace_id, ifindex_* */
	CLEAR_FROM_TO(rec, in, mark);			/* the four interface names */
	CLEAR_FROM_TO(rec, mark, pkt);			/* mark, seq, hw_len, hw, hw_type */
	/* The padding after pkt, recv_ns, the resolver's pointers, the nft fields. */
	memset((char *)rec + PKT_END, 0, offsetof(struct trace_record, verdict_chain) - PKT_END);
	CLEAR_FROM_TO(rec, verdict_chain, raw);		/* ... up to raw_len */
}

/*
 * memcpy() of @n bytes, @n <= 32, as at most two overlapping fixed-size copies: a
 * variable-length memcpy is a byte loop here. Reads and writes only [0, n).
 */
static inline void copy_upto32(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n >= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n) {
		dst[0] = src[0];
		memcpy(dst + n / 2, src + n / 2, n - n / 2);	/* 1 or 2 bytes */
	}
}

/* The same for @n <= TRACE_RAW_MAX: 32 bytes at a time, the last 32 overlapping. */
static inline void copy_upto128(uint8_t *dst, const uint8_t *src, size_t n)
{
	_Static_assert(TRACE_RAW_MAX == 128, "four 32-byte copies");
	if (n < 32) {
		copy_upto32(dst, src, n);
		return;
	}
	memcpy(dst, src, 32);
	if (n > 64) {
		memcpy(dst + 32, src + 32, 32);
		if (n > 96)
			memcpy(dst + 64, src + 64, 32);
	}
	memcpy(dst + n - 32, src + n - 32, 32);
}

/*
 * The length (a u16: an attribute's) and the family (a byte) in one word; the top bit set
 * so that no key is 0, an empty last_pkt's.
 */
static inline uint32_t last_key(size_t len, int family)
{
	return 1u << 31 | (uint32_t)len << 8 | (uint8_t)family;
}

/* pkt_decode() into @pkt, cleared if it fails, through @last (NULL: none). */
static inline void decode_pkt(struct last_pkt *last, const uint8_t *pk, size_t len, int family,
			      struct pkt_hdr *pkt)
{
	if (last && last->key == last_key(len, family) && memcmp(last->bytes, pk, len) == 0) {
		*pkt = last->pkt;
		return;
	}
	if (pkt_decode(pk, len, family, pkt) < 0)
		memset(pkt, 0, sizeof(*pkt));
	if (last && len && len <= LAST_PKT_MAX) {
		last->key = last_key(len, family);
		last->pkt = *pkt;
		memcpy(last->bytes, pk, len);
	}
}

/* The record from the attributes where @l says they are (checked by the walk). */
static int extract(const struct nlmsghdr *nlh, const struct layout *l, struct trace_record *rec,
		   struct nflog_memo *memo)
{
	const struct nfgenmsg *nfg = (const void *)((const char *)nlh + MNL_NLMSG_HDRLEN);
	const struct nlattr *a;
	int n;

	if (!l->at[NFULA_PACKET_HDR] || !l->at[NFULA_PREFIX])
		return -EINVAL;
	clear_unwritten(rec);
	rec->backend = TRACE_BACKEND_LEGACY;
	rec->nfproto = nfg->nfgen_family;
	/* NUL-terminated (checked): the parser stops at the NUL as at the end. */
	a = attr_at(nlh, l, NFULA_PREFIX);
	n = trace_prefix_parse_memo(memo ? memo->prefix : NULL, payload(a), payload_len(a), rec);
	if (n < 0)
		return n;
	a = attr_at(nlh, l, NFULA_PACKET_HDR);
	{
		const struct nfulnl_msg_packet_hdr *ph = payload(a);

		rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	}
	if (l->at[NFULA_MARK])
		rec->mark = be32_attr(attr_at(nlh, l, NFULA_MARK));
	if (l->at[NFULA_IFINDEX_INDEV])
		rec->ifindex_in = be32_attr(attr_at(nlh, l, NFULA_IFINDEX_INDEV));
	if (l->at[NFULA_IFINDEX_OUTDEV])
		rec->ifindex_out = be32_attr(attr_at(nlh, l, NFULA_IFINDEX_OUTDEV));
	if (l->at[NFULA_IFINDEX_PHYSINDEV])
		rec->ifindex_physin = be32_attr(attr_at(nlh, l, NFULA_IFINDEX_PHYSINDEV));
	if (l->at[NFULA_IFINDEX_PHYSOUTDEV])
		rec->ifindex_physout = be32_attr(attr_at(nlh, l, NFULA_IFINDEX_PHYSOUTDEV));
	if (l->at[NFULA_SEQ]) {
		rec->seq = be32_attr(attr_at(nlh, l, NFULA_SEQ));
		rec->has_seq = true;
	}
	if (l->at[NFULA_TIMESTAMP]) {
		/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
		struct nfulnl_msg_packet_timestamp ts;

		memcpy(&ts, payload(attr_at(nlh, l, NFULA_TIMESTAMP)), sizeof(ts));
		rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
	}
	if (l->at[NFULA_HWTYPE])
		rec->hw_type = be16_attr(attr_at(nlh, l, NFULA_HWTYPE));
	if (l->at[NFULA_HWHEADER]) {
		uint16_t len;

		a = attr_at(nlh, l, NFULA_HWHEADER);
		len = payload_len(a);
		if (l->at[NFULA_HWLEN] && be16_attr(attr_at(nlh, l, NFULA_HWLEN)) < len)
			len = be16_attr(attr_at(nlh, l, NFULA_HWLEN));
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		copy_upto32(rec->hw, payload(a), len);	/* the rest of hw[] is cleared */
		rec->hw_len = len;
	}
	if (l->at[NFULA_PAYLOAD]) {
		const uint8_t *pk;
		size_t len;

		a = attr_at(nlh, l, NFULA_PAYLOAD);
		pk = payload(a);
		len = payload_len(a);
		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		copy_upto128(rec->raw, pk, rec->raw_len);
		decode_pkt(memo ? &memo->last : NULL, pk, len, nfg->nfgen_family == AF_INET6 ?
			   AF_INET6 : nfg->nfgen_family == AF_INET ? AF_INET : 0, &rec->pkt);
	} else {
		memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}

int nflog_decode(const struct nlmsghdr *nlh, struct trace_record *rec)
{
	return nflog_decode_memo(nlh, rec, NULL);
}

/*
 * Walk @nlh and extract; with @s (a memo's slot), keep its shape there. Out of line: the
 * hit path of nflog_decode_memo() then saves no registers and keeps no layout on the stack.
 */
static __attribute__((noinline)) int decode_walk(const struct nlmsghdr *nlh,
						 struct trace_record *rec, struct shape *s,
						 struct nflog_memo *memo)
{
	struct layout walked;
	int ret = walk(nlh, &walked, s);

	if (ret < 0) {
		if (s)
			s->msg_len = 0;	/* half recorded */
		return ret;
	}
	if (s)
		s->l = walked;
	return extract(nlh, &walked, rec, memo);
}

int nflog_decode_memo(const struct nlmsghdr *nlh, struct trace_record *rec,
		      struct nflog_memo *memo)
{
	struct shape *s;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
		return -EINVAL;
	if (!memo)
		return decode_walk(nlh, rec, NULL, NULL);
	s = shape_slot(memo, nlh);
	if (!s->msg_len || !same_shape(s, nlh))
		return decode_walk(nlh, rec, s, memo);
	/* The one check on contents the walk makes. */
	if (s->nul_at && ((const char *)nlh)[s->nul_at] != '\0')
		return -EINVAL;
	return extract(nlh, &s->l, rec, memo);
}
