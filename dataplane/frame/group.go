package frame

// Flooded reports whether frame's destination MAC is a group address
// (broadcast or multicast: the I/G bit of its first octet set). A bridge
// floods such a frame to every port, so each host a migrating guest spans
// has its own copy.
func Flooded(frame []byte) bool {
	return len(frame) >= 6 && frame[0]&1 != 0
}
