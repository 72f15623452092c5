/* SPDX-License-Identifier: GPL-2.0-or-later */
/* diag.h: what iptrace tells its user on stderr — errors, warnings, notes and information */
#ifndef IPTRACE_DIAG_H
#define IPTRACE_DIAG_H

/*
 * One line each, "iptrace: " first, then "warning: " or "note: " for those levels, the
 * message (git's style: lower case, no full stop, quoted subjects: cannot open '%s'), and a
 * newline, written in one piece. When stderr is the journal stream systemd connected, the
 * line starts with sd-daemon's "<N>" so that the journal files it at its priority: error 3,
 * warning 4, note 5, info 6. Data never goes here: it goes to the sinks' output.
 */
void diag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
