import type { ZodType } from 'zod';

/** A server frame checked against a service's frame schema. */
export type ParsedFrame<Frame> = { ok: true; frame: Frame } | { ok: false; reason: string };

/**
 * Validates a JSON frame whose kind is in its `type` field. Unknown or malformed frames are
 * reported with a short reason for the log (never thrown), so the trigger skips them and goes on.
 */
export function parseTypedFrame<Frame>(schema: ZodType<Frame>, raw: unknown): ParsedFrame<Frame> {
	const result = schema.safeParse(raw);
	if (result.success) return { ok: true, frame: result.data };
	const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
	if (typeof type !== 'string') return { ok: false, reason: 'frame without a known "type"' };
	const issue = result.error.issues[0];
	return { ok: false, reason: `frame of type "${type}": ${issue?.path.join('.') || 'frame'} ${issue?.message ?? ''}`.trim() };
}

/** The `{"type":"connected"}` greeting that Kurier and Allfeat ATS send once a socket is accepted. */
export function isConnectedFrame(raw: unknown): boolean {
	return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'connected';
}
