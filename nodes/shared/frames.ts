import type { z } from 'zod/v4';

import { READABLE_ISSUES, describeIssue } from './validation';

/** A server frame checked against a service's frame schema. */
export type ParsedFrame<Frame> = { ok: true; frame: Frame } | { ok: false; reason: string };

/** A service's frame schemas by the value of the frame's kind field (`type` unless told otherwise). */
export type FrameSchemas = Readonly<Record<string, z.ZodType>>;

/**
 * Validates a JSON frame whose kind is in its `field` (`type` by default; a service may name its
 * frames by `event`, `op`…), against the schema of that kind (a lookup, not a union that tries its
 * options). Unknown or malformed frames are reported with a
 * short reason for the log (never thrown), so the trigger skips them and goes on.
 *
 * A valid frame is handed on as it arrived, not as the schema's output: frame schemas only check
 * (they strip, and never transform or default), so fields they do not name — which go to an item's
 * `details` unvalidated — are kept without copying the frame. This is the per-frame hot path.
 */
export function parseTypedFrame<Frame>(schemas: FrameSchemas, raw: unknown, field = 'type'): ParsedFrame<Frame> {
	const type = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[field] : undefined;
	if (typeof type !== 'string') return { ok: false, reason: `frame without a known "${field}"` };
	// The kind as it came is quoted in the log line: never more than a short excerpt of it.
	const shown = type.length > 60 ? `${type.slice(0, 60)}…` : type;
	const schema = Object.prototype.hasOwnProperty.call(schemas, type) ? schemas[type] : undefined;
	if (schema === undefined) return { ok: false, reason: `frame of ${field} "${shown}": not a ${field} this trigger knows` };
	// The hot path: the schema's own rules, compiled once to plain checks (see compileCheck); zod
	// decides (and explains) whatever they do not accept.
	if (fastCheckOf(schema)?.(raw)) return { ok: true, frame: raw as Frame };
	// No parse options on the way that matters: with any, zod 4 builds a new context per parse, which
	// measured ≈3× slower for a job update. Only a frame that fails is parsed again, for its message.
	if (schema.safeParse(raw).success) return { ok: true, frame: raw as Frame };
	const result = schema.safeParse(raw, READABLE_ISSUES);
	if (result.success) return { ok: true, frame: raw as Frame };
	return { ok: false, reason: `frame of ${field} "${shown}": ${describeIssue(result.error.issues[0], 'frame')}` };
}

const skippedFrames = new WeakSet<object>();

/**
 * Whether skipping this frame is still to be logged. Triggers that share a socket each see the same
 * frame object and each skip it: one log line says it once, whatever their number.
 */
export function isFirstSkipOf(raw: unknown): boolean {
	if (typeof raw !== 'object' || raw === null) return true;
	if (skippedFrames.has(raw)) return false;
	skippedFrames.add(raw);
	return true;
}

/** The `{"type":"connected"}` greeting that Kurier and Allfeat ATS send once a socket is accepted. */
export function isConnectedFrame(raw: unknown): boolean {
	return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'connected';
}

// ---- schemas compiled to plain checks -------------------------------------------------------

/** Whether a value passes a schema; compiled from it, so it can only accept what the schema accepts. */
export type CompiledCheck = (value: unknown) => boolean;

const compiledChecks = new WeakMap<z.ZodType, CompiledCheck | null>();

function fastCheckOf(schema: z.ZodType): CompiledCheck | null {
	let check = compiledChecks.get(schema);
	if (check === undefined) {
		check = compileCheck(schema);
		compiledChecks.set(schema, check);
	}
	return check;
}

