/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_loop.c: the one poll loop on socketpairs (no netlink, no root) */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/loop.h"

struct seen {
	unsigned	n;
	uint16_t	source[64];
	unsigned char	first[64];	/* the first byte of each datagram */
	unsigned	stop_after;	/* done() once this many were seen; 0: never */
	int		fail_at;	/* datagram() fails on this one (1-based); 0: never */
	int		flush_ret;
	unsigned	flushes, ticks;
	unsigned	empty;		/* zero-length datagrams: a SOCK_SEQPACKET peer's end */
};

static int on_datagram(void *ctx, uint16_t source, uint64_t mono, uint64_t wall,
		       const void *buf, size_t len)
{
	struct seen *s = ctx;

	assert_true(mono > 0 && wall > 0);
	if (!len) {
		s->empty++;
		return 0;
	}
	if (s->fail_at && (int)s->n + 1 == s->fail_at)
		return -1;
	assert_true(s->n < 64);
	s->source[s->n] = source;
	s->first[s->n] = *(const unsigned char *)buf;
	s->n++;
	return 0;
}

static bool on_done(void *ctx)
{
	const struct seen *s = ctx;

	return s->stop_after && s->n >= s->stop_after;
}

static int on_flush(void *ctx)
{
	struct seen *s = ctx;

	s->flushes++;
	return s->flush_ret;
}

static void on_tick(void *ctx, uint64_t mono, uint64_t wall)
{
	(void)mono;
	(void)wall;
	((struct seen *)ctx)->ticks++;
}

static const struct loop_ops ops = {
	.datagram = on_datagram, .done = on_done, .flush = on_flush, .tick = on_tick,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct rig {
	int			a[2], b[2];	/* [0] is read by the loop, [1] written */
	struct loop_source	src[2];
	struct rxbatch		*rx;
	struct loop_cfg		cfg;
	sigset_t		mask;
	volatile sig_atomic_t	stop;
	struct seen		seen;
};

static void rig_up(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, r->a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, r->b), 0);
	r->src[0] = (struct loop_source){ r->a[0], 1 };
	r->src[1] = (struct loop_source){ r->b[0], 2 };
	r->rx = rxbatch_new(4, 64);	/* small batches: several rounds per socket */
	assert_non_null(r->rx);
	sigemptyset(&r->mask);
	r->cfg = (struct loop_cfg){
		.src = r->src, .nsrc = 2, .end_ns = UINT64_MAX, .stop = &r->stop,
		.waitmask = &r->mask, .rx = r->rx, .ops = &ops, .ctx = &r->seen,
	};
}

static void rig_down(struct rig *r)
{
	rxbatch_free(r->rx);
	close(r->a[0]);
	close(r->a[1]);
	close(r->b[0]);
	close(r->b[1]);
}

static void put(int fd, unsigned char first, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned char buf[8] = { (unsigned char)(first + i) };

		assert_int_equal(send(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	}
}

/* Every datagram of both sockets, each socket's in order, until done(); flushed before waits. */
static void test_feeds_until_done(void **state)
{
	struct rig r;
	enum loop_stage stage;
	unsigned from_a = 0, from_b = 0;

	(void)state;
	rig_up(&r);
	put(r.a[1], 10, 9);
	put(r.b[1], 100, 6);
	r.seen.stop_after = 15;
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_int_equal(r.seen.n, 15);
	for (unsigned i = 0; i < r.seen.n; i++) {
		if (r.seen.source[i] == 1)
			assert_int_equal(r.seen.first[i], 10 + from_a++);
		else
			assert_int_equal(r.seen.first[i], 100 + from_b++);
	}
	assert_int_equal(from_a, 9);
	assert_int_equal(from_b, 6);
	assert_true(r.seen.flushes >= 1);
	assert_true(r.seen.ticks >= 1);
	rig_down(&r);
}

/* The stop flag ends the wait, yet what is queued is still taken (it belongs to the run). */
static void test_stop_takes_the_queue(void **state)
{
	struct rig r;
	enum loop_stage stage;

	(void)state;
	rig_up(&r);
	put(r.a[1], 1, 3);
	put(r.b[1], 50, 2);
	r.stop = 1;
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_int_equal(r.seen.n, 5);
	assert_int_equal(r.seen.flushes, 0);	/* it never waited */
	rig_down(&r);
}

/* The end time ends an idle run. */
static void test_end_time(void **state)
{
	struct rig r;
	enum loop_stage stage;
	uint64_t t0 = now_ns();

	(void)state;
	rig_up(&r);
	r.cfg.end_ns = t0 + 50 * 1000000ull;
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_true(now_ns() >= r.cfg.end_ns);
	assert_int_equal(r.seen.n, 0);
	rig_down(&r);
}

/* A closed output (datagram() < 0, or a failed flush) ends the run at once. */
static void test_output_gone(void **state)
{
	struct rig r;
	enum loop_stage stage;

	(void)state;
	rig_up(&r);
	put(r.a[1], 1, 6);
	r.seen.fail_at = 3;
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_int_equal(r.seen.n, 2);
	rig_down(&r);

	rig_up(&r);
	r.seen.flush_ret = -1;	/* no SIGPIPE pending: not a signal, the run just ends */
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_int_equal(r.seen.flushes, 1);
	rig_down(&r);
}

/* A socket that fails is reported with the stage it failed in. */
static void test_receive_error(void **state)
{
	struct rig r;
	enum loop_stage stage = LOOP_POLL;
	int fd;

	(void)state;
	rig_up(&r);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);	/* not connected: recvmmsg fails */
	assert_true(fd >= 0);
	r.src[0].fd = fd;
	r.cfg.nsrc = 1;
	r.stop = 1;	/* only the final drain runs */
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	r.stop = 0;
	r.cfg.end_ns = now_ns() + 2000000000ull;
	assert_true(loop_run(&r.cfg, &stage) < 0);
	assert_int_equal(stage, LOOP_RECEIVE);
	close(fd);
	rig_down(&r);
}

/* A peer that is gone (the table reader died): its queue is read, then no busy loop. */
static void test_peer_gone(void **state)
{
	struct rig r;
	enum loop_stage stage;
	int sp[2];

	(void)state;
	rig_up(&r);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	put(sp[1], 7, 2);
	close(sp[1]);
	r.src[0].fd = sp[0];
	r.cfg.nsrc = 1;
	r.cfg.end_ns = now_ns() + 100 * 1000000ull;
	assert_int_equal(loop_run(&r.cfg, &stage), 0);
	assert_int_equal(r.seen.n, 2);
	/* Without the end of polling that socket, each of the 100 ms is a wake-up. */
	assert_true(r.seen.ticks <= 3);
	close(sp[0]);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feeds_until_done),
		cmocka_unit_test(test_stop_takes_the_queue),
		cmocka_unit_test(test_end_time),
		cmocka_unit_test(test_output_gone),
		cmocka_unit_test(test_receive_error),
		cmocka_unit_test(test_peer_gone),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
