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
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/capability.h>
#include <libmnl/libmnl.h>

#include "iptrace/confine.h"
#include "iptrace/demo.h"
#include "iptrace/diag.h"
#include "iptrace/logbind.h"
#include "iptrace/logline.h"
#include "iptrace/loop.h"
#include "iptrace/marker.h"
#include "iptrace/merge.h"
#include "iptrace/natlog.h"
#include "iptrace/nflog.h"
#include "iptrace/nftrace.h"
#include "iptrace/nfhook.h"
#include "iptrace/nftrule.h"
#include "iptrace/nlrec.h"
#include "iptrace/notify.h"
#include "iptrace/options.h"
#include "iptrace/output.h"
#include "iptrace/pipeline.h"
#include "iptrace/privs.h"
#include "iptrace/resolver.h"
#include "iptrace/rxbatch.h"
#include "iptrace/sink.h"
#include "iptrace/state.h"
#include "iptrace/xtlock.h"

#define EXIT_USAGE 2
/* Set-up's answer when a signal ended a wait in it: nothing was changed, the run ends (0). */
#define SETUP_STOPPED (-1)

/* The one mutable global: set by signal handlers, read by the loop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
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

static bool want_color(const struct iptrace_opts *o, int fd)
{
	const char *term = getenv("TERM");

	if (o->color >= 0)
		return o->color;
	return isatty(fd) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static void print_text_summary(const struct iptrace_opts *o, const struct pipeline *pl,
			       bool failed)
{
	struct summary s;

	pipeline_summary(pl, &s);
	/* Never silent: messages we could not decode are said, whatever the format. */
	if (s.malformed && o->mode != MODE_MERGE)	/* its lines: said by run_merge() */
		diag_warning("%llu netlink message(s) could not be decoded and were skipped",
			     (unsigned long long)s.malformed);
	if (s.overruns)
		diag_warning("the nf_tables trace socket overran %llu time%s: an unknown number "
			     "of nft records were lost, not in the lost count",
			     (unsigned long long)s.overruns, s.overruns == 1 ? "" : "s");
	if (s.foreign)
		diag_note("%llu nft trace record%s of packets another program marked (another "
			  "capture, an nftrace rule) skipped", (unsigned long long)s.foreign,
			  s.foreign == 1 ? "" : "s");
	if (s.marked_only)
		diag_note("%llu marked packet%s crossed no chain but iptrace's own: not shown "
			  "(--verbose shows them)", (unsigned long long)s.marked_only,
			  s.marked_only == 1 ? "" : "s");
	if (strcmp(o->format, "text") != 0)
		return;
	diag_info("%llu packet%s, %llu record%s, %llu lost%s", (unsigned long long)s.packets,
		  s.packets == 1 ? "" : "s", (unsigned long long)s.records,
		  s.records == 1 ? "" : "s", (unsigned long long)s.lost,
		  failed ? "; the output failed: not all of them were written" : "");
	if (s.dropped)
		diag_info("%llu open packet%s dropped at --count", (unsigned long long)s.dropped,
			  s.dropped == 1 ? "" : "s");
	if (s.filtered)
		diag_info("%llu %s%s not matching the selectors left out",
			  (unsigned long long)s.filtered, o->no_group ? "record" : "packet",
			  s.filtered == 1 ? "" : "s");
	if (s.limited && s.unmarked)
		diag_info("--limit left %llu selected packet%s unmarked (not traced)",
			  (unsigned long long)s.unmarked, s.unmarked == 1 ? "" : "s");
}

static int merge_emit(void *ctx, const struct packet *p)
{
	struct pipeline *pl = ctx;

	if (pipeline_packet(pl, p) < 0 || pipeline_done(pl))
		return -1;
	return 0;
}

/* Each input's lines into @m. 0, or an exit code. */
static int merge_read(const struct iptrace_opts *o, struct merge *m)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	for (size_t i = 0; i < o->ninputs && !rc && !stop_signal; i++) {
		const char *name = o->inputs[i];
		bool std = strcmp(name, "-") == 0;
		FILE *in = std ? stdin : fopen(name, "re");
		uint64_t lineno = 0;
		ssize_t n;

		if (!in) {
			diag_error("cannot open '%s': %s", name, strerror(errno));
			rc = EXIT_FAILURE;
			break;
		}
		while (!stop_signal && (n = getline(&line, &cap, in)) >= 0)
			if (merge_line(m, std ? "stdin" : name, ++lineno, line, (size_t)n) < 0) {
				diag_error("out of memory reading '%s'", name);
				rc = EXIT_FAILURE;
				break;
			}
		if (ferror(in)) {
			diag_error("cannot read '%s': %s", name, strerror(errno));
			rc = EXIT_FAILURE;
		}
		if (!std)
			fclose(in);
	}
	free(line);
	return rc;
}

/* --merge: every input read, then its packets joined across nodes, through the sink. */
static int run_merge(const struct iptrace_opts *o, struct pipeline *pl)
{
	struct merge *m = merge_new(&(struct merge_cfg){
		.skew_ns = (uint64_t)o->skew_ms * 1000000u,
	});
	struct merge_stats st;
	int rc, ret;

	if (!m) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	rc = merge_read(o, m);
	ret = rc || stop_signal ? 0 : merge_run(m, merge_emit, pl);
	if (ret == -ENOMEM) {
		diag_error("out of memory");
		rc = EXIT_FAILURE;
	}
	merge_get_stats(m, &st);
	st.sum.skipped = st.other;
	st.sum.malformed = st.malformed;
	pipeline_add_counts(pl, &st.sum);
	if (st.malformed)
		diag_warning("%llu line%s that look%s like JSON but %s not iptrace's were skipped "
			     "(the first: %s)", (unsigned long long)st.malformed,
			     st.malformed == 1 ? "" : "s", st.malformed == 1 ? "s" : "",
			     st.malformed == 1 ? "is" : "are", st.first_bad);
	if (strcmp(o->format, "text") == 0)
		diag_info("%llu packet%s from %zu node%s: %llu seen on more than one; %llu other "
			  "line%s skipped", (unsigned long long)st.packets,
			  st.packets == 1 ? "" : "s", st.nodes, st.nodes == 1 ? "" : "s",
			  (unsigned long long)st.joined, (unsigned long long)st.other,
			  st.other == 1 ? "" : "s");
	merge_free(m);
	return rc;
}

