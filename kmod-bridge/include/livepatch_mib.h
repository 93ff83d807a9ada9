/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * livepatch_mib.h: the kern.livepatch sysctl MIB of the FreeBSD live-patch
 * kernel module, ABI 1.0, for the module's authors.
 *
 * The contract is kmod-bridge/doc/MIB.md (every node, its type, unit, what a
 * write does and which errno it returns). The reader's side is
 * kmod-bridge/src/source/freebsd/mib.rs; a unit test of patchscope checks
 * that the numbers and names below match it, so change both together.
 *
 * Rules in brief:
 *  - Node names are [A-Za-z0-9_]; a patch, object or function whose real name
 *    has other characters gets a component with each of them replaced by '_'
 *    (livepatch_mib_component below), and its real name in the "name" leaf.
 *  - Per-patch, per-object and per-function nodes are created with
 *    SYSCTL_ADD_NODE_WITH_LABEL(..., LIVEPATCH_LABEL_PATCH) (and _OBJECT,
 *    _FUNCTION), so prometheus_sysctl_exporter(8) turns
 *    kern.livepatch.patch.lp_fix1.enabled into
 *    sysctl_kern_livepatch_patch_enabled{patch="lp_fix1"}.
 *  - A major version bump is an incompatible change; a minor version only
 *    adds nodes (or trailing fields of a blocked-thread line).
 */

#ifndef _LIVEPATCH_MIB_H_
#define _LIVEPATCH_MIB_H_

/* ABI version: kern.livepatch.abi_version is "MAJOR.MINOR". */
#define LIVEPATCH_ABI_MAJOR		1
#define LIVEPATCH_ABI_MINOR		0
#define LIVEPATCH_ABI_VERSION		"1.0"

/* Full node names (for sysctlbyname(3) and documentation). */
#define LIVEPATCH_MIB_ROOT		"kern.livepatch"
#define LIVEPATCH_NODE_ABI_VERSION	"kern.livepatch.abi_version"
#define LIVEPATCH_NODE_ABI_MAJOR	"kern.livepatch.abi_major"
#define LIVEPATCH_NODE_ABI_MINOR	"kern.livepatch.abi_minor"
#define LIVEPATCH_NODE_KERNEL		"kern.livepatch.kernel"
#define LIVEPATCH_NODE_TIME		"kern.livepatch.time"
#define LIVEPATCH_NODE_NPATCHES		"kern.livepatch.npatches"
#define LIVEPATCH_NODE_BLOCKED_MAX	"kern.livepatch.blocked_max"
#define LIVEPATCH_NODE_STATS_COMPLETED	"kern.livepatch.stats.transitions_completed"
#define LIVEPATCH_NODE_STATS_REVERSED	"kern.livepatch.stats.transitions_reversed"
#define LIVEPATCH_NODE_STATS_FORCED	"kern.livepatch.stats.transitions_forced"
#define LIVEPATCH_NODE_STATS_SIGNALS	"kern.livepatch.stats.signals_sent"
#define LIVEPATCH_NODE_TR_ACTIVE	"kern.livepatch.transition.active"
#define LIVEPATCH_NODE_TR_PATCH		"kern.livepatch.transition.patch"
#define LIVEPATCH_NODE_TR_TARGET	"kern.livepatch.transition.target"
#define LIVEPATCH_NODE_TR_STARTED	"kern.livepatch.transition.started"
#define LIVEPATCH_NODE_TR_THREADS_TOTAL	"kern.livepatch.transition.threads_total"
#define LIVEPATCH_NODE_TR_THREADS_PENDING "kern.livepatch.transition.threads_pending"
#define LIVEPATCH_NODE_TR_FORCED	"kern.livepatch.transition.forced"
#define LIVEPATCH_NODE_TR_SIGNALS	"kern.livepatch.transition.signals"
#define LIVEPATCH_NODE_TR_NBLOCKED	"kern.livepatch.transition.nblocked"
#define LIVEPATCH_NODE_TR_BLOCKED	"kern.livepatch.transition.blocked"
#define LIVEPATCH_NODE_TR_FORCE		"kern.livepatch.transition.force"
#define LIVEPATCH_NODE_TR_SIGNAL	"kern.livepatch.transition.signal"
#define LIVEPATCH_NODE_PATCH_PREFIX	"kern.livepatch.patch"

/* Leaf names, for SYSCTL_ADD_*(..., OID_AUTO, name, ...). */
#define LIVEPATCH_LEAF_STATS		"stats"
#define LIVEPATCH_LEAF_TRANSITION	"transition"
#define LIVEPATCH_LEAF_PATCH		"patch"
#define LIVEPATCH_LEAF_NAME		"name"
#define LIVEPATCH_LEAF_ENABLED		"enabled"
#define LIVEPATCH_LEAF_STATE		"state"
#define LIVEPATCH_LEAF_REPLACE		"replace"
#define LIVEPATCH_LEAF_STACK_ORDER	"stack_order"
#define LIVEPATCH_LEAF_SIGNED		"signed"
#define LIVEPATCH_LEAF_SIGNER		"signer"
#define LIVEPATCH_LEAF_LOADED		"loaded"
#define LIVEPATCH_LEAF_NFUNCS		"nfuncs"
#define LIVEPATCH_LEAF_OBJ		"obj"
#define LIVEPATCH_LEAF_PATCHED		"patched"
#define LIVEPATCH_LEAF_FUNC		"func"
#define LIVEPATCH_LEAF_SYMPOS		"sympos"
#define LIVEPATCH_LEAF_CALLS		"calls"

