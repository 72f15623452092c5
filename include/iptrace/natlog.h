/* SPDX-License-Identifier: GPL-2.0-or-later */
/* natlog.h: the NAT log (--nat-log) and table (--nat-table) modes over conntrack */
#ifndef IPTRACE_NATLOG_H
#define IPTRACE_NATLOG_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include "iptrace/ct.h"
#include "iptrace/options.h"
#include "iptrace/output.h"
#include "iptrace/selector.h"

/*
 * ct_match - true when @e's original tuple passes @sel (families, protocols, ports,
 * addresses; the interface, mark and limit selectors don't apply to conntrack entries).
 */
bool ct_match(const struct selection *sel, const struct ct_entry *e);

/* natlog_print_text - one alias.log line for @e with @op ('+', '-', '=') and a newline. */
int natlog_print_text(FILE *out, char op, const struct ct_entry *e);
/* natlog_print_json - one {"type":"nat",...} object line for @e. */
int natlog_print_json(FILE *out, char op, const struct ct_entry *e);
/*
 * ct_print_json_obj - the "ct" annotation object of a traced packet (no newline):
 * {"id":N,"orig":{...},"reply":{...},"nat":["snat","dnat"],"status":[...]}.
 */
void ct_print_json_obj(FILE *out, const struct ct_entry *e);
/* ct_print_text_line - a one-line text summary of @e ("ct id N: orig ... reply ... snat"). */
void ct_print_text_line(FILE *out, const struct ct_entry *e);

/*
 * natlog_run - the --nat-log mode: subscribe to conntrack events (or, with o->input set,
 * replay a file recorded with --nat-log --record), print one line per event to @out
 * (output_start() once subscribed or the file is open) until *@stop is set (main's signal
 * flag, read only here: the one-flag rule), --duration, --count or a failed write (which
 * the caller says: output_say_error()). Signals are unblocked only inside ppoll() with
 * @waitmask. Diagnostics go to stderr. Returns an exit code (0 or 1).
 */
int natlog_run(const struct iptrace_opts *o, struct output *out,
	       const volatile sig_atomic_t *stop, const sigset_t *waitmask);

/*
 * nattable_run - the --nat-table mode: fold o->input (a NAT log, "-" for stdin) or, with
 * no input, dump the conntrack table now; then (output_start()) print the table to @out.
 * A failed write is left to the caller to say (output_say_error()). Returns an exit code.
 */
int nattable_run(const struct iptrace_opts *o, struct output *out);

/* An open ctnetlink socket for lookups (--nat in trace mode). Opaque. */
struct ct_lookup;
/* ct_lookup_open - NULL with errno. Close with ct_lookup_close(). */
struct ct_lookup *ct_lookup_open(void);
void ct_lookup_close(struct ct_lookup *cl);
/*
 * ct_lookup_get - the conntrack entry holding @t in either direction, into @e: in zone 0
 * (one hash lookup), or else, with @any_zone, in the one other zone that holds it (a walk
 * of the kernel's whole table, some milliseconds: only for a packet a rule put in a zone).
 * Returns 0, -ENOENT when there is none (or the tuple is in two zones), other -errno.
 */
int ct_lookup_get(struct ct_lookup *cl, const struct ct_tuple *t, bool any_zone,
		  struct ct_entry *e);

#endif
