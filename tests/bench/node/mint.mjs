// make bench, variant 4: an installation token the way the KMS-based GitHub
// App token actions mint one in Node.js: @aws-sdk/client-kms signs the JWT,
// fetch exchanges it at GitHub. Settings come from the same environment the
// component reads; the token is printed alone on stdout.
import { KMSClient, SignCommand } from "@aws-sdk/client-kms";

const env = process.env;
const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

const now = Math.floor(Date.now() / 1000);
const iss = /^\d+$/.test(env.APP_ID) ? Number(env.APP_ID) : env.APP_ID;
const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
const claims = base64url(JSON.stringify({ iat: now - 60, exp: now + 540, iss }));
const signingInput = `${header}.${claims}`;

const kms = new KMSClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_KMS });
const { Signature } = await kms.send(
  new SignCommand({
    KeyId: env.KMS_KEY_ID,
    Message: Buffer.from(signingInput),
    MessageType: "RAW",
    SigningAlgorithm: "RSASSA_PKCS1_V1_5_SHA_256",
  }),
);
const jwt = `${signingInput}.${base64url(Signature)}`;

const answer = await fetch(`${env.GITHUB_API_URL}/app/installations/${env.INSTALLATION_ID}/access_tokens`, {
  method: "POST",
  headers: {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${jwt}`,
    "user-agent": "bench-node",
    "x-github-api-version": "2022-11-28",
  },
  body: "{}",
});
if (answer.status !== 201) {
  console.error(`GitHub answered ${answer.status}`);
  process.exit(1);
}
process.stdout.write(`${(await answer.json()).token}\n`);
