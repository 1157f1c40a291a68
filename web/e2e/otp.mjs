// GM/T 0021-2012 SM3 dynamic passwords in Node, for the browser tests (the same algorithm as
// src/utils/otp.ts and the server's crates/tg-crypto/src/otp.rs), written independently of the page.
import { createRequire } from 'node:module'

const { sm3 } = createRequire(import.meta.url)('sm-crypto')

export const PERIOD = 60

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding. */
export function base32Encode(bytes) {
  let out = ''
  let buf = 0
  let bits = 0
  for (const b of bytes) {
    buf = (buf << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(buf >> bits) & 31]
    }
    buf &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(buf << (5 - bits)) & 31]
  return out
}

export function base32Decode(s) {
  const clean = s.replace(/[\s=-]/g, '').toUpperCase()
  const out = []
  let buf = 0
  let bits = 0
  for (const c of clean) {
    const v = ALPHABET.indexOf(c)
    if (v < 0) throw new Error(`not base32: ${c}`)
    buf = (buf << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((buf >> bits) & 0xff)
      buf &= (1 << bits) - 1
    }
  }
  return Buffer.from(out)
}

/** The step containing a Unix time in seconds. */
export function stepAt(unixSeconds) {
  return Math.floor(unixSeconds / PERIOD)
}

/** The 6-digit code of a raw key for a time step: SM3(K || T(8 bytes BE) || 8 zero bytes), word sum mod 10^6. */
export function codeForStep(key, step) {
  const id = Buffer.alloc(16)
  id.writeBigUInt64BE(BigInt(step), 0)
  const digest = Buffer.from(sm3([...key, ...id]), 'hex')
  let od = 0
  for (let i = 0; i < 32; i += 4) od = (od + digest.readUInt32BE(i)) >>> 0
  return String(od % 1_000_000).padStart(6, '0')
}

/** The code of a base32 secret at a Unix time in seconds (now by default). */
export function codeAt(secret, unixSeconds = Date.now() / 1000) {
  return codeForStep(base32Decode(secret), stepAt(unixSeconds))
}
