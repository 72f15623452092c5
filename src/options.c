/* SPDX-License-Identifier: GPL-2.0-or-later */
/* options.c: one table drives getopt_long's optstring, its long options and --help */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iptrace/options.h"
#include "iptrace/sink.h"
#include "iptrace/xtlock.h"

enum {
	OPT_PORT = 256, OPT_SPORT, OPT_DPORT, OPT_SRC, OPT_DST, OPT_HOST, OPT_PROTO,
	OPT_MARK, OPT_LIMIT, OPT_BACKEND, OPT_FORMAT, OPT_COUNT, OPT_DURATION,
	OPT_WINDOW, OPT_OUTPUT, OPT_READ, OPT_REPLAY, OPT_RECORD, OPT_NO_GROUP, OPT_COLOR,
	OPT_NETNS, OPT_CLEANUP, OPT_LIST, OPT_LOG_TIME, OPT_OUTPUT_TIME,
	OPT_NAT_LOG, OPT_NAT_TABLE, OPT_ALL, OPT_NAT,
	OPT_DEMO, OPT_RCVBUF, OPT_PCAP, OPT_NODE, OPT_MERGE, OPT_SKEW,
};

struct opt_desc {
	const char	*name;
	int		has_arg;
	int		val;		/* short option character or OPT_* */
	const char	*arg;		/* argument name for --help */
	const char	*help;
};

