/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nflog.h: NFLOG group 0 — the pure record decoder and the socket that feeds it */
#ifndef IPTRACE_NFLOG_H
#define IPTRACE_NFLOG_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "iptrace/record.h"

/*
 * nflog_decode - decode one NFULNL_MSG_PACKET message into @rec (pure: no socket, no
 * globals), afresh every time. Interface names are left empty: only ifindex_* are set; the
 * caller names them. ts_ns is 0 when the kernel sent no NFULA_TIMESTAMP (it does only on
 * some hooks). Reads nothing past nlmsg_len. Returns 0; -ENOMSG when the message is a valid
 * NFLOG packet that is not a TRACE record (another prefix) or not a packet message at all;
 * -EINVAL when malformed (a known attribute of the wrong size, a prefix without its NUL, a
 * length that is not a multiple of 4) or when a required attribute (PACKET_HDR, PREFIX) is
 * missing; -ENOMEM when @nm cannot take a name. The names are interned in @nm (names.h):
 * they live as long as it.
 */
int nflog_decode(const struct nlmsghdr *nlh, struct names *nm, struct trace_record *rec);

/* Opaque: an nfnetlink_log socket bound to one group. */
struct nflog_src;

struct nflog_cfg {
	uint16_t	group;		/* 0 for TRACE */
	uint32_t	copy_range;	/* packet bytes copied per record */
	uint32_t	rcvbuf;		/* socket receive buffer, bytes (SO_RCVBUFFORCE) */
	uint32_t	qthresh;	/* records batched per netlink message train */
	uint32_t	flush_cs;	/* batch flush timeout, 1/100 s */
	uint32_t	nlbufsiz;	/* kernel-side batch buffer size */
};

/*
 * nflog_src_open - open a netlink socket, bind NFLOG group @cfg->group with packet copy and
 * sequence numbers. Returns NULL with errno set: EPERM when another socket owns the group
 * (or without CAP_NET_ADMIN), others from socket calls. Caller frees with nflog_src_close().
 */
struct nflog_src *nflog_src_open(const struct nflog_cfg *cfg);
/* nflog_src_close - unbind the group and close the socket; NULL is a no-op. */
void nflog_src_close(struct nflog_src *src);
int nflog_src_fd(const struct nflog_src *src);
uint32_t nflog_src_portid(const struct nflog_src *src);
/*
 * nflog_src_drops - the messages the kernel could not queue on the socket since it opened
 * (its own count, SO_MEMINFO): each TRACE record is a message of its own, so these are the
 * records lost, those after the last one that arrived included. 0 or -errno.
 */
int nflog_src_drops(const struct nflog_src *src, uint64_t *drops);

/*
 * nflog_group_owner - the netlink port id that owns NFLOG @group in this namespace, read
 * from /proc/net/netfilter/nfnetlink_log. Returns 0 and sets *portid, or -ENOENT when free.
 */
int nflog_group_owner(uint16_t group, uint32_t *portid);

#endif
