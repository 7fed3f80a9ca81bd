package api

import "time"

// WorkingSetStatus is what the agent holds of a guest's working-set
// reports (migrator/wsreport), which post-copy fetches first.
type WorkingSetStatus struct {
	// Connected: the agent holds the guest's report port now; Quiet: it
	// let go of it for a migration (it asks again if the guest stays).
	Connected bool `json:"connected"`
	Quiet     bool `json:"quiet,omitempty"`
	// Asked counts the agent's requests for a report (the guest writes
	// only when asked); Unanswered those the guest did not answer in time.
	Asked      uint64 `json:"asked,omitempty"`
	Unanswered uint64 `json:"unanswered,omitempty"`
	// Received counts the reports taken; Rejected those refused (and the
	// runs of garbage skipped), since the agent began reading.
	Received uint64 `json:"received"`
	Rejected uint64 `json:"rejected"`
	// The latest report, as checked against the guest's RAM; all zero
	// before the first.
	Seq uint64 `json:"seq,omitempty"`
	// Age is how old the latest report is.
	Age time.Duration `json:"age_ns,omitempty"`
	// Ranges and Pages are what the report names, disjoint and inside
	// RAM; HotRanges and HotPages their leading part, the working set
	// proper (the rest is the vnf's code, stacks and heap).
	Ranges    int    `json:"ranges,omitempty"`
	Pages     uint64 `json:"pages,omitempty"`
	HotRanges int    `json:"hot_ranges,omitempty"`
	HotPages  uint64 `json:"hot_pages,omitempty"`
	// Dropped and Clipped count the report's ranges left out and cut
	// short by the check (beyond RAM, or naming pages named before).
	Dropped int `json:"dropped,omitempty"`
	Clipped int `json:"clipped,omitempty"`
	// Truncated: the guest had more than a report holds.
	Truncated bool `json:"truncated,omitempty"`
}
