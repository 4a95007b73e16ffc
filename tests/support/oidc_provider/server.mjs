// A real OpenID provider for the tests (panva's oidc-provider, certified), on 127.0.0.1.
// Started by tests/support/oidc.py. Configuration through the environment:
//   OP_PORT           port to listen on (0: any free port; the chosen one is printed)
//   OP_USERS_FILE     JSON {accountId: {preferred_username, email, groups: [...]}} re-read at every lookup,
//                     so a test changes a person's groups at the provider by rewriting it
//   OP_CLIENTS_FILE   JSON [client metadata, ...]; a client may carry "groups" (service accounts)
//   OP_API_AUDIENCE   the resource (audience) client-credentials access tokens are issued for by default
// Prints "READY <issuer>" on stdout once it listens.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const clients = readJson(process.env.OP_CLIENTS_FILE);
const apiAudience = process.env.OP_API_AUDIENCE;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', alg: 'RS256', use: 'sig' };

const server = createServer();
server.listen(Number(process.env.OP_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const groupsOfClient = (clientId) => (clients.find((c) => c.client_id === clientId) || {}).groups || [];

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [jwk] },
    cookies: { keys: ['lineage-ledger-test-cookie-key'] },
    extraClientMetadata: { properties: ['groups'] },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
      groups: ['groups'],
    },
    // Claims asked for by scope go to the ID token as well as to userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx) => (ctx.oidc.params && ctx.oidc.params.grant_type === 'client_credentials' ? apiAudience : undefined),
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resource) => ({
          scope: 'api',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind === 'ClientCredentials') return { groups: groupsOfClient(token.clientId) };
      return undefined;
    },
    // First-party application: no consent screen, the requested scopes are granted.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
    async findAccount(ctx, id) {
      const person = readJson(process.env.OP_USERS_FILE)[id];
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...person };
        },
      };
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`READY ${issuer}\n`);
});
