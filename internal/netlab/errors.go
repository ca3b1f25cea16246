package netlab

import "errors"

var (
	// ErrNotRoot means the process is not root; the lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create namespaces.
	// New skips the test.
	ErrNotRoot = errors.New("netlab: needs root to create network namespaces")
	// ErrUnsupported means the kernel lacks a feature the lab uses (network namespaces, veth, tbf,
	// nf_tables, numgen, NAT). New skips the test.
	ErrUnsupported = errors.New("netlab: the kernel lacks a feature")
	// ErrMissingTool means ip, tc or nft is not installed. New fails the test: this is a broken
	// test machine, not a kernel limit.
	ErrMissingTool = errors.New("netlab: a required program is missing; `make test` installs iproute2 and nftables (scripts/deps.sh test)")
	// ErrClosed means the lab has been closed.
	ErrClosed = errors.New("netlab: lab is closed")
)
