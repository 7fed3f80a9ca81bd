package api

// CodecReport is the source agent's account of how RAM pages travelled
// (MigrateRequest.Codec), summed over QEMU's channels.
type CodecReport struct {
	Codec string `json:"codec"`
	// QEMUBytes QEMU wrote; LinkBytes the agents sent for them.
	QEMUBytes int64 `json:"qemu_bytes"`
	LinkBytes int64 `json:"link_bytes"`
	// Pages are PAGE records (zero pages apart), by how they went: Raw
	// unnamed (naming paused where it did not pay), Refs as content the
	// destination held, Deltas against its previous copy, Lits literal.
	// Raw and literal pages are zstd-compressed on the link, in chunks,
	// where that pays.
	Pages  int64 `json:"pages"`
	Raw    int64 `json:"raw"`
	Refs   int64 `json:"refs"`
	Deltas int64 `json:"deltas"`
	Lits   int64 `json:"lits"`
	// Refused says why pages could not be coded on a channel (a stream
	// the reader cannot follow: xbzrle, compression, block migration, ...).
	Refused string `json:"refused,omitempty"`
}
