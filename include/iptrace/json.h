/* SPDX-License-Identifier: GPL-2.0-or-later */
/* json.h: a strict, bounded JSON tokenizer (RFC 8259) for reading iptrace's own lines back */
#ifndef IPTRACE_JSON_H
#define IPTRACE_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/*
 * One value of the text, in document order: an object's token is followed by its members'
 * tokens (key, value, key, value...), an array's by its elements', each with their own.
 * Plain struct.
 */
struct json_tok {
	uint8_t		type;		/* enum json_type */
	uint32_t	start;		/* offset of the text; a string's after its opening quote */
	uint32_t	len;		/* its bytes; a string's without quotes, still escaped */
	uint32_t	count;		/* object: members; array: elements; else 0 */
	uint32_t	end;		/* index of the first token after this value and its own */
};

/* How deep objects and arrays may nest: iptrace writes 4 levels. */
#define JSON_MAX_DEPTH	16
/* The longest text json_parse() takes (offsets are 32-bit). */
#define JSON_MAX_LEN	(1u << 30)

/*
 * json_parse - tokenize the one JSON value in @s (@len bytes; whitespace may surround it,
 * nothing else) into @toks (room for @ntoks). Strict: RFC 8259's grammar; strings valid
 * UTF-8 with no control byte, escapes valid, no \u0000 and no unpaired surrogate; nesting
 * at most JSON_MAX_DEPTH. Pure: reads @s only, never past @len.
 * Returns the number of tokens (toks[0] is the value), -EINVAL when @s is not such a text,
 * -E2BIG when it needs more than @ntoks tokens or is longer than JSON_MAX_LEN.
 */
int json_parse(const char *s, size_t len, struct json_tok *toks, size_t ntoks);

/*
 * json_str_is - true when @t is a string token that is exactly @str (an object's key, a
 * word such as "packet"). Compared as written, before json_unescape(): one spelled with
 * escapes never matches, and iptrace writes keys and words without.
 */
int json_str_is(const char *s, const struct json_tok *t, const char *str);

/*
 * json_unescape - string token @t of @s decoded in place: its UTF-8 bytes written from
 * @s + @t->start (never longer than the escaped text) and a NUL over its closing quote.
 * Other tokens stay valid; @t's own text is gone (decode it once). Returns the string.
 */
char *json_unescape(char *s, const struct json_tok *t);

/*
 * json_uint - number token @t of @s as an integer in [0, @max]: digits only, no sign,
 * fraction or exponent. 0, or -EINVAL (not such a number, or above @max).
 */
int json_uint(const char *s, const struct json_tok *t, uint64_t max, uint64_t *v);

#endif
