/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nlattr.c: netlink attributes into a table, each checked by one validating callback */
#include <errno.h>

#include "iptrace/nlattr.h"

struct table {
	const struct nlattr_policy	*pol;
	unsigned			max;
	const struct nlattr		**tb;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct table *t = data;
	uint16_t type = mnl_attr_get_type(attr);
	const struct nlattr_policy *p;
	int ret;

	if (type > t->max)
		return MNL_CB_OK;
	p = &t->pol[type];
	if (p->type == MNL_TYPE_UNSPEC && !p->len)
		return MNL_CB_OK;
	ret = p->len ? mnl_attr_validate2(attr, p->type, p->len) : mnl_attr_validate(attr, p->type);
	if (ret < 0)
		return MNL_CB_ERROR;
	t->tb[type] = attr;
	return MNL_CB_OK;
}

int nlattr_parse(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr_policy *pol,
		 unsigned max, const struct nlattr **tb)
{
	struct table t = { pol, max, tb };

	if (!nlattr_walkable(nlh, hdrlen))
		return -EINVAL;
	return mnl_attr_parse(nlh, (unsigned)hdrlen, attr_cb, &t) < 0 ? -EINVAL : 0;
}

int nlattr_parse_nested(const struct nlattr *nest, const struct nlattr_policy *pol,
			unsigned max, const struct nlattr **tb)
{
	struct table t = { pol, max, tb };

	return mnl_attr_parse_nested(nest, attr_cb, &t) < 0 ? -EINVAL : 0;
}
