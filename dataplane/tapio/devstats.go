package tapio

// DevCounters are the counters of a network device that the hand-off
// accounting needs. For a tap, TxPackets counts frames user space (QEMU) has
// READ from the tap, not frames queued to it: tun counts a transmitted frame
// when tun_put_user copies it out. TxDropped counts frames the tap refused
// because its queue (TxQueueLen frames) was full or no reader was attached.
type DevCounters struct {
	RxPackets  uint64
	TxPackets  uint64
	TxDropped  uint64
	TxQueueLen uint32
}
