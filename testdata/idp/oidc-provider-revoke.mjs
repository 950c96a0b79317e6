#!/usr/bin/env node
// A loopback OAuth authorization server for the logout tests: node
// oidc-provider with dynamic client registration (RFC 7591), refresh
// tokens, introspection (RFC 7662) and, unless REVOCATION=off, revocation
// (RFC 7009). Every authorization request is approved at once for the
// account "alice" with the scopes it asks for (no login form), so a client
// that follows the redirects gets its code. Run from a directory whose
// node_modules holds oidc-provider (the tests link .cache/oidc-provider's).
//
// It prints "issuer URL" on stdout once listening and runs until killed.
import http from 'node:http';
import Provider from 'oidc-provider';

const account = 'alice';
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [],
    scopes: ['openid', 'offline_access', 'notes:read'],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: `${id}@example.com` }) }),
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: process.env.REVOCATION !== 'off' },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error(`server_error ${err}`));
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: account, clientId: details.params.client_id });
      const missing = details.prompt.details || {};
      grant.addOIDCScope(missing.missingOIDCScope ? missing.missingOIDCScope.join(' ') : String(details.params.scope || 'openid'));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: account }, consent: { grantId } }, { mergeWithLastSubmission: false });
    } catch (err) {
      console.error(`interaction ${err}`);
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  console.log(`issuer ${issuer}`);
});
