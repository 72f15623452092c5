/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jsonpkt.c: packet and summary objects of iptrace's JSON back into trace records */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>

#include "iptrace/ct.h"
#include "iptrace/json.h"
#include "iptrace/jsonpkt.h"
#include "iptrace/nftrace.h"
#include "iptrace/pkt.h"

/* Tokens: a step is ~50; a line of JSONPKT_MAX_STEPS steps fits. */
#define TOKS_MIN	1024u
#define TOKS_MAX	(1u << 18)

struct jsonpkt_reader {
	struct json_tok		*toks;
	size_t			ntoks;
	struct trace_record	*steps;
	size_t			cap;
};

struct jsonpkt_reader *jsonpkt_reader_new(void)
{
	struct jsonpkt_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->toks = malloc(TOKS_MIN * sizeof(*r->toks));
	if (!r->toks) {
		free(r);
		return NULL;
	}
	r->ntoks = TOKS_MIN;
	return r;
}

void jsonpkt_reader_free(struct jsonpkt_reader *r)
{
	if (!r)
		return;
	free(r->toks);
	free(r->steps);
	free(r);
}

/* One line being decoded: its text (decoded in place), its tokens, what went wrong. */
struct jr {
	char			*s;
	const struct json_tok	*t;
	const char		*why;
};

static int fail(struct jr *j, const char *why)
{
	j->why = why;
	return -EINVAL;
}

/*
 * The value tokens of object @obj's keys @keys[0..n), -1 for those it lacks; other keys
 * are skipped. A key given twice is an error.
 */
static int fields(struct jr *j, int obj, const char *const *keys, int *val, size_t n)
{
	int k = obj + 1;

	for (size_t i = 0; i < n; i++)
		val[i] = -1;
	if (j->t[obj].type != JSON_OBJECT)
		return fail(j, "an object expected");
	for (uint32_t m = 0; m < j->t[obj].count; m++) {
		int v = k + 1;	/* a key is a string: its value comes next */

		for (size_t i = 0; i < n; i++) {
			if (!json_str_is(j->s, &j->t[k], keys[i]))
				continue;
			if (val[i] >= 0)
				return fail(j, "a key given twice");
			val[i] = v;
			break;
		}
		k = (int)j->t[v].end;
	}
	return 0;
}

/* String value @v decoded (each once: it is decoded in place), or NULL if absent. */
static int get_str(struct jr *j, int v, const char **out)
{
	if (v < 0)
		return 0;
	if (j->t[v].type != JSON_STRING)
		return fail(j, "a string expected");
	*out = json_unescape(j->s, &j->t[v]);
	return 0;
}

/* A name shorter than @size bytes, left in the line: required unless @opt. */
static int get_label(struct jr *j, int v, size_t size, bool opt, const char **out)
{
	int ret;

	if (v < 0)
		return opt ? 0 : fail(j, "a step without table, chain or interfaces");
	ret = get_str(j, v, out);
	if (ret < 0)
		return ret;
	if (strlen(*out) >= size)
		return fail(j, "a name longer than iptrace writes");
	return 0;
}

/* A name into a fixed field of @size bytes: required unless @opt. */
static int get_name(struct jr *j, int v, char *dst, size_t size, bool opt)
{
	const char *s = NULL;
	int ret = get_label(j, v, size, opt, &s);

	if (ret == 0 && s)
		strcpy(dst, s);
	return ret;
}

static int get_uint(struct jr *j, int v, uint64_t max, uint64_t *out)
{
	if (v < 0)
		return 0;
	if (json_uint(j->s, &j->t[v], max, out) < 0)
		return fail(j, "a number out of range");
	return 0;
}

/* The one of @n words @name(0..n-1) gives that string value @v is; -1 when none. */
static int word(struct jr *j, int v, const char *(*name)(int), int n)
{
	for (int i = 0; i < n; i++) {
		const char *w = name(i);

		if (w && json_str_is(j->s, &j->t[v], w))
			return i;
	}
	return -1;
}

static const char *backend_word(int i)
{
	return trace_backend_name((enum trace_backend)i);
}

static const char *kind_word(int i)
{
	return trace_kind_name((enum trace_kind)i);
}

static const char *hook_word(int i)
{
	return trace_hook_name((enum trace_hook)i);
}

static const char *proto_word(int i)
{
	return pkt_proto_name((uint8_t)i);
}

static const char *nfproto_word(int i)
{
	return nftrace_family_name((uint8_t)i);
}

