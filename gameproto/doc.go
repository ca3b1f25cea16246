// Package gameproto is the wire format of the link between a session host and a game that runs
// as its own process (issue 10, docs/SDK.md): version 1.0 of the game protocol, its single
// implementation in Go. The host side (spawning, supervision, the frame adapter) is not built
// yet; this package is the shared ground for it and for the Go SDK.
//
// The link is an AF_UNIX SOCK_SEQPACKET socketpair; the game gets its end as fd 3, named by
// EDGEPLAY_FD. One message is one datagram of at most MaxMessageSize bytes, and carries its own
// file descriptors (SCM_RIGHTS), at most MaxFDs. Every message starts with an 8-byte
// little-endian header:
//
//	offset size field
//	0      2    type (Type; < 128 game → host, ≥ 128 host → game)
//	2      2    flags (FlagIgnorable; other bits 0)
//	4      4    len: payload bytes after the header, equal to the datagram's size − 8
//
// followed by a fixed little-endian payload per type (documented on each message's type), with
// at most one variable-length tail.
//
// Frames and sound travel through shared memory the host creates, sizes and seals (NewMemfd)
// and registers once (BufferPool, AudioPool); per frame only a slot index crosses the socket
// (FrameReady, answered by Release). A slot belongs to the game until it sends FrameReady for
// it and again from the moment it receives Release for it; in between the game must not touch
// it.
//
// Contracts:
//   - Decode validates every field it can without the link's state, never panics, and
//     allocates at most the decoded value and copies of its variable parts. Checks that need
//     the state (a slot against the pool, who owns it, message order) are the receiver's:
//     BufferPool.Check and AudioPool.Check cover the pool bounds.
//   - Append is the inverse of Decode for every message Decode accepts (FuzzDecode checks it).
//   - Conn.Send refuses a message Decode would refuse, or the wrong number of fds.
//   - Conn.Recv closes every descriptor it does not return.
//
// Evolution is append-only: types are never renumbered, fields are never reordered or
// reinterpreted. A minor version may append fields to a message and add types; a peer sends
// them only once Welcome has settled on a minor that has them, so a 1.0 decoder, which wants
// exact sizes, never sees them. New types that an old peer may skip carry FlagIgnorable.
// Optional features are capability bits (Hello.Caps, Welcome.Caps). A different major is
// refused at Hello.
package gameproto
