package wsreport

import (
	"bytes"
	"encoding/binary"
)

// RequestLen is the length of a request: the host asks for each report,
// and the guest writes one only when asked (RequestMagic, then the
// request's id, big-endian uint32; the report answering it carries the id
// as its seq).
const RequestLen = 8

// RequestMagic starts every request.
var RequestMagic = [4]byte{'N', 'F', 'W', 'Q'}

// AppendRequest appends the request with id to b.
func AppendRequest(b []byte, id uint32) []byte {
	b = append(b, RequestMagic[:]...)
	return binary.BigEndian.AppendUint32(b, id)
}

// LastRequest finds the requests in b, bytes read from the port: it
// returns the id of the last whole one (ok false if none) and the tail a
// request may continue in (at most RequestLen-1 bytes, to be read again
// with what follows). Anything else is skipped: requests are idempotent,
// so the guest answers only the last of those that queued up.
func LastRequest(b []byte) (id uint32, ok bool, tail []byte) {
	for {
		i := bytes.Index(b, RequestMagic[:])
		if i < 0 {
			// A magic may begin in the last bytes.
			k := max(len(b)-(len(RequestMagic)-1), 0)
			for k < len(b) && !bytes.HasPrefix(RequestMagic[:], b[k:]) {
				k++
			}
			return id, ok, b[k:]
		}
		if len(b)-i < RequestLen {
			return id, ok, b[i:]
		}
		id, ok = binary.BigEndian.Uint32(b[i+len(RequestMagic):]), true
		b = b[i+RequestLen:]
	}
}
