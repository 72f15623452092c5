/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logline.h: the kernel's syslog TRACE line — parse it (--read) and print it (--format log) */
#ifndef IPTRACE_LOGLINE_H
#define IPTRACE_LOGLINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "iptrace/record.h"

/*
 * The longest line --read takes, without its newline. The kernel's own TRACE line is at
 * most 1 KiB (its nf_log buffer); a syslog prefix and names escaped by dmesg (four bytes
 * for one) add less than another KiB. A longer line is not a kernel line: skipped.
 */
#define LOGLINE_MAX	4096

/*
 * logline_parse - parse one line as dmesg, `journalctl -k` or /var/log/messages hold it
 * (any prefix before "TRACE: " is skipped; a syslog "Mon DD HH:MM:SS" prefix, if present, sets
 * ts_ns in the current year, UTC). Fills table, chain, kind, rulenum, in/out/physin/physout,
 * mark, the socket owner (UID=, GID=), MAC bytes (hw), and pkt (addresses, protocol, len,
 * ttl, tos, ipid, frag flags, ports, TCP seq/ack/window/flags, ICMP type/code/id/seq). hook
 * is set for base chains only.
 * Times: "Mon DD HH:MM:SS[.frac]" (syslog, journalctl -o short/short-precise) is taken as UTC
 * in the current year (the previous one if that would be more than a day ahead); dmesg -T's
 * "[Www Mon DD HH:MM:SS YYYY]" as UTC; RFC 3339 prefixes (rsyslog, journalctl -o short-iso)
 * keep their offset. A "[seconds.frac]" since boot anywhere in the prefix (dmesg, syslog's
 * kernel lines, journalctl -o short-monotonic) goes to uptime_ns; without a calendar time
 * ts_ns stays 0. Impossible times (Feb 31, 99:99:99, years outside 1970-2554) refuse the line.
 * Only the kernel's lines count: untagged ones (dmesg, /dev/kmsg, journalctl -o cat: no
 * more than a time and the kernel's "[seconds]" before "TRACE: ") and, in syslog files and
 * journalctl's output, lines tagged "kernel:" (a forged tag can't be told from the text).
 * "\xhh" of a byte dmesg escapes (0x01-0x1f, 0x7f-0xff) stands for that byte: names are
 * read back as dmesg and --format log show them.
 * Not kept (struct pkt_hdr has no room): IP and TCP options, IPv6 extension headers other
 * than the fragment header's offset/M/low 16 ID bits, the ICMP error's inner packet, AH/ESP
 * SPI. Unknown words are skipped. raw_len stays 0 and payload_hash 0.
 * Pure (reads the clock only for the syslog year). Returns 0, -ENOMSG when the line holds no
 * TRACE record, -EPROTO when another program logged it (a syslog tag other than "kernel:"),
 * -ERANGE when its time can't be (Feb 31, 24:00, a year before 1970 or past 2554: never
 * wrapped into another date), -EINVAL when malformed (no IN=/OUT=, a bad number or address,
 * longer than LOGLINE_MAX), -ENOMEM when @nm cannot take a name. The table and chain names
 * are interned in @nm (names.h): they live as long as it.
 */
int logline_parse(const char *line, size_t len, struct names *nm, struct trace_record *rec);

/* What --read skipped, by reason (each line counted once). */
struct logline_stats {
	uint64_t	too_long;	/* longer than LOGLINE_MAX */
	uint64_t	foreign;	/* TRACE: lines another program logged (-EPROTO) */
	uint64_t	bad_time;	/* a time that can't be (-ERANGE) */
	uint64_t	malformed;	/* TRACE lines that do not parse (-EINVAL) */
};

/*
 * A reader of lines of at most LOGLINE_MAX bytes: a longer one is read to its end in
 * place and skipped (memory stays bounded whatever the input). Opaque.
 */
struct logline_reader;

/* logline_reader_new - over @in (borrowed). NULL with errno ENOMEM. */
struct logline_reader *logline_reader_new(FILE *in);
void logline_reader_free(struct logline_reader *r);
/*
 * logline_next - the next line, without its newline (NUL bytes inside kept), at *@line
 * for *@len bytes, NUL-terminated; valid until the next call. Lines longer than
 * LOGLINE_MAX are skipped and counted in @st->too_long. Returns 1, 0 at the end of input,
 * or a negative errno when reading failed (a directory: -EISDIR).
 */
int logline_next(struct logline_reader *r, const char **line, size_t *len,
		 struct logline_stats *st);

/*
 * logline_format - write @rec as the kernel's nf_log_syslog line from "TRACE:" on, with the
 * trailing space, no newline, into @f: the logflags ip_tables/ip6_tables use for TRACE
 * (TCP SEQ/ACK, TCP and IP options) and the field order and quirks of nf_log_syslog.c
 * (kernel 6.18: RES= without the AE bit, "AE " as a flag). Live records are printed from
 * raw[] (as far as TRACE_RAW_MAX reaches) and hw[]; records parsed from text from their
 * fields, without what logline_parse() can't keep. UID=/GID= come from NFLOG's socket
 * owner, in iptrace's user namespace (the kernel's line: the initial one's). Never printed:
 * SIT's TUNNEL=. nft records show their rule handle as the number.
 * Returns 0 or -EIO.
 */
int logline_format(FILE *f, const struct trace_record *rec);

#endif
