package studio

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification (spec/standard-webhooks.md, "Signature
// scheme"): a receiver built from the spec verifies what we sign.
func TestSignWebhookSpecExample(t *testing.T) {
	got, err := SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %q, %v", got, err)
	}
	if _, err := SignWebhook("nope", "id", time.Now(), nil); err == nil {
		t.Error("a secret without whsec_ signed")
	}
}

func TestWebhookSettings(t *testing.T) {
	s, _ := openStore(t, testNATS(t))
	ctx := ctxFor(t)
	st, _, err := s.Create(ctx, Spec{Name: ptr("Acme"), WebhookURL: ptr("https://hooks.acme.example/edgeplay")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.WebhookSecret, "whsec_") {
		t.Fatalf("secret %q", st.WebhookSecret)
	}
	up, err := s.Update(ctx, st.ID, Spec{WebhookURL: ptr("https://hooks.acme.example/v2")})
	if err != nil || up.WebhookSecret != st.WebhookSecret {
		t.Errorf("a new URL keeps the secret: %+v %v", up, err)
	}
	if up, err = s.Update(ctx, st.ID, Spec{WebhookURL: ptr("")}); err != nil || up.WebhookURL != "" {
		t.Errorf("removing the URL: %+v %v", up, err)
	}
	for _, bad := range []string{"ftp://x.example/", "https://user:pw@x.example/", "/relative", "https://" + strings.Repeat("a", MaxWebhookURL)} {
		if _, err := s.Update(ctx, st.ID, Spec{WebhookURL: ptr(bad)}); !errors.Is(err, ErrInvalid) {
			t.Errorf("webhook_url %q: %v, want ErrInvalid", bad, err)
		}
	}
}