struct live {
	struct capture_state	st;	/* what we changed, on disk for --cleanup */
	bool			st_saved;
	int			st_lock;	/* st_saved: the file's fd, holding its lock */
	struct nflog_src	*nflog;		/* NULL: group 0 owned by another (nft marker) */
	struct nftrace_src	*nftrace;	/* NULL with the legacy marker alone */
	struct logbind		*lb;	/* st.lb: nf_log/2, nf_log/10 */
	struct marker		*marker;
	struct nlrec		*rec;
	struct resolver		*resolver;
	struct nftrule		*nftrule;	/* nft rule text: with the nftrace socket only */
	struct nfhook_order	*hooks;		/* the kernel's hook order: legacy+nft only */
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
		return ret;
	}
	close(fd);
	return 0;
}

static int save_state(struct live *lv)
{
	int fd = state_save(&lv->st);

	if (fd < 0) {
		diag_error("cannot write the state file in %s: %s", state_dir(), strerror(-fd));
		return fd;
	}
	if (lv->st_saved)
		close(lv->st_lock);
	lv->st_lock = fd;
	lv->st_saved = true;
	return 0;
}

static void explain_owner(void)
{
	uint32_t port;

	if (nflog_group_owner(0, &port) == 0)
		diag_error("NFLOG group 0 is owned by netlink port id %u (another iptrace, ulogd, "
			   "tcpdump -i nflog:0?): only one socket per namespace may own it", port);
	else
		diag_error("cannot bind NFLOG group 0: permission denied (need root or CAP_NET_ADMIN)");
}

/*
 * The trace sockets are read RX_BATCH datagrams per recvmmsg() (loop.c). A slot holds the
 * largest datagram these sockets get: ruleset events of NLMSG_GOODSIZE (at most 8 KiB);
 * trace records are under 1 KiB. A longer one would be cut, and its cut message counted
 * as malformed by the pipeline, as a too small recv() buffer did before.
 */
#define RX_BATCH	64
#define RX_SLOT		(16u << 10)

/* What the loop (and the chain dump taken at start) feeds: the pipeline and the recording. */
struct live_feed {
	struct live	*lv;
	struct pipeline	*pl;
	bool		warned;		/* the overrun warning was given */
	bool		ended;		/* the run is over: only rule texts are awaited */
	uint64_t	next_check;	/* monotonic ns of the next marker_check(); never: max */
	bool		check_failed;	/* said once */
	uint64_t	put_back, said_at;	/* marks put back; when last said (once a minute) */
	uint64_t	said_put_back;	/* put_back when last said */
};

#define CHECK_NS	1000000000ull	/* the marks are checked every second */

/* Marks another program removed are put back, and said: tracing must not stop silently. */
static void check_marks(struct live_feed *f, uint64_t mono)
{
	struct marker *m = f->lv->marker;
	int ret;

	if (f->ended || mono < f->next_check)
		return;
	f->next_check = mono + CHECK_NS;
	ret = marker_check(m);
	/* A program that keeps rewriting the table is said once a minute, not every second. */
	if (ret == 1 && (!f->put_back++ || mono - f->said_at >= 60 * CHECK_NS)) {
		f->said_at = mono;
		f->said_put_back = f->put_back;
		diag_warning("another program rewrote the raw table and removed iptrace's TRACE rules "
			     "(iptables-restore, a firewall reload?): put back (%llu time%s); packets "
			     "in between were not traced", (unsigned long long)f->put_back,
			     f->put_back == 1 ? "" : "s");
	} else if (ret < 0 && !f->check_failed) {
		f->check_failed = true;
		diag_warning("cannot check or put back iptrace's TRACE rules: %s",
			     *marker_error(m) ? marker_error(m) : strerror(-ret));
	}
}

static int live_datagram(void *ctx, uint16_t source, uint64_t mono, uint64_t wall,
			 const void *buf, size_t len)
{
	struct live_feed *f = ctx;

	/* What the run took in: not the resolvers' answers, nor what came after its end. */
	if (f->lv->rec && source != RESOLVER_SOURCE && source != NFTRULE_SOURCE && !f->ended)
		nlrec_write(f->lv->rec, source, mono, buf, len);
	pipeline_set_clock(f->pl, mono, wall);
	return pipeline_dispatch(f->pl, source, buf, len);
}

/* The chain dump taken at start: through the pipeline (and into --record) like any buffer. */
static int live_dump(void *ctx, const void *buf, size_t len)
{
	return live_datagram(ctx, NLREC_NFTRACE, loop_clock_ns(CLOCK_MONOTONIC),
			     loop_clock_ns(CLOCK_REALTIME), buf, len);
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
		diag_warning("the kernel is dropping trace records (socket overrun); %s",
			     source == NLREC_NFTRACE ?
			     "nft records have no sequence number: counted as overruns" :
			     "they are counted as lost");
	f->warned = true;
}

static uint64_t live_deadline(void *ctx)
{
	struct live_feed *f = ctx;
	uint64_t d = pipeline_deadline(f->pl);

	return !f->ended && f->next_check < d ? f->next_check : d;
}

static void live_tick(void *ctx, uint64_t mono, uint64_t wall)
{
	struct live_feed *f = ctx;

	pipeline_set_clock(f->pl, mono, wall);
	pipeline_tick(f->pl);
	check_marks(f, mono);
}

