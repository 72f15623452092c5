/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loop.c: the one poll loop, for the trace sockets and the conntrack event socket alike */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "iptrace/loop.h"

/*
 * Up to LOOP_ROUNDS batches per socket and wake-up, so that one busy socket does not keep
 * the other and the timer waiting.
 */
#define LOOP_ROUNDS 4

uint64_t loop_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t loop_end_ns(double duration)
{
	return duration > 0 ? loop_clock_ns(CLOCK_MONOTONIC) + (uint64_t)(duration * 1e9) :
			      UINT64_MAX;
}

/*
 * Read what @s has queued without waiting. 0; 1 when the output is gone; -errno when the
 * receive failed.
 */
static int drain(const struct loop_cfg *c, const struct loop_source *s)
{
	for (int round = 0; round < LOOP_ROUNDS; round++) {
		int n = rxbatch_recv(c->rx, s->fd);
		uint64_t mono, wall;

		if (n == -EINTR)
			continue;
		if (n == -ENOBUFS) {
			if (c->ops->overrun)
				c->ops->overrun(c->ctx, s->source);
			continue;
		}
		if (n <= 0)
			return n;
		/* One clock reading per batch: all of its datagrams were queued by now. */
		mono = loop_clock_ns(CLOCK_MONOTONIC);
		wall = loop_clock_ns(CLOCK_REALTIME);
		for (int i = 0; i < n; i++) {
			size_t len;
			const void *buf = rxbatch_get(c->rx, (unsigned)i, &len, NULL);

			if (c->ops->datagram(c->ctx, s->source, mono, wall, buf, len) < 0)
				return 1;
			if (c->ops->done && c->ops->done(c->ctx))
				return 0;
		}
		/* A short batch: the queue was empty, no need to ask again. */
		if ((unsigned)n < rxbatch_max(c->rx))
			return 0;
	}
	return 0;
}

static bool done(const struct loop_cfg *c)
{
	return *c->stop || (c->ops->done && c->ops->done(c->ctx));
}

int loop_run(const struct loop_cfg *c, enum loop_stage *stage)
{
	struct pollfd pfd[LOOP_MAX_SOURCES];
	size_t n = c->nsrc < LOOP_MAX_SOURCES ? c->nsrc : LOOP_MAX_SOURCES;

	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = c->src[i].fd, .events = POLLIN };
	while (!done(c)) {
		uint64_t now = loop_clock_ns(CLOCK_MONOTONIC);
		uint64_t until = c->ops->deadline ? c->ops->deadline(c->ctx) : UINT64_MAX;
		struct timespec ts, *tsp = NULL;
		bool out_failed;
		int ret;

		if (now >= c->end_ns)
			break;
		if (c->end_ns < until)
			until = c->end_ns;
		if (until != UINT64_MAX) {
			uint64_t d = until > now ? until - now : 0;

			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
			tsp = &ts;
		}
		/*
		 * About to wait: what was formatted goes out now. When that fails on a closed
		 * pipe, SIGPIPE is pending (blocked outside ppoll): a ppoll() that doesn't wait
		 * delivers it, and the run ends like a signal; other write errors end it here.
		 */
		out_failed = c->ops->flush && c->ops->flush(c->ctx) < 0;
		if (out_failed) {
			ts = (struct timespec){ 0 };
			tsp = &ts;
		}
		ret = ppoll(pfd, n, tsp, c->waitmask);
		if (out_failed && !*c->stop)
			return 0;	/* the caller reports the output error */
		if (ret < 0 && errno != EINTR) {
			*stage = LOOP_POLL;
			return -errno;
		}
		for (size_t i = 0; ret > 0 && i < n; i++) {
			int r;

			if (!pfd[i].revents)
				continue;
			r = drain(c, &c->src[i]);
			if (r == 1)
				return 0;	/* output closed: end like a signal */
			if (r < 0) {
				*stage = LOOP_RECEIVE;
				return r;
			}
		}
		if (c->ops->tick)
			c->ops->tick(c->ctx, loop_clock_ns(CLOCK_MONOTONIC), loop_clock_ns(CLOCK_REALTIME));
	}
	/* Datagrams already queued belong to the run: take them before teardown. */
	for (size_t i = 0; i < n && !(c->ops->done && c->ops->done(c->ctx)); i++)
		if (drain(c, &c->src[i]) == 1)
			break;
	return 0;
}

/*
 * Between tries: short enough that a freed lock or a new reader is taken at once as a
 * person sees it, long enough to cost nothing while another program holds on for seconds.
 */
#define RETRY_NS	50000000ull

int loop_retry(const struct loop_retry *r)
{
	uint64_t start = loop_clock_ns(CLOCK_MONOTONIC);
	uint64_t limit = r->limit_s < 0 ? UINT64_MAX : (uint64_t)(r->limit_s * 1e9);
	bool said = false;

	for (;;) {
		uint64_t spent, d;
		struct timespec ts;
		int ret = r->attempt(r->ctx);

		if (ret != -EAGAIN)
			return ret;
		if (r->stop && *r->stop)
			return -EINTR;
		spent = loop_clock_ns(CLOCK_MONOTONIC) - start;
		if (spent >= limit)
			return -ETIMEDOUT;
		if (!said && spent >= 1000000000ull && r->slow) {
			r->slow(r->ctx);
			said = true;
		}
		d = limit - spent < RETRY_NS ? limit - spent : RETRY_NS;
		ts = (struct timespec){ .tv_sec = 0, .tv_nsec = (long)d };
		/* A caught signal interrupts it (EINTR): the flag is looked at right after. */
		if (ppoll(NULL, 0, &ts, r->waitmask) < 0 && errno != EINTR)
			return -errno;
		if (r->stop && *r->stop)
			return -EINTR;
	}
}
