// Prints a session token for an account, signing in as the web page does: SM2 envelope of the password
// and a server nonce, then — for accounts that need the second factor — binding a soft token and
// stepping up with a GM/T 0021 SM3 dynamic password. Used by scripts/test.sh for the schemathesis run.
//   node scripts/api-token.mjs http://127.0.0.1:18080 sysadmin Demo@12345
import { createRequire } from 'node:module'
import { base32Decode, codeForStep, stepAt } from '../e2e/otp.mjs'

const { sm2 } = createRequire(import.meta.url)('sm-crypto')
const [base, username, password] = process.argv.slice(2)
if (!base || !username || !password) {
  console.error('usage: node scripts/api-token.mjs BASE_URL USERNAME PASSWORD')
  process.exit(2)
}

async function call(method, path, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json().catch(() => null)
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

const ch = await call('GET', '/api/v1/auth/challenge')
const cipher = sm2.doEncrypt(JSON.stringify({ password, nonce: ch.nonce }), ch.public_key, 1)
let session = await call('POST', '/api/v1/auth/login', { username, cipher })
if (session.user.mfa_required && session.user.aal < 2) {
  if (session.user.mfa_enrolled) throw new Error(`${username} already has a token; use a fresh server`)
  const enrol = await call('POST', '/api/v1/auth/mfa/enroll', {}, session.token)
  const code = codeForStep(base32Decode(enrol.secret), stepAt(Date.now() / 1000))
  session = await call('POST', '/api/v1/auth/mfa/verify', { code }, session.token)
}
process.stdout.write(session.token)
