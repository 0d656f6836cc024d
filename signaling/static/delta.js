// View deltas (peer/protocol.py ViewDelta), applied exactly as peer/view_delta.py does.
// After its welcome a player gets one whole `view`, then `delta`s {seq, base, set, items,
// deadline_ms}: `set[name]` replaces a whole field; `items[name]` is a list of [index, value]
// applied in order: inside the list, an object entry and an object value merge (only the
// changed keys are sent), anything else replaces; at the list's length the value is
// appended; further out is an error. Every rebuilt view is then checked against the
// PlayerView schema (view-schema.js, generated from game/views.py), as the Python
// apply_delta ends with msgspec.convert(view, PlayerView): a delta that does not fit is
// refused, never half-applied. A refused delta, or one whose `base` is not the last `seq`
// applied (a lost frame), makes the caller send `resync` and wait for a whole view.

import { VIEW_SCHEMA } from "./view-schema.js";

export class DeltaError extends Error {
  constructor(message) {
    super(message);
    this.name = "DeltaError";
  }
}

// peer/protocol.py: FieldName (1..32 characters), MAX_DELTA_FIELDS, MAX_DELTA_ITEMS, Millis.
const MAX_FIELD_NAME = 32;
const MAX_DELTA_FIELDS = 64;
const MAX_DELTA_ITEMS = 1000;
const MAX_MILLIS = 2 ** 53;

const own = (obj, name) => Object.prototype.hasOwnProperty.call(obj, name);
const isPlainObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// ---- the PlayerView schema, checked as msgspec.convert checks it ------------------------

// The names msgspec uses in its messages ("Expected `int`, got `str` - at `$.coins`").
function got(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "str";
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(value) ? "int" : "float";
    default:
      return typeof value === "object" ? "object" : typeof value;
  }
}
const EXPECTED = { integer: "int", number: "float", string: "str", boolean: "bool", null: "null", array: "array", object: "object" };
const KNOWN_KEYWORDS = new Set(["type", "properties", "required", "items", "enum", "anyOf", "$ref", "default"]);

class Invalid extends Error {
  constructor(message, path) {
    super(`${message} - at \`${path}\``);
  }
}

function resolve(schema) {
  if (!own(schema, "$ref")) return schema;
  const name = schema.$ref.replace("#/$defs/", "");
  if (!own(VIEW_SCHEMA.$defs, name)) throw new Error(`view-schema.js: no definition ${name}`);
  return VIEW_SCHEMA.$defs[name];
}

// The JSON kind a (resolved) schema accepts, for messages and for picking an anyOf branch.
function expects(schema) {
  const s = resolve(schema);
  if (own(s, "enum")) return "str";
  if (own(s, "anyOf")) return s.anyOf.map(expects).join(" | ");
  return EXPECTED[s.type];
}

function accepts(schema, value) {
  const kind = got(value);
  const want = expects(schema);
  return want === kind || (want === "float" && kind === "int");
}

/**
 * `value` converted as msgspec.convert(value, <schema>) would: a fresh copy with unknown
 * object keys dropped and missing defaults filled in; throws Invalid with msgspec's message.
 */
function convert(schema, value, path) {
  const s = resolve(schema);
  for (const key of Object.keys(s)) {
    if (!KNOWN_KEYWORDS.has(key)) throw new Error(`view-schema.js: unsupported keyword ${key}`);
  }
  if (own(s, "anyOf")) {
    const branch = s.anyOf.find((option) => accepts(option, value));
    if (!branch) throw new Invalid(`Expected \`${expects(s)}\`, got \`${got(value)}\``, path);
    return convert(branch, value, path);
  }
  if (own(s, "enum")) {
    if (typeof value !== "string") throw new Invalid(`Expected \`str\`, got \`${got(value)}\``, path);
    if (!s.enum.includes(value)) throw new Invalid(`Invalid enum value '${value}'`, path);
    return value;
  }
  if (!accepts(s, value)) throw new Invalid(`Expected \`${expects(s)}\`, got \`${got(value)}\``, path);
  if (s.type === "array") return value.map((entry, i) => convert(s.items, entry, `${path}[${i}]`));
  if (s.type !== "object") return value;
  const out = {};
  for (const [name, field] of Object.entries(s.properties)) {
    if (own(value, name)) out[name] = convert(field, value[name], `${path}.${name}`);
    else if (s.required.includes(name)) throw new Invalid(`Object missing required field \`${name}\``, path);
    else out[name] = structuredClone(resolve(field).default);
  }
  return out; // keys the schema does not name are dropped, as msgspec ignores them
}

/** `view` as a validated PlayerView (a fresh copy), or DeltaError with msgspec's message. */
export function checkView(view) {
  try {
    return convert(VIEW_SCHEMA, view, "$");
  } catch (err) {
    if (err instanceof Invalid) throw new DeltaError(err.message);
    throw err;
  }
}

