package stream

// Page is one RAM page record: a PAGE (Data holds its 4096 bytes) or a
// ZERO record (Zero set, Fill the byte the page is filled with, always 0
// in QEMU 7.2), or one page of a multifd packet.
type Page struct {
	Block  string // RAMBlock idstr, e.g. "pc.ram"
	Offset uint64 // inside the block, not a guest-physical address
	Zero   bool
	Fill   byte
	// Header is the record's bytes before the payload (the be64 word and,
	// unless CONTINUE, the block name); empty for multifd pages, whose
	// header is the packet's. Header and Data are valid only during the
	// call: they alias the reader's buffers.
	Header  []byte
	Data    []byte
	Multifd bool
	Channel uint8 // multifd channel id
}

// EventKind tells Events apart.
type EventKind int

// Events.
const (
	EventSection EventKind = iota // a RAM section's START, PART or END header
	EventCommand                  // a COMMAND (PACKAGED: Len is the nested stream's size)
	EventEOF                      // the main channel's EOF
	EventOpaque                   // the reader stopped following: Reason says why
	EventPacket                   // a multifd packet header (Len: its normal pages)
	EventDiscard                  // RAM_DISCARD's ranges (Name: the block; Len: how many), after its EventCommand
)

// Event is a stream element other than a page.
type Event struct {
	Kind    EventKind
	Offset  int64    // stream offset of the element
	Type    byte     // EventSection: secStart, secPart or secEnd (0x01..0x03)
	Section uint32   // EventSection: section id
	Name    string   // EventSection: idstr
	Cmd     uint16   // EventCommand
	Len     uint32   // EventCommand: data length (PACKAGED: N); EventPacket: pages
	Reason  string   // EventOpaque
	Refused bool     // EventOpaque: page coding cannot follow this stream
	Extents []Extent // EventDiscard: the block's ranges, in bytes
}

// Extent is a range of a RAM block, in bytes.
type Extent struct{ Start, Len uint64 }

// Visitor receives what the reader finds, in stream order, before the
// bytes are forwarded. Its methods run on the writing goroutine: a slow
// visitor slows the migration.
type Visitor interface {
	Page(p Page)
	Event(e Event)
}

// Funcs is a Visitor made of optional functions.
type Funcs struct {
	OnPage  func(Page)
	OnEvent func(Event)
}

// Page calls OnPage if set.
func (f Funcs) Page(p Page) {
	if f.OnPage != nil {
		f.OnPage(p)
	}
}

// Event calls OnEvent if set.
func (f Funcs) Event(e Event) {
	if f.OnEvent != nil {
		f.OnEvent(e)
	}
}

// Block is a RAM block as MEM_SIZE lists it.
type Block struct {
	Name   string
	Length uint64 // used length in bytes
}

// Summary is what a reader saw.
type Summary struct {
	Bytes     int64 // bytes written through
	Pages     int64 // PAGE records (multifd: pages)
	ZeroPages int64 // ZERO records
	Sections  int64 // RAM section headers
	Commands  int64
	Packets   int64   // multifd packets
	Channel   int     // multifd channel id from the handshake (-1 on the main channel)
	Blocks    []Block // from MEM_SIZE, in stream order
	Postcopy  bool    // a PACKAGED command went by: post-copy started
	RAMDone   bool    // the RAM section's END went by: every page was reported
	EOF       bool    // the main channel's EOF went by

	// Opaque says why the reader stopped following at stream offset
	// OpaqueAt; "" when it followed to the end. After RAM's END it is
	// normal ("device state ...").
	Opaque   string
	OpaqueAt int64
	// Refused says why page coding cannot be used on this stream: set
	// when the reader stopped before every page was seen (an xbzrle
	// record, a "block" section, malformed input, ...). For the
	// migration record.
	Refused string
	// Err is the malformed input found (wraps ErrMalformed), including a
	// stream that ended inside an element.
	Err error
}
