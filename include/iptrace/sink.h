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
	uint64_t	foreign;	/* nft records of traces our marker did not start */
	uint64_t	filtered;	/* packets (--no-group: records) the selectors left out */
	uint64_t	marked_only;	/* packets no chain but the marking saw: not shown */
	const char	*marker;	/* "legacy", "nft", or NULL (no marker: --read, --replay) */
	bool		limited;	/* --limit was given: unmarked is meaningful */
	uint64_t	unmarked;	/* selected packets --limit left unmarked (kernel counters) */
	const char	*node;		/* the capture's node (pipeline_cfg.node), or NULL */
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
	/*
	 * Text: name the node in each packet's header (--node was given, or --merge). A packet
	 * whose steps come from more than one node names them in every format, whatever this.
	 */
	bool	show_node;
};


struct sink;

struct sink_ops {
	const char	*name;
	int		(*begin)(struct sink *s);
	/* One complete packet. */
	int		(*packet)(struct sink *s, const struct packet *p);
	/* One record as it arrives (ungrouped output); NULL if the format needs packets. */
	int		(*record)(struct sink *s, const struct trace_record *r);
	/* The summary, once at the end; NULL for a sink with nothing to finish. */
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
 * sink_multi_node - true when the steps of @p were traced on more than one node (--merge):
 * then each step names its node.
 */
bool sink_multi_node(const struct packet *p);

/*
 * sink_lookup - the ops for a format name ("text", "json", "log", "journal", "dot"), NULL if
 * unknown.
 */
const struct sink_ops *sink_lookup(const char *name);

/*
 * Helpers shared by the formatters: one writer for each kind of text. The sink_put_*
 * writers write at @p with no bound and no NUL and return the end: the caller made room
 * (the most each writes is given); the sink_fmt_* ones are the same into a sized buffer.
 */
#define SINK_TIME_MAX 32
/* sink_put_time - @ts_ns (not 0) as ISO 8601 UTC with microseconds: 27 bytes. */
char *sink_put_time(char *p, uint64_t ts_ns);
/* sink_fmt_time - sink_put_time() into @buf (size >= SINK_TIME_MAX), NUL-terminated; "" for 0. */
char *sink_fmt_time(uint64_t ts_ns, char *buf, size_t size);
/* sink_put_u64 - @v in decimal: at most 20 bytes. */
char *sink_put_u64(char *p, uint64_t v);
/*
 * sink_fmt_table - the step's table as people name it into @buf (size >= SINK_TABLE_MAX):
 * legacy "nat"; nft with its family, "inet firewalld" (tables of one name may exist in
 * several families), its name escaped as sink_text_escape() does. Returns @buf.
 */
#define SINK_TABLE_MAX (8 + SINK_TEXT_NAME_MAX(TRACE_NFT_NAME_MAX))
char *sink_fmt_table(const struct trace_record *r, char *buf, size_t size);
/*
 * sink_put_addr - the record's source or destination address as inet_ntop() writes it:
 * at most INET6_ADDRSTRLEN - 1 bytes; nothing for a family that is neither IPv4 nor IPv6.
 */
char *sink_put_addr(char *p, const struct pkt_hdr *h, bool dst);
/* sink_fmt_addr - sink_put_addr() into @buf (size >= INET6_ADDRSTRLEN), NUL-terminated. */
char *sink_fmt_addr(const struct pkt_hdr *h, bool dst, char *buf, size_t size);
/*
 * Names come from whoever set up a namespace (interfaces, tables, chains, rule comments, a
 * --read file): any bytes but NUL. Two escaping rules, one writer each.
 *
 * Text (text, log, --nat-table, --list, diagnostics, the journal's MESSAGE), as dmesg and
 * journalctl show a line: control bytes (0x00-0x1f, 0x7f), the UTF-8 encodings of the C1
 * controls U+0080-U+009F and every byte that is not part of valid UTF-8 as "\xhh" (two
 * lower-case hex digits), one per byte; valid UTF-8 as it is. A name can neither start nor
 * end a terminal escape sequence.
 *
 * sink_text_escape - the text escape of the string at *@s into @buf: as many bytes as fit
 * in @size (no NUL), stopping at the string's NUL; moves *@s past the bytes it escaped and
 * returns the number written. With @size >= SINK_TEXT_ESC_MAX it writes at least one.
 */
#define SINK_TEXT_ESC_MAX 8
size_t sink_text_escape(char *buf, size_t size, const char **s);
/* sink_text_put - write @s to @f, escaped (sink_text_escape()). */
void sink_text_put(FILE *f, const char *s);
/*
 * sink_text_name - @s escaped into @buf, NUL-terminated, cut after the last whole escape
 * that fits; returns @buf. A name of n bytes needs at most 4n + 1 (SINK_TEXT_NAME_MAX(n)).
 */
#define SINK_TEXT_NAME_MAX(n) (4 * (n) + 1)
char *sink_text_name(const char *s, char *buf, size_t size);

/*
 * JSON strings are always valid UTF-8. sink_json_escape - the JSON escape of the string
 * at *@s, without quotes: '"' and '\\' after a backslash; control bytes, DEL and the C1
 * controls as \u00xx; valid UTF-8 as it is; each byte that is not part of valid UTF-8 as
 * U+FFFD (and *@bad set to true: the caller then adds the exact bytes as a "<key>_hex"
 * sibling, sink_hex()). Writes the escapes of as many bytes as fit in @size bytes of @buf
 * (no NUL), stopping at the string's NUL; moves *@s past the bytes it escaped and returns
 * the number of bytes written. With @size >= SINK_JSON_ESC_MAX it writes at least one
 * byte's escape.
 */
#define SINK_JSON_ESC_MAX 6
size_t sink_json_escape(char *buf, size_t size, const char **s, bool *bad);
/*
 * sink_json_put - the whole escape of @s at @p, as sink_json_escape() writes it: at most
 * SINK_JSON_ESC_MAX bytes for each byte of @s.
 */
char *sink_json_put(char *p, const char *s, bool *bad);
/*
 * sink_hex - the bytes of the string at *@s as lower-case hex, two digits a byte, as many
 * as fit in @size; moves *@s past them and returns the number of digits written.
 */
size_t sink_hex(char *buf, size_t size, const char **s);
/*
 * sink_json_field - write ,"@key":"@s" to @f (sink_json_escape()), and when @s is not valid
 * UTF-8, ,"@key_hex":"its bytes in hex" after it.
 */
void sink_json_field(FILE *f, const char *key, const char *s);

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
