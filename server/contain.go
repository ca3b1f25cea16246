package server

import (
	"fmt"
	"runtime/debug"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// Containment (issue 12): a panic in one player connection's code closes that connection
// with an `internal` error (its session, if placed, is told the player is away or left, as
// for any closed socket); it is logged with its stack and counted (edgeplay_panics_total),
// and the gateway and its other players carry on.

// dispatchHookForTest, when set, is called with every valid player message before it is
// acted on (tests make it panic).
var dispatchHookForTest func(protocol.Message)

// contain runs fn for the connection; a panic in it closes the connection.
func (c *playConn) contain(where string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			metrics.Panics.WithLabelValues(where).Inc()
			c.log.Error("panic recovered: closing this player's connection; the gateway carries on", "where", where,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			// The error, then a Close frame; the reader then returns and the teardown runs.
			c.sendErr(protocol.Errorf(protocol.CodeInternal, ""), websocket.CloseInternalServerErr)
		}
	}()
	fn()
}
