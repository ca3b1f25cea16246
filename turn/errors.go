package turn

import "errors"

// Errors of credential checks and configuration. Callers branch with errors.Is.
var (
	// ErrMalformedUsername: the username is not "EXPIRY:SESSION".
	ErrMalformedUsername = errors.New("turn: malformed username")
	// ErrExpired: the username's expiry has passed.
	ErrExpired = errors.New("turn: credentials expired")
	// ErrBadPassword: the password is not the username's HMAC under the secret.
	ErrBadPassword = errors.New("turn: wrong password")
	// ErrConfig: the configuration is not usable.
	ErrConfig = errors.New("turn: bad configuration")
	// ErrClosed: the server is closed.
	ErrClosed = errors.New("turn: server closed")
)