/* ct_state_name() of each state bit on its own: the bit a name stands for. */
static const char *ct_state_word(int i)
{
	const char *n = i < 32 ? ct_state_name(1u << i) : NULL;

	return n && strcmp(n, "unknown") != 0 ? n : NULL;
}

static const char *ct_status_word(int i)
{
	return ct_status_name((unsigned)i);
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": only as sink_fmt_time() writes it, printed back the same. */
static int get_time(struct jr *j, int v, uint64_t *ns)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	char back[SINK_TIME_MAX];
	const char *s = NULL;
	struct tm tm = { 0 };
	long us = 0;
	time_t sec;
	int ret = get_str(j, v, &s);

	if (ret < 0 || !s)
		return ret;
	if (strlen(s) != sizeof(form) - 1)
		return fail(j, "a time iptrace does not write");
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != form[i])
			return fail(j, "a time iptrace does not write");
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	us = atol(s + 20);
	sec = timegm(&tm);
	/* Before 1970, or past what a uint64_t of ns holds (the year 2554). */
	if (sec <= 0 || (uint64_t)sec >= UINT64_MAX / 1000000000u - 1)
		return fail(j, "a time iptrace does not write");
	*ns = (uint64_t)sec * 1000000000u + (uint64_t)us * 1000u;
	/* Feb 30, 24:00 and such: timegm() takes them, the round trip doesn't. */
	if (strcmp(sink_fmt_time(*ns, back, sizeof(back)), s) != 0)
		return fail(j, "a time iptrace does not write");
	return 0;
}

static int get_addr(struct jr *j, int v, int family, struct in6_addr *a)
{
	const char *s = NULL;
	int ret = get_str(j, v, &s);

	if (ret < 0 || !s)
		return ret;
	if (!family)
		return fail(j, "an address in a packet of no known family");
	if (inet_pton(family, s, a) != 1)
		return fail(j, "an address that does not parse");
	return 0;
}

/* @n (1 to 8) lower-case hex digits at @s, as the sink writes them; false if not. */
static bool hex32(const char *s, size_t n, uint32_t *v)
{
	uint32_t x = 0;

	if (n < 1 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			x = x << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x << 4 | (uint32_t)(c - 'a' + 10);
		else
			return false;
	}
	*v = x;
	return true;
}

/* "mark":"0x1a2b" */
static int get_mark(struct jr *j, int v, uint32_t *mark)
{
	const char *s = NULL;
	int ret = get_str(j, v, &s);

	if (ret < 0 || !s)
		return ret;
	if (s[0] != '0' || s[1] != 'x' || !hex32(s + 2, strlen(s + 2), mark))
		return fail(j, "a mark iptrace does not write");
	return 0;
}

/* The step's "ct": the conntrack view an nft record carried. */
static int get_ct(struct jr *j, int v, struct trace_record *r)
{
	static const char *const keys[] = { "id", "state", "dir", "status" };
	int f[4], ret, w;
	uint64_t id = 0;

	if (v < 0)
		return 0;
	ret = fields(j, v, keys, f, 4);
	if (ret < 0)
		return ret;
	if (f[0] < 0 || f[1] < 0 || f[2] < 0 || f[3] < 0)
		return fail(j, "a conntrack view without id, state, dir or status");
	ret = get_uint(j, f[0], UINT32_MAX, &id);
	if (ret < 0)
		return ret;
	r->has_ct = true;
	r->ct_id = (uint32_t)id;
	/* "unknown" is no bit at all. */
	w = word(j, f[1], ct_state_word, 32);
	if (w < 0 && !json_str_is(j->s, &j->t[f[1]], "unknown"))
		return fail(j, "an unknown conntrack state");
	r->ct_state = w < 0 ? 0 : 1u << w;
	if (json_str_is(j->s, &j->t[f[2]], "original"))
		r->ct_dir = IP_CT_DIR_ORIGINAL;
	else if (json_str_is(j->s, &j->t[f[2]], "reply"))
		r->ct_dir = IP_CT_DIR_REPLY;
	else
		return fail(j, "an unknown conntrack direction");
	if (j->t[f[3]].type != JSON_ARRAY)
		return fail(j, "conntrack status is not a list");
	/* Names a later version adds are skipped, as unknown keys are. */
	for (int e = f[3] + 1; e < (int)j->t[f[3]].end; e = (int)j->t[e].end) {
		if (j->t[e].type != JSON_STRING)
			return fail(j, "conntrack status is not a list of names");
		w = word(j, e, ct_status_word, 32);
		if (w >= 0)
			r->ct_status |= 1u << w;
	}
	return 0;
}

