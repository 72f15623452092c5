/* SPDX-License-Identifier: GPL-2.0-or-later */
/* diag.h: what iptrace tells its user on stderr — errors, warnings, notes and information */
#ifndef IPTRACE_DIAG_H
#define IPTRACE_DIAG_H

/* The levels, as sd-daemon(3)'s priorities. */
enum diag_level {
	DIAG_ERROR = 3,
	DIAG_WARNING = 4,
	DIAG_NOTE = 5,
	DIAG_INFO = 6,
};

/*
 * diag - one line on stderr: "iptrace: ", then "warning: " or "note: " for those levels,
 * the message (git's style: lower case, no full stop, quoted subjects: cannot open '%s'),
 * a newline; written in one piece. When stderr is the journal stream systemd connected,
 * the line starts with sd-daemon's "<N>" so that the journal files it at its priority.
 * Data never goes here: it goes to the sinks' output.
 */
void diag(enum diag_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define diag_error(...)		diag(DIAG_ERROR, __VA_ARGS__)
#define diag_warning(...)	diag(DIAG_WARNING, __VA_ARGS__)
#define diag_note(...)		diag(DIAG_NOTE, __VA_ARGS__)
#define diag_info(...)		diag(DIAG_INFO, __VA_ARGS__)

#endif
