package frame

import "testing"

func TestFlooded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"broadcast", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, true},
		{"IPv4 multicast", []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, true},
		{"IPv6 multicast", []byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, true},
		{"unicast", []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, false},
		{"unicast, OUI with the I/G bit of another octet", []byte{0x52, 0x55, 0x01, 0, 0, 1}, false},
		{"shorter than a MAC", []byte{0xff, 0xff}, false},
		{"empty", nil, false},
	} {
		if got := Flooded(tc.frame); got != tc.want {
			t.Errorf("%s: Flooded = %v, want %v", tc.name, got, tc.want)
		}
	}
}
