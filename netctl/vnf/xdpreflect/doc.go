// Package xdpreflect answers TWAMP-light test packets in the kernel: an
// XDP program (bpf/twamp_reflect.c) on the guest's interface turns each
// test packet into the Session-Reflector's answer in place and sends it
// back out (XDP_TX), with the reflector's sequence number and timestamps
// from the guest's memory and clock. The vnf uses it where it can (driver
// mode, else generic) because a test guest under TCG answers a packet in
// the driver for a tenth of what waking its socket reflector costs; test
// packets it does not answer (payload shorter than the reflector's 41-octet
// header, IP options, fragments) go on to that socket reflector, which
// takes its sequence numbers from the same counter.
package xdpreflect
