/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink.c: the formatter registry and helpers they share */
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "iptrace/sink.h"

const struct sink_ops *sink_lookup(const char *name)
{
	static const struct sink_ops *const all[] = {
		&sink_text_ops, &sink_json_ops, &sink_log_ops, &sink_journal_ops,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
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

/* @v (< 100) as two digits at @p. */
static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * Days since 1970-01-01 to a Gregorian date (H. Hinnant's days_from_civil inverse): the
 * gmtime_r() this replaces took a lock and a loop over years, a fifth of a record's cost.
 */
static void civil_from_days(uint64_t z, unsigned *y, unsigned *m, unsigned *d)
{
	uint64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

char *sink_fmt_time(uint64_t ts_ns, char *buf, size_t size)
{
	uint64_t sec = ts_ns / 1000000000u;
	unsigned s = (unsigned)(sec % 86400), us = (unsigned)(ts_ns % 1000000000u / 1000), y, m, d;

	buf[0] = '\0';
	if (!ts_ns || size < SINK_TIME_MAX)
		return buf;
	civil_from_days(sec / 86400, &y, &m, &d);
	/* A uint64_t of ns ends in the year 2554: four digits are enough. */
	memcpy(buf, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", sizeof("YYYY-MM-DDTHH:MM:SS.uuuuuuZ"));
	put2(buf, y / 100);
	put2(buf + 2, y % 100);
	put2(buf + 5, m);
	put2(buf + 8, d);
	put2(buf + 11, s / 3600);
	put2(buf + 14, s / 60 % 60);
	put2(buf + 17, s % 60);
	put2(buf + 20, us / 10000);
	put2(buf + 22, us / 100 % 100);
	put2(buf + 24, us % 100);
	return buf;
}

/* The dotted quad inet_ntop() writes, without its sprintf(). */
static void fmt_v4(const uint8_t *a, char *p)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100) {
			*p++ = (char)('0' + v / 100);
			v %= 100;
			*p++ = (char)('0' + v / 10);
		} else if (v >= 10) {
			*p++ = (char)('0' + v / 10);
		}
		*p++ = (char)('0' + v % 10);
		*p++ = '.';
	}
	p[-1] = '\0';
}

char *sink_fmt_addr(const struct pkt_hdr *h, bool dst, char *buf, size_t size)
{
	const struct in6_addr *a = dst ? &h->daddr : &h->saddr;

	buf[0] = '\0';
	if (h->family == AF_INET && size >= INET_ADDRSTRLEN)
		fmt_v4(a->s6_addr, buf);
	else if (h->family == AF_INET || h->family == AF_INET6)
		inet_ntop(h->family, a, buf, (socklen_t)size);
	return buf;
}

size_t sink_json_escape(char *buf, size_t size, const char **s)
{
	static const char hex[] = "0123456789abcdef";
	/* What is not written as it is: NUL (the end), control bytes, '"' and '\\'. */
	static const bool special[256] = { [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true };
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = 0;

	for (;; p++) {
		if (!special[*p]) {
			if (n == size)
				break;
			buf[n++] = (char)*p;
		} else if (!*p) {
			break;
		} else if (*p >= 0x20) {
			if (size - n < 2)
				break;
			buf[n++] = '\\';
			buf[n++] = (char)*p;
		} else {
			if (size - n < 6)
				break;
			memcpy(buf + n, "\\u00", 4);
			buf[n + 4] = hex[*p >> 4];
			buf[n + 5] = hex[*p & 0xf];
			n += 6;
		}
	}
	*s = (const char *)p;
	return n;
}

void sink_json_str(FILE *f, const char *s)
{
	char buf[256];

	putc('"', f);
	while (*s)
		fwrite(buf, 1, sink_json_escape(buf, sizeof(buf), &s), f);
	putc('"', f);
}
