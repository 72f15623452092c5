/* SPDX-License-Identifier: GPL-2.0-or-later */
/* diag.c: diagnostics on stderr, with journal priorities under systemd */
#include <stdarg.h>
#include <stdio.h>

#include "iptrace/diag.h"
#include "iptrace/notify.h"

/* Built whole, then written at once: lines of two processes sharing stderr don't interleave. */
static void say(int prio, const char *label, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (notify_stderr_is_journal())
		fprintf(stderr, "<%d>iptrace: %s%s\n", prio, label, msg);
	else
		fprintf(stderr, "iptrace: %s%s\n", label, msg);
}

void diag_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(3, "", fmt, ap);
	va_end(ap);
}

void diag_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(4, "warning: ", fmt, ap);
	va_end(ap);
}

void diag_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(5, "note: ", fmt, ap);
	va_end(ap);
}

void diag_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(6, "", fmt, ap);
	va_end(ap);
}