static const struct opt_desc table[] = {
	{ "port", required_argument, OPT_PORT, "PORTS",
	  "trace TCP/UDP with PORTS as source or destination (53, 53,853, 8000-8100)" },
	{ "dport", required_argument, OPT_DPORT, "PORTS", "trace TCP/UDP to PORTS" },
	{ "sport", required_argument, OPT_SPORT, "PORTS", "trace TCP/UDP from PORTS" },
	{ "dest", required_argument, OPT_DST, "ADDR[/LEN]", "trace packets to ADDR (as the raw table sees it: before DNAT)" },
	{ "src", required_argument, OPT_SRC, "ADDR[/LEN]", "trace packets from ADDR" },
	{ "host", required_argument, OPT_HOST, "ADDR[/LEN]", "trace packets from or to ADDR" },
	{ "proto", required_argument, OPT_PROTO, "PROTO", "tcp, udp, icmp, icmpv6, sctp, ... or a number; a list: tcp,udp" },
	{ "iface", required_argument, 'i', "IF", "input interface (PREROUTING) / output interface (OUTPUT)" },
	{ "mark", required_argument, OPT_MARK, "VALUE[/MASK]", "trace packets with this firewall mark" },
	{ "limit", required_argument, OPT_LIMIT, "RATE", "mark at most RATE packets (N/s, N/min, N/hour); none by default" },
	{ "ipv4", no_argument, '4', NULL, "IPv4 only" },
	{ "ipv6", no_argument, '6', NULL, "IPv6 only" },
	{ "netns", required_argument, OPT_NETNS, "NAME|PATH|PID", "trace inside another network namespace" },
	{ "backend", required_argument, OPT_BACKEND, "auto|legacy|nft", "how packets are marked (default auto)" },
	{ "wait", required_argument, 'w', "SECONDS", "wait at most SECONDS for the xtables lock, then give up (default 10; 0: don't wait)" },
	{ "format", required_argument, OPT_FORMAT, "text|json|log|journal|dot", "output format (default text); journal: one entry per packet; dot: one Graphviz graph of all paths, at the end" },
	{ "count", required_argument, 'c', "N", "stop after N complete packets" },
	{ "duration", required_argument, 'd', "SECONDS", "stop after SECONDS" },
	{ "window", required_argument, OPT_WINDOW, "MS", "a packet is complete after MS without records (default 250)" },
	{ "output", required_argument, 'o', "FILE", "write to FILE instead of standard output" },
	{ "output-time", no_argument, OPT_OUTPUT_TIME, NULL, "expand strftime(3) %-conversions in --output with the start time (UTC)" },
	{ "no-group", no_argument, OPT_NO_GROUP, NULL, "print records as they arrive, not per packet" },
	{ "log-time", no_argument, OPT_LOG_TIME, NULL, "log format: start lines with a syslog-like UTC time" },
	{ "color", required_argument, OPT_COLOR, "auto|always|never", "colour in text output (default auto)" },
	{ "read", required_argument, OPT_READ, "FILE|-", "read kernel TRACE lines (dmesg, journal, messages)" },
	{ "replay", required_argument, OPT_REPLAY, "FILE", "replay netlink messages saved by --record" },
	{ "record", required_argument, OPT_RECORD, "FILE", "also save the raw netlink messages to FILE" },
	{ "pcap", required_argument, OPT_PCAP, "FILE", "also write the packets to FILE as pcapng, their steps as comments" },
	{ "node", required_argument, OPT_NODE, "NAME", "the node name in the output (default: the host name; none with --read, --replay)" },
	{ "merge", no_argument, OPT_MERGE, NULL, "merge the JSON outputs of several nodes (FILE... or -): each packet once, every node's steps" },
	{ "skew", required_argument, OPT_SKEW, "MS", "--merge: how far apart the nodes' clocks may be (default 500)" },
	{ "rcvbuf", required_argument, OPT_RCVBUF, "BYTES", "trace sockets' receive buffer (default 48 MiB)" },
	{ "demo", no_argument, OPT_DEMO, NULL, "trace a DNS query and its reply in a throw-away namespace lab" },
	{ "cleanup", no_argument, OPT_CLEANUP, NULL, "undo what killed captures left (rules, logger bindings)" },
	{ "list", no_argument, OPT_LIST, NULL, "list live and stale captures" },
	{ "verbose", no_argument, 'v', NULL, "show the marking rules too (iptrace's, and other captures' nft tables)" },
	{ "nat", no_argument, OPT_NAT, NULL, "show each packet's conntrack entry (orig/reply, SNAT/DNAT)" },
	{ "nat-log", no_argument, OPT_NAT_LOG, NULL, "log NAT table changes as they happen (+ - = lines)" },
	{ "nat-table", optional_argument, OPT_NAT_TABLE, "[FILE]", "print the NAT table now, or the one FILE (a NAT log) ends with" },
	{ "all", no_argument, OPT_ALL, NULL, "--nat-log/--nat-table: every conntrack entry, not only NAT" },
	{ "help", no_argument, 'h', NULL, "show this help" },
	{ "version", no_argument, 'V', NULL, "show the version" },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

const char options_synopsis[] =
	"iptrace [OPTIONS] SELECTOR...\n"
	"       iptrace --read FILE|- [--format F] [SELECTOR...]\n"
	"       iptrace --replay FILE [--format F] [SELECTOR...]\n"
	"       iptrace --merge FILE|-... [--skew MS] [--format F] [SELECTOR...]\n"
	"       iptrace --cleanup | --list [--netns NS]\n"
	"       iptrace --nat-log [--all] [SELECTOR...]\n"
	"       iptrace --nat-table [FILE] [--all] [SELECTOR...]\n"
	"       iptrace --demo [--format F]";

void options_usage(FILE *f)
{
	fprintf(f, "Usage: %s\n\n"
		"Trace packets through netfilter: every chain and rule a selected packet\n"
		"crosses, grouped per packet. Marks are removed on exit.\n\n"
		"Selectors (combine with AND; items of one list with OR). With --read, --replay\n"
		"and --merge they filter: a packet shows when one of its steps matches.\n",
		options_synopsis);
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];
		const struct opt_desc *d = &table[i];

		if (d->val == OPT_BACKEND)
			fputs("\nOptions:\n", f);
		if (d->val < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", d->val, d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		/* An option too wide for its column gets its text on the next line. */
		if (strlen(left) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", left, "", d->help);
		else
			fprintf(f, "  %-30s %s\n", left, d->help);
	}
	fputs("\nExit status: 0 normal end, 1 runtime error, 2 usage error.\n", f);
}

static int parse_positive(const char *s, uint64_t *out)
{
	return parse_uint(s, 10, 1, UINT64_MAX, out);
}

/* Seconds as a plain decimal (no sign, no exponent words), above 0 or, with @zero, 0 too. */
static int parse_seconds(const char *s, bool zero, double *out)
{
	char *e;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &e);
	if (errno || *e || !(v > 0 || (zero && v == 0)) || !isfinite(v) || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --node NAME: what `uname -n` or a Kubernetes node name could be (trace_node_ok()). */
static int parse_node(const char *s, const char **out, char *err, size_t errlen)
{
	if (!trace_node_ok(s))
		return parse_fail(err, errlen, "invalid node name (1 to %d bytes, no control characters)",
				  TRACE_NODE_MAX);
	*out = s;
	return 0;
}

/* The options that choose a mode other than live tracing, as a message names them. */
static const char *const mode_options[] = {
	[MODE_READ] = "--read", [MODE_REPLAY] = "--replay", [MODE_CLEANUP] = "--cleanup",
	[MODE_LIST] = "--list", [MODE_NAT_TABLE] = "--nat-table", [MODE_DEMO] = "--demo",
	[MODE_MERGE] = "--merge",
};

/* A second, different mode is refused: the last one given must not silently win. */
static int set_mode(struct iptrace_opts *o, enum iptrace_mode m, char *err, size_t errlen)
{
	if (o->mode != MODE_TRACE && o->mode != m)
		return parse_fail(err, errlen, "%s can't be combined with %s", mode_options[m],
				  mode_options[o->mode]);
	o->mode = m;
	return 0;
}

/*
 * --read, --replay, --merge, --cleanup, --list mark nothing and record nothing (nor does
 * --nat-table, or a replayed --nat-log): --limit or a --record file there would be
 * ignored, the output not what the user asked for. The selectors of --read, --replay and
 * --merge filter what they print; --cleanup and --list act on whole captures.
 */
static int offline_options(const struct iptrace_opts *o, char *err, size_t errlen)
{
	bool selects = !selection_empty(&o->sel) || o->sel.limit || o->want_families;

	switch (o->mode) {
	case MODE_READ:
	case MODE_REPLAY:
	case MODE_MERGE:
		if (o->sel.limit)
			return parse_fail(err, errlen, "--limit is for the marker: %s reads packets "
					  "already traced", mode_options[o->mode]);
		break;
	case MODE_CLEANUP:
	case MODE_LIST:
		if (selects)
			return parse_fail(err, errlen, "%s acts on whole captures: no selectors "
					  "(--netns picks the namespace)", mode_options[o->mode]);
		break;
	case MODE_NAT_TABLE:
		break;
	case MODE_NAT_LOG:	/* its selectors filter; a replayed one records nothing */
		if (o->input && o->record)
			return parse_fail(err, errlen, "--record saves a live capture's messages: "
					  "not with --replay");
		return 0;
	default:
		return 0;
	}
	if (o->record)
		return parse_fail(err, errlen, "--record saves a live capture's messages: not with %s",
				  mode_options[o->mode]);
	return 0;
}

/* --merge FILE...: the words left are its inputs; it reads packets, it marks none. */
static int merge_options(struct iptrace_opts *o, bool skew, int argc, char **argv,
			 char *err, size_t errlen)
{
	if (o->mode != MODE_MERGE) {
		if (skew)
			return parse_fail(err, errlen, "--skew goes with --merge");
		if (optind < argc)
			return parse_fail(err, errlen, "unexpected argument '%s'", argv[optind]);
		return 0;
	}
	if (optind >= argc)
		return parse_fail(err, errlen, "--merge needs FILE arguments (- for standard input)");
	if (o->node)
		return parse_fail(err, errlen, "--merge takes node names from its input: no --node");
	if (strcmp(o->format, "log") == 0)
		return parse_fail(err, errlen, "--merge prints text, json or journal: JSON lines don't keep what log prints");
	if (o->no_group || o->record)
		return parse_fail(err, errlen, "--merge prints packets: no --no-group or --record");
	o->inputs = &argv[optind];
	o->ninputs = (size_t)(argc - optind);
	return 0;
}

/* The NAT modes: --nat-log (with --replay: a recorded conntrack file), --nat-table. */
static int nat_options(struct iptrace_opts *o, bool nat_log, char *err, size_t errlen)
{
	bool nat_mode;

	if (nat_log) {
		if (o->mode != MODE_TRACE && o->mode != MODE_REPLAY)
			return parse_fail(err, errlen, "--nat-log can't be combined with %s",
					  mode_options[o->mode]);
		o->mode = MODE_NAT_LOG;
	}
	nat_mode = o->mode == MODE_NAT_LOG || o->mode == MODE_NAT_TABLE;
	if (o->nat_all && !nat_mode)
		return parse_fail(err, errlen, "--all goes with --nat-log or --nat-table");
	if (o->nat && o->mode != MODE_TRACE && o->mode != MODE_DEMO)
		return parse_fail(err, errlen, "--nat goes with live tracing only");
	if (o->pcap && nat_mode)
		return parse_fail(err, errlen, "--pcap writes traced packets: not with the NAT modes");
	if (!nat_mode)
		return 0;
	if (o->node)
		return parse_fail(err, errlen, "--node doesn't apply to conntrack entries");
	if (o->sel.iface[0] || o->sel.has_mark || o->sel.limit)
		return parse_fail(err, errlen, "--iface, --mark and --limit don't apply to conntrack entries");
	if (strcmp(o->format, "log") == 0)
		return parse_fail(err, errlen, "the NAT modes print text or json, not log");
	return selection_finish(&o->sel, o->want_families, err, errlen);
}

/*
 * What getopt_long() refused (@c ':' or '?'), said of the option as given. getopt leaves
 * optopt 0 for a long option it doesn't know, the option's value for one given an argument
 * it takes none of, the letter of a short one; optind is past a long option, but may still
 * be on a cluster of short ones ("-Z4"), so a letter is named by itself.
 */
static int bad_option(int c, int argc, char **argv, char *err, size_t errlen)
{
	const char *arg = optind > 1 && optind - 1 < argc ? argv[optind - 1] : "";
	bool is_long = strncmp(arg, "--", 2) == 0;

	if (c == ':') {
		if (is_long || optopt >= 256)
			return parse_fail(err, errlen, "option '%s' needs an argument", arg);
		return parse_fail(err, errlen, "option '-%c' needs an argument", optopt);
	}
	if (!optopt)
		return parse_fail(err, errlen, "unknown option '%s'", arg);
	for (size_t i = 0; i < NOPTS; i++)
		if (table[i].val == optopt)
			return parse_fail(err, errlen, "option '%.*s' takes no argument",
					  (int)strcspn(arg, "="), arg);
	return parse_fail(err, errlen, "unknown option '-%c'", optopt);
}

int options_parse(int argc, char **argv, struct iptrace_opts *o, char *err, size_t errlen)
{
	struct option lopts[NOPTS + 1];
	char optstring[NOPTS * 2 + 2];
	size_t n = 0;
	uint64_t num;
	int c, ret;
	bool nat_log = false, skew = false;

	memset(o, 0, sizeof(*o));
	o->format = "text";
	o->window_ms = 250;
	o->wait_s = XTLOCK_WAIT_DEFAULT;
	o->skew_ms = 500;
	o->color = -1;
	optstring[n++] = ':';	/* report a missing argument as ':' */
	for (size_t i = 0; i < NOPTS; i++) {
		lopts[i] = (struct option){ table[i].name, table[i].has_arg, NULL, table[i].val };
		if (table[i].val < 256) {
			optstring[n++] = (char)table[i].val;
			if (table[i].has_arg == required_argument)
				optstring[n++] = ':';
		}
	}
	optstring[n] = '\0';
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));
	opterr = 0;
	/*
	 * 0, not 1: getopt starts over from scratch (glibc and musl). With 1 it would go on in
	 * the middle of a previous call's "-abc" where that call returned early (-h, an error),
	 * reading an argv that may be gone.
	 */
	optind = 0;

	while ((c = getopt_long(argc, argv, optstring, lopts, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case OPT_PORT:
			ret = sel_parse_ports(optarg, &o->sel.ports, err, errlen);
			break;
		case OPT_SPORT:
			ret = sel_parse_ports(optarg, &o->sel.sports, err, errlen);
			break;
		case OPT_DPORT:
			ret = sel_parse_ports(optarg, &o->sel.dports, err, errlen);
			break;
		case OPT_SRC:
			ret = sel_parse_addr(optarg, &o->sel.src, err, errlen);
			break;
		case OPT_DST:
			ret = sel_parse_addr(optarg, &o->sel.dst, err, errlen);
			break;
		case OPT_HOST:
			ret = sel_parse_addr(optarg, &o->sel.host, err, errlen);
			break;
		case OPT_PROTO:
			ret = sel_parse_proto(optarg, &o->sel, err, errlen);
			break;
		case 'i':
			if (!*optarg || strlen(optarg) >= sizeof(o->sel.iface))
				return parse_fail(err, errlen, "invalid interface name '%s'", optarg);
			strcpy(o->sel.iface, optarg);
			break;
		case OPT_MARK:
			ret = sel_parse_mark(optarg, &o->sel, err, errlen);
			break;
		case OPT_LIMIT:
			ret = sel_parse_limit(optarg, &o->sel, err, errlen);
			break;
		case '4':
		case '6':
			/* Both would be the default; the last one winning would drop a family. */
			if (o->want_families && o->want_families != (c == '4' ? SEL_IPV4 : SEL_IPV6))
				return parse_fail(err, errlen, "-4 and -6 exclude each other (give neither for both)");
			o->want_families = c == '4' ? SEL_IPV4 : SEL_IPV6;
			break;
		case OPT_BACKEND:
			if (strcmp(optarg, "auto") == 0)
				o->backend = BACKEND_AUTO;
			else if (strcmp(optarg, "legacy") == 0)
				o->backend = BACKEND_LEGACY;
			else if (strcmp(optarg, "nft") == 0)
				o->backend = BACKEND_NFT;
			else
				return parse_fail(err, errlen, "unknown backend '%s' (auto, legacy or nft)", optarg);
			break;
		case OPT_FORMAT:
			if (!sink_lookup(optarg))
				return parse_fail(err, errlen, "unknown format '%s' (text, json, log, journal or dot)", optarg);
			o->format = optarg;
			break;
		case 'w':
			if (parse_seconds(optarg, true, &o->wait_s) < 0)
				return parse_fail(err, errlen, "invalid wait '%s' (seconds, 0 or more)", optarg);
			break;
		case 'c':
			if (parse_positive(optarg, &o->count) < 0)
				return parse_fail(err, errlen, "invalid count '%s' (a positive number)", optarg);
			break;
		case 'd':
			if (parse_seconds(optarg, false, &o->duration) < 0)
				return parse_fail(err, errlen, "invalid duration '%s' (positive seconds)", optarg);
			break;
		case OPT_WINDOW:
			if (parse_positive(optarg, &num) < 0 || num > 600000)
				return parse_fail(err, errlen, "invalid window '%s' (milliseconds, 1-600000)", optarg);
			o->window_ms = (unsigned)num;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_OUTPUT_TIME:
			o->output_time = true;
			break;
		case OPT_NO_GROUP:
			o->no_group = true;
			break;
		case OPT_LOG_TIME:
			o->log_time = true;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o->color = -1;
			else if (strcmp(optarg, "always") == 0)
				o->color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->color = 0;
			else
				return parse_fail(err, errlen, "invalid colour '%s' (auto, always or never)", optarg);
			break;
		case OPT_READ:
			ret = set_mode(o, MODE_READ, err, errlen);
			o->input = optarg;
			break;
		case OPT_REPLAY:
			ret = set_mode(o, MODE_REPLAY, err, errlen);
			o->input = optarg;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_PCAP:
			if (!*optarg)
				return parse_fail(err, errlen, "empty --pcap file name");
			o->pcap = optarg;
			break;
		case OPT_NODE:
			ret = parse_node(optarg, &o->node, err, errlen);
			break;
		case OPT_MERGE:
			ret = set_mode(o, MODE_MERGE, err, errlen);
			break;
		case OPT_SKEW:
			if (parse_uint(optarg, 10, 0, 600000, &num) < 0)
				return parse_fail(err, errlen, "invalid skew '%s' (milliseconds, 0-600000)", optarg);
			o->skew_ms = (unsigned)num;
			skew = true;
			break;
		case OPT_RCVBUF:
			/* The kernel doubles it and has its own floor; above 1 GiB is a typo. */
			if (parse_positive(optarg, &num) < 0 || num < 1024 || num > (1u << 30))
				return parse_fail(err, errlen, "invalid receive buffer '%s' (bytes, 1024-1073741824)", optarg);
			o->rcvbuf = (uint32_t)num;
			break;
		case 'v':
			o->verbose = true;
			break;
		case OPT_NETNS:
			if (!*optarg)
				return parse_fail(err, errlen, "empty network namespace name");
			o->netns = optarg;
			break;
		case OPT_CLEANUP:
			ret = set_mode(o, MODE_CLEANUP, err, errlen);
			break;
		case OPT_LIST:
			ret = set_mode(o, MODE_LIST, err, errlen);
			break;
		case OPT_DEMO:
			ret = set_mode(o, MODE_DEMO, err, errlen);
			break;
		case OPT_NAT:
			o->nat = true;
			break;
		case OPT_ALL:
			o->nat_all = true;
			break;
		case OPT_NAT_LOG:
			nat_log = true;
			break;
		case OPT_NAT_TABLE:
			/* getopt takes an optional argument only after '=': take the next word too. */
			if (!optarg && optind < argc && (argv[optind][0] != '-' || !argv[optind][1]))
				optarg = argv[optind++];
			ret = set_mode(o, MODE_NAT_TABLE, err, errlen);
			o->input = optarg;
			break;
		case 'h':
			o->mode = MODE_HELP;
			return 0;
		case 'V':
			o->mode = MODE_VERSION;
			return 0;
		case ':':
		default:
			return bad_option(c, argc, argv, err, errlen);
		}
		if (ret < 0)
			return ret;
	}
	if (o->output_time && !o->output)
		return parse_fail(err, errlen, "--output-time needs --output");
	if (o->no_group && strcmp(o->format, "dot") == 0)
		return parse_fail(err, errlen, "--format dot draws whole packets: not with --no-group");
	/* Standard output holds one stream: the format's unless it goes elsewhere. */
	if (o->pcap && strcmp(o->pcap, "-") == 0 && strcmp(o->format, "journal") != 0 &&
	    (!o->output || strcmp(o->output, "-") == 0))
		return parse_fail(err, errlen, "--pcap - needs --output FILE (or --format journal) for the format");
	ret = merge_options(o, skew, argc, argv, err, errlen);
	if (ret < 0)
		return ret;
	if (o->mode == MODE_DEMO) {
		/* The lab's DNS exchange, both ways, and an end even if a packet went missing. */
		if (o->netns)
			return parse_fail(err, errlen, "--demo builds its own namespaces: no --netns");
		if (selection_empty(&o->sel) &&
		    sel_parse_ports("53", &o->sel.ports, err, errlen) < 0)
			return -EINVAL;
		if (!o->count)
			o->count = 2;
		if (!o->duration)
			o->duration = 10;
	}
	ret = nat_options(o, nat_log, err, errlen);
	if (ret == 0)
		ret = offline_options(o, err, errlen);
	if (ret < 0)
		return ret;
	if (o->mode == MODE_TRACE && selection_empty(&o->sel))
		return parse_fail(err, errlen, "no selector given (e.g. --port 53 or --dest ADDR); see --help");
	if (o->sel.host.n && (o->sel.src.n || o->sel.dst.n))
		return parse_fail(err, errlen, "--host can't be combined with --src or --dest");
	if ((o->mode == MODE_TRACE || o->mode == MODE_DEMO || o->mode == MODE_READ ||
	     o->mode == MODE_REPLAY || o->mode == MODE_MERGE) &&
	    selection_finish(&o->sel, o->want_families, err, errlen) < 0)
		return -EINVAL;
	return 0;
}
