// Package protocol holds the wire contracts shared by the gateway, the session host, the
// matchmaker and clients: the player websocket messages, the NATS subjects and their payloads,
// and the one table of error codes that clients see. docs/PROTOCOL.md documents all of it; a
// change here is a change there.
package protocol
