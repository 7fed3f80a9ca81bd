package vnf

import (
	"strings"
	"sync"
)

// Text pages are words and phrases of two or three words, separated by
// spaces, a line break every eighth token or so, drawn from textTokens
// tokens by Zipf's law (the k-th most frequent with a weight of 1/k), as
// in any text. The words come from vocabulary, which has a few hundred.
// It compresses much as English does: page by page 2.8× with flate's
// fastest level, 2.9× with zstd -1, 1.8× with lz4; as a stream 3.3×, 4.1×
// and 2.6×.
const textTokens = 1024

var vocabulary = strings.Fields(`
the of and to in is that for it as with was on be by this are from or at an
which not have has but had were can all their more one been if its also
other into than only new some time these two may first any after when used
such would there could most like over where both they what well no each out
about up then so do make our how just now same set call user host link port
route state error warning info debug value table entry queue timer buffer
packet frame session flow rule chain filter accept drop reject match address
prefix mask gateway peer local remote socket stream read write open close
start stop reload config option default enabled true false null none ok
failed success retry timeout expired active idle ready waiting running done
pending server client request reply header body length size count total
limit rate bytes packets seconds minute hour day daemon kernel module driver
device service process thread worker task job event signal handler log
message level trace file path line column node cluster zone region pool
group member leader vote term index key name type version id tag label field
record object list array map string number bool int uint float char byte
word page block sector disk volume mount cache hit miss load store fetch
update delete insert select order offset commit abort begin end lock unlock
wait notify send receive input output source target parent child next prev
last head tail left right top bottom inner outer upper lower high low min
max avg sum mean median pct check verify sign hash crc seed random shared
unique text zero cpu core vcpu guest vm bridge tap veth vlan vxlan tunnel
nat snat dnat masq mark ct conn track related invalid syn ack fin rst push
urg window scale mss ttl tos dscp ecn proto tcp udp icmp arp ipv4 ipv6 mac
ether dhcp dns ntp http https tls cert ca auth admin root allow deny`)

// zipfRanks maps 12 random bits to a rank below n by Zipf's law.
func zipfRanks(n int) *[4096]uint16 {
	var total float64
	for k := 1; k <= n; k++ {
		total += 1 / float64(k)
	}
	weight := func(rank int) float64 { return 1 / float64(rank+1) / total }
	var ranks [4096]uint16
	var cum float64
	k := 0
	for i := range ranks {
		x := (float64(i) + 0.5) / float64(len(ranks))
		for k < n-1 && cum+weight(k) < x {
			cum += weight(k)
			k++
		}
		ranks[i] = uint16(k)
	}
	return &ranks
}

// textTable is the text tokens and their Zipf ranks, the same in every VM
// (a vocabulary is shared; what is written with it is not).
type textTable struct {
	*tokens
	ranks *[4096]uint16
}

var newTextTable = sync.OnceValue(func() textTable {
	words := zipfRanks(len(vocabulary))
	t := newTokens(textTokens)
	s := uint64(0x7465787420746f6b) // "text tok"
	for i := range t.tok {
		n := 1 // a word in three, two phrases
		if i%3 != 0 {
			n = 2 + int(wyrand(&s)&1)
		}
		var l int
		for range n {
			w := vocabulary[words[wyrand(&s)&4095]]
			if l+len(w)+1 > tokenMax {
				break
			}
			l += copy(t.tok[i][l:], w)
			t.tok[i][l] = ' '
			l++
		}
		t.n[i] = uint8(l)
	}
	return textTable{t, zipfRanks(textTokens)}
})

// fill fills b with text, four tokens from each random number.
func (t textTable) fill(b []byte, seed uint64) {
	for pos := 0; pos < len(b); {
		r := wyrand(&seed)
		for h := 0; h < 60 && pos < len(b); h += 15 {
			x := r >> h
			pos = t.put(b, pos, int(t.ranks[x&4095]))
			if x>>12&7 == 0 {
				b[pos-1] = '\n'
			}
		}
	}
}
