#!/usr/bin/env bash
# bpf/headers/update.sh: refresh the pinned headers the BPF programs compile against.
#
# bpf/*.c include only these files, so regenerating the objects gives the same bytes
# whatever headers the build machine has. Copied from Debian 12 packages:
#   bpf/bpf_helpers.h bpf/bpf_helper_defs.h bpf/bpf_endian.h   libbpf-dev 1:1.1.2-0+deb12u1
#                                                               (LGPL-2.1 OR BSD-2-Clause)
#   linux/bpf.h linux/bpf_common.h                              linux-libc-dev 6.1.x (uapi,
#                                                               GPL-2.0 WITH Linux-syscall-note)
# linux/types.h is ours: the few fixed-size kernel types those headers use, so no
# asm/ or libc header is needed.
set -euo pipefail
cd "$(dirname "$0")"
for f in bpf_helpers.h bpf_helper_defs.h bpf_endian.h; do
	cp /usr/include/bpf/$f bpf/$f
done
for f in bpf.h bpf_common.h; do
	cp /usr/include/linux/$f linux/$f
done
dpkg-query -W libbpf-dev linux-libc-dev
