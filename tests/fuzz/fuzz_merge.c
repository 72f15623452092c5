/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_merge.c: libFuzzer harness — JSON lines through --merge's reader, matching and sinks */
#include <errno.h>

#include "iptrace/jsonpkt.h"
#include "iptrace/merge.h"
#include "harness.h"

/* What the JSON sink prints for a packet read back; the caller frees it. */
static char *print(const struct jsonpkt *jp, size_t *n)
{
	struct packet p = { .id = jp->id, .nsteps = jp->nsteps, .steps = jp->steps,
			    .steps_dropped = jp->steps_dropped };
	char *buf = NULL;
	FILE *f = open_memstream(&buf, n);
	struct sink s = { .ops = &sink_json_ops, .out = f };

	if (!f || s.ops->packet(&s, &p) < 0 || fclose(f) != 0)
		abort();
	return buf;
}

/*
 * A packet line that reads must print as a line that reads again, and print the same
 * then: the first print may drop what iptrace never writes (a "rule":null without a
 * verdict, a zero mark), nothing after it may change.
 */
static void round_trip(struct jsonpkt_reader *rd, const char *line, size_t len)
{
	char *copy = fuzz_dup((const uint8_t *)line, len), *out1, *out2;
	size_t n1, n2;
	const char *why;
	struct jsonpkt jp;
	int ret = jsonpkt_read(rd, copy, len, &jp, &why);

	if (ret != 0 && ret != -EINVAL && ret != -E2BIG)
		abort();
	if (ret != 0 || jp.type != JSONPKT_PACKET) {
		free(copy);
		return;
	}
	out1 = print(&jp, &n1);
	free(copy);
	copy = fuzz_dup((const uint8_t *)out1, n1 - 1);	/* without its newline */
	if (jsonpkt_read(rd, copy, n1 - 1, &jp, &why) != 0) {
		fprintf(stderr, "iptrace cannot read its own line (%s): '%s'\n", why, out1);
		abort();
	}
	out2 = print(&jp, &n2);
	if (n1 != n2 || memcmp(out1, out2, n1) != 0) {
		fprintf(stderr, "printing is not stable:\n'%s'\n'%s'\n", out1, out2);
		abort();
	}
	free(copy);
	free(out1);
	free(out2);
}

static int to_sinks(void *ctx, const struct packet *p)
{
	struct sink *s = ctx;

	if (s[0].ops->packet(&s[0], p) < 0 || s[1].ops->packet(&s[1], p) < 0)
		abort();
	return 0;
}

/*
 * The input: lines, as a file or `kubectl logs --prefix` gives them. Each is read alone
 * (round_trip), then all go through merge_line() — from two inputs, lines alternating —
 * and merge_run() into the JSON and text sinks, with a skew drawn from the first byte.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Once per process, as fuzz_null()'s file: the round trip's reader keeps nothing. */
	static struct jsonpkt_reader *rd;
	struct merge *m = merge_new(&(struct merge_cfg){
		.skew_ns = size ? (uint64_t)data[0] * 4000000u : 0,
	});
	struct sink s[2] = {
		{ .ops = &sink_json_ops, .out = fuzz_null() },
		{ .ops = &sink_text_ops, .out = fuzz_null() },
	};
	const char *p = (const char *)data, *end = p + size;
	uint64_t lineno = 0;

	if (!rd)
		rd = jsonpkt_reader_new();
	if (!rd || !m)
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		round_trip(rd, p, len);
		lineno++;
		if (merge_line(m, lineno % 2 ? "-" : "b.json", lineno, p, len) < 0)
			abort();
		p += len + (nl != NULL);
	}
	/* No begin(): the JSON sink writes each line through a buffer on the stack. */
	if (merge_run(m, to_sinks, s) < 0)
		abort();
	merge_free(m);
	return 0;
}
