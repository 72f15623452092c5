/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_logline.c: libFuzzer harness — one --read line through logline_parse and back out */
#include <errno.h>

#include "iptrace/logline.h"
#include "iptrace/sink.h"
#include "harness.h"

/* A parsed record through a sink's record() (as --no-group prints it): the output oracle. */
static void print_record(const struct sink_ops *ops, const struct trace_record *r)
{
	static const struct summary none;
	struct fuzz_out out;
	struct sink s = { .ops = ops, .out = fuzz_out_open(&out), .opts = { .color = true } };

	if (ops->begin(&s) < 0)
		abort();
	ops->record(&s, r);
	ops->end(&s, &none);
	fuzz_out_check(&out, ops == &sink_json_ops, true);
}

/*
 * The input: one line as the --read loop hands it to logline_parse (any bytes, NULs
 * included). What parses is printed by logline_format; what iptrace prints as a kernel
 * line must be readable by its own --read, so that text is parsed again, and printing that
 * second parse must give the same text (the first print may drop what records can't keep;
 * after that, nothing more may change) — except where the kernel's own line drops the
 * protocol. Names come back exactly: the printed "\xhh" escapes are read back as their
 * bytes. The record, printed by the text, JSON and log sinks, passes the output oracle.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_record rec, again;
	char *line = fuzz_dup(data, size), *out1 = NULL, *out2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct names *nm = names_new();
	FILE *f;
	int ret;

	if (!nm)
		abort();
	ret = logline_parse(line, size, nm, &rec);
	if (ret != 0 && ret != -ENOMSG && ret != -EINVAL && ret != -EPROTO && ret != -ERANGE)
		abort();
	if (ret != 0)
		goto out;
	f = open_memstream(&out1, &n1);
	if (!f || logline_format(f, &rec) < 0 || fclose(f) != 0)
		abort();
	if (oracle_text(out1, n1, false)) {
		fprintf(stderr, "a raw control byte in iptrace's own line: '%s'\n", out1);
		abort();
	}
	if (logline_parse(out1, n1, nm, &again) != 0) {
		fprintf(stderr, "iptrace cannot read its own line: '%s'\n", out1);
		abort();
	}
	if (strcmp(rec.table, again.table) || strcmp(rec.chain, again.chain) ||
	    strcmp(rec.in, again.in) || strcmp(rec.out, again.out) ||
	    strcmp(rec.physin, again.physin) || strcmp(rec.physout, again.physout)) {
		fprintf(stderr, "names do not read back from '%s'\n", out1);
		abort();
	}
	print_record(&sink_text_ops, &rec);
	print_record(&sink_json_ops, &rec);
	print_record(&sink_log_ops, &rec);
	/*
	 * The kernel prints no PROTO= at all for a later fragment of an AH packet (it checks
	 * the offset before printing it), and logline_format follows: that line can't bring
	 * the protocol back, so the second print may differ there.
	 */
	if (rec.pkt.family == AF_INET && rec.pkt.proto == IPPROTO_AH && (rec.pkt.frag & 0x1fff))
		goto out;	/* decided from the record: a table name may hold " PROTO=" */
	f = open_memstream(&out2, &n2);
	if (!f || logline_format(f, &again) < 0 || fclose(f) != 0)
		abort();
	if (n1 != n2 || memcmp(out1, out2, n1) != 0) {
		fprintf(stderr, "printing is not stable:\n'%s'\n'%s'\n", out1, out2);
		abort();
	}
out:
	free(out1);
	free(out2);
	free(line);
	names_free(nm);
	return 0;
}
