// The game protocol's framing (peer/protocol.py): JSON text frames under 16 KiB; a larger
// message travels as `chunk` frames carrying base64 pieces of its UTF-8 JSON bytes. A player
// whose hello says `packed` may get a message as a `packed` frame: raw DEFLATE, base64.

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 16 * 1024;
export const CHUNK_PIECE_BYTES = 11 * 1024;
export const MAX_CHUNKS_FROM_HOST = 128;
export const MAX_CHUNKS_FROM_PLAYER = 2;
// What a packed message may inflate to: no more than chunking could carry unpacked.
export const MAX_UNPACKED_BYTES = MAX_CHUNKS_FROM_HOST * CHUNK_PIECE_BYTES;
/** This browser can inflate `packed` frames (DecompressionStream, Chromium 103+). */
export const CAN_UNPACK = typeof DecompressionStream === "function";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FrameError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Text frames for one message object: itself, or chunks when its JSON is too large. */
export function toFrames(message, chunkId, maxChunks = MAX_CHUNKS_FROM_PLAYER) {
  const text = JSON.stringify(message);
  const bytes = encoder.encode(text);
  if (bytes.length <= MAX_FRAME_BYTES) return [text];
  const count = Math.ceil(bytes.length / CHUNK_PIECE_BYTES);
  if (count > maxChunks) throw new FrameError("too_large", `message of ${bytes.length} bytes`);
  const frames = [];
  for (let index = 0; index < count; index++) {
    const piece = bytes.subarray(index * CHUNK_PIECE_BYTES, (index + 1) * CHUNK_PIECE_BYTES);
    frames.push(JSON.stringify({ type: "chunk", id: chunkId % 2 ** 31, index, count, data: toBase64(piece) }));
  }
  return frames;
}

/** Puts chunked messages back together, one at a time (the channel is ordered), bounded. */
export class Reassembler {
  constructor(maxCount = MAX_CHUNKS_FROM_HOST) {
    this.maxCount = maxCount;
    this.reset();
  }

  reset() {
    this.id = null;
    this.count = 0;
    this.pieces = [];
  }

  /** Take one chunk frame; returns the whole message's text once its last piece arrives. */
  add(chunk) {
    if (!Number.isInteger(chunk.count) || chunk.count < 1 || chunk.count > this.maxCount) {
      this.reset();
      throw new FrameError("too_large", `message split into more than ${this.maxCount} pieces`);
    }
    if (chunk.index === 0) {
      this.id = chunk.id;
      this.count = chunk.count;
      this.pieces = [];
    } else if (chunk.id !== this.id || chunk.count !== this.count) {
      this.reset();
      throw new FrameError("bad_chunk", "chunk belongs to no message in progress");
    }
    if (chunk.index !== this.pieces.length) {
      this.reset();
      throw new FrameError("bad_chunk", "chunk out of order");
    }
    try {
      this.pieces.push(fromBase64(chunk.data));
    } catch {
      this.reset();
      throw new FrameError("bad_chunk", "chunk data is not base64");
    }
    if (this.pieces.length < this.count) return null;
    const whole = joined(this.pieces, this.pieces.reduce((n, p) => n + p.length, 0));
    this.reset();
    return decoder.decode(whole);
  }
}

/**
 * Turns received frames into host messages: parses JSON, bounds sizes, reassembles chunks.
 * `receive(text)` returns a message object, or null while a chunked message is incomplete.
 */
export class FrameReader {
  constructor(maxCount = MAX_CHUNKS_FROM_HOST) {
    this.reassembler = new Reassembler(maxCount);
  }

  receive(text) {
    if (typeof text !== "string") throw new FrameError("malformed", "binary frame");
    if (encoder.encode(text).length > MAX_FRAME_BYTES) {
      throw new FrameError("too_large", `frame larger than ${MAX_FRAME_BYTES} bytes`);
    }
    const frame = parseObject(text);
    if (frame.type !== "chunk") return frame;
    const whole = this.reassembler.add(frame);
    if (whole === null) return null;
    const message = parseObject(whole);
    if (message.type === "chunk") throw new FrameError("bad_chunk", "a chunk inside a chunk");
    return message;
  }
}

function parseObject(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FrameError("malformed", `not JSON: ${err.message}`);
  }
  if (value === null || typeof value !== "object" || typeof value.type !== "string") {
    throw new FrameError("malformed", "not a tagged message");
  }
  return value;
}

/** One array of `total` bytes from the parts, in order. */
function joined(parts, total) {
  const whole = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

/** The host message inside a `packed` frame, inflated within MAX_UNPACKED_BYTES. */
export async function unpack(frame) {
  let bytes;
  try {
    bytes = fromBase64(String(frame.data));
  } catch {
    throw new FrameError("bad_packed", "packed data is not base64");
  }
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  const parts = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_UNPACKED_BYTES) {
        reader.cancel().catch(() => {});
        throw new FrameError("too_large", `packed message over ${MAX_UNPACKED_BYTES} bytes`);
      }
      parts.push(value);
    }
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError("bad_packed", `packed data is not DEFLATE: ${err.message}`);
  }
  const message = parseObject(decoder.decode(joined(parts, total)));
  if (message.type === "packed" || message.type === "chunk") {
    throw new FrameError("bad_packed", `a ${message.type} frame inside a packed frame`);
  }
  return message;
}
