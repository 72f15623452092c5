/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logline.h: the kernel's syslog TRACE line — parse it (--read) and print it (--format log) */
#ifndef IPTRACE_LOGLINE_H
#define IPTRACE_LOGLINE_H

#include <stddef.h>
#include <stdio.h>
#include "iptrace/record.h"

/*
 * logline_parse - parse one line as dmesg, `journalctl -k` or /var/log/messages hold it
 * (any prefix before "TRACE: " is skipped; a syslog "Mon DD HH:MM:SS" prefix, if present, sets
 * ts_ns in the current year, UTC). Fills table, chain, kind, rulenum, in/out/physin/physout,
 * mark, MAC bytes (hw), and pkt (addresses, protocol, len, ttl, tos, ipid, frag flags, ports,
 * TCP seq/ack/window/flags, ICMP type/code/id/seq). hook is set for base chains only.
 * Times: "Mon DD HH:MM:SS[.frac]" (syslog, journalctl -o short/short-precise) is taken as UTC
 * in the current year (the previous one if that would be more than a day ahead); dmesg -T's
 * "[Www Mon DD HH:MM:SS YYYY]" as UTC; RFC 3339 prefixes (rsyslog, journalctl -o short-iso)
 * keep their offset. A "[seconds.frac]" since boot anywhere in the prefix (dmesg, syslog's
 * kernel lines, journalctl -o short-monotonic) goes to uptime_ns; without a calendar time
 * ts_ns stays 0.
 * Not kept (struct pkt_hdr has no room): IP and TCP options, IPv6 extension headers other
 * than the fragment header's offset/M/low 16 ID bits, the ICMP error's inner packet, AH/ESP
 * SPI, UID/GID. Unknown words are skipped. raw_len stays 0 and payload_hash 0.
 * Pure (reads the clock only for the syslog year). Returns 0, -ENOMSG when the line holds no
 * TRACE record, -EINVAL when malformed (no IN=/OUT=, a bad number or address).
 */
int logline_parse(const char *line, size_t len, struct trace_record *rec);

/*
 * logline_format - write @rec as the kernel's nf_log_syslog line from "TRACE:" on, with the
 * trailing space, no newline, into @f: the logflags ip_tables/ip6_tables use for TRACE
 * (TCP SEQ/ACK, TCP and IP options) and the field order and quirks of nf_log_syslog.c
 * (kernel 6.18: RES= without the AE bit, "AE " as a flag). Live records are printed from
 * raw[] (as far as TRACE_RAW_MAX reaches) and hw[]; records parsed from text from their
 * fields, without what logline_parse() can't keep. Never printed: UID=/GID= (records carry
 * no socket owner), SIT's TUNNEL=. nft records show their rule handle as the number.
 * Returns 0 or -EIO.
 */
int logline_format(FILE *f, const struct trace_record *rec);

#endif