/** The parts of a zod 4 schema definition that compileCheck reads. */
interface SchemaDef {
	type: string;
	checks?: Array<{ _zod: { def: { check: string; minimum?: number; value?: number; inclusive?: boolean } } }>;
	shape?: Record<string, z.ZodType>;
	catchall?: z.ZodType;
	innerType?: z.ZodType;
	options?: z.ZodType[];
	format?: string;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/**
 * A frame schema as plain checks: zod 4 spends most of a frame's validation on its parse machinery
 * (a context, a result, issue arrays per call), and a frame arrives many thousand times a second. Only
 * the kinds of schema the protocols use are compiled: objects (extra keys allowed, as z.object and
 * z.looseObject allow them), strings with a minimum length, finite numbers with bounds, booleans,
 * literals, enums, optional, nullable, unions, unknown. Anything else (a refinement, a strict object,
 * a string format) gives null, and zod alone decides. Test: test/frames.test.ts checks that the
 * compiled check and zod agree on every frame of every protocol and thousands of broken ones.
 */
export function compileCheck(schema: z.ZodType): CompiledCheck | null {
	const internals = (schema as unknown as { _zod: { def: SchemaDef; traits?: Set<string>; values?: Set<unknown> } })._zod;
	const def = internals.def;
	// A schema that is itself a check (z.email(), z.uuid(), z.int(), z.iso.datetime()…): a format no
	// plain type test can stand for.
	if (def.format !== undefined || internals.traits?.has('$ZodCheck')) return null;
	const checks = def.checks ?? [];
	switch (def.type) {
		case 'string': {
			let minimum = 0;
			for (const { _zod } of checks) {
				if (_zod.def.check !== 'min_length' || _zod.def.minimum === undefined) return null;
				minimum = Math.max(minimum, _zod.def.minimum);
			}
			return (value) => typeof value === 'string' && value.length >= minimum;
		}
		case 'number': {
			const bounds: CompiledCheck[] = [];
			for (const { _zod } of checks) {
				const { check, value: limit, inclusive } = _zod.def;
				if (limit === undefined || (check !== 'greater_than' && check !== 'less_than')) return null;
				if (check === 'greater_than') bounds.push(inclusive ? (v) => (v as number) >= limit : (v) => (v as number) > limit);
				else bounds.push(inclusive ? (v) => (v as number) <= limit : (v) => (v as number) < limit);
			}
			if (bounds.length === 0) return (value) => typeof value === 'number' && Number.isFinite(value);
			return (value) => typeof value === 'number' && Number.isFinite(value) && bounds.every((bound) => bound(value));
		}
		case 'boolean':
			return checks.length === 0 ? (value) => typeof value === 'boolean' : null;
		case 'unknown':
		case 'any':
			return checks.length === 0 ? () => true : null;
		case 'literal':
		case 'enum': {
			// zod's own set of the values it takes (a numeric native enum's entries also hold its reverse names).
			if (checks.length > 0 || internals.values === undefined) return null;
			const allowed = new Set(internals.values);
			return (value) => allowed.has(value);
		}
		case 'optional':
		case 'nullable': {
			const innerType = def.innerType;
			const inner = innerType === undefined ? null : compileCheck(innerType);
			if (inner === null || innerType === undefined || checks.length > 0) return null;
			// nullish() is optional(nullable(x)): one closure for both, since this runs per field per frame.
			const innerDef = defOf(innerType);
			if (def.type === 'optional' && innerDef.type === 'nullable' && innerDef.innerType !== undefined && (innerDef.checks ?? []).length === 0) {
				const base = compileCheck(innerDef.innerType);
				if (base !== null) return (value) => value === undefined || value === null || base(value);
			}
			return def.type === 'optional' ? (value) => value === undefined || inner(value) : (value) => value === null || inner(value);
		}
		case 'union': {
			const options = (def.options ?? []).map(compileCheck);
			if (options.length === 0 || checks.length > 0 || options.some((option) => option === null)) return null;
			if (options.length === 2) {
				const [first, second] = options as [CompiledCheck, CompiledCheck];
				return (value) => first(value) || second(value);
			}
			return (value) => options.some((option) => option!(value));
		}
		case 'object': {
			// z.object strips unknown keys and z.looseObject keeps them: both accept them. A strict object does not.
			if (checks.length > 0 || (def.catchall !== undefined && defOf(def.catchall).type !== 'unknown')) return null;
			const fields: Array<[string, CompiledCheck]> = [];
			for (const [key, field] of Object.entries(def.shape ?? {})) {
				const check = compileCheck(field);
				if (check === null) return null;
				fields.push([key, check]);
			}
			return (value) => {
				if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
				const record = value as Record<string, unknown>;
				for (let i = 0; i < fields.length; i++) if (!fields[i][1](record[fields[i][0]])) return false;
				return true;
			};
		}
		default:
			return null;
	}
}
