/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hex.h: hex digits read back — JSON's \uXXXX escapes, dmesg's \xhh ones */
#ifndef IPTRACE_HEX_H
#define IPTRACE_HEX_H

/* hex_digit - the value of the hex digit @c (either case), or -1 when it is not one. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
