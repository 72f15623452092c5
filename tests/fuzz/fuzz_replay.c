/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_replay.c: libFuzzer harness — a --replay file: nlrec's framing, then the chunks through the pipeline */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input: byte 0 says how the file is made, the rest is file bytes.
 *   bit 0 clear: the rest is the whole file (magic, chunk headers, payloads: anything).
 *   bit 0 set:   the magic, then a chunk of source 0 (no decoder) whose length is the next
 *                three bytes (0-8 MiB, masked to 0-320 KiB), then the rest. nlrec.c reads in
 *                256 KiB blocks: the padding puts the fuzzed chunks across a block's end,
 *                where a chunk is refilled, moved and realigned, which small inputs
 *                never reach.
 * bits 1-6 of byte 0: how many chunks one nlrec_next_batch() call may return (1-64).
 * bit 7: --count 1 for the pipeline run (it stops at the first packet).
 *
 * The oracle is the layout nlrec.h documents, read here independently: "IPTRNL01", then
 * chunks of a 16-byte header (u16 source, u16 reserved = 0, u32 len <= NLREC_MAX_CHUNK,
 * u64 ts_ns) and len bytes. The reader must hand out exactly those chunks, in order, each
 * 4-byte aligned and holding the file's own bytes, then say 0 at a clean end or -EINVAL for
 * a truncated or corrupt file, in a bounded number of calls. --replay (pipeline_replay())
 * must then give the same verdict.
 */

#define PAD_MAX (320u << 10)

static const char magic[8] = { 'I', 'P', 'T', 'R', 'N', 'L', '0', '1' };

/* The file lives in a memfd of this process, opened by path as --replay opens its file. */
static int memfd = -1;
static char memfd_path[64];

static void setup(void)
{
	if (memfd >= 0)
		return;
	memfd = memfd_create("fuzz_replay", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
}

/* The file's bytes, built from the input into @buf (room: PAD_MAX + the input). */
static size_t build(const uint8_t *data, size_t size, uint8_t *buf)
{
	size_t n = 0, pad;

	if (!(data[0] & 1)) {
		memcpy(buf, data + 1, size - 1);
		return size - 1;
	}
	pad = size >= 4 ? (data[1] | data[2] << 8 | (size_t)data[3] << 16) % PAD_MAX : 0;
	memcpy(buf, magic, sizeof(magic));
	n = sizeof(magic);
	memset(buf + n, 0, 16 + pad);
	memcpy(buf + n + 4, &(uint32_t){ (uint32_t)pad }, 4);
	n += 16 + pad;
	if (size > 4) {
		memcpy(buf + n, data + 4, size - 4);
		n += size - 4;
	}
	return n;
}

struct chunk {
	uint16_t	source;
	uint64_t	ts;
	size_t		off, len;
};

/*
 * The documented layout: the chunks of @f into @c (room for @max), their number in *@n,
 * and what the reader must end with: 0 (a clean end) or -EINVAL. -1: the magic is wrong,
 * nlrec_open() must fail with EINVAL.
 */
static int model(const uint8_t *f, size_t size, struct chunk *c, size_t max, size_t *n)
{
	size_t off = sizeof(magic);

	*n = 0;
	if (size < sizeof(magic) || memcmp(f, magic, sizeof(magic)) != 0)
		return -1;
	while (off < size) {
		uint16_t source, reserved;
		uint32_t len;
		uint64_t ts;

		if (size - off < 16)
			return -EINVAL;
		memcpy(&source, f + off, 2);
		memcpy(&reserved, f + off + 2, 2);
		memcpy(&len, f + off + 4, 4);
		memcpy(&ts, f + off + 8, 8);
		if (reserved || len > NLREC_MAX_CHUNK || size - off - 16 < len)
			return -EINVAL;
		if (*n == max)
			abort();	/* every chunk takes 16 bytes: max is size / 16 + 1 */
		c[(*n)++] = (struct chunk){ source, ts, off + 16, len };
		off += 16 + len;
	}
	return 0;
}

/* nlrec's reader against the model, @batch chunks a call at most. */
static void read_all(const uint8_t *f, const struct chunk *want, size_t nwant, int end,
		     int batch)
{
	struct nlrec_chunk got[64];
	struct nlrec *r = nlrec_open(memfd_path);
	size_t seen = 0, calls = 0;
	int ret;

	if (end == -1) {
		if (r || errno != EINVAL)
			abort();	/* a file without the magic is refused at open */
		return;
	}
	if (!r)
		abort();
	while ((ret = nlrec_next_batch(r, got, batch)) > 0) {
		if (ret > batch || ++calls > nwant)
			abort();	/* more chunks than the file has: a loop */
		/* Each chunk of this batch is valid until the next call: check them all now. */
		for (int i = 0; i < ret; i++, seen++) {
			const struct chunk *w = &want[seen];

			if (seen >= nwant || got[i].source != w->source || got[i].ts_ns != w->ts ||
			    got[i].len != w->len || ((uintptr_t)got[i].buf & 3) != 0 ||
			    (w->len && memcmp(got[i].buf, f + w->off, w->len) != 0)) {
				fprintf(stderr, "chunk %zu is not the file's\n", seen);
				abort();
			}
		}
	}
	if (ret != end || seen != nwant) {
		fprintf(stderr, "the reader ended with %d after %zu chunks; the file: %d after %zu\n",
			ret, seen, end, nwant);
		abort();
	}
	nlrec_close(r);
}

/* --replay: the file through pipeline_replay() as main.c runs it, into a JSON sink. */
static void replay(int end, bool count_one)
{
	static const volatile sig_atomic_t stop;
	struct sink sink = { .ops = &sink_json_ops, .out = fuzz_null(),
			     .opts = { .deferred_flush = true } };
	struct pipeline_cfg cfg = { .window_ns = 250000000, .count = count_one };
	struct nlrec *r = nlrec_open(memfd_path);
	struct pipeline *pl;
	uint64_t nat_chunks;
	int ret;

	if (!r)
		abort();
	pl = pipeline_new(&cfg, &sink);
	if (!pl || sink.ops->begin(&sink) < 0)
		abort();
	ret = pipeline_replay(pl, r, &stop, &nat_chunks);
	/* --count stops early: a corrupt end may then go unseen, never a sound file refused. */
	if (ret != end && !(count_one && ret == 0 && pipeline_done(pl))) {
		fprintf(stderr, "pipeline_replay() gave %d, the file's end is %d\n", ret, end);
		abort();
	}
	if (pipeline_finish(pl, NULL) < 0)
		abort();
	pipeline_free(pl);
	nlrec_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len, nchunks;
	struct chunk *want;
	uint8_t *f;
	int end;

	if (size == 0 || size > 2 * NLREC_MAX_CHUNK)
		return -1;
	setup();
	f = malloc(PAD_MAX + 16 + sizeof(magic) + size);
	if (!f)
		abort();
	len = build(data, size, f);
	want = malloc((len / 16 + 1) * sizeof(*want));
	if (!want)
		abort();
	end = model(f, len, want, len / 16 + 1, &nchunks);
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, f, len, 0) != (ssize_t)len)
		abort();
	read_all(f, want, nchunks, end, 1 + (data[0] >> 1 & 63));
	if (end != -1)
		replay(end, data[0] & 0x80);
	free(want);
	free(f);
	return 0;
}
