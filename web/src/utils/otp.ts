// GM/T 0021-2012 SM3 dynamic passwords (动态口令), the same algorithm as the server
// (crates/tg-crypto/src/otp.rs): the phone in the mobile app is the user's soft token.
//
//   T  = floor(unix_seconds / period) as an 8-byte big-endian integer
//   ID = T followed by 8 zero bytes (16 bytes: no event counter, no challenge)
//   S  = SM3(K || ID), K = the raw seed (base32-decoded, RFC 4648)
//   OD = sum of the eight 32-bit big-endian words of S, mod 2^32
//   P  = OD mod 10^digits, zero-padded
import { sm3 } from 'sm-crypto'

export const OTP_PERIOD = 60
export const OTP_DIGITS = 6

/** RFC 4648 base32 decoding: case-insensitive; spaces, `-` and trailing `=` are ignored.
 *  null for any other character or an impossible length (like the server's decoder). */
export function base32Decode(input: string): Uint8Array | null {
  const s = input.replace(/[=\s]+$/, '')
  const out: number[] = []
  let buf = 0
  let bits = 0
  let n = 0
  for (const ch of s) {
    if (/\s/.test(ch) || ch === '-') continue
    const c = ch.toUpperCase()
    let v: number
    if (c >= 'A' && c <= 'Z') v = c.charCodeAt(0) - 65
    else if (c >= '2' && c <= '7') v = c.charCodeAt(0) - 50 + 26
    else return null
    n++
    buf = ((buf << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((buf >> bits) & 0xff)
      buf &= (1 << bits) - 1
    }
  }
  if ([1, 3, 6].includes(n % 8)) return null
  return Uint8Array.from(out)
}

/** The time step containing `unixSeconds`. */
export function otpStep(unixSeconds: number, period = OTP_PERIOD): number {
  return Math.floor(unixSeconds / Math.max(1, period))
}

/** Seconds left until the next step begins (1..period). */
export function otpRemaining(unixSeconds: number, period = OTP_PERIOD): number {
  const p = Math.max(1, period)
  return p - (Math.floor(unixSeconds) % p)
}

/** The SM3 dynamic password of `key` for time step `step`. */
export function sm3OtpForStep(key: ArrayLike<number>, step: number, digits = OTP_DIGITS): string {
  const d = Math.min(10, Math.max(1, digits))
  const input: number[] = Array.from(key)
  // T as a 64-bit big-endian integer (steps stay far below 2^53).
  const hi = Math.floor(step / 2 ** 32)
  const lo = step >>> 0
  input.push((hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff)
  input.push((lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff)
  // ID is right-padded with zero bytes to 128 bits.
  for (let i = 0; i < 8; i++) input.push(0)
  const s = sm3(input)
  let od = 0
  for (let i = 0; i < 64; i += 8) od = (od + parseInt(s.slice(i, i + 8), 16)) >>> 0
  const p = od % 10 ** d
  return String(p).padStart(d, '0')
}

/** The code shown at `unixSeconds`. */
export function otpCodeAt(key: ArrayLike<number>, unixSeconds: number, period = OTP_PERIOD, digits = OTP_DIGITS): string {
  return sm3OtpForStep(key, otpStep(unixSeconds, period), digits)
}

/** A soft token as the mobile page keeps it (localStorage `tg.otp.tokens`). */
export interface OtpToken {
  id: string
  /** Who the token is for (account), and who issued it, from the URI when there was one. */
  account: string
  issuer: string
  /** Base32 seed. */
  secret: string
  digits: number
  period: number
  added_at: string
}

export type ParsedToken = Omit<OtpToken, 'id' | 'added_at'>

/** Reads a `tgotp://sm3/{issuer}:{account}?secret=…&digits=6&period=60&issuer=…` URI or a bare
 *  base32 secret. Throws an Error with a Chinese message when the input is not usable. */
export function parseTokenInput(text: string, fallbackAccount = ''): ParsedToken {
  const raw = text.trim()
  if (!raw) throw new Error('请粘贴令牌地址或密钥')
  if (/^tgotp:\/\//i.test(raw)) {
    const m = /^tgotp:\/\/([^/?#]+)\/([^?#]*)\?([^#]*)$/i.exec(raw)
    if (!m) throw new Error('令牌地址格式不正确')
    if (m[1].toLowerCase() !== 'sm3') throw new Error('不支持的动态口令算法：' + m[1])
    const label = decodeComponent(m[2])
    const params = new URLSearchParams(m[3])
    const secret = (params.get('secret') ?? '').replace(/[\s-]/g, '').toUpperCase()
    if (!secret || !base32Decode(secret)?.length) throw new Error('令牌地址中的密钥无效')
    const digits = Number(params.get('digits') ?? OTP_DIGITS)
    const period = Number(params.get('period') ?? OTP_PERIOD)
    if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new Error('口令位数无效')
    if (!Number.isInteger(period) || period < 1 || period > 3600) throw new Error('口令周期无效')
    // The label is "issuer:account"; both parts are percent-encoded, so the first raw ':' separates them.
    const rawLabel = m[2]
    const sep = rawLabel.indexOf(':')
    const account = sep >= 0 ? decodeComponent(rawLabel.slice(sep + 1)) : label
    const issuer = params.get('issuer') ?? (sep >= 0 ? decodeComponent(rawLabel.slice(0, sep)) : '')
    return { account: account || fallbackAccount, issuer, secret, digits, period }
  }
  const secret = raw.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase()
  const key = base32Decode(secret)
  if (!key || key.length < 10) throw new Error('密钥无效：应为至少16位的 Base32 字符（A-Z、2-7）')
  return { account: fallbackAccount, issuer: '', secret, digits: OTP_DIGITS, period: OTP_PERIOD }
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
