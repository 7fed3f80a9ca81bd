// Package kreflect answers TWAMP-light test packets in the kernel: a tc
// program (bpf/twamp_reflect.c) on the guest's interface turns each test
// packet into the Session-Reflector's answer in place and sends it back out
// through the interface's queue, with the reflector's sequence number and
// timestamps from the guest's memory and clock. The vnf uses it where it
// can because a test guest under TCG answers a packet in the kernel for a
// tenth of what waking its socket reflector costs; test packets it does
// not answer (payload shorter than the reflector's 41-octet header, IP
// options, fragments) go on to that socket reflector, which takes its
// sequence numbers from the same counter.
//
// With Config.FlowLookups the program first looks each test packet up in a
// flow table, an mmapable array the caller maps (Reflector.FlowTable) and
// keeps as its working set, so that answering depends on that memory as a
// real network function's does (the vnf's --flow-lookups).
package kreflect
