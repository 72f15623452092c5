/* SPDX-License-Identifier: GPL-2.0-or-later */
/* oracle.h: what any output of iptrace must be — JSON lines valid and UTF-8, text without raw control bytes */
#ifndef IPTRACE_TESTS_ORACLE_H
#define IPTRACE_TESTS_ORACLE_H

/*
 * For the unit tests and the fuzz harnesses alike. Written apart from src/sink.c's
 * escapers (decoding code points rather than checking byte ranges), so that a mistake in
 * one does not hide in the other.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* oracle_utf8 - the length of the UTF-8 sequence at @p (before @end), 0 if it is not one. */
static inline size_t oracle_utf8(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	uint32_t c;
	size_t n;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07u;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * oracle_text - NULL when @len bytes of text output hold no raw control byte (only '\n';
 * with @colours, ESC only as one of the colour sequences sink_text writes), no C1 control
 * and only valid UTF-8; else where the first bad byte is. (A name escaped wrongly could
 * still spell one of those colours: harnesses print with colours off too.)
 */
static inline const char *oracle_text(const char *buf, size_t len, bool colours)
{
	static const char *const sgr[] = {	/* sink_text.c's C_* */
		"\033[1m", "\033[1;33m", "\033[2m", "\033[32m", "\033[1;31m", "\033[36m",
		"\033[0m",
	};
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;

	while (p < end) {
		uint32_t c;
		size_t n = oracle_utf8(p, end, &c);

		if (!n || (c < 0x20 && c != '\n' && c != 0x1b) || (c >= 0x7f && c < 0xa0))
			return (const char *)p;
		if (c == 0x1b) {
			size_t i = 0, k = 0;

			for (; colours && i < sizeof(sgr) / sizeof(sgr[0]); i++) {
				k = strlen(sgr[i]);
				if ((size_t)(end - p) >= k && memcmp(p, sgr[i], k) == 0)
					break;
			}
			if (!colours || i == sizeof(sgr) / sizeof(sgr[0]))
				return (const char *)p;
			n = k;
		}
		p += n;
	}
	return NULL;
}

/*
 * A strict JSON reader (RFC 8259, UTF-8 only) for one line: oracle_json_value() returns
 * the end of the value at @p or NULL. Beyond JSON: a member "K_hex" must directly follow a
 * member "K" and hold an even, non-empty run of lower-case hex digits whose bytes are not
 * valid UTF-8 (the sinks add it only for such a name).
 */
struct oracle_json {
	const char	*end;
};

static inline const char *oracle_json_value(const struct oracle_json *j, const char *p, int depth);

static inline const char *oracle_json_ws(const struct oracle_json *j, const char *p)
{
	while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/*
 * The value of @c among the hex digits of one case, -1 when it is none of them: a \uXXXX
 * escape may be written in either case (@upper_too), a "K_hex" value only in lower case.
 */
static inline int oracle_hexval(char c, bool upper_too)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	const char *d;

	if (c == '\0')
		return -1;
	if ((d = strchr(lower, c)))
		return (int)(d - lower);
	if (upper_too && (d = strchr(upper, c)))
		return (int)(d - upper);
	return -1;
}

/* A string at @p; its raw text (between the quotes) at *@s, *@n bytes. */
static inline const char *oracle_json_string(const struct oracle_json *j, const char *p,
					     const char **s, size_t *n)
{
	const unsigned char *q, *end = (const unsigned char *)j->end;

	if (p >= j->end || *p != '"')
		return NULL;
	q = (const unsigned char *)p + 1;
	*s = (const char *)q;
	while (q < end) {
		uint32_t c;
		size_t k;

		if (*q == '"') {
			*n = (size_t)((const char *)q - *s);
			return (const char *)q + 1;
		}
		if (*q < 0x20)
			return NULL;
		if (*q == '\\') {
			if (++q == end)
				return NULL;
			if (*q == 'u') {
				for (int i = 1; i <= 4; i++)
					if (q + i >= end || oracle_hexval((char)q[i], true) < 0)
						return NULL;
				q += 5;
			} else if (*q && strchr("\"\\/bfnrt", *q)) {
				q++;
			} else {
				return NULL;
			}
			continue;
		}
		k = oracle_utf8(q, end, &c);
		if (!k)
			return NULL;
		q += k;
	}
	return NULL;
}

static inline const char *oracle_json_number(const struct oracle_json *j, const char *p)
{
	const char *start;

	if (p < j->end && *p == '-')
		p++;
	start = p;
	while (p < j->end && *p >= '0' && *p <= '9')
		p++;
	if (p == start || (*start == '0' && p - start > 1))
		return NULL;
	if (p < j->end && *p == '.') {
		start = ++p;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		if (++p < j->end && (*p == '+' || *p == '-'))
			p++;
		start = p;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	return p;
}

/* The "K_hex" rule: @key (@kn bytes) and its string value @v (@vn bytes, raw). */
static inline bool oracle_hex_ok(const char *prev, size_t pn, const char *key, size_t kn,
				 const char *v, size_t vn)
{
	unsigned char bytes[4096];
	uint32_t c;
	bool valid = true;

	if (kn < 4 || memcmp(key + kn - 4, "_hex", 4) != 0)
		return true;
	if (!prev || pn != kn - 4 || memcmp(prev, key, pn) != 0)
		return false;	/* not right after the field it belongs to */
	if (!vn || vn % 2 || vn / 2 > sizeof(bytes))
		return false;
	for (size_t i = 0; i < vn; i += 2) {
		int hi = oracle_hexval(v[i], false), lo = oracle_hexval(v[i + 1], false);

		if (hi < 0 || lo < 0)
			return false;
		bytes[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	for (size_t i = 0; i < vn / 2 && valid;) {
		size_t k = oracle_utf8(bytes + i, bytes + vn / 2, &c);

		valid = k && c != 0;
		i += k;
	}
	return !valid;	/* hex only for what is not UTF-8 */
}

static inline const char *oracle_json_members(const struct oracle_json *j, const char *p,
					      char close, bool object, int depth)
{
	const char *prev = NULL;
	size_t pn = 0;

	p = oracle_json_ws(j, p);
	if (p < j->end && *p == close)
		return p + 1;
	for (;;) {
		const char *key = NULL, *v, *after;
		size_t kn = 0, vn;

		if (object) {
			p = oracle_json_string(j, oracle_json_ws(j, p), &key, &kn);
			if (!p)
				return NULL;
			p = oracle_json_ws(j, p);
			if (p >= j->end || *p++ != ':')
				return NULL;
		}
		p = oracle_json_ws(j, p);
		after = oracle_json_value(j, p, depth);
		if (!after)
			return NULL;
		if (object && oracle_json_string(j, p, &v, &vn) == after &&
		    !oracle_hex_ok(prev, pn, key, kn, v, vn))
			return NULL;
		prev = key;
		pn = kn;
		p = oracle_json_ws(j, after);
		if (p < j->end && *p == close)
			return p + 1;
		if (p >= j->end || *p++ != ',')
			return NULL;
	}
}

static inline const char *oracle_json_value(const struct oracle_json *j, const char *p, int depth)
{
	const char *s;
	size_t n;

	if (depth > 32 || p >= j->end)
		return NULL;
	switch (*p) {
	case '{':
		return oracle_json_members(j, p + 1, '}', true, depth + 1);
	case '[':
		return oracle_json_members(j, p + 1, ']', false, depth + 1);
	case '"':
		return oracle_json_string(j, p, &s, &n);
	case 't':
		return j->end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
	case 'f':
		return j->end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
	case 'n':
		return j->end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
	default:
		return oracle_json_number(j, p);
	}
}

/* oracle_json_line - true when @len bytes are exactly one JSON value (no newline). */
static inline bool oracle_json_line(const char *line, size_t len)
{
	struct oracle_json j = { line + len };
	const char *e = oracle_json_value(&j, oracle_json_ws(&j, line), 0);

	return e && oracle_json_ws(&j, e) == line + len;
}

/*
 * oracle_json_lines - NULL when every '\n'-ended line of @len bytes is one JSON value (and
 * the output ends with a newline, or is empty); else the first bad line.
 */
static inline const char *oracle_json_lines(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || !oracle_json_line(p, (size_t)(nl - p)))
			return p;
		p = nl + 1;
	}
	return NULL;
}

#endif
