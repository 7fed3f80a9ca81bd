package pagecode

// Stats counts what a coder did.
type Stats struct {
	In  int64 `json:"in_bytes"`  // bytes read: QEMU's (encoder) or the link's (decoder)
	Out int64 `json:"out_bytes"` // bytes written: the link's (encoder) or QEMU's (decoder)

	Pages  int64 `json:"pages"`  // PAGE records (zero pages are not counted)
	Raw    int64 `json:"raw"`    // not named (naming paused where it did not pay)
	Refs   int64 `json:"refs"`   // content the destination held
	Deltas int64 `json:"deltas"` // against the destination's previous copy
	Lits   int64 `json:"lits"`   // literal (compressed with the rest of the link)
}
