package vnf

import "testing"

func TestWriteAndFree(t *testing.T) {
	if err := writeAndFree(0); err != nil {
		t.Fatal(err)
	}
	if err := writeAndFree(2); err != nil {
		t.Fatal(err)
	}
}
