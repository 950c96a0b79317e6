package govern

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// GatewayConfig is the [gateway] table: how `mcpgov gateway serve`
// listens and what it bounds. Flags override it.
type GatewayConfig struct {
	// GatewayAuthConfig is how callers are authenticated (issuers, the
	// limit on failures).
	GatewayAuthConfig
	// GatewayStoreConfig is the store the replicas share (store,
	// store_down).
	GatewayStoreConfig
	// Listen is the address to listen on (host:port).
	Listen string `toml:"listen"`
	// AllowedOrigins are the Origin values a browser client may call from.
	AllowedOrigins []string `toml:"allowed_origins"`
	// MaxBody bounds a POST body, in bytes.
	MaxBody int64 `toml:"max_body"`
	// MaxSessions bounds the open MCP sessions.
	MaxSessions int `toml:"max_sessions"`
	// IdleTimeout ends a session nobody used for this long ("30m").
	IdleTimeout string `toml:"idle_timeout"`
	// InputTimeout bounds how long a stateless client's call whose server
	// asked for input waits for the client's retry ("10m").
	InputTimeout string `toml:"input_timeout"`
	// TLSCert and TLSKey are PEM files: with both set the gateway serves
	// HTTPS. Relative paths are relative to the config file.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ReplicaCert and ReplicaKey are the PEM client certificate a
	// replica presents to the others when it forwards a retry over https
	// (mutual TLS), and the issuers it accepts from them; TLSCert and
	// TLSKey when unset. Relative paths are relative to the config file.
	ReplicaCert string `toml:"replica_cert"`
	ReplicaKey  string `toml:"replica_key"`
	// InventoryReaders are the groups whose members may read the fleet
	// inventory over HTTP (GET /inventory); nobody when empty.
	InventoryReaders []string `toml:"inventory_readers"`
	// MetricsListen, when set, is the only address /metrics is served on.
	MetricsListen string `toml:"metrics_listen"`
	// PublicURL is the gateway's URL as browsers reach it: per-user OAuth
	// consent returns to PublicURL/oauth/callback.
	PublicURL string `toml:"public_url"`
	// ConsentIssuer, ConsentClientID and ConsentClientSecret (a secret
	// reference) are the gateway's OpenID client at its identity
	// provider: a person opening a consent link (auth type oauth_user)
	// signs in there first, and only the person the link was made for
	// may consent. Without them a link works for whoever opens it.
	ConsentIssuer       string `toml:"consent_issuer"`
	ConsentClientID     string `toml:"consent_client_id"`
	ConsentClientSecret string `toml:"consent_client_secret"`
	// OTLPTraces, when set, is the OTLP/HTTP endpoint the gateway sends
	// its spans to.
	OTLPTraces string `toml:"otlp_traces"`
	// TrustedProxies are the peers (CIDR prefixes or addresses) whose
	// X-Forwarded-For names the client.
	TrustedProxies []string `toml:"trusted_proxies"`
	// AdvertiseURL is this replica's own URL as the other replicas reach
	// it: a stateless client's retry of a call waiting on this replica is
	// forwarded here by whichever replica gets it.
	AdvertiseURL string `toml:"advertise_url"`
}

// GatewaySettings are the [gateway] settings resolved from both configs;
// zero values are unset (the gateway's defaults).
type GatewaySettings struct {
	Listen         string
	AllowedOrigins []string
	MaxBody        int64
	MaxSessions    int
	IdleTimeout    time.Duration
	InputTimeout   time.Duration
	TLSCert        string
	TLSKey         string
	// ReplicaCert and ReplicaKey: see GatewayConfig; both or neither.
	ReplicaCert, ReplicaKey string
	// InventoryReaders and MetricsListen: see GatewayConfig.
	InventoryReaders []string
	MetricsListen    string
	// OTLPTraces: see GatewayConfig.
	OTLPTraces string
	// PublicURL: see GatewayConfig.
	PublicURL string
	// ConsentIssuer, ConsentClientID, ConsentClientSecret: see
	// GatewayConfig; all or none.
	ConsentIssuer, ConsentClientID, ConsentClientSecret string
	// TrustedProxies: see GatewayConfig; checked.
	TrustedProxies []netip.Prefix
	// AdvertiseURL: see GatewayConfig; checked and normalized.
	AdvertiseURL string
}

