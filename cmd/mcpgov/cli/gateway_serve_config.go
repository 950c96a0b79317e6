package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/policy/govern"
	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// addGatewayServeFlags adds the flags of `gateway serve` that have a
// [gateway] config key beside them (and --listen, --max-body,
// --allowed-origin declared with the command).
func addGatewayServeFlags(cmd *cobra.Command, opts *GatewayServeOptions) {
	cmd.Flags().IntVar(&opts.MaxSessions, "max-sessions", gateway.DefaultMaxSessions, "most MCP sessions open at once")
	cmd.Flags().DurationVar(&opts.IdleTimeout, "idle-timeout", gateway.DefaultIdleTimeout, "end a session nobody used for this long")
	cmd.Flags().DurationVar(&opts.InputTimeout, "input-timeout", gateway.DefaultInputTimeout, "how long a 2026-07-28 client's call whose server asked for input waits for the client's retry")
	cmd.Flags().StringVar(&opts.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS (with --tls-key)")
	cmd.Flags().StringVar(&opts.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	cmd.Flags().StringVar(&opts.ReplicaCert, "replica-cert", "", "PEM client certificate (chain) file this replica presents to the others over https, whose issuers it accepts from them (with --replica-key; default: --tls-cert)")
	cmd.Flags().StringVar(&opts.ReplicaKey, "replica-key", "", "PEM private key file of --replica-cert")
	cmd.Flags().StringVar(&opts.LogFormat, "log-format", "text", "stderr as text lines or json (one log/slog object per line)")
	cmd.Flags().DurationVar(&opts.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long calls in flight, and calls waiting for their client's input, may take to finish")
	cmd.Flags().StringVar(&opts.PublicURL, "public-url", "", "the gateway's URL as browsers reach it, where per-user OAuth consent returns (default: its listen address)")
	cmd.Flags().StringVar(&opts.MetricsListen, "metrics-listen", "", "serve /metrics on this address only (such as 127.0.0.1:9090), not beside the MCP endpoints")
	cmd.Flags().StringVar(&opts.OTLPTraces, "otlp-traces", "", "send a span per MCP request to this OTLP/HTTP endpoint (such as http://127.0.0.1:4318)")
	cmd.Flags().StringVar(&opts.AdvertiseURL, "advertise-url", "", "this replica's own URL as the other replicas reach it (such as http://10.0.0.7:8080; needs --store): a 2026-07-28 client's retry of a call waiting here is forwarded here by whichever replica gets it")
	cmd.Flags().StringArrayVar(&opts.TrustedProxy, "trusted-proxy", nil, "a load balancer or reverse proxy (CIDR or IP) whose X-Forwarded-For names the client (repeatable; default: none, the header is ignored)")
}

// checkGatewayFlags checks the flags alone (usage errors).
func checkGatewayFlags(opts *GatewayServeOptions) error {
	if opts.Set["tls-cert"] != opts.Set["tls-key"] {
		return flagErrorf("--tls-cert and --tls-key go together")
	}
	if opts.Set["replica-cert"] != opts.Set["replica-key"] {
		return flagErrorf("--replica-cert and --replica-key go together")
	}
	if opts.LogFormat != "text" && opts.LogFormat != "json" {
		return flagErrorf("invalid --log-format %q: want text or json", opts.LogFormat)
	}
	if opts.DrainTimeout <= 0 {
		return flagErrorf("invalid --drain-timeout %s: want a positive duration", opts.DrainTimeout)
	}
	if opts.MaxSessions <= 0 {
		return flagErrorf("invalid --max-sessions %d: want a positive number", opts.MaxSessions)
	}
	if opts.IdleTimeout <= 0 {
		return flagErrorf("invalid --idle-timeout %s: want a positive duration", opts.IdleTimeout)
	}
	if opts.InputTimeout <= 0 {
		return flagErrorf("invalid --input-timeout %s: want a positive duration", opts.InputTimeout)
	}
	if opts.OTLPTraces != "" {
		if _, err := trace.TracesURL(opts.OTLPTraces); err != nil {
			return flagErrorf("--otlp-traces: %v", err)
		}
	}
	if opts.AdvertiseURL != "" {
		u, err := gateway.ParseAdvertiseURL(opts.AdvertiseURL)
		if err != nil {
			return flagErrorf("invalid --advertise-url: %v", err)
		}
		opts.AdvertiseURL = u
	}
	for _, v := range opts.TrustedProxy {
		p, err := gateway.ParseTrustedProxy(v)
		if err != nil {
			return flagErrorf("invalid --trusted-proxy: %v", err)
		}
		opts.trustedProxies = append(opts.trustedProxies, p)
	}
	return nil
}

// resolveGatewaySettings fills what no flag set from the [gateway]
// config, and checks that a TLS pair loads before anything listens.
func resolveGatewaySettings(opts *GatewayServeOptions, c govern.Configs) error {
	s, err := c.Gateway()
	if err != nil {
		return err
	}
	if !opts.Set["listen"] && s.Listen != "" {
		opts.Listen = s.Listen
	}
	if !opts.Set["allowed-origin"] && len(s.AllowedOrigins) > 0 {
		opts.AllowedOrigins = s.AllowedOrigins
	}
	if !opts.Set["max-body"] && s.MaxBody > 0 {
		opts.MaxBody = s.MaxBody
	}
	if !opts.Set["max-sessions"] && s.MaxSessions > 0 {
		opts.MaxSessions = s.MaxSessions
	}
	if !opts.Set["idle-timeout"] && s.IdleTimeout > 0 {
		opts.IdleTimeout = s.IdleTimeout
	}
	if !opts.Set["input-timeout"] && s.InputTimeout > 0 {
		opts.InputTimeout = s.InputTimeout
	}
	opts.InventoryReaders = s.InventoryReaders
	if !opts.Set["public-url"] && s.PublicURL != "" {
		opts.PublicURL = s.PublicURL
	}
	opts.Consent = govern.ConsentSignin{Issuer: s.ConsentIssuer, ClientID: s.ConsentClientID, ClientSecret: s.ConsentClientSecret}
	if !opts.Set["metrics-listen"] && s.MetricsListen != "" {
		opts.MetricsListen = s.MetricsListen
	}
	if !opts.Set["trusted-proxy"] && len(s.TrustedProxies) > 0 {
		opts.trustedProxies = s.TrustedProxies
	}
	if !opts.Set["advertise-url"] && s.AdvertiseURL != "" {
		opts.AdvertiseURL = s.AdvertiseURL
	}
	if !opts.Set["otlp-traces"] && s.OTLPTraces != "" {
		opts.OTLPTraces = s.OTLPTraces
	}
	if !opts.Set["tls-cert"] && s.TLSCert != "" {
		opts.TLSCert, opts.TLSKey = s.TLSCert, s.TLSKey
	}
	if !opts.Set["replica-cert"] && s.ReplicaCert != "" {
		opts.ReplicaCert, opts.ReplicaKey = s.ReplicaCert, s.ReplicaKey
	}
	if opts.ReplicaCert != "" && opts.TLSCert == "" {
		return withHint(fmt.Errorf("replica certificate %s is set, but this replica serves plain HTTP (no tls_cert)", opts.ReplicaCert),
			"serve HTTPS with --tls-cert and --tls-key (replicas present their replica certificate to each other over https only), or drop replica_cert")
	}
	if err := checkAdvertiseScheme(opts); err != nil {
		return err
	}
	if opts.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey); err != nil {
			return withHint(fmt.Errorf("load the TLS certificate %s and key %s: %w", opts.TLSCert, opts.TLSKey, err), "give PEM files: the certificate (chain) and its unencrypted private key")
		}
	}
	opts.replicaCert, opts.replicaCAs, err = replicaTLS(opts)
	return err
}

// checkAdvertiseScheme refuses an advertised URL whose scheme is not the
// one this replica serves: the others would reach it over the other.
func checkAdvertiseScheme(opts *GatewayServeOptions) error {
	u := opts.AdvertiseURL
	switch {
	case u == "":
	case opts.TLSCert != "" && !strings.HasPrefix(u, "https://"):
		return withHint(fmt.Errorf("advertise URL %s is http://, but this replica serves HTTPS only (tls_cert)", u), "advertise the https:// URL the other replicas reach it at")
	case opts.TLSCert == "" && !strings.HasPrefix(u, "http://"):
		return withHint(fmt.Errorf("advertise URL %s is https://, but this replica serves plain HTTP (no tls_cert)", u), "advertise its http:// URL, or serve HTTPS with --tls-cert and --tls-key")
	}
	return nil
}

// checkAdvertiseStore refuses an advertised URL without the store the
// replicas share: they sign their forwards with its key.
func checkAdvertiseStore(opts *GatewayServeOptions, store bool) error {
	if opts.AdvertiseURL == "" || store {
		return nil
	}
	return withHint(fmt.Errorf("advertise URL %s is set, but no store is shared with other replicas", opts.AdvertiseURL),
		"name the replicas' store with --store or [gateway] store (they sign the retries they forward with its key), or drop advertise_url on a single gateway")
}

// replicaRoots are the roots the other replicas' certificates are checked
// against when a retry is forwarded to their https:// URLs: the system's
// and the certificates of this replica's own tls_cert (replicas share one
// certificate, or one issuer, more often than a public one); nil, the
// system's, without TLS.
func replicaRoots(opts *GatewayServeOptions) (*x509.CertPool, error) {
	if opts.TLSCert == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(opts.TLSCert)
	if err != nil {
		return nil, fmt.Errorf("read the TLS certificate %s: %w", opts.TLSCert, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, withHint(fmt.Errorf("the TLS certificate %s holds no PEM certificate", opts.TLSCert), "give the certificate (chain) in PEM")
	}
	return pool, nil
}

// replicaTLS is the mutual TLS between replicas serving HTTPS: the
// client certificate this replica presents when it forwards a retry, and
// the issuers it accepts a forwarding replica's from. Both come from one
// file, replica_cert, or tls_cert without it: the certificates in it
// (the leaf and its chain) are the issuers accepted, and the system's
// roots are not, for a public CA's would accept any certificate it
// issued for client authentication. With a tls_cert from a public CA,
// give the replicas a replica_cert from a CA of their own.
//
// A certificate that does not allow client authentication is an error
// on a replica that advertises its URL or names replica_cert: the other
// replicas would fail each of its forwards' handshakes. A tls_cert
// without it on a replica that does neither is not presented (its
// forwards are refused, and say why, on the replica that gets them).
func replicaTLS(opts *GatewayServeOptions) (*tls.Certificate, *x509.CertPool, error) {
	if opts.TLSCert == "" {
		return nil, nil, nil
	}
	certFile, keyFile, setting := opts.TLSCert, opts.TLSKey, "tls_cert"
	if opts.ReplicaCert != "" {
		certFile, keyFile, setting = opts.ReplicaCert, opts.ReplicaKey, "replica_cert"
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, withHint(fmt.Errorf("load the replica certificate %s and key %s: %w", certFile, keyFile, err), "give PEM files: the certificate (chain) and its unencrypted private key")
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read the replica certificate %s: %w", certFile, err)
	}
	cas := x509.NewCertPool()
	cas.AppendCertsFromPEM(pem)
	if err := gateway.CheckReplicaCert(&cert); err != nil {
		if opts.AdvertiseURL == "" && opts.ReplicaCert == "" {
			return nil, cas, nil
		}
		return nil, nil, withHint(fmt.Errorf("%s %s: %w", setting, certFile, err),
			"set [gateway] replica_cert and replica_key (or --replica-cert and --replica-key) to a certificate with the clientAuth extended key usage, issued by a CA the replicas share")
	}
	return &cert, cas, nil
}
