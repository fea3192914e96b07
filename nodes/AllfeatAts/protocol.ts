import { z } from 'zod/v4';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { PhaseTable, detailsWithout, numberOrNull, stringOrNull, toIsoTimestamp } from '../shared/NormalizedItem';
import { parseTypedFrame } from '../shared/frames';
import type { FrameSchemas, ParsedFrame } from '../shared/frames';

/**
 * Allfeat ATS (Allfeat Time-Stamp) tracking protocol: the transaction resource, the WebSocket
 * frames, the signed webhook payloads, the step table and the normalizer. No n8n types here.
 * Sources: ../shared/api/allfeat-ats-tracking-source.txt and Part B of tachyon-and-allfeat.md
 * (labels CONFIRMED / INFERRED). Every schema passes unknown fields through. Schemas are zod 4
 * (`zod/v4`, shipped inside the zod 3.25 package), which parses several times faster than zod 3.
 */

/**
 * The documented hosts. The API quick-start and its polling example read `/v1/transactions/{id}` on
 * the Organizations API host; the widget docs name the ATS host as `ats-url` (tracking URLs are
 * resolved on it). The first serves tracking in the API docs, so it is the default.
 */
export const ALLFEAT_ORGANIZATIONS_HOST = 'https://organizations.api.allfeat.org';
export const ALLFEAT_ATS_HOST = 'https://ats.api.allfeat.org';
export const ALLFEAT_DEFAULT_BASE_URL = ALLFEAT_ORGANIZATIONS_HOST;

/**
 * The documented B2B key form (authentication.mdx): `afo_sk_live_` + 48 hex. Only the `afo_sk_`
 * family is required here, so another environment word or length still passes; a widget key
 * (`cpk_…`, `csk_…`) or a pasted webhook secret does not.
 */
export function isOrganizationApiKey(key: string): boolean {
	return /^afo_sk_[A-Za-z0-9_]+$/.test(key);
}

// ---- step table ---------------------------------------------------------------------------

export const ALLFEAT_PHASES = new PhaseTable({
	pending: ['validating', 'preparing_transaction', 'signing', 'submitting', 'transferring_tokens', 'confirming'],
	retrying: [],
	succeeded: ['completed'],
	failed: ['failed'],
});

/** Status of the one item emitted for a transaction id the service does not know (not a service step). */
export const NOT_FOUND_STATUS = 'not_found';

/**
 * Steps only move forward, so a step ranked below one already seen is a late frame. `failed` can
 * follow any step. `transferring_tokens` has no rank on purpose: the public docs do not list it and
 * the widget source puts it right after `validating` while the issue lists it after `submitting`;
 * unranked, it is still emitted once but never refused for its position.
 */
const STEP_RANK: Record<string, number> = {
	validating: 0,
	preparing_transaction: 1,
	signing: 2,
	submitting: 3,
	confirming: 4,
	completed: 5,
	failed: 6,
};

export function allfeatStepRank(step: string): number | undefined {
	return STEP_RANK[step];
}

export function isFinalStep(step: string): boolean {
	return ALLFEAT_PHASES.isFinalPhase(ALLFEAT_PHASES.phaseOf(step));
}

// ---- REST: GET /v1/transactions/{id} --------------------------------------------------------

const timestampSchema = z.union([z.string(), z.number()]);

export const stepRecordSchema = z.looseObject({
	step: z.string().min(1),
	progress: z.number().nullish(),
	description: z.string().nullish(),
	timestamp: timestampSchema.nullish(),
});

/**
 * The terminal `result` (REST) and the terminal frame's `details` (widget `WsStepDetails`) share these
 * fields. `error` is a string in the widget and could be the unified `{code, message}` envelope: both
 * are accepted. `ats_id` is a number in the docs; a string is accepted too.
 */
const outcomeItemFields = {
	tx_hash: z.string().nullish(),
	block_number: z.union([z.number(), z.string()]).nullish(),
	block_hash: z.string().nullish(),
	explorer_url: z.string().nullish(),
	error: z.unknown().optional(),
};
export const outcomeSchema = z.looseObject({
	...outcomeItemFields,
	success: z.boolean().nullish(),
	ats_id: z.union([z.number(), z.string()]).nullish(),
	work_id: z.string().nullish(),
	access_code: z.string().nullish(),
});
export type AllfeatOutcome = z.infer<typeof outcomeSchema>;

