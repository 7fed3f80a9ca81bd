package kreflect

// The tc program (../../../bpf/twamp_reflect.c) compiled into
// twamp_bpfel.o with Go bindings in twamp_bpfel.go; both are committed, so
// building needs no clang. Regenerate with `make generate`; `make
// check-generate` fails when they are stale.
//
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target bpfel twamp ../../../bpf/twamp_reflect.c -- -I../../../bpf/headers
