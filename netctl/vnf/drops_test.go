package vnf

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// snmp61 has the layout of /proc/net/snmp on Linux 6.1, the test guest's
// kernel (counts made up: a burst that overflowed a socket buffer).
const snmp61 = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates
Ip: 2 64 24817 0 0 0 0 0 24817 24250 0 0 0 0 0 0 0 0 0
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 3 0 0 0 0 0 0 0 3 0 0 0 0 0 3 0 0 0 0 0 0 0 3 0 0 0 0
IcmpMsg: InType8 OutType0
IcmpMsg: 3 3
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 0 0 0 0 0 0 0 0 0 0 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 24264 2 553 24247 550 0 0 0 3
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 7 0 7 0 0 0 0
`

// snmpOld is the Udp part of a kernel from before the MemErrors column.
const snmpOld = `Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 5 0 0 0 1 100 90 0 0 0 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti
Udp: 1000 1 40 990 40 0 0 12
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti
UdpLite: 0 0 0 0 0 0 0 0
`

func TestParseSNMPUDP(t *testing.T) {
	got, err := parseSNMPUDP([]byte(snmp61))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"InDatagrams": 24264, "NoPorts": 2, "InErrors": 553, "OutDatagrams": 24247,
		"RcvbufErrors": 550, "SndbufErrors": 0, "InCsumErrors": 0, "IgnoredMulti": 0, "MemErrors": 3}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("6.1: got %v\nwant %v", got, want)
	}

	got, err = parseSNMPUDP([]byte(snmpOld))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["MemErrors"]; ok || got["InErrors"] != 40 || got["RcvbufErrors"] != 40 || got["IgnoredMulti"] != 12 {
		t.Fatalf("old kernel: got %v", got)
	}
}

func TestParseSNMPUDPErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no udp":         "Tcp: RtoAlgorithm\nTcp: 1\n",
		"only udplite":   "UdpLite: InErrors\nUdpLite: 1\n",
		"header only":    "Udp: InDatagrams InErrors\n",
		"short values":   "Udp: InDatagrams InErrors\nUdp: 1\n",
		"long values":    "Udp: InDatagrams InErrors\nUdp: 1 2 3\n",
		"not a number":   "Udp: InDatagrams InErrors\nUdp: 1 x\n",
		"negative value": "Udp: InDatagrams InErrors\nUdp: 1 -1\n",
	} {
		if got, err := parseSNMPUDP([]byte(in)); err == nil {
			t.Errorf("%s: got %v, no error", name, got)
		}
	}
	if _, err := parseSNMPUDP(nil); !errors.Is(err, errNoUDP) {
		t.Errorf("empty input: %v, want errNoUDP", err)
	}
}

func FuzzParseSNMPUDP(f *testing.F) {
	f.Add([]byte(snmp61))
	f.Add([]byte(snmpOld))
	f.Add([]byte("Udp: a b\nUdp: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cols, err := parseSNMPUDP(b)
		if err == nil && cols == nil {
			t.Fatal("nil columns without an error")
		}
	})
}

// fakeKernel writes an snmp file and rx_dropped counters into a directory
// laid out like /proc/net and /sys/class/net.
func fakeKernel(t *testing.T, snmp string, rxDropped map[string]string) dropReader {
	t.Helper()
	dir := t.TempDir()
	d := dropReader{snmp: filepath.Join(dir, "snmp"), netDir: filepath.Join(dir, "net")}
	if snmp != "" {
		if err := os.WriteFile(d.snmp, []byte(snmp), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for ifname, v := range rxDropped {
		stats := filepath.Join(d.netDir, ifname, "statistics")
		if err := os.MkdirAll(stats, 0o755); err != nil {
			t.Fatal(err)
		}
		if v != "" {
			if err := os.WriteFile(filepath.Join(stats, "rx_dropped"), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

func TestDropReader(t *testing.T) {
	all := vnfproto.HasUDPInErrors | vnfproto.HasUDPRcvbufErrors | vnfproto.HasUDPMemErrors | vnfproto.HasRxDropped
	ifs := map[string]string{"lo": "1000\n", "eth0": "17\n", "eth1": "4\n", "eth2": ""}
	tests := []struct {
		name  string
		snmp  string
		ifs   map[string]string
		iface string
		want  vnfproto.Status
	}{
		{"6.1, all but lo summed", snmp61, ifs, "",
			vnfproto.Status{UDPInErrors: 553, UDPRcvbufErrors: 550, UDPMemErrors: 3, RxDropped: 21, Reported: all}},
		{"6.1, the vnf's interface", snmp61, ifs, "eth0",
			vnfproto.Status{UDPInErrors: 553, UDPRcvbufErrors: 550, UDPMemErrors: 3, RxDropped: 17, Reported: all}},
		{"no MemErrors column", snmpOld, ifs, "eth1",
			vnfproto.Status{UDPInErrors: 40, UDPRcvbufErrors: 40, RxDropped: 4, Reported: all &^ vnfproto.HasUDPMemErrors}},
		{"no snmp file, interface without counter", "", ifs, "eth2", vnfproto.Status{}},
		{"garbled snmp, only lo", "Udp: InErrors\nUdp: x\n", map[string]string{"lo": "5"}, "", vnfproto.Status{}},
		{"no such interface", snmpOld, ifs, "eth9",
			vnfproto.Status{UDPInErrors: 40, UDPRcvbufErrors: 40, Reported: vnfproto.HasUDPInErrors | vnfproto.HasUDPRcvbufErrors}},
	}
	for _, tt := range tests {
		d := fakeKernel(t, tt.snmp, tt.ifs)
		d.iface = tt.iface
		var got vnfproto.Status
		d.read(&got)
		if got != tt.want {
			t.Errorf("%s: got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestIfaceWith(t *testing.T) {
	if got := ifaceWith(nil); got != "" {
		t.Errorf("nil ip: %q", got)
	}
	if got := ifaceWith(net.IPv4zero); got != "" {
		t.Errorf("0.0.0.0: %q", got)
	}
	if got := ifaceWith(net.IPv4(192, 0, 2, 77)); got != "" {
		t.Errorf("an address nobody has: %q", got)
	}
	lo, err := net.InterfaceByIndex(1)
	if err != nil || lo.Flags&net.FlagLoopback == 0 {
		t.Skip("no loopback interface at index 1")
	}
	if got := ifaceWith(net.IPv4(127, 0, 0, 1)); got != lo.Name {
		t.Errorf("127.0.0.1 is on %q, want %q", got, lo.Name)
	}
}
