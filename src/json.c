/* SPDX-License-Identifier: GPL-2.0-or-later */
/* json.c: a strict JSON tokenizer — text in, a flat token array out, nothing allocated */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "iptrace/hex.h"
#include "iptrace/utf8.h"
#include "iptrace/json.h"

struct jp {
	const char		*s;
	uint32_t		len, pos;
	struct json_tok		*t;
	uint32_t		n, cap;
};

static void skip_ws(struct jp *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/* The 4 hex digits at @s (at least 4 bytes readable), or -1. */
static long hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_digit(s[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* A string from its opening quote: checked, not decoded (json_unescape() does that). */
static int string(struct jp *p, struct json_tok *t)
{
	const unsigned char *u = (const unsigned char *)p->s;

	p->pos++;	/* the quote */
	t->start = p->pos;
	while (p->pos < p->len) {
		unsigned char c = u[p->pos];

		if (c == '"') {
			t->len = p->pos - t->start;
			p->pos++;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c >= 0x80) {
			size_t n = utf8_len(u + p->pos, p->len - p->pos);

			if (!n)
				return -EINVAL;
			p->pos += (uint32_t)n;
			continue;
		}
		if (c != '\\') {
			p->pos++;
			continue;
		}
		if (p->len - p->pos < 2)
			return -EINVAL;
		c = u[p->pos + 1];
		if (c != 'u') {
			if (!strchr("\"\\/bfnrt", c) || !c)
				return -EINVAL;
			p->pos += 2;
			continue;
		}
		long cp = p->len - p->pos >= 6 ? hex4(p->s + p->pos + 2) : -1;

		if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff))
			return -EINVAL;	/* no NUL in a C string; no low surrogate alone */
		p->pos += 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			long lo = p->len - p->pos >= 6 && p->s[p->pos] == '\\' &&
				  p->s[p->pos + 1] == 'u' ? hex4(p->s + p->pos + 2) : -1;

			if (lo < 0xdc00 || lo > 0xdfff)
				return -EINVAL;
			p->pos += 6;
		}
	}
	return -EINVAL;	/* no closing quote */
}

static bool digit_at(const struct jp *p)
{
	return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct jp *p, struct json_tok *t)
{
	t->start = p->pos;
	if (p->s[p->pos] == '-')
		p->pos++;
	if (!digit_at(p))
		return -EINVAL;
	if (p->s[p->pos] == '0')
		p->pos++;
	else
		while (digit_at(p))
			p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digit_at(p))
			return -EINVAL;
		while (digit_at(p))
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digit_at(p))
			return -EINVAL;
		while (digit_at(p))
			p->pos++;
	}
	t->len = p->pos - t->start;
	return 0;
}

static int literal(struct jp *p, struct json_tok *t, const char *word, enum json_type type)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return -EINVAL;
	t->type = (uint8_t)type;
	t->start = p->pos;
	t->len = (uint32_t)n;
	p->pos += (uint32_t)n;
	return 0;
}

static int value(struct jp *p, unsigned depth);

/* The members of an object or the elements of an array, from after its opening bracket. */
static int members(struct jp *p, uint32_t i, unsigned depth)
{
	bool obj = p->t[i].type == JSON_OBJECT;
	char close = obj ? '}' : ']';
	int ret;

	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (obj) {
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return -EINVAL;
			ret = value(p, depth);	/* the key: a string */
			if (ret < 0)
				return ret;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return -EINVAL;
			p->pos++;
		}
		ret = value(p, depth);
		if (ret < 0)
			return ret;
		p->t[i].count++;
		skip_ws(p);
		if (p->pos >= p->len)
			return -EINVAL;
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return -EINVAL;
		p->pos++;
	}
}

/* One value and everything in it; @depth: the containers it is in. */
static int value(struct jp *p, unsigned depth)
{
	struct json_tok *t;
	uint32_t i;
	int ret;

	skip_ws(p);
	if (p->pos >= p->len)
		return -EINVAL;
	if (p->n == p->cap)
		return -E2BIG;
	i = p->n++;
	t = &p->t[i];
	memset(t, 0, sizeof(*t));
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (depth >= JSON_MAX_DEPTH)
			return -EINVAL;
		t->type = p->s[p->pos] == '{' ? JSON_OBJECT : JSON_ARRAY;
		t->start = p->pos++;
		ret = members(p, i, depth + 1);
		t = &p->t[i];
		t->len = p->pos - t->start;
		break;
	case '"':
		t->type = JSON_STRING;
		ret = string(p, t);
		break;
	case 't':
		ret = literal(p, t, "true", JSON_TRUE);
		break;
	case 'f':
		ret = literal(p, t, "false", JSON_FALSE);
		break;
	case 'n':
		ret = literal(p, t, "null", JSON_NULL);
		break;
	default:
		t->type = JSON_NUMBER;
		ret = number(p, t);
		break;
	}
	p->t[i].end = p->n;
	return ret;
}

int json_parse(const char *s, size_t len, struct json_tok *toks, size_t ntoks)
{
	struct jp p = {
		.s = s, .len = (uint32_t)len, .t = toks,
		.cap = ntoks > INT32_MAX ? INT32_MAX : (uint32_t)ntoks,
	};
	int ret;

	if (len > JSON_MAX_LEN)
		return -E2BIG;
	ret = value(&p, 0);
	if (ret < 0)
		return ret;
	skip_ws(&p);
	return p.pos == p.len ? (int)p.n : -EINVAL;
}

int json_str_is(const char *s, const struct json_tok *t, const char *str)
{
	return t->type == JSON_STRING && t->len == strlen(str) &&
	       memcmp(s + t->start, str, t->len) == 0;
}

/* @cp as UTF-8 at @o; returns the bytes written. */
static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* json_parse() checked the escapes: this decodes them without checking again. */
char *json_unescape(char *s, const struct json_tok *t)
{
	char *in = s + t->start, *end = in + t->len, *o = in;

	while (in < end) {
		unsigned long cp;

		if (*in != '\\') {
			*o++ = *in++;
			continue;
		}
		switch (in[1]) {
		case 'b':	cp = '\b'; break;
		case 'f':	cp = '\f'; break;
		case 'n':	cp = '\n'; break;
		case 'r':	cp = '\r'; break;
		case 't':	cp = '\t'; break;
		case 'u':
			cp = (unsigned long)hex4(in + 2);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     ((unsigned long)hex4(in + 8) - 0xdc00);
				in += 6;
			}
			o += put_utf8(o, cp);
			in += 6;
			continue;
		default:	cp = (unsigned char)in[1]; break;	/* " \ / */
		}
		*o++ = (char)cp;
		in += 2;
	}
	*o = '\0';
	return s + t->start;
}

int json_uint(const char *s, const struct json_tok *t, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (t->type != JSON_NUMBER || t->len == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < t->len; i++) {
		unsigned d = (unsigned)(s[t->start + i] - '0');

		if (d > 9 || d > max || x > (max - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}
