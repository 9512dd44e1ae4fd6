// ULIDs for audit record ids: 48-bit millisecond time + 80 random bits, Crockford base32,
// monotonic within one millisecond so ids sort in write order.
import crypto from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TWO_POW_40 = 2 ** 40;

let lastTime = -1;
/** The encoded time of `lastTime`: a busy server writes many records per millisecond. */
let lastTimeText = '';
/** The 80 random bits as two 40-bit halves (exact in a double), so incrementing is arithmetic. */
let randomHigh = 0;
let randomLow = 0;
const randomBytes = new Uint8Array(10);

/** `value` (< 32^length) as `length` base32 digits, most significant first. */
function encode(value: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 32]! + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** Every 10-bit value as two digits: a 40-bit half is four look-ups instead of eight. */
const PAIRS = Array.from({ length: 1024 }, (_, i) => ALPHABET[i >> 5]! + ALPHABET[i & 31]!);

/** A 40-bit value as 8 base32 digits. */
function encode40(value: number): string {
  const high = Math.floor(value / 2 ** 20);
  const low = value % 2 ** 20;
  return PAIRS[high >> 10]! + PAIRS[high & 1023]! + PAIRS[low >> 10]! + PAIRS[low & 1023]!;
}

/** Five bytes from `offset` as one 40-bit number. */
function uint40(bytes: Uint8Array, offset: number): number {
  const low32 = ((bytes[offset + 1]! << 24) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 8) | bytes[offset + 4]!) >>> 0;
  return bytes[offset]! * 2 ** 32 + low32;
}

export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same (or earlier) millisecond: increment the random part to stay monotonic.
    randomLow++;
    if (randomLow === TWO_POW_40) {
      randomLow = 0;
      randomHigh = (randomHigh + 1) % TWO_POW_40;
    }
  } else {
    crypto.randomFillSync(randomBytes);
    randomHigh = uint40(randomBytes, 0);
    randomLow = uint40(randomBytes, 5);
    lastTime = now;
    lastTimeText = encode(now, 10);
  }
  return lastTimeText + encode40(randomHigh) + encode40(randomLow);
}
