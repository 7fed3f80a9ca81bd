// Package wsreport is the working-set report a guest sends its host: the
// guest-physical page ranges it uses, hottest first, so that a post-copy
// migration can fetch them before the guest faults on them. migratord asks
// for one every second on a virtio-serial port's chardev socket (a
// request: RequestLen bytes, see AppendRequest and LastRequest) and the
// vnf answers each request with one report and writes nothing unasked;
// migratord reads the answers (Scanner), checks each report against the
// guest's RAM (Validate) and keeps the latest.
//
// A report is fixed-layout and big-endian (HeaderLen bytes, then nranges
// ranges of RangeLen bytes):
//
//	0   magic    [4]byte "NFWS"
//	4   version  uint16  1
//	6   flags    uint16  1 truncated (the guest had more ranges than fit)
//	8   length   uint32  of the whole report, header included
//	12  crc32c   uint32  Castagnoli, of the whole report with this field zero
//	16  seq      uint64  the id of the request it answers
//	24  uptime   uint64  the guest's clock (CLOCK_MONOTONIC), nanoseconds
//	32  nranges  uint32  at most MaxRanges
//	36  hot      uint32  how many leading ranges are the working set proper
//	40  ranges   nranges × (start frame uint64, frame count uint32)
//
// A frame is a 4 KiB guest-physical page: frame × 4096 is its address, so
// a range cannot be misaligned. Decoders reject a wrong magic, version,
// length or checksum, more than MaxRanges ranges, a hot count above
// nranges, an empty range and a range that ends beyond MaxFrame; they
// accept unknown flags. The checksum lets a reader of a byte stream find
// the next report after a torn one.
package wsreport
