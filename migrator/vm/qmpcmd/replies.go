package qmpcmd

// StatusInfo is query-status's reply (the fields nfhandoff reads).
type StatusInfo struct {
	Status string `json:"status"` // "running", "paused", "inmigrate", ...
}

// MigrateInfo is query-migrate's reply as far as the session reads it
// (policy.ParseQueryMigrate reads the counters).
type MigrateInfo struct {
	Status    string `json:"status"` // "" before any migration
	ErrorDesc string `json:"error-desc"`
}

// VirtioDevice is one entry of x-query-virtio's reply.
type VirtioDevice struct {
	Name string `json:"name"` // e.g. "virtio-net"
	Path string `json:"path"` // QOM path
}

// VirtioQueueStatus is x-query-virtio-queue-status's reply (the fields the
// source's switchover reads).
type VirtioQueueStatus struct {
	LastAvail   uint16 `json:"last-avail-idx"`
	ShadowAvail uint16 `json:"shadow-avail-idx"`
	Used        uint16 `json:"used-idx"`
}
