package dataplane

// The BPF programs (../bpf/handoff.c) compiled into handoff_bpfel.o with Go bindings in
// handoff_bpfel.go; both are committed, so building needs no clang. Regenerate with
// `make generate` (clang, llvm, libbpf-dev); `make check-generate` fails when they are stale.
//
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target bpfel -type vm_mode -type vm_flag -type vm_key -type vm_state -type vm_counters -type rec_hdr -type tunnel_counters handoff ../bpf/handoff.c -- -I../bpf/headers
