package session

import "context"

// CrashForTest simulates a host that dies without a goodbye: its NATS connection drops first,
// so no heartbeat, "ended" or event leaves it, then its sessions and port are torn down. The
// rest of the system must notice through the missing heartbeats alone.
func (h *Host) CrashForTest(ctx context.Context) error {
	h.nc.Close()
	return h.Close(ctx)
}
