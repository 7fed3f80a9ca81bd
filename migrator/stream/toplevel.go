package stream

import (
	"encoding/binary"
	"fmt"
)

// Main-channel states.
const (
	stHeader     state = iota // "QEVM", be32 3
	stTop                     // a top-level type byte
	stSecHead                 // START/FULL: be32 id, u8 idstr length
	stSecName                 // idstr
	stSecIDs                  // be32 instance, be32 version
	stSecID                   // PART/END: be32 id
	stFooter                  // 0x7e, be32 id
	stConfLen                 // be32 machine name length
	stConfName                // the machine name went by
	stConfNext                // 0x05 (a subsection) or the next top-level type
	stSubLen                  // u8 subsection name length
	stSubName                 // its name
	stSubVersion              // be32 version
	stSubDone                 // a subsection body went by
	stCapCount                // be32 capabilities
	stCapLen                  // u8 capability name length
	stCapName                 // its name
	stCmdHead                 // be16 cmd, be16 len
	stCmdDone                 // command data went by
	stAdvise                  // POSTCOPY_ADVISE: be64 page-size summary, be64 target page size
	stPackaged                // PACKAGED: be32 N
	stDiscard                 // RAM_DISCARD's data
	stAfterEOF                // VMDESCRIPTION or the end
	stVMDescLen               // be32 JSON length
	stVMDescDone              // the JSON went by
	stTrailing                // nothing may follow
	stRecWord                 // RAM: a record's be64 word
	stRecIDLen                // u8 block name length
	stRecID                   // block name
	stZeroFill                // ZERO's fill byte
	stPageDone                // PAGE's 4096 bytes went by
	stMemLen                  // MEM_SIZE: u8 block name length
	stMemName                 // block name
	stMemUsed                 // be64 used length
	stMemAddr                 // be64 address (x-ignore-shared)
)

var stateNames = [...]string{"header", "top-level element", "section header", "section idstr",
	"section header", "section id", "section footer", "configuration", "configuration",
	"configuration", "configuration subsection", "configuration subsection",
	"configuration subsection", "configuration subsection", "capabilities", "capabilities",
	"capabilities", "command", "command", "POSTCOPY_ADVISE", "PACKAGED", "RAM_DISCARD", "EOF", "VM description",
	"VM description", "end", "RAM record", "RAM record", "RAM record", "ZERO record",
	"PAGE record", "MEM_SIZE", "MEM_SIZE", "MEM_SIZE", "MEM_SIZE"}

func stateName(st state) string {
	if int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("state %d", st)
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func (w *Writer) step(st state, b []byte) error {
	m := &w.m
	switch st {
	case stHeader:
		if be32(b) != magicQEVM {
			return malformedf("no QEVM magic (% x)", b[:4])
		}
		if v := be32(b[4:]); v != versionQEVM {
			return malformedf("stream version %d, want %d", v, versionQEVM)
		}
		return m.expect(1, stTop)
	case stTop:
		return w.top(b[0])
	case stSecHead:
		w.secID = be32(b)
		return m.expect(int(b[4]), stSecName)
	case stSecName:
		w.secName = string(b)
		return m.expect(8, stSecIDs)
	case stSecIDs:
		return w.sectionStart()
	case stSecID:
		return w.sectionPart(be32(b))
	case stFooter:
		if b[0] != secFooter {
			return malformedf("section %d ends with %#x, not the footer", w.secID, b[0])
		}
		if id := be32(b[1:]); id != w.secID {
			return malformedf("section %d's footer names section %d", w.secID, id)
		}
		if w.secType == secEnd {
			m.sum.RAMDone = true
		}
		return m.expect(1, stTop)
	case stConfLen:
		n := be32(b)
		if n > maxMachineName {
			return malformedf("configuration: machine name of %d bytes", n)
		}
		return m.pass(int64(n), stConfName)
	case stConfName, stSubDone:
		return m.expect(1, stConfNext)
	case stConfNext:
		if b[0] != secSubsection {
			return w.top(b[0]) // the configuration has ended
		}
		return m.expect(1, stSubLen)
	case stSubLen:
		return m.expect(int(b[0]), stSubName)
	case stSubName:
		w.subName = string(b)
		return m.expect(4, stSubVersion)
	case stSubVersion:
		return w.subsection()
	case stCapCount:
		n := be32(b)
		if n > maxCaps {
			return malformedf("configuration: %d capabilities", n)
		}
		w.capsLeft = n
		return w.nextCap()
	case stCapLen:
		return m.expect(int(b[0]), stCapName)
	case stCapName:
		// Validated capabilities must match at both ends; of those only
		// x-ignore-shared changes what MEM_SIZE carries.
		if string(b) == "x-ignore-shared" {
			w.ignShare = true
		}
		w.capsLeft--
		return w.nextCap()
	case stCmdHead:
		return w.command(be16(b), be16(b[2:]))
	case stAdvise:
		return w.advise(be64(b), be64(b[8:]))
	case stPackaged:
		n := be32(b)
		if n > maxPackaged {
			return malformedf("PACKAGED of %d bytes (at most %d)", n, maxPackaged)
		}
		m.sum.Postcopy = true
		m.v.Event(Event{Kind: EventCommand, Offset: w.elemAt, Cmd: cmdPackaged, Len: n})
		// The nested stream (LISTEN, the device state, RUN) is the
		// destination's to read: it passes untouched.
		return m.pass(int64(n), stCmdDone)
	case stDiscard:
		return w.discard(b)
	case stCmdDone:
		return m.expect(1, stTop)
	case stAfterEOF:
		if b[0] != secVMDescription {
			return malformedf("%#x after EOF", b[0])
		}
		return m.expect(4, stVMDescLen)
	case stVMDescLen:
		n := be32(b)
		if n > maxVMDesc {
			return malformedf("VM description of %d bytes", n)
		}
		return m.pass(int64(n), stVMDescDone)
	case stVMDescDone:
		err := m.expect(1, stTrailing)
		m.clean = true
		return err
	case stTrailing:
		return malformedf("bytes after the end of the stream")
	}
	return w.stepRAM(st, b)
}

// top dispatches a top-level element by its type byte.
func (w *Writer) top(t byte) error {
	m := &w.m
	w.elemAt = m.offset() - 1
	switch t {
	case secEOF:
		m.sum.EOF = true
		m.v.Event(Event{Kind: EventEOF, Offset: w.elemAt})
		err := m.expect(1, stAfterEOF)
		m.clean = true // post-copy streams end at EOF
		return err
	case secStart, secFull:
		w.secType = t
		return m.expect(5, stSecHead)
	case secPart, secEnd:
		w.secType = t
		return m.expect(4, stSecID)
	case secConfiguration:
		return m.expect(4, stConfLen)
	case secCommand:
		return m.expect(4, stCmdHead)
	}
	return malformedf("top-level type %#x at offset %d", t, w.elemAt)
}
