/* SPDX-License-Identifier: GPL-2.0-or-later */
/* diag.c: diagnostics on stderr, with journal priorities under systemd */
#include <stdarg.h>
#include <stdio.h>

#include "iptrace/diag.h"
#include "iptrace/notify.h"
#include "iptrace/sink.h"

void diag(enum diag_level level, const char *fmt, ...)
{
	const char *label = level == DIAG_WARNING ? "warning: " : level == DIAG_NOTE ? "note: " : "";
	char msg[1024], text[SINK_TEXT_NAME_MAX(sizeof(msg))];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote names (files, interfaces, chains): escaped as the sinks' text is. */
	sink_text_name(msg, text, sizeof(text));
	/* One fprintf: stderr is unbuffered, and stdio then writes the line in one piece. */
	if (notify_stderr_is_journal())
		fprintf(stderr, "<%d>iptrace: %s%s\n", (int)level, label, text);
	else
		fprintf(stderr, "iptrace: %s%s\n", label, text);
}