/** History entries that do not have a step name are dropped rather than failing the whole read. */
const stepHistorySchema = z
	.array(z.unknown())
	.nullish()
	.transform((entries) =>
		(entries ?? []).flatMap((entry) => {
			const parsed = stepRecordSchema.safeParse(entry);
			return parsed.success ? [parsed.data] : [];
		}),
	);

export const transactionSchema = z.looseObject({
	id: z.string().nullish(),
	transaction_type: z.string().nullish(),
	current_step: z.string().min(1),
	progress: z.number().nullish(),
	description: z.string().nullish(),
	is_complete: z.boolean().nullish(),
	result: outcomeSchema.nullish(),
	steps: stepHistorySchema,
	created_at: z.string().nullish(),
	updated_at: z.string().nullish(),
});
export type AllfeatTransaction = z.infer<typeof transactionSchema>;

/** A step transition, wherever it was learnt (REST history or an `update` frame). */
export interface StepEvent {
	step: string;
	progress?: number | null;
	description?: string | null;
	timestamp?: string | number | null;
	/** Terminal outcome (tx hash, ats_id… or the error); only meaningful on `completed`/`failed`. */
	outcome?: AllfeatOutcome | null;
}

/**
 * The transaction's steps in history order. The current step is appended when the history does not
 * list it (the docs show it listed; a server that only fills `steps` for past steps still works).
 * The terminal outcome is attached to the final step.
 */
export function stepEventsOf(transaction: AllfeatTransaction): StepEvent[] {
	const events: StepEvent[] = transaction.steps.map((record) => ({ ...record }));
	if (!events.some((event) => event.step === transaction.current_step)) {
		events.push({
			step: transaction.current_step,
			progress: transaction.progress,
			description: transaction.description,
			timestamp: transaction.updated_at,
		});
	}
	for (const event of events) if (isFinalStep(event.step)) event.outcome = transaction.result;
	return events;
}

// ---- WebSocket: server → client (the channel is read-only) ---------------------------------

// Frame schemas check and do not copy: parseServerFrame hands on the frame as it arrived (see
// parseTypedFrame). What they do not name passes through unvalidated: in an update's `details`, the
// outcome fields the item does not read (`ats_id`, `work_id`, `access_code`, `success`…) go to the
// item's `details` as the service sent them.
const errorBodySchema = z.object({ code: z.string().nullish(), message: z.string().nullish() });

const connectedFrame = z.object({ type: z.literal('connected'), transaction_id: z.string().optional() });
const updateFrame = z.object({
	type: z.literal('update'),
	step: z.string().min(1),
	progress: z.number().nullish(),
	description: z.string().nullish(),
	timestamp: timestampSchema.nullish(),
	details: z.object(outcomeItemFields).nullish(),
});
// Docs: `error: {code, message, details, request_id}`; the widget reads a top-level `message`. Both accepted.
const errorFrame = z.object({
	type: z.literal('error'),
	error: z.union([errorBodySchema, z.string()]).nullish(),
	code: z.string().nullish(),
	message: z.string().nullish(),
});
// Only an older widget client knows this frame; kept so an unknown id is recognised either way.
const notFoundFrame = z.object({ type: z.literal('not_found'), message: z.string().nullish() });

export const serverFrameSchema = z.discriminatedUnion('type', [connectedFrame, updateFrame, errorFrame, notFoundFrame]);
/** A checked frame as it arrived: an update's `details` also holds the outcome's unvalidated fields. */
export type AllfeatServerFrame =
	| Exclude<z.infer<typeof serverFrameSchema>, { type: 'update' }>
	| (Omit<z.infer<typeof updateFrame>, 'details'> & { details?: AllfeatOutcome | null });
export type AllfeatErrorFrame = z.infer<typeof errorFrame>;

const SERVER_FRAMES: FrameSchemas = { connected: connectedFrame, update: updateFrame, error: errorFrame, not_found: notFoundFrame };

/** Validates a JSON frame from the server; unknown or malformed frames are reported, never thrown. */
export function parseServerFrame(raw: unknown): ParsedFrame<AllfeatServerFrame> {
	return parseTypedFrame<AllfeatServerFrame>(SERVER_FRAMES, raw);
}

