/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nattable.c: natstat.awk in C — fold a NAT log into the table current at its end, print it */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "iptrace/array.h"
#include "iptrace/nattable.h"
#include "iptrace/selector.h"
#include "iptrace/siphash.h"
#include "iptrace/sink.h"

struct slot {
	struct nat_row	row;
	bool		live;
	size_t		next;	/* hash chain, SIZE_MAX ends it */
};

struct nattable {
	struct slot		*slots;
	size_t			nslots, cap, nlive;
	size_t			*buckets;	/* heads, SIZE_MAX when empty */
	size_t			nbuckets;	/* a power of two */
	/* Ids come from a file anyone may have written: chains stay short only if no one
	 * can know which ids collide. */
	struct siphash_key	key;
};

#define NONE SIZE_MAX

void nat_row_from_ct(const struct ct_entry *e, struct nat_row *row)
{
	char pbuf[4];

	memset(row, 0, sizeof(*row));
	snprintf(row->proto, sizeof(row->proto), "%s",
		 ct_proto_name(e->orig.proto, pbuf, sizeof(pbuf)));
	ct_fmt_endpoint(&e->orig, false, row->local, sizeof(row->local));
	ct_fmt_endpoint(&e->orig, true, row->public_, sizeof(row->public_));
	ct_fmt_endpoint(&e->reply, true, row->alias, sizeof(row->alias));
	if (ct_is_dnat(e))
		ct_fmt_endpoint(&e->reply, false, row->proxy, sizeof(row->proxy));
	else
		strcpy(row->proxy, "*:*");
	if (e->has_id)
		snprintf(row->id, sizeof(row->id), "%u", e->id);
}

/* "10.0.0.1:53", "[2001:db8::1]:53", "10.0.0.1:*" → address, port; 0 or -EINVAL. */
static int parse_endpoint(const char *s, int *family, struct in6_addr *a, bool *has_port,
			  uint16_t *port)
{
	char buf[NAT_FIELD_MAX];
	const char *colon = strrchr(s, ':'), *ps;
	size_t alen;
	char *end;
	unsigned long v;

	if (!colon || (size_t)(colon - s) >= sizeof(buf))
		return -EINVAL;
	alen = (size_t)(colon - s);
	ps = colon + 1;
	if (s[0] == '[') {
		if (alen < 3 || s[alen - 1] != ']')
			return -EINVAL;
		memcpy(buf, s + 1, alen - 2);
		buf[alen - 2] = '\0';
		*family = AF_INET6;
	} else {
		memcpy(buf, s, alen);
		buf[alen] = '\0';
		*family = AF_INET;
	}
	memset(a, 0, sizeof(*a));
	if (inet_pton(*family, buf, a) != 1)
		return -EINVAL;
	*has_port = strcmp(ps, "*") != 0;
	*port = 0;
	if (*has_port) {
		if (*ps < '0' || *ps > '9')
			return -EINVAL;
		v = strtoul(ps, &end, 10);
		if (*end || v > 65535)
			return -EINVAL;
		*port = (uint16_t)v;
	}
	return 0;
}

int nat_row_orig(const struct nat_row *row, struct ct_entry *e)
{
	struct selection sel = { 0 };
	struct ct_tuple *t = &e->orig;
	char err[8];
	int f1, f2;
	bool p1, p2;
	uint16_t sp, dp;

	memset(e, 0, sizeof(*e));
	if (sel_parse_proto(row->proto, &sel, err, sizeof(err)) < 0 || sel.nprotos != 1)
		return -EINVAL;
	if (parse_endpoint(row->local, &f1, &t->src, &p1, &sp) < 0 ||
	    parse_endpoint(row->public_, &f2, &t->dst, &p2, &dp) < 0 || f1 != f2 || p1 != p2)
		return -EINVAL;
	t->family = (uint8_t)f1;
	e->family = t->family;
	t->proto = sel.protos[0];
	if (p1 && (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6)) {
		t->has_icmp = true;
		t->icmp_id = sp;
	} else if (p1) {
		t->has_ports = true;
		t->sport = sp;
		t->dport = dp;
	}
	return 0;
}

char *nat_row_format(char op, const struct nat_row *row, char *buf, size_t size)
{
	snprintf(buf, size, "%c %s %s %s %s %s (%s%s)", op, row->proto, row->local,
		 row->public_, row->alias, row->proxy,
		 row->id[0] >= '0' && row->id[0] <= '9' && strncmp(row->id, "0x", 2) ? "id " : "",
		 row->id);
	return buf;
}

