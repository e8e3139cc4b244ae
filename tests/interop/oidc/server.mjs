// A real third-party OpenID provider (npm oidc-provider) for d365conn's auth interop tests.
//
// Usage: node server.mjs <config.json>
// The config names the TLS key/certificate (signed by a test CA), the client, its secret, the
// API resource and token lifetime. The server listens over TLS on a free loopback port and prints
// one JSON line {"issuer": ..., "port": ...} on stdout when it is ready.
// Sign-in and consent are approved automatically (a fixed test user), so the authorization-code
// flow can be driven by an HTTP client without a human.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tls = { key: readFileSync(config.key), cert: readFileSync(config.cert) };
const server = https.createServer(tls);

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
// MSAL wants an authority with at least one path segment: the provider is mounted at /oidc.
const mount = '/oidc';
const issuer = `https://127.0.0.1:${port}${mount}`;
const resource = config.resource;
const user = config.user;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    application_type: 'native', // loopback redirect URIs on any port (RFC 8252)
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback'],
    token_endpoint_auth_method: config.client_auth || 'client_secret_post',
  }, {
    // Certificate credentials: the client signs a JWT assertion with the key whose public half is here.
    client_id: `${config.client_id}-cert`,
    application_type: 'native',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: config.cert_jwks,
  }],
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: user, name: 'Interop User', email: user };
      },
    };
  },
  cookies: { keys: ['d365conn-interop-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: `${resource}/.default ${resource}/user_impersonation`,
        accessTokenFormat: 'jwt',
        accessTokenTTL: config.token_ttl,
      }),
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  rotateRefreshToken: () => true, // like Entra: every refresh returns a new refresh token
  // oidc-provider honours offline_access only with prompt=consent; Entra issues refresh tokens
  // whenever the app may use them, which is what the driver relies on.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => false },
  ttl: { AccessToken: config.token_ttl, ClientCredentials: config.token_ttl },
});
provider.proxy = false;

// Approve sign-in and consent at once for the fixed test user.
async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === 'login') {
      result = { login: { accountId: 'interop-user' } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err && err.message));
  }
}

const handler = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res);
  } else if (req.url === mount || req.url.startsWith(`${mount}/`) || req.url.startsWith(`${mount}?`)) {
    let url = req.url.slice(mount.length) || '/';
    // oidc-provider grants offline_access only with prompt=consent; Entra grants it whenever it is
    // asked for. Authorization requests without a prompt get prompt=consent (approved at once below).
    if (url.startsWith('/auth?') && !/[?&]prompt=/.test(url)) url += '&prompt=consent';
    req.originalUrl = mount + url; // the provider derives its mount path from originalUrl vs url
    req.url = url;
    handler(req, res);
  } else {
    res.statusCode = 404;
    res.end();
  }
});

process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
