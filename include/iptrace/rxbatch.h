/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rxbatch.h: read what a datagram socket has queued, many datagrams per system call */
#ifndef IPTRACE_RXBATCH_H
#define IPTRACE_RXBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The trace sockets get one datagram per trace record (nfnetlink_log's TRACE threshold is
 * 1; nf_tables sends one message per step): one recv() each would be a syscall per record.
 * An rxbatch takes up to @max datagrams per recvmmsg(), each into its own slot of
 * @slot_size bytes. Opaque; caller frees with rxbatch_free().
 */
struct rxbatch;

/* rxbatch_new - room for @max datagrams of @slot_size bytes each. NULL with errno. */
struct rxbatch *rxbatch_new(unsigned max, size_t slot_size);
void rxbatch_free(struct rxbatch *b);

/* rxbatch_max - the most datagrams one rxbatch_recv() returns. */
unsigned rxbatch_max(const struct rxbatch *b);

/*
 * rxbatch_recv - read what @fd has queued, without waiting, up to rxbatch_max() datagrams.
 * Returns how many (fewer than the maximum: the queue was empty then), 0 when nothing was
 * queued, or a negative errno. An error met after some datagrams is not lost: the kernel
 * keeps it for the next call (recvmmsg(2)), so -ENOBUFS (a netlink socket overran) is
 * returned once per overrun, and the datagrams queued after it are read by later calls.
 */
int rxbatch_recv(struct rxbatch *b, int fd);

/*
 * rxbatch_get - datagram @i (< the last rxbatch_recv()'s count): its bytes, borrowed until
 * the next rxbatch_recv(), 4-byte aligned; *@len gets its length. *@truncated (may be
 * NULL) is set when the datagram was longer than a slot and was cut (MSG_TRUNC).
 */
const void *rxbatch_get(const struct rxbatch *b, unsigned i, size_t *len, bool *truncated);

/*
 * rxbatch_rcvbuf - give @fd a receive buffer of @bytes (0: leave it): SO_RCVBUFFORCE, which
 * passes the rmem_max cap with CAP_NET_ADMIN, else SO_RCVBUF, capped. What absorbs a burst
 * while the reader is busy; an overrun shows as ENOBUFS, counted by the callers.
 */
void rxbatch_rcvbuf(int fd, uint32_t bytes);

#endif
