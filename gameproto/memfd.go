package gameproto

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The host creates every shared buffer (research: game-sdk.md §3): it makes a memfd, sizes it
// and seals it against shrinking and growing before the game sees it, so a game can never
// truncate memory under the host's mapping (a fault in mapped memory kills a Go process). The
// game maps what it receives with Map, which checks the seals and the size first.

// requiredSeals are the seals NewMemfd sets and Map insists on.
const requiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// NewMemfd creates a shared memory file of size bytes named name (shown in /proc, for
// debugging), sealed against resizing. The caller owns the file; closing it after the peer has
// received it (and after unmapping) frees the memory once the peer closes its copy too.
func NewMemfd(name string, size int64) (*os.File, error) {
	if size <= 0 {
		return nil, fmt.Errorf("gameproto: memfd size %d", size)
	}
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 do not know MFD_NOEXEC_SEAL
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("gameproto: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("gameproto: size memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, requiredSeals); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("gameproto: seal memfd: %w", err)
	}
	return f, nil
}

// Map maps size bytes of the shared memory file fd read-write. It refuses a file that is not
// sealed against shrinking or holds fewer than size bytes, so the mapping can never fault.
// The mapping outlives fd; release it with Unmap.
func Map(fd int, size int64) ([]byte, error) {
	if size <= 0 || size > int64(MaxSlots)*MaxSlotSize {
		return nil, fmt.Errorf("%w: map size %d", ErrField, size)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("gameproto: seals: %w", err)
	}
	if seals&requiredSeals != requiredSeals {
		return nil, fmt.Errorf("%w: memfd seals %#x, want %#x", ErrField, seals, requiredSeals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("gameproto: stat memfd: %w", err)
	}
	if st.Size < size {
		return nil, fmt.Errorf("%w: memfd holds %d bytes, pool needs %d", ErrField, st.Size, size)
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gameproto: mmap: %w", err)
	}
	return mem, nil
}

// Unmap releases a mapping made by Map.
func Unmap(mem []byte) error {
	return unix.Munmap(mem)
}
