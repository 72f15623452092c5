/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink.h: output formatters — an ops table over a caller's FILE *; they format, never decide */
#ifndef IPTRACE_SINK_H
#define IPTRACE_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "iptrace/grouper.h"
#include "iptrace/record.h"

struct summary {
	uint64_t	packets;	/* packets printed */
	uint64_t	records;	/* trace records received and decoded */
	uint64_t	lost;		/* records the kernel could not deliver (seq gaps, ENOBUFS) */
	uint64_t	dropped;	/* packets still open when --count was reached */
	uint64_t	evicted;	/* packets closed early by the grouping bound */
	uint64_t	overruns;	/* nft trace socket overruns (ENOBUFS): records lost, number
					 * unknown (nft trace messages carry no sequence number) */
	uint64_t	skipped;	/* group 0 messages that were not TRACE records */
	uint64_t	malformed;	/* messages that failed to decode */
	const char	*marker;	/* "legacy", "nft", or NULL (no marker: --read, --replay) */
	bool		limited;	/* --limit was given: unmarked is meaningful */
	uint64_t	unmarked;	/* selected packets --limit left unmarked (kernel counters) */
};

struct sink_opts {
	bool	color;		/* ANSI colour (text) */
	bool	time_prefix;	/* log format: a syslog-like time prefix */
	/*
	 * The caller flushes @out when it goes idle (pipeline_flush()): packets are not flushed
	 * one by one. Under a flood that is one write() per batch of records, not per packet;
	 * a reader of a pipe still sees each packet as soon as the records stop coming.
	 */
	bool	deferred_flush;
};


struct sink;

struct sink_ops {
	const char	*name;
	int		(*begin)(struct sink *s);
	/* One complete packet. */
	int		(*packet)(struct sink *s, const struct packet *p);
	/* One record as it arrives (ungrouped output); NULL if the format needs packets. */
	int		(*record)(struct sink *s, const struct trace_record *r);
	int		(*end)(struct sink *s, const struct summary *sum);
	/* Optional: hand what the sink buffers itself to @out (deferred_flush). 0 or -1. */
	int		(*flush)(struct sink *s);
};

struct sink {
	const struct sink_ops	*ops;
	FILE			*out;	/* borrowed; the sink never closes it */
	struct sink_opts	opts;
	void			*priv;	/* a sink's own state, from begin() to end() */
};

/*
 * sink_flush - for a sink's packet(): flush @out, unless deferred_flush (then only report
 * an earlier write error). 0 or -1.
 */
int sink_flush(const struct sink *s);

/*
 * sink_lookup - the ops for a format name ("text", "json", "log", "journal", "dot"), NULL if
 * unknown.
 */
const struct sink_ops *sink_lookup(const char *name);

/* Helpers shared by the formatters: one writer for each kind of text. */
#define SINK_TIME_MAX 32
/* sink_fmt_time - ISO 8601 UTC with microseconds into @buf (size >= SINK_TIME_MAX); "" for 0. */
char *sink_fmt_time(uint64_t ts_ns, char *buf, size_t size);
/*
 * sink_fmt_table - the step's table as people name it into @buf (size >= SINK_TABLE_MAX):
 * legacy "nat"; nft with its family, "inet firewalld" (tables of one name may exist in
 * several families). Not escaped. Returns @buf.
 */
#define SINK_TABLE_MAX (8 + TRACE_NAME_MAX)
char *sink_fmt_table(const struct trace_record *r, char *buf, size_t size);
/* sink_fmt_addr - the record's source or destination address as text (size >= 46). */
char *sink_fmt_addr(const struct pkt_hdr *h, bool dst, char *buf, size_t size);
/*
 * sink_json_escape - the JSON escape of the string at *@s, without quotes: '"' and '\\'
 * after a backslash, bytes below 0x20 as \u00xx, every other byte as it is. Writes the
 * escapes of as many bytes as fit in @size bytes of @buf (no NUL), stopping at the string's
 * NUL; moves *@s past the bytes it escaped and returns the number of bytes written. With
 * @size >= SINK_JSON_ESC_MAX it writes at least one byte's escape.
 */
#define SINK_JSON_ESC_MAX 6
size_t sink_json_escape(char *buf, size_t size, const char **s);
/* sink_json_str - write @s as a JSON string (quoted, sink_json_escape()) to @f. */
void sink_json_str(FILE *f, const char *s);

/*
 * sink_text_steps - the text format's lines for @p's steps (NAT and conntrack lines, the
 * early end, included; no header line, no colour) to @f: what a pcapng comment holds.
 */
void sink_text_steps(FILE *f, const struct packet *p);

extern const struct sink_ops sink_text_ops;
extern const struct sink_ops sink_json_ops;
extern const struct sink_ops sink_log_ops;
/*
 * --format dot: one Graphviz digraph of all packets, written at end(): the chains packets
 * crossed as nodes clustered by hook in kernel order, edges merged by (from, to, the rule
 * that sent the packet on) and labelled with their packet count, an end node per way
 * packets ended (ACCEPT; DROP and REJECT in red; an early end in orange). No record():
 * it needs packets.
 */
extern const struct sink_ops sink_dot_ops;
/*
 * --pcap: a pcapng file beside the format, not a format of its own (sink_lookup() doesn't
 * know it). One Enhanced Packet Block per packet (per record with --no-group): the packet's
 * bytes as first seen (the NFLOG copy; an nft trace's headers; headers rebuilt from a log
 * line's fields), its time, its first step's interface (one Interface Description Block
 * per name, LINKTYPE_RAW) and the steps as text prints them as its comment. Each block is
 * written and flushed at once: the file is valid up to the last whole block, however the
 * capture ends. begin() writes the section header.
 */
extern const struct sink_ops sink_pcap_ops;
/*
 * The journal sink ignores @out: it sends each packet as an entry over the journal's native
 * protocol to $IPTRACE_JOURNAL_SOCKET or /run/systemd/journal/socket. begin() fails (with a
 * message on stderr) when that socket isn't there; end() closes it, also after a failure.
 */
extern const struct sink_ops sink_journal_ops;

#endif