// Gateway resolves the [gateway] settings: each key the managed config
// sets wins (the machine's administrator runs the service), else the
// user's config's. A value that is not valid is an error naming the key
// and the file.
func (c Configs) Gateway() (GatewaySettings, error) {
	var s GatewaySettings
	for _, cfg := range []Config{c.User, c.Managed} { // managed last: it wins
		if err := applyGateway(&s, cfg); err != nil {
			return s, err
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return s, WithHint(fmt.Errorf("config: [gateway] sets only one of tls_cert and tls_key"), "set both, or neither to serve plain HTTP")
	}
	if (s.ReplicaCert == "") != (s.ReplicaKey == "") {
		return s, WithHint(fmt.Errorf("config: [gateway] sets only one of replica_cert and replica_key"), "set both, or neither to present tls_cert to the other replicas")
	}
	return s, nil
}

func applyGateway(s *GatewaySettings, cfg Config) error {
	g := cfg.Gateway
	if g.Listen != "" {
		s.Listen = g.Listen
	}
	if len(g.AllowedOrigins) > 0 {
		s.AllowedOrigins = g.AllowedOrigins
	}
	if g.MetricsListen != "" {
		s.MetricsListen = g.MetricsListen
	}
	if g.PublicURL != "" {
		s.PublicURL = g.PublicURL
	}
	if g.ConsentIssuer != "" || g.ConsentClientID != "" || g.ConsentClientSecret != "" {
		if g.ConsentIssuer == "" || g.ConsentClientID == "" {
			return WithHint(fmt.Errorf("config %s: [gateway] sets only some of consent_issuer and consent_client_id", cfg.Path()),
				"set both (and consent_client_secret for a confidential client), or none to leave consent links unchecked")
		}
		if u, err := url.Parse(g.ConsentIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return WithHint(fmt.Errorf("config %s: invalid [gateway] consent_issuer %q", cfg.Path(), g.ConsentIssuer),
				"give the identity provider's issuer URL, such as https://login.example.com")
		}
		if g.ConsentClientSecret != "" && !strings.Contains(g.ConsentClientSecret, ":") {
			return WithHint(fmt.Errorf("config %s: [gateway] consent_client_secret is not a secret reference", cfg.Path()),
				"reference the secret (env:NAME, file:PATH, keyring:SERVICE/ACCOUNT), never the secret itself")
		}
		s.ConsentIssuer, s.ConsentClientID, s.ConsentClientSecret = g.ConsentIssuer, g.ConsentClientID, g.ConsentClientSecret
	}
	if g.OTLPTraces != "" {
		u, err := url.Parse(g.OTLPTraces)
		if err == nil && u.User != nil {
			return WithHint(fmt.Errorf("config %s: invalid [gateway] otlp_traces %q: it holds credentials", cfg.Path(), u.Redacted()),
				"remove them from the URL")
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return WithHint(fmt.Errorf("config %s: invalid [gateway] otlp_traces %q", cfg.Path(), g.OTLPTraces),
				"give the OTLP/HTTP endpoint as http(s)://host:port, such as http://127.0.0.1:4318")
		}
		s.OTLPTraces = g.OTLPTraces
	}
	if g.AdvertiseURL != "" {
		u, err := gateway.ParseAdvertiseURL(g.AdvertiseURL)
		if err != nil {
			return WithHint(fmt.Errorf("config %s: invalid [gateway] advertise_url: %v", cfg.Path(), err),
				"give this replica's own URL as the other replicas reach it, such as advertise_url = \"http://10.0.0.7:8080\"")
		}
		s.AdvertiseURL = u
	}
	if len(g.InventoryReaders) > 0 {
		s.InventoryReaders = g.InventoryReaders
	}
	if len(g.TrustedProxies) > 0 {
		s.TrustedProxies = nil
		for _, v := range g.TrustedProxies {
			p, err := gateway.ParseTrustedProxy(v)
			if err != nil {
				return WithHint(fmt.Errorf("config %s: invalid [gateway] trusted_proxies entry: %v", cfg.Path(), err),
					"list the load balancers' addresses, such as trusted_proxies = [\"10.0.0.0/8\"]")
			}
			s.TrustedProxies = append(s.TrustedProxies, p)
		}
	}
	if g.MaxBody < 0 {
		return fmt.Errorf("config %s: invalid [gateway] max_body %d: want a positive size in bytes", cfg.Path(), g.MaxBody)
	}
	if g.MaxBody > 0 {
		s.MaxBody = g.MaxBody
	}
	if g.MaxSessions < 0 {
		return fmt.Errorf("config %s: invalid [gateway] max_sessions %d: want a positive number", cfg.Path(), g.MaxSessions)
	}
	if g.MaxSessions > 0 {
		s.MaxSessions = g.MaxSessions
	}
	if g.IdleTimeout != "" {
		d, err := audit.ParseAge(g.IdleTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("config %s: invalid [gateway] idle_timeout %q: want a duration like 30m", cfg.Path(), g.IdleTimeout)
		}
		s.IdleTimeout = d
	}
	if g.InputTimeout != "" {
		d, err := audit.ParseAge(g.InputTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("config %s: invalid [gateway] input_timeout %q: want a duration like 10m", cfg.Path(), g.InputTimeout)
		}
		s.InputTimeout = d
	}
	if g.TLSCert != "" {
		s.TLSCert = configRelative(cfg.Path(), g.TLSCert)
	}
	if g.TLSKey != "" {
		s.TLSKey = configRelative(cfg.Path(), g.TLSKey)
	}
	if g.ReplicaCert != "" {
		s.ReplicaCert = configRelative(cfg.Path(), g.ReplicaCert)
	}
	if g.ReplicaKey != "" {
		s.ReplicaKey = configRelative(cfg.Path(), g.ReplicaKey)
	}
	return nil
}
