/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nfhook.h: the kernel's own order of the functions at each hook (nfnetlink_hook) */
#ifndef IPTRACE_NFHOOK_H
#define IPTRACE_NFHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "iptrace/record.h"

/*
 * One entry of an NFNL_MSG_HOOK_GET dump (net/netfilter/nfnetlink_hook.c): one function
 * registered at a hook, the dump listing them in the order the kernel runs them.
 */
struct nfhook_entry {
	uint8_t		family;		/* the hook's: NFPROTO_IPV4, NFPROTO_IPV6... */
	uint32_t	hooknum;	/* NF_INET_PRE_ROUTING... */
	int32_t		prio;
	char		func[64];	/* NFNLA_HOOK_FUNCTION_NAME, cut; "" without kallsyms */
	bool		nft;		/* an nf_tables base chain (NFNLA_HOOK_CHAIN_INFO) */
	uint8_t		chain_family;	/* its table's family (NFPROTO_INET...) */
	char		table[TRACE_NFT_NAME_MAX];	/* whole, as trace records carry them */
	char		chain[TRACE_NFT_NAME_MAX];
};

/*
 * nfhook_decode - one NFNL_SUBSYS_HOOK message into @e (pure). Returns 0; -ENOMSG for a
 * message of another kind (NLMSG_DONE, another subsystem); -EINVAL when malformed or without
 * NFNLA_HOOK_HOOKNUM or NFNLA_HOOK_PRIORITY. Chain info of a type other than nf_tables (BPF
 * programs, flowtables on newer kernels) leaves e->nft false.
 */
int nfhook_decode(const struct nlmsghdr *nlh, struct nfhook_entry *e);

/*
 * The hooks' order as the kernel reported it. Opaque; nfhook_order_new() gives an empty
 * one (nothing known), freed with nfhook_order_free().
 */
struct nfhook_order;

struct nfhook_order *nfhook_order_new(void);
void nfhook_order_free(struct nfhook_order *o);

/* nfhook_order_clear - forget every entry (before a new load). */
void nfhook_order_clear(struct nfhook_order *o);

/*
 * nfhook_order_add - append @e: entries of one (family, hook) must come in dump order.
 * Returns 0 or -ENOMEM.
 */
int nfhook_order_add(struct nfhook_order *o, const struct nfhook_entry *e);

/* nfhook_order_known - true once a load (or a test) gave at least one entry. */
bool nfhook_order_known(const struct nfhook_order *o);

/*
 * nfhook_order_legacy_pos - where the legacy (ip_tables/ip6_tables) table of priority @prio
 * runs among the nf_tables base chains of the tables @tables[0..@k) (family @fams[i]), all
 * at the same @hook and @prio of the packet's @family (NFPROTO_IPV4/IPV6): how many of
 * those tables run before it. -1 when the order doesn't tell (nothing loaded, a table or
 * the legacy table not found, as for nat, whose chains hang off one nf_nat entry).
 */
int nfhook_order_legacy_pos(const struct nfhook_order *o, uint8_t family, int hook, int32_t prio,
			    const char *const *tables, const uint8_t *fams, size_t k);

/*
 * nfhook_order_load - dump the hooks of NFPROTO_IPV4 and NFPROTO_IPV6 in the current network
 * namespace into @o (cleared first). Returns 0; -EOPNOTSUPP when the kernel has no
 * nfnetlink_hook (it answers an unknown subsystem with EINVAL or EOPNOTSUPP: @o stays
 * empty), or another negative errno.
 */
int nfhook_order_load(struct nfhook_order *o);

/*
 * nfhook_event_moves - true for a ruleset event that can change a hook's order: a base
 * chain added or deleted (NEWCHAIN/DELCHAIN with NFTA_CHAIN_HOOK), a table added, deleted or
 * made dormant (NEWTABLE/DELTABLE). Pure.
 */
bool nfhook_event_moves(const struct nlmsghdr *nlh);

#endif
