package studio

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// Webhooks (docs/STUDIO.md, "Webhooks"): a studio with a webhook URL hears session.started and
// session.ended for its sessions. They are sent from a durable JetStream consumer on the usage
// stream that every gateway shares, each message acknowledged only once the studio's server
// answered 2xx, so none is lost while that server is down: a failed delivery is tried again
// after each delay of the schedule, then dropped (and logged). Requests follow Standard
// Webhooks 1.0: headers webhook-id (the same on every retry: the receiver's idempotency key),
// webhook-timestamp and webhook-signature "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>".

// WebhookConsumer is the durable consumer's name.
const WebhookConsumer = "edgeplay-webhooks"

// DefaultWebhookSchedule is the delays between the attempts of one delivery: about 2 days.
var DefaultWebhookSchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

const (
	webhookTimeout = 10 * time.Second
	webhookWorkers = 8
	secretPrefix   = "whsec_"
)

// newWebhookSecret is a Standard Webhooks secret: whsec_ and 32 random bytes, base64.
func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SignWebhook is the webhook-signature header of a delivery (Standard Webhooks, v1).
func SignWebhook(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || !strings.HasPrefix(secret, secretPrefix) {
		return "", fmt.Errorf("webhook secret: not whsec_<base64>")
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// WebhookEvent is a delivery's body.
type WebhookEvent struct {
	Type      string               `json:"type"` // session.started, session.ended
	Timestamp time.Time            `json:"timestamp"`
	Data      protocol.UsageRecord `json:"data"`
}

// WebhookConfig configures the deliverer.
type WebhookConfig struct {
	Schedule []time.Duration // default DefaultWebhookSchedule
	Client   *http.Client    // default: 10 s timeout
	Logger   *slog.Logger
}

// Webhooks delivers webhooks until Close.
type Webhooks struct {
	store    *Store
	cfg      WebhookConfig
	log      *slog.Logger
	cc       jetstream.ConsumeContext
	work     chan jetstream.Msg
	wg       sync.WaitGroup
	mu       sync.Mutex
	cache    map[string]cachedStudio // guarded by mu: studios' webhook settings, briefly
	stopOnce sync.Once
}

type cachedStudio struct {
	url, secret string
	until       time.Time
}

// StartWebhooks creates (or joins) the durable consumer and starts delivering.
func StartWebhooks(ctx context.Context, js jetstream.JetStream, store *Store, cfg WebhookConfig) (*Webhooks, error) {
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultWebhookSchedule
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: webhookTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cc := jetstream.ConsumerConfig{
		Durable:     WebhookConsumer,
		Description: "edgeplay webhooks: studios' session.started and session.ended",
		FilterSubjects: []string{
			"edgeplay.usage.*.*.*." + protocol.UsageKindStart, "edgeplay.usage.*.*.*." + protocol.UsageKindEnd,
		},
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       webhookTimeout + 20*time.Second,
		MaxAckPending: 1024,
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.StreamUsage, cc)
	if errors.Is(err, jetstream.ErrConsumerMultipleFilterSubjectsNotSupported) {
		// A NATS server before 2.10: every usage record, and the ticks are skipped here.
		cc.FilterSubjects, cc.FilterSubject = nil, protocol.SubjectUsageAll
		cons, err = js.CreateOrUpdateConsumer(ctx, protocol.StreamUsage, cc)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook consumer: %w", err)
	}
	w := &Webhooks{
		store: store, cfg: cfg, log: cfg.Logger.With("role", "webhooks"),
		work: make(chan jetstream.Msg, webhookWorkers), cache: map[string]cachedStudio{},
	}
	for range webhookWorkers {
		w.wg.Go(w.worker)
	}
	w.cc, err = cons.Consume(func(m jetstream.Msg) { w.work <- m }, jetstream.PullMaxMessages(64))
	if err != nil {
		w.stop()
		return nil, fmt.Errorf("webhook consumer: %w", err)
	}
	return w, nil
}

// Close stops taking deliveries and waits for those in flight (unacknowledged ones are
// delivered again, here or by another gateway).
func (w *Webhooks) Close() {
	if w.cc != nil {
		w.cc.Drain()
		<-w.cc.Closed()
	}
	w.stop()
}

func (w *Webhooks) stop() {
	w.stopOnce.Do(func() { close(w.work) })
	w.wg.Wait()
}

func (w *Webhooks) worker() {
	for m := range w.work {
		w.deliver(m)
	}
}

// hook returns a studio's webhook URL and secret, cached for a few seconds.
func (w *Webhooks) hook(ctx context.Context, id string) (string, string, error) {
	w.mu.Lock()
	c, ok := w.cache[id]
	w.mu.Unlock()
	if ok && time.Now().Before(c.until) {
		return c.url, c.secret, nil
	}
	st, err := w.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		st, err = Studio{}, nil // deleted: no webhook
	}
	if err != nil {
		return "", "", err
	}
	w.mu.Lock()
	w.cache[id] = cachedStudio{url: st.WebhookURL, secret: st.WebhookSecret, until: time.Now().Add(5 * time.Second)}
	w.mu.Unlock()
	return st.WebhookURL, st.WebhookSecret, nil
}

// deliver sends one message's webhook and acknowledges it, or asks for it again later.
func (w *Webhooks) deliver(m jetstream.Msg) {
	var r protocol.UsageRecord
	if err := json.Unmarshal(m.Data(), &r); err != nil || r.Studio == "" || r.Kind == protocol.UsageKindTick {
		_ = m.Ack() // not a studio's session, a tick (older servers send every record), or garbage
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	url, secret, err := w.hook(ctx, r.Studio)
	if err != nil {
		w.retry(m, r, fmt.Errorf("studio store: %w", err))
		return
	}
	if url == "" {
		_ = m.Ack()
		return
	}
	ev := WebhookEvent{Type: "session.started", Timestamp: r.Time, Data: r}
	if r.Kind == protocol.UsageKindEnd {
		ev.Type = "session.ended"
	}
	body, _ := json.Marshal(ev)
	id := r.Session + "." + r.Kind
	now := time.Now()
	sig, err := SignWebhook(secret, id, now, body)
	if err != nil {
		w.log.Error("webhook not sent: the studio's secret is malformed", "studio", r.Studio, "err", err)
		_ = m.Term()
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		_ = m.Term()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "edgeplay-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		w.retry(m, r, err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		metrics.WebhookDeliveries.WithLabelValues("delivered").Inc()
		metrics.WebhookLagSeconds.Observe(time.Since(r.Time).Seconds())
		_ = m.Ack()
	case resp.StatusCode == http.StatusGone: // the receiver says: stop sending this
		w.log.Warn("webhook refused for good (410)", "studio", r.Studio, "id", id)
		_ = m.Ack()
	default:
		w.retry(m, r, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
}

// retry asks for the message again after the schedule's next delay, or gives it up.
func (w *Webhooks) retry(m jetstream.Msg, r protocol.UsageRecord, why error) {
	metrics.WebhookDeliveries.WithLabelValues("failed").Inc()
	n := 1
	if meta, err := m.Metadata(); err == nil {
		n = int(meta.NumDelivered)
	}
	if n > len(w.cfg.Schedule) {
		w.log.Error("webhook given up", "studio", r.Studio, "session", r.Session, "kind", r.Kind, "attempts", n, "err", why)
		_ = m.Term()
		return
	}
	delay := w.cfg.Schedule[n-1]
	if n == 1 || n%3 == 0 {
		w.log.Warn("webhook not delivered; trying again", "studio", r.Studio, "session", r.Session, "kind", r.Kind,
			"attempt", n, "next_in", delay, "err", why)
	}
	_ = m.NakWithDelay(delay)
}
