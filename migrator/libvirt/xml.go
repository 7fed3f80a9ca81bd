package libvirt

import "encoding/xml"

// The subset of libvirt's domain XML (https://libvirt.org/formatdomain.html)
// that DomainXML writes.

type domain struct {
	XMLName xml.Name `xml:"domain"`
	Type    string   `xml:"type,attr"`
	// QEMUNS declares the qemu: prefix when QEMUArgs is set.
	QEMUNS     string    `xml:"xmlns:qemu,attr,omitempty"`
	Name       string    `xml:"name"`
	Metadata   *metadata `xml:"metadata,omitempty"`
	Memory     memory    `xml:"memory"`
	VCPU       vcpu      `xml:"vcpu"`
	OS         osBoot    `xml:"os"`
	Features   features  `xml:"features"`
	CPU        cpu       `xml:"cpu"`
	OnPoweroff string    `xml:"on_poweroff"`
	OnReboot   string    `xml:"on_reboot"`
	OnCrash    string    `xml:"on_crash"`
	Devices    devices   `xml:"devices"`
	// QEMUArgs are raw QEMU arguments (see tcgRAMArgs).
	QEMUArgs *qemuCommandline `xml:"qemu:commandline,omitempty"`
}

type metadata struct {
	Guest *guestMeta
}

type memory struct {
	Unit string `xml:"unit,attr"`
	KiB  int    `xml:",chardata"`
}

type vcpu struct {
	Placement string `xml:"placement,attr"`
	Current   int    `xml:"current,attr"`
	Max       int    `xml:",chardata"`
}

type osBoot struct {
	Type    osType `xml:"type"`
	Kernel  string `xml:"kernel"`
	Initrd  string `xml:"initrd"`
	Cmdline string `xml:"cmdline"`
}

type osType struct {
	Arch    string `xml:"arch,attr"`
	Machine string `xml:"machine,attr"`
	Value   string `xml:",chardata"`
}

type features struct {
	ACPI *struct{} `xml:"acpi"`
}

type cpu struct {
	Mode  string    `xml:"mode,attr"`
	Match string    `xml:"match,attr,omitempty"`
	Check string    `xml:"check,attr,omitempty"`
	Model *cpuModel `xml:"model,omitempty"`
}

type cpuModel struct {
	Fallback string `xml:"fallback,attr"`
	Name     string `xml:",chardata"`
}

type devices struct {
	Interfaces  []iface      `xml:"interface"`
	Serials     []serial     `xml:"serial"`
	Controllers []controller `xml:"controller"`
	Balloon     balloon      `xml:"memballoon"`
}

type iface struct {
	Type   string      `xml:"type,attr"`
	Source ifaceSource `xml:"source"`
	Target ifaceTarget `xml:"target"`
	MAC    ifaceMAC    `xml:"mac"`
	Model  ifaceModel  `xml:"model"`
	ROM    ifaceROM    `xml:"rom"`
}

type ifaceSource struct {
	Bridge string `xml:"bridge,attr"`
}

type ifaceTarget struct {
	Dev string `xml:"dev,attr"`
}

type ifaceMAC struct {
	Address string `xml:"address,attr"`
}

type ifaceModel struct {
	Type string `xml:"type,attr"`
}

type ifaceROM struct {
	Enabled string `xml:"enabled,attr"`
}

type serial struct {
	Type   string        `xml:"type,attr"`
	Source *serialSource `xml:"source,omitempty"`
	Target serialTarget  `xml:"target"`
}

type serialSource struct {
	Path string `xml:"path,attr"`
}

type serialTarget struct {
	Port int `xml:"port,attr"`
}

type controller struct {
	Type  string `xml:"type,attr"`
	Model string `xml:"model,attr"`
}

type balloon struct {
	Model             string `xml:"model,attr"`
	FreePageReporting string `xml:"freePageReporting,attr"`
}
