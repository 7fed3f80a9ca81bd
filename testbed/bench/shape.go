package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
)

// A shaped link stands for an operator's migration network: on loopback
// bytes cost nothing but CPU, so a method that sends fewer of them (page
// coding, a gang's shared content) can only lose there; on a real network
// they are what a host's drain waits for. --link-rate shapes what the hosts
// send each other (every method's migration stream and the agents' links)
// to one rate in each direction, and nothing else: the guests' test
// traffic crosses the same switch unshaped. It is an htb on each of the
// switch's host ports (egress: towards that host) with the traffic from
// the other hosts' addresses in a class of that rate (a pfifo queue: TCP
// and QUIC share it by their own congestion control), the rest in an
// unlimited default class.

// linkRateRE is the rates --link-rate takes (tc's units).
var linkRateRE = regexp.MustCompile(`^[1-9][0-9]*(k|m|g)?bit$`)

// shapeLinks shapes the traffic between hosts to rate ("" leaves the
// links as they are).
func shapeLinks(hosts []*Host, rate string) error {
	if rate == "" {
		return nil
	}
	if !linkRateRE.MatchString(rate) {
		return fmt.Errorf("--link-rate %q: want a rate like 1gbit or 500mbit", rate)
	}
	for _, h := range hosts {
		port := "nfb-p-" + h.Name
		cmds := [][]string{
			// r2q: htb's default quantum would warn at these rates.
			{"qdisc", "add", "dev", port, "root", "handle", "1:", "htb", "default", "20", "r2q", "1000"},
			{"class", "add", "dev", port, "parent", "1:", "classid", "1:10", "htb", "rate", rate, "ceil", rate},
			{"class", "add", "dev", port, "parent", "1:", "classid", "1:20", "htb", "rate", "100gbit"},
		}
		for _, o := range hosts {
			if o == h {
				continue
			}
			cmds = append(cmds, []string{"filter", "add", "dev", port, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
				"match", "ip", "src", o.Addr.String() + "/32", "match", "ip", "dst", h.Addr.String() + "/32", "flowid", "1:10"})
		}
		for _, args := range cmds {
			if err := tc(args...); err != nil {
				return fmt.Errorf("shaping the link to %s: %w", h.Name, err)
			}
		}
		if err := steerByFlow(h.Netns, uplink); err != nil {
			return fmt.Errorf("shaping the link to %s: %w", h.Name, err)
		}
	}
	return nil
}

// steerByFlow turns on RPS for dev's receive queue in netns, over every
// processor. With a qdisc on the switch's port, whichever processor runs
// the qdisc sends the next packet into the veth, and a veth queues what it
// receives on the sending processor's backlog: two test packets sent back
// to back then sat on two processors' backlogs and reached the guest
// swapped (the reflector's sequence numbers said so; 2-8 a move, plain
// QEMU's too, all in pre-copy). RPS queues a flow on one processor, by its
// hash, as a NIC's receive-side scaling does.
func steerByFlow(netns, dev string) error {
	n := runtime.NumCPU()
	if n > 32 {
		n = 32 // one word of the mask is plenty for the bench
	}
	mask := fmt.Sprintf("%x", uint64(1)<<n-1)
	path := "/sys/class/net/" + dev + "/queues/rx-0/rps_cpus"
	// ip netns exec mounts the namespace's own /sys.
	out, err := exec.Command("ip", "netns", "exec", netns, "sh", "-c", "echo "+mask+" > "+path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("steering %s's flows in %s (RPS): %w: %s", dev, netns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tc runs tc in the switch's namespace.
func tc(args ...string) error {
	out, err := exec.Command("tc", append([]string{"-n", switchNS}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
