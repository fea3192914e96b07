import type { z } from 'zod/v4';

import { READABLE_ISSUES, describeIssue } from './validation';

/** A server frame checked against a service's frame schema. */
export type ParsedFrame<Frame> = { ok: true; frame: Frame } | { ok: false; reason: string };

/** A service's frame schemas by the value of the frame's `type` field. */
export type FrameSchemas = Readonly<Record<string, z.ZodType>>;

/**
 * Validates a JSON frame whose kind is in its `type` field, against the schema of that type (a
 * lookup, not a union that tries its options). Unknown or malformed frames are reported with a
 * short reason for the log (never thrown), so the trigger skips them and goes on.
 *
 * A valid frame is handed on as it arrived, not as the schema's output: frame schemas only check
 * (they strip, and never transform or default), so fields they do not name — which go to an item's
 * `details` unvalidated — are kept without copying the frame. This is the per-frame hot path.
 */
export function parseTypedFrame<Frame>(schemas: FrameSchemas, raw: unknown): ParsedFrame<Frame> {
	const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
	if (typeof type !== 'string') return { ok: false, reason: 'frame without a known "type"' };
	const schema = Object.prototype.hasOwnProperty.call(schemas, type) ? schemas[type] : undefined;
	if (schema === undefined) return { ok: false, reason: `frame of type "${type}": not a type this trigger knows` };
	// No parse options on the way that matters: with any, zod 4 builds a new context per parse, which
	// measured ≈3× slower for a job update. Only a frame that fails is parsed again, for its message.
	if (schema.safeParse(raw).success) return { ok: true, frame: raw as Frame };
	const result = schema.safeParse(raw, READABLE_ISSUES);
	if (result.success) return { ok: true, frame: raw as Frame };
	return { ok: false, reason: `frame of type "${type}": ${describeIssue(result.error.issues[0], 'frame')}` };
}

/** The `{"type":"connected"}` greeting that Kurier and Allfeat ATS send once a socket is accepted. */
export function isConnectedFrame(raw: unknown): boolean {
	return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'connected';
}
