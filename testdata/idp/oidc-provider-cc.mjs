#!/usr/bin/env node
// A loopback OAuth authorization server for the client-credentials tests
// (Dex v2.45 has no client_credentials grant): node oidc-provider with one
// confidential client allowed that grant only, issuing JWT access tokens
// for the resource https://notes.example. Installed by `make e2e-deps` as
// .cache/oidc-provider/bin/oidc-provider-cc.
//
// Environment: CC_CLIENT_ID, CC_CLIENT_SECRET. It prints "issuer URL" on
// stdout once listening and "token N" after every token it issued, and
// runs until killed.
import http from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.CC_CLIENT_ID;
const clientSecret = process.env.CC_CLIENT_SECRET;
if (!clientId || !clientSecret) {
  console.error('oidc-provider-cc: set CC_CLIENT_ID and CC_CLIENT_SECRET');
  process.exit(2);
}
const resource = 'https://notes.example';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret,
      grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    scopes: ['notes:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new Error('unknown resource');
          return { scope: 'notes:read', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 3600 };
        },
      },
    },
  });
  let issued = 0;
  provider.on('grant.success', () => { issued++; console.log(`token ${issued}`); });
  server.on('request', provider.callback());
  console.log(`issuer ${issuer}`);
});