/* Labels of SYSCTL_ADD_NODE_WITH_LABEL for the per-item subtrees. */
#define LIVEPATCH_LABEL_PATCH		"patch"
#define LIVEPATCH_LABEL_OBJECT		"object"
#define LIVEPATCH_LABEL_FUNCTION	"function"

/* kern.livepatch.patch.<p>.state */
#define LIVEPATCH_STATE_DISABLED	0
#define LIVEPATCH_STATE_ENABLED		1
#define LIVEPATCH_STATE_PATCHING	2
#define LIVEPATCH_STATE_UNPATCHING	3

/* kern.livepatch.patch.<p>.signed */
#define LIVEPATCH_SIG_UNSIGNED		0	/* no signature */
#define LIVEPATCH_SIG_VERIFIED		1	/* signature verified */
#define LIVEPATCH_SIG_BAD		2	/* signature did not verify */
#define LIVEPATCH_SIG_UNKNOWN		3	/* signature not checked */

/* kern.livepatch.transition.target */
#define LIVEPATCH_TARGET_UNPATCHED	0
#define LIVEPATCH_TARGET_PATCHED	1

/*
 * kern.livepatch.blocked_max: default of the tunable capping the lines of
 * kern.livepatch.transition.blocked (transition.nblocked counts them all).
 */
#define LIVEPATCH_BLOCKED_MAX_DEFAULT	1024

/*
 * kern.livepatch.transition.blocked: one line per blocked thread, lines
 * separated by '\n', fields by '\t':
 *
 *   tid  pid  state  blocked_since  wchan  blocking_function  comm  stack
 *
 * Every field is percent-encoded (livepatch_mib_encode below): bytes below
 * 0x20, 0x7f, '%' and every byte >= 0x80 become "%XX" (upper-case hex), and
 * in the stack field ';' too, so the node is plain ASCII and a thread name
 * cannot forge fields, lines or terminal escapes. state is one letter
 * (R S D T Z I, '?' unknown); blocked_since is Unix seconds (0 unknown);
 * an empty wchan or blocking_function is written "-" (and a value that is
 * itself "-" as "%2D", see livepatch_mib_encode_opt); comm is written as
 * is, encoded; stack is frames "func+0xoff" separated by ';', innermost
 * first, or "-" when there are none. Readers ignore extra trailing fields.
 *
 * Example line (a thread named "evil<ESC>[2J" sleeping in vn_read):
 *   101234\t4321\tD\t1718000000\tbiord\tvn_read\tevil%1B[2J\tsleepq_wait+0x2c;_sleep+0x1f1;vn_read+0x1c;dofileread+0x81
 */
#define LIVEPATCH_BLOCKED_FIELDS	8
#define LIVEPATCH_BLOCKED_LINE_FORMAT \
	"tid\tpid\tstate\tblocked_since\twchan\tblocking_function\tcomm\tstack"
#define LIVEPATCH_BLOCKED_EMPTY		"-"
#define LIVEPATCH_BLOCKED_FRAME_SEP	';'
/* sbuf_printf(9) format of a line's leading numeric fields. */
#define LIVEPATCH_BLOCKED_PREFIX_PRINTF	"%d\t%d\t%c\t%jd\t"

/*
 * Usable in the kernel and in userland tools.
 *
 * Write the node component for name into buf (size len): bytes outside
 * [A-Za-z0-9_] become '_', an empty name becomes "_". When two names give
 * the same component, the module appends "_2", "_3", ... to the later ones.
 */
static __inline void
livepatch_mib_component(char *buf, unsigned long len, const char *name)
{
	unsigned long i;

	if (len == 0)
		return;
	if (name == (const char *)0 || name[0] == '\0') {
		if (len > 1) {
			buf[0] = '_';
			buf[1] = '\0';
		} else
			buf[0] = '\0';
		return;
	}
	for (i = 0; i + 1 < len && name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		buf[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_') ? (char)c : '_';
	}
	buf[i] = '\0';
}

#ifdef _KERNEL
#include <sys/types.h>
#include <sys/sbuf.h>

/*
 * Append s to sb percent-encoded as (part of) a blocked-line field; in_stack
 * also encodes ';', for one frame of the stack field. Use it as is for comm
 * (an empty comm is an empty field; a comm "-" is just that).
 */
static __inline void
livepatch_mib_encode(struct sbuf *sb, const char *s, int in_stack)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return;
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '%' ||
		    (in_stack && *p == LIVEPATCH_BLOCKED_FRAME_SEP))
			sbuf_printf(sb, "%%%02X", *p);
		else
			sbuf_putc(sb, *p);
	}
}

/*
 * Append the wchan or blocking_function field: "-" when s is empty or NULL,
 * "%2D" when s is itself "-", else s encoded.
 */
static __inline void
livepatch_mib_encode_opt(struct sbuf *sb, const char *s)
{
	if (s == NULL || s[0] == '\0')
		sbuf_cat(sb, LIVEPATCH_BLOCKED_EMPTY);
	else if (s[0] == '-' && s[1] == '\0')
		sbuf_cat(sb, "%2D");
	else
		livepatch_mib_encode(sb, s, 0);
}

#endif /* _KERNEL */

#endif /* !_LIVEPATCH_MIB_H_ */
