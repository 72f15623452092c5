/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_journal.c: libFuzzer harness — packets from the input through the journal sink, read back as journald would */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input builds trace records field by field (struct fuzz_in): names and rule texts of
 * any bytes (newlines, '=', escapes, invalid UTF-8), any kind, numbers, addresses; a
 * record may be repeated, so a packet reaches the pipeline's 256 steps from a short input.
 * They go to the journal sink as grouped packets or, with bit 0 of the first byte, as
 * --no-group records, then the summary. IPTRACE_JOURNAL_SOCKET points at a datagram
 * socket of this process, read after each call: each call sent one entry, in a datagram
 * or in a sealed memfd, and each entry must be what journald accepts and files as is
 * (journald-native.c): fields "KEY=value\n", or "KEY\n" + little-endian u64 length + value +
 * "\n", back to back with nothing after; KEY 1-64 characters of A-Z 0-9 _, not starting
 * with a digit or '_' (journal_field_valid(); journald drops other fields); at most 1024
 * fields (ENTRY_FIELD_COUNT_MAX: journald drops a bigger entry whole). And the values are
 * the record's own bytes: a name comes back exactly as it was.
 */

#define MAX_STEPS	256	/* what the pipeline keeps of a packet (PIPELINE_MAX_STEPS) */
#define FIELDS_MAX	1024	/* journald's ENTRY_FIELD_COUNT_MAX */
#define STEP_FIELDS_MAX	15	/* STEP_N_ fields of one step (12) and TABLE, CHAIN, RULE */

static int rx = -1;
static char dir[64], path[96];

