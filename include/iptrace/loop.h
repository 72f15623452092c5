/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loop.h: the one poll loop — the sockets, a timer, the stop flag, output flushed before a wait */
#ifndef IPTRACE_LOOP_H
#define IPTRACE_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "iptrace/rxbatch.h"

/* A socket the loop reads; @source (NLREC_*) is handed back to the callbacks. */
struct loop_source {
	int		fd;
	uint16_t	source;
};

/* What the loop feeds. Only datagram is required. */
struct loop_ops {
	/*
	 * One datagram of @source, read in a batch at @mono_ns/@wall_ns (CLOCK_MONOTONIC and
	 * CLOCK_REALTIME, read once per batch). Return <0 to end the run: the output is gone.
	 */
	int		(*datagram)(void *ctx, uint16_t source, uint64_t mono_ns, uint64_t wall_ns,
				    const void *buf, size_t len);
	/* @source's socket overran (ENOBUFS): datagrams were lost. */
	void		(*overrun)(void *ctx, uint16_t source);
	/* The next timer, monotonic ns; UINT64_MAX for none. */
	uint64_t	(*deadline)(void *ctx);
	/* After each wake-up, at @mono_ns/@wall_ns: timers that are due. */
	void		(*tick)(void *ctx, uint64_t mono_ns, uint64_t wall_ns);
	/* True once the consumer has what it wants (--count). */
	bool		(*done)(void *ctx);
	/* Before every wait: write what was formatted. <0: the output failed. */
	int		(*flush)(void *ctx);
};

struct loop_cfg {
	const struct loop_source	*src;
	size_t				nsrc;		/* at most LOOP_MAX_SOURCES */
	uint64_t			end_ns;		/* --duration, monotonic; UINT64_MAX: none */
	const volatile sig_atomic_t	*stop;		/* the signal flag */
	const sigset_t			*waitmask;	/* signals unblocked while waiting */
	struct rxbatch			*rx;		/* borrowed */
	const struct loop_ops		*ops;
	void				*ctx;
};

#define LOOP_MAX_SOURCES 4

/* loop_clock_ns - @id (CLOCK_MONOTONIC, CLOCK_REALTIME) in ns: the clocks the loop uses. */
uint64_t loop_clock_ns(clockid_t id);

/* loop_end_ns - the monotonic end of a run of @duration s (--duration); UINT64_MAX for 0. */
uint64_t loop_end_ns(double duration);

/* Where loop_run() failed. */
enum loop_stage { LOOP_POLL, LOOP_RECEIVE };

/*
 * loop_run - wait on the sockets and feed what they queue until a signal, the end time,
 * ops->done() or a closed output, then take what is still queued (it belongs to the run)
 * and return 0. A failed flush first lets a pending SIGPIPE in (a closed pipe ends the run
 * like a signal). -errno when ppoll() or a receive failed, with *@stage saying which.
 */
int loop_run(const struct loop_cfg *cfg, enum loop_stage *stage);

/* What loop_retry() retries, and for how long. */
struct loop_retry {
	/* One try: -EAGAIN to try again in a moment; anything else ends the wait with it. */
	int				(*attempt)(void *ctx);
	/* Called once when the wait passes a second (may be NULL): say what is awaited. */
	void				(*slow)(void *ctx);
	void				*ctx;
	double				limit_s;	/* give up after this long; < 0: never */
	const volatile sig_atomic_t	*stop;		/* the signal flag; NULL: none */
	const sigset_t			*waitmask;	/* signals unblocked while waiting; NULL: as now */
};

/*
 * loop_retry - call @r->attempt until it returns anything but -EAGAIN, sleeping a short
 * while in ppoll() between tries, so that a signal (caught: *@r->stop is set) ends the wait
 * at once. Returns what @r->attempt returned, -EINTR when *@r->stop was set first, or
 * -ETIMEDOUT after @r->limit_s (the first try is always made).
 */
int loop_retry(const struct loop_retry *r);

#endif
