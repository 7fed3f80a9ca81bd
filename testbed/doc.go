// Package testbed drives the network-namespace testbed (the shell scripts in
// this directory: up, down, image) from Go integration tests: it brings the
// topology and its agents up, runs code inside a namespace, and checks that
// nothing is left behind afterwards.
//
// The tests in this package are the integration tier: they need root, the
// guest image (make image) and the binaries (make build), and are skipped
// under -short.
package testbed
