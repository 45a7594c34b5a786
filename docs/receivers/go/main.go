// Example receiver for orderguard's webhooks, with the Go standard library only.
//
// It verifies every delivery's Standard Webhooks signature (HMAC-SHA256) over the raw body; for
// verification.approved it fetches the verification and verifies its signed receipt (a compact
// JWS, EdDSA) against orderguard's JWKS: a webhook says "something happened", the receipt proves
// it for this very order. It acts once per webhook-id: orderguard retries under the same id until
// it gets a 2xx.
//
//	PORT=9000 ORDERGUARD_URL=http://127.0.0.1:8080 ORDERGUARD_BRAND=nordtel \
//	ORDERGUARD_API_KEY=og_… ORDERGUARD_WEBHOOK_SECRET=whsec_… go run .
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	orderguardURL = mustEnv("ORDERGUARD_URL")   // also the receipts' iss
	brand         = mustEnv("ORDERGUARD_BRAND") // the receipts' aud
	apiKey        = mustEnv("ORDERGUARD_API_KEY")
	secret        = webhookSecret(mustEnv("ORDERGUARD_WEBHOOK_SECRET"))
	client        = &http.Client{Timeout: 5 * time.Second}
)

const maxBody = 1 << 20

func mustEnv(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("%s is not set", name)
	}
	return value
}

// webhookSecret gives the HMAC key: the bytes base64-encoded after "whsec_".
func webhookSecret(s string) []byte {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil || len(key) == 0 {
		log.Fatal("ORDERGUARD_WEBHOOK_SECRET is not whsec_ followed by base64")
	}
	return key
}

// verifyWebhook checks the Standard Webhooks signature over the body exactly as it arrived.
func verifyWebhook(h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing required headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("invalid webhook-timestamp")
	}
	// Refusing old timestamps keeps a captured delivery from being replayed later.
	if age := time.Since(time.Unix(sec, 0)); age > 5*time.Minute {
		return errors.New("message timestamp too old")
	} else if age < -5*time.Minute {
		return errors.New("message timestamp too new")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	expected := mac.Sum(nil)
	// One v1 entry per secret (two during a rotation); v1a entries are Ed25519, not checked here.
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, _ := strings.Cut(entry, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, expected) { // constant time
			return nil
		}
	}
	return errors.New("no matching signature found")
}

func getJSON(path string, auth bool, into any) error {
	req, err := http.NewRequest(http.MethodGet, orderguardURL+path, nil)
	if err != nil {
		return err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// The JWKS, cached for five minutes (as orderguard's Cache-Control says) and fetched again at
// once when a receipt names a kid it does not hold (a key rotation publishes new keys there).
var (
	jwksMu      sync.Mutex
	jwksKeys    map[string]ed25519.PublicKey
	jwksFetched time.Time
)

func receiptKey(kid string) (ed25519.PublicKey, error) {
	jwksMu.Lock()
	defer jwksMu.Unlock()
	if key, ok := jwksKeys[kid]; ok && time.Since(jwksFetched) < 5*time.Minute {
		return key, nil
	}
	var set struct {
		Keys []struct{ Kty, Crv, Kid, X string }
	}
	if err := getJSON("/.well-known/jwks.json", false, &set); err != nil {
		return nil, err
	}
	jwksKeys, jwksFetched = map[string]ed25519.PublicKey{}, time.Now()
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty == "OKP" && k.Crv == "Ed25519" && err == nil && len(x) == ed25519.PublicKeySize {
			jwksKeys[k.Kid] = ed25519.PublicKey(x)
		}
	}
	if key, ok := jwksKeys[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("no key %q in the JWKS", kid)
}

func decodePart(part string, into any) error {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// verifyReceipt checks the receipt as docs/api.md says. A shop also compares amount, currency and
// order_digest with the order it is about to accept.
func verifyReceipt(receipt, orderID string) error {
	parts := strings.Split(receipt, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	var header struct{ Alg, Kid string }
	if err := decodePart(parts[0], &header); err != nil {
		return err
	}
	if header.Alg != "EdDSA" { // the algorithm is ours to choose, never the token's
		return fmt.Errorf("alg %q is not EdDSA", header.Alg)
	}
	key, err := receiptKey(header.Kid)
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), sig) {
		return errors.New("signature does not verify")
	}
	var claims struct {
		Iss, Aud string // orderguard's aud is one string
		Exp      float64
		OrderID  string `json:"order_id"`
	}
	switch err := decodePart(parts[1], &claims); {
	case err != nil:
		return err
	case claims.Iss != orderguardURL:
		return fmt.Errorf("iss %q is not %s", claims.Iss, orderguardURL)
	case claims.Aud != brand:
		return fmt.Errorf("aud %q is not %s", claims.Aud, brand)
	case float64(time.Now().Unix()) >= claims.Exp:
		return errors.New("expired")
	case claims.OrderID != orderID:
		return errors.New("order_id does not match")
	}
	return nil
}

type event struct {
	Type string
	Data struct {
		VerificationID *string `json:"verification_id"`
		OrderID        *string `json:"order_id"`
	}
}

type result struct {
	WebhookID      string  `json:"webhook_id"`
	Type           string  `json:"type"`
	VerificationID *string `json:"verification_id"`
	OrderID        *string `json:"order_id"`
	Receipt        *string `json:"receipt"`
	Duplicate      bool    `json:"duplicate,omitempty"`
}

func handle(id string, ev event) result {
	r := result{WebhookID: id, Type: ev.Type, VerificationID: ev.Data.VerificationID, OrderID: ev.Data.OrderID}
	if ev.Type == "verification.approved" {
		outcome := "valid"
		if err := checkReceipt(deref(r.VerificationID), deref(r.OrderID)); err != nil {
			outcome = "invalid: " + err.Error()
		}
		r.Receipt = &outcome
	}
	return r
}

// checkReceipt fetches the verification with the API key and verifies its receipt.
func checkReceipt(verificationID, orderID string) error {
	var v struct{ Receipt string }
	if err := getJSON("/v1/verifications/"+url.PathEscape(verificationID), true, &v); err != nil {
		return err
	}
	if v.Receipt == "" {
		return errors.New("no receipt")
	}
	return verifyReceipt(v.Receipt, orderID)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// webhook-id → what was done. In memory for the example; a real shop keeps this in its database
// (a unique key on the id). A retry that arrives while the first delivery is still being handled
// waits for it (done) instead of acting twice.
type delivery struct {
	done chan struct{}
	res  result
}

var (
	handledMu sync.Mutex
	handled   = map[string]*delivery{}
)

func receive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var ev event
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = verifyWebhook(r.Header, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err != nil {
		printLine(map[string]string{"rejected": err.Error()})
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	handledMu.Lock()
	d, duplicate := handled[id]
	if !duplicate {
		d = &delivery{done: make(chan struct{})}
		handled[id] = d
	}
	handledMu.Unlock()
	if duplicate {
		<-d.done
		res := d.res
		res.Duplicate = true
		printLine(res)
	} else {
		d.res = handle(id, ev)
		close(d.done)
		printLine(d.res)
	}
	w.WriteHeader(http.StatusNoContent)
}

func printLine(v any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+mustEnv("PORT"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening") // stdout is unbuffered: the line is out as soon as the socket is bound
	mux := http.NewServeMux()
	mux.HandleFunc("/webhooks", receive)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.Serve(ln))
}
