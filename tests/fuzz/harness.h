/* SPDX-License-Identifier: GPL-2.0-or-later */
/* harness.h: what the libFuzzer harnesses share — a sink target, aligned copies, a message walk */
#ifndef IPTRACE_FUZZ_HARNESS_H
#define IPTRACE_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <libmnl/libmnl.h>

#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "iptrace/sink.h"
#include "../oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * FUZZ_ORACLE - for a harness's checking code: no coverage instrumentation. Its branches
 * are not the code under test; traced, they cost more than the target and steer the
 * fuzzer toward inputs that vary the checks rather than what they check.
 */
#define FUZZ_ORACLE __attribute__((no_sanitize("coverage")))

/*
 * The sinks write here: /dev/null, opened once per process (a harness is a process of its
 * own, so this is the one place a static is fine). Formatting still runs in full; only the
 * bytes vanish. Aborts when /dev/null can't be opened: a broken harness must not pass.
 */
static inline FILE *fuzz_null(void)
{
	static FILE *f;

	if (!f) {
		f = fopen("/dev/null", "we");
		if (!f)
			abort();
	}
	return f;
}

/*
 * The output oracle: what a sink wrote for an input, held in memory and checked when the
 * run ends. Text and log output carry no raw control byte (no ESC but sink_text's own
 * colours with @colours), no C1 control and only valid UTF-8; JSON output is one valid
 * JSON value per line, all of it valid UTF-8, each "K_hex" right after its "K" (oracle.h).
 */
struct fuzz_out {
	FILE	*f;
	char	*buf;
	size_t	len;
};

static inline FILE *fuzz_out_open(struct fuzz_out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	if (!o->f)
		abort();
	return o->f;
}

/* fuzz_out_check - close @o and abort when its bytes break the oracle for @json/text. */
static inline void fuzz_out_check(struct fuzz_out *o, bool json, bool colours)
{
	const char *bad;

	if (fclose(o->f) != 0)
		abort();
	bad = json ? oracle_json_lines(o->buf, o->len) : oracle_text(o->buf, o->len, colours);
	if (bad) {
		fprintf(stderr, "output oracle: %s output breaks at byte %zu (0x%02x):\n%.*s\n",
			json ? "JSON" : "text", (size_t)(bad - o->buf), (unsigned char)*bad,
			(int)o->len, o->buf);
		abort();
	}
	free(o->buf);
}

/*
 * fuzz_tmpdir - make a directory of this process's own for @name's files into @dir: under
 * $TMPDIR (run.sh points it at its own, removed at its end, crashes included) or /tmp.
 * Aborts when it can't.
 */
static inline void fuzz_tmpdir(const char *name, char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(dir, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);

	if (n < 0 || (size_t)n >= size || !mkdtemp(dir))
		abort();
}

/*
 * fuzz_dup - a heap copy of the input, 8-byte aligned (as a recv() buffer is), of exactly
 * @size bytes so ASan catches a read one past the end. Caller frees.
 */
static inline void *fuzz_dup(const uint8_t *data, size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		abort();
	if (size)
		memcpy(p, data, size);
	return p;
}

/*
 * fuzz_recv_dup - fuzz_dup() of an input that stands for what one recv() on a netlink
 * socket returned; NULL when it is longer than one can be (not a valid input: the harness
 * returns -1).
 */
static inline void *fuzz_recv_dup(const uint8_t *data, size_t size)
{
	return size > NLREC_MAX_CHUNK ? NULL : fuzz_dup(data, size);
}

/*
 * fuzz_next_msg - the next whole netlink message of @buf at *@off, or NULL at the end.
 * mnl_nlmsg_ok() compares (int)nlmsg_len: a length of 2^31 or more passes as negative and
 * mnl_nlmsg_next() then jumps out of the buffer. Walk with unsigned sizes instead.
 */
static inline const struct nlmsghdr *fuzz_next_msg(const void *buf, size_t size, size_t *off)
{
	const struct nlmsghdr *nlh = (const void *)((const char *)buf + *off);

	if (size - *off < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) ||
	    nlh->nlmsg_len > size - *off)
		return NULL;
	*off += MNL_ALIGN(nlh->nlmsg_len) < size - *off ? MNL_ALIGN(nlh->nlmsg_len) : size - *off;
	return nlh;
}

/*
 * fuzz_guarded - a copy of the message @nlh (fuzz_next_msg()'s) that ends, padding
 * included, where a readable region ends and a PROT_NONE page begins: a read past
 * NLMSG_ALIGN(nlmsg_len) faults, also in code ASan does not instrument (libmnl and
 * libnetfilter_log walk the attributes). 4-byte aligned, the padding zero; valid until the
 * next call. The region is mapped once per process, as fuzz_null() opens its file.
 */
