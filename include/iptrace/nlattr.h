/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlattr.h: netlink attributes into a table checked by one callback; nfnetlink request headers */
#ifndef IPTRACE_NLATTR_H
#define IPTRACE_NLATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

/*
 * What an attribute of one type must be to enter the table: @type checked with
 * mnl_attr_validate() (the exact size of U8..U64, a non-empty NUL-terminated string, an
 * empty or well-formed nest; BINARY any size), or with mnl_attr_validate2() against @len
 * when set (a fixed-size binary). A type left { 0 } is not read by the parser: neither
 * checked nor kept.
 */
struct nlattr_policy {
	enum mnl_attr_data_type	type;
	uint16_t		len;
};

/*
 * nlattr_walkable - may libmnl walk the attributes of @nlh after its @hdrlen-byte family
 * header? Not when the message is shorter than its headers, nor when its length is not a
 * multiple of 4: libmnl walks up to NLMSG_ALIGN(nlmsg_len), up to 3 bytes past such a
 * message (the kernel's are aligned). For parsers that call the walk through another
 * library (nflog_nlmsg_parse()); nlattr_parse() checks it itself.
 */
static inline bool nlattr_walkable(const struct nlmsghdr *nlh, size_t hdrlen)
{
	return nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen) &&
	       nlh->nlmsg_len % MNL_ALIGNTO == 0;
}

/*
 * nlattr_parse - mnl_attr_parse() of @nlh's attributes after its @hdrlen-byte family header
 * into @tb (@max + 1 entries, zeroed by the caller), each type checked as @pol (@max + 1
 * entries) says. Types beyond @max are newer than this build: skipped. The last of a
 * repeated type wins; a truncated attribute ends the walk. Returns 0, or -EINVAL when the
 * message is not nlattr_walkable() or an attribute fails its check.
 */
int nlattr_parse(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr_policy *pol,
		 unsigned max, const struct nlattr **tb);

/* nlattr_parse_nested - the same for the attributes nested in @nest (checked by its parser). */
int nlattr_parse_nested(const struct nlattr *nest, const struct nlattr_policy *pol,
			unsigned max, const struct nlattr **tb);

/*
 * nlattr_put_nfnl_header - start an nfnetlink request in @buf (zeroed as far as the
 * headers go): message @type of subsystem @subsys, flags NLM_F_REQUEST | @flags, @seq,
 * then the nfgenmsg for @family (version NFNETLINK_V0, res_id 0). Attributes follow with
 * mnl_attr_put*(). Returns the message, which lives in @buf.
 */
static inline struct nlmsghdr *nlattr_put_nfnl_header(void *buf, uint8_t subsys, uint8_t type,
							uint8_t family, uint16_t flags,
							uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	return nlh;
}

#endif
