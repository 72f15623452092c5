/* SPDX-License-Identifier: GPL-2.0-or-later */
/* array.h: the one way a growing array makes room */
#ifndef IPTRACE_ARRAY_H
#define IPTRACE_ARRAY_H

#include <stdlib.h>

/*
 * array_grow - the array @a of *@cap elements of @size bytes, reallocated with room for
 * more: twice as many elements, or @first when it has none. Returns the new array and
 * updates *@cap; NULL when out of memory or the size overflows (then @a is untouched and
 * still the caller's, *@cap as it was). Amortised O(1) per element appended.
 */
static inline void *array_grow(void *a, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? *cap * 2 : first;
	void *b = n > *cap ? reallocarray(a, n, size) : NULL;

	if (b)
		*cap = n;
	return b;
}

#endif
