// Decoding and checking admin request bodies: one JSON object whose fields are
// all known and of the declared type. Anything else is a coded 400, never a throw
// that reaches uWS.
import { ErrorCode, PegasusError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

const U32_MAX = 0xffff_ffff;

/** The body as a JSON object; an empty body is {}. MALFORMED_FRAME when not JSON, INVALID_ARGUMENT when not an object. */
export function parseJsonObject(body: Buffer): JsonObject {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PegasusError(ErrorCode.MALFORMED_FRAME, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, 'request body must be a JSON object');
  }
  return value as JsonObject;
}

/** INVALID_ARGUMENT naming the first field not in `known`. */
export function onlyFields(obj: JsonObject, known: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `unknown field ${JSON.stringify(k.slice(0, 64))}; known: ${known.join(', ') || 'none'}`);
  }
}

function wrongType(key: string, want: string, got: unknown): PegasusError {
  return new PegasusError(ErrorCode.INVALID_ARGUMENT, `field ${key} must be ${want}, got ${JSON.stringify(got)?.slice(0, 64) ?? typeof got}`);
}

export function optionalBool(obj: JsonObject, key: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw wrongType(key, 'true or false', v);
  return v;
}

export function optionalString(obj: JsonObject, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw wrongType(key, 'a string', v);
  return v;
}

export function optionalU32(obj: JsonObject, key: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) throw wrongType(key, `an integer in 0..${U32_MAX}`, v);
  return v;
}

/** A shuffle id from a URL path segment: plain decimal u32. */
export function parseShuffleIdParam(raw: string): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(raw) || Number(raw) > U32_MAX) {
    throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `shuffle id ${JSON.stringify(raw.slice(0, 32))} is not an integer in 0..${U32_MAX}`);
  }
  return Number(raw);
}
