/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_nflog.c: libFuzzer harness — NFLOG netlink bytes through the decoder and the live path */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <libmnl/libmnl.h>

#include "iptrace/logline.h"
#include "iptrace/nflog.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input is what one recv() on the NFLOG socket could return: any number of netlink
 * messages back to back (tests/fuzz/seeds.c cuts the recorded files into such buffers).
 */

/* What a decoded record must look like whatever the bytes were. */
static void check_record(const struct trace_record *r)
{
	if (r->raw_len > TRACE_RAW_MAX || r->hw_len > TRACE_HW_MAX ||
	    !memchr(r->table, '\0', sizeof(r->table)) || !memchr(r->chain, '\0', sizeof(r->chain)))
		abort();
}

/* Two decodings of one message agree: the same answer, the same record. */
static void same_decoding(int ra, const struct trace_record *a, int rb,
			  const struct trace_record *b)
{
	if (ra != rb)
		abort();
	if (ra == 0 && (memcmp(a, b, offsetof(struct trace_record, raw)) != 0 ||
			a->raw_len != b->raw_len || memcmp(a->raw, b->raw, a->raw_len) != 0))
		abort();
}

/*
 * The decoder alone, message by message, and the log formatter on what it decoded. Every
 * message also goes through one memo (the kinds of message and the last packet, as the
 * live path keeps them), twice: what the memo gives must be what decoding afresh gives.
 */
static void decode_each(const void *buf, size_t size)
{
	struct nflog_memo *memo = nflog_memo_new();
	const struct nlmsghdr *nlh;
	size_t off = 0;

	if (!memo)
		abort();
	while ((nlh = fuzz_next_msg(buf, size, &off))) {
		struct trace_record rec, mrec;
		int ret = nflog_decode(nlh, &rec);

		if (ret == 0) {
			check_record(&rec);
			if (logline_format(fuzz_null(), &rec) < 0)
				abort();
		} else if (ret != -ENOMSG && ret != -EINVAL) {
			abort();	/* the header promises only these */
		}
		for (int pass = 0; pass < 2; pass++)
			same_decoding(ret, &rec, nflog_decode_memo(nlh, &mrec, memo), &mrec);
	}
	nflog_memo_free(memo);
}

/*
 * The live path: pipeline_dispatch → nlrec_walk → the NFLOG decoder → grouper → sink.
 * @per_msg dispatches message by message with the clock moving 0.6 windows each time,
 * so groups close mid-stream as they do live; otherwise the whole buffer at once, as one
 * recv() is.
 */
static void run_pipeline(const void *buf, size_t size, const struct sink_ops *ops,
			 bool no_group, uint64_t count, bool per_msg)
{
	const uint64_t window = 1000000;
	struct sink sink = { .ops = ops, .out = fuzz_null(), .opts = { .color = true } };
	struct pipeline_cfg cfg = {
		.window_ns = window,
		.count = count,
		.no_group = no_group,
	};
	struct pipeline *pl = pipeline_new(&cfg, &sink);

	if (!pl)
		abort();
	ops->begin(&sink);
	fuzz_feed(pl, NLREC_NFLOG, buf, size, per_msg, window, NULL, NULL);
	pipeline_finish(pl, NULL);
	pipeline_free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf;

	if (size > NLREC_MAX_CHUNK)
		return -1;	/* more than one recv() can return: not a valid input */
	buf = fuzz_dup(data, size);
	decode_each(buf, size);
	run_pipeline(buf, size, &sink_json_ops, false, 0, false);
	run_pipeline(buf, size, &sink_text_ops, false, 2, true);
	run_pipeline(buf, size, &sink_log_ops, true, 0, false);
	free(buf);
	return 0;
}
