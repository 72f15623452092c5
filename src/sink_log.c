/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_log.c: the kernel's own "TRACE:" syslog line format (placeholder until issue 4) */
#include "iptrace/sink.h"

const struct sink_ops sink_log_ops = {
	.name = "log",
};
