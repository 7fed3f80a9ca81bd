package tchook

import "path/filepath"

// LinkPin is where Attach pins the tcx link of the program called name on
// device dev, under the bpffs dir pinDir.
func LinkPin(pinDir, dev, name string) string {
	return filepath.Join(pinDir, "links", dev+"-"+name)
}
