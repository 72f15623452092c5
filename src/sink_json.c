/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_json.c: JSON lines — one packet object per line, the summary object last */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "iptrace/ct.h"
#include "iptrace/natlog.h"
#include "iptrace/nftrace.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"

/*
 * Performance (BENCHMARKS.md): a packet line is built in a local buffer and handed to stdio
 * in one fwrite, then flushed once per packet as before. fprintf/putc per field cost about
 * 14,000 instructions per record; this buffer, with the second and the addresses cached
 * from step to step (they rarely change within a packet), is what keeps a record under
 * 1,000. The text is byte for byte what sink_json_str/sink_fmt_addr/sink_fmt_time give.
 */
#define JB_SIZE 4096
#define JSON_STEPS_CACHED 16	/* steps of a packet whose text is kept for the next packet */
#define STEP_TEXT_MAX 1024	/* a longer step text is written out every time */
#define RULE_TEXT_MAX 256	/* longer rule texts are written out every time */

/*
 * Differences of byte runs, 16 bytes at a time: one SSE2 (x86-64) or NEON (arm64) register,
 * a pair of words elsewhere. The caches below compare some 200 bytes per step, nearly
 * always equal: the OR of the XORs, with one branch at the end, costs a third of memcmp(),
 * which branches on every word.
 */
typedef uint64_t diff_t __attribute__((vector_size(16)));

/*
 * The text of step i of a packet, from the comma before it (but the first) and its '{' to
 * its NAT block: the head ({"backend":..,"table":..,"chain":..,"kind":..,"rulenum"|
 * "handle":N, the rule, verdict and nft family), the conntrack view, then ,"in":..,
 * "out":..[,"physin":..][,"physout":..],"src":..,"dport":N[,"nat":{..}]; and its key, the
 * fields that text is made of (step_key_same()). The resolvers' strings are compared by
 * content: their pointers are only valid for one packet (resolver.h).
 */
struct step_cache {
	/* As vectors: the compare XORs the record's bytes with them, no load of their own. */
	diff_t			names[2 * TRACE_NAME_MAX / 16];	/* table, chain */
	diff_t			ifs[4 * IF_NAMESIZE / 16];	/* in, out, physin, physout */
	enum trace_backend	backend;	/* backend, kind: as in the record */
	enum trace_kind		kind;
	uint32_t		rulenum;
	uint64_t		handle;
	bool			verdict_continues;	/* and table_family: as in the record */
	uint8_t			table_family;
	diff_t			ct;		/* the conntrack view's bytes (ct_bytes()) */
	struct pkt_hdr		cur __attribute__((aligned(16))), prev;	/* endpoints (ep_diff()) */
	bool			has_prev;
	uint64_t		ep_ver;		/* or: the packet's, without NAT (pkt.ver); 0 */
	bool			has[3];			/* rule, verdict, reason */
	bool			any;			/* one of them */
	char			text[3][RULE_TEXT_MAX];
	uint16_t		len;			/* 0: none */
	char			txt[STEP_TEXT_MAX];
};

/*
 * What is kept from line to line. The steps of one flow's packets repeat (same tables,
 * chains, rules and interfaces, in the same order), so the text of step i is kept per step
 * index and written again as it is when step i of the next packet has the same fields:
 * compared as bytes, so a hit can't print a wrong name.
 */
struct json_cache {
	uint64_t	ts_base;	/* the second ts is for, in ns since the epoch */
	char		ts[32];		/* ,"ts":"YYYY-MM-DDTHH:MM:SS. of ts_base */
	struct {
		uint8_t		family;	/* 0: empty */
		struct in6_addr	a;
		char		txt[INET6_ADDRSTRLEN];
		size_t		len;
	} addr[2];			/* last source, last destination */
	struct {
		struct pkt_hdr	h;	/* family, addresses, ports of the text; family 0: none */
		char		txt[160];
		size_t		len;
	} ep;				/* the last ,"src":...,"dport":N block */
	struct {
		struct pkt_hdr	h;	/* family, proto, endpoints of the text */
		uint64_t	ver;	/* changes with h: names h for the step cache (ep_ver) */
		uint16_t	len;	/* 0: none */
		char		txt[224];
	} pkt;				/* a packet's ","family":.. to ,"len": */
	struct step_cache	step[JSON_STEPS_CACHED];
};

/* The byte runs the step cache compares, as they lie in the record. */
_Static_assert(offsetof(struct trace_record, chain) ==
	       offsetof(struct trace_record, table) + TRACE_NAME_MAX, "table, chain adjacent");
_Static_assert(offsetof(struct trace_record, out) == offsetof(struct trace_record, in) +
	       IF_NAMESIZE && offsetof(struct trace_record, physin) ==
	       offsetof(struct trace_record, in) + 2 * IF_NAMESIZE &&
	       offsetof(struct trace_record, physout) ==
	       offsetof(struct trace_record, in) + 3 * IF_NAMESIZE, "interface names adjacent");
_Static_assert(offsetof(struct pkt_hdr, daddr) == offsetof(struct pkt_hdr, saddr) + 16,
	       "addresses adjacent");
/* Pairs of fields the step cache compares as one number, laid out alike in the record. */
#define ADJACENT(s, a, b) \
	(offsetof(struct s, b) == offsetof(struct s, a) + sizeof(((struct s *)0)->a))
_Static_assert(sizeof(enum trace_backend) == 4 && sizeof(enum trace_kind) == 4 &&
	       ADJACENT(trace_record, backend, kind) && ADJACENT(step_cache, backend, kind) &&
	       ADJACENT(trace_record, verdict_continues, table_family) &&
	       ADJACENT(step_cache, verdict_continues, table_family), "field pairs adjacent");