export function describeErrorFrame(frame: AllfeatErrorFrame): { code: string | null; message: string } {
	const body = typeof frame.error === 'object' && frame.error !== null ? frame.error : null;
	const code = body?.code ?? frame.code ?? null;
	const message = body?.message ?? (typeof frame.error === 'string' ? frame.error : null) ?? frame.message ?? 'no message';
	return { code, message };
}

/**
 * How the server says "unknown transaction" on the socket is not documented (open question 13):
 * the unified error codes use `common.not_found`, the widget's enum `NOT_FOUND`. Any code or message
 * that says "not found" counts.
 */
export function isNotFoundError(code: string | null, message: string): boolean {
	return /not[\s._-]?found/i.test(code ?? '') || /not[\s_-]?found/i.test(message);
}

/** A terminal frame that already carries what the item needs; otherwise REST is asked for `result`. */
export function hasOutcome(event: StepEvent): boolean {
	const outcome = event.outcome;
	if (!outcome) return false;
	return event.step === 'failed' ? outcome.error !== undefined && outcome.error !== null : stringOrNull(outcome.tx_hash) !== null;
}

// ---- signed webhooks (B.5) ------------------------------------------------------------------

export const ALLFEAT_WEBHOOK_EVENTS = ['work_registered', 'work_updated', 'work_failed'] as const;

export const webhookEventSchema = z.looseObject({
	event: z.string().min(1),
	transaction_id: z.string().min(1),
	tx_hash: z.string().nullish(),
	block_number: z.union([z.number(), z.string()]).nullish(),
	block_hash: z.string().nullish(),
	explorer_url: z.string().nullish(),
	reason: z.unknown().optional(),
	finalized_at: z.string().nullish(),
	failed_at: z.string().nullish(),
});
export type AllfeatWebhookEvent = z.infer<typeof webhookEventSchema>;

/** Webhooks arrive at finality only, so each event maps onto the final step it reports. */
const STEP_OF_EVENT: Record<string, string> = {
	work_registered: 'completed',
	work_updated: 'completed',
	work_failed: 'failed',
};

// INFERRED: `add_version` transactions are the ones that trigger `work_updated` (updating.mdx).
const TRANSACTION_TYPE_OF_EVENT: Record<string, string> = {
	work_registered: 'register',
	work_updated: 'add_version',
};

// ---- normalizer ---------------------------------------------------------------------------

/** Outcome fields promoted to the item's top level; the rest (ats_id, work_id, access_code…) go into `details`. */
const PROMOTED_OUTCOME_FIELDS = new Set(['tx_hash', 'block_number', 'block_hash', 'explorer_url', 'error']);

export interface TransactionContext {
	transactionId: string;
	/** `register` or `add_version`, once REST has told it (update frames do not carry it). */
	transactionType: string | null;
}

/** One item per step transition. */
export function normalizeStep(context: TransactionContext, event: StepEvent, receivedAt: string): NormalizedItem {
	const phase = ALLFEAT_PHASES.phaseOf(event.step);
	const outcome = event.outcome ?? {};
	const details = {
		transaction_type: context.transactionType,
		description: event.description ?? null,
		...detailsWithout(outcome, PROMOTED_OUTCOME_FIELDS),
	};
	return {
		source: 'allfeat-ats',
		id: context.transactionId,
		status: event.step,
		phase,
		isFinal: ALLFEAT_PHASES.isFinalPhase(phase),
		progress: numberOrNull(event.progress),
		txHash: stringOrNull(outcome.tx_hash),
		blockHash: stringOrNull(outcome.block_hash),
		blockNumber: numberOrNull(outcome.block_number),
		chainId: null,
		explorerUrl: stringOrNull(outcome.explorer_url),
		error: phase === 'failed' ? (errorText(outcome.error) ?? stringOrNull(event.description) ?? 'Allfeat ATS transaction failed') : null,
		occurredAt: toIsoTimestamp(event.timestamp, receivedAt),
		receivedAt,
		details,
	};
}

// Resource fields already represented in the item (or in `details.steps`).
const RESOURCE_FIELDS_IN_ITEM = new Set(['id', 'current_step', 'progress', 'description', 'result', 'steps', 'transaction_type']);

