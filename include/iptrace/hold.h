/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hold.h: complete packets wait here, in order, until their rule texts are answered or a bound passes */
#ifndef IPTRACE_HOLD_H
#define IPTRACE_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "iptrace/grouper.h"

/*
 * Printing may wait for rule text; receiving, decoding and grouping never do. A complete
 * packet (or one --no-group record) whose steps a rule resolver still has to answer is
 * copied here, behind the packets held before it. The two resolvers say what they wait for
 * in their own way: the legacy table reader (resolver.h) counts its questions with
 * hold_expect() and hold_answered(); the nft rule cache (nftrule.h) is asked, through
 * hold_cfg.busy, whether a chain listing the packet needs is still running. A packet leaves
 * when nothing is left to wait for, or when its bound (hold_cfg.wait_ns after it came)
 * passed, whichever is first, and never before the packets held before it.
 */
struct hold_cfg {
	uint64_t	wait_ns;	/* the bound on a packet's wait; 0: HOLD_WAIT_NS */
	/*
	 * busy - true while a step of @p, complete at @since_ns, waits for something the
	 * queue does not count (it may start what it waits for). Asked of the oldest packet
	 * only, before its bound. NULL: nothing.
	 */
	bool		(*busy)(void *ctx, const struct packet *p, uint64_t since_ns);
	/*
	 * emit - @p leaves (@single: one --no-group record): its steps carry the answers
	 * that came; they and the strings hold_keep() made live until emit returns. Called
	 * for every packet, also after a failure: it decides what a failure means for the
	 * rest (e.g. counting them as dropped). A negative value is returned by
	 * hold_release().
	 */
	int		(*emit)(void *ctx, const struct packet *p, bool single);
	void		*ctx;
};

#define HOLD_WAIT_NS	5000000000ull

/* Opaque. */
struct hold;

/* hold_new - an empty queue. NULL with errno. Free with hold_free() (held packets go). */
struct hold *hold_new(const struct hold_cfg *cfg);
void hold_free(struct hold *h);

/*
 * hold_add - a copy of @p (its steps) at the tail, complete at @now_ns (the records' clock:
 * its bound is @now_ns + wait_ns). Its steps are numbered: step i has id *@id + i, which
 * hold_step() and the others take; ids are never reused while the packet is held. 0 or
 * -ENOMEM.
 */
int hold_add(struct hold *h, const struct packet *p, bool single, uint64_t now_ns,
	     uint32_t *id);

/*
 * hold_step - the held copy of step @id (writable), or NULL once its packet left. A
 * packet's steps lie in a row: from its first id's step, step i is at [i].
 */
struct trace_record *hold_step(struct hold *h, uint32_t id);

/* hold_expect - step @id's packet waits for one more answer (hold_answered()). */
void hold_expect(struct hold *h, uint32_t id);

/* hold_answered - an answer hold_expect() announced for step @id came. */
void hold_answered(struct hold *h, uint32_t id);

/*
 * hold_keep - a copy of @s that lives as long as step @id's packet, for the answers
 * written into its steps. NULL when out of memory or the packet left.
 */
const char *hold_keep(struct hold *h, uint32_t id, const char *s);

/*
 * hold_release - emit the packets at the head that wait for nothing (or whose bound passed
 * at @now_ns; UINT64_MAX: all of them), in order. Returns 0 or emit's first negative value.
 */
int hold_release(struct hold *h, uint64_t now_ns);

/* hold_deadline - when the oldest packet's bound passes; UINT64_MAX if none is held. */
uint64_t hold_deadline(const struct hold *h);

/* hold_count - packets held. */
size_t hold_count(const struct hold *h);

#endif
