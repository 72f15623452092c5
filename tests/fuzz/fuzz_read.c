/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_read.c: libFuzzer harness — the --read loop: any bytes, lines of any length, through the bounded reader, the parser, the grouper and the sinks */
#include <errno.h>
#include <signal.h>

#include "iptrace/logline.h"
#include "iptrace/pipeline.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input is a file --read is given (a syslog file, dmesg's output, anything). It is
 * read twice over: as it is, and behind a line longer than LOGLINE_MAX, so that the
 * bounded reader's skipping path runs for every input (libFuzzer's inputs are shorter).
 */

/* A stream over @len bytes of @buf ("/dev/null" for none: fmemopen() wants a size). */
static FILE *stream(const char *buf, size_t len)
{
	FILE *f = len ? fmemopen((void *)buf, len, "r") : fopen("/dev/null", "re");

	if (!f)
		abort();
	return f;
}

/*
 * The reader against a model: the lines cut at '\n' (the last one without it too, if it
 * holds anything); those over LOGLINE_MAX are skipped and counted, the others come whole,
 * NUL bytes and all, in order.
 */
static void check_reader(const char *buf, size_t len)
{
	struct logline_stats st = { 0 };
	FILE *in = stream(buf, len);
	struct logline_reader *r = logline_reader_new(in);
	uint64_t too_long = 0;
	size_t at = 0;

	if (!r)
		abort();
	for (;;) {
		const char *line, *nl;
		size_t n, want;
		int ret;

		/* The model's next line that is not too long. */
		while (at < len) {
			nl = memchr(buf + at, '\n', len - at);
			want = nl ? (size_t)(nl - (buf + at)) : len - at;
			if (want <= LOGLINE_MAX)
				break;
			too_long++;
			at += want + (nl != NULL);
		}
		ret = logline_next(r, &line, &n, &st);
		if (ret < 0)
			abort();
		if (at >= len) {
			if (ret != 0)
				abort();	/* a line the model does not have */
			break;
		}
		nl = memchr(buf + at, '\n', len - at);
		want = nl ? (size_t)(nl - (buf + at)) : len - at;
		if (ret != 1 || n != want || memcmp(line, buf + at, n) != 0 || line[n] != '\0')
			abort();
		at += want + (nl != NULL);
	}
	if (st.too_long != too_long)
		abort();
	logline_reader_free(r);
	fclose(in);
}

/*
 * The whole loop into @ops (grouped or not, text with or without colours), as main's
 * --read runs it: the output oracle.
 */
static void run_read(const char *buf, size_t len, const struct sink_ops *ops, bool no_group,
		     bool color)
{
	static const volatile sig_atomic_t stop;
	struct fuzz_out out;
	struct sink sink = { .ops = ops, .out = fuzz_out_open(&out), .opts = { .color = color } };
	struct pipeline_cfg cfg = { .window_ns = UINT64_MAX / 2, .no_group = no_group };
	struct logline_stats st = { 0 };
	struct pipeline *pl = pipeline_new(&cfg, &sink);
	FILE *in = stream(buf, len);
	struct summary sum;

	if (!pl)
		abort();
	ops->begin(&sink);
	if (pipeline_read(pl, in, 1000000, &stop, &st) != 0)
		abort();
	pipeline_finish(pl, NULL);
	pipeline_summary(pl, &sum);
	/* Every line is either a record or skipped for one reason: never more of either. */
	if (sum.records + st.too_long + st.foreign + st.bad_time + st.malformed >
	    (uint64_t)len + 1)
		abort();
	pipeline_free(pl);
	fclose(in);
	fuzz_out_check(&out, ops == &sink_json_ops, color);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pad = LOGLINE_MAX + 1 + (size & 0xff);
	char *buf, *padded;

	if (size > (1u << 20))
		return -1;
	buf = fuzz_dup(data, size);
	check_reader(buf, size);
	run_read(buf, size, &sink_text_ops, false, true);
	run_read(buf, size, &sink_text_ops, true, false);
	run_read(buf, size, &sink_json_ops, false, false);
	run_read(buf, size, &sink_log_ops, true, false);
	/* The same behind a line too long for the reader: skipped, the rest read as before. */
	padded = malloc(pad + 1 + size);
	if (!padded)
		abort();
	memset(padded, size && data[0] != '\n' ? data[0] : 'x', pad);
	padded[pad] = '\n';
	memcpy(padded + pad + 1, data, size);
	check_reader(padded, pad + 1 + size);
	run_read(padded, pad + 1 + size, &sink_json_ops, false, false);
	free(padded);
	free(buf);
	return 0;
}
