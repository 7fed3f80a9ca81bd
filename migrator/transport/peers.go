package transport

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

// ParsePeers parses a peers file: one "HOST ADDR:PORT" per line, blank
// lines and '#' comments ignored. A host listed twice is an error.
func ParsePeers(data []byte) (map[string]netip.AddrPort, error) {
	peers := map[string]netip.AddrPort{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"HOST ADDR:PORT\", got %q", n, strings.TrimSpace(line))
		}
		if err := pki.ValidHost(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ap, err := netip.ParseAddrPort(f[1])
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("line %d: address %q: want IP:PORT", n, f[1])
		}
		if _, dup := peers[f[0]]; dup {
			return nil, fmt.Errorf("line %d: host %s listed twice", n, f[0])
		}
		peers[f[0]] = ap
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return peers, nil
}

// lookup finds host's address in the peers file at path.
func lookup(path, host string) (netip.AddrPort, error) {
	if path == "" {
		return netip.AddrPort{}, &PeerError{Host: host, Kind: ErrUnknownPeer, Msg: "unknown: no peers file configured"}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return netip.AddrPort{}, &PeerError{Host: host, Kind: ErrUnknownPeer, Msg: "unknown", Err: fmt.Errorf("reading peers: %w", err)}
	}
	peers, err := ParsePeers(data)
	if err != nil {
		return netip.AddrPort{}, &PeerError{Host: host, Kind: ErrUnknownPeer, Msg: "unknown", Err: fmt.Errorf("peers file %s: %w", path, err)}
	}
	ap, ok := peers[host]
	if !ok {
		return netip.AddrPort{}, &PeerError{Host: host, Kind: ErrUnknownPeer, Msg: "unknown: not in " + path}
	}
	return ap, nil
}

// PeerAddrs returns the IP addresses of the hosts in the peers file at
// path, each once, sorted, IPv4-mapped ones unmapped: for the dataplane,
// the hosts whose tunnelled frames it takes. The file holds IP literals
// only (ParsePeers), so nothing is resolved.
func PeerAddrs(path string) ([]netip.Addr, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading peers: %w", err)
	}
	peers, err := ParsePeers(data)
	if err != nil {
		return nil, fmt.Errorf("peers file %s: %w", path, err)
	}
	addrs := make([]netip.Addr, 0, len(peers))
	for _, ap := range peers {
		addrs = append(addrs, ap.Addr().Unmap())
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), nil
}
