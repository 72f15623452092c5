/* SPDX-License-Identifier: GPL-2.0-or-later */
/* selector.c: pure parsers for the selector options and the selection they build */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>
#include <linux/netfilter/xt_limit.h>

#include "iptrace/pkt.h"
#include "iptrace/selector.h"

int parse_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int parse_uint(const char *s, int base, uint64_t min, uint64_t max, uint64_t *out)
{
	char *e;
	unsigned long long v;

	/* strtoull() would take a sign or leading space: only digits may start it. */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &e, base);
	if (errno || *e || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse a decimal number in [lo, hi] that spans exactly [s, end). */
static int parse_num(const char *s, const char *end, long lo, long hi, long *out)
{
	char *e;
	long v;

	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e != end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int sel_parse_ports(const char *s, struct port_list *pl, char *err, size_t errlen)
{
	const char *p = s;
	size_t slots = 0;

	for (size_t i = 0; i < pl->n; i++)
		slots += pl->r[i].lo == pl->r[i].hi ? 1 : 2;
	if (*s == '\0')
		return parse_fail(err, errlen, "empty port list");
	while (*p) {
		const char *comma = strchr(p, ','), *dash;
		const char *end = comma ? comma : p + strlen(p);
		long lo, hi;

		dash = memchr(p, '-', (size_t)(end - p));
		if (dash) {
			if (parse_num(p, dash, 1, 65535, &lo) < 0 ||
			    parse_num(dash + 1, end, 1, 65535, &hi) < 0)
				return parse_fail(err, errlen, "invalid port range '%.*s' (ports are 1-65535)",
						  (int)(end - p), p);
			if (lo > hi)
				return parse_fail(err, errlen, "reversed port range '%.*s'",
						  (int)(end - p), p);
		} else {
			if (parse_num(p, end, 1, 65535, &lo) < 0)
				return parse_fail(err, errlen, "invalid port '%.*s' (ports are 1-65535)",
						  (int)(end - p), p);
			hi = lo;
		}
		slots += lo == hi ? 1 : 2;
		if (slots > SEL_MAX_PORTS)
			return parse_fail(err, errlen, "too many ports in '%s' (at most %d, a range counts twice)",
					  s, SEL_MAX_PORTS);
		pl->r[pl->n].lo = (uint16_t)lo;
		pl->r[pl->n].hi = (uint16_t)hi;
		pl->n++;
		if (!comma)
			break;
		p = comma + 1;
		if (*p == '\0')
			return parse_fail(err, errlen, "invalid port list '%s'", s);
	}
	return 0;
}

/*
 * True for text that looks like a numeric address: never hand it to the resolver, which
 * reads inet_aton()'s forms where inet_pton() refused them ("1.2.3" is 1.2.0.3, "0x7f.1"
 * and "0x7f000001" 127.0.0.1; glibc before 2.32 even "1.2.3 x").
 */
static bool numeric_like(const char *s)
{
	struct in_addr a;

	return strspn(s, "0123456789.") == strlen(s) || strchr(s, ':') != NULL ||
	       inet_aton(s, &a) != 0;
}

static int add_addr(struct addr_list *al, int family, const void *addr, unsigned plen,
		    char *err, size_t errlen)
{
	uint8_t mask[16];
	struct addr_prefix *ap;
	unsigned bytes = family == AF_INET ? 4 : 16;

	if (al->n >= SEL_MAX_ADDRS)
		return parse_fail(err, errlen, "too many addresses (at most %d per option)", SEL_MAX_ADDRS);
	ap = &al->a[al->n];
	memset(ap, 0, sizeof(*ap));
	ap->family = family;
	ap->plen = plen;
	memcpy(&ap->addr, addr, bytes);
	/* Clear the host bits so the rule and the printed prefix agree. */
	addr_prefix_mask(plen, mask, bytes);
	for (unsigned i = 0; i < bytes; i++)
		ap->addr.s6_addr[i] &= mask[i];
	al->n++;
	return 0;
}

int sel_parse_addr(const char *s, struct addr_list *al, char *err, size_t errlen)
{
	char host[256];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t addr[16];
	long plen = -1;
	int family;

	if (hl == 0 || hl >= sizeof(host))
		return parse_fail(err, errlen, "invalid address '%s'", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		family = AF_INET6;
	else if (numeric_like(host))
		return parse_fail(err, errlen, "invalid address '%s'", s);
	else {
		/* A host name: resolved once, here, and every address it has is used. */
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res, *ai;
		int ret;

		if (slash)
			return parse_fail(err, errlen, "a prefix length needs a numeric address: '%s'", s);
		ret = getaddrinfo(host, NULL, &hints, &res);
		if (ret != 0)
			return parse_fail(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(ret));
		for (ai = res; ai; ai = ai->ai_next) {
			const void *a = ai->ai_family == AF_INET ?
				(const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
				(const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			bool dup = false;

			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			for (size_t i = 0; i < al->n; i++)
				if (al->a[i].family == ai->ai_family &&
				    memcmp(&al->a[i].addr, a, ai->ai_family == AF_INET ? 4 : 16) == 0)
					dup = true;
			if (!dup && add_addr(al, ai->ai_family, a,
					     ai->ai_family == AF_INET ? 32 : 128, err, errlen) < 0) {
				freeaddrinfo(res);
				return -EINVAL;
			}
		}
		freeaddrinfo(res);
		return 0;
	}
	if (slash) {
		if (parse_num(slash + 1, slash + strlen(slash), 0,
			      family == AF_INET ? 32 : 128, &plen) < 0)
			return parse_fail(err, errlen, "invalid prefix length in '%s' (0-%d)", s,
					  family == AF_INET ? 32 : 128);
	} else {
		plen = family == AF_INET ? 32 : 128;
	}
	return add_addr(al, family, addr, (unsigned)plen, err, errlen);
}

int sel_parse_proto(const char *s, struct selection *sel, char *err, size_t errlen)
{
	static const struct { const char *name; uint8_t num; } names[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
		{ "icmpv6", IPPROTO_ICMPV6 }, { "ipv6-icmp", IPPROTO_ICMPV6 },
		{ "sctp", IPPROTO_SCTP }, { "udplite", IPPROTO_UDPLITE },
		{ "dccp", IPPROTO_DCCP }, { "gre", IPPROTO_GRE }, { "esp", IPPROTO_ESP },
		{ "ah", IPPROTO_AH },
	};
	const char *p = s;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		long num = -1;

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
				num = names[i].num;
		if (num < 0 && parse_num(p, p + len, 1, 255, &num) < 0)
			return parse_fail(err, errlen, "unknown protocol '%.*s'", (int)len, p);
		if (sel->nprotos >= SEL_MAX_PROTOS)
			return parse_fail(err, errlen, "too many protocols (at most %d)", SEL_MAX_PROTOS);
		sel->protos[sel->nprotos++] = (uint8_t)num;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (sel->nprotos == 0)
		return parse_fail(err, errlen, "empty protocol list");
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int ret = parse_uint(s, 0, 0, UINT32_MAX, &v);

	*out = (uint32_t)v;
	return ret;
}

int sel_parse_mark(const char *s, struct selection *sel, char *err, size_t errlen)
{
	char buf[64];
	char *slash;

	if (strlen(s) >= sizeof(buf))
		return parse_fail(err, errlen, "invalid mark '%s'", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	sel->mark_mask = UINT32_MAX;
	if (parse_u32(buf, &sel->mark) < 0 || (slash && parse_u32(slash, &sel->mark_mask) < 0))
		return parse_fail(err, errlen, "invalid mark '%s' (VALUE[/MASK])", s);
	sel->has_mark = true;
	return 0;
}

int sel_parse_limit(const char *s, struct selection *sel, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	long n, unit;

	if (!slash || parse_num(s, slash, 1, 1000000, &n) < 0)
		return parse_fail(err, errlen, "invalid rate '%s' (N/s, N/min or N/hour)", s);
	if (strcmp(slash + 1, "s") == 0 || strcmp(slash + 1, "second") == 0)
		unit = 1;
	else if (strcmp(slash + 1, "min") == 0 || strcmp(slash + 1, "minute") == 0)
		unit = 60;
	else if (strcmp(slash + 1, "hour") == 0 || strcmp(slash + 1, "h") == 0)
		unit = 3600;
	else
		return parse_fail(err, errlen, "invalid rate '%s' (N/s, N/min or N/hour)", s);
	/* Kept in the unit given: both limit matches take it, and 10/min is not 1/s. */
	sel->limit = (uint32_t)n;
	sel->limit_unit = (uint32_t)unit;
	return 0;
}

bool sel_limit_fits_xt(const struct selection *sel)
{
	return (uint64_t)sel->limit <= (uint64_t)XT_LIMIT_SCALE * sel->limit_unit;
}

static unsigned list_families(const struct addr_list *al)
{
	unsigned f = 0;

	for (size_t i = 0; i < al->n; i++)
		f |= al->a[i].family == AF_INET ? SEL_IPV4 : SEL_IPV6;
	return f;
}

int selection_finish(struct selection *sel, unsigned want, char *err, size_t errlen)
{
	unsigned fam = want ? want : SEL_IPV4 | SEL_IPV6;
	const struct addr_list *lists[] = { &sel->src, &sel->dst, &sel->host };

	for (size_t i = 0; i < 3; i++) {
		unsigned lf = list_families(lists[i]);

		if (!lf)
			continue;
		if (!(lf & fam))
			return parse_fail(err, errlen, "%s given with an %s address",
					  want == SEL_IPV4 ? "-4" : "-6",
					  want == SEL_IPV4 ? "IPv6" : "IPv4");
		fam &= lf;
	}
	for (size_t i = 0; i < sel->nprotos; i++) {
		if (sel->protos[i] == IPPROTO_ICMP && !(fam & SEL_IPV4) && sel->nprotos == 1)
			return parse_fail(err, errlen, "icmp is IPv4 only (use icmpv6)");
		if (sel->protos[i] == IPPROTO_ICMPV6 && !(fam & SEL_IPV6) && sel->nprotos == 1)
			return parse_fail(err, errlen, "icmpv6 is IPv6 only (use icmp)");
	}
	if (sel->nprotos == 1 && sel->protos[0] == IPPROTO_ICMP)
		fam &= SEL_IPV4;
	if (sel->nprotos == 1 && sel->protos[0] == IPPROTO_ICMPV6)
		fam &= SEL_IPV6;
	if (selection_uses_ports(sel) && sel->nprotos) {
		for (size_t i = 0; i < sel->nprotos; i++) {
			uint8_t p = sel->protos[i];

			if (p != IPPROTO_TCP && p != IPPROTO_UDP && p != IPPROTO_SCTP &&
			    p != IPPROTO_UDPLITE && p != IPPROTO_DCCP)
				return parse_fail(err, errlen, "port selectors need tcp, udp, sctp, udplite or dccp, not '%s'",
						  pkt_proto_name(p) ? pkt_proto_name(p) : "that protocol");
		}
	}
	sel->families = fam;
	return 0;
}

size_t selection_addr_pairs(const struct selection *sel)
{
	if (sel->host.n)
		return 2 * sel->host.n;
	return (sel->src.n ? sel->src.n : 1) * (sel->dst.n ? sel->dst.n : 1);
}

void selection_addr_pair(const struct selection *sel, size_t i, const struct addr_prefix **src,
			 const struct addr_prefix **dst)
{
	size_t nd = sel->dst.n ? sel->dst.n : 1;

	*src = *dst = NULL;
	if (sel->host.n) {
		if (i < sel->host.n)
			*src = &sel->host.a[i];
		else
			*dst = &sel->host.a[i - sel->host.n];
		return;
	}
	if (sel->src.n)
		*src = &sel->src.a[i / nd];
	if (sel->dst.n)
		*dst = &sel->dst.a[i % nd];
}

bool selection_uses_ports(const struct selection *sel)
{
	return sel->ports.n || sel->sports.n || sel->dports.n;
}

size_t selection_protos(const struct selection *sel, const uint8_t **protos)
{
	static const uint8_t port_protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	if (!sel->nprotos && selection_uses_ports(sel)) {
		*protos = port_protos;
		return 2;
	}
	*protos = sel->protos;
	return sel->nprotos;
}

bool proto_fits_family(uint8_t proto, int family)
{
	if (proto == IPPROTO_ICMP)
		return family != AF_INET6;
	if (proto == IPPROTO_ICMPV6)
		return family != AF_INET;
	return true;
}

void addr_prefix_mask(unsigned plen, uint8_t *mask, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;

		mask[i] = (uint8_t)(0xff00 >> keep);
	}
}

bool addr_prefix_match(const struct addr_prefix *p, int family, const struct in6_addr *a)
{
	uint8_t mask[16];

	if (p->family != family)
		return false;
	addr_prefix_mask(p->plen, mask, family == AF_INET ? 4 : 16);
	for (unsigned i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		if ((p->addr.s6_addr[i] ^ a->s6_addr[i]) & mask[i])
			return false;
	return true;
}

static bool addr_in(const struct addr_list *l, int family, const struct in6_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (addr_prefix_match(&l->a[i], family, a))
			return true;
	return false;
}

static bool port_in(const struct port_list *l, uint16_t p)
{
	for (size_t i = 0; i < l->n; i++)
		if (p >= l->r[i].lo && p <= l->r[i].hi)
			return true;
	return false;
}

bool selection_match(const struct selection *sel, const struct sel_tuple *t)
{
	unsigned fam = t->family == AF_INET ? SEL_IPV4 : t->family == AF_INET6 ? SEL_IPV6 : 0;
	const uint8_t *protos;
	size_t nprotos = selection_protos(sel, &protos);
	bool ok = !nprotos;

	if (!fam || (sel->families && !(sel->families & fam)))
		return false;
	for (size_t i = 0; i < nprotos; i++)
		ok |= protos[i] == t->proto;
	if (!ok)
		return false;
	if (selection_uses_ports(sel)) {
		if (!t->has_ports)
			return false;
		if (sel->ports.n && !port_in(&sel->ports, t->sport) && !port_in(&sel->ports, t->dport))
			return false;
		if (sel->sports.n && !port_in(&sel->sports, t->sport))
			return false;
		if (sel->dports.n && !port_in(&sel->dports, t->dport))
			return false;
	}
	if (sel->src.n && !addr_in(&sel->src, t->family, t->src))
		return false;
	if (sel->dst.n && !addr_in(&sel->dst, t->family, t->dst))
		return false;
	return !sel->host.n || addr_in(&sel->host, t->family, t->src) ||
	       addr_in(&sel->host, t->family, t->dst);
}

bool selection_empty(const struct selection *sel)
{
	return !selection_uses_ports(sel) && !sel->src.n && !sel->dst.n && !sel->host.n &&
	       !sel->nprotos && !sel->iface[0] && !sel->has_mark;
}

static size_t put(char *buf, size_t size, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= size)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, size - off, fmt, ap);
	va_end(ap);
	return n < 0 ? off : off + (size_t)n;
}

static size_t put_ports(char *buf, size_t size, size_t off, const char *what,
			const struct port_list *pl)
{
	if (!pl->n)
		return off;
	off = put(buf, size, off, "%s%s ", off ? ", " : "", what);
	for (size_t i = 0; i < pl->n; i++) {
		if (pl->r[i].lo == pl->r[i].hi)
			off = put(buf, size, off, "%s%u", i ? "," : "", pl->r[i].lo);
		else
			off = put(buf, size, off, "%s%u-%u", i ? "," : "", pl->r[i].lo, pl->r[i].hi);
	}
	return off;
}

static size_t put_addrs(char *buf, size_t size, size_t off, const char *what,
			const struct addr_list *al)
{
	char a[INET6_ADDRSTRLEN];

	if (!al->n)
		return off;
	off = put(buf, size, off, "%s%s ", off ? ", " : "", what);
	for (size_t i = 0; i < al->n; i++) {
		inet_ntop(al->a[i].family, &al->a[i].addr, a, sizeof(a));
		off = put(buf, size, off, "%s%s/%u", i ? "," : "", a, al->a[i].plen);
	}
	return off;
}

char *selection_describe(const struct selection *sel, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	if (sel->nprotos) {
		off = put(buf, size, off, "proto ");
		for (size_t i = 0; i < sel->nprotos; i++) {
			const char *n = pkt_proto_name(sel->protos[i]);

			off = n ? put(buf, size, off, "%s%s", i ? "," : "", n)
				: put(buf, size, off, "%s%u", i ? "," : "", sel->protos[i]);
		}
	}
	off = put_ports(buf, size, off, "port", &sel->ports);
	off = put_ports(buf, size, off, "sport", &sel->sports);
	off = put_ports(buf, size, off, "dport", &sel->dports);
	off = put_addrs(buf, size, off, "src", &sel->src);
	off = put_addrs(buf, size, off, "dst", &sel->dst);
	off = put_addrs(buf, size, off, "host", &sel->host);
	if (sel->iface[0])
		off = put(buf, size, off, "%siface %s", off ? ", " : "", sel->iface);
	if (sel->has_mark)
		off = put(buf, size, off, "%smark 0x%x/0x%x", off ? ", " : "", sel->mark,
			  sel->mark_mask);
	if (sel->limit)
		put(buf, size, off, "%slimit %u/%s", off ? ", " : "", sel->limit,
		    sel->limit_unit == 3600 ? "hour" : sel->limit_unit == 60 ? "min" : "s");
	return buf;
}
