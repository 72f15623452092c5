/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main.c: the command line, set-up in order, one poll loop, teardown in reverse on every exit */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <libmnl/libmnl.h>

#include "iptrace/demo.h"
#include "iptrace/logbind.h"
#include "iptrace/logline.h"
#include "iptrace/loop.h"
#include "iptrace/marker.h"
#include "iptrace/natlog.h"
#include "iptrace/nflog.h"
#include "iptrace/nftrace.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlrec.h"
#include "iptrace/notify.h"
#include "iptrace/options.h"
#include "iptrace/pipeline.h"
#include "iptrace/privs.h"
#include "iptrace/resolver.h"
#include "iptrace/rxbatch.h"
#include "iptrace/sink.h"
#include "iptrace/state.h"

#define EXIT_USAGE 2

/* The one mutable global: set by signal handlers, read by the loop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * vmsg - one diagnostic line on stderr. Under systemd (stderr is the journal stream) it
 * starts with sd-daemon's "<N>" so the journal files it at its priority: <4> "warning:",
 * <5> "note:", <6> information (info()), <3> everything else.
 */
static void vmsg(int prio, const char *fmt, va_list ap)
{
	if (prio == 3 && strncmp(fmt, "warning:", 8) == 0)
		prio = 4;
	else if (prio == 3 && strncmp(fmt, "note:", 5) == 0)
		prio = 5;
	if (notify_stderr_is_journal())
		fprintf(stderr, "<%d>", prio);
	fputs("iptrace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(3, fmt, ap);
	va_end(ap);
}

static void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(6, fmt, ap);
	va_end(ap);
}