static inline const struct nlmsghdr *fuzz_guarded(const struct nlmsghdr *nlh)
{
	static char *region;
	static size_t room;
	size_t len = MNL_ALIGN(nlh->nlmsg_len), page = (size_t)sysconf(_SC_PAGESIZE);
	char *dst;

	if (!region) {
		room = (NLREC_MAX_CHUNK + page - 1) / page * page;
		region = mmap(NULL, room + page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED || mprotect(region + room, page, PROT_NONE) < 0)
			abort();
	}
	if (len > room)
		abort();	/* fuzz_next_msg() gives none longer than the input */
	dst = region + room - len;
	memcpy(dst, nlh, nlh->nlmsg_len);
	memset(dst + nlh->nlmsg_len, 0, len - nlh->nlmsg_len);
	return (const void *)dst;
}

/*
 * fuzz_feed - @buf from @source through @pl: whole, as one recv() is (@per_msg false), or
 * message by message with the clock moving 0.6 @window each time, so groups close
 * mid-stream as they do live; @each (may be NULL) runs before each message, at its time.
 */
static inline void fuzz_feed(struct pipeline *pl, uint16_t source, const void *buf,
			     size_t size, bool per_msg, uint64_t window,
			     void (*each)(void *ctx, const struct nlmsghdr *nlh, uint64_t now),
			     void *ctx)
{
	const struct nlmsghdr *nlh;
	uint64_t now = 1;
	size_t off = 0;

	if (!per_msg) {
		pipeline_set_clock(pl, now, 0);
		pipeline_dispatch(pl, source, buf, size);
		return;
	}
	while ((nlh = fuzz_next_msg(buf, size, &off))) {
		now += window * 6 / 10;
		pipeline_set_clock(pl, now, now);
		pipeline_tick(pl);
		if (each)
			each(ctx, nlh, now);
		pipeline_dispatch(pl, source, nlh, nlh->nlmsg_len);
	}
}

/*
 * fuzz_live - the live path for an input of @size bytes at @buf from @source: a pipeline
 * with @cfg into a sink of @ops, fed as fuzz_feed() does (@per_msg, @each, @ctx as there;
 * the window is @cfg's), then @end (if any) with @ctx and the pipeline, then finished; what
 * the sink wrote must pass the output oracle. Colours are on for odd sizes: the oracle
 * allows sink_text's own, and only with them on.
 */
static inline void fuzz_live(const struct pipeline_cfg *cfg, const struct sink_ops *ops,
			     uint16_t source, const void *buf, size_t size, bool per_msg,
			     void (*each)(void *ctx, const struct nlmsghdr *nlh, uint64_t now),
			     void (*end)(void *ctx, struct pipeline *pl), void *ctx)
{
	struct fuzz_out out;
	bool color = size % 2;
	struct sink sink = { .ops = ops, .out = fuzz_out_open(&out), .opts = { .color = color } };
	struct pipeline *pl = pipeline_new(cfg, &sink);

	if (!pl)
		abort();
	ops->begin(&sink);
	fuzz_feed(pl, source, buf, size, per_msg, cfg->window_ns, each, ctx);
	if (end)
		end(ctx, pl);
	pipeline_finish(pl, NULL);
	pipeline_free(pl);
	fuzz_out_check(&out, ops == &sink_json_ops, color);
}

/*
 * A structured input read front to back, as LLVM's FuzzedDataProvider does: every read
 * succeeds, giving zeros once the bytes run out, so any input maps to some structure and a
 * mutation changes one field, not the framing of all that follows.
 */
struct fuzz_in {
	const uint8_t	*p;
	size_t		left;
};

static inline uint64_t fuzz_uint(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->left; i++, in->p++, in->left--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_uint(in, 1);
}

/*
 * fuzz_str - a string of up to @size - 1 bytes into @buf, NUL-terminated: a length byte
 * (modulo @size), then that many bytes (fewer at the end of the input). The bytes are any,
 * so a NUL among them ends the C string early, as it would a name the kernel sent.
 */
static inline char *fuzz_str(struct fuzz_in *in, char *buf, size_t size)
{
	size_t n = fuzz_u8(in) % size;

	if (n > in->left)
		n = in->left;
	memcpy(buf, in->p, n);
	buf[n] = '\0';
	in->p += n;
	in->left -= n;
	return buf;
}

#endif
