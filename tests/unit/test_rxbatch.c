/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_rxbatch.c: many datagrams per recvmmsg(), on a socketpair (no netlink, no root) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/rxbatch.h"

static void send_n(int fd, unsigned first, unsigned n, size_t len)
{
	char buf[256];

	assert_true(len <= sizeof(buf));
	for (unsigned i = first; i < first + n; i++) {
		memset(buf, (int)(i & 0xff), len);
		assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
	}
}

/* Datagram @i of the last batch is @len bytes of (@seq & 0xff), aligned for netlink. */
static void check(const struct rxbatch *b, unsigned i, unsigned seq, size_t want)
{
	size_t len;
	bool cut = true;
	const unsigned char *p = rxbatch_get(b, i, &len, &cut);

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 4, 0);
	assert_int_equal(len, want);
	assert_false(cut);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(p[k], seq & 0xff);
}

/* Queued datagrams come max at a time, in order, each whole; then the queue is empty. */
static void test_batches(void **state)
{
	struct rxbatch *b = rxbatch_new(8, 100);
	int sv[2];
	size_t len;

	(void)state;
	assert_non_null(b);
	assert_int_equal(rxbatch_max(b), 8);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);

	assert_int_equal(rxbatch_recv(b, sv[0]), 0);	/* nothing queued: no waiting */
	assert_null(rxbatch_get(b, 0, &len, NULL));
	assert_int_equal(len, 0);

	send_n(sv[1], 0, 19, 37);
	assert_int_equal(rxbatch_recv(b, sv[0]), 8);
	for (unsigned i = 0; i < 8; i++)
		check(b, i, i, 37);
	assert_null(rxbatch_get(b, 8, &len, NULL));	/* past the batch */
	assert_int_equal(rxbatch_recv(b, sv[0]), 8);
	for (unsigned i = 0; i < 8; i++)
		check(b, i, 8 + i, 37);
	/* A short batch: what was left. */
	assert_int_equal(rxbatch_recv(b, sv[0]), 3);
	for (unsigned i = 0; i < 3; i++)
		check(b, i, 16 + i, 37);
	assert_int_equal(rxbatch_recv(b, sv[0]), 0);

	/* Lengths differ per datagram; an empty one is a datagram too. */
	send_n(sv[1], 40, 1, 1);
	send_n(sv[1], 41, 1, 0);
	send_n(sv[1], 42, 1, 100);
	assert_int_equal(rxbatch_recv(b, sv[0]), 3);
	check(b, 0, 40, 1);
	check(b, 1, 41, 0);
	check(b, 2, 42, 100);

	close(sv[0]);
	close(sv[1]);
	rxbatch_free(b);
}

/* A datagram longer than a slot is cut to the slot and says so; its neighbours are whole. */
static void test_truncated(void **state)
{
	struct rxbatch *b = rxbatch_new(4, 64);
	int sv[2];
	size_t len;
	bool cut = false;
	const unsigned char *p;

	(void)state;
	assert_non_null(b);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	send_n(sv[1], 1, 1, 10);
	send_n(sv[1], 2, 1, 200);
	send_n(sv[1], 3, 1, 64);
	assert_int_equal(rxbatch_recv(b, sv[0]), 3);
	check(b, 0, 1, 10);
	p = rxbatch_get(b, 1, &len, &cut);
	assert_non_null(p);
	assert_int_equal(len, 64);
	assert_true(cut);
	assert_int_equal(p[63], 2);
	check(b, 2, 3, 64);
	close(sv[0]);
	close(sv[1]);
	rxbatch_free(b);
}

/* Errors come back as a negative errno; bad sizes are refused. */
static void test_errors(void **state)
{
	struct rxbatch *b = rxbatch_new(2, 16);
	int fd;

	(void)state;
	assert_non_null(b);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(rxbatch_recv(b, fd), -EBADF);
	rxbatch_free(b);
	rxbatch_free(NULL);

	errno = 0;
	assert_null(rxbatch_new(0, 16));
	assert_int_equal(errno, EINVAL);
	assert_null(rxbatch_new(4, 0));
	assert_null(rxbatch_new(1u << 20, 1u << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_errors),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
