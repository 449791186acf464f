package hid

import (
	khid "github.com/karalabe/hid"
)

// System is the backend over karalabe/hid (hidapi + libusb with cgo; a stub
// without).
func System() Backend {
	return Backend{
		Supported: khid.Supported,
		Enumerate: func() ([]Info, error) {
			list, err := khid.Enumerate(0, 0)
			if err != nil {
				return nil, err
			}
			out := make([]Info, 0, len(list))
			for _, d := range list {
				out = append(out, Info{
					Path: d.Path, VID: d.VendorID, PID: d.ProductID, Serial: d.Serial,
					Manufacturer: d.Manufacturer, Product: d.Product, Interface: d.Interface,
				})
			}
			return out, nil
		},
		Open: func(in Info) (Handle, error) {
			return khid.DeviceInfo{Path: in.Path, VendorID: in.VID, ProductID: in.PID}.Open()
		},
		Access: access,
	}
}
