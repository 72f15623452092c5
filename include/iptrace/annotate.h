/* SPDX-License-Identifier: GPL-2.0-or-later */
/* annotate.h: what a whole packet's steps say together — where NAT happened, where a trace stopped */
#ifndef IPTRACE_ANNOTATE_H
#define IPTRACE_ANNOTATE_H

#include <stdbool.h>
#include <stddef.h>
#include "iptrace/ct.h"
#include "iptrace/grouper.h"

/* A set of hooks (enum trace_hook) as bits. */
#define HOOK_BIT(h)	(1u << (h))

/*
 * annotate_nat - the changes of addresses or ports between consecutive steps of @p, each
 * placed on the step where the kernel made it (struct packet_nat), into @out (at most @max,
 * the rest are left out). A change belongs to the NAT rule that chose it (a legacy DNAT,
 * SNAT, MASQUERADE, REDIRECT or NETMAP verdict; an nft rule whose text has dnat, snat,
 * masquerade or redirect) when one is on the path in the hook where NAT of that kind runs;
 * without one, conntrack did it (nf_nat_packet(): destinations in PREROUTING and OUTPUT,
 * sources in POSTROUTING and INPUT, also for a reply and for later packets of a NATed
 * connection, which never cross the nat table) after the last step before the change.
 * Where the resolvers gave no verdicts (--read, --replay), a step of a table named "nat" at
 * that hook, or the conntrack state nft records carry (new, original direction), says a
 * rule did it. Pure; call after the resolvers. Returns how many were written.
 */
size_t annotate_nat(const struct packet *p, struct packet_nat *out, size_t max);

/*
 * annotate_snat_last - true when @p's last step is a source NAT rule in POSTROUTING (legacy
 * SNAT or MASQUERADE, nft snat or masquerade): no step follows to show the new source, so
 * only conntrack's reply tuple can tell it. Pure, no I/O.
 */
bool annotate_snat_last(const struct packet *p);

/*
 * annotate_snat - into @after, @last's headers with the source the conntrack entry @e maps
 * them to (its reply tuple's destination, and port or ICMP id). Returns true when that
 * differs from @last's source.
 */
bool annotate_snat(const struct pkt_hdr *last, const struct ct_entry *e, struct pkt_hdr *after);

/*
 * annotate_table_hooks - the hooks (HOOK_BIT()s) where the legacy table @table reports every
 * packet of its family that crosses them: raw, mangle, filter, security. 0 for nat (only a
 * connection's first packet crosses it) and for unknown names.
 */
unsigned annotate_table_hooks(const char *table);

/*
 * annotate_ended - a hint when @p's trace stopped before the packet's last hook: its last
 * step lets it go on (no drop, reject, queue or stolen verdict) in PREROUTING, and both
 * INPUT and FORWARD are in @reporting (the hooks where a chain reports every packet of the
 * family: a routed packet would have shown there); or in OUTPUT with POSTROUTING in
 * @reporting. A static string, or NULL when the trace ended where it should or nothing
 * would have shown the packet later.
 */
const char *annotate_ended(const struct packet *p, unsigned reporting);

#endif