/** The transaction's current state, with its full step history in `details.steps`. */
export function normalizeTransaction(transactionId: string, transaction: AllfeatTransaction, receivedAt: string): NormalizedItem {
	const events = stepEventsOf(transaction);
	const current = events.find((event) => event.step === transaction.current_step) ?? { step: transaction.current_step };
	const item = normalizeStep(
		{ transactionId, transactionType: transaction.transaction_type ?? null },
		{ ...current, progress: transaction.progress ?? current.progress, description: transaction.description ?? current.description },
		receivedAt,
	);
	for (const [key, value] of Object.entries(transaction)) {
		if (!RESOURCE_FIELDS_IN_ITEM.has(key) && value !== undefined) item.details[key] = value;
	}
	item.details.steps = transaction.steps;
	return item;
}

/** The one item emitted for an id the service does not know, so a workflow can route it. */
export function notFoundItem(transactionId: string, receivedAt: string, reason?: string): NormalizedItem {
	return {
		source: 'allfeat-ats',
		id: transactionId,
		status: NOT_FOUND_STATUS,
		phase: 'failed',
		isFinal: true,
		progress: null,
		txHash: null,
		blockHash: null,
		blockNumber: null,
		chainId: null,
		explorerUrl: null,
		error: transactionNotFoundMessage(transactionId),
		occurredAt: receivedAt,
		receivedAt,
		details: reason ? { reason } : {},
	};
}

export function transactionNotFoundMessage(transactionId: string): string {
	return `Allfeat ATS does not know transaction ${transactionId}`;
}

// Webhook fields represented at the item's top level.
const WEBHOOK_FIELDS_IN_ITEM = new Set(['transaction_id', 'tx_hash', 'block_number', 'block_hash', 'explorer_url', 'reason']);

/** A verified webhook delivery as the same item the trigger emits for the final step. */
export function normalizeWebhookEvent(payload: AllfeatWebhookEvent, receivedAt: string): NormalizedItem {
	// An event this table does not know passes through verbatim as a pending, non-final status.
	const status = STEP_OF_EVENT[payload.event] ?? payload.event;
	const phase = ALLFEAT_PHASES.phaseOf(status);
	const details: Record<string, unknown> = { event: payload.event, transaction_type: TRANSACTION_TYPE_OF_EVENT[payload.event] ?? null };
	for (const [key, value] of Object.entries(payload)) {
		if (!WEBHOOK_FIELDS_IN_ITEM.has(key) && value !== undefined) details[key] = value;
	}
	return {
		source: 'allfeat-ats',
		id: payload.transaction_id,
		status,
		phase,
		isFinal: ALLFEAT_PHASES.isFinalPhase(phase),
		progress: ALLFEAT_PHASES.isFinalPhase(phase) ? 100 : null,
		txHash: stringOrNull(payload.tx_hash),
		blockHash: stringOrNull(payload.block_hash),
		blockNumber: numberOrNull(payload.block_number),
		chainId: null,
		explorerUrl: stringOrNull(payload.explorer_url),
		error: phase === 'failed' ? (errorText(payload.reason) ?? 'Allfeat ATS transaction failed') : null,
		occurredAt: toIsoTimestamp(payload.finalized_at ?? payload.failed_at, receivedAt),
		receivedAt,
		details,
	};
}

function errorText(value: unknown): string | null {
	if (typeof value === 'string') return value || null;
	if (typeof value === 'object' && value !== null) {
		const { message, code } = value as { message?: unknown; code?: unknown };
		if (typeof message === 'string' && message) return typeof code === 'string' && code ? `${message} (${code})` : message;
		return JSON.stringify(value);
	}
	return null;
}

// ---- transaction ids ----------------------------------------------------------------------

const HYPHENATED_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMPACT_UUID = /^[0-9a-f]{32}$/i;

/**
 * Transaction ids are UUIDs ("the UUID itself is the capability"). The compact 32-hex form is
 * accepted too, so an id copied from a database column that stores it that way still works.
 */
export function isAllfeatTransactionId(value: string): boolean {
	return HYPHENATED_UUID.test(value) || COMPACT_UUID.test(value);
}