/* Copy the next space-separated word of *@s into @dst (size @size). 0 or -EINVAL. */
static int word(const char **s, char *dst, size_t size)
{
	const char *p = *s, *end;

	end = strchr(p, ' ');
	if (!end || end == p || (size_t)(end - p) >= size)
		return -EINVAL;
	memcpy(dst, p, (size_t)(end - p));
	dst[end - p] = '\0';
	*s = end + 1;
	return 0;
}

int nat_line_parse(const char *line, char *op, struct nat_row *row)
{
	const char *s = line, *close;
	size_t len = strlen(line), idlen;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len < 4 || (s[0] != '+' && s[0] != '-' && s[0] != '=') || s[1] != ' ')
		return -EINVAL;
	memset(row, 0, sizeof(*row));
	*op = s[0];
	s += 2;
	if (word(&s, row->proto, sizeof(row->proto)) < 0 ||
	    word(&s, row->local, sizeof(row->local)) < 0 ||
	    word(&s, row->public_, sizeof(row->public_)) < 0 ||
	    word(&s, row->alias, sizeof(row->alias)) < 0 ||
	    word(&s, row->proxy, sizeof(row->proxy)) < 0)
		return -EINVAL;
	close = line + len - 1;
	if (*s != '(' || close <= s || *close != ')')
		return -EINVAL;
	s++;
	/* iptrace writes "(id 1234)", libalias "(0x8060100)": the key is the number itself. */
	if (strncmp(s, "id ", 3) == 0)
		s += 3;
	idlen = (size_t)(close - s);
	if (!idlen || idlen >= sizeof(row->id) || memchr(s, ' ', idlen))
		return -EINVAL;
	memcpy(row->id, s, idlen);
	row->id[idlen] = '\0';
	return 0;
}

static size_t hash_id(const struct nattable *t, const char *id)
{
	return (size_t)siphash13(&t->key, id, strlen(id));
}

struct nattable *nattable_new(void)
{
	struct nattable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	siphash_key_random(&t->key);
	t->nbuckets = 64;
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	return t;
}

void nattable_free(struct nattable *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->buckets);
	free(t);
}

static size_t find(const struct nattable *t, const char *id, size_t **link)
{
	size_t *l = &t->buckets[hash_id(t, id) & (t->nbuckets - 1)];

	while (*l != NONE && strcmp(t->slots[*l].row.id, id) != 0)
		l = &t->slots[*l].next;
	if (link)
		*link = l;
	return *l;
}

/* Drop dead slots and rebuild the index at @nbuckets; keeps the insertion order. */
static int reindex(struct nattable *t, size_t nbuckets)
{
	size_t *b = malloc(nbuckets * sizeof(*b)), n = 0;

	if (!b)
		return -ENOMEM;
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nbuckets;
	memset(b, 0xff, nbuckets * sizeof(*b));
	for (size_t i = 0; i < t->nslots; i++) {
		size_t h;

		if (!t->slots[i].live)
			continue;
		t->slots[n] = t->slots[i];
		h = hash_id(t, t->slots[n].row.id) & (nbuckets - 1);
		t->slots[n].next = b[h];
		b[h] = n++;
	}
	t->nslots = n;
	return 0;
}

int nattable_put(struct nattable *t, const struct nat_row *row)
{
	size_t i = find(t, row->id, NULL), h;

	if (i != NONE) {
		size_t next = t->slots[i].next;

		t->slots[i].row = *row;
		t->slots[i].next = next;
		return 0;
	}
	if (t->nslots == t->cap) {
		/* Dead slots first: a long log of short flows must not grow without bound. */
		if (t->nslots - t->nlive > t->nslots / 2 && reindex(t, t->nbuckets) == 0)
			return nattable_put(t, row);
		struct slot *s = array_grow(t->slots, &t->cap, sizeof(*s), 64);

		if (!s)
			return -ENOMEM;
		t->slots = s;
	}
	if (t->nslots >= t->nbuckets && reindex(t, t->nbuckets * 2) < 0)
		return -ENOMEM;
	i = t->nslots++;
	t->slots[i].row = *row;
	t->slots[i].live = true;
	h = hash_id(t, row->id) & (t->nbuckets - 1);
	t->slots[i].next = t->buckets[h];
	t->buckets[h] = i;
	t->nlive++;
	return 0;
}

