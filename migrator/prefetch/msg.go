package prefetch

import "encoding/binary"

// Return-path message types of QEMU 7.2 (MIG_RP_MSG_*); 0 and 7 on are
// invalid there.
const (
	msgShut       = 1
	msgPong       = 2
	msgReqPagesID = 3
	msgReqPages   = 4
	msgRecvBitmap = 5
	msgResumeAck  = 6
	msgMax        = 7
)

const (
	headerLen  = 4   // be16 type, be16 length
	maxPayload = 512 // QEMU's buffer: a longer message fails the return path
	reqLen     = 12  // be64 start, be32 length
	// TargetPage is QEMU's target page (x86): requests are in its multiples.
	TargetPage = 4096
	// pageWire is one page's bytes on the main channel: the be64 record
	// word (CONTINUE: no block name) and the page.
	pageWire = 8 + TargetPage
)

// fixedLen is the payload length QEMU insists on for a type (-1: any).
func fixedLen(typ uint16) int {
	switch typ {
	case msgShut, msgPong, msgResumeAck:
		return 4
	case msgReqPages:
		return reqLen
	}
	return -1
}

// checkHeader says why QEMU would refuse a message header ("" if not).
func checkHeader(typ, n uint16) string {
	switch {
	case typ == 0 || typ >= msgMax:
		return "unknown message type"
	case n > maxPayload:
		return "message longer than 512 bytes"
	case fixedLen(typ) >= 0 && int(n) != fixedLen(typ):
		return "message of the wrong length for its type"
	case typ == msgReqPagesID && n < reqLen+1:
		return "REQ_PAGES_ID without a block name"
	}
	return ""
}

// reqPagesID encodes REQ_PAGES_ID for block (at most 255 bytes long).
func reqPagesID(block string, start uint64, n uint32) []byte {
	b := make([]byte, headerLen+reqLen+1+len(block))
	binary.BigEndian.PutUint16(b, msgReqPagesID)
	binary.BigEndian.PutUint16(b[2:], uint16(reqLen+1+len(block)))
	binary.BigEndian.PutUint64(b[4:], start)
	binary.BigEndian.PutUint32(b[12:], n)
	b[16] = byte(len(block))
	copy(b[17:], block)
	return b
}
