package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds what edgectl reads of one admin response (a listing of many thousand
// sessions still fits).
const maxResponse = 64 << 20

// client calls the gateway's admin API.
type client struct {
	base  string // without a trailing slash
	token string
	hc    *http.Client
}

func newClient(o *options) (*client, error) {
	c, err := newPublicClient(o)
	switch {
	case err != nil:
		return nil, err
	case o.token == "":
		return nil, errors.New("no admin token: set EDGEPLAY_ADMIN_TOKEN (edgeplay up prints it) or pass --token")
	}
	return c, nil
}

// newPublicClient is a client for the gateway's public endpoints (/v1/games): the admin token
// is sent when there is one, and not required.
func newPublicClient(o *options) (*client, error) {
	base := strings.TrimRight(o.server, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --server %q must be an http:// or https:// URL", errUsage, o.server)
	}
	// No client timeout: requests carry a context, and a followed event stream has none.
	return &client{base: base, token: o.token, hc: &http.Client{}}, nil
}

// apiError is an error answer of the admin API (docs/API.md): {"code", "message"}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "the admin token was refused (check EDGEPLAY_ADMIN_TOKEN)"
	case e.Code == "admin_disabled":
		return "the admin API is off on this gateway: start it with an admin token (EDGEPLAY_ADMIN_TOKEN)"
	case e.Code == "not_found":
		return e.Message
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// get sends GET path?query and returns the response when it is 200; any other answer becomes
// an error that says what to do about it. The caller closes the body.
func (c *client) get(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	return c.do(ctx, http.MethodGet, path, query, nil)
}

// do sends method path?query with an optional JSON body; see get.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if body != nil && err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: bad --server %q: %w", errUsage, c.base, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "edgectl/"+version)
	resp, err := c.hc.Do(req)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return nil, ctx.Err() // interrupted
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("the gateway at %s did not answer in time (--timeout)", c.base)
		}
		return nil, fmt.Errorf("cannot reach the gateway at %s: %w", c.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ae := &apiError{Status: resp.StatusCode}
	if json.Unmarshal(errBody, ae) != nil || ae.Code == "" {
		// Not the admin API talking: an older gateway, a proxy, or not a gateway at all.
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s has no admin API (HTTP 404): is it an edgeplay gateway, and a recent one?", c.base)
		}
		return nil, fmt.Errorf("the gateway at %s answered HTTP %d: %s", c.base, resp.StatusCode, firstLine(errBody))
	}
	return nil, ae
}

// getJSON sends GET path?query and returns the body of a 200 answer and its headers.
func (c *client) getJSON(ctx context.Context, path string, query url.Values) ([]byte, http.Header, error) {
	return c.readJSON(c.get(ctx, path, query))
}

// postJSON sends POST path with a JSON body and returns the body of a 200 answer and its
// headers.
func (c *client) postJSON(ctx context.Context, path string, body []byte) ([]byte, http.Header, error) {
	return c.readJSON(c.do(ctx, http.MethodPost, path, nil, body))
}

func (c *client) readJSON(resp *http.Response, err error) ([]byte, http.Header, error) {
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	return body, resp.Header, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// printJSON writes v's JSON, indented, as the -o json output.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("the gateway sent malformed JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