static bool live_done(void *ctx)
{
	return pipeline_done(((struct live_feed *)ctx)->pl);
}

static bool live_answered(void *ctx)
{
	return !pipeline_waiting(((struct live_feed *)ctx)->pl);
}

static int live_flush(void *ctx)
{
	return pipeline_flush(((struct live_feed *)ctx)->pl);
}

/*
 * The run is over (its end, --duration, or a signal) but packets may still wait for their
 * rule texts: the sources go on being read, for the resolvers' answers and the ruleset
 * events that settle an nft listing (records are ignored now), until no packet waits —
 * each at most its bound — or another signal comes. The rules are still in meanwhile.
 */
static int wait_for_texts(struct live_feed *feed, struct loop_cfg *cfg, enum loop_stage *stage)
{
	static const struct loop_ops ops = {
		.datagram = live_datagram, .deadline = live_deadline, .tick = live_tick,
		.done = live_answered, .flush = live_flush,
	};
	sig_atomic_t sig = stop_signal;
	int ret;

	feed->ended = true;
	pipeline_end_input(feed->pl);
	if (pipeline_done(feed->pl) || !pipeline_waiting(feed->pl))
		return 0;
	/* As for teardown: the signal that ended the run does not end this wait, a second does. */
	stop_signal = 0;
	cfg->ops = &ops;
	cfg->end_ns = UINT64_MAX;	/* each packet's bound ends it */
	ret = loop_run(cfg, stage);
	if (!stop_signal)
		stop_signal = sig;
	return ret;
}

static int run_live(const struct iptrace_opts *o, struct pipeline *pl, struct live *lv,
		    const sigset_t *waitmask)
{
	static const struct loop_ops ops = {
		.datagram = live_datagram, .overrun = live_overrun, .deadline = live_deadline,
		.tick = live_tick, .done = live_done, .flush = live_flush,
	};
	/* A marker with nothing to check (nft alone) never wakes the loop for it. */
	struct live_feed feed = {
		.lv = lv, .pl = pl,
		.next_check = lv->marker && marker_checks(lv->marker) ? 0 : UINT64_MAX,
	};
	struct loop_source src[LOOP_MAX_SOURCES];
	struct loop_cfg cfg = {
		.src = src, .end_ns = loop_end_ns(o->duration),
		.stop = &stop_signal, .waitmask = waitmask, .rx = lv->rx, .ops = &ops,
		.ctx = &feed,
	};
	enum loop_stage stage;
	uint64_t drops;
	int ret;

	if (lv->nflog)
		src[cfg.nsrc++] = (struct loop_source){ nflog_src_fd(lv->nflog), NLREC_NFLOG };
	if (lv->nftrace)
		src[cfg.nsrc++] = (struct loop_source){ nftrace_src_fd(lv->nftrace), NLREC_NFTRACE };
	if (lv->resolver)
		src[cfg.nsrc++] = (struct loop_source){ resolver_fd(lv->resolver), RESOLVER_SOURCE };
	if (lv->nftrule)
		src[cfg.nsrc++] = (struct loop_source){ nftrule_fd(lv->nftrule), NFTRULE_SOURCE };
	ret = loop_run(&cfg, &stage);
	/* Records lost at the very end of a burst leave no gap: the socket counted them. */
	if (lv->nflog && nflog_src_drops(lv->nflog, &drops) == 0)
		pipeline_socket_drops(pl, drops);
	if (ret == 0)
		ret = wait_for_texts(&feed, &cfg, &stage);
	/*
	 * The warning is said once a minute: without this, the put-backs after it go unsaid, and
	 * a short capture under a firewall that reloads every few seconds says "1 time".
	 */
	if (feed.put_back > feed.said_put_back)
		diag_warning("iptrace's TRACE rules were put back %llu times in all, after other "
			     "programs rewrote the raw table; packets in between were not traced",
			     (unsigned long long)feed.put_back);
	if (ret < 0) {
		diag_error("%s: %s", stage == LOOP_POLL ? "poll" : "receiving trace records", strerror(-ret));
		return EXIT_FAILURE;
	}
	return 0;
}

/*
 * --backend auto (README, "Marker choice"): legacy tables in use (read from /proc,
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
 * bytes). A burst of 20,000 packets through three legacy tables, at the 200,000 packets/s
 * one sender reaches, is 100,000 records (83 MB) in 0.1 s, far faster than any reader:
 * 48 MiB, doubled, holds it (BENCHMARKS.md). Kernel memory, and only while records wait;
 * not iptrace's RSS.
 */
#define NFLOG_RCVBUF	(48u << 20)
#define NFTRACE_RCVBUF	(48u << 20)

/* A failed or interrupted wait for the xtables lock in set-up: nothing was changed. */
static int lock_failed(struct xtlock *lock, int ret)
{
	diag(ret == -EINTR ? DIAG_INFO : DIAG_ERROR, "%s: nothing was changed",
	     xtlock_error(lock));
	return ret == -EINTR ? SETUP_STOPPED : EXIT_FAILURE;
}

static int live_setup_locked(const struct iptrace_opts *o, struct live *lv,
			     struct xtlock *lock, const char *tag, const char *desc)
{
	struct nflog_cfg nc = {
		.group = 0, .copy_range = 256, .rcvbuf = o->rcvbuf ? o->rcvbuf : NFLOG_RCVBUF,
		.qthresh = 0, .flush_cs = 0, .nlbufsiz = 0,
	};
	static const int pfs[2] = { 2, 10 };
	enum marker_kind kind = choose_marker(o);
	struct state_tally tally;
	uint32_t port;
	int ret;

