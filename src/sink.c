/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink.c: the formatter registry and helpers they share */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "iptrace/nftrace.h"
#include "iptrace/sink.h"
#include "iptrace/utf8.h"

const struct sink_ops *sink_lookup(const char *name)
{
	static const struct sink_ops *const all[] = {
		&sink_text_ops, &sink_json_ops, &sink_log_ops, &sink_journal_ops, &sink_dot_ops,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

char *sink_fmt_table(const struct trace_record *r, char *buf, size_t size)
{
	const char *family = r->backend == TRACE_BACKEND_NFT ?
			     nftrace_family_name(r->table_family) : NULL;

	char name[SINK_TEXT_NAME_MAX(TRACE_NFT_NAME_MAX)];

	sink_text_name(r->table, name, sizeof(name));
	if (family)
		snprintf(buf, size, "%s %s", family, name);
	else
		snprintf(buf, size, "%s", name);
	return buf;
}

bool sink_multi_node(const struct packet *p)
{
	const char *first = p->nsteps ? p->steps[0].node : NULL;

	for (size_t i = 1; i < p->nsteps; i++) {
		const char *n = p->steps[i].node;

		if (n != first && (!n || !first || strcmp(n, first) != 0))
			return true;
	}
	return false;
}

int sink_flush(const struct sink *s)
{
	if (s->opts.deferred_flush)
		return ferror(s->out) ? -1 : 0;
	return fflush(s->out) == EOF ? -1 : 0;
}

/* "00" to "99": numbers are written two digits at a time, half the divisions. */
static const char digits2[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* @v (< 100) as two digits at @p. */
static void put2(char *p, unsigned v)
{
	memcpy(p, digits2 + 2 * v, 2);
}

char *sink_put_u64(char *p, uint64_t v)
{
	char t[20], *q = t + sizeof(t);
	size_t n;

	/* Most numbers are ports, rule numbers, a TTL: up to five digits, written in place. */
	if (v < 100000) {
		unsigned u = (unsigned)v;

		if (u < 10) {
			*p = (char)('0' + u);
			return p + 1;
		}
		if (u < 100) {
			put2(p, u);
			return p + 2;
		}
		if (u < 1000) {
			*p = (char)('0' + u / 100);
			put2(p + 1, u % 100);
			return p + 3;
		}
		if (u < 10000) {
			put2(p, u / 100);
			put2(p + 2, u % 100);
			return p + 4;
		}
		*p = (char)('0' + u / 10000);
		put2(p + 1, u / 100 % 100);
		put2(p + 3, u % 100);
		return p + 5;
	}
	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = (size_t)(t + sizeof(t) - q);
	memcpy(p, q, n);
	return p + n;
}

/*
 * Days since 1970-01-01 to a Gregorian date (H. Hinnant's civil_from_days): arithmetic
 * only, where gmtime_r() takes a lock and walks the years, for every step printed.
 */
static void civil_from_days(uint32_t z, unsigned *y, unsigned *m, unsigned *d)
{
	uint32_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

char *sink_put_time(char *p, uint64_t ts_ns)
{
	uint64_t sec = ts_ns / 1000000000u;
	/* A uint64_t of ns ends in the year 2554: 32 bits hold its days, four digits its year. */
	uint32_t days = (uint32_t)(sec / 86400), s = (uint32_t)(sec - (uint64_t)days * 86400);
	uint32_t us = (uint32_t)(ts_ns - sec * 1000000000u) / 1000;
	unsigned y, m, d;

	civil_from_days(days, &y, &m, &d);
	memcpy(p, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", 27);
	put2(p, y / 100);
	put2(p + 2, y % 100);
	put2(p + 5, m);
	put2(p + 8, d);
	put2(p + 11, s / 3600);
	put2(p + 14, s / 60 % 60);
	put2(p + 17, s % 60);
	put2(p + 20, us / 10000);
	put2(p + 22, us / 100 % 100);
	put2(p + 24, us % 100);
	return p + 27;
}

char *sink_fmt_time(uint64_t ts_ns, char *buf, size_t size)
{
	buf[0] = '\0';
	if (ts_ns && size >= SINK_TIME_MAX)
		*sink_put_time(buf, ts_ns) = '\0';
	return buf;
}

/* One octet of a dotted quad and a dot after it, as inet_ntop() writes them. */
static inline char *put_octet(char *p, unsigned v)
{
	if (v >= 100) {
		*p++ = (char)('0' + v / 100);
		v %= 100;
		put2(p, v);
		p[2] = '.';
		return p + 3;
	}
	if (v >= 10) {
		put2(p, v);
		p[2] = '.';
		return p + 3;
	}
	p[0] = (char)('0' + v);
	p[1] = '.';
	return p + 2;
}

char *sink_put_addr(char *p, const struct pkt_hdr *h, bool dst)
{
	const uint8_t *a = (dst ? &h->daddr : &h->saddr)->s6_addr;

	if (h->family == AF_INET) {
		p = put_octet(p, a[0]);
		p = put_octet(p, a[1]);
		p = put_octet(p, a[2]);
		return put_octet(p, a[3]) - 1;
	}
	if (h->family == AF_INET6 && inet_ntop(AF_INET6, a, p, INET6_ADDRSTRLEN))
		return p + strlen(p);
	return p;
}

char *sink_fmt_addr(const struct pkt_hdr *h, bool dst, char *buf, size_t size)
{
	buf[0] = '\0';
	if (size >= INET6_ADDRSTRLEN)
		*sink_put_addr(buf, h, dst) = '\0';
	return buf;
}

/* U+0080 to U+009F: C1 controls, which some terminals obey as ESC-sequences. */
static bool utf8_c1(const unsigned char *p)
{
	return p[0] == 0xc2 && p[1] < 0xa0;
}

static const char hex[] = "0123456789abcdef";

size_t sink_text_escape(char *buf, size_t size, const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = 0;

	while (*p) {
		size_t k;

		if (*p >= 0x20 && *p < 0x7f) {
			if (n == size)
				break;
			buf[n++] = (char)*p++;
			continue;
		}
		k = *p >= 0x80 ? utf8_len(p, SIZE_MAX) : 0;
		if (k && !utf8_c1(p)) {
			if (size - n < k)
				break;
			memcpy(buf + n, p, k);
			n += k;
			p += k;
			continue;
		}
		/* A control byte, a byte that is not UTF-8, or both bytes of a C1 control. */
		k = k ? k : 1;
		if (size - n < 4 * k)
			break;
		for (size_t i = 0; i < k; i++, p++) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 0xf];
		}
	}
	*s = (const char *)p;
	return n;
}

void sink_text_put(FILE *f, const char *s)
{
	char buf[256];

	while (*s)
		fwrite(buf, 1, sink_text_escape(buf, sizeof(buf), &s), f);
}

char *sink_text_name(const char *s, char *buf, size_t size)
{
	size_t n = size ? sink_text_escape(buf, size - 1, &s) : 0;

	if (size)
		buf[n] = '\0';
	return buf;
}

/* What JSON does not take as it is: NUL (the end), controls, '"', '\\', all past ASCII. */
static const bool json_special[256] = {
	[0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f ... 0xff] = true,
};

/* sink_json_escape() from @p on, @n bytes already in @buf: the whole escaping rule. */
static __attribute__((noinline)) size_t json_escape(char *buf, size_t size, const char **s,
						    bool *bad, const unsigned char *p, size_t n)
{
	size_t k;
	unsigned c;

	for (;; p++) {
		if (!json_special[*p]) {
			if (n == size)
				break;
			buf[n++] = (char)*p;
			continue;
		}
		if (!*p)
			break;
		if (*p == '"' || *p == '\\') {
			if (size - n < 2)
				break;
			buf[n++] = '\\';
			buf[n++] = (char)*p;
			continue;
		}
		k = *p >= 0x80 ? utf8_len(p, SIZE_MAX) : 1;
		if (k > 1 && !utf8_c1(p)) {
			if (size - n < k)
				break;
			memcpy(buf + n, p, k);
			n += k;
			p += k - 1;
			continue;
		}
		if (!k) {
			/* Not UTF-8: U+FFFD in its place, the exact bytes in the _hex sibling. */
			if (size - n < 3)
				break;
			memcpy(buf + n, "\xef\xbf\xbd", 3);
			n += 3;
			*bad = true;
			continue;
		}
		/* A control, DEL or a C1 control (two bytes: U+0080 + the second's low bits). */
		c = k == 1 ? *p : 0x80 + (p[1] & 0x3f);
		if (size - n < 6)
			break;
		memcpy(buf + n, "\\u00", 4);
		buf[n + 4] = hex[c >> 4];
		buf[n + 5] = hex[c & 0xf];
		n += 6;
		p += k - 1;
	}
	*s = (const char *)p;
	return n;
}

size_t sink_json_escape(char *buf, size_t size, const char **s, bool *bad)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = 0;

	/*
	 * Names are plain ASCII nearly always: copied here, in a loop that needs no register
	 * saved, and the rest handed on (a tail call) from the first byte that needs care.
	 * This runs for every name of every record.
	 */
	for (; !json_special[*p]; p++) {
		if (n == size)
			goto out;
		buf[n++] = (char)*p;
	}
	if (*p)
		return json_escape(buf, size, s, bad, p, n);
out:
	*s = (const char *)p;
	return n;
}

char *sink_json_put(char *p, const char *s, bool *bad)
{
	size_t n = 0;

	/* Plain ASCII nearly always: copied here, the rest from the first byte that needs care. */
	for (unsigned char c; !json_special[c = (unsigned char)s[n]]; n++)
		p[n] = (char)c;
	if (s[n])
		return p + json_escape(p, SIZE_MAX, &s, bad, (const unsigned char *)s + n, n);
	return p + n;
}

size_t sink_hex(char *buf, size_t size, const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = 0;

	for (; *p && size - n >= 2; p++) {
		buf[n++] = hex[*p >> 4];
		buf[n++] = hex[*p & 0xf];
	}
	*s = (const char *)p;
	return n;
}

void sink_json_field(FILE *f, const char *key, const char *s)
{
	const char *p = s;
	bool bad = false;
	char buf[256];

	fprintf(f, ",\"%s\":\"", key);
	while (*p)
		fwrite(buf, 1, sink_json_escape(buf, sizeof(buf), &p, &bad), f);
	putc('"', f);
	if (!bad)
		return;
	fprintf(f, ",\"%s_hex\":\"", key);
	for (p = s; *p;)
		fwrite(buf, 1, sink_hex(buf, sizeof(buf), &p), f);
	putc('"', f);
}