int nattable_del(struct nattable *t, const char *id)
{
	size_t *link, i = find(t, id, &link);

	if (i == NONE)
		return -ENOENT;
	*link = t->slots[i].next;
	t->slots[i].live = false;
	t->nlive--;
	return 0;
}

int nattable_apply(struct nattable *t, char op, const struct nat_row *row)
{
	if (op == '-')
		return nattable_del(t, row->id) == -ENOMEM ? -ENOMEM : 0;
	return nattable_put(t, row);
}

int nattable_fold(struct nattable *t, FILE *in, uint64_t *skipped)
{
	char *line = NULL, op;
	size_t cap = 0;
	struct nat_row row;
	int ret = 0;

	while (getline(&line, &cap, in) >= 0) {
		if (nat_line_parse(line, &op, &row) < 0) {
			if (skipped)
				(*skipped)++;
			continue;
		}
		ret = nattable_apply(t, op, &row);
		if (ret < 0)
			break;
	}
	/* getline's own reason (EISDIR for a directory), not a bare I/O error. */
	if (!ret && ferror(in))
		ret = errno ? -errno : -EIO;
	free(line);
	return ret;
}

size_t nattable_filter(struct nattable *t, bool (*keep)(const struct nat_row *, void *), void *arg)
{
	size_t removed = 0;

	for (size_t i = 0; i < t->nslots; i++) {
		if (t->slots[i].live && !keep(&t->slots[i].row, arg)) {
			nattable_del(t, t->slots[i].row.id);
			removed++;
		}
	}
	return removed;
}

size_t nattable_count(const struct nattable *t)
{
	return t->nlive;
}

const struct nat_row *nattable_get(const struct nattable *t, size_t i)
{
	for (size_t k = 0; k < t->nslots; k++)
		if (t->slots[k].live && i-- == 0)
			return &t->slots[k].row;
	return NULL;
}

/* @r's columns as text into @f, each column's width in @w widened to fit. */
static void row_text(const struct nat_row *r, char f[5][SINK_TEXT_NAME_MAX(NAT_FIELD_MAX)],
		     size_t w[5])
{
	const char *v[5] = { r->proto, r->local, r->public_, r->alias, r->proxy };

	for (int c = 0; c < 5; c++) {
		size_t n = strlen(sink_text_name(v[c], f[c], sizeof(f[c])));

		if (n > w[c])
			w[c] = n;
	}
}

int nattable_print(const struct nattable *t, FILE *out)
{
	static const char *const head[5] = { "Type", "Local", "Public", "Alias", "Proxy" };
	/* A folded log's fields are any words: shown escaped (sink_text_escape()). */
	char f[5][SINK_TEXT_NAME_MAX(NAT_FIELD_MAX)];
	size_t w[5];

	for (int c = 0; c < 5; c++)
		w[c] = strlen(head[c]);
	for (size_t i = 0; i < t->nslots; i++) {
		if (t->slots[i].live)
			row_text(&t->slots[i].row, f, w);
	}
	fprintf(out, "%-*s %-*s %-*s %-*s %s\n", (int)w[0], head[0], (int)w[1], head[1],
		(int)w[2], head[2], (int)w[3], head[3], head[4]);
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i].live)
			continue;
		row_text(&t->slots[i].row, f, w);
		fprintf(out, "%-*s %-*s %-*s %-*s %s\n", (int)w[0], f[0], (int)w[1], f[1],
			(int)w[2], f[2], (int)w[3], f[3], f[4]);
	}
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}

int nattable_print_json(const struct nattable *t, FILE *out)
{
	for (size_t i = 0; i < t->nslots; i++) {
		const struct nat_row *r = &t->slots[i].row;
		const char *k[] = { "proto", "local", "public", "alias", "proxy", "id" };
		const char *v[] = { r->proto, r->local, r->public_, r->alias, r->proxy, r->id };

		if (!t->slots[i].live)
			continue;
		fputs("{\"type\":\"nat_entry\"", out);
		for (size_t j = 0; j < 6; j++) {
			if (j == 4 && strcmp(v[j], "*:*") == 0)
				fputs(",\"proxy\":null", out);
			else
				sink_json_field(out, k[j], v[j]);
		}
		fputs("}\n", out);
	}
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}