enum {
	S_NODE, S_BACKEND, S_TABLE, S_CHAIN, S_HOOK, S_KIND, S_RULENUM, S_HANDLE, S_RULE,
	S_VERDICT, S_CONTINUE, S_REASON, S_FAMILY, S_CT, S_IN, S_OUT, S_PHYSIN, S_PHYSOUT,
	S_SRC, S_SPORT, S_DST, S_DPORT, S_TTL, S_MARK, S_TS, S_N,
};

static const char *const step_keys[S_N] = {
	"node", "backend", "table", "chain", "hook", "kind", "rulenum", "handle", "rule",
	"verdict", "continue", "rule_reason", "family", "ct", "in", "out", "physin", "physout",
	"src", "sport", "dst", "dport", "ttl", "mark", "ts",
};

/* Step @v of a packet whose header fields are @hdr, whose node is @node, into @r. */
static int get_step(struct jr *j, int v, const struct pkt_hdr *hdr, const char *node,
		    struct trace_record *r)
{
	int f[S_N], ret, w;
	uint64_t n = 0;
	size_t name_max;

	ret = fields(j, v, step_keys, f, S_N);
	if (ret < 0)
		return ret;
	memset(r, 0, sizeof(*r));
	r->verdict_chain = "";	/* in "verdict" */
	r->hook = HOOK_NONE;
	r->pkt = *hdr;
	r->node = node;
	if (f[S_BACKEND] < 0 || f[S_KIND] < 0)
		return fail(j, "a step without backend or kind");
	w = word(j, f[S_BACKEND], backend_word, 2);
	if (w < 0)
		return fail(j, "an unknown backend");
	r->backend = (enum trace_backend)w;
	w = word(j, f[S_KIND], kind_word, 3);
	if (w < 0)
		return fail(j, "an unknown step kind");
	r->kind = (enum trace_kind)w;
	if (f[S_HOOK] >= 0) {
		w = word(j, f[S_HOOK], hook_word, HOOK_POSTROUTING + 1);
		if (w < 0)
			return fail(j, "an unknown hook");
		r->hook = (int8_t)w;
	}
	if (f[S_FAMILY] >= 0) {
		/* A family name a later version adds is skipped. */
		w = j->t[f[S_FAMILY]].type == JSON_STRING ? word(j, f[S_FAMILY], nfproto_word, 256) : -2;
		if (w == -2)
			return fail(j, "a string expected");
		r->table_family = w < 0 ? 0 : (uint8_t)w;
	}
	if (f[S_CONTINUE] >= 0 && j->t[f[S_CONTINUE]].type != JSON_TRUE)
		return fail(j, "\"continue\" is not true");
	r->verdict_continues = f[S_CONTINUE] >= 0;
	if (f[S_RULE] >= 0 && j->t[f[S_RULE]].type == JSON_NULL)
		f[S_RULE] = -1;
	name_max = r->backend == TRACE_BACKEND_NFT ? TRACE_NFT_NAME_MAX : TRACE_NAME_MAX;
	if ((ret = get_label(j, f[S_TABLE], name_max, false, &r->table)) < 0 ||
	    (ret = get_label(j, f[S_CHAIN], name_max, false, &r->chain)) < 0 ||
	    (ret = get_name(j, f[S_IN], r->in, sizeof(r->in), false)) < 0 ||
	    (ret = get_name(j, f[S_OUT], r->out, sizeof(r->out), false)) < 0 ||
	    (ret = get_name(j, f[S_PHYSIN], r->physin, sizeof(r->physin), true)) < 0 ||
	    (ret = get_name(j, f[S_PHYSOUT], r->physout, sizeof(r->physout), true)) < 0 ||
	    (ret = get_str(j, f[S_RULE], &r->rule)) < 0 ||
	    (ret = get_str(j, f[S_VERDICT], &r->verdict)) < 0 ||
	    (ret = get_str(j, f[S_REASON], &r->rule_reason)) < 0 ||
	    (ret = get_str(j, f[S_NODE], &r->node)) < 0 ||
	    (ret = get_uint(j, f[S_RULENUM], UINT32_MAX, &n)) < 0)
		return ret;
	if (f[S_NODE] >= 0 && !trace_node_ok(r->node))
		return fail(j, "a node name iptrace does not take");
	r->rulenum = (uint32_t)n;
	if ((ret = get_uint(j, f[S_HANDLE], UINT64_MAX, &r->handle)) < 0 ||
	    (ret = get_ct(j, f[S_CT], r)) < 0 ||
	    (ret = get_mark(j, f[S_MARK], &r->mark)) < 0 ||
	    (ret = get_time(j, f[S_TS], &r->ts_ns)) < 0)
		return ret;
	/* This step's addresses, ports and TTL; the rest of the header is the packet's. */
	if ((f[S_SRC] < 0) != (f[S_DST] < 0) || (f[S_SPORT] < 0) != (f[S_DPORT] < 0) ||
	    (f[S_SPORT] >= 0 && f[S_SRC] < 0))
		return fail(j, "a step with half its addresses or ports");
	if (hdr->family && f[S_SRC] < 0)
		return fail(j, "a step without addresses");
	if ((ret = get_addr(j, f[S_SRC], hdr->family, &r->pkt.saddr)) < 0 ||
	    (ret = get_addr(j, f[S_DST], hdr->family, &r->pkt.daddr)) < 0)
		return ret;
	n = 0;
	if ((ret = get_uint(j, f[S_SPORT], UINT16_MAX, &n)) < 0)
		return ret;
	r->pkt.sport = (uint16_t)n;
	n = 0;
	if ((ret = get_uint(j, f[S_DPORT], UINT16_MAX, &n)) < 0)
		return ret;
	r->pkt.dport = (uint16_t)n;
	r->pkt.has_ports = f[S_SPORT] >= 0;
	n = 0;
	if ((ret = get_uint(j, f[S_TTL], UINT8_MAX, &n)) < 0)
		return ret;
	r->pkt.ttl = (uint8_t)n;
	return 0;
}

