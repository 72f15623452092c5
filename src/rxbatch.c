/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rxbatch.c: many datagrams per system call for the trace sockets (recvmmsg) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "iptrace/rxbatch.h"

struct rxbatch {
	unsigned	max;
	unsigned	count;	/* of the last rxbatch_recv() */
	size_t		slot;	/* bytes per slot, a multiple of 4 */
	struct mmsghdr	*msgs;
	struct iovec	*iov;
	uint32_t	*buf;	/* uint32_t: netlink alignment; max * slot bytes */
};

struct rxbatch *rxbatch_new(unsigned max, size_t slot_size)
{
	struct rxbatch *b;

	if (!max || slot_size < 4 || slot_size > (1u << 30) / max) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->max = max;
	b->slot = (slot_size + 3) & ~(size_t)3;
	b->msgs = calloc(max, sizeof(*b->msgs));
	b->iov = calloc(max, sizeof(*b->iov));
	/*
	 * Untouched pages cost no memory: a slot's pages are touched only as far as its
	 * datagrams reach, a few hundred bytes for a trace record.
	 */
	b->buf = malloc(max * b->slot);
	if (!b->msgs || !b->iov || !b->buf) {
		rxbatch_free(b);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < max; i++) {
		b->iov[i].iov_base = (char *)b->buf + i * b->slot;
		b->iov[i].iov_len = b->slot;
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return b;
}

void rxbatch_free(struct rxbatch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->iov);
	free(b->msgs);
	free(b);
}

void rxbatch_rcvbuf(int fd, uint32_t bytes)
{
	int v = bytes > INT32_MAX ? INT32_MAX : (int)bytes;

	if (!bytes)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

unsigned rxbatch_max(const struct rxbatch *b)
{
	return b->max;
}

int rxbatch_recv(struct rxbatch *b, int fd)
{
	int n;

	b->count = 0;
	/* The kernel writes each received datagram's msg_len and msg_flags. */
	n = recvmmsg(fd, b->msgs, b->max, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	b->count = (unsigned)n;
	return n;
}

const void *rxbatch_get(const struct rxbatch *b, unsigned i, size_t *len, bool *truncated)
{
	if (i >= b->count) {
		*len = 0;
		if (truncated)
			*truncated = false;
		return NULL;
	}
	*len = b->msgs[i].msg_len;
	if (truncated)
		*truncated = b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC;
	return b->iov[i].iov_base;
}
