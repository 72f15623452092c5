/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlrec.h: files of recorded netlink messages, written by --record and read by --replay */
#ifndef IPTRACE_NLREC_H
#define IPTRACE_NLREC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

/*
 * Layout (host byte order; the files in tests/data come from x86_64, little-endian):
 * "IPTRNL01", then chunks: u16 source, u16 reserved (0), u32 len, u64 ts_ns
 * (CLOCK_MONOTONIC at receive), then len bytes — exactly one recv() worth of messages.
 */
enum nlrec_source {
	NLREC_NFLOG = 1,	/* nfnetlink_log group messages */
	NLREC_NFTRACE = 2,	/* nf_tables trace messages */
	NLREC_CONNTRACK = 3,	/* conntrack events */
};

#define NLREC_MAX_CHUNK (1u << 20)

struct nlrec;	/* opaque */

/* nlrec_create - create @path (0640, never through a symlink). NULL with errno. */
struct nlrec *nlrec_create(const char *path);
/* nlrec_open - open @path ("-" for stdin) for reading. NULL with errno (EINVAL: bad magic). */
struct nlrec *nlrec_open(const char *path);
/* nlrec_write - append one chunk. 0 or -errno. */
int nlrec_write(struct nlrec *r, uint16_t source, uint64_t ts_ns, const void *buf, size_t len);
/*
 * nlrec_next - the next chunk: *buf is borrowed until the next call (4-byte aligned).
 * Returns 1, 0 at the end, -EINVAL for a truncated or corrupt file, other -errno.
 */
int nlrec_next(struct nlrec *r, uint16_t *source, uint64_t *ts_ns, const void **buf, size_t *len);

struct nlrec_chunk {
	uint16_t	source;
	uint64_t	ts_ns;
	const void	*buf;	/* borrowed: see nlrec_next_batch() */
	size_t		len;
};

/*
 * nlrec_next_batch - up to @n next chunks into @out, as nlrec_next() gives them one by one,
 * without a call per chunk: each *buf is borrowed until the next call. Returns how many
 * (at least 1 while any are left), 0 at the end, or nlrec_next()'s negative errno.
 */
int nlrec_next_batch(struct nlrec *r, struct nlrec_chunk *out, int n);

/*
 * nlrec_msg_step - the aligned size of the message at @p with @left bytes from it on, or
 * 0 when it is not a whole one: a length below a header, beyond the buffer, or whose
 * aligned size leaves the buffer (libmnl walks a message's attributes up to
 * NLMSG_ALIGN(nlmsg_len), so a last message of unaligned length would be read past the
 * buffer; the kernel's are aligned).
 */
static inline size_t nlrec_msg_step(const char *p, size_t left)
{
	const struct nlmsghdr *nlh = (const void *)p;
	size_t step;

	if (left < sizeof(*nlh))
		return 0;
	/* Not NLMSG_ALIGN(): its 32-bit mask wraps a length near 2^32 to 0. */
	step = ((size_t)nlh->nlmsg_len + 3) & ~(size_t)3;
	if (nlh->nlmsg_len < sizeof(*nlh) || step > left)
		return 0;
	return step;
}

/*
 * nlrec_whole_msgs - how many bytes at the head of a chunk are whole netlink messages (pure).
 * A replayed chunk is file data, not the kernel's: libmnl's mnl_nlmsg_ok() compares
 * (int)nlmsg_len, so a length of 2^31 or more passes as negative and mnl_cb_run() walks out
 * of the buffer; and it walks attributes up to the aligned length, so a last message of
 * unaligned length must stop the walk too. nlrec_walk() makes the same check as it goes;
 * fewer than the chunk's length means a malformed message ended it.
 */
size_t nlrec_whole_msgs(const void *buf, size_t len);

/*
 * nlrec_walk - mnl_cb_run() for messages without a sequence or port id to check (kernel
 * multicast, replayed chunks), with nlrec_whole_msgs()'s checks in the same pass: @cb for
 * each data message while it returns MNL_CB_OK; NLMSG_DONE and an NLMSG_ERROR ack stop, an
 * error report is an error (as libmnl's default callbacks). *@broken: the walk ended on
 * bytes that are not a whole message. Returns MNL_CB_OK/MNL_CB_STOP, or MNL_CB_ERROR with
 * errno set.
 */
static inline int nlrec_walk(const void *buf, size_t len, mnl_cb_t cb, void *data, bool *broken)
{
	const char *p = buf;
	size_t step;
	int ret = MNL_CB_OK;

	for (; (step = nlrec_msg_step(p, len)); p += step, len -= step) {
		const struct nlmsghdr *nlh = (const void *)p;

		if (ret != MNL_CB_OK)
			continue;	/* once stopped, the rest is only checked */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			errno = EINTR;
			ret = MNL_CB_ERROR;
		} else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			ret = cb(nlh, data);
		} else if (nlh->nlmsg_type == NLMSG_DONE) {
			ret = MNL_CB_STOP;
		} else if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
				errno = EBADMSG;
				ret = MNL_CB_ERROR;
			} else if (e->error == 0) {
				ret = MNL_CB_STOP;	/* an acknowledgement */
			} else {
				/* -errno from the kernel; anything (INT_MIN too) from a file. */
				errno = e->error >= -4095 && e->error < 0 ? -e->error :
					e->error > 0 && e->error <= 4095 ? e->error : EPROTO;
				ret = MNL_CB_ERROR;
			}
		}
	}
	*broken = len != 0;
	return ret;
}

/* nlrec_close - flush and close; returns 0 or -errno from the final flush. */
int nlrec_close(struct nlrec *r);

#endif
