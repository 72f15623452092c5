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
#include "iptrace/nlattr.h"
#include "iptrace/pkt.h"

/* Where each attribute the decoder reads is: its offset in the message, 0 when absent. */
struct layout {
	uint32_t	at[NFULA_MAX + 1];
};

/*
 * Sixteen bytes as one value: GCC and clang vector types, two words on machines without
 * vector registers. Loads and stores go through memcpy(): no alignment is assumed.
 */
typedef uint64_t v16 __attribute__((vector_size(16)));

static inline v16 load16v(const void *p)
{
	v16 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void store16v(void *p, v16 v)
{
	memcpy(p, &v, sizeof(v));
}

static inline bool zero16v(v16 v)
{
	return (v[0] | v[1]) == 0;
}

/*
 * The headers the walk read (where it read them), and whether a memo may keep what it
 * found: see struct entry.
 */
#define WALK_HDRS	64

struct trail {
	uint32_t	n;			/* headers read, the one that ended the walk too */
	uint32_t	off[WALK_HDRS];
	bool		keep;			/* at most WALK_HDRS headers, at most one prefix */
};

/*
 * One kind of message the kernel sends over and over: every message of one rule at one
 * hook, on one interface type, is built alike (the same attributes, of the same lengths,
 * in the same places, the same prefix). Its key is the message's length and the bytes
 * decoding depends on that are not per packet:
 * - every attribute header the walk read: with the same length, the walk takes the same
 *   steps, passes the same checks (all on the headers, but the prefix's NUL) and finds the
 *   same layout;
 * - the prefix, NUL included: the same table, chain, kind and rule number (parsed once);
 * - the nfgenmsg family, the PACKET_HDR hook, the HWTYPE and HWLEN values.
 * Every byte of the record before pkt is then a function of the key, except the per-packet
 * fields ts_ns, ifindex_*, mark, seq and hw[0, hw_len): head[] keeps the record decoded
 * when the entry was made, and a message with the same key gets head[] with those fields
 * written from its own attributes, where the layout says they are. pkt and raw[] come
 * from the payload, as afresh (the last-packet memo), the bytes after pkt are zero but
 * raw_len (a function of the payload's length). A message whose key differs in any
 * byte is walked and decoded afresh.
 *
 * The key is kept as the message's bytes 16.. (the nlmsghdr is checked already) up to its
 * last keyed byte, 16 at a time, with a mask of the keyed bytes; the last 16 may overlap
 * the one before it so as to end inside the message. A message with two prefixes is not
 * kept (the walk checks every prefix's NUL, the key holds one prefix), nor one whose
 * keyed bytes go beyond KEY_END.
 */
#define ENTRY_SLOTS	64	/* direct-mapped: entry_slot() */
#define KEY_VECS	15
#define KEY_END		(16 + 16 * KEY_VECS)
#define HEAD_LEN	offsetof(struct trace_record, pkt)
#define PKT_END		(offsetof(struct trace_record, pkt) + sizeof(struct pkt_hdr))
#define INDEX_MIN	48	/* bytes entry_slot() reads */
#define IN_OFF		offsetof(struct trace_record, in)
#define MARK_OFF	offsetof(struct trace_record, mark)
_Static_assert(IN_OFF + 4 * IF_NAMESIZE == MARK_OFF, "interface names, then mark");

struct entry {
	v16		key[KEY_VECS];		/* the keyed bytes, others 0 */
	v16		mask[KEY_VECS];
	uint32_t	msg_len;		/* 0: empty */
	uint16_t	nvec;			/* 16-byte pieces of the key, >= 1 */
	uint16_t	last_off;		/* where the last piece starts */
	/* Where the per-packet attributes are, 0 when absent: their payload is 4 bytes on. */
	uint16_t	at_ts, at_mark, at_seq, at_hw, at_payload;
	uint16_t	at_if[4];		/* indev, outdev, physindev, physoutdev */
	uint16_t	hw_len;			/* MAC bytes copied */
	uint16_t	pkt_len;		/* the payload's length */
	uint16_t	raw_len;		/* as the record has it */
	uint8_t		family;			/* what pkt_decode() is told */
	uint32_t	pkt_key;		/* last_key(pkt_len, family) */
	unsigned char	head[HEAD_LEN] __attribute__((aligned(16)));
};

/*
 * The packet bytes of the last record and what pkt_decode() made of them. The kernel
 * reports one packet at every table and chain it passes, one record after another, and
 * most of them leave its bytes alone (NAT and mangle rules, TTL on forwarding change
 * them): a record whose NFULA_PAYLOAD has the same length and bytes, with the same
 * family, decodes to the same pkt_hdr (pkt_decode() reads nothing else), so it is copied;
 * one forwarded since, only its TTL changed, gets it with its TTL (forwarded()).
 * A payload over LAST_PKT_MAX bytes (iptrace asks the kernel for 256) is not kept.
 */
#define LAST_PKT_MAX	256

struct last_pkt {
	uint32_t	key;			/* last_key() of the bytes; 0: none */
	struct pkt_hdr	pkt;
	uint8_t		bytes[LAST_PKT_MAX] __attribute__((aligned(16)));
};

struct nflog_memo {
	struct last_pkt			last;
	struct entry			entry[ENTRY_SLOTS];
};

struct nflog_memo *nflog_memo_new(void)
{
	return calloc(1, sizeof(struct nflog_memo));
}

void nflog_memo_free(struct nflog_memo *m)
{
	free(m);
}

static uint64_t load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
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

/*
 * The slot of a message of @len >= INDEX_MIN bytes: its length and where the kernel puts
 * the prefix (after PACKET_HDR, at 28), its header and three words of its text: the first
 * after "TRACE: ", the middle and the last (the rule number). Chains of one table differ
 * in the middle, rules of one chain at the end. Whatever the bytes, they are read inside
 * the message; a collision costs a walk, never a wrong answer (the key is compared whole).
 */
static inline struct entry *entry_slot(struct nflog_memo *memo, const char *m, uint32_t len)
{
	uint32_t hdr = load32(m + 28), alen = (uint16_t)hdr;
	uint32_t tail = alen >= 24 && alen <= len - 28 ? 28 + alen - 8 : 36;
	uint64_t h = (len | (uint64_t)hdr << 32) * 0x9e3779b97f4a7c15ull;

	struct entry *e;

	h = (h ^ load64(m + 39)) * 0xff51afd7ed558ccdull;
	h = (h ^ load64(m + (39 + tail) / 2)) * 0x9e3779b97f4a7c15ull;
	h = (h ^ load64(m + tail)) * 0xff51afd7ed558ccdull;
	e = &memo->entry[h >> 58];
	/*
	 * An empty asm that may change @e, as far as the compiler knows: it then keeps @e in a
	 * register, where GCC 12 computed it afresh from the index (times 768) at every use
	 * of the entry on the hit path, 45 instructions per message.
	 */
	__asm__("" : "+r"(e));
	return e;
}

/* Is @m, of @e's length, of @e's key? Every piece is read and OR-ed, without a branch each. */
static inline bool same_key(const struct entry *e, const char *m)
{
	unsigned k = e->nvec - 1u;
	v16 d = (load16v(m + e->last_off) ^ e->key[k]) & e->mask[k];

#define PIECE(i) d |= (load16v(m + 16 + 16 * (i)) ^ e->key[i]) & e->mask[i]
	_Static_assert(KEY_VECS == 15, "one case a piece");
	switch (k) {
	case 14: PIECE(13);	/* fall through */
	case 13: PIECE(12);	/* fall through */
	case 12: PIECE(11);	/* fall through */
	case 11: PIECE(10);	/* fall through */
	case 10: PIECE(9);	/* fall through */
	case 9: PIECE(8);	/* fall through */
	case 8: PIECE(7);	/* fall through */
	case 7: PIECE(6);	/* fall through */
	case 6: PIECE(5);	/* fall through */
	case 5: PIECE(4);	/* fall through */
	case 4: PIECE(3);	/* fall through */
	case 3: PIECE(2);	/* fall through */
	case 2: PIECE(1);	/* fall through */
	case 1: PIECE(0);	/* fall through */
	default: break;
	}
#undef PIECE
	return zero16v(d);
}

/*
 * One pass over the attributes, as mnl_attr_parse() walks them (a truncated attribute ends
 * the walk), without a callback and validate call per attribute (that walk was most of the
 * decode cost, BENCHMARKS.md). Every attribute is checked as mnl_attr_validate() would with
 * nfnetlink_log's policy: the exact size of fixed-size ones, a NUL-terminated non-empty
 * prefix; a bad one rejects the message (-EINVAL). Types beyond NFULA_MAX are skipped; the
 * last of a repeated attribute wins. @t (may be NULL) gets where the headers were.
 */
static int walk(const struct nlmsghdr *nlh, struct layout *l, struct trail *t)
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

		if (t && n < WALK_HDRS)
			t->off[n] = (uint32_t)(p - m);
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
			/* A key holds one prefix: keep no other. */
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
	if (t) {
		t->n = n;
		t->keep = keep && n <= WALK_HDRS;
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
 * and chain names are cleared before the prefix is parsed into them, pkt comes from
 * pkt_decode() (or its own clear), raw[] is written only as far as raw_len says. Every
 * other byte before raw[], padding included, is zero, as one memset up to raw[] left it:
 * the grouper and the sinks compare records as bytes. Groups of at most 64 bytes are
 * stored inline; one memset of the whole record was a rep stos of 53 words per record.
 */
#define CLEAR_FROM_TO(rec, from, to)						\
	memset((char *)(rec) + offsetof(struct trace_record, from), 0,		\
	       offsetof(struct trace_record, to) - offsetof(struct trace_record, from))
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

/* What pkt_decode() is told for a message of nfgenmsg family @nfproto. */
static inline int pkt_family(uint8_t nfproto)
{
	return nfproto == AF_INET6 ? AF_INET6 : nfproto == AF_INET ? AF_INET : 0;
}

/* pkt_decode() into @pkt, cleared if it fails; kept in @last (NULL: none) if not too long. */
static inline void pkt_new(struct last_pkt *last, const uint8_t *pk, size_t len, int family,
			   struct pkt_hdr *pkt)
{
	if (pkt_decode(pk, len, family, pkt) < 0)
		memset(pkt, 0, sizeof(*pkt));
	if (last && len && len <= LAST_PKT_MAX) {
		last->key = last_key(len, family);
		last->pkt = *pkt;
		memcpy(last->bytes, pk, len);
	}
}

/* pkt_new(), or @last's pkt_hdr when these are its bytes. */
static inline void decode_pkt(struct last_pkt *last, const uint8_t *pk, size_t len, int family,
			      struct pkt_hdr *pkt)
{
	if (last && last->key == last_key(len, family) && memcmp(last->bytes, pk, len) == 0)
		*pkt = last->pkt;
	else
		pkt_new(last, pk, len, family, pkt);
}

/* The record from the attributes where @l says they are (checked by the walk). */
static int extract(const struct nlmsghdr *nlh, const struct layout *l, struct trace_record *rec,
		   struct last_pkt *last)
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
	memset(rec->table, 0, 2 * TRACE_NAME_MAX);
	n = trace_prefix_parse(attr_data(a), attr_len(a), rec);
	if (n < 0)
		return n;
	a = attr_at(nlh, l, NFULA_PACKET_HDR);
	{
		const struct nfulnl_msg_packet_hdr *ph = attr_data(a);

		rec->hook = ph->hook <= HOOK_POSTROUTING ? (int8_t)ph->hook : HOOK_NONE;
	}
	if (l->at[NFULA_MARK])
		rec->mark = attr_be32(attr_at(nlh, l, NFULA_MARK));
	if (l->at[NFULA_IFINDEX_INDEV])
		rec->ifindex_in = attr_be32(attr_at(nlh, l, NFULA_IFINDEX_INDEV));
	if (l->at[NFULA_IFINDEX_OUTDEV])
		rec->ifindex_out = attr_be32(attr_at(nlh, l, NFULA_IFINDEX_OUTDEV));
	if (l->at[NFULA_IFINDEX_PHYSINDEV])
		rec->ifindex_physin = attr_be32(attr_at(nlh, l, NFULA_IFINDEX_PHYSINDEV));
	if (l->at[NFULA_IFINDEX_PHYSOUTDEV])
		rec->ifindex_physout = attr_be32(attr_at(nlh, l, NFULA_IFINDEX_PHYSOUTDEV));
	if (l->at[NFULA_SEQ]) {
		rec->seq = attr_be32(attr_at(nlh, l, NFULA_SEQ));
		rec->has_seq = true;
	}
	if (l->at[NFULA_TIMESTAMP]) {
		/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
		struct nfulnl_msg_packet_timestamp ts;

		memcpy(&ts, attr_data(attr_at(nlh, l, NFULA_TIMESTAMP)), sizeof(ts));
		rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
	}
	if (l->at[NFULA_HWTYPE])
		rec->hw_type = attr_be16(attr_at(nlh, l, NFULA_HWTYPE));
	if (l->at[NFULA_HWHEADER]) {
		uint16_t len;

		a = attr_at(nlh, l, NFULA_HWHEADER);
		len = attr_len(a);
		if (l->at[NFULA_HWLEN] && attr_be16(attr_at(nlh, l, NFULA_HWLEN)) < len)
			len = attr_be16(attr_at(nlh, l, NFULA_HWLEN));
		if (len > TRACE_HW_MAX)
			len = TRACE_HW_MAX;
		copy_upto32(rec->hw, attr_data(a), len);	/* the rest of hw[] is cleared */
		rec->hw_len = len;
	}
	if (l->at[NFULA_PAYLOAD]) {
		const uint8_t *pk;
		size_t len;

		a = attr_at(nlh, l, NFULA_PAYLOAD);
		pk = attr_data(a);
		len = attr_len(a);
		rec->raw_len = (uint16_t)(len < TRACE_RAW_MAX ? len : TRACE_RAW_MAX);
		copy_upto128(rec->raw, pk, rec->raw_len);
		decode_pkt(last, pk, len, pkt_family(nfg->nfgen_family), &rec->pkt);
	} else {
		memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
	return 0;
}

int nflog_decode(const struct nlmsghdr *nlh, struct trace_record *rec)
{
	struct layout l;
	int ret;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
		return -EINVAL;
	ret = walk(nlh, &l, NULL);
	return ret < 0 ? ret : extract(nlh, &l, rec, NULL);
}

/* Set @n bytes from @off in @mask (KEY_END bytes): keyed. False if they go beyond it. */
static bool key_bytes(unsigned char *mask, uint32_t off, uint32_t n, uint32_t *end)
{
	if (off + n > KEY_END)
		return false;
	memset(mask + off, 0xff, n);
	if (off + n > *end)
		*end = off + n;
	return true;
}

/*
 * Make @e the entry of @nlh, which the walk (@l, @t) and extract() (@rec) decoded: see
 * struct entry. Left as it was when @nlh cannot be kept.
 */
static void learn(struct entry *e, const struct nlmsghdr *nlh, const struct layout *l,
		  const struct trail *t, const struct trace_record *rec)
{
	static const unsigned if_attr[4] = {
		NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV,
		NFULA_IFINDEX_PHYSINDEV, NFULA_IFINDEX_PHYSOUTDEV,
	};
	const char *m = (const char *)nlh;
	unsigned char mask[KEY_END];
	uint32_t end = 17, pfx = l->at[NFULA_PREFIX];

	if (!t->keep || nlh->nlmsg_len > UINT16_MAX)
		return;
	memset(mask, 0, sizeof(mask));
	mask[16] = 0xff;	/* nfgen_family: nfproto, and the packet's family */
	for (uint32_t i = 0; i < t->n; i++)
		if (!key_bytes(mask, t->off[i], sizeof(struct nlattr), &end))
			return;
	/* Every one of these lies inside the message: the walk checked their sizes. */
	if (!key_bytes(mask, pfx + MNL_ATTR_HDRLEN, load16(m + pfx) - MNL_ATTR_HDRLEN, &end) ||
	    !key_bytes(mask, l->at[NFULA_PACKET_HDR] + MNL_ATTR_HDRLEN +
		       offsetof(struct nfulnl_msg_packet_hdr, hook), 1, &end) ||
	    (l->at[NFULA_HWTYPE] &&
	     !key_bytes(mask, l->at[NFULA_HWTYPE] + MNL_ATTR_HDRLEN, sizeof(uint16_t), &end)) ||
	    (l->at[NFULA_HWLEN] &&
	     !key_bytes(mask, l->at[NFULA_HWLEN] + MNL_ATTR_HDRLEN, sizeof(uint16_t), &end)))
		return;

	e->msg_len = 0;		/* until it is whole */
	e->nvec = (uint16_t)((end - 16 + 15) / 16);
	e->last_off = (uint16_t)(16 + 16 * (e->nvec - 1u));
	if (e->last_off + 16u > nlh->nlmsg_len)
		e->last_off = (uint16_t)(nlh->nlmsg_len - 16);
	for (uint32_t i = 0; i < e->nvec; i++) {
		uint32_t off = i + 1u < e->nvec ? 16 + 16 * i : e->last_off;

		e->mask[i] = load16v(mask + off);
		e->key[i] = load16v(m + off) & e->mask[i];
	}
	e->at_ts = (uint16_t)l->at[NFULA_TIMESTAMP];
	e->at_mark = (uint16_t)l->at[NFULA_MARK];
	e->at_seq = (uint16_t)l->at[NFULA_SEQ];
	for (unsigned i = 0; i < 4; i++)
		e->at_if[i] = (uint16_t)l->at[if_attr[i]];
	e->at_hw = (uint16_t)(rec->hw_len ? l->at[NFULA_HWHEADER] : 0);
	e->hw_len = rec->hw_len;
	e->at_payload = (uint16_t)l->at[NFULA_PAYLOAD];
	e->pkt_len = e->at_payload ? load16(m + e->at_payload) - MNL_ATTR_HDRLEN : 0;
	e->raw_len = rec->raw_len;
	e->family = (uint8_t)pkt_family(rec->nfproto);
	e->pkt_key = last_key(e->pkt_len, e->family);
	memcpy(e->head, rec, HEAD_LEN);
	e->msg_len = nlh->nlmsg_len;
}

/*
 * Walk and decode @nlh afresh; with @e (its slot), make it @nlh's entry. Out of line: the
 * hit path of nflog_decode_memo() then saves no registers and keeps no layout on the stack.
 */
static __attribute__((noinline)) int decode_learn(const struct nlmsghdr *nlh,
						  struct trace_record *rec,
						  struct nflog_memo *memo, struct entry *e)
{
	struct layout l;
	struct trail t;
	int ret = walk(nlh, &l, &t);

	if (ret < 0)
		return ret;
	ret = extract(nlh, &l, rec, &memo->last);
	if (ret == 0 && e)
		learn(e, nlh, &l, &t, rec);
	return ret;
}

/*
 * Copy @r = min(@n, TRACE_RAW_MAX) bytes of @pk into @raw, 16 at a time, the last 16
 * overlapping (16 <= @n), and compare the @n bytes with @last's (@n <= LAST_PKT_MAX):
 * returns where the first 16 bytes differ (XOR), *@rest where any other does (OR-ed). Every
 * piece is read whatever the others hold.
 */
static inline v16 copy_diff(uint8_t *raw, const uint8_t *pk, const uint8_t *last, size_t n,
			    size_t r, v16 *rest)
{
	v16 v = load16v(pk + r - 16), d, d0;

	store16v(raw + r - 16, v);
	d = v ^ load16v(last + r - 16);
	v = load16v(pk);
	store16v(raw, v);
	d0 = v ^ load16v(last);
#define PIECE(i)							\
	do {								\
		v = load16v(pk + 16 * (i));				\
		store16v(raw + 16 * (i), v);				\
		d |= v ^ load16v(last + 16 * (i));			\
	} while (0)
	_Static_assert(TRACE_RAW_MAX == 128, "eight pieces");
	switch ((r - 1) / 16) {
	case 7: PIECE(6);	/* fall through */
	case 6: PIECE(5);	/* fall through */
	case 5: PIECE(4);	/* fall through */
	case 4: PIECE(3);	/* fall through */
	case 3: PIECE(2);	/* fall through */
	case 2: PIECE(1);	/* fall through */
	default: break;
	}
#undef PIECE
	if (n > TRACE_RAW_MAX) {
		for (size_t i = TRACE_RAW_MAX; i + 16 < n; i += 16)
			d |= load16v(pk + i) ^ load16v(last + i);
		d |= load16v(pk + n - 16) ^ load16v(last + n - 16);
	}
	*rest = d;
	return d0;
}

/*
 * A packet that differs from @last's (of the same length, told the same family) only in
 * the bytes of its first 16 set in @d0 (copy_diff()): if these are bytes a router
 * rewrites when it forwards a packet, TTL and IPv4 header checksum or IPv6 hop limit,
 * which pkt_decode() reads only into ttl or not at all (pkt.c), the packet decodes to
 * @last's pkt_hdr with its own ttl: @last is made this packet's (true). Records after
 * the routing decision (FORWARD, POSTROUTING) see the packet so.
 */
static inline bool forwarded(struct last_pkt *last, v16 d0, const uint8_t *pk)
{
	static const uint8_t v4[16] = { [8] = 0xff, [10] = 0xff, [11] = 0xff };
	static const uint8_t v6[16] = { [7] = 0xff };
	size_t ttl_at;

	/* The family pkt_decode() found: it decoded that header, so >= 16 bytes long. */
	if (last->pkt.family == AF_INET && zero16v(d0 & ~load16v(v4)))
		ttl_at = 8;
	else if (last->pkt.family == AF_INET6 && zero16v(d0 & ~load16v(v6)))
		ttl_at = 7;
	else
		return false;
	store16v(last->bytes, load16v(pk));
	last->pkt.ttl = pk[ttl_at];
	return true;
}

/* The u32 attribute at offset @at of message @m. */
static inline uint32_t be32_at(const char *m, uint32_t at)
{
	return attr_be32((const struct nlattr *)(m + at));
}

/*
 * The record of @m, of @e's key: head[], then what is the message's own (struct entry).
 * Nothing is read that extract() would not read.
 */
static inline void fill(const struct entry *e, const char *m, struct trace_record *rec,
			struct last_pkt *last)
{
	unsigned char *r = (unsigned char *)rec;

	/*
	 * In three parts of at most 128 bytes, which the compiler copies inline (the whole
	 * head is a rep movs). The interface names are zero in every head (nflog_decode()
	 * leaves them empty): stored, not copied.
	 */
	_Static_assert(IN_OFF <= 128 && MARK_OFF - IN_OFF <= 128 && HEAD_LEN - MARK_OFF <= 128,
		       "head in parts of at most 128 bytes");
	memcpy(r, e->head, IN_OFF);
	memset(r + IN_OFF, 0, MARK_OFF - IN_OFF);
	memcpy(r + MARK_OFF, e->head + MARK_OFF, HEAD_LEN - MARK_OFF);
	/* From pkt's end to raw[]: zero but raw_len, written below; in two parts too. */
	memset(r + PKT_END, 0, 56);
	memset(r + PKT_END + 56, 0, offsetof(struct trace_record, raw) - PKT_END - 56);
	if (e->at_ts) {
		/* Copied out: attributes are 4-byte aligned, the struct's be64s want 8. */
		struct nfulnl_msg_packet_timestamp ts;

		memcpy(&ts, m + e->at_ts + MNL_ATTR_HDRLEN, sizeof(ts));
		rec->ts_ns = be64toh(ts.sec) * 1000000000ull + be64toh(ts.usec) * 1000ull;
	}
	if (e->at_mark)
		rec->mark = be32_at(m, e->at_mark);
	if (e->at_if[0])
		rec->ifindex_in = be32_at(m, e->at_if[0]);
	if (e->at_if[1])
		rec->ifindex_out = be32_at(m, e->at_if[1]);
	if (e->at_if[2])
		rec->ifindex_physin = be32_at(m, e->at_if[2]);
	if (e->at_if[3])
		rec->ifindex_physout = be32_at(m, e->at_if[3]);
	if (e->at_seq)
		rec->seq = be32_at(m, e->at_seq);
	if (e->at_hw)
		copy_upto32(rec->hw, (const uint8_t *)m + e->at_hw + MNL_ATTR_HDRLEN, e->hw_len);
	if (e->at_payload) {
		const uint8_t *pk = (const uint8_t *)m + e->at_payload + MNL_ATTR_HDRLEN;
		size_t len = e->pkt_len;

		rec->raw_len = e->raw_len;
		if (len >= 16 && len <= LAST_PKT_MAX) {
			v16 rest, d0 = copy_diff(rec->raw, pk, last->bytes, len, e->raw_len, &rest);

			if (last->key == e->pkt_key && zero16v(rest) &&
			    (zero16v(d0) || forwarded(last, d0, pk))) {
				rec->pkt = last->pkt;
				return;
			}
		} else {
			/* Never kept (too long) or too short for copy_diff(). */
			copy_upto128(rec->raw, pk, rec->raw_len);
			if (last->key == e->pkt_key && memcmp(last->bytes, pk, len) == 0) {
				rec->pkt = last->pkt;
				return;
			}
		}
		pkt_new(last, pk, len, e->family, &rec->pkt);
	} else {
		memset(&rec->pkt, 0, sizeof(rec->pkt));
	}
}

int nflog_decode_memo(const struct nlmsghdr *nlh, struct trace_record *rec,
		      struct nflog_memo *memo)
{
	const char *m = (const char *)nlh;
	struct entry *e;

	if (!memo)
		return nflog_decode(nlh, rec);
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENOMSG;
	if (nlh->nlmsg_len < INDEX_MIN) {
		if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
			return -EINVAL;
		return decode_learn(nlh, rec, memo, NULL);
	}
	e = entry_slot(memo, m, nlh->nlmsg_len);
	if (e->msg_len != nlh->nlmsg_len || !same_key(e, m))
		return decode_learn(nlh, rec, memo, e);
	fill(e, m, rec, &memo->last);
	return 0;
}