/* has_ct, ct_dir, two bytes of padding, ct_id, ct_state, ct_status: 16 bytes (ct_bytes()). */
_Static_assert(ADJACENT(trace_record, has_ct, ct_dir) &&
	       offsetof(struct trace_record, ct_id) == offsetof(struct trace_record, has_ct) + 4 &&
	       ADJACENT(trace_record, ct_id, ct_state) && ADJACENT(trace_record, ct_state, ct_status),
	       "conntrack view in 16 bytes");
#undef ADJACENT
_Static_assert(2 * TRACE_NAME_MAX % 8 == 0 && 4 * IF_NAMESIZE % 8 == 0, "names in words");

struct jb {
	FILE		*f;
	size_t		len, size;
	unsigned	flushes;	/* jb_flush() calls: a block formatted in place moved */
	int		err;
	struct json_cache *c;		/* the sink's, or one for this line only */
	char		*buf;
};

/*
 * From begin() to end(): the caches, and a line buffer that, with deferred_flush, collects
 * many packets and goes to the FILE in one fwrite() when full or when the caller flushes
 * (sink_ops.flush): one fwrite() per packet was a tenth of the JSON cost.
 */
#define JSON_STATE_BUF (64u << 10)
struct json_state {
	struct json_cache	c;
	struct jb		b;
	char			buf[JSON_STATE_BUF];
};

static void jb_init(struct jb *b, FILE *f, struct json_cache *c, char *buf, size_t size)
{
	b->f = f;
	b->buf = buf;
	b->size = size;
	b->len = 0;
	b->flushes = 0;
	b->err = 0;
	b->c = c;
}

static void jb_flush(struct jb *b)
{
	if (b->len && fwrite(b->buf, 1, b->len, b->f) != b->len)
		b->err = -1;
	b->len = 0;
	b->flushes++;
}

/* The rare path: the buffer is full (or @n is larger than it). */
static __attribute__((noinline)) void jb_put_slow(struct jb *b, const char *s, size_t n)
{
	jb_flush(b);
	if (n > b->size) {
		if (fwrite(s, 1, n, b->f) != n)
			b->err = -1;
		return;
	}
	memcpy(b->buf, s, n);
	b->len = n;
}

