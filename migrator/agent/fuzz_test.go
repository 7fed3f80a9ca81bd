package agent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzDecodeSpec(f *testing.F) {
	good, _ := json.Marshal(spec("fw1", 1))
	f.Add(good)
	f.Add([]byte(`{"name":"fw1","colour":"red"}`))
	f.Add([]byte(`{"name":"fw1"} {}`))
	f.Add([]byte(`{"vnf_args":["--wss","64"],"memory_mib":-1}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSpec(bytes.NewReader(b))
		if err != nil {
			return
		}
		s.Defaults()
		_ = s.Validate()
		// What decodes re-encodes and decodes to the same spec.
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := decodeSpec(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if len(s.VNFArgs) == 0 {
			s.VNFArgs = nil // "vnf_args":[] and an absent field are the same
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed the spec: %+v -> %+v", s, s2)
		}
	})
}
