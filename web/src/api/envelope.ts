// The login envelope (密评: 口令传输机密性): the password never leaves the page in clear. It is
// encrypted with SM2 (C1C3C2, as the server expects) to the login public key together with the
// single-use nonce of a fresh challenge, so a captured ciphertext cannot be replayed.
import { sm2 } from 'sm-crypto'
import type { LoginChallenge } from './types'

export function sealPassword(password: string, challenge: LoginChallenge): string {
  return sm2.doEncrypt(JSON.stringify({ password, nonce: challenge.nonce }), challenge.public_key, 1)
}
