/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jsonpkt.h: iptrace's own JSON lines read back — packet and summary objects into records */
#ifndef IPTRACE_JSONPKT_H
#define IPTRACE_JSONPKT_H

#include <stddef.h>
#include <stdint.h>
#include "iptrace/record.h"
#include "iptrace/sink.h"

enum jsonpkt_type {
	JSONPKT_PACKET,		/* "type":"packet" */
	JSONPKT_SUMMARY,	/* "type":"summary" */
	JSONPKT_OTHER,		/* another type: --no-group's "record", a later version's */
};

/* One line read back. Borrowed from the reader and the line, until the next read. */
struct jsonpkt {
	enum jsonpkt_type	type;
	const char		*node;		/* the object's "node", NULL if it has none */
	/* JSONPKT_PACKET: its "id", its steps (at least one) and "steps_dropped". */
	uint64_t		id;
	struct trace_record	*steps;
	size_t			nsteps;
	uint32_t		steps_dropped;
	/* JSONPKT_SUMMARY: packets, records, lost, dropped, evicted, overruns, malformed. */
	struct summary		sum;
};

/*
 * What is read, as sink_json.c writes it (iptrace(8), "JSON"): every step field the sinks
 * print, and the packet's family, proto, len, ipid and payload_hash copied into each step's
 * pkt_hdr; a step's node is its own "node", else the packet's (the packet's own, else its
 * first step's, as the sink writes it). Not read: what the sinks
 * derive ("nat", the packet's addresses, which are its first step's) and --nat's conntrack
 * entry (the packet's "ct"). Unknown keys are skipped (later versions add fields); a known
 * key twice, of the wrong type or with a value iptrace never writes is an error.
 */

/* Opaque: the token and step buffers, grown as lines need. */
struct jsonpkt_reader;

/* The most steps a line may have: --merge's packets may cross several nodes of 256 each. */
#define JSONPKT_MAX_STEPS	4096

/* jsonpkt_reader_new - NULL with errno ENOMEM. Free with jsonpkt_reader_free(). */
struct jsonpkt_reader *jsonpkt_reader_new(void);
void jsonpkt_reader_free(struct jsonpkt_reader *r);

/*
 * jsonpkt_read - one line of iptrace's JSON output, @len bytes at @line (no newline needed),
 * read in place: its strings are decoded where they are, and the steps' table, chain, rule,
 * verdict, rule_reason and node point into @line (verdict_chain is "": "verdict" holds it).
 * Returns 0 with *@out filled, -EINVAL when the line is not such an object (*@why, a static
 * string, says what is wrong), -E2BIG when it is longer, deeper or has more steps than the
 * reader takes, -ENOMEM.
 */
int jsonpkt_read(struct jsonpkt_reader *r, char *line, size_t len, struct jsonpkt *out,
		 const char **why);

#endif
