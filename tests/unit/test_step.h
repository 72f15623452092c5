/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_step.h: the trace steps the unit tests build by hand (include after <cmocka.h>) */
#ifndef IPTRACE_TEST_STEP_H
#define IPTRACE_TEST_STEP_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "iptrace/record.h"

/*
 * step_rule - @r zeroed, then a legacy rule step of @table/@chain (pointed at: they must
 * outlive @r, as literals do) at @hook (enum trace_hook). Each test sets the rest: what it
 * is about.
 */
static inline void step_rule(struct trace_record *r, const char *table, const char *chain,
			     int hook)
{
	memset(r, 0, sizeof(*r));
	r->backend = TRACE_BACKEND_LEGACY;
	r->kind = TRACE_KIND_RULE;
	r->hook = (int8_t)hook;
	r->table = table;
	r->chain = chain;
	r->verdict_chain = "";
}

/* hdr_v4 - @h is IPv4 from @src to @dst (dotted quads; the addresses' other bytes zero). */
static inline void hdr_v4(struct pkt_hdr *h, const char *src, const char *dst)
{
	h->family = AF_INET;
	memset(&h->saddr, 0, sizeof(h->saddr));
	memset(&h->daddr, 0, sizeof(h->daddr));
	assert_int_equal(inet_pton(AF_INET, src, &h->saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &h->daddr), 1);
}

/* hdr_udp - @h carries UDP from port @sport to @dport. */
static inline void hdr_udp(struct pkt_hdr *h, uint16_t sport, uint16_t dport)
{
	h->proto = IPPROTO_UDP;
	h->has_ports = true;
	h->sport = sport;
	h->dport = dport;
}

#endif
