/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_ct.c: libFuzzer harness — conntrack event bytes through ct_decode, the NAT log and its replay */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "iptrace/ct.h"
#include "iptrace/natlog.h"
#include "iptrace/nattable.h"
#include "iptrace/nlrec.h"
#include "iptrace/options.h"
#include "harness.h"

/*
 * The input is what one recv() on the conntrack event socket could return: messages back
 * to back (tests/fuzz/seeds.c cuts the NLREC_CONNTRACK chunks of the recorded files).
 */

/*
 * The decoder alone, message by message, and everything that prints an entry. What
 * --nat-log prints as text, --nat-table FILE must read back as the same row.
 */
static void decode_each(const void *buf, size_t size)
{
	const struct nlmsghdr *nlh;
	size_t off = 0;

	while ((nlh = fuzz_next_msg(buf, size, &off))) {
		struct nat_row row, back;
		struct ct_entry e, orig;
		char line[512], st[CT_STATUS_JSON_MAX], op;
		/* At a guard page: a read past the message faults, in libmnl's walk too. */
		int ret = ct_decode(fuzz_guarded(nlh), &e);

		if (ret != 0) {
			if (ret != -ENOMSG && ret != -EINVAL)
				abort();	/* the header promises only these */
			continue;
		}
		if ((e.op != CT_OP_NEW && e.op != CT_OP_UPDATE && e.op != CT_OP_DESTROY) ||
		    (e.orig.family != AF_INET && e.orig.family != AF_INET6) ||
		    (e.reply.family != AF_INET && e.reply.family != AF_INET6))
			abort();
		if (natlog_print_text(fuzz_null(), '+', &e) < 0 ||
		    natlog_print_json(fuzz_null(), '=', &e) < 0)
			abort();
		/* The status names all fit CT_STATUS_JSON_MAX: the array is always closed. */
		ct_status_json(st, sizeof(st), e.status);
		if (st[strlen(st) - 1] != ']')
			abort();
		ct_print_json_obj(fuzz_null(), &e);
		ct_print_text_line(fuzz_null(), &e);
		ct_is_nat(&e);
		nat_row_from_ct(&e, &row);
		/*
		 * A message without CTA_ID prints "(...)" with nothing inside: a line that names
		 * no key can't be folded, and the kernel puts CTA_ID on every event.
		 */
		if (!e.has_id)
			continue;
		nat_row_format('-', &row, line, sizeof(line));
		if (nat_line_parse(line, &op, &back) != 0 || op != '-' ||
		    memcmp(&row, &back, sizeof(row)) != 0) {
			fprintf(stderr, "--nat-table can't read back its own line '%s'\n", line);
			abort();
		}
		/*
		 * The row's original tuple, as --nat-table FILE's selection reads it. Protocol 0
		 * prints as "0", which --proto (1..255) does not name: such a row has no tuple.
		 */
		if (nat_row_orig(&row, &orig) != 0) {
			if (e.orig.proto == 0)
				continue;
			fprintf(stderr, "--nat-table can't select on its own row '%s'\n", line);
			abort();
		}
		if (orig.orig.family != e.orig.family || orig.orig.proto != e.orig.proto)
			abort();
	}
}

/*
 * The replay path: natlog_run(--nat-log --replay FILE) on the bytes recorded as one chunk
 * of a file, as a conntrack --record wrote it. The file lives in a directory of this
 * process's own, made once.
 */
static char rec_dir[64], rec_path[96], out_path[96];

static void remove_rec(void)
{
	unlink(rec_path);
	unlink(out_path);
	rmdir(rec_dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (rec_path[0])
		return;
	snprintf(rec_dir, sizeof(rec_dir), "%s/fuzz_ct.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (strlen(rec_dir) >= sizeof(rec_dir) - 1 || !mkdtemp(rec_dir))
		abort();
	snprintf(rec_path, sizeof(rec_path), "%s/ct.nlrec", rec_dir);
	snprintf(out_path, sizeof(out_path), "%s/ct.out", rec_dir);
	atexit(remove_rec);
}

/* The options of a --nat-log --replay run: parsed by the real parser, once per variant. */
static const struct iptrace_opts *opts_for(unsigned variant)
{
	static char *argvs[3][12] = {
		{ "iptrace", "--nat-log", "--all", "--replay", rec_path, "--format", "json", NULL },
		{ "iptrace", "--nat-log", "--replay", rec_path, "--count", "2", NULL },
		{ "iptrace", "--nat-log", "--all", "--replay", rec_path, "--proto", "udp,tcp",
		  "--port", "53", "--host", "10.0.0.0/8", NULL },
	};
	static struct iptrace_opts o[3];
	static bool parsed[3];
	char err[256];
	int argc = 0;

	if (!parsed[variant]) {
		while (argvs[variant][argc])
			argc++;
		optind = 0;	/* getopt starts over */
		if (options_parse(argc, argvs[variant], &o[variant], err, sizeof(err)) < 0) {
			fprintf(stderr, "fuzz_ct: bad options: %s\n", err);
			abort();
		}
		parsed[variant] = true;
	}
	return &o[variant];
}

static void replay(const void *buf, size_t size, unsigned variant)
{
	static const volatile sig_atomic_t stop;
	const struct iptrace_opts *o = opts_for(variant);
	struct output *out;
	struct fuzz_out got;
	FILE *err, *f;
	struct nlrec *r = nlrec_create(rec_path);
	char chunk[4096];
	size_t n;
	int rc;

	if (!r || (size && nlrec_write(r, NLREC_CONNTRACK, 1, buf, size) < 0) ||
	    nlrec_close(r) < 0)
		abort();
	/*
	 * natlog_run says "iptrace: N conntrack events, ..." on stderr at the end of every
	 * run: millions of lines over a long fuzzing run. glibc's stderr is a plain variable:
	 * point it at /dev/null meanwhile. libFuzzer and the sanitizers keep writing to the
	 * real stderr (their own FILE and fd 2), so reports still show.
	 */
	out = output_open(out_path, NULL, NULL);
	if (!out)
		abort();
	err = stderr;
	stderr = fuzz_null();
	rc = natlog_run(o, out, &stop, NULL);
	stderr = err;
	output_close(out);
	if (rc != 0)
		abort();	/* a well-formed file: malformed messages are counted, not fatal */
	/* What it wrote (the file, emptied when the run started) passes the output oracle. */
	f = fopen(out_path, "re");
	if (!f)
		abort();
	fuzz_out_open(&got);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, got.f);
	fclose(f);
	fuzz_out_check(&got, strcmp(o->format, "json") == 0, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_recv_dup(data, size);

	if (!buf)
		return -1;
	setup();
	decode_each(buf, size);
	/* One replay per input (they are the slow part), its options chosen by the bytes. */
	replay(buf, size, size % 3);
	free(buf);
	return 0;
}
