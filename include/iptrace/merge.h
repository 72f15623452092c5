/* SPDX-License-Identifier: GPL-2.0-or-later */
/* merge.h: --merge — the JSON outputs of several nodes joined into one packet per packet */
#ifndef IPTRACE_MERGE_H
#define IPTRACE_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "iptrace/grouper.h"
#include "iptrace/sink.h"

/*
 * What is one packet (iptrace(8), MERGING NODES). Each packet object of the input is one
 * node's view of a packet: a part. Part Y continues part X when
 * - they are of different nodes (X's last step's, Y's first step's);
 * - what routing leaves alone is equal: family, protocol, length, IPv4 ID, payload_hash
 *   (both absent counts as equal), and the addresses and ports X had at its last step are
 *   the ones Y had at its first (NAT on X shows in X's steps; tunnels between them are
 *   seen through, as the receiving node traces the decapsulated packet as its own);
 * - both have times, and Y's first is within the skew of X's last, either way;
 * - X did not end delivered (input hook) and Y did not start as sent from its node
 *   (output hook), where the steps say their hooks;
 * - where both carry TTLs: Y's first is at most X's last, and at most MERGE_MAX_HOPS
 *   lower (a router between them that nobody traced takes one each);
 * - and not the other way too, unless X came first by its own time (ties: input order).
 * Several candidates (packets equal in all of that, such as IPv6 TCP segments of one
 * size, which have no IP ID): they pair in the order each node saw them — the earliest X
 * still free for the earliest Y. A chain of parts is printed as one packet, every node's
 * steps in the order crossed, each step naming its node; parts nothing joins print alone.
 * Packets go out in the order of their first step's time (ties: input order).
 */
#define MERGE_MAX_HOPS	16

struct merge_cfg {
	uint64_t	skew_ns;	/* how far apart two nodes' clocks may be */
};

struct merge_stats {
	uint64_t	lines;		/* lines read */
	uint64_t	parts;		/* packet objects read: one node's view of a packet each */
	uint64_t	packets;	/* packets emitted */
	uint64_t	joined;		/* of them, seen on more than one node */
	uint64_t	other;		/* lines that are no JSON object (blank, diagnostics), and
					 * objects of other types (--no-group's records) */
	uint64_t	malformed;	/* lines that look like JSON but are not iptrace's */
	char		first_bad[256];	/* "NAME:LINE: why" of the first malformed one */
	size_t		nodes;		/* distinct node names met */
	/* The nodes' summaries added up: lost, dropped, evicted, overruns. */
	struct summary	sum;
};

/* Opaque. */
struct merge;

/* merge_new - NULL with errno ENOMEM. Free with merge_free(). */
struct merge *merge_new(const struct merge_cfg *cfg);
void merge_free(struct merge *m);

/*
 * merge_line - line @lineno of input @src, @len bytes at @line (a trailing newline is
 * ignored): a JSON object, or one after a `kubectl logs --prefix` "[pod/NAME/CONTAINER] "
 * and/or a `--timestamps` time. What is kept is copied. The node of a packet that names
 * none: the pod's NAME, else @src (borrowed until merge_free(): a file name). Returns 0 —
 * a line that is not iptrace's JSON is counted, not an error — or -ENOMEM.
 */
int merge_line(struct merge *m, const char *src, uint64_t lineno, const char *line, size_t len);

/*
 * merge_run - join the parts read so far and hand each packet, in order, to @emit (its
 * steps borrowed for the call). Stops when @emit returns < 0. Returns 0, @emit's value, or
 * -ENOMEM.
 */
int merge_run(struct merge *m, int (*emit)(void *ctx, const struct packet *p), void *ctx);

void merge_get_stats(const struct merge *m, struct merge_stats *st);

#endif
