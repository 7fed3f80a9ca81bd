package router

import (
	"encoding/binary"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// nf_tables netlink constants (linux/netfilter/nf_tables.h, nfnetlink.h).
const (
	nfnlSubsysNFTables = 10
	nftMsgGetObj       = 19
	nftaObjTable       = 1
	nftaObjName        = 2
	nftaObjType        = 3
	nftaObjData        = 4
	nftObjectCounter   = 1
	nftaCounterPackets = 2
	// nlaTypeMask strips the nested and byte-order flags off an
	// attribute's type (the kernel marks NFTA_OBJ_DATA nested).
	nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

// readCounter returns the packets of the named counter in table ip table.
// It asks the kernel directly: the status server calls it for every query,
// and running nft each time would cost a guest under TCG tens of
// milliseconds.
func readCounter(table, name string) (uint64, error) {
	req := nl.NewNetlinkRequest(nfnlSubsysNFTables<<8|nftMsgGetObj, 0)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.NFPROTO_IPV4, Version: unix.NFNETLINK_V0})
	req.AddData(nl.NewRtAttr(nftaObjTable, nl.ZeroTerminated(table)))
	req.AddData(nl.NewRtAttr(nftaObjName, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(nftaObjType, binary.BigEndian.AppendUint32(nil, nftObjectCounter)))
	msgs, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	if err != nil {
		return 0, fmt.Errorf("reading counter %s %s: %w", table, name, err)
	}
	for _, m := range msgs {
		if n, ok := counterPackets(m); ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("reading counter %s %s: no packets in the kernel's answer", table, name)
}

// counterPackets finds NFTA_COUNTER_PACKETS in an NFT_MSG_NEWOBJ payload.
func counterPackets(msg []byte) (uint64, bool) {
	if len(msg) < nl.SizeofNfgenmsg {
		return 0, false
	}
	attrs, err := nl.ParseRouteAttr(msg[nl.SizeofNfgenmsg:])
	if err != nil {
		return 0, false
	}
	for _, a := range attrs {
		if a.Attr.Type&nlaTypeMask != nftaObjData {
			continue
		}
		data, err := nl.ParseRouteAttr(a.Value)
		if err != nil {
			return 0, false
		}
		for _, d := range data {
			if d.Attr.Type&nlaTypeMask == nftaCounterPackets && len(d.Value) == 8 {
				return binary.BigEndian.Uint64(d.Value), true
			}
		}
	}
	return 0, false
}
