/* SPDX-License-Identifier: GPL-2.0-or-later */
/* selector.h: what to mark — one description built from the options, read by the markers */
#ifndef IPTRACE_SELECTOR_H
#define IPTRACE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define SEL_MAX_PORTS	15	/* xt_multiport's limit: a range takes two slots */
#define SEL_MAX_ADDRS	8
#define SEL_MAX_PROTOS	8

#define SEL_IPV4	0x1
#define SEL_IPV6	0x2

struct port_range {
	uint16_t lo, hi;
};

struct port_list {
	size_t			n;
	struct port_range	r[SEL_MAX_PORTS];
};

struct addr_prefix {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned	plen;
	struct in6_addr	addr;		/* IPv4 in the first 4 bytes */
};

struct addr_list {
	size_t			n;
	struct addr_prefix	a[SEL_MAX_ADDRS];
};

/*
 * A selection: different fields combine with AND, items of one list with OR.
 * Empty lists match anything.
 */
struct selection {
	unsigned		families;	/* SEL_IPV4 | SEL_IPV6 after selection_finish() */
	struct port_list	ports;		/* either side */
	struct port_list	sports, dports;
	struct addr_list	src, dst, host;	/* host: either side */
	size_t			nprotos;
	uint8_t			protos[SEL_MAX_PROTOS];
	char			iface[16];
	bool			has_mark;
	uint32_t		mark, mark_mask;
	uint32_t		limit;		/* --limit: packets per limit_unit seconds, 0: none */
	uint32_t		limit_unit;	/* 1, 60 or 3600 */
};

/* parse_fail - @fmt into @err (size @errlen), the parsers' one-line reason. Returns -EINVAL. */
int parse_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * parse_uint - @s as a whole unsigned number in [@min, @max], in @base as strtoull() takes
 * it (0: 0x... and 0... too), digits only: no sign, no space. Returns 0 or -EINVAL.
 */
int parse_uint(const char *s, int base, uint64_t min, uint64_t max, uint64_t *out);

/* Each parser: returns 0, or -EINVAL with a one-line reason in @err (size @errlen). */
int sel_parse_ports(const char *s, struct port_list *pl, char *err, size_t errlen);
/* Numeric addresses only (inet_pton); names are resolved by sel_parse_addr_resolve(). */
int sel_parse_addr(const char *s, struct addr_list *al, char *err, size_t errlen);
int sel_parse_proto(const char *s, struct selection *sel, char *err, size_t errlen);
int sel_parse_mark(const char *s, struct selection *sel, char *err, size_t errlen);
int sel_parse_limit(const char *s, struct selection *sel, char *err, size_t errlen);

/*
 * sel_limit_fits_xt - whether the legacy marker's limit match can hold @sel's --limit (true
 * without one). xt_limit counts in 1/10000 s: a rate above 10000/s would be no limit at all.
 */
bool sel_limit_fits_xt(const struct selection *sel);

/*
 * selection_finish - work out the families from the addresses and protocols, restricted
 * by @want_families (0: both). Returns 0 or -EINVAL with a reason (e.g. -4 and an IPv6
 * address, or selectors that no family can satisfy).
 */
int selection_finish(struct selection *sel, unsigned want_families, char *err, size_t errlen);

/* selection_empty - true when no selector at all was given. */
bool selection_empty(const struct selection *sel);

/*
 * The address pairs a marker writes one rule each for, in order: with --host A (either
 * side), a rule with src A then one with dst A per address; otherwise every src × dst (an
 * empty list is one "any", NULL). selection_addr_pairs() counts them (at least 1);
 * selection_addr_pair() gives pair @i's source and destination prefixes (NULL: any).
 */
size_t selection_addr_pairs(const struct selection *sel);
void selection_addr_pair(const struct selection *sel, size_t i, const struct addr_prefix **src,
			 const struct addr_prefix **dst);

/* selection_uses_ports - true when a port selector is set (rules then need tcp/udp). */
bool selection_uses_ports(const struct selection *sel);

/*
 * selection_protos - the protocols a rule is written for, into *@protos (borrowed, static
 * or @sel's): --proto's list, or TCP and UDP when only ports were given (a port needs a
 * protocol). Returns how many; 0 means any protocol.
 */
size_t selection_protos(const struct selection *sel, const uint8_t **protos);

/* proto_fits_family - false for ICMP in IPv6 or ICMPv6 in IPv4; @family 0 is both. */
bool proto_fits_family(uint8_t proto, int family);

/* addr_prefix_mask - the netmask of a /@plen prefix, @bytes long (4 or 16), into @mask. */
void addr_prefix_mask(unsigned plen, uint8_t *mask, unsigned bytes);

/* addr_prefix_match - true when @a, of @family, is inside the prefix @p. */
bool addr_prefix_match(const struct addr_prefix *p, int family, const struct in6_addr *a);

/* The headers selection_match() looks at: a traced packet's at one step, or a conntrack tuple. */
struct sel_tuple {
	int			family;		/* AF_INET, AF_INET6; anything else never passes */
	uint8_t			proto;
	bool			has_ports;
	uint16_t		sport, dport;
	const struct in6_addr	*src, *dst;
};

/*
 * selection_match - true when @t passes @sel (finished by selection_finish()): its families,
 * protocols (a bare port selector means TCP and UDP, as in the rules), ports and addresses.
 * --iface, --mark and --limit are the caller's: a tuple doesn't carry them.
 */
bool selection_match(const struct selection *sel, const struct sel_tuple *t);

/*
 * selection_describe - a short human description ("udp or tcp port 53, dst 10.0.0.1") into
 * @buf. Returns @buf.
 */
char *selection_describe(const struct selection *sel, char *buf, size_t size);

#endif