static void remove_socket(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int big = 64 << 20;

	if (rx >= 0)
		return;
	fuzz_tmpdir("fuzz_journal", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/socket", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	atexit(remove_socket);
	setenv("IPTRACE_JOURNAL_SOCKET", path, 1);
}

/* --- one entry, read and parsed as journald does ---------------------------------------- */

struct jfield {
	const char	*key, *val;
	size_t		klen, vlen;
};

struct entry {
	char		*buf;
	size_t		len;
	struct jfield	f[4 * FIELDS_MAX];	/* in the entry's order */
	size_t		n;
	struct jfield	by_key[4 * FIELDS_MAX];	/* sorted by key, for the look-ups */
};

/* The one entry the last call sent: a datagram, or a sealed memfd passed in one. */
static FUZZ_ORACLE void receive(struct entry *e)
{
	static char dgram[1 << 20];
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { dgram, sizeof(dgram) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			     .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct stat st;
	int fd;

	if (n < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		fprintf(stderr, "no whole entry came: %zd %s\n", n, n < 0 ? strerror(errno) : "");
		abort();
	}
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm) {
		e->buf = malloc((size_t)n + 1);
		if (!e->buf)
			abort();
		memcpy(e->buf, dgram, (size_t)n);
		e->len = (size_t)n;
		return;
	}
	/* Too big for a datagram: an empty one carrying a memfd sealed against change. */
	if (n != 0 || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		abort();
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		abort();
	e->len = (size_t)st.st_size;
	e->buf = malloc(e->len + 1);
	if (!e->buf || pread(fd, e->buf, e->len, 0) != (ssize_t)e->len)
		abort();
	close(fd);
}

static FUZZ_ORACLE bool key_valid(const char *k, size_t len)
{
	if (len == 0 || len > 64 || k[0] == '_' || (k[0] >= '0' && k[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

#define BAD(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* Split @e into fields; every byte must belong to one. */
static FUZZ_ORACLE void parse(struct entry *e)
{
	size_t off = 0;

	e->n = 0;
	while (off < e->len) {
		const char *k = e->buf + off, *end = e->buf + e->len;
		const char *sep = k;
		struct jfield *f;

		while (sep < end && *sep != '=' && *sep != '\n')
			sep++;
		if (sep == end)
			BAD("trailing bytes at %zu: journald ignores them", off);
		if (!key_valid(k, (size_t)(sep - k)))
			BAD("field name '%.*s' is not one journald takes", (int)(sep - k), k);
		if (e->n == sizeof(e->f) / sizeof(e->f[0]))
			BAD("more than %zu fields", e->n);
		f = &e->f[e->n++];
		f->key = k;
		f->klen = (size_t)(sep - k);
		if (*sep == '=') {
			const char *nl = memchr(sep + 1, '\n', (size_t)(end - sep - 1));

			if (!nl)
				BAD("field %.*s has no end", (int)f->klen, k);
			f->val = sep + 1;
			f->vlen = (size_t)(nl - sep - 1);
			off = (size_t)(nl + 1 - e->buf);
		} else {
			uint64_t vl = 0;

			if ((size_t)(end - sep - 1) < 8)
				BAD("binary field %.*s has no length", (int)f->klen, k);
			for (int i = 0; i < 8; i++)
				vl |= (uint64_t)(uint8_t)sep[1 + i] << (8 * i);
			if (vl > (uint64_t)(end - sep - 9) - 1 || sep[9 + vl] != '\n')
				BAD("binary field %.*s: length %" PRIu64 " does not fit",
				    (int)f->klen, k, vl);
			f->val = sep + 9;
			f->vlen = vl;
			off = (size_t)(sep + 10 + vl - e->buf);
		}
	}
	if (e->n > FIELDS_MAX)
		BAD("%zu fields: journald drops an entry of more than %d", e->n, FIELDS_MAX);
}

static FUZZ_ORACLE int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static FUZZ_ORACLE int field_cmp(const void *a, const void *b)
{
	const struct jfield *x = a, *y = b;

	return key_cmp(x->key, x->klen, y->key, y->klen);
}

static FUZZ_ORACLE void index_fields(struct entry *e)
{
	memcpy(e->by_key, e->f, e->n * sizeof(e->f[0]));
	qsort(e->by_key, e->n, sizeof(e->by_key[0]), field_cmp);
}

/* The fields named @key: *@n of them from the returned one on (by_key). */
static FUZZ_ORACLE const struct jfield *range(const struct entry *e, const char *key, size_t *n)
{
	size_t lo = 0, hi = e->n, klen = strlen(key);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(e->by_key[mid].key, e->by_key[mid].klen, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (*n = 0; lo + *n < e->n && key_cmp(e->by_key[lo + *n].key, e->by_key[lo + *n].klen,
					       key, klen) == 0; (*n)++)
		;
	return &e->by_key[lo];
}

static FUZZ_ORACLE size_t count(const struct entry *e, const char *key)
{
	size_t n;

	range(e, key, &n);
	return n;
}

/* The one field @key, which must be there exactly once. */
static FUZZ_ORACLE const struct jfield *one(const struct entry *e, const char *key)
{
	size_t n;
	const struct jfield *f = range(e, key, &n);

	if (n != 1)
		BAD("%zu %s fields, not one", n, key);
	return f;
}

static FUZZ_ORACLE bool val_is(const struct jfield *f, const char *s)
{
	return f->vlen == strlen(s) && memcmp(f->val, s, f->vlen) == 0;
}

/* @key is there once and holds @s, or (@s NULL) is not there. */
static FUZZ_ORACLE void expect(const struct entry *e, const char *key, const char *s)
{
	if (!s) {
		if (count(e, key))
			BAD("%s is there, but the record has none", key);
		return;
	}
	if (!val_is(one(e, key), s))
		BAD("%s is not the record's '%s'", key, s);
}

static FUZZ_ORACLE void expect_u(const struct entry *e, const char *key, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	expect(e, key, s);
}

/* @key holds @v, or is not there when @v is 0. */
static FUZZ_ORACLE void expect_nz(const struct entry *e, const char *key, uint64_t v)
{
	if (v)
		expect_u(e, key, v);
	else
		expect(e, key, NULL);
}

/* Every entry: the identity fields once each, MESSAGE once and last. */
static FUZZ_ORACLE void common(const struct entry *e, const char *msgid)
{
	expect(e, "MESSAGE_ID", msgid);
	expect(e, "SYSLOG_IDENTIFIER", "iptrace");
	expect(e, "PRIORITY", "6");
	one(e, "MESSAGE");
	if (key_cmp(e->f[e->n - 1].key, e->f[e->n - 1].klen, "MESSAGE", 7) != 0)
		BAD("MESSAGE is not the last field");
}

/* A step's fields under @prefix ("STEP_3_" or ""), each the record's own value. */
static FUZZ_ORACLE void check_step(const struct entry *e, const char *prefix,
				   const struct trace_record *r)
{
	char key[64];

#define KEY(name) (snprintf(key, sizeof(key), "%s" name, prefix), key)
	expect(e, KEY("BACKEND"), trace_backend_name(r->backend));
	expect(e, KEY("TABLE"), r->table);
	expect(e, KEY("CHAIN"), r->chain);
	expect(e, KEY("KIND"), trace_kind_name(r->kind));
	if (r->backend == TRACE_BACKEND_LEGACY)
		expect_u(e, KEY("RULENUM"), r->rulenum);
	else
		expect_nz(e, KEY("HANDLE"), r->handle);
	expect(e, KEY("RULE"), r->rule);
	expect(e, KEY("VERDICT"), r->verdict);
	expect(e, KEY("IN"), r->in[0] ? r->in : NULL);
	expect(e, KEY("OUT"), r->out[0] ? r->out : NULL);
	if (r->mark) {
		char m[16];

		snprintf(m, sizeof(m), "0x%" PRIx32, r->mark);
		expect(e, KEY("MARK"), m);
	} else {
		expect(e, KEY("MARK"), NULL);
	}
#undef KEY
}

/* TABLE (CHAIN, RULE): once per distinct value among the steps that have fields. */
static FUZZ_ORACLE void check_distinct(const struct entry *e, const char *key,
				       const struct packet *p, size_t shown, size_t field)
{
	size_t want = 0;

	for (size_t i = 0; i < shown; i++) {
		const struct trace_record *r = &p->steps[i];
		const char *v = field == 0 ? r->table : field == 1 ? r->chain : r->rule;
		bool seen = false, there = false;
		const struct jfield *fs;
		size_t nf;

		if (!v)
			continue;
		for (size_t k = 0; k < i && !seen; k++) {
			const struct trace_record *q = &p->steps[k];
			const char *w = field == 0 ? q->table : field == 1 ? q->chain : q->rule;

			seen = w && strcmp(v, w) == 0;
		}
		if (seen)
			continue;
		want++;
		fs = range(e, key, &nf);
		for (size_t f = 0; f < nf && !there; f++)
			there = val_is(&fs[f], v);
		if (!there)
			BAD("no %s=%s for step %zu", key, v, i + 1);
	}
	if (count(e, key) != want)
		BAD("%zu %s fields for %zu distinct values", count(e, key), key, want);
}

static FUZZ_ORACLE void check_packet(const struct entry *e, const struct packet *p)
{
	const struct jfield *msg;
	size_t shown = 0, lines = 0;
	char key[32];

	common(e, "1226dd637928408c9022206e28a530ee");
	expect_u(e, "PACKET_ID", p->id);
	expect_u(e, "STEPS", p->nsteps);
	expect_nz(e, "STEPS_DROPPED", p->steps_dropped);
	expect(e, "VERDICT", p->steps[p->nsteps - 1].verdict);
	/*
	 * Every step has its fields, unless journald's field limit was near: then the first
	 * ones have them, and the next one would not have fitted.
	 */
	for (; shown < p->nsteps; shown++) {
		char prefix[32];

		snprintf(key, sizeof(key), "STEP_%zu_BACKEND", shown + 1);
		if (!count(e, key))
			break;
		snprintf(prefix, sizeof(prefix), "STEP_%zu_", shown + 1);
		check_step(e, prefix, &p->steps[shown]);
	}
	if (shown < p->nsteps && e->n + STEP_FIELDS_MAX <= FIELDS_MAX)
		BAD("step %zu has no fields, with room for them (%zu fields)", shown + 1, e->n);
	for (size_t i = shown; i < p->nsteps + 1; i++) {
		snprintf(key, sizeof(key), "STEP_%zu_TABLE", i + 1);
		if (count(e, key))
			BAD("%s after a step without fields", key);
	}
	check_distinct(e, "TABLE", p, shown, 0);
	check_distinct(e, "CHAIN", p, shown, 1);
	check_distinct(e, "RULE", p, shown, 2);
	/* MESSAGE: the header line, then a line for every step (names may add more). */
	msg = one(e, "MESSAGE");
	for (size_t i = 0; i < msg->vlen; i++)
		lines += msg->val[i] == '\n';
	if (lines < p->nsteps)
		BAD("MESSAGE has %zu line breaks for %zu steps", lines, p->nsteps);
}

static FUZZ_ORACLE void check_record(const struct entry *e, const struct trace_record *r)
{
	common(e, "2811253756d941ffad83b44702ae59fe");
	check_step(e, "", r);
}

static FUZZ_ORACLE void check_summary(const struct entry *e, const struct summary *s)
{
	common(e, "3d54f8593de041958ecc77f60ab35d89");
	expect_u(e, "PACKETS", s->packets);
	expect_u(e, "RECORDS", s->records);
	expect_u(e, "LOST", s->lost);
	expect_u(e, "DROPPED", s->dropped);
	expect_u(e, "EVICTED", s->evicted);
	expect_nz(e, "OVERRUNS", s->overruns);
	expect(e, "MARKER", s->marker);
	if (s->limited)
		expect_u(e, "UNMARKED", s->unmarked);
	else
		expect(e, "UNMARKED", NULL);
}

/* --- records from the input ----------------------------------------------------------------- */

struct texts {
	char	rule[256], verdict[48];
	char	table[TRACE_NFT_NAME_MAX], chain[TRACE_NFT_NAME_MAX];
};

static void take_addr(struct fuzz_in *in, struct in6_addr *a, unsigned bytes)
{
	memset(a, 0, sizeof(*a));
	for (unsigned i = 0; i < bytes; i++)
		a->s6_addr[i] = fuzz_u8(in);
}

/* One record; returns its control byte (bit 6: the packet ends after it). */
static uint8_t take_record(struct fuzz_in *in, struct trace_record *r, struct texts *t)
{
	uint8_t ctl = fuzz_u8(in), fam = fuzz_u8(in);
	size_t name_max;

	memset(r, 0, sizeof(*r));
	r->backend = ctl & 1 ? TRACE_BACKEND_NFT : TRACE_BACKEND_LEGACY;
	r->kind = (enum trace_kind)((ctl >> 1 & 3) % 3);
	name_max = r->backend == TRACE_BACKEND_NFT ? TRACE_NFT_NAME_MAX : TRACE_NAME_MAX;
	r->table = fuzz_str(in, t->table, name_max);
	r->chain = fuzz_str(in, t->chain, name_max);
	r->verdict_chain = "";
	fuzz_str(in, r->in, sizeof(r->in));
	fuzz_str(in, r->out, sizeof(r->out));
	r->rulenum = (uint32_t)fuzz_uint(in, 2);
	r->handle = fuzz_uint(in, 2);
	r->mark = (uint32_t)fuzz_uint(in, 4);
	r->rule = ctl & 8 ? fuzz_str(in, t->rule, sizeof(t->rule)) : NULL;
	r->verdict = ctl & 16 ? fuzz_str(in, t->verdict, sizeof(t->verdict)) : NULL;
	r->verdict_continues = ctl & 32;
	r->pkt.family = fam % 3 == 1 ? AF_INET : fam % 3 == 2 ? AF_INET6 : 0;
	r->pkt.proto = fuzz_u8(in);
	take_addr(in, &r->pkt.saddr, r->pkt.family == AF_INET6 ? 16 : 4);
	take_addr(in, &r->pkt.daddr, r->pkt.family == AF_INET6 ? 16 : 4);
	r->pkt.has_ports = fam & 4;
	r->pkt.sport = (uint16_t)fuzz_uint(in, 2);
	r->pkt.dport = (uint16_t)fuzz_uint(in, 2);
	r->pkt.len = (uint16_t)fuzz_uint(in, 2);
	r->pkt.ipid = (uint16_t)fuzz_uint(in, 2);
	r->ts_ns = fam & 8 ? fuzz_uint(in, 8) : 0;
	return ctl;
}

/*
 * The sink's call (@ret its answer) for the packet @p, the record @r or (both NULL) the
 * summary @s went out as one entry: read it and check it.
 */
static void check_sent(int ret, const struct packet *p, const struct trace_record *r,
		       const struct summary *s)
{
	static struct entry e;	/* big: one per process, as the socket is */

	if (ret < 0)
		abort();
	receive(&e);
	parse(&e);
	index_fields(&e);
	if (p)
		check_packet(&e, p);
	else if (r)
		check_record(&e, r);
	else
		check_summary(&e, s);
	free(e.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace_record steps[MAX_STEPS];
	static struct texts texts[MAX_STEPS];
	struct fuzz_in in = { data, size };
	struct sink sink = { .ops = &sink_journal_ops };
	struct summary sum = { 0 };
	uint8_t flags = fuzz_u8(&in);
	bool records = flags & 1;
	uint64_t id = 0;
	size_t n = 0;

	if (size > 64 << 10)
		return -1;
	setup();
	if (sink.ops->begin(&sink) < 0)
		abort();
	while (in.left && n < MAX_STEPS) {
		uint8_t ctl = take_record(&in, &steps[n], &texts[n]);
		size_t copies = fuzz_u8(&in), first = n;
		bool ends;

		/* Repeats keep their own texts: the sink compares steps by value. */
		for (n++; copies-- && n < MAX_STEPS; n++) {
			steps[n] = steps[first];
			texts[n] = texts[first];
			if (steps[first].rule)
				steps[n].rule = texts[n].rule;
			if (steps[first].verdict)
				steps[n].verdict = texts[n].verdict;
		}
		ends = ctl & 64 || !in.left || n == MAX_STEPS;
		if (records) {
			for (size_t i = first; i < n; i++)
				check_sent(sink.ops->record(&sink, &steps[i]), NULL, &steps[i],
					   NULL);
			n = 0;
		} else if (ends) {
			struct packet p = { .id = ++id, .nsteps = n, .steps = steps,
					    .steps_dropped = fuzz_u8(&in) * 1000u };

			check_sent(sink.ops->packet(&sink, &p), &p, NULL, NULL);
			n = 0;
		}
	}
	sum.packets = fuzz_uint(&in, 8);
	sum.records = fuzz_uint(&in, 8);
	sum.lost = fuzz_uint(&in, 8);
	sum.dropped = fuzz_uint(&in, 2);
	sum.evicted = fuzz_uint(&in, 2);
	sum.overruns = fuzz_uint(&in, 2);
	sum.limited = flags & 2;
	sum.unmarked = fuzz_uint(&in, 4);
	sum.marker = flags & 4 ? "legacy" : flags & 8 ? "nft" : NULL;
	check_sent(sink.ops->end(&sink, &sum), NULL, NULL, &sum);
	return 0;
}
