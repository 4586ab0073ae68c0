// The OpenID provider of the professional portal's tests: oidc-provider (OpenID Certified),
// on the loopback interface, with one confidential client and the accounts the test gives.
// PKCE (S256) is required of every client. The development login pages stand for the CPS /
// e-CPS login of Pro Santé Connect: any login typed names an account of OIDC_ACCOUNTS.
//
// Environment: OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
// OIDC_ACCOUNTS (JSON: {"<sub>": {<claims>}}). Prints "ready <issuer>" once listening.
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || "{}");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  scopes: ["openid", "scope_all"],
  claims: {
    openid: ["sub"],
    scope_all: ["SubjectNameID", "SubjectRole", "given_name", "family_name"],
  },
  cookies: { keys: ["test-only-cookie-key-of-the-loopback-provider"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});
provider.proxy = false;
// The development pages warn on every start; the tests read stdout for "ready" only.
process.on("warning", () => {});
provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(`ready ${issuer}\n`);
});
