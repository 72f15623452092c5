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
 * Pure. Returns 0, -ENOMSG when the line holds no TRACE record, -EINVAL when malformed.
 */
int logline_parse(const char *line, size_t len, struct trace_record *rec);

/*
 * logline_format - write @rec as the kernel's nf_log_syslog line from "TRACE:" on, with the
 * trailing space, no newline, into @f. Returns 0 or -EIO.
 */
int logline_format(FILE *f, const struct trace_record *rec);

#endif
