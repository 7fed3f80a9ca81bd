/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Minimal replacement for <linux/types.h> (and asm/types.h) for BPF programs:
 * only the fixed-size types that the pinned linux/bpf.h and libbpf headers use.
 * The BPF target is LP64, so these match the kernel's definitions.
 */
#ifndef __NFH_LINUX_TYPES_H
#define __NFH_LINUX_TYPES_H
#define _LINUX_TYPES_H /* keep a system <linux/types.h> from being pulled in too */

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

typedef __u16 __le16;
typedef __u16 __be16;
typedef __u32 __le32;
typedef __u32 __be32;
typedef __u64 __le64;
typedef __u64 __be64;

typedef __u16 __sum16;
typedef __u32 __wsum;

#define __aligned_u64 __u64 __attribute__((aligned(8)))

#endif /* __NFH_LINUX_TYPES_H */
