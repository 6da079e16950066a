//go:build !nocuda

package gpu

// DeviceMemory reports the device's free and total memory in bytes, for the check of a
// network's estimated memory before it is allocated.
func (b *Backend) DeviceMemory() (free, total int64, err error) { return b.ctx.MemInfo() }
