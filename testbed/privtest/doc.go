// Package privtest holds the helpers of nfhandoff's privileged test tier
// (see STYLE.md, "Tests in three tiers"): RequireRoot and RequireCommand
// skip a test that cannot run here, SkipOnOldKernel skips on a missing
// kernel feature found by probing, EnterNetns and NewNetNS give a test a
// fresh network namespace (in the style of cilium/ebpf's
// internal/testutils/netns_linux.go), and OpenTap, LinkUp and AddVeth make
// the devices the tests need there. Everything a helper creates is removed
// by the test's cleanup, also when the test fails.
//
// Only tests import it.
package privtest