static int get_family(struct jr *j, int v, uint8_t *family)
{
	if (json_str_is(j->s, &j->t[v], "ipv4"))
		*family = AF_INET;
	else if (json_str_is(j->s, &j->t[v], "ipv6"))
		*family = AF_INET6;
	else if (json_str_is(j->s, &j->t[v], "unknown"))
		*family = 0;
	else
		return fail(j, "an unknown family");
	return 0;
}

static int get_proto(struct jr *j, int v, uint8_t *proto)
{
	uint64_t n;
	int w;

	if (j->t[v].type == JSON_NUMBER) {
		if (json_uint(j->s, &j->t[v], UINT8_MAX, &n) < 0)
			return fail(j, "a protocol out of range");
		*proto = (uint8_t)n;
		return 0;
	}
	w = word(j, v, proto_word, 256);
	if (w < 0)
		return fail(j, "an unknown protocol name");
	*proto = (uint8_t)w;
	return 0;
}

/* "payload_hash":"1a2b3c4d" */
static int get_hash(struct jr *j, int v, uint32_t *hash)
{
	const char *s = NULL;
	int ret = get_str(j, v, &s);

	if (ret < 0 || !s)
		return ret;
	if (strlen(s) != 8 || !hex32(s, 8, hash))
		return fail(j, "a payload hash iptrace does not write");
	return 0;
}

/* The packet's id: a string of digits. */
static int get_id(struct jr *j, int v, uint64_t *id)
{
	const struct json_tok *t = &j->t[v];
	struct json_tok num = *t;

	if (t->type != JSON_STRING)
		return fail(j, "a packet id that is not a string");
	num.type = JSON_NUMBER;
	if (json_uint(j->s, &num, UINT64_MAX, id) < 0)
		return fail(j, "a packet id that is not a number");
	return 0;
}

