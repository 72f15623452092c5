/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlattr.h: netlink attribute accessors, inline, for the decoders on the per-record path */
#ifndef IPTRACE_NLATTR_H
#define IPTRACE_NLATTR_H

#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <libmnl/libmnl.h>

/*
 * libmnl's getters read the same bytes but are calls into the shared library, ten or so
 * per message (BENCHMARKS.md). The sizes must have been checked by the caller's walk; the
 * payload is only 4-byte aligned, so values are copied out.
 */
static inline const void *attr_data(const struct nlattr *a)
{
	return (const char *)a + MNL_ATTR_HDRLEN;
}

static inline uint16_t attr_len(const struct nlattr *a)
{
	return (uint16_t)(a->nla_len - MNL_ATTR_HDRLEN);
}

static inline uint16_t attr_be16(const struct nlattr *a)
{
	uint16_t v;

	memcpy(&v, attr_data(a), sizeof(v));
	return be16toh(v);
}

static inline uint32_t attr_be32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, attr_data(a), sizeof(v));
	return be32toh(v);
}

static inline uint64_t attr_be64(const struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, attr_data(a), sizeof(v));
	return be64toh(v);
}

#endif
