/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftrace.h: nf_tables trace records — the pure decoder, the chain map, and the socket */
#ifndef IPTRACE_NFTRACE_H
#define IPTRACE_NFTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "iptrace/record.h"

/*
 * nftrace_decode - decode one NFT_MSG_TRACE message into @rec (pure: no socket, no
 * globals). Interface names are left empty (ifindex_* only); rec->has_hdr says whether
 * the record carried the packet headers (only the first record of each base-chain
 * traversal does); raw[] and pkt hold them as far as they are known (a header the kernel
 * cut at 40 bytes stops there, a later IPv6 fragment has none). hook is HOOK_NONE and has_prio false: the chain map knows them.
 * Returns 0; -ENOMSG for a message that is not a trace record; -EINVAL when malformed or
 * when a required attribute (TABLE, CHAIN, TYPE, ID) is missing; -ENOMEM when @nm cannot
 * take a name. The names are interned in @nm (names.h): they live as long as it.
 */
int nftrace_decode(const struct nlmsghdr *nlh, struct names *nm, struct trace_record *rec);

/*
 * nftrace_chain_end - true for the "continue" record without a rule handle that ends each
 * chain: the kernel's bookkeeping, hidden like nft monitor trace hides it.
 */
bool nftrace_chain_end(const struct trace_record *rec);

/* nftrace_verdict_name - "accept", "drop", "jump", "goto", "return", "continue", ... */
const char *nftrace_verdict_name(int32_t verdict);

/*
 * nftrace_step_verdict - an nft step's verdict as nft monitor trace names it ("accept",
 * "jump KUBE-SERVICES", the policy for policy steps) into @buf; NULL when it has none.
 */
char *nftrace_step_verdict(const struct trace_record *r, char *buf, size_t size);

/* nftrace_family_name - "inet", "ip", "ip6", "arp", "bridge", "netdev" or NULL. */
const char *nftrace_family_name(uint8_t nfproto);

/*
 * The per-capture state the records themselves lack. Opaque; caller frees with
 * nftrace_ctx_free(). Not a decoder: it remembers what earlier messages said.
 * - the chain map: (table family, table, chain) -> hook and priority, learnt from
 *   NFT_MSG_NEWCHAIN messages (a dump at start, then ruleset events);
 * - per trace id, the headers, interfaces, hook and priority of the last traversal, which
 *   later records of the same traversal inherit.
 */
struct nftrace_ctx;

struct nftrace_ctx *nftrace_ctx_new(void);
void nftrace_ctx_free(struct nftrace_ctx *c);

/*
 * nftrace_ctx_learn - take in a NEWCHAIN/DELCHAIN/DELTABLE message (others are ignored).
 * Returns 0, or -EINVAL for a malformed chain message.
 */
int nftrace_ctx_learn(struct nftrace_ctx *c, const struct nlmsghdr *nlh);

/*
 * nftrace_ctx_fill - complete @rec from what earlier records of its trace id said: headers
 * and interfaces when it carried none, and the hook and priority of its base chain (a
 * regular chain inherits the base chain it was reached from). Call in arrival order, also
 * for records that are hidden afterwards.
 */
void nftrace_ctx_fill(struct nftrace_ctx *c, struct trace_record *rec);

/*
 * nftrace_ctx_hooks - the hooks (bit 1 << enum trace_hook) where a base chain of @family's
 * tables (AF_INET: ip and inet; AF_INET6: ip6 and inet) that is not of type nat would
 * report every traced packet crossing them, from the chain map. Walks the map after a
 * chain message changed it, then answers from what it found.
 */
unsigned nftrace_ctx_hooks(struct nftrace_ctx *c, int family);

/* Opaque: a netlink socket subscribed to NFNLGRP_NFTRACE (and ruleset events). */
struct nftrace_src;

/*
 * nftrace_src_open - open the socket, dump the chains (kept for nftrace_src_take_dump()),
 * then join NFNLGRP_NFTRACE and NFNLGRP_NFTABLES. @rcvbuf: receive buffer bytes (0: default).
 * NULL with errno. Close with nftrace_src_close().
 */
struct nftrace_src *nftrace_src_open(uint32_t rcvbuf);
void nftrace_src_close(struct nftrace_src *src);
int nftrace_src_fd(const struct nftrace_src *src);

/*
 * nftrace_src_take_dump - hand each buffer of the chain dump taken at open to @fn (in
 * order), then forget them. Returns 0 or the first negative value @fn returned.
 */
int nftrace_src_take_dump(struct nftrace_src *src,
			  int (*fn)(void *ctx, const void *buf, size_t len), void *ctx);

/*
 * nft_has_base_chains - true when the namespace has an nf_tables base chain (a chain on a
 * hook), by a chain dump: nothing is created. Returns 1, 0, or a negative errno.
 */
int nft_has_base_chains(void);

#endif
