/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_natlog.c: libFuzzer harness — NAT log lines through nat_line_parse and the --nat-table fold */
#include <errno.h>
#include <sys/socket.h>

#include "iptrace/nattable.h"
#include "iptrace/natlog.h"
#include "iptrace/options.h"
#include "harness.h"

/*
 * The input: a NAT log as --nat-table FILE reads it (alias.log or iptrace's own --nat-log
 * text; any bytes, NULs included). Each line is parsed on its own and printed back; the
 * whole is folded by nattable_fold() and checked against a plain list doing the same steps
 * (natstat.awk's: '+' and '=' put by id, '-' deletes), then printed both ways.
 */

#define MAX_ROWS 2048	/* the default -max_len of 4096 bytes holds fewer lines */

struct model {
	struct nat_row	rows[MAX_ROWS];
	size_t		n;
};

static void model_apply(struct model *m, char op, const struct nat_row *row)
{
	size_t i;

	for (i = 0; i < m->n && strcmp(m->rows[i].id, row->id) != 0; i++)
		;
	if (op == '-') {
		if (i < m->n) {
			memmove(&m->rows[i], &m->rows[i + 1], (m->n - i - 1) * sizeof(*m->rows));
			m->n--;
		}
		return;
	}
	if (i < m->n) {
		m->rows[i] = *row;	/* replaced in place: the row keeps its position */
	} else {
		if (m->n == MAX_ROWS)
			abort();
		m->rows[m->n++] = *row;
	}
}

/* One line as getline() hands it over (up to and with its '\n'): parse, print, parse. */
static void one_line(const char *line, struct model *m)
{
	struct nat_row row, again;
	char buf[512], op, op2;

	if (nat_line_parse(line, &op, &row) != 0)
		return;
	if ((op != '+' && op != '-' && op != '=') || !memchr(row.id, '\0', sizeof(row.id)) ||
	    !row.id[0] || !memchr(row.proxy, '\0', sizeof(row.proxy)))
		abort();
	model_apply(m, op, &row);
	/*
	 * What parses, prints as iptrace's own line; that line parses to the same row. (Not
	 * the same text: "(0x8060100)" stays, "(id 12)" stays, but spaces and CRs at the end
	 * are dropped.)
	 */
	nat_row_format(op, &row, buf, sizeof(buf));
	if (nat_line_parse(buf, &op2, &again) != 0 || op2 != op ||
	    memcmp(&row, &again, sizeof(row)) != 0) {
		fprintf(stderr, "a parsed line does not read back: '%s'\n", buf);
		abort();
	}
}

/* --nat-table FILE with a selection keeps the rows whose original tuple it selects. */
static bool keep_udp53(const struct nat_row *row, void *arg)
{
	struct ct_entry e;

	return nat_row_orig(row, &e) == 0 && ct_match(arg, &e);
}

static const struct selection *udp53(void)
{
	static char *argv[] = { "iptrace", "--nat-table", "--proto", "udp", "--port", "53", NULL };
	static struct iptrace_opts o;
	static bool parsed;
	char err[256];

	if (!parsed) {
		optind = 0;
		if (options_parse(6, argv, &o, err, sizeof(err)) < 0) {
			fprintf(stderr, "fuzz_natlog: bad options: %s\n", err);
			abort();
		}
		parsed = true;
	}
	return &o.sel;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct fuzz_out out;
	struct nattable *t;
	uint64_t skipped = 0;
	size_t start = 0, removed, kept;
	FILE *in;

	if (size > 65536)
		return -1;	/* the model is quadratic: keep inputs to a few thousand lines */
	m.n = 0;
	/* Line by line, as getline() cuts them. */
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) + 1 : size - start;
		char *line = malloc(len + 1);

		if (!line)
			abort();
		memcpy(line, data + start, len);
		line[len] = '\0';
		one_line(line, &m);
		free(line);
		start += len;
	}
	/* The fold, from a stream of the same bytes. */
	t = nattable_new();
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (!t || !in)
		abort();
	if (size && nattable_fold(t, in, &skipped) != 0)
		abort();
	fclose(in);
	if (nattable_count(t) != m.n) {
		fprintf(stderr, "the fold has %zu rows, the log leaves %zu\n", nattable_count(t), m.n);
		abort();
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct nat_row *r = nattable_get(t, i);

		if (!r || memcmp(r, &m.rows[i], sizeof(*r)) != 0) {
			fprintf(stderr, "row %zu of the fold is not the log's\n", i);
			abort();
		}
	}
	if (nattable_get(t, m.n))
		abort();
	/* The table as text and as JSON: a log's words are any bytes, the output oracle holds. */
	if (nattable_print(t, fuzz_out_open(&out)) < 0)
		abort();
	fuzz_out_check(&out, false, false);
	if (nattable_print_json(t, fuzz_out_open(&out)) < 0)
		abort();
	fuzz_out_check(&out, true, false);
	/* A selection, then every row that is left is one it keeps. */
	kept = 0;
	for (size_t i = 0; i < m.n; i++)
		kept += keep_udp53(&m.rows[i], (void *)udp53());
	removed = nattable_filter(t, keep_udp53, (void *)udp53());
	if (removed != m.n - kept || nattable_count(t) != kept)
		abort();
	for (size_t i = 0; i < kept; i++)
		if (!keep_udp53(nattable_get(t, i), (void *)udp53()))
			abort();
	if (nattable_print(t, fuzz_null()) < 0)
		abort();
	nattable_free(t);
	return 0;
}
