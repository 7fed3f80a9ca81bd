package prefetch

import (
	"reflect"
	"testing"
)

// Debian 12's QEMU 7.2 (qemu-system-x86_64 -M pc -m 64), with a 2 MiB
// page line added.
const ramblockText = "              Block Name    PSize              Offset               Used              Total\n" +
	"                  pc.ram    4 KiB  0x0000000000000000 0x0000000004000000 0x0000000004000000\n" +
	"    /rom@etc/acpi/tables    4 KiB  0x0000000004080000 0x0000000000020000 0x0000000000200000\n" +
	"                    mem1    2 MiB  0x0000000004400000 0x0000000000800000 0x0000000000800000\n"

func TestParseRAMBlocks(t *testing.T) {
	got, err := ParseRAMBlocks(ramblockText)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{{"pc.ram", 64 << 20, 4096}, {"/rom@etc/acpi/tables", 128 << 10, 4096}, {"mem1", 8 << 20, 2 << 20}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []string{"", "pc.ram 4 KiB 0x0 0x10", "pc.ram 3 KiB 0x0 0x1000 0x1000",
		"pc.ram 4 KiB 0x0 0xzz 0x1000", "pc.ram 4 XB 0x0 0x1000 0x1000"} {
		if b, err := ParseRAMBlocks(bad); err == nil {
			t.Errorf("%q: parsed %+v", bad, b)
		}
	}
}
