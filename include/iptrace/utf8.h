/* SPDX-License-Identifier: GPL-2.0-or-later */
/* utf8.h: what is UTF-8 — the JSON reader's check and the output escapers' */
#ifndef IPTRACE_UTF8_H
#define IPTRACE_UTF8_H

#include <stddef.h>

/*
 * utf8_len - the length (2 to 4) of the valid UTF-8 sequence at @u, @room bytes readable,
 * 0 when there is none: overlong forms, surrogates and code points past U+10FFFF are not
 * UTF-8 (RFC 3629, Unicode's table 3-7). A NUL fails the continuation test, so a
 * NUL-terminated string may be given SIZE_MAX: the check never reads past its end.
 */
static inline size_t utf8_len(const unsigned char *u, size_t room)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		n = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (room < n || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return n;
}

#endif
