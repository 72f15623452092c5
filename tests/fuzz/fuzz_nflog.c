/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_nflog.c: libFuzzer harness — NFLOG netlink bytes through the decoder and the live path */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
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

/*
 * What a decoded record must look like whatever the bytes were: a legacy step with
 * non-empty names that come from the message's own prefix, packet and MAC bytes that are
 * the message's, nothing the decoder does not fill (interface names, the resolver's).
 */
static void check_record(const struct nlmsghdr *nlh, const struct trace_record *r)
{
	char want[16 + 2 * TRACE_NAME_MAX];
	int n;

	if (r->backend != TRACE_BACKEND_LEGACY || r->kind > TRACE_KIND_POLICY ||
	    r->hook < HOOK_NONE || r->hook > HOOK_POSTROUTING ||
	    r->raw_len > TRACE_RAW_MAX || r->hw_len > TRACE_HW_MAX ||
	    !r->table || !r->chain || !r->verdict_chain || r->verdict_chain[0] ||
	    strlen(r->table) >= TRACE_NAME_MAX || strlen(r->chain) >= TRACE_NAME_MAX ||
	    !r->table[0] || !r->chain[0] || r->in[0] || r->out[0] || r->physin[0] ||
	    r->physout[0] || r->rule || r->verdict || r->rule_reason)
		abort();
	n = snprintf(want, sizeof(want), "TRACE: %s:%s:", r->table, r->chain);
	if (n < 0 || !memmem(nlh, nlh->nlmsg_len, want, (size_t)n))
		abort();
	if ((r->raw_len && !memmem(nlh, nlh->nlmsg_len, r->raw, r->raw_len)) ||
	    (r->hw_len && !memmem(nlh, nlh->nlmsg_len, r->hw, r->hw_len)))
		abort();
}

/*
 * The decoder alone, message by message, each copied to end at a guard page (a read past
 * the message faults, in the libraries too), decoded twice over memory filled differently:
 * the same answer and the same record bytes (the grouper and the sinks compare records as
 * bytes, so every byte before raw[] is written: one pool interns a name once, so the two
 * records point at the same copy). Then the log formatter on the record.
 */
static void decode_each(const void *buf, size_t size)
{
	struct names *nm = names_new();
	const struct nlmsghdr *nlh;
	size_t off = 0;

	if (!nm)
		abort();
	while ((nlh = fuzz_next_msg(buf, size, &off))) {
		const struct nlmsghdr *g = fuzz_guarded(nlh);
		struct trace_record a, b;
		struct fuzz_out out;
		int ra, rb;

		memset(&a, 0x00, sizeof(a));
		memset(&b, 0xff, sizeof(b));
		ra = nflog_decode(g, nm, &a);
		rb = nflog_decode(g, nm, &b);
		if (ra != rb)
			abort();
		if (ra != 0) {
			if (ra != -ENOMSG && ra != -EINVAL)
				abort();	/* the header promises only these */
			continue;
		}
		/* libmnl reads up to the aligned length: an unaligned one must be refused. */
		if (g->nlmsg_len % 4)
			abort();
		if (memcmp(&a, &b, offsetof(struct trace_record, raw)) != 0 ||
		    memcmp(a.raw, b.raw, a.raw_len) != 0)
			abort();
		check_record(g, &a);
		if (logline_format(fuzz_out_open(&out), &a) < 0)
			abort();
		fuzz_out_check(&out, false, false);
	}
	names_free(nm);
}

/*
 * The live path: pipeline_dispatch → nlrec_walk → the NFLOG decoder → grouper → sink.
 * @per_msg dispatches message by message with the clock moving 0.6 windows each time,
 * so groups close mid-stream as they do live; otherwise the whole buffer at once, as one
 * recv() is. What the sink wrote must pass the output oracle (harness.h).
 */
static void run_pipeline(const void *buf, size_t size, const struct sink_ops *ops,
			 bool no_group, uint64_t count, bool per_msg)
{
	const struct pipeline_cfg cfg = {
		.window_ns = 1000000, .count = count, .no_group = no_group,
	};

	fuzz_live(&cfg, ops, NLREC_NFLOG, buf, size, per_msg, NULL, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_recv_dup(data, size);

	if (!buf)
		return -1;
	decode_each(buf, size);
	run_pipeline(buf, size, &sink_json_ops, false, 0, false);
	run_pipeline(buf, size, &sink_text_ops, false, 2, true);
	run_pipeline(buf, size, &sink_log_ops, true, 0, false);
	free(buf);
	return 0;
}
