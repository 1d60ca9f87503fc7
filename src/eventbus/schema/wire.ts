/**
 * The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then
 * the body (Avro binary, JSON text, or Protobuf message indexes + message).
 */
import { SchemaError } from '../../errors.js';

/** The magic byte every registry-framed payload starts with. */
export const MAGIC_BYTE = 0;

/** Frame a body with its schema id. */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  out.set(body, 5);
  return out;
}

/** Split framed bytes into schema id and body; a SchemaError (with the details) when they are not framed. */
export function unframe(bytes: Uint8Array): { schemaId: number; body: Buffer } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 5) {
    throw new SchemaError('', [{ path: '', message: `not registry-framed: ${buf.length} bytes, fewer than the 5 of magic byte + schema id` }]);
  }
  if (buf[0] !== MAGIC_BYTE) {
    const hex = buf[0]!.toString(16).padStart(2, '0');
    throw new SchemaError('', [{ path: '', message: `not registry-framed: wrong magic byte 0x${hex} (expected 0x00)` }]);
  }
  return { schemaId: buf.readInt32BE(1), body: buf.subarray(5) };
}