	/* Say it plainly up front, rather than as some socket's EPERM later. */
	if (!privs_have(CAP_NET_ADMIN)) {
		diag_error("need root or CAP_NET_ADMIN to trace (try sudo)");
		return EXIT_FAILURE;
	}
	/* Where this capture's own state goes, trusted before anything else (state.h). */
	ret = state_check_dir();
	if (ret < 0) {
		if (ret != -EPERM)
			diag_error("cannot use the state directory %s: %s", state_dir(), strerror(-ret));
		return EXIT_FAILURE;
	}
	/* Released by live_setup() once the rules are in (the marker takes it nested). */
	if (kind != MARKER_NFT && (ret = xtlock_take(lock)) < 0)
		return lock_failed(lock, ret);
	/* A capture killed here before us left rules and a binding: undo them first. */
	ret = state_cleanup(true, lock, &tally);
	if (ret == -EINTR)
		return lock_failed(lock, ret);
	if (ret < 0 && ret != -EPERM)
		diag_warning("cannot read the state of earlier captures in %s: %s", state_dir(),
			     strerror(-ret));
	if (state_taken(getpid())) {
		diag_error("a capture with pid %d runs in another PID namespace and uses %s too: "
			   "its state file would be overwritten; give this one its own "
			   "IPTRACE_STATE_DIR", (int)getpid(), state_dir());
		return EXIT_FAILURE;
	}
	ret = state_init(&lv->st, tag);
	if (ret < 0) {
		diag_error("cannot identify the network namespace: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	lv->lb = lv->st.lb;
	snprintf(lv->st.desc, sizeof(lv->st.desc), "%s", desc);
	lv->nflog = nflog_src_open(&nc);
	if (!lv->nflog) {
		int e = errno;

		/* The nft marker's records don't need group 0: only legacy steps are lost. */
		if (e == EPERM && kind == MARKER_NFT && nflog_group_owner(0, &port) == 0) {
			diag_warning("NFLOG group 0 is owned by netlink port id %u: legacy-table "
				     "steps can't be shown, only nf_tables ones", port);
		} else {
			if (e == EPERM)
				explain_owner();
			else
				diag_error("cannot open an nfnetlink_log socket: %s", strerror(e));
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
			diag_error("cannot read nf_log/%d: %s", pfs[f], strerror(-ret));
			return EXIT_FAILURE;
		}
		/* Intent first: a SIGKILL after the write still finds what to restore. */
		if (lv->lb[f].changed && save_state(lv) < 0)
			return EXIT_FAILURE;
		ret = logbind_apply(&lv->lb[f]);
		if (ret < 0) {
			/* A container's /proc/sys is read-only unless it is privileged. */
			diag_error("cannot bind nfnetlink_log to nf_log/%d: %s%s", pfs[f], strerror(-ret),
				   ret == -EROFS ? " (legacy iptables tables need /proc/sys writable: "
				   "in a container, a privileged one)" : "");
			return EXIT_FAILURE;
		}
	}
	lv->rx = rxbatch_new(RX_BATCH, RX_SLOT);
	if (!lv->rx) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	if (kind != MARKER_LEGACY) {
		/* Subscribed before the marker exists: no record of the capture is missed. */
		lv->nftrace = nftrace_src_open(o->rcvbuf ? o->rcvbuf : NFTRACE_RCVBUF);
		if (!lv->nftrace) {
			diag_error("cannot open an nf_tables trace socket: %s", strerror(errno));
			return EXIT_FAILURE;
		}
	}
	lv->marker = marker_new(kind, &o->sel, tag, lock);
	if (!lv->marker) {
		diag_error("cannot create the marker: %s", strerror(errno));
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
		diag_error("cannot install the trace rules: %s", marker_error(lv->marker));
		return EXIT_FAILURE;
	}
	return 0;
}

/*
 * Set-up in order; on failure undo what was done. Returns 0, an exit code, or
 * SETUP_STOPPED. With legacy tables involved, the xtables lock is taken before anything
 * changes and held until the rules are in: a wait for it (bounded by --wait, ended by a
 * signal) leaves everything as it was, the stale captures' leftovers and the logger
 * binding included.
 */
static int live_setup(const struct iptrace_opts *o, struct live *lv, struct xtlock *lock,
		      const char *tag, const char *desc)
{
	int rc = live_setup_locked(o, lv, lock, tag, desc);

	if (xtlock_held(lock))
		xtlock_drop(lock);
	return rc;
}

/*
 * Teardown, in reverse order of set-up; safe on a partial set-up. Returns 0 or 1. Rules
 * that can't be removed (the xtables lock held past --wait, or a signal ended that wait)
 * stay with the logger binding they report through: restoring it alone would send their
 * records to the kernel log. The state file then says what is left for --cleanup.
 */
static int live_teardown(struct live *lv, bool forgive)
{
	bool rules_left = false;
	int rc = 0, ret;

	if (lv->marker) {
		ret = marker_remove(lv->marker);
		/*
		 * @forgive: no signal ended the run, so one that came while removing the rules
		 * waited for the xtables lock is the run's first: it ends the capture, not the
		 * clean-up. Only a second one gives up (the rules then stay, for --cleanup).
		 */
		if (ret == -EINTR && forgive) {
			int sig = stop_signal;

			stop_signal = 0;
			ret = marker_remove(lv->marker);
			if (!stop_signal)
				stop_signal = sig;
		}
		if (ret < 0) {
			diag_error("cannot remove the trace rules: %s", marker_error(lv->marker));
			rc = EXIT_FAILURE;
			rules_left = lv->st.legacy[0] || lv->st.legacy[1];
		}
	}
	nftrace_src_close(lv->nftrace);
	lv->nftrace = NULL;
	rxbatch_free(lv->rx);
	lv->rx = NULL;
	for (int f = 1; lv->lb && f >= 0; f--) {
		if (rules_left) {
			if (lv->lb[f].changed)
				diag_info("nf_log/%d stays bound to nfnetlink_log while the rules are in",
					  lv->lb[f].pf);
			continue;
		}
		ret = logbind_restore(&lv->lb[f]);
		if (ret < 0) {
			diag_error("cannot restore nf_log/%d to '%s': %s", lv->lb[f].pf, lv->lb[f].saved,
				   strerror(-ret));
			rc = EXIT_FAILURE;
		}
	}
	nflog_src_close(lv->nflog);
	lv->nflog = NULL;
	if (lv->st_saved) {
		if (rc == 0) {
			state_remove(&lv->st);
			close(lv->st_lock);
			lv->st_saved = false;
		} else {
			/* What was undone is no longer in it (a restored binding, say). */
			save_state(lv);
			diag_error("left %s/%d.state: run 'iptrace --cleanup' to retry", state_dir(),
				   (int)lv->st.pid);
		}
	}
	return rc;
}

/* Everything one run holds: set up in this order, torn down in reverse. */
struct run {
	struct iptrace_opts	o;
	sigset_t		waitmask;	/* the signal mask inside ppoll() */
	struct output		*output;	/* stdout or --output */
	FILE			*out;		/* output's stream */
	struct sink		sink;
	struct demo		*demo;		/* --demo: the lab */
	struct ct_lookup	*ct;		/* --nat */
	struct live		lv;		/* live tracing */
	struct pipeline		*pl;
	struct xtlock		*lock;		/* iptables' lock, for the legacy rules */
	struct output		*pcap_output;	/* --pcap */
	struct sink		pcap;
	FILE			*in;		/* --read */
	struct nlrec		*replay;	/* --replay */
	char			outname[4096];	/* --output-time's expansion */
	struct utsname		uts;		/* the host name: the default node name */
};

/* Signals only set the flag; they are unblocked inside ppoll() alone. */
static void catch_signals(sigset_t *waitmask)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The output file and the sink that writes to it. 0, an exit code or SETUP_STOPPED. */
static int open_sink(struct run *r)
{
	struct iptrace_opts *o = &r->o;

	if (o->output_time && expand_output_time(o, r->outname, sizeof(r->outname)) < 0) {
		diag_error("cannot expand --output '%s' with the time", o->output);
		return EXIT_USAGE;
	}
	/* The journal sink sends to the journal itself: no file to create. */
	r->output = output_open(strcmp(o->format, "journal") == 0 ? NULL : o->output,
				&stop_signal, &r->waitmask);
	if (!r->output)
		return errno == EINTR ? SETUP_STOPPED : EXIT_FAILURE;	/* else said why */
	r->out = output_file(r->output);
	r->sink.ops = sink_lookup(o->format);
	r->sink.out = r->out;
	r->sink.opts.color = want_color(o, output_fd(r->output));
	r->sink.opts.time_prefix = o->log_time;
	/*
	 * Live: flushed when the sockets run dry; --replay, --merge: at the end. --read keeps
	 * per packet.
	 */
	r->sink.opts.deferred_flush = o->mode == MODE_TRACE || o->mode == MODE_REPLAY ||
				      o->mode == MODE_MERGE;
	r->sink.opts.show_node = o->node || o->mode == MODE_MERGE;
	if (o->pcap) {
		r->pcap_output = output_open(o->pcap, &stop_signal, &r->waitmask);
		if (!r->pcap_output)
			return errno == EINTR ? SETUP_STOPPED : EXIT_FAILURE;
		r->pcap = (struct sink){ .ops = &sink_pcap_ops,
					 .out = output_file(r->pcap_output) };
	}
	return 0;
}

/* --demo: build the lab (signals are blocked: one aborts it), then trace in its router. */
static int demo_begin(struct run *r)
{
	int ret;

	/* Said plainly, not as ip(8)'s "mount --make-shared /run/netns failed". */
	if (!privs_have(CAP_SYS_ADMIN) || !privs_have(CAP_NET_ADMIN)) {
		diag_error("--demo needs root: it builds network namespaces (try sudo)");
		return EXIT_FAILURE;
	}
	r->demo = demo_new();
	if (!r->demo)
		return errno == EINTR ? 0 : EXIT_FAILURE;
	ret = enter_netns(demo_router(r->demo));
	if (ret < 0) {
		diag_error("cannot enter the demo's router namespace: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	demo_intro(r->demo);
	r->o.mode = MODE_TRACE;
	return 0;
}

/*
 * Live tracing up to its first record: marker, sockets, rule text; then privileges and
 * file access cut to what the rest needs. 0, an exit code or SETUP_STOPPED.
 */
static int trace_begin(struct run *r)
{
	const struct iptrace_opts *o = &r->o;
	struct live *lv = &r->lv;
	char tag[64], desc[256];
	int rc, ret;

	snprintf(tag, sizeof(tag), "iptrace:%ld", (long)getpid());
	/* For --nat, and for the source NAT of nat POSTROUTING, which only conntrack shows. */
	r->ct = ct_lookup_open();
	if (!r->ct && o->nat) {
		diag_error("cannot open a conntrack socket for --nat: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	if (!r->ct)
		diag_warning("cannot open a conntrack socket (%s): the source NAT of nat "
			     "POSTROUTING (SNAT, MASQUERADE) won't show", strerror(errno));
	selection_describe(&o->sel, desc, sizeof(desc));
	rc = live_setup(o, lv, r->lock, tag, desc);
	if (rc)
		return rc;
	/* Not before: a start that fails leaves an existing --record file as it was. */
	if (o->record) {
		lv->rec = nlrec_create(o->record);
		if (!lv->rec) {
			diag_error("cannot create '%s': %s", o->record, strerror(errno));
			return EXIT_FAILURE;
		}
	}
	/*
	 * After the marker (its own rules are in the tables the reader first reads), before
	 * capabilities go (the reader keeps what GET_ENTRIES needs).
	 */
	if (lv->nflog) {
		lv->resolver = resolver_new(&(struct resolver_cfg){
			.nflog_portid = nflog_src_portid(lv->nflog) });
		if (!lv->resolver)
			diag_warning("cannot start the table reader (%s): legacy steps show no rule "
				     "text", strerror(errno));
	}
	/* In the traced namespace; its events come on the nftrace socket (pipeline.c). */
	if (lv->nftrace && !(lv->nftrule = nftrule_new(&(struct nftrule_cfg){ 0 })))
		diag_warning("cannot read nft rules (%s): nft steps show handles only",
			     strerror(errno));
	/*
	 * Legacy and nft steps both: where they share a hook and a priority only the kernel
	 * knows which runs first (the one registered last), and only kernels with
	 * nfnetlink_hook say it. Without it the grouper reads the order from the records.
	 */
	if (lv->nflog && lv->nftrace) {
		lv->hooks = nfhook_order_new();
		ret = lv->hooks ? nfhook_order_load(lv->hooks) : -ENOMEM;
		if (ret == -EOPNOTSUPP)
			diag_info("the kernel does not list its hooks (no nfnetlink_hook): the order "
				  "of legacy and nft chains at one hook and priority comes from the records");
		else if (ret < 0)
			diag_warning("cannot read the kernel's hook order: %s", strerror(-ret));
	}
	/* Set-up is done: from here on only teardown's needs remain. */
	ret = privs_keep_net();
	if (ret < 0)
		diag_warning("cannot drop capabilities: %s", strerror(-ret));
	/* Without Landlock (or under a seccomp filter that refuses it) this is all there is. */
	ret = confine_files(&(struct confine_paths){
		.state_dir = state_dir(), .lock_file = xtlock_path(r->lock) });
	if (ret < 0 && ret != -EOPNOTSUPP)
		diag_warning("cannot confine file access: %s", strerror(-ret));
	diag_info("tracing %s with the %s marker (rules tagged %s); Ctrl-C to stop", desc,
		  marker_name(lv->marker), tag);
	/* Type=notify: the rules are in and the socket is bound. */
	ret = notify_send("READY=1\nSTATUS=tracing");
	if (ret < 0)
		diag_warning("cannot notify the service manager: %s", strerror(-ret));
	if (r->demo && (ret = demo_start(r->demo)) < 0) {
		diag_error("cannot start the demo's client: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	return 0;
}

static void table_seen_v4(void *pl, const char *name)
{
	pipeline_table_seen(pl, AF_INET, name);
}

static void table_seen_v6(void *pl, const char *name)
{
	pipeline_table_seen(pl, AF_INET6, name);
}

/*
 * The node every record is stamped with: --node, else for a capture here the host name —
 * uname's, which --netns leaves as it is (it enters the network namespace only); none for
 * records from elsewhere (--read, --replay) or read with their own (--merge).
 */
static const char *node_name(struct run *r)
{
	if (r->o.node)
		return r->o.node;
	if (r->o.mode != MODE_TRACE && r->o.mode != MODE_DEMO)
		return NULL;
	if (uname(&r->uts) < 0 || !trace_node_ok(r->uts.nodename))
		return NULL;
	return r->uts.nodename;
}

static int make_pipeline(struct run *r)
{
	const struct iptrace_opts *o = &r->o;
	struct pipeline_cfg pc = {
		.window_ns = (uint64_t)o->window_ms * 1000000ull,
		.count = o->count,
		.no_group = o->no_group,
		.verbose = o->verbose,
		.marker = r->lv.marker,
		.live_ifnames = o->mode == MODE_TRACE,
		.resolver = r->lv.resolver,
		.nftrule = r->lv.nftrule,
		.hooks = r->lv.hooks,
		.ct = r->o.nat ? r->ct : NULL,
		.ct_snat = r->ct,
		.node = node_name(r),
	};
	bool offline = o->mode == MODE_READ || o->mode == MODE_REPLAY || o->mode == MODE_MERGE;

	if (offline && (!selection_empty(&o->sel) || o->want_families))
		pc.filter = &o->sel;

	/* --read: until its first line tells its clock (run_read()), no window closes. */
	if (o->mode == MODE_READ)
		pc.window_ns = UINT64_MAX / 2;
	r->pl = pipeline_new(&pc, &r->sink);
	if (!r->pl) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	/* The legacy tables there now report every packet at their hooks (early ends). */
	if (o->mode == MODE_TRACE) {
		legacy_tables(AF_INET, table_seen_v4, r->pl);
		legacy_tables(AF_INET6, table_seen_v6, r->pl);
	}
	if (r->lv.nftrace) {
		struct live_feed f = { .lv = &r->lv, .pl = r->pl };

		nftrace_src_take_dump(r->lv.nftrace, live_dump, &f);
	}
	if (r->sink.ops->begin(&r->sink) < 0)
		return EXIT_FAILURE;
	/* --pcap: a second sink, fed the same packets. */
	if (r->pcap_output &&
	    (r->pcap.ops->begin(&r->pcap) < 0 || pipeline_add_sink(r->pl, &r->pcap) < 0))
		return EXIT_FAILURE;	/* a failed write: said with its reason at the end */
	return 0;
}

/* What --read skipped, said whatever the format (the JSON summary has no room for it). */
static void say_skipped(const struct logline_stats *st)
{
	if (st->too_long)
		diag_warning("%llu line%s longer than %d bytes skipped: the kernel's are shorter",
			     (unsigned long long)st->too_long, st->too_long == 1 ? "" : "s",
			     LOGLINE_MAX);
	if (st->foreign)
		diag_warning("%llu TRACE line%s that another program logged (not tagged "
			     "'kernel:') skipped", (unsigned long long)st->foreign,
			     st->foreign == 1 ? "" : "s");
	if (st->bad_time)
		diag_warning("%llu line%s with an impossible time skipped",
			     (unsigned long long)st->bad_time, st->bad_time == 1 ? "" : "s");
	if (st->malformed)
		diag_warning("%llu TRACE line%s could not be parsed and were skipped",
			     (unsigned long long)st->malformed, st->malformed == 1 ? "" : "s");
}

/*
 * The input of --read or --replay, opened before anything else is made: one that can't
 * be read is one line on stderr and exit 1, and the output is left alone. 0 or an exit code.
 */
static int open_input(struct run *r)
{
	const char *name = r->o.input;
	struct stat sb;

	if (r->o.mode == MODE_REPLAY) {
		r->replay = nlrec_open(name);
		if (!r->replay) {
			diag_error("cannot open '%s': %s", name,
				   errno == EINVAL ? "not a recorded netlink file" : strerror(errno));
			return EXIT_FAILURE;
		}
		return 0;
	}
	r->in = strcmp(name, "-") == 0 ? stdin : fopen(name, "re");
	if (!r->in) {
		diag_error("cannot open '%s': %s", name, strerror(errno));
		return EXIT_FAILURE;
	}
	/* fopen() takes a directory: its first read() would fail, after the output was emptied. */
	if (fstat(fileno(r->in), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		diag_error("cannot read '%s': %s", name, strerror(EISDIR));
		return EXIT_FAILURE;
	}
	return 0;
}

/* --read: kernel TRACE lines through the same grouper and sinks. */
static int run_read(struct run *r)
{
	struct logline_stats st = { 0 };
	int ret;

	ret = output_start(r->output);
	if (ret == 0)
		ret = pipeline_read(r->pl, r->in, (uint64_t)r->o.window_ms * 1000000ull, &stop_signal,
				    &st);
	say_skipped(&st);
	if (ret == -ENOMEM) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	if (ret < 0 && output_error(r->output) == 0) {
		if (r->in == stdin)
			diag_error("cannot read standard input: %s", strerror(-ret));
		else
			diag_error("cannot read '%s': %s", r->o.input, strerror(-ret));
	}
	return ret < 0 ? EXIT_FAILURE : 0;
}

/* --replay: recorded netlink bytes through the live callbacks, at their recorded times. */
static int run_replay(struct run *r)
{
	struct summary sum;
	uint64_t nat_chunks = 0;
	int ret = output_start(r->output);

	if (ret == 0)
		ret = pipeline_replay(r->pl, r->replay, &stop_signal, &nat_chunks);
	if (ret < 0 && output_error(r->output))
		return EXIT_FAILURE;	/* said with the output's reason, once, by capture() */
	if (ret < 0) {
		diag_error("'%s' is truncated or corrupt", r->o.input);
		return EXIT_FAILURE;
	}
	pipeline_summary(r->pl, &sum);
	if (nat_chunks && !sum.records)
		diag_note("'%s' holds conntrack events, no trace records: replay it with "
			  "--nat-log --replay", r->o.input);
	return 0;
}


/*
 * The trace modes (live, --demo, --read, --replay): records through the pipeline into the
 * sink, then teardown and the summary, last, whatever ended the run. Returns an exit code.
 */
static int capture(struct run *r)
{
	bool stopped = false;
	int rc = 0, ret, sig;

	if (r->o.mode == MODE_DEMO && (rc = demo_begin(r)) != 0)
		goto out;
	if (r->o.mode == MODE_TRACE && (rc = trace_begin(r)) != 0) {
		if (rc != SETUP_STOPPED)
			goto out_teardown;
		/* A signal in set-up: an empty run (its summary too), like one a signal ends. */
		stopped = true;
	}
	if ((r->o.mode == MODE_READ || r->o.mode == MODE_REPLAY) && (rc = open_input(r)) != 0)
		goto out_teardown;
	rc = make_pipeline(r);
	if (rc || stopped)
		goto out_teardown;
	switch (r->o.mode) {
	case MODE_TRACE:
		/* Set up: an existing output file is emptied only now. */
		if (output_start(r->output) < 0 ||
		    (r->pcap_output && output_start(r->pcap_output) < 0))
			rc = EXIT_FAILURE;
		else
			rc = run_live(&r->o, r->pl, &r->lv, &r->waitmask);
		break;
	case MODE_READ:
		rc = run_read(r);
		break;
	case MODE_REPLAY:
		rc = run_replay(r);
		break;
	case MODE_MERGE:
		rc = output_start(r->output) < 0 ? EXIT_FAILURE : run_merge(&r->o, r->pl);
		break;
	default:
		break;
	}
out_teardown:
	if (r->o.mode == MODE_TRACE) {
		/*
		 * The signal that ended the run must not also end teardown's wait for the
		 * xtables lock: only another one does (the rules then stay, for --cleanup).
		 */
		sig = stop_signal;
		stop_signal = 0;
		ret = live_teardown(&r->lv, !sig);
		if (!stop_signal)
			stop_signal = sig;
		if (ret && !rc)
			rc = ret;
	}
	if (r->pl) {
		int fin = pipeline_finish(r->pl, r->lv.marker ? marker_name(r->lv.marker) : NULL);
		/* A failed write is said (once, with its reason) before the summary. */
		bool failed = output_say_error(r->output) |
			      (r->pcap_output && output_say_error(r->pcap_output));

		/* The sink's own failure (the journal's), or the output's but a closed pipe. */
		if (failed || (fin < 0 && !output_error(r->output) && !stop_signal))
			rc = rc ? rc : EXIT_FAILURE;
		print_text_summary(&r->o, r->pl, failed);
		pipeline_free(r->pl);
	}
	if (r->in && r->in != stdin)
		fclose(r->in);
	nlrec_close(r->replay);
	resolver_free(r->lv.resolver);
	nftrule_free(r->lv.nftrule);
	nfhook_order_free(r->lv.hooks);
	marker_free(r->lv.marker);
	ct_lookup_close(r->ct);
	if (r->lv.rec && nlrec_close(r->lv.rec) < 0) {
		diag_error("cannot write to '%s': %s", r->o.record, strerror(errno));
		rc = rc ? rc : EXIT_FAILURE;
	}
out:
	if (demo_free(r->demo) < 0 && !rc)
		rc = EXIT_FAILURE;
	return rc;
}

/*
 * --cleanup: every stale capture, or only those of --netns's namespace. Refused files and
 * failed cleanups make it exit 1 (each said with its reason); a signal ends its wait for
 * the xtables lock the default way.
 */
static int run_cleanup(const struct iptrace_opts *o)
{
	struct xtlock *lock = xtlock_new(&(struct xtlock_cfg){ .wait_s = o->wait_s });
	struct state_tally t;
	int ret;

	if (!lock) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	ret = state_cleanup(o->netns != NULL, lock, &t);
	xtlock_free(lock);
	if (ret < 0) {
		if (ret == -EACCES)
			diag_error("cleanup failed: %s: %s (run as root)", state_dir(), strerror(-ret));
		else if (ret != -EPERM)
			diag_error("cleanup failed: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	diag_info("%d stale capture(s) cleaned up", t.cleaned);
	if (t.refused)
		diag_error("%d state file(s) refused, left as they are: see above", t.refused);
	if (t.failed)
		diag_error("%d capture(s) not cleaned up, their state kept: see above", t.failed);
	return t.refused || t.failed ? EXIT_FAILURE : 0;
}

/* Modes that need neither output nor signals. -1 when @o's mode is not one of them. */
static int run_plain(const struct iptrace_opts *o)
{
	struct state_tally t;
	int ret;

	switch (o->mode) {
	case MODE_CLEANUP:
		return run_cleanup(o);
	case MODE_LIST: {
		struct output *out = output_open(NULL, NULL, NULL);

		if (!out)
			return EXIT_FAILURE;
		/* A reader that goes away (| head) ends the list: EPIPE, no signal. */
		signal(SIGPIPE, SIG_IGN);
		ret = state_list(output_file(out), &t);
		if (ret < 0 && ret != -EPERM)
			diag_error("cannot list the captures in %s: %s%s", state_dir(), strerror(-ret),
				   ret == -EACCES ? " (run as root)" : "");
		if (output_say_error(out))
			ret = -EIO;
		output_close(out);
		return ret < 0 || t.refused ? EXIT_FAILURE : 0;
	}
	case MODE_TRACE:
		/* Checked here, in the traced namespace, before anything is opened. */
		if (o->sel.iface[0] && o->sel.iface[strlen(o->sel.iface) - 1] != '+' &&
		    !if_nametoindex(o->sel.iface)) {
			diag_error("unknown interface '%s'", o->sel.iface);
			return EXIT_USAGE;
		}
		/* Only here is it known whether --backend auto takes the libiptc marker. */
		if (choose_marker(o) != MARKER_NFT && !sel_limit_fits_xt(&o->sel)) {
			diag_error("--limit above 10000/s is refused by the legacy marker's limit "
				   "match (use --backend nft, or a lower rate)");
			return EXIT_USAGE;
		}
		return -1;
	default:
		return -1;
	}
}

/*
 * A descriptor 0, 1 or 2 the caller closed is held open on /dev/null the wrong way round
 * (read-only for output): no socket or file of ours can become "standard output", and a
 * write to it fails with EBADF, which is said.
 */
static void hold_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd ? O_RDONLY : O_WRONLY) < 0)
			break;
}

int main(int argc, char **argv)
{
	struct run r = { 0 };
	char err[256];
	int rc, ret;

	hold_std_fds();
	if (options_parse(argc, argv, &r.o, err, sizeof(err)) < 0) {
		diag_error("%s", err);
		return EXIT_USAGE;
	}
	if (r.o.mode == MODE_HELP) {
		options_usage(stdout);
		return 0;
	}
	if (r.o.mode == MODE_VERSION) {
		printf("iptrace %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (r.o.netns && (ret = enter_netns(r.o.netns)) < 0) {
		/* setns() says EINVAL for a file that is not a network namespace. */
		diag_error("cannot enter network namespace '%s': %s", r.o.netns,
			   ret == -ENOENT ? "no such namespace" :
			   ret == -EINVAL ? "not a network namespace" : strerror(-ret));
		return ret == -ENOENT || ret == -EINVAL ? EXIT_USAGE : EXIT_FAILURE;
	}
	rc = run_plain(&r.o);
	if (rc >= 0)
		return rc;
	catch_signals(&r.waitmask);
	r.lock = xtlock_new(&(struct xtlock_cfg){
		.wait_s = r.o.wait_s, .stop = &stop_signal, .waitmask = &r.waitmask });
	if (!r.lock) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	rc = open_sink(&r);
	if (rc) {
		output_close(r.output);
		xtlock_free(r.lock);
		return rc == SETUP_STOPPED ? 0 : rc;
	}
	if (r.o.mode == MODE_NAT_LOG)
		rc = natlog_run(&r.o, r.output, &stop_signal, &r.waitmask);
	else if (r.o.mode == MODE_NAT_TABLE)
		rc = nattable_run(&r.o, r.output);
	else
		rc = capture(&r);
	xtlock_free(r.lock);
	/* Every mode: a write that failed is said once, with the system's reason; exit 1. */
	if (output_say_error(r.output))
		rc = EXIT_FAILURE;
	output_close(r.output);
	if (r.pcap_output && output_say_error(r.pcap_output))
		rc = EXIT_FAILURE;
	output_close(r.pcap_output);
	return rc;
}
