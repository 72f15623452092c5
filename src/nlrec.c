/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlrec.c: recorded netlink message files, so tests and benchmarks replay real kernel bytes */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "iptrace/nlrec.h"

static const char magic[8] = { 'I', 'P', 'T', 'R', 'N', 'L', '0', '1' };

struct chunk_hdr {
	uint16_t	source;
	uint16_t	reserved;
	uint32_t	len;
	uint64_t	ts_ns;
};

struct nlrec {
	FILE		*f;
	uint32_t	*buf;	/* uint32_t for the alignment netlink headers need */
	size_t		cap;
};

struct nlrec *nlrec_create(const char *path)
{
	struct nlrec *r = calloc(1, sizeof(*r));
	int fd, e;

	if (!r)
		return NULL;
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

struct nlrec *nlrec_open(const char *path)
{
	struct nlrec *r = calloc(1, sizeof(*r));
	char m[sizeof(magic)];
	int e;

	if (!r)
		return NULL;
	r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!r->f)
		goto err;
	if (fread(m, sizeof(m), 1, r->f) != 1 || memcmp(m, magic, sizeof(m)) != 0) {
		if (r->f != stdin)
			fclose(r->f);
		errno = EINVAL;
		goto err;
	}
	return r;
err:
	e = errno;
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

int nlrec_next(struct nlrec *r, uint16_t *source, uint64_t *ts_ns, const void **buf, size_t *len)
{
	struct chunk_hdr h;
	size_t n = fread(&h, 1, sizeof(h), r->f);

	if (n == 0 && feof(r->f))
		return 0;
	if (n != sizeof(h) || h.len > NLREC_MAX_CHUNK || h.reserved != 0)
		return -EINVAL;
	if (h.len > r->cap) {
		uint32_t *nb = realloc(r->buf, h.len + 4);

		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = h.len;
	}
	if (h.len && fread(r->buf, h.len, 1, r->f) != 1)
		return -EINVAL;
	*source = h.source;
	*ts_ns = h.ts_ns;
	*buf = r->buf;
	*len = h.len;
	return 1;
}

int nlrec_close(struct nlrec *r)
{
	int ret = 0;

	if (!r)
		return 0;
	if (r->f && r->f != stdin && fclose(r->f) == EOF)
		ret = -errno;
	free(r->buf);
	free(r);
	return ret;
}

size_t nlrec_whole_msgs(const void *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const void *)((const char *)buf + off);
		/* Not NLMSG_ALIGN(): its 32-bit mask wraps a length near 2^32 to 0. */
		size_t step = ((size_t)nlh->nlmsg_len + 3) & ~(size_t)3;

		/*
		 * The aligned size must fit too: libmnl walks a message's attributes up to
		 * NLMSG_ALIGN(nlmsg_len), so a last message of unaligned length would be read
		 * past the buffer. The kernel's messages are always aligned.
		 */
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off || step > len - off)
			break;
		off += step;
	}
	return off;
}
