/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nftlist.h: nft chain listings run in a child process, their texts read back by the poll loop */
#ifndef IPTRACE_NFTLIST_H
#define IPTRACE_NFTLIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * Listing a chain of 10,000 rules takes libnftables about 0.4 s and 34 MB (it builds every
 * rule as expressions): in the receive loop that would stall the capture, and in iptrace's
 * heap it would stay. A child process does it, one at a time, for the chains asked for
 * since the last one started; its texts come back over a socket (nftlist_fd()) that the
 * loop reads as any other source, and each completed text goes to the caller's callback.
 *
 * For each chain the child asks "list chain FAMILY TABLE CHAIN" with handles and without
 * counter values (NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS), which dumps that
 * chain's rules alone, and the table's handle (NFT_MSG_GETTABLE: `list chain` does not
 * print it), between two NFT_MSG_GETGEN requests that must agree (three tries).
 */

/* A listing's answer, borrowed for the callback; the callback may take @text. */
struct nftlist_answer {
	uint8_t		family;		/* NFPROTO_* */
	const char	*table, *chain;
	/*
	 * 0; -ENOENT: no such table or chain; -EINVAL: a name nft can't be asked for;
	 * -EAGAIN: the ruleset kept changing; another negative errno: the child failed.
	 */
	int		err;
	/* The generation the text shows (with -ENOENT: the generation then). */
	uint32_t	gen;
	/*
	 * `nft -a -s list chain` output with "# handle N" added to the table's header line,
	 * malloc'd, NUL-terminated; NULL unless err is 0. Set it to NULL to keep it.
	 */
	char		*text;
};

typedef void (*nftlist_done_fn)(void *ctx, struct nftlist_answer *a);

/* Opaque. */
struct nftlist;

/*
 * nftlist_new - the socket the texts come back on and a netlink socket for
 * nftlist_gen(), in the current network namespace; every answer goes to @done(@ctx).
 * No child yet. NULL with errno. Free with nftlist_free(), which ends a running child.
 */
struct nftlist *nftlist_new(nftlist_done_fn done, void *ctx);
void nftlist_free(struct nftlist *l);

/* nftlist_fd - what the loop reads (a stream): hand its bytes to nftlist_feed(). */
int nftlist_fd(const struct nftlist *l);

/*
 * nftlist_start - list @chain of @table of @family: at once when no child runs, else by the
 * next one. The answer comes through the callback, never from inside this call. 0, or a
 * negative errno (then no answer comes: -EINVAL for a name nft can't be asked for).
 */
int nftlist_start(struct nftlist *l, uint8_t family, const char *table, const char *chain,
		  uint64_t now_ns);

/* nftlist_feed - bytes read from nftlist_fd(): each text it completes to the callback. */
void nftlist_feed(struct nftlist *l, const void *buf, size_t len, uint64_t now_ns);

/*
 * nftlist_tick - a child that died, or ran longer than NFTLIST_BOUND_NS (killed): what it
 * sent is taken, the chains it did not answer are answered with an error; then the next
 * child starts for the chains waiting. Call it when the loop wakes.
 */
void nftlist_tick(struct nftlist *l, uint64_t now_ns);
#define NFTLIST_BOUND_NS	10000000000ull

/* nftlist_gen - the current ruleset generation (NFTA_GEN_ID), asked here. 0 or -errno. */
int nftlist_gen(struct nftlist *l, uint32_t *gen);

#endif
