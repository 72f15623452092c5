/* SPDX-License-Identifier: GPL-2.0-or-later */
/* options.h: the command line — one options table for getopt_long and --help */
#ifndef IPTRACE_OPTIONS_H
#define IPTRACE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "iptrace/selector.h"

enum iptrace_mode {
	MODE_TRACE,	/* live tracing (default) */
	MODE_READ,	/* --read FILE|-: kernel TRACE lines */
	MODE_REPLAY,	/* --replay FILE: recorded netlink messages */
	MODE_CLEANUP,	/* --cleanup: undo captures whose process died */
	MODE_LIST,	/* --list: live and stale captures */
	MODE_NAT_LOG,	/* --nat-log: conntrack events as a NAT log (input: a --record file) */
	MODE_NAT_TABLE,	/* --nat-table [FILE]: the NAT table now, or folded from a NAT log */
	MODE_DEMO,	/* --demo: build a lab, trace in it (then like MODE_TRACE), remove it */
	MODE_HELP,
	MODE_VERSION,
};

enum backend_choice {
	BACKEND_AUTO,
	BACKEND_LEGACY,
	BACKEND_NFT,
};

struct iptrace_opts {
	enum iptrace_mode	mode;
	struct selection	sel;
	unsigned		want_families;	/* -4/-6: SEL_IPV4/SEL_IPV6, 0 for both */
	enum backend_choice	backend;
	const char		*format;	/* "text", "json", "log", "journal" */
	uint64_t		count;		/* 0: unlimited */
	double			duration;	/* seconds, 0: unlimited */
	double			wait_s;		/* --wait: the xtables lock, seconds */
	unsigned		window_ms;	/* grouping window */
	const char		*output;	/* NULL: stdout */
	bool			output_time;	/* --output-time: strftime(@output) at start */
	const char		*input;		/* --read / --replay file, "-" for stdin */
	const char		*record;	/* --record FILE */
	uint32_t		rcvbuf;		/* --rcvbuf BYTES for the trace sockets, 0: default */
	const char		*netns;		/* --netns NAME|PATH|PID */
	bool			verbose;
	bool			no_group;
	bool			log_time;	/* --log-time: time prefix on log lines */
	int			color;		/* -1 auto, 0 never, 1 always */
	bool			nat_all;	/* --all: every conntrack entry, not only NAT */
	bool			nat;		/* --nat: attach the conntrack entry to packets */
};

/*
 * options_parse - parse @argv into @o (zeroed and defaulted here). Returns 0, or -EINVAL
 * with a one-line message (without the program name) in @err.
 */
int options_parse(int argc, char **argv, struct iptrace_opts *o, char *err, size_t errlen);

/* options_usage - print the usage line and the option list generated from the table. */
void options_usage(FILE *f);

/* The synopsis, shared by --help and the man page. */
extern const char options_synopsis[];

#endif
