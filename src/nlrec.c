/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlrec.c: recorded netlink message files, so tests and benchmarks replay real kernel bytes */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "iptrace/nlrec.h"

static const char magic[8] = { 'I', 'P', 'T', 'R', 'N', 'L', '0', '1' };

struct chunk_hdr {
	uint16_t	source;
	uint16_t	reserved;
	uint32_t	len;
	uint64_t	ts_ns;
};

/* Reading goes through a block buffer of our own: a chunk is handed out in place, not copied. */
#define NLREC_BLOCK (256u << 10)

struct nlrec {
	FILE		*f;	/* writing */
	int		fd;	/* reading; -1 when writing */
	bool		own_fd;
	bool		eof;
	uint8_t		*buf;	/* reading: [start, end) is read, not yet handed out */
	size_t		cap, start, end;
};

struct nlrec *nlrec_create(const char *path)
{
	struct nlrec *r = calloc(1, sizeof(*r));
	int fd, e;

	if (!r)
		return NULL;
	r->fd = -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		goto err;
	r->f = fdopen(fd, "w");
	if (!r->f) {
		close(fd);
		goto err;
	}
	if (fwrite(magic, sizeof(magic), 1, r->f) != 1) {
		fclose(r->f);
		goto err;
	}
	return r;
err:
	e = errno;
	free(r);
	errno = e;
	return NULL;
}

/*
 * Have at least @want bytes at buf + start, or fewer at the end of the file. The unread
 * tail moves to the front of the buffer (which keeps chunks 4-byte aligned as long as
 * their lengths are); the buffer grows for a chunk larger than a block. 0 or -errno.
 */
static __attribute__((noinline)) int fill_slow(struct nlrec *r, size_t want)
{
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (want > r->cap) {
		uint8_t *nb = realloc(r->buf, want);

		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	while (r->end < want) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			r->eof = true;
			break;
		}
		r->end += (size_t)n;
	}
	return 0;
}

/* The common case inline: the bytes are already there. */
static inline int fill(struct nlrec *r, size_t want)
{
	if (r->end - r->start >= want || r->eof)
		return 0;
	return fill_slow(r, want);
}

struct nlrec *nlrec_open(const char *path)
{
	struct nlrec *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return NULL;
	r->own_fd = strcmp(path, "-") != 0;
	r->fd = r->own_fd ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (r->fd < 0)
		goto err;
	r->buf = malloc(NLREC_BLOCK);
	if (!r->buf)
		goto err_close;
	r->cap = NLREC_BLOCK;
	e = fill(r, sizeof(magic));
	if (e < 0) {
		errno = -e;
		goto err_close;
	}
	if (r->end < sizeof(magic) || memcmp(r->buf, magic, sizeof(magic)) != 0) {
		errno = EINVAL;
		goto err_close;
	}
	r->start = sizeof(magic);
	return r;
err_close:
	e = errno;
	if (r->own_fd)
		close(r->fd);
	errno = e;
err:
	e = errno;
	free(r->buf);
	free(r);
	errno = e;
	return NULL;
}

int nlrec_write(struct nlrec *r, uint16_t source, uint64_t ts_ns, const void *buf, size_t len)
{
	struct chunk_hdr h = { .source = source, .len = (uint32_t)len, .ts_ns = ts_ns };

	if (len > NLREC_MAX_CHUNK)
		return -E2BIG;
	if (fwrite(&h, sizeof(h), 1, r->f) != 1 || (len && fwrite(buf, len, 1, r->f) != 1))
		return -(errno ? errno : EIO);
	return 0;
}

/* nlrec_next() for a chunk not wholly in the buffer, or not aligned there. */
static __attribute__((noinline)) int next_slow(struct nlrec *r, uint16_t *source,
					       uint64_t *ts_ns, const void **buf, size_t *len)
{
	struct chunk_hdr h;
	int ret = fill(r, sizeof(h));

	if (ret < 0)
		return ret;
	if (r->end == r->start)
		return 0;
	if (r->end - r->start < sizeof(h))
		return -EINVAL;
	memcpy(&h, r->buf + r->start, sizeof(h));
	if (h.len > NLREC_MAX_CHUNK || h.reserved != 0)
		return -EINVAL;
	/* The payload is handed out in place: it must be aligned as netlink headers need. */
	if ((r->start + sizeof(h)) % 4 && r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	ret = fill(r, sizeof(h) + h.len);
	if (ret < 0)
		return ret;
	if (r->end - r->start < sizeof(h) + h.len)
		return -EINVAL;
	*source = h.source;
	*ts_ns = h.ts_ns;
	*buf = r->buf + r->start + sizeof(h);
	*len = h.len;
	r->start += sizeof(h) + h.len;
	return 1;
}

/* The chunk at r->start when it is all there and 4-byte aligned (the rule), into @c. */
static inline bool next_fast(struct nlrec *r, struct nlrec_chunk *c)
{
	size_t avail = r->end - r->start;
	struct chunk_hdr h;

	/* The checks of next_slow(), in one go. */
	if (avail < sizeof(h) || r->start % 4)
		return false;
	memcpy(&h, r->buf + r->start, sizeof(h));
	if (h.len > avail - sizeof(h) || h.len > NLREC_MAX_CHUNK || h.reserved)
		return false;
	c->source = h.source;
	c->ts_ns = h.ts_ns;
	c->buf = r->buf + r->start + sizeof(h);
	c->len = h.len;
	r->start += sizeof(h) + h.len;
	return true;
}

int nlrec_next_batch(struct nlrec *r, struct nlrec_chunk *out, int n)
{
	int got = 0;

	/* In place, while the buffer needs no refill: a refill moves what was handed out. */
	while (got < n && next_fast(r, &out[got]))
		got++;
	if (got || !n)
		return got;
	return next_slow(r, &out->source, &out->ts_ns, &out->buf, &out->len);
}

int nlrec_next(struct nlrec *r, uint16_t *source, uint64_t *ts_ns, const void **buf, size_t *len)
{
	struct nlrec_chunk c;
	int ret = nlrec_next_batch(r, &c, 1);

	if (ret > 0) {
		*source = c.source;
		*ts_ns = c.ts_ns;
		*buf = c.buf;
		*len = c.len;
	}
	return ret;
}

int nlrec_close(struct nlrec *r)
{
	int ret = 0;

	if (!r)
		return 0;
	if (r->f && fclose(r->f) == EOF)
		ret = -errno;
	if (r->fd >= 0 && r->own_fd)
		close(r->fd);
	free(r->buf);
	free(r);
	return ret;
}

size_t nlrec_whole_msgs(const void *buf, size_t len)
{
	size_t off = 0, step;

	while ((step = nlrec_msg_step((const char *)buf + off, len - off)))
		off += step;
	return off;
}