// ---- the delta frame, checked as peer/protocol.py's decoder checks a ViewDelta -----------

const isCount = (value, max) => Number.isInteger(value) && value >= 0 && value <= max;

function checkNames(frame, key) {
  if (!own(frame, key)) return {};
  const value = frame[key];
  if (!isPlainObject(value)) throw new DeltaError(`malformed delta: '${key}' is not an object`);
  const names = Object.keys(value);
  if (names.length > MAX_DELTA_FIELDS) throw new DeltaError(`malformed delta: over ${MAX_DELTA_FIELDS} fields in '${key}'`);
  for (const name of names) {
    const length = [...name].length;
    if (length < 1 || length > MAX_FIELD_NAME) throw new DeltaError(`malformed delta: bad field name in '${key}'`);
  }
  return value;
}

/** A `delta` frame's {seq, base, set, items, deadline_ms} checked; throws DeltaError. */
export function checkDeltaFrame(frame) {
  if (!isPlainObject(frame)) throw new DeltaError("malformed delta: not an object");
  if (!isCount(frame.seq, Number.MAX_SAFE_INTEGER) || !isCount(frame.base, Number.MAX_SAFE_INTEGER)) {
    throw new DeltaError("malformed delta: seq and base must be integers >= 0");
  }
  if (own(frame, "deadline_ms") && frame.deadline_ms !== null && !isCount(frame.deadline_ms, MAX_MILLIS)) {
    throw new DeltaError("malformed delta: bad deadline_ms");
  }
  const set = checkNames(frame, "set");
  const items = checkNames(frame, "items");
  for (const [name, entries] of Object.entries(items)) {
    if (!Array.isArray(entries)) throw new DeltaError(`malformed delta: entries of '${name}' are not a list`);
    if (entries.length > MAX_DELTA_ITEMS) throw new DeltaError(`malformed delta: over ${MAX_DELTA_ITEMS} entries in '${name}'`);
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2 || !Number.isInteger(entry[0])) {
        throw new DeltaError(`malformed delta: an entry of '${name}' is not [index, value]`);
      }
    }
  }
  return { set, items };
}

// ---- applying ---------------------------------------------------------------------------

/**
 * The view `current` with the delta applied and validated: a new object (the UI compares
 * the old view with the new one); `current` itself is never changed, even by a refused
 * delta. Throws DeltaError where the Python apply_delta raises, with the same messages.
 */
export function applyDelta(current, set = {}, items = {}) {
  if (!isPlainObject(current)) throw new DeltaError("no view to apply a delta to");
  const next = { ...current };
  for (const [name, value] of Object.entries(set)) {
    if (!own(current, name)) throw new DeltaError(`unknown view field '${name}'`);
    next[name] = value;
  }
  for (const [name, entries] of Object.entries(items)) {
    const target = own(next, name) ? next[name] : undefined;
    if (!Array.isArray(target)) throw new DeltaError(`view field '${name}' is not a list`);
    const list = [...target]; // a copy: never change `current` (or the frame) in place
    for (const [index, value] of entries) {
      if (index >= 0 && index < list.length) {
        // Spread, not Object.assign: a "__proto__" key stays a plain (dropped) key.
        list[index] = isPlainObject(list[index]) && isPlainObject(value) ? { ...list[index], ...value } : value;
      } else if (index === list.length) {
        list.push(value);
      } else {
        throw new DeltaError(`index ${index} outside '${name}'`);
      }
    }
    next[name] = list;
  }
  return checkView(next);
}

/** One connection's view stream (peer/view_delta.py ViewTracker): whole views and deltas. */
export class ViewTracker {
  constructor() {
    this.reset();
  }

  /** A new connection: nothing to apply deltas to until its whole view arrives. */
  reset() {
    this.view = null;
    this.seq = -1;
  }

  /** A `view` frame: the whole view, validated; returns it (DeltaError if it is not one). */
  full(frame) {
    if (!isPlainObject(frame) || !isCount(frame.seq, Number.MAX_SAFE_INTEGER)) throw new DeltaError("malformed view frame");
    this.view = checkView(frame.view);
    this.seq = frame.seq;
    return this.view;
  }

  /** A `delta` frame: returns the new whole view, or throws DeltaError (send `resync`). */
  delta(frame) {
    const { set, items } = checkDeltaFrame(frame);
    if (this.view === null || frame.base !== this.seq) {
      throw new DeltaError(`delta on view ${frame.base}, but the last one is ${this.seq}`);
    }
    this.view = applyDelta(this.view, set, items);
    this.seq = frame.seq;
    return this.view;
  }
}
