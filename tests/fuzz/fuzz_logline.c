/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_logline.c: libFuzzer harness — one --read line through logline_parse and back out */
#include <errno.h>

#include "iptrace/logline.h"
#include "harness.h"

/*
 * The input: one line as getline() hands it to --read (any bytes, NULs included). What
 * parses is printed by logline_format; what iptrace prints as a kernel line must be
 * readable by its own --read, so that text is parsed again, and printing that second
 * parse must give the same text (the first print may drop what records can't keep; after
 * that, nothing more may change) — except where the kernel's own line drops the protocol.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_record rec, again;
	char *line = fuzz_dup(data, size), *out1 = NULL, *out2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f;
	int ret = logline_parse(line, size, &rec);

	if (ret != 0 && ret != -ENOMSG && ret != -EINVAL)
		abort();
	if (ret != 0)
		goto out;
	f = open_memstream(&out1, &n1);
	if (!f || logline_format(f, &rec) < 0 || fclose(f) != 0)
		abort();
	if (logline_parse(out1, n1, &again) != 0) {
		fprintf(stderr, "iptrace cannot read its own line: '%s'\n", out1);
		abort();
	}
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
	return 0;
}