static int room_for(struct jsonpkt_reader *r, size_t n)
{
	struct trace_record *s;

	if (n <= r->cap)
		return 0;
	s = realloc(r->steps, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	r->steps = s;
	r->cap = n;
	return 0;
}

enum { P_ID, P_NODE, P_FAMILY, P_PROTO, P_LEN, P_IPID, P_HASH, P_DROPPED, P_STEPS, P_N };

static int get_packet(struct jsonpkt_reader *r, struct jr *j, struct jsonpkt *out)
{
	static const char *const keys[P_N] = {
		"id", "node", "family", "proto", "len", "ipid", "payload_hash", "steps_dropped",
		"steps",
	};
	struct pkt_hdr hdr = { 0 };
	const char *node;
	int f[P_N], ret, e;
	uint64_t n = 0;
	size_t i = 0;

	ret = fields(j, 0, keys, f, P_N);
	if (ret < 0)
		return ret;
	if (f[P_ID] < 0 || f[P_FAMILY] < 0 || f[P_PROTO] < 0 || f[P_LEN] < 0 || f[P_STEPS] < 0)
		return fail(j, "a packet without id, family, proto, len or steps");
	out->type = JSONPKT_PACKET;
	if ((ret = get_id(j, f[P_ID], &out->id)) < 0 ||
	    (ret = get_family(j, f[P_FAMILY], &hdr.family)) < 0 ||
	    (ret = get_proto(j, f[P_PROTO], &hdr.proto)) < 0 ||
	    (ret = get_uint(j, f[P_LEN], UINT16_MAX, &n)) < 0)
		return ret;
	hdr.len = (uint16_t)n;
	n = 0;
	if ((ret = get_uint(j, f[P_IPID], UINT16_MAX, &n)) < 0)
		return ret;
	hdr.ipid = (uint16_t)n;
	n = 0;
	if ((ret = get_uint(j, f[P_DROPPED], UINT32_MAX, &n)) < 0 ||
	    (ret = get_hash(j, f[P_HASH], &hdr.head_hash)) < 0 ||
	    (ret = get_str(j, f[P_NODE], &out->node)) < 0)
		return ret;
	out->steps_dropped = (uint32_t)n;
	if (out->node && !trace_node_ok(out->node))
		return fail(j, "a node name iptrace does not take");
	if (j->t[f[P_STEPS]].type != JSON_ARRAY || j->t[f[P_STEPS]].count == 0)
		return fail(j, "a packet without steps");
	if (j->t[f[P_STEPS]].count > JSONPKT_MAX_STEPS) {
		j->why = "a packet with more steps than --merge takes";
		return -E2BIG;
	}
	if (room_for(r, j->t[f[P_STEPS]].count) < 0)
		return -ENOMEM;
	/*
	 * A step without "node" is of the packet's node; the packet's is its first step's
	 * when it names none itself (as the sink writes it: from the first step).
	 */
	node = out->node;
	for (e = f[P_STEPS] + 1; e < (int)j->t[f[P_STEPS]].end; e = (int)j->t[e].end) {
		ret = get_step(j, e, &hdr, node, &r->steps[i++]);
		if (ret < 0)
			return ret;
		if (i == 1 && !node)
			node = r->steps[0].node;
	}
	out->steps = r->steps;
	out->nsteps = i;
	return 0;
}

static int get_summary(struct jr *j, struct jsonpkt *out)
{
	static const char *const keys[] = {
		"packets", "records", "lost", "dropped", "evicted", "overruns", "malformed", "node",
	};
	uint64_t *const dst[] = {
		&out->sum.packets, &out->sum.records, &out->sum.lost, &out->sum.dropped,
		&out->sum.evicted, &out->sum.overruns, &out->sum.malformed,
	};
	int f[8], ret;

	ret = fields(j, 0, keys, f, 8);
	if (ret < 0)
		return ret;
	out->type = JSONPKT_SUMMARY;
	for (int i = 0; i < 7; i++)
		if ((ret = get_uint(j, f[i], UINT64_MAX, dst[i])) < 0)
			return ret;
	ret = get_str(j, f[7], &out->node);
	if (ret < 0)
		return ret;
	if (out->node && !trace_node_ok(out->node))
		return fail(j, "a node name iptrace does not take");
	return 0;
}

int jsonpkt_read(struct jsonpkt_reader *r, char *line, size_t len, struct jsonpkt *out,
		 const char **why)
{
	static const char *const keys[] = { "type" };
	struct jr j = { .s = line, .why = "not JSON" };
	int n, f, ret;

	memset(out, 0, sizeof(*out));
	/* Tokens as the line needs them: most lines fit the first buffer. */
	while ((n = json_parse(line, len, r->toks, r->ntoks)) == -E2BIG && r->ntoks < TOKS_MAX &&
	       len <= JSON_MAX_LEN) {
		size_t more = r->ntoks * 4 < TOKS_MAX ? r->ntoks * 4 : TOKS_MAX;
		struct json_tok *t = realloc(r->toks, more * sizeof(*t));

		if (!t)
			return -ENOMEM;
		r->toks = t;
		r->ntoks = more;
	}
	if (n == -E2BIG) {
		*why = "a line longer than --merge takes";
		return -E2BIG;
	}
	if (n < 0) {
		*why = j.why;
		return -EINVAL;
	}
	j.t = r->toks;
	ret = fields(&j, 0, keys, &f, 1);
	if (ret == 0 && (f < 0 || j.t[f].type != JSON_STRING))
		ret = fail(&j, "an object without a \"type\"");
	if (ret == 0) {
		if (json_str_is(line, &j.t[f], "packet"))
			ret = get_packet(r, &j, out);
		else if (json_str_is(line, &j.t[f], "summary"))
			ret = get_summary(&j, out);
		else
			out->type = JSONPKT_OTHER;
	}
	if (ret < 0)
		*why = j.why;
	return ret;
}