/* Inline: with a constant @n (jb_lit) the copy is a few moves. */
static inline void jb_put(struct jb *b, const char *s, size_t n)
{
	if (__builtin_expect(n > b->size - b->len, 0)) {
		jb_put_slow(b, s, n);
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

/* String literals only: the length is known at compile time. */
#define jb_lit(b, s) jb_put((b), "" s "", sizeof(s) - 1)

static void jb_puts(struct jb *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

static inline void jb_c(struct jb *b, char c)
{
	if (__builtin_expect(b->len == b->size, 0))
		jb_flush(b);
	b->buf[b->len++] = c;
}

/* "00" to "99": numbers are written two digits at a time. */
static const char digits2[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/*
 * "000Z" to "999Z": the microseconds are written three digits at a time, four bytes at
 * once; the 'Z' after the last three is the one the time text ends with (ts_text()).
 */
#define D3_10(p) p "0Z" p "1Z" p "2Z" p "3Z" p "4Z" p "5Z" p "6Z" p "7Z" p "8Z" p "9Z"
#define D3_100(p) D3_10(p "0") D3_10(p "1") D3_10(p "2") D3_10(p "3") D3_10(p "4") \
		  D3_10(p "5") D3_10(p "6") D3_10(p "7") D3_10(p "8") D3_10(p "9")
static const char digits3[4001] = D3_100("0") D3_100("1") D3_100("2") D3_100("3") D3_100("4")
				  D3_100("5") D3_100("6") D3_100("7") D3_100("8") D3_100("9");
#undef D3_100
#undef D3_10

/* The number of decimal digits of @v. */
static unsigned ndigits(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
		100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
		10000000000000ull, 100000000000000ull, 1000000000000000ull,
		10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
		10000000000000000000ull,
	};
	/* log10(2) ~ 1233/4096: from the bit length, the count or one less (Hacker's Delight). */
	unsigned n = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;

	return n + ((v | 1) >= pow10[n]);	/* 0 has one digit */
}

/* @v in decimal, written from the end of @p back; @p + ndigits(v) is the end. */
static inline void put_digits(char *p, uint64_t v)
{
	uint32_t w;

	while (v > UINT32_MAX) {
		p -= 2;
		memcpy(p, digits2 + v % 100 * 2, 2);
		v /= 100;
	}
	/* The rest (all of most numbers) in 32 bits: a division by 100 costs half as much. */
	w = (uint32_t)v;
	while (w >= 100) {
		p -= 2;
		memcpy(p, digits2 + w % 100 * 2, 2);
		w /= 100;
	}
	if (w >= 10)
		memcpy(p - 2, digits2 + w * 2, 2);
	else
		p[-1] = (char)('0' + w);
}

/* The rare path: the buffer has no room for the @n digits of @v. */
static __attribute__((noinline)) void jb_u64_slow(struct jb *b, uint64_t v, unsigned n)
{
	char t[20];

	put_digits(t + n, v);
	jb_put(b, t, n);
}

/* Written in place: no copy of a variable length (a libc call). */
static void jb_u64(struct jb *b, uint64_t v)
{
	unsigned n = ndigits(v);

	if (__builtin_expect(n > b->size - b->len, 0)) {
		jb_u64_slow(b, v, n);
		return;
	}
	put_digits(b->buf + b->len + n, v);
	b->len += n;
}

/*
 * @v (< 1,000,000, @n digits) in decimal at @p, three digits at a time from digits3, with up
 * to three bytes of scratch after them (so n + 3 bytes of room): jb_u64() in a few moves,
 * for the numbers of every packet (id, len, ipid).
 */
static inline void put_digits6(char *p, uint32_t v, unsigned n)
{
	if (v >= 1000) {
		uint32_t hi = v / 1000;

		memcpy(p, digits3 + hi * 4 + 3 - (n - 3), 4);	/* the n - 3 digits of hi */
		p += n - 3;
		v -= hi * 1000;
		n = 3;
	}
	memcpy(p, digits3 + v * 4 + 3 - n, 4);	/* the last n of three digits */
}

/* jb_u64() for the numbers of a packet, inline: most have 6 digits or fewer. */
static inline void jb_num(struct jb *b, uint64_t v)
{
	unsigned n;

	if (__builtin_expect(v >= 1000000 || b->size - b->len < 6 + 3, 0)) {
		jb_u64(b, v);
		return;
	}
	n = ndigits(v);
	put_digits6(b->buf + b->len, (uint32_t)v, n);
	b->len += n;
}

/*
 * As sink_json_str: quoted, '"' and '\\' escaped, control characters as \u00XX. Plain
 * bytes go straight into the buffer, with no length computed first.
 */
static void jb_str(struct jb *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	/* What stops a plain run: NUL (the end), control characters, '"' and '\\'. */
	static const bool special[256] = {
		[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true,
	};

	jb_c(b, '"');
	for (;;) {
		char *d = b->buf + b->len, *e = b->buf + b->size;

		while (d < e && !special[(unsigned char)*s])
			*d++ = *s++;
		b->len = (size_t)(d - b->buf);
		if (!*s)
			break;
		if (d == e) {
			jb_flush(b);
			continue;
		}
		if (*s == '"' || *s == '\\') {
			char esc[2] = { '\\', *s };

			jb_put(b, esc, 2);
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[(unsigned char)*s >> 4],
					hex[*s & 0xf] };

			jb_put(b, esc, 6);
		}
		s++;
	}
	jb_c(b, '"');
}

/* Dotted quad, as inet_ntop writes it. */
static size_t fmt_v4(const uint8_t *a, char *out)
{
	char *p = out;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = '.';
	}
	p[-1] = '\0';
	return (size_t)(p - 1 - out);
}

/* The address as sink_fmt_addr writes it, formatted again only when it changed. */
static const char *jb_addr(struct jb *b, const struct pkt_hdr *h, bool dst, size_t *len)
{
	const struct in6_addr *a = dst ? &h->daddr : &h->saddr;
	typeof(b->c->addr[0]) *c = &b->c->addr[dst];

	if (c->family != h->family || memcmp(&c->a, a, sizeof(*a)) != 0) {
		c->family = h->family;
		c->a = *a;
		if (h->family == AF_INET)
			c->len = fmt_v4(a->s6_addr, c->txt);
		else
			c->len = strlen(sink_fmt_addr(h, dst, c->txt, sizeof(c->txt)));
	}
	*len = c->len;
	return c->txt;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* @sec as "YYYY-MM-DDTHH:MM:SS" (UTC) into @ts; false (@ts untouched) past the year 9999. */
static bool fmt_sec(uint64_t sec, char *ts)
{
	unsigned m, d, s = (unsigned)(sec % 86400);
	int y;

	civil((int64_t)(sec / 86400), &y, &m, &d);
	if (y > 9999)
		return false;
	put2(ts, (unsigned)y / 100);
	put2(ts + 2, (unsigned)y % 100);
	ts[4] = '-';
	put2(ts + 5, m);
	ts[7] = '-';
	put2(ts + 8, d);
	ts[10] = 'T';
	put2(ts + 11, s / 3600);
	ts[13] = ':';
	put2(ts + 14, s / 60 % 60);
	ts[16] = ':';
	put2(ts + 17, s % 60);
	return true;
}

#define TS_TEXT_LEN 36	/* ,"ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ"} */

/*
 * The rare path: @ts_ns is in another second than the kept text's; false past 9999, and in
 * the last second a uint64_t holds (year 2554), which is not kept: below it, a time earlier
 * than ts_base wraps to at least 1e9 ns past it, so ts_text() needs no other test for one.
 */
static __attribute__((noinline)) bool ts_second(struct json_cache *c, uint64_t ts_ns)
{
	uint64_t sec = ts_ns / 1000000000u;

	if (sec >= UINT64_MAX / 1000000000u || !fmt_sec(sec, c->ts + 7))
		return false;
	c->ts_base = sec * 1000000000u;
	return true;
}

/*
 * ,"ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC) as sink_fmt_time writes it for a @ts_ns not 0,
 * without gmtime and strftime, then the '}' that ends the step: TS_TEXT_LEN bytes at @p.
 * The text up to the '.' is kept for its second (ts_base): within that second only the
 * microseconds are formatted, from the nanoseconds past ts_base, with no 64-bit division.
 * False (@p written or not) past the year 9999.
 */
static inline bool ts_text(struct json_cache *c, char *p, uint64_t ts_ns)
{
	uint64_t in_sec = ts_ns - c->ts_base;	/* wraps when earlier: also >= 1e9 (ts_second()) */
	unsigned us, hi;

	if (__builtin_expect(in_sec >= 1000000000u, 0)) {
		if (!ts_second(c, ts_ns))
			return false;
		in_sec = ts_ns - c->ts_base;
	}
	us = (unsigned)in_sec / 1000;
	hi = us / 1000;
	memcpy(p, c->ts, 32);
	memcpy(p + 27, digits3 + hi * 4, 4);	/* its 'Z' overwritten by the next three */
	memcpy(p + 30, digits3 + (us - hi * 1000) * 4, 4);
	memcpy(p + 34, "\"}", 2);
	return true;
}

/* The time (none when @ts_ns is 0) and the '}' that ends the step, in place when there is room. */
static void put_ts_end(struct jb *b, uint64_t ts_ns)
{
	char t[TS_TEXT_LEN], full[40];

	if (!ts_ns) {
		jb_c(b, '}');
		return;
	}
	if (b->size - b->len >= TS_TEXT_LEN) {
		if (ts_text(b->c, b->buf + b->len, ts_ns)) {
			b->len += TS_TEXT_LEN;
			return;
		}
	} else if (ts_text(b->c, t, ts_ns)) {
		jb_put(b, t, sizeof(t));
		return;
	}
	sink_fmt_time(ts_ns, full, sizeof(full));	/* beyond what ts_text() writes */
	jb_lit(b, ",\"ts\":\"");
	jb_puts(b, full);
	jb_lit(b, "\"}");
}

static void json_cache_init(struct json_cache *c)
{
	/* The time text starts as second 0's, so that ts_base is always one. */
	memcpy(c->ts, ",\"ts\":\"", 7);
	fmt_sec(0, c->ts + 7);
	c->ts[26] = '.';
	c->ts_base = 0;
	c->addr[0].family = c->addr[1].family = 0;
	c->ep.h.family = 0;
	c->pkt.len = 0;
	c->pkt.ver = 0;
	for (size_t i = 0; i < JSON_STEPS_CACHED; i++) {
		c->step[i].len = 0;
		c->step[i].ep_ver = 0;
	}
}

static void put_proto(struct jb *b, uint8_t proto)
{
	const char *n = pkt_proto_name(proto);

	jb_lit(b, "\"proto\":");
	if (n) {
		jb_c(b, '"');
		jb_puts(b, n);
		jb_c(b, '"');
	} else {
		jb_u64(b, proto);
	}
}

static void put_addrs_slow(struct jb *b, const struct pkt_hdr *h)
{
	const char *a;
	size_t n;

	/* Addresses need no escaping: quoted as they are. */
	jb_lit(b, ",\"src\":\"");
	a = jb_addr(b, h, false, &n);
	jb_put(b, a, n);
	jb_c(b, '"');
	if (h->has_ports) {
		jb_lit(b, ",\"sport\":");
		jb_u64(b, h->sport);
	}
	jb_lit(b, ",\"dst\":\"");
	a = jb_addr(b, h, true, &n);
	jb_put(b, a, n);
	jb_c(b, '"');
	if (h->has_ports) {
		jb_lit(b, ",\"dport\":");
		jb_u64(b, h->dport);
	}
}

/* The OR of the XORs of @n bytes (a multiple of 16) at @a and @b: all zero when equal. */
static inline diff_t diff_bytes(const void *a, const void *b, size_t n)
{
	const char *p = a, *q = b;
	diff_t d = { 0, 0 };

#pragma GCC unroll 4
	for (size_t k = 0; k < n; k += 16) {
		diff_t x, y;

		memcpy(&x, p + k, 16);
		memcpy(&y, q + k, 16);
		d |= x ^ y;
	}
	return d;
}

/* diff_bytes() of the vectors at @v (aligned, as their type is) and the @n bytes at @b. */
static inline diff_t diff_vec(const diff_t *v, const void *b, size_t n)
{
	const char *q = b;
	diff_t d = { 0, 0 };

#pragma GCC unroll 4
	for (size_t k = 0; k < n / 16; k++) {
		diff_t y;

		memcpy(&y, q + 16 * k, 16);
		d |= v[k] ^ y;
	}
	return d;
}

/* has_ports, sport and dport, five bytes in a row, as one number (the bytes after masked off). */
_Static_assert(offsetof(struct pkt_hdr, sport) == offsetof(struct pkt_hdr, has_ports) + 1 &&
	       offsetof(struct pkt_hdr, dport) == offsetof(struct pkt_hdr, sport) + 2 &&
	       offsetof(struct pkt_hdr, has_ports) + 8 <= sizeof(struct pkt_hdr), "ports adjacent");
static inline uint64_t ports_word(const struct pkt_hdr *h)
{
	static const unsigned char five[8] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	uint64_t w, m;

	memcpy(&w, &h->has_ports, 8);
	memcpy(&m, five, 8);	/* a constant, whatever the byte order */
	return w & m;
}

/* The endpoints, what put_addrs() and put_nat() write of them: zero when the same. */
static inline diff_t ep_diff(const struct pkt_hdr *a, const struct pkt_hdr *b)
{
	diff_t d = diff_bytes(&a->saddr, &b->saddr, 2 * sizeof(a->saddr));

	d[0] |= (unsigned)(a->family ^ b->family) | (ports_word(a) ^ ports_word(b));
	return d;
}

static inline bool diff_zero(diff_t d)
{
	return !(d[0] | d[1]);
}

/*
 * The addresses and ports: the whole block is kept as text and written again as it is while
 * they don't change (every step of a packet outside NAT), formatted only when they do.
 */
static void put_addrs(struct jb *b, const struct pkt_hdr *h)
{
	size_t start;
	unsigned flushes;

	if (h->family != AF_INET && h->family != AF_INET6)
		return;
	if (b->c->ep.h.family && diff_zero(ep_diff(&b->c->ep.h, h))) {
		jb_put(b, b->c->ep.txt, b->c->ep.len);
		return;
	}
	/* Formatted into the line buffer, then copied to the cache if it did not flush. */
	start = b->len;
	flushes = b->flushes;
	put_addrs_slow(b, h);
	if (b->flushes == flushes && b->len - start <= sizeof(b->c->ep.txt)) {
		typeof(b->c->ep) *ep = &b->c->ep;

		ep->h = *h;	/* whole: ports_word() reads the bytes around the ports */
		ep->len = b->len - start;
		memcpy(ep->txt, b->buf + start, ep->len);
	} else {
		b->c->ep.h.family = 0;
	}
}

/* "10.0.0.1:53", "[2001:db8::1]:53", or the address alone when there are no ports. */
static void put_endpoint(struct jb *b, const struct pkt_hdr *h, bool dst)
{
	size_t n;
	const char *a = jb_addr(b, h, dst, &n);
	bool v6 = h->family == AF_INET6 && h->has_ports;

	if (v6)
		jb_lit(b, "\"[");
	else
		jb_c(b, '"');
	jb_put(b, a, n);
	if (h->has_ports) {
		if (v6)
			jb_c(b, ']');
		jb_c(b, ':');
		jb_u64(b, dst ? h->dport : h->sport);
	}
	jb_c(b, '"');
}

/*
 * "nat" on a step whose addresses or ports differ from the step before (NAT ran in
 * between): {"src":[before, after]} and/or {"dst":[before, after]}, each endpoint as
 * "addr:port" ("[v6]:port", or the address alone without ports). Absent when nothing changed.
 */
static void put_nat(struct jb *b, const struct pkt_hdr *prev, const struct pkt_hdr *cur)
{
	bool s, d;

	if (!prev || prev->family != cur->family || !cur->family)
		return;
	s = memcmp(&prev->saddr, &cur->saddr, sizeof(cur->saddr)) || prev->sport != cur->sport;
	d = memcmp(&prev->daddr, &cur->daddr, sizeof(cur->daddr)) || prev->dport != cur->dport;
	if (!s && !d)
		return;
	jb_lit(b, ",\"nat\":{");
	if (s) {
		jb_lit(b, "\"src\":[");
		put_endpoint(b, prev, false);
		jb_c(b, ',');
		put_endpoint(b, cur, false);
		jb_c(b, ']');
	}
	if (d) {
		if (s)
			jb_c(b, ',');
		jb_lit(b, "\"dst\":[");
		put_endpoint(b, prev, true);
		jb_c(b, ',');
		put_endpoint(b, cur, true);
		jb_c(b, ']');
	}
	jb_c(b, '}');
}

/*
 * The resolver's answer: "rule" (string, or null with "rule_reason"), "verdict", and
 * "continue":true for targets that let the packet go on (MARK, LOG, ...). Absent when no
 * resolver ran (--read, --replay).
 */
static void put_rule(struct jb *b, const struct trace_record *r)
{
	if (!r->verdict && !r->rule_reason)
		return;
	jb_lit(b, ",\"rule\":");
	if (r->rule)
		jb_str(b, r->rule);
	else
		jb_lit(b, "null");
	if (r->verdict) {
		jb_lit(b, ",\"verdict\":");
		jb_str(b, r->verdict);
	}
	if (r->verdict_continues)
		jb_lit(b, ",\"continue\":true");
	if (!r->rule && r->rule_reason) {
		jb_lit(b, ",\"rule_reason\":");
		jb_str(b, r->rule_reason);
	}
}

/* {"backend":..,"table":..,"chain":..,"kind":..,"rulenum":N (legacy) or "handle":N (nft) */
static void put_head(struct jb *b, const struct trace_record *r)
{
	/* Literals, not trace_backend_name()/trace_kind_name() and strlen: the same text. */
	if (r->backend == TRACE_BACKEND_NFT)
		jb_lit(b, "{\"backend\":\"nft\",\"table\":");
	else
		jb_lit(b, "{\"backend\":\"legacy\",\"table\":");
	jb_str(b, r->table);
	jb_lit(b, ",\"chain\":");
	jb_str(b, r->chain);
	switch (r->kind) {
	case TRACE_KIND_RULE:
		jb_lit(b, ",\"kind\":\"rule\"");
		break;
	case TRACE_KIND_RETURN:
		jb_lit(b, ",\"kind\":\"return\"");
		break;
	case TRACE_KIND_POLICY:
		jb_lit(b, ",\"kind\":\"policy\"");
		break;
	default:
		jb_lit(b, ",\"kind\":\"");
		jb_puts(b, trace_kind_name(r->kind));
		jb_c(b, '"');
		break;
	}
	if (r->backend == TRACE_BACKEND_LEGACY) {
		jb_lit(b, ",\"rulenum\":");
		jb_u64(b, r->rulenum);
	} else if (r->handle) {
		jb_lit(b, ",\"handle\":");
		jb_u64(b, r->handle);
	}
}

/* The nft family of the table, on nft steps. */
static void put_family(struct jb *b, const struct trace_record *r)
{
	const char *fam;

	if (r->backend != TRACE_BACKEND_NFT)
		return;
	fam = nftrace_family_name(r->table_family);
	if (fam) {
		jb_lit(b, ",\"family\":\"");
		jb_puts(b, fam);
		jb_c(b, '"');
	}
}

/* Is @s (NULL: none) what the cache holds? */
static bool same_text(bool has, const char *cached, const char *s)
{
	return s ? has && strcmp(cached, s) == 0 : !has;
}

/* Keep @s (NULL: none); false when it is too long to keep. */
static bool keep_text(bool *has, char *cached, const char *s)
{
	size_t n;

	*has = s != NULL;
	if (!s)
		return true;
	n = strlen(s);
	if (n >= RULE_TEXT_MAX)
		return false;
	memcpy(cached, s, n + 1);
	return true;
}

/* ,"in":..,"out":.. and ,"physin"/"physout" when there are. */
static void put_ifs(struct jb *b, const struct trace_record *r)
{
	jb_lit(b, ",\"in\":");
	jb_str(b, r->in);
	jb_lit(b, ",\"out\":");
	jb_str(b, r->out);
	if (r->physin[0]) {
		jb_lit(b, ",\"physin\":");
		jb_str(b, r->physin);
	}
	if (r->physout[0]) {
		jb_lit(b, ",\"physout\":");
		jb_str(b, r->physout);
	}
}

/* A step's text up to its mark and time (struct json_cache, step[]), written out. */
static void put_step_text(struct jb *b, const struct trace_record *r,
			  const struct trace_record *prev)
{
	put_head(b, r);
	put_rule(b, r);
	put_family(b, r);
	if (r->has_ct) {
		/* The conntrack view the kernel attached (nft records, first of a traversal). */
		char st[CT_STATUS_JSON_MAX];

		jb_lit(b, ",\"ct\":{\"id\":");
		jb_u64(b, r->ct_id);
		jb_lit(b, ",\"state\":\"");
		jb_puts(b, ct_state_name(r->ct_state));
		jb_puts(b, r->ct_dir ? "\",\"dir\":\"reply\",\"status\":" :
				       "\",\"dir\":\"original\",\"status\":");
		jb_puts(b, ct_status_json(st, sizeof(st), r->ct_status));
		jb_c(b, '}');
	}
	put_ifs(b, r);
	put_addrs(b, &r->pkt);
	put_nat(b, prev ? &prev->pkt : NULL, &r->pkt);
}

/* The @n (at most 8) bytes at @p as one number: two adjacent fields compared at once. */
static inline uint64_t span(const void *p, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

/* The resolver's strings of @r (one of them at least) are those @c's text has. */
static __attribute__((noinline)) bool step_texts_same(const struct step_cache *c,
						      const struct trace_record *r)
{
	return same_text(c->has[0], c->text[0], r->rule) &&
	       same_text(c->has[1], c->text[1], r->verdict) &&
	       same_text(c->has[2], c->text[2], r->rule_reason);
}

/* The 16 bytes of @r's conntrack view, its padding masked off: all the fields at once. */
static inline diff_t ct_bytes(const struct trace_record *r)
{
	static const unsigned char fields[16] = {
		0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	diff_t v, m;

	memcpy(&v, &r->has_ct, 16);
	memcpy(&m, fields, 16);
	return v & m;
}

/*
 * The differences between @c's key and @r's own fields, the endpoints apart: as a vector
 * (names, interfaces, conntrack view) and, in *@x, as a word (the numbers and flags, kept
 * apart: moved into the vector, they would cost moves).
 */
static inline __attribute__((always_inline)) diff_t
fields_diff(const struct step_cache *c, const struct trace_record *r, uint64_t *x)
{
	*x = (c->handle ^ r->handle) | (c->rulenum ^ r->rulenum) |
	     (span(&c->backend, 8) ^ span(&r->backend, 8)) |			/* and kind */
	     (span(&c->verdict_continues, 2) ^ span(&r->verdict_continues, 2)); /* family */
	/* The conntrack view compared without one too: then 0 in each record (record.h). */
	return diff_vec(c->names, r->table, sizeof(c->names)) |
	       diff_vec(c->ifs, r->in, sizeof(c->ifs)) | (c->ct ^ ct_bytes(r));
}

/*
 * The end of both key checks: no difference in @d and @x, and the resolver's strings those
 * @c's text has (with no resolver, --replay or nft: a hit when the text had none either).
 * One OR of differences with one branch at the end, but for the strings.
 */
static inline __attribute__((always_inline)) bool
key_same(const struct step_cache *c, const struct trace_record *r, diff_t d, uint64_t x)
{
	if (__builtin_expect(((uintptr_t)r->rule | (uintptr_t)r->verdict |
			      (uintptr_t)r->rule_reason) != 0, 0))
		return !(d[0] | d[1] | x) && step_texts_same(c, r);
	x |= c->any;
	return !(d[0] | d[1] | x);
}

/*
 * Whether @c's text is that of step @r after @prev: the same fields, the same endpoints
 * and, after a step, the same endpoints before (the NAT block); @ep_ver, when not 0, says
 * that @r has the endpoints the packet cache holds under that version, and so has each
 * step before it (no NAT block): then one number compares them.
 */
static inline __attribute__((always_inline)) bool
step_key_same(const struct step_cache *c, const struct trace_record *r,
	      const struct trace_record *prev, uint64_t ep_ver)
{
	uint64_t x;
	diff_t d = fields_diff(c, r, &x);

	if (__builtin_expect(!ep_ver || c->ep_ver != ep_ver, 0)) {
		d |= ep_diff(&c->cur, &r->pkt);
		x |= (unsigned)(c->has_prev ^ (prev != NULL));
		if (prev)
			d |= ep_diff(&c->prev, &prev->pkt);
	}
	return key_same(c, r, d, x);
}

/*
 * step_key_same() in a packet with no NAT so far, for a @c with the packet's ep_ver (not 0):
 * that says that the steps before @r have the endpoints the packet cache holds under that
 * version, and that @c, kept under it, had them too, and so had the step before it. With
 * @c's endpoints, @r has the packet's, and the same (no) NAT block: its text is @c's when
 * the rest is the same.
 */
static inline __attribute__((always_inline)) bool
step_key_hit(const struct step_cache *c, const struct trace_record *r)
{
	uint64_t x;
	diff_t d = fields_diff(c, r, &x) | ep_diff(&c->cur, &r->pkt);

	return key_same(c, r, d, x);
}

/* Keep the text written since @start (no flush since @flushes) and its key in @c. */
static void step_keep(struct step_cache *c, const struct jb *b, size_t start, unsigned flushes,
		      const struct trace_record *r, const struct trace_record *prev,
		      uint64_t ep_ver)
{
	const char *txt[3] = { r->rule, r->verdict, r->rule_reason };
	size_t n = b->len - start;

	c->len = 0;
	c->ep_ver = 0;	/* no hit in put_step_kept() either */
	if (b->flushes != flushes || n > sizeof(c->txt))
		return;
	for (int k = 0; k < 3; k++)
		if (!keep_text(&c->has[k], c->text[k], txt[k]))
			return;
	c->any = txt[0] || txt[1] || txt[2];
	memcpy(c->names, r->table, sizeof(c->names));
	memcpy(c->ifs, r->in, sizeof(c->ifs));
	c->backend = r->backend;
	c->kind = r->kind;
	c->rulenum = r->rulenum;
	c->handle = r->handle;
	c->table_family = r->table_family;
	c->verdict_continues = r->verdict_continues;
	c->ct = ct_bytes(r);
	c->cur = r->pkt;
	c->has_prev = prev != NULL;
	if (prev)
		c->prev = prev->pkt;
	c->ep_ver = ep_ver;
	memcpy(c->txt, b->buf + start, n);
	c->len = (uint16_t)n;
}

/* A step's text up to its mark and time, kept as @c for the next packet; after a comma. */
static __attribute__((noinline)) void put_step_keep(struct jb *b, struct step_cache *c,
						    bool comma, const struct trace_record *r,
						    const struct trace_record *prev, uint64_t ep_ver)
{
	size_t start = b->len;
	unsigned flushes = b->flushes;

	if (comma)
		jb_c(b, ',');
	put_step_text(b, r, prev);
	step_keep(c, b, start, flushes, r, prev, ep_ver);
}

/*
 * Step @i of its packet (its text cached under that index), after @prev (NULL: first),
 * with the comma before it when it is not the first; @ep_ver as step_key_same() takes it.
 * Out of line: a packet's steps take put_step_kept() first, and this when that can't.
 */
static __attribute__((noinline)) void put_step(struct jb *b, const struct trace_record *r,
					       const struct trace_record *prev, size_t i,
					       uint64_t ep_ver)
{
	static const char hex[] = "0123456789abcdef";

	if (i >= JSON_STEPS_CACHED) {
		jb_c(b, ',');
		put_step_text(b, r, prev);
	} else {
		/*
		 * The steps of one flow's packets repeat: step i's text (with its comma) is
		 * kept per index and written again while its key is the same (BENCHMARKS.md).
		 */
		struct step_cache *c = &b->c->step[i];

		if (c->len && step_key_same(c, r, prev, ep_ver))
			jb_put(b, c->txt, c->len);
		else
			put_step_keep(b, c, i > 0, r, prev, ep_ver);
	}
	if (r->mark) {
		char m[8], *p = m + sizeof(m);
		uint32_t v = r->mark;

		do {
			*--p = hex[v & 0xf];
			v >>= 4;
		} while (v);
		jb_lit(b, ",\"mark\":\"0x");
		jb_put(b, p, (size_t)(m + sizeof(m) - p));
		jb_c(b, '"');
	}
	put_ts_end(b, r->ts_ns);
}

/*
 * put_step() for the common case, inline in the packet's loop: step @i's text is kept, its
 * key is the same and there is no mark; the kept text and the time are written in place.
 * False, with b->len as it was, when it is not that case or there is no room.
 */
static inline bool put_step_kept(struct jb *b, const struct step_cache *c,
				 const struct trace_record *r, uint64_t ep_ver)
{
	char *p;

	/* First: only a kept text has an ep_ver (step_keep() sets it last), and one not 0. */
	if (c->ep_ver != ep_ver || r->mark || b->size - b->len < (size_t)c->len + TS_TEXT_LEN ||
	    !step_key_hit(c, r))
		return false;
	p = b->buf + b->len;
	memcpy(p, c->txt, c->len);
	p += c->len;
	if (!r->ts_ns)
		*p++ = '}';
	else if (ts_text(b->c, p, r->ts_ns))
		p += TS_TEXT_LEN;
	else
		return false;	/* nothing written counts yet: put_step() writes it all */
	b->len = (size_t)(p - b->buf);
	return true;
}

/* The state lives from begin() to end(); a sink used without begin() keeps it per line. */
static int json_begin(struct sink *s)
{
	struct json_state *st = malloc(sizeof(*st));

	if (!st) {
		fprintf(stderr, "iptrace: out of memory\n");
		return -1;
	}
	json_cache_init(&st->c);
	jb_init(&st->b, s->out, &st->c, st->buf, sizeof(st->buf));
	s->priv = st;
	return 0;
}

/* Without begin(): a cache and a buffer for this line, on the stack. */
struct json_line {
	struct json_cache	c;
	char			buf[JB_SIZE];
};

static struct jb *json_jb(struct sink *s, struct json_line *l, struct jb *lb)
{
	struct json_state *st = s->priv;

	if (st)
		return &st->b;
	json_cache_init(&l->c);
	jb_init(lb, s->out, &l->c, l->buf, sizeof(l->buf));
	return lb;
}

/* The end of a packet or record: to the FILE now, unless the caller flushes later. */
static int json_done(struct sink *s, struct jb *b)
{
	if (!s->opts.deferred_flush || !s->priv)
		jb_flush(b);
	return b->err ? -1 : 0;
}

static int json_flush(struct sink *s)
{
	struct json_state *st = s->priv;

	if (!st)
		return 0;
	jb_flush(&st->b);
	return st->b.err ? -1 : 0;
}

/* A packet's ","family":"..","proto":..,"src":..,"dport":N,"len": */
static void put_pkt_head(struct jb *b, const struct pkt_hdr *h)
{
	typeof(b->c->pkt) *c = &b->c->pkt;
	size_t start = b->len;
	unsigned flushes = b->flushes;

	/* A flow's packets repeat it: kept, and written again while these fields are the same. */
	if (c->len && c->h.proto == h->proto && diff_zero(ep_diff(&c->h, h))) {
		jb_put(b, c->txt, c->len);
		return;
	}
	jb_lit(b, "\",\"family\":\"");
	jb_puts(b, h->family == AF_INET6 ? "ipv6" : h->family == AF_INET ? "ipv4" : "unknown");
	jb_lit(b, "\",");
	put_proto(b, h->proto);
	put_addrs(b, h);
	jb_lit(b, ",\"len\":");
	c->len = 0;
	if (b->flushes != flushes || b->len - start > sizeof(c->txt))
		return;
	c->h = *h;
	c->ver++;
	c->len = (uint16_t)(b->len - start);
	memcpy(c->txt, b->buf + start, c->len);
}

static int json_packet(struct sink *s, const struct packet *p)
{
	const struct pkt_hdr *h = &p->steps[0].pkt;
	struct json_line line;
	struct jb lb, *b = json_jb(s, &line, &lb);
	struct json_cache *jc = b->c;
	const struct trace_record *r, *prev = NULL;
	uint64_t ep_ver;

	jb_lit(b, "{\"type\":\"packet\",\"id\":\"");
	jb_num(b, p->id);
	put_pkt_head(b, h);
	jb_num(b, h->len);
	if (h->family == AF_INET) {
		jb_lit(b, ",\"ipid\":");
		jb_num(b, h->ipid);
	}
	if (p->steps_dropped) {
		jb_lit(b, ",\"steps_dropped\":");
		jb_u64(b, p->steps_dropped);
	}
	if (p->ct) {
		jb_lit(b, ",\"ct\":");
		jb_flush(b);	/* the ct printer writes to the FILE itself */
		ct_print_json_obj(s->out, p->ct);
	}
	jb_lit(b, ",\"steps\":[");
	/*
	 * While each step has the endpoints of the one before, they are those of the packet
	 * cache (put_pkt_head() just compared them): the step cache compares its version.
	 */
	ep_ver = jc->pkt.len ? jc->pkt.ver : 0;
	r = p->steps;
	for (size_t i = 0; i < p->nsteps; i++, prev = r++) {
		/* A hit keeps ep_ver true: the step has the packet's endpoints (step_key_hit()). */
		if (i < JSON_STEPS_CACHED && ep_ver && put_step_kept(b, &jc->step[i], r, ep_ver))
			continue;
		if (prev && ep_ver && !diff_zero(ep_diff(&r->pkt, &prev->pkt)))
			ep_ver = 0;	/* NAT: from here on the endpoints are compared */
		put_step(b, r, prev, i, ep_ver);
	}
	jb_lit(b, "]}\n");
	/* Per packet (or when the capture goes idle), so `| jq` and `tail -f` see each packet. */
	if (json_done(s, b) < 0)
		return -1;
	return sink_flush(s);
}

static int json_record(struct sink *s, const struct trace_record *r)
{
	struct json_line line;
	struct jb lb, *b = json_jb(s, &line, &lb);

	jb_lit(b, "{\"type\":\"record\",\"step\":");
	put_step(b, r, NULL, 0, 0);
	jb_lit(b, "}\n");
	json_done(s, b);
	return 0;	/* as before: --no-group output errors show at the end */
}

static int json_end(struct sink *s, const struct summary *sum)
{
	int err = json_flush(s);	/* the packets before the summary */

	fprintf(s->out, "{\"type\":\"summary\",\"packets\":%" PRIu64 ",\"records\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"evicted\":%" PRIu64,
		sum->packets, sum->records, sum->lost, sum->dropped, sum->evicted);
	/* Only when non-zero: the summary of a run without loss keeps its shape. */
	if (sum->overruns)
		fprintf(s->out, ",\"overruns\":%" PRIu64, sum->overruns);
	if (sum->marker)
		fprintf(s->out, ",\"marker\":\"%s\"", sum->marker);
	if (sum->limited)
		fprintf(s->out, ",\"unmarked\":%" PRIu64, sum->unmarked);
	fputs("}\n", s->out);
	free(s->priv);
	s->priv = NULL;
	return fflush(s->out) == EOF || err < 0 ? -1 : 0;
}

const struct sink_ops sink_json_ops = {
	.name = "json",
	.begin = json_begin,
	.packet = json_packet,
	.record = json_record,
	.end = json_end,
	.flush = json_flush,
};
