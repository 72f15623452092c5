/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtblob.h: a legacy table's GET_ENTRIES blob → chains of rule identities, verdicts, evidence */
#ifndef IPTRACE_XTBLOB_H
#define IPTRACE_XTBLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "iptrace/record.h"

/*
 * One version of one table, as IPT_SO_GET_ENTRIES / IP6T_SO_GET_ENTRIES returned it, cut
 * into chains the way the kernel's trace numbers them (ip_tables.c get_chainname_rulenum():
 * a base chain counts from its hook entry, a user chain from the entry after its ERROR head;
 * the chain's last entry, its policy or RETURN, is number n+1).
 *
 * Each rule has an identity: a 64-bit hash of its entry with the counters, comefrom and
 * nfcache cleared and a jump's offset replaced by the target chain's name, so the same rule
 * has the same identity in every version however the rules around it moved. Two versions
 * hold "the same rule at (chain, n)" when the identities there are equal.
 *
 * Evidence: for chains the caller asks for (@want), each rule also keeps what a packet must
 * look like to match it — its ip part (addresses, masks, protocol, fragment flag) and a
 * tcp/udp match's ports and TCP flags — so that a version whose rule cannot have matched the
 * packet of a trace record is ruled out (xtstep_fits()). Interfaces are not kept: a record
 * names them from the ifindex at receive time, which is evidence we could get wrong.
 */

/* What GET_INFO said of the table (ipt_getinfo / ip6t_getinfo). */
struct xtblob_info {
	int		family;		/* AF_INET, AF_INET6 */
	char		name[TRACE_NAME_MAX];
	uint32_t	valid_hooks;
	uint32_t	hook_entry[5], underflow[5];
	uint32_t	num_entries, size;
};

struct xt_evidence {
	uint8_t		family;
	uint8_t		invflags, flags;	/* ipt_ip / ip6t_ip6 */
	uint16_t	proto;
	uint8_t		src[16], dst[16], smsk[16], dmsk[16];
	uint8_t		l4proto;		/* IPPROTO_TCP/UDP when ports are kept, else 0 */
	uint8_t		l4inv;			/* XT_{TCP,UDP}_INV_SRCPT/DSTPT/FLAGS */
	uint8_t		flg_mask, flg_cmp;
	uint16_t	spts[2], dpts[2];
};

enum xt_verdict_kind {
	XTV_STANDARD,		/* ACCEPT, DROP, QUEUE, RETURN */
	XTV_JUMP,
	XTV_GOTO,
	XTV_FALLTHROUGH,	/* no target: the next rule ("continue") */
	XTV_EXTENSION,		/* a target module: DNAT, MARK, LOG, ... */
};

/* 16 bytes a rule: an 80k-rule table is 1.3 MiB of these per version. */
struct xt_rule {
	uint64_t	id;
	union {
		int32_t		verdict;	/* XTV_STANDARD: the kernel's (negative) verdict */
		uint32_t	target;		/* JUMP/GOTO: chain index; EXTENSION: name index */
	};
	uint8_t		kind;		/* enum xt_verdict_kind */
	bool		uncond;		/* no match, empty ip part: traced as policy/return */
};

struct xt_chain {
	const char	*name;
	int8_t		hook;		/* base chain: its hook; -1 for a user chain */
	uint32_t	n;		/* rules, the chain's end (policy/RETURN) not counted */
	struct xt_rule	*rules;		/* n + 1: the end last */
	struct xt_evidence *ev;		/* wanted chains: n + 1, else NULL */
};

/* Opaque: one parsed version. */
struct xtversion;

/*
 * xtversion_parse - cut @size bytes of @entries (GET_ENTRIES' entrytable, as the kernel
 * wrote it into a zeroed buffer) into a version. @want(ctx, chain) says which chains keep
 * evidence (NULL: none). Returns 0 and *@out, or -EINVAL when the blob is not a table
 * iptables could have written, -ENOMEM. Free with xtversion_free().
 */
int xtversion_parse(const struct xtblob_info *info, const void *entries, size_t size,
		    bool (*want)(void *ctx, const char *chain), void *ctx,
		    struct xtversion **out);
void xtversion_free(struct xtversion *v);

/*
 * The same parse fed as the blob is written: xtparse_feed() reads the entries that lie
 * whole below @upto bytes of @entries (the same base every call) and never looks below
 * xtparse_done() again, so a caller may drop those bytes; xtparse_end() checks the whole
 * table was fed and gives the version (0), or -EINVAL / -ENOMEM; it frees @p either way.
 * xtparse_feed() returns 0 or the first error.
 */
struct xtparse;
struct xtparse *xtparse_new(const struct xtblob_info *info,
			    bool (*want)(void *ctx, const char *chain), void *ctx);
int xtparse_feed(struct xtparse *p, const void *entries, size_t upto);
size_t xtparse_done(const struct xtparse *p);
int xtparse_end(struct xtparse *p, struct xtversion **out);
void xtparse_free(struct xtparse *p);

/* xtversion_fp - the version's fingerprint: equal fingerprints, equal rules everywhere. */
uint64_t xtversion_fp(const struct xtversion *v);
uint32_t xtversion_rules(const struct xtversion *v);	/* entries that are rules */

/* xtversion_chain - the chain named @name, NULL if none. Borrowed from @v. */
const struct xt_chain *xtversion_chain(const struct xtversion *v, const char *name);
/* xtversion_chain_at - chain @i (0 .. xtversion_nchains() - 1), in blob order. */
const struct xt_chain *xtversion_chain_at(const struct xtversion *v, uint32_t i);
uint32_t xtversion_nchains(const struct xtversion *v);
/* xtversion_target_name - an extension target's name (struct xt_rule.target). */
const char *xtversion_target_name(const struct xtversion *v, uint32_t i);

/*
 * xtversion_step - the rule a trace record (@kind, @num in @chain) names in @v, as the
 * kernel numbers and labels it: NULL when @v cannot have produced that record (no such
 * chain or number; "rule" at an unconditional standard rule, which the kernel labels
 * policy/return; policy in a user chain, return in a base chain). *@ev: the rule's evidence,
 * NULL when its chain was not wanted.
 */
const struct xt_rule *xtversion_step(const struct xtversion *v, const char *chain,
				     enum trace_kind kind, uint32_t num,
				     const struct xt_evidence **ev);

/*
 * xtversion_verdict - the step's verdict as the sinks print it ("ACCEPT", "jump C",
 * "goto C", "continue", "DNAT", ...) into @buf, and whether the packet goes on in the chain
 * (*@cont: MARK, LOG, ... and fallthrough). Returns @buf.
 */
const char *xtversion_verdict(const struct xtversion *v, const struct xt_rule *r, char *buf,
			      size_t size, bool *cont);

/* xtversion_jump_chain - a JUMP/GOTO rule's target chain name, NULL for other rules. */
const char *xtversion_jump_chain(const struct xtversion *v, const struct xt_rule *r);

/*
 * xtstep_fits - false when the rule whose evidence is @ev cannot have matched the packet
 * @pkt (a record's header, as it was when the rule matched): addresses, protocol, fragment,
 * tcp/udp ports and TCP flags, each with its inversion. True when it can, or when there is
 * no evidence to say (@ev NULL, another family).
 */
bool xtstep_fits(const struct xt_evidence *ev, const struct pkt_hdr *pkt);

#endif