/* Output files: 0640, never through a symlink. */
static FILE *open_output(const char *path)
{
	int fd;
	FILE *f;

	if (!path || strcmp(path, "-") == 0)
		return stdout;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

/* --output-time: the --output name through strftime(3), at the start time, in UTC. */
static int expand_output_time(struct iptrace_opts *o, char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	/* The user's pattern is the format, by design; strftime has no %n-like writes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(buf, size, o->output, &tm) == 0)
		return -EINVAL;
#pragma GCC diagnostic pop
	o->output = buf;
	return 0;
}

static bool want_color(const struct iptrace_opts *o, FILE *out)
{
	const char *term = getenv("TERM");

	if (o->color >= 0)
		return o->color;
	return isatty(fileno(out)) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static void print_text_summary(const struct iptrace_opts *o, const struct pipeline *pl)
{
	struct summary s;

	pipeline_summary(pl, &s);
	/* Never silent: messages we could not decode are said, whatever the format. */
	if (s.malformed)
		msg("warning: %llu netlink message(s) could not be decoded and were skipped",
		    (unsigned long long)s.malformed);
	if (s.overruns)
		msg("warning: the nf_tables trace socket overran %llu time%s: an unknown number of "
		    "nft records were lost, not in the lost count", (unsigned long long)s.overruns,
		    s.overruns == 1 ? "" : "s");
	if (strcmp(o->format, "text") != 0)
		return;
	info("%llu packet%s, %llu record%s, %llu lost%s", (unsigned long long)s.packets,
	     s.packets == 1 ? "" : "s", (unsigned long long)s.records, s.records == 1 ? "" : "s",
	     (unsigned long long)s.lost,
	     s.dropped ? " (open packets dropped at --count)" : "");
	if (s.limited && s.unmarked)
		msg("--limit left %llu selected packet%s unmarked (not traced)",
		    (unsigned long long)s.unmarked, s.unmarked == 1 ? "" : "s");
}

/* --read: kernel TRACE lines through the same grouper and sinks. */
static int run_read(const struct iptrace_opts *o, struct pipeline *pl)
{
	FILE *in = strcmp(o->input, "-") == 0 ? stdin : fopen(o->input, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	int ret = 0;

	if (!in) {
		msg("cannot open '%s': %s", o->input, strerror(errno));
		return EXIT_FAILURE;
	}
	while (!stop_signal && !pipeline_done(pl) && (n = getline(&line, &cap, in)) >= 0) {
		struct trace_record rec;

		/* Lines carry no usable clock: order alone separates packets, ends flush them. */
		pipeline_set_clock(pl, ++lineno, 0);
		if (logline_parse(line, (size_t)n, &rec) < 0)
			continue;
		if (pipeline_add(pl, &rec) < 0) {
			ret = EXIT_FAILURE;
			break;
		}
	}
	free(line);
	if (in != stdin)
		fclose(in);
	return ret;
}

/* --replay: recorded netlink bytes through the live callbacks, at their recorded times. */
static int run_replay(const struct iptrace_opts *o, struct pipeline *pl)
{
	struct nlrec *r = nlrec_open(o->input);
	int ret;

	if (!r) {
		msg("cannot open '%s': %s", o->input,
		    errno == EINVAL ? "not a recorded netlink file" : strerror(errno));
		return EXIT_FAILURE;
	}
	ret = pipeline_replay(pl, r, &stop_signal);
	nlrec_close(r);
	if (ret < 0) {
		msg("'%s' is truncated or corrupt", o->input);
		return EXIT_FAILURE;
	}
	return 0;
}

struct live {
	struct capture_state	st;	/* what we changed, on disk for --cleanup */
	bool			st_saved;
	struct nflog_src	*nflog;		/* NULL: group 0 owned by another (nft marker) */
	struct nftrace_src	*nftrace;	/* NULL with the legacy marker alone */
	struct logbind		*lb;	/* st.lb: nf_log/2, nf_log/10 */
	struct marker		*marker;
	struct nlrec		*rec;
	struct resolver		*resolver;
	struct nftrule		*nftrule;	/* nft rule text: with the nftrace socket only */
	struct rxbatch		*rx;		/* the receive loop's buffers, for either socket */
};

/*
 * enter_netns - --netns NAME|PATH|PID: an `ip netns` name, a path such as
 * /proc/PID/ns/net, or a PID. Done before any socket, rule or /proc work.
 */
static int enter_netns(const char *spec)
{
	char path[300];
	int fd;

	if (strchr(spec, '/'))
		snprintf(path, sizeof(path), "%s", spec);
	else if (strspn(spec, "0123456789") == strlen(spec))
		snprintf(path, sizeof(path), "/proc/%s/ns/net", spec);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", spec);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0) {
		int ret = -errno;

		close(fd);
		return ret == -EINVAL ? -ENOENT : ret;
	}
	close(fd);
	return 0;
}

static int save_state(struct live *lv)
{
	int ret = state_save(&lv->st);

	if (ret < 0)
		msg("cannot write the state file in %s: %s", state_dir(), strerror(-ret));
	else
		lv->st_saved = true;
	return ret;
}

static void explain_owner(void)
{
	uint32_t port;

	if (nflog_group_owner(0, &port) == 0)
		msg("NFLOG group 0 is owned by netlink port id %u (another iptrace, ulogd, "
		    "tcpdump -i nflog:0?): only one socket per namespace may own it", port);
	else
		msg("cannot bind NFLOG group 0: permission denied (need root or CAP_NET_ADMIN)");
}

/*
 * The trace sockets are read RX_BATCH datagrams per recvmmsg() (loop.c). A slot holds the
 * largest datagram these sockets get: ruleset events of NLMSG_GOODSIZE (at most 8 KiB);
 * trace records are under 1 KiB. A longer one would be cut, and its cut message counted
 * as malformed by the pipeline, as a too small recv() buffer did before.
 */
#define RX_BATCH	64
#define RX_SLOT		(16u << 10)

/* What the loop feeds while tracing: the pipeline, the recording, the rule cache. */
struct live_feed {
	struct live	*lv;
	struct pipeline	*pl;
	bool		warned;		/* the overrun warning was given */
};

static int live_datagram(void *ctx, uint16_t source, uint64_t mono, uint64_t wall,
			 const void *buf, size_t len)
{
	struct live_feed *f = ctx;

	if (f->lv->rec && source != RESOLVER_SOURCE)
		nlrec_write(f->lv->rec, source, mono, buf, len);
	pipeline_set_clock(f->pl, mono, wall);
	return pipeline_dispatch(f->pl, source, buf, len);
}

static void live_overrun(void *ctx, uint16_t source)
{
	struct live_feed *f = ctx;

	if (source == NLREC_NFTRACE) {
		/* Ruleset events may be among the lost: distrust the rule cache. */
		if (f->lv->nftrule)
			nftrule_lost(f->lv->nftrule, loop_clock_ns(CLOCK_MONOTONIC));
		/* No sequence number to count the records by: count the overrun. */
		pipeline_add_overrun(f->pl);
	}
	/* NFLOG: the exact count comes from the sequence gap. */
	if (!f->warned)
		msg("warning: the kernel is dropping trace records (socket overrun); %s",
		    source == NLREC_NFTRACE ?
		    "nft records have no sequence number: counted as overruns" :
		    "they are counted as lost");
	f->warned = true;
}

static uint64_t live_deadline(void *ctx)
{
	return pipeline_deadline(((struct live_feed *)ctx)->pl);
}

static void live_tick(void *ctx, uint64_t mono, uint64_t wall)
{
	struct live_feed *f = ctx;

	pipeline_set_clock(f->pl, mono, wall);
	pipeline_tick(f->pl);
}

static bool live_done(void *ctx)
{
	return pipeline_done(((struct live_feed *)ctx)->pl);
}

static int live_flush(void *ctx)
{
	return pipeline_flush(((struct live_feed *)ctx)->pl);
}

static int run_live(const struct iptrace_opts *o, struct pipeline *pl, struct live *lv,
		    const sigset_t *waitmask)
{
	static const struct loop_ops ops = {
		.datagram = live_datagram, .overrun = live_overrun, .deadline = live_deadline,
		.tick = live_tick, .done = live_done, .flush = live_flush,
	};
	struct live_feed feed = { .lv = lv, .pl = pl };
	struct loop_source src[3];
	struct loop_cfg cfg = {
		.src = src, .end_ns = loop_end_ns(o->duration),
		.stop = &stop_signal, .waitmask = waitmask, .rx = lv->rx, .ops = &ops,
		.ctx = &feed,
	};
	enum loop_stage stage;
	int ret;

	if (lv->nflog)
		src[cfg.nsrc++] = (struct loop_source){ nflog_src_fd(lv->nflog), NLREC_NFLOG };
	if (lv->nftrace)
		src[cfg.nsrc++] = (struct loop_source){ nftrace_src_fd(lv->nftrace), NLREC_NFTRACE };
	if (lv->resolver)
		src[cfg.nsrc++] = (struct loop_source){ resolver_fd(lv->resolver), RESOLVER_SOURCE };
	ret = loop_run(&cfg, &stage);
	if (ret < 0) {
		msg("%s: %s", stage == LOOP_POLL ? "poll" : "receiving trace records", strerror(-ret));
		return EXIT_FAILURE;
	}
	return 0;
}

/*
 * --backend auto, as CONTRACT.md "Marker choice" says: legacy tables in use (read from /proc,
 * never by opening one) -> the libiptc marker, plus the nft marker when nf_tables base chains
 * exist too (nft chains report only while some nftrace rule exists); neither -> nft.
 */
static enum marker_kind choose_marker(const struct iptrace_opts *o)
{
	if (o->backend == BACKEND_LEGACY)
		return MARKER_LEGACY;
	if (o->backend == BACKEND_NFT)
		return MARKER_NFT;
	if (!legacy_family_in_use(AF_INET) && !legacy_family_in_use(AF_INET6))
		return MARKER_NFT;
	return nft_has_base_chains() > 0 ? MARKER_LEGACY_NFT : MARKER_LEGACY;
}

/*
 * Default receive buffers (SO_RCVBUFFORCE; the kernel doubles the value): they absorb the
 * bursts during which iptrace falls behind. Measured on kernel 6.18 with the capture stopped
 * (Rmem in /proc/net/netlink): an NFLOG record takes 832 bytes of buffer, an nf_tables trace
 * message 1,280 (its skb is trimmed into a 1 KiB slab). A packet through three tables costs
 * 5 NFLOG records (4,160 bytes) or 9 trace messages, the hidden ones included (11,520
 * bytes): 2.8 times as much. The trace socket gets three times NFLOG's buffer, so that both
 * hold about as many packets (8,000 in that lab, 60 to 130 ms at the rates one sender
 * reaches). Kernel memory, and only while records wait; not iptrace's RSS.
 */
#define NFLOG_RCVBUF	(16u << 20)
#define NFTRACE_RCVBUF	(48u << 20)

/* Set-up in order; on failure undo what was done. Returns 0 or an exit code. */
static int live_setup(const struct iptrace_opts *o, struct live *lv, const char *tag,
		      const char *desc)
{
	struct nflog_cfg nc = {
		.group = 0, .copy_range = 256, .rcvbuf = o->rcvbuf ? o->rcvbuf : NFLOG_RCVBUF,
		.qthresh = 0, .flush_cs = 0, .nlbufsiz = 0,
	};
	static const int pfs[2] = { 2, 10 };
	enum marker_kind kind = choose_marker(o);
	uint32_t port;
	int ret;

	/* Say it plainly up front, rather than as some socket's EPERM later. */
	if (!privs_have(CAP_NET_ADMIN)) {
		msg("need root or CAP_NET_ADMIN to trace (try sudo)");
		return EXIT_FAILURE;
	}
	/* A capture killed here before us left rules and a binding: undo them first. */
	if (state_cleanup(true, stderr) < 0)
		msg("warning: cannot read the state of earlier captures in %s", state_dir());
	ret = state_init(&lv->st, tag);
	if (ret < 0) {
		msg("cannot identify the network namespace: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	lv->lb = lv->st.lb;
	snprintf(lv->st.desc, sizeof(lv->st.desc), "%s", desc);
	lv->nflog = nflog_src_open(&nc);
	if (!lv->nflog) {
		int e = errno;

		/* The nft marker's records don't need group 0: only legacy steps are lost. */
		if (e == EPERM && kind == MARKER_NFT && nflog_group_owner(0, &port) == 0) {
			msg("warning: NFLOG group 0 is owned by netlink port id %u: legacy-table "
			    "steps can't be shown, only nf_tables ones", port);
		} else {
			if (e == EPERM)
				explain_owner();
			else
				msg("cannot open an nfnetlink_log socket: %s", strerror(e));
			return EXIT_FAILURE;
		}
	}
	for (int f = 0; f < 2 && lv->nflog; f++) {
		if (!(o->sel.families & (f ? SEL_IPV6 : SEL_IPV4)))
			continue;
		/* No legacy table of this family to report a step: leave its logger alone. */
		if (kind == MARKER_NFT && !legacy_family_in_use(f ? AF_INET6 : AF_INET))
			continue;
		ret = logbind_prepare(&lv->lb[f], pfs[f]);
		if (ret < 0) {
			msg("cannot read nf_log/%d: %s", pfs[f], strerror(-ret));
			return EXIT_FAILURE;
		}
		/* Intent first: a SIGKILL after the write still finds what to restore. */
		if (lv->lb[f].changed && save_state(lv) < 0)
			return EXIT_FAILURE;
		ret = logbind_apply(&lv->lb[f]);
		if (ret < 0) {
			msg("cannot bind nfnetlink_log to nf_log/%d: %s", pfs[f], strerror(-ret));
			return EXIT_FAILURE;
		}
	}
	lv->rx = rxbatch_new(RX_BATCH, RX_SLOT);
	if (!lv->rx) {
		msg("out of memory");
		return EXIT_FAILURE;
	}
	if (kind != MARKER_LEGACY) {
		/* Subscribed before the marker exists: no record of the capture is missed. */
		lv->nftrace = nftrace_src_open(o->rcvbuf ? o->rcvbuf : NFTRACE_RCVBUF);
		if (!lv->nftrace) {
			msg("cannot open an nf_tables trace socket: %s", strerror(errno));
			return EXIT_FAILURE;
		}
	}
	lv->marker = marker_new(kind, &o->sel, tag);
	if (!lv->marker) {
		msg("cannot create the marker: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	/* The nft marker's table dies with its socket: only legacy rules need the state file. */
	snprintf(lv->st.marker, sizeof(lv->st.marker), "%s", marker_name(lv->marker));
	lv->st.legacy[0] = kind != MARKER_NFT && (o->sel.families & SEL_IPV4);
	lv->st.legacy[1] = kind != MARKER_NFT && (o->sel.families & SEL_IPV6);
	if (save_state(lv) < 0)
		return EXIT_FAILURE;
	ret = marker_install(lv->marker);
	if (ret < 0) {
		msg("cannot install the trace rules: %s", marker_error(lv->marker));
		return EXIT_FAILURE;
	}
	return 0;
}

/* Teardown, in reverse order of set-up; safe on a partial set-up. Returns 0 or 1. */
static int live_teardown(struct live *lv)
{
	int rc = 0, ret;

	if (lv->marker) {
		ret = marker_remove(lv->marker);
		if (ret < 0) {
			msg("cannot remove the trace rules: %s", marker_error(lv->marker));
			rc = EXIT_FAILURE;
		}
	}
	nftrace_src_close(lv->nftrace);
	lv->nftrace = NULL;
	rxbatch_free(lv->rx);
	lv->rx = NULL;
	for (int f = 1; lv->lb && f >= 0; f--) {
		ret = logbind_restore(&lv->lb[f]);
		if (ret < 0) {
			msg("cannot restore nf_log/%d to '%s': %s", lv->lb[f].pf, lv->lb[f].saved,
			    strerror(-ret));
			rc = EXIT_FAILURE;
		}
	}
	nflog_src_close(lv->nflog);
	lv->nflog = NULL;
	if (lv->st_saved) {
		if (rc == 0)
			state_remove(&lv->st);
		else
			msg("left %s/%d.state: run 'iptrace --cleanup' to retry", state_dir(),
			    (int)lv->st.pid);
	}
	return rc;
}

struct feed {
	struct live	*lv;
	struct pipeline	*pl;
};

/* The chain dump taken at start: through the pipeline (and into --record) like any buffer. */
static int feed_dump(void *ctx, const void *buf, size_t len)
{
	struct feed *f = ctx;
	uint64_t mono = loop_clock_ns(CLOCK_MONOTONIC);

	if (f->lv->rec)
		nlrec_write(f->lv->rec, NLREC_NFTRACE, mono, buf, len);
	pipeline_set_clock(f->pl, mono, loop_clock_ns(CLOCK_REALTIME));
	return pipeline_dispatch(f->pl, NLREC_NFTRACE, buf, len);
}

int main(int argc, char **argv)
{
	struct iptrace_opts o;
	struct sink sink = { 0 };
	struct pipeline *pl = NULL;
	struct live lv = { 0 };
	struct ct_lookup *ct = NULL;	/* --nat */
	struct demo *demo = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	char err[256], tag[64], desc[256], outname[4096];
	FILE *out;
	int rc = 0, ret;

	if (options_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		msg("%s", err);
		return EXIT_USAGE;
	}
	if (o.mode == MODE_HELP) {
		options_usage(stdout);
		return 0;
	}
	if (o.mode == MODE_VERSION) {
		printf("iptrace %s\n", PACKAGE_VERSION);
		return 0;
	}

	if (o.netns) {
		ret = enter_netns(o.netns);
		if (ret < 0) {
			msg("cannot enter network namespace '%s': %s", o.netns,
			    ret == -ENOENT ? "no such namespace" : strerror(-ret));
			return ret == -ENOENT ? EXIT_USAGE : EXIT_FAILURE;
		}
	}
	if (o.mode == MODE_CLEANUP) {
		ret = state_cleanup(o.netns != NULL, stderr);
		if (ret < 0) {
			msg("cleanup failed: %s", strerror(-ret));
			return EXIT_FAILURE;
		}
		info("%d stale capture(s) cleaned up", ret);
		return 0;
	}
	if (o.mode == MODE_LIST)
		return state_list(stdout) < 0 ? EXIT_FAILURE : 0;
	if (o.mode == MODE_TRACE && o.sel.iface[0]) {
		/* Checked here, in the traced namespace, before anything is opened. */
		size_t il = strlen(o.sel.iface);

		if (o.sel.iface[il - 1] != '+' && !if_nametoindex(o.sel.iface)) {
			msg("unknown interface '%s'", o.sel.iface);
			return EXIT_USAGE;
		}
	}

	/* Signals only set the flag; they are unblocked inside ppoll() alone. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	if (o.output_time && expand_output_time(&o, outname, sizeof(outname)) < 0) {
		msg("cannot expand --output '%s' with the time", o.output);
		return EXIT_USAGE;
	}
	/* The journal sink sends to the journal itself: no file to create. */
	out = strcmp(o.format, "journal") == 0 ? stdout : open_output(o.output);
	if (!out) {
		msg("cannot open '%s': %s", o.output, strerror(errno));
		return EXIT_FAILURE;
	}
	sink.ops = sink_lookup(o.format);
	sink.out = out;
	sink.opts.color = want_color(&o, out);
	sink.opts.time_prefix = o.log_time;
	/* Live: flushed when the sockets run dry; --replay: at the end. --read keeps per packet. */
	sink.opts.deferred_flush = o.mode == MODE_TRACE || o.mode == MODE_REPLAY;

	/* The NAT modes run their own loop; it reads the stop flag through the pointer. */
	if (o.mode == MODE_NAT_LOG || o.mode == MODE_NAT_TABLE) {
		rc = o.mode == MODE_NAT_LOG ? natlog_run(&o, out, &stop_signal, &waitmask) :
					      nattable_run(&o, out);
		goto out_close;
	}

	if (o.mode == MODE_DEMO) {
		/* Build the lab (signals are blocked: one aborts it), then trace in its router. */
		demo = demo_new(stderr);
		if (!demo) {
			rc = errno == EINTR ? 0 : EXIT_FAILURE;
			goto out_close;
		}
		ret = enter_netns(demo_router(demo));
		if (ret < 0) {
			msg("cannot enter the demo's router namespace: %s", strerror(-ret));
			rc = EXIT_FAILURE;
			goto out_close;
		}
		demo_intro(demo, stderr);
		o.mode = MODE_TRACE;
	}
	if (o.mode == MODE_TRACE) {
		snprintf(tag, sizeof(tag), "iptrace:%ld", (long)getpid());
		if (o.record) {
			lv.rec = nlrec_create(o.record);
			if (!lv.rec) {
				msg("cannot create '%s': %s", o.record, strerror(errno));
				rc = EXIT_FAILURE;
				goto out_close;
			}
		}
		if (o.nat && !(ct = ct_lookup_open())) {
			msg("cannot open a conntrack socket for --nat: %s", strerror(errno));
			rc = EXIT_FAILURE;
			goto out_teardown;
		}
		selection_describe(&o.sel, desc, sizeof(desc));
		rc = live_setup(&o, &lv, tag, desc);
		if (rc)
			goto out_teardown;
		/*
		 * After the marker (its own rules are in the tables the reader first reads),
		 * before capabilities go (the reader keeps what GET_ENTRIES needs).
		 */
		if (lv.nflog) {
			lv.resolver = resolver_new(&(struct resolver_cfg){
				.nflog_portid = nflog_src_portid(lv.nflog) });
			if (!lv.resolver)
				msg("warning: cannot start the table reader (%s): legacy steps show "
				    "no rule text", strerror(errno));
		}
		/* In the traced namespace; its events come on the nftrace socket (pipeline.c). */
		if (lv.nftrace && !(lv.nftrule = nftrule_new(&(struct nftrule_cfg){ 0 })))
			msg("warning: cannot read nft rules (%s): nft steps show handles only",
			    strerror(errno));
		/* Set-up is done: from here on only teardown's needs remain. */
		ret = privs_keep_net();
		if (ret < 0)
			msg("warning: cannot drop capabilities: %s", strerror(-ret));
		info("tracing %s with the %s marker (rules tagged %s); Ctrl-C to stop", desc,
		     marker_name(lv.marker), tag);
		/* Type=notify: the rules are in and the socket is bound. */
		ret = notify_send("READY=1\nSTATUS=tracing");
		if (ret < 0)
			msg("warning: cannot notify the service manager: %s", strerror(-ret));
		if (demo && (ret = demo_start(demo)) < 0) {
			msg("cannot start the demo's client: %s", strerror(-ret));
			rc = EXIT_FAILURE;
			goto out_teardown;
		}
	}

	{
		struct pipeline_cfg pc = {
			.window_ns = (uint64_t)o.window_ms * 1000000ull,
			.count = o.count,
			.no_group = o.no_group,
			.verbose = o.verbose,
			.marker = lv.marker,
			.live_ifnames = o.mode == MODE_TRACE,
			.resolver = lv.resolver,
			.nftrule = lv.nftrule,
			.ct = ct,
		};
		/* --read lines are one tick apart: no window closes before the input ends. */
		if (o.mode == MODE_READ)
			pc.window_ns = UINT64_MAX / 2;
		pl = pipeline_new(&pc, &sink);
	}
	if (!pl) {
		msg("out of memory");
		rc = EXIT_FAILURE;
		goto out_teardown;
	}
	if (lv.nftrace) {
		struct feed fd = { &lv, pl };

		nftrace_src_take_dump(lv.nftrace, feed_dump, &fd);
	}
	if (sink.ops->begin(&sink) < 0) {
		rc = EXIT_FAILURE;
		goto out_teardown;
	}
	switch (o.mode) {
	case MODE_TRACE:
		rc = run_live(&o, pl, &lv, &waitmask);
		break;
	case MODE_READ:
		rc = run_read(&o, pl);
		break;
	case MODE_REPLAY:
		rc = run_replay(&o, pl);
		break;
	default:
		break;
	}

out_teardown:
	if (o.mode == MODE_TRACE) {
		ret = live_teardown(&lv);
		if (ret && !rc)
			rc = ret;
	}
	if (pl) {
		/* The summary comes last, after teardown, whatever ended the run. */
		if (pipeline_finish(pl, lv.marker ? marker_name(lv.marker) : NULL) < 0 && !stop_signal)
			rc = rc ? rc : EXIT_FAILURE;
		print_text_summary(&o, pl);
		pipeline_free(pl);
	}
	resolver_free(lv.resolver);
	nftrule_free(lv.nftrule);
	marker_free(lv.marker);
	ct_lookup_close(ct);
	if (lv.rec && nlrec_close(lv.rec) < 0) {
		msg("cannot write '%s': %s", o.record, strerror(errno));
		rc = rc ? rc : EXIT_FAILURE;
	}
out_close:
	if (demo_free(demo, stderr) < 0)
		rc = rc ? rc : EXIT_FAILURE;
	if (out != stdout)
		fclose(out);
	else
		fflush(stdout);
	return rc;
}
