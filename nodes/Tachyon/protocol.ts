import { z } from 'zod/v4';

import { isRecord } from '../shared/http';
import type { NormalizedItem } from '../shared/NormalizedItem';
import { PhaseTable, detailsWithout, numberOrNull, stringOrNull, toIsoTimestamp } from '../shared/NormalizedItem';
import { READABLE_ISSUES, describeIssue } from '../shared/validation';
import { compileCheck } from '../shared/frames';

/**
 * Tachyon (Rath Finance relayer) wire protocol: REST envelopes, transaction objects, WebSocket frame
 * classification, the status table, the normalizer and the submit-tx request. No n8n types here.
 * Sources: /work/shared/api/tachyon-websocket-source.txt (the service's own page) and Part A of
 * tachyon-and-allfeat.md (CONFIRMED / INFERRED labels). The docs disagree on frame shapes and field
 * names, so every schema accepts each documented variant and passes unknown fields through. Schemas
 * are zod 4 (`zod/v4`, shipped inside the zod 3.25 package), which parses several times faster than zod 3.
 */

export const TACHYON_DEFAULT_BASE_URL = 'https://tachyon.rath.fi';

// ---- hosts ----------------------------------------------------------------------------------

/**
 * The documented hosts and their WebSocket URLs. The newest pages use tachyon.rath.fi; the older
 * pages and the SDK use api.tachyon.rath.fi (wss://api.tachyon.rath.fi/ws). Registration answers
 * with its own `wsUrl`, which always wins; these are only for a stored WebSocket key without a URL.
 */
export const TACHYON_HOSTS = [
	{ baseUrl: 'https://tachyon.rath.fi', wsUrl: 'wss://tachyon.rath.fi/ws', source: 'newest docs' },
	{ baseUrl: 'https://api.tachyon.rath.fi', wsUrl: 'wss://api.tachyon.rath.fi/ws', source: 'older docs and the SDK' },
] as const;


/** The WebSocket URL of a REST origin: the documented one for a documented host, else ws(s)://<origin>/ws. */
export function webSocketUrlFor(baseUrl: string): string {
	const origin = baseUrl.replace(/\/+$/, '');
	const documented = TACHYON_HOSTS.find((host) => host.baseUrl === origin.toLowerCase());
	if (documented) return documented.wsUrl;
	return `${origin.replace(/^http(s?):\/\//i, 'ws$1://')}/ws`;
}

// ---- status table -------------------------------------------------------------------------

export const TACHYON_PHASES = new PhaseTable({
	pending: ['NOT_PICKED_UP', 'PENDING'],
	retrying: ['NEEDS_TO_BE_RETRIED'],
	succeeded: ['EXECUTED'],
	failed: ['FAILED'],
});

// ---- transaction objects --------------------------------------------------------------------

const numeric = z.union([z.number(), z.string()]);
const timestamp = z.union([z.string(), z.number()]);

/**
 * A transaction as the REST status endpoint (`id`, `executionTxHash`, `timestamp`) or a WebSocket
 * notification (`txId`, `txHash`, `updatedAt`, `submittedAt`) describes it. Numbers may come as
 * strings (`chainId`, `retries`): accepted, and read with numberOrNull.
 *
 * Validated: every field the stream and the normalized item read. The others (`costUSD`,
 * `submittedAt`, whatever else the service adds) are read by nothing: they pass through
 * unvalidated into the item's `details`, as the service sent them.
 */
const transactionFields = {
	txId: z.string().min(1).optional(),
	id: z.string().min(1).optional(),
	status: z.string().min(1),
	chainId: numeric.nullish(),
	retries: numeric.nullish(),
	txHash: z.string().nullish(),
	executionTxHash: z.string().nullish(),
	updatedAt: timestamp.nullish(),
	timestamp: timestamp.nullish(),
	error: z.unknown().optional(),
};
const hasId = (tx: { txId?: string; id?: string }) => Boolean(tx.txId ?? tx.id);
const NEEDS_ID = { message: 'a transaction needs "txId" or "id"', path: ['txId'] };

/** A transaction read over REST: checked, and returned with every field, unknown ones included. */
export const transactionSchema = z.looseObject(transactionFields).refine(hasId, NEEDS_ID);
/** The same check for a frame's transaction, which is handed on as it arrived (see wrappedUpdate): nothing copied. */
const transactionCheck = z.object(transactionFields).refine(hasId, NEEDS_ID);
/** transactionCheck as plain checks for the per-frame path (see compileCheck): the fields, then the refine. */
const transactionFieldsCheck = compileCheck(z.object(transactionFields));
export type TachyonTransaction = z.infer<typeof transactionSchema>;

export function transactionIdOf(tx: TachyonTransaction): string {
	// The schema's refine guarantees one of them.
	return (tx.txId ?? tx.id) as string;
}

/** Retries not given count as 0: the first attempt. */
export function retriesOf(tx: TachyonTransaction): number {
	return numberOrNull(tx.retries) ?? 0;
}

/**
 * What identifies a transition: a status can come back (PENDING → NEEDS_TO_BE_RETRIED → PENDING),
 * and the retry count is what tells the second PENDING from the first. A frame repeated verbatim
 * has the same key, and so does the same state read back over REST.
 */
export function transitionKeyOf(tx: TachyonTransaction): string {
	return `${tx.status}#${retriesOf(tx)}`;
}

export function isTachyonFinal(status: string): boolean {
	return TACHYON_PHASES.isFinalPhase(TACHYON_PHASES.phaseOf(status));
}

// ---- REST envelopes -------------------------------------------------------------------------

/**
 * `{success, data, timestamp}` or `{success:false, error:{code, message, category}}` (A.2). Some
 * documented answers are not wrapped (register-webhooks, older pages): a body without a boolean
 * `success` is taken as the data itself.
 */
const envelopeSchema = z.looseObject({
	success: z.boolean(),
	data: z.unknown().optional(),
	error: z.unknown().optional(),
});

export type Unwrapped = { ok: true; data: unknown } | { ok: false; message: string; code: string | null };

export function unwrapEnvelope(body: unknown): Unwrapped {
	const envelope = envelopeSchema.safeParse(body);
	if (!envelope.success) return { ok: true, data: body };
	if (envelope.data.success) return { ok: true, data: envelope.data.data };
	const error = isRecord(envelope.data.error) ? envelope.data.error : {};
	const message = typeof error.message === 'string' ? error.message : typeof envelope.data.error === 'string' ? envelope.data.error : 'no reason given';
	return { ok: false, message, code: typeof error.code === 'string' ? error.code : null };
}

/** `data` of POST /api/user/register-websocket. Documented as `{wsUrl, apiKey}`; `wsKey` accepted too. */
export const registerWebsocketDataSchema = z
	.looseObject({
		wsUrl: z.string().min(1),
		apiKey: z.string().min(1).optional(),
		wsKey: z.string().min(1).optional(),
	})
	.refine((data) => Boolean(data.apiKey ?? data.wsKey), { message: 'no WebSocket key ("apiKey") in the answer', path: ['apiKey'] });

/** `data` of POST /api/submit-tx. `x402Payment` and any other field pass through to the output. */
export const submitTxDataSchema = z.looseObject({
	txId: z.string().min(1),
	estimatedCostUSD: numeric.nullish(),
});
export type SubmitTxResult = z.infer<typeof submitTxDataSchema>;

// ---- WebSocket frames -----------------------------------------------------------------------

export type TachyonFrameShape = 'bare' | 'notification' | 'legacy';

export type ClassifiedFrame =
	| { kind: 'tx-update'; shape: TachyonFrameShape; transaction: TachyonTransaction }
	/** The connection greeting, `{message}` or `{type:"system", data:{message}}`: the link is ready. */
	| { kind: 'system'; message: string }
	/** What the server sends back of the client's own messages; no information. */
	| { kind: 'echo' }
	| { kind: 'unauthorized'; message: string }
	| { kind: 'unknown'; reason: string };

/**
 * Client → server greeting probe, sent once per connection: the newest service page says Tachyon
 * echoes any client message, so the echo tells a connected socket from one about to be refused.
 * A server that does not echo is taken as ready after the greeting wait. Liveness is not tied to it:
 * the keep-alive uses WebSocket protocol pings (see TachyonStream).
 */
export const PING_FRAME = { type: 'ping' } as const;

const UNAUTHORIZED = /unauthori[sz]ed/i;

/** The docs do not say the unauthorized message is JSON: a plain-text one counts too. */
export function isUnauthorizedText(text: string): boolean {
	return UNAUTHORIZED.test(text);
}

/**
 * Sorts a JSON frame into what the stream acts on. Order matters: a transaction is recognised first
 * (its `error` may well read "Unauthorized" — a contract revert — and must still be an update), and
 * echoes next (they repeat whatever the client sent).
 */
export function classifyFrame(frame: unknown): ClassifiedFrame {
	if (!isRecord(frame)) return { kind: 'unknown', reason: 'a frame that is not a JSON object' };
	// `{echo: …}` is the documented echo. `{type:"raw"}` is the SDK's wrapper for frames it could not
	// parse, which the research reads as echoes too (A.7): both carry nothing to act on.
	if ('echo' in frame || frame.type === 'raw') return { kind: 'echo' };
	if (frame.type === 'notification') return wrappedUpdate(frame.data, 'notification', '"notification" frame');
	if (typeof frame.event === 'string' && 'data' in frame) return wrappedUpdate(frame.data, 'legacy', `"${frame.event}" frame`);
	if ('status' in frame && ('txId' in frame || 'id' in frame)) return wrappedUpdate(frame, 'bare', 'transaction frame');
	const unauthorized = unauthorizedMessage(frame);
	if (unauthorized !== null) return { kind: 'unauthorized', message: unauthorized };
	const system = systemMessage(frame);
	if (system !== null) return { kind: 'system', message: system };
	if ('status' in frame) return { kind: 'unknown', reason: 'a transaction frame without "txId" or "id"' };
	return { kind: 'unknown', reason: `a frame with ${describeKeys(frame)}` };
}

function wrappedUpdate(payload: unknown, shape: TachyonFrameShape, what: string): ClassifiedFrame {
	// Checked, so handed on as it arrived, with its unvalidated fields (see transactionFields). No parse
	// options on this per-frame path (≈3× slower, see parseTypedFrame); a failure is parsed again for its message.
	if (transactionFieldsCheck?.(payload) && hasId(payload as TachyonTransaction)) return { kind: 'tx-update', shape, transaction: payload as TachyonTransaction };
	if (transactionCheck.safeParse(payload).success) return { kind: 'tx-update', shape, transaction: payload as TachyonTransaction };
	const parsed = transactionCheck.safeParse(payload, READABLE_ISSUES);
	if (parsed.success) return { kind: 'tx-update', shape, transaction: payload as TachyonTransaction };
	return { kind: 'unknown', reason: `${what}: ${describeIssue(parsed.error.issues[0], 'data')}` };
}

/** The text of the documented "unauthorized message", whatever field carries it; null if the frame is not one. */
function unauthorizedMessage(frame: Record<string, unknown>): string | null {
	const data = isRecord(frame.data) ? frame.data : {};
	const error = isRecord(frame.error) ? frame.error : {};
	const candidates = [frame.type, frame.message, frame.error, frame.code, data.message, error.message, error.code];
	const hit = candidates.find((value): value is string => typeof value === 'string' && UNAUTHORIZED.test(value));
	if (hit === undefined) return null;
	const readable = [frame.message, data.message, error.message, frame.error].find((value): value is string => typeof value === 'string');
	return readable ?? hit;
}

function systemMessage(frame: Record<string, unknown>): string | null {
	if (frame.type === 'system') {
		const data = isRecord(frame.data) ? frame.data : {};
		return typeof data.message === 'string' ? data.message : typeof frame.message === 'string' ? frame.message : '';
	}
	// The current docs' greeting is a bare `{"message": "WebSocket connected!"}`.
	if (frame.type === undefined && typeof frame.message === 'string') return frame.message;
	return null;
}

function describeKeys(frame: Record<string, unknown>): string {
	if (typeof frame.type === 'string') return `type "${frame.type}"`;
	const keys = Object.keys(frame);
	return keys.length === 0 ? 'no fields' : `fields ${keys.slice(0, 6).join(', ')}`;
}

// ---- normalizer ---------------------------------------------------------------------------

// Promoted to the item's top level; every other field goes into `details`.
const PROMOTED_FIELDS = new Set(['txId', 'id', 'status', 'chainId', 'txHash', 'executionTxHash']);

export function normalizeTachyonTransaction(tx: TachyonTransaction, receivedAt: string): NormalizedItem {
	const phase = TACHYON_PHASES.phaseOf(tx.status);
	const details = detailsWithout(tx, PROMOTED_FIELDS);
	// Always present: with the status it identifies the transition (see transitionKeyOf).
	details.retries = retriesOf(tx);
	return {
		source: 'tachyon',
		id: transactionIdOf(tx),
		status: tx.status,
		phase,
		isFinal: TACHYON_PHASES.isFinalPhase(phase),
		progress: null,
		txHash: stringOrNull(tx.txHash) ?? stringOrNull(tx.executionTxHash),
		blockHash: null,
		blockNumber: null,
		chainId: numberOrNull(tx.chainId),
		explorerUrl: null,
		error: phase === 'failed' ? failureReason(tx) : null,
		occurredAt: toIsoTimestamp(tx.updatedAt ?? tx.timestamp, receivedAt),
		receivedAt,
		details,
	};
}

function failureReason(tx: TachyonTransaction): string {
	const error = tx.error;
	if (typeof error === 'string' && error) return error;
	if (isRecord(error)) {
		if (typeof error.message === 'string' && error.message) return error.message;
		return JSON.stringify(error);
	}
	return `Tachyon transaction ${tx.status}`;
}

// ---- submit-tx request ----------------------------------------------------------------------

/**
 * zod 3's `required_error` / `invalid_type_error` as zod 4's one `error` option: the first for a
 * missing value, the second for one of the wrong type (undefined: the default, see READABLE_ISSUES).
 */
const typeErrors = (required: string | undefined, invalidType: string | undefined) => ({
	error: (issue: { input?: unknown }) => (issue.input === undefined ? required : invalidType),
});

/** Amounts in the chain's smallest unit travel as strings of digits (wei values overflow JS numbers). */
const wholeAmount = (label: string) =>
	z.preprocess(
		(value) => (typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value),
		z.string(typeErrors(undefined, `${label} must be a string of digits`)).regex(/^\d+$/, `${label} must be a whole number in the chain's smallest unit, written as digits only (e.g. "21000")`),
	);

/** Numbers typed as text in an expression (e.g. "8453") are read as numbers. */
const numberFrom = (schema: z.ZodNumber) =>
	z.preprocess((value) => (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value), schema);

const hex32 = (label: string) => z.string(typeErrors(`${label} is required`, `${label} must be a hex string`)).regex(/^0x[0-9a-fA-F]{1,64}$/, `${label} must be hex starting with 0x (at most 32 bytes)`);

/**
 * One EIP-7702 authorization tuple, as the EIP-7702 feature page lists it: chainId, address, nonce,
 * r, s, yParity. Numbers typed as text are read as numbers; nothing else is accepted, so a typo is
 * caught before Tachyon signs and pays for a transaction that would revert.
 */
const authorizationSchema = z
	.object({
		chainId: numberFrom(z.number(typeErrors('authorization chainId is required', 'authorization chainId must be a number')).int().nonnegative('authorization chainId cannot be negative')),
		address: z.string(typeErrors('authorization address is required', undefined)).regex(/^0x[0-9a-fA-F]{40}$/, 'authorization address must be a 0x-prefixed 20-byte hex address'),
		nonce: numberFrom(z.number(typeErrors('authorization nonce is required', 'authorization nonce must be a number')).int('authorization nonce must be a whole number').nonnegative('authorization nonce cannot be negative')),
		r: hex32('authorization r'),
		s: hex32('authorization s'),
		yParity: numberFrom(z.number(typeErrors('authorization yParity is required', 'authorization yParity must be 0 or 1')).int('authorization yParity must be 0 or 1').min(0, 'authorization yParity must be 0 or 1').max(1, 'authorization yParity must be 0 or 1')),
	})
	.strict();

/**
 * POST /api/submit-tx body (A.4). `to` is hex on EVM chains but base58 on Solana and a named account
 * on NEAR, so only a 0x-prefixed address is checked for hex. `callData` is hex (`0x` for none).
 */
export const submitTxRequestSchema = z
	.object({
		chainId: numberFrom(
			z
				.number(typeErrors('Chain ID is required', 'Chain ID must be a number'))
				.int('Chain ID must be a whole number')
				.positive('Chain ID must be a positive number, e.g. 8453 for Base'),
		),
		to: z
			.string(typeErrors('To is required', undefined))
			.trim()
			.min(1, 'To (the destination address) is required')
			.regex(/^\S+$/, 'To must be one address without spaces')
			.refine((to) => !to.startsWith('0x') || /^0x[0-9a-fA-F]+$/.test(to), 'To starts with 0x but is not a hex address'),
		callData: z
			.string(typeErrors('Call Data is required', undefined))
			.trim()
			.regex(/^0x([0-9a-fA-F]{2})*$/, 'Call Data must be hex bytes starting with 0x ("0x" for a plain transfer)'),
		value: wholeAmount('Value'),
		label: z.string().optional(),
		gasLimit: wholeAmount('Gas Limit').optional(),
		maxFeePerGas: wholeAmount('Max Fee Per Gas').optional(),
		maxPriorityFeePerGas: wholeAmount('Max Priority Fee Per Gas').optional(),
		gasPrice: wholeAmount('Gas Price').optional(),
		maxUSD: numberFrom(z.number(typeErrors(undefined, 'Max USD must be a number')).positive('Max USD must be more than 0')).optional(),
		retries: numberFrom(z.number(typeErrors(undefined, 'Retries must be a number')).int('Retries must be a whole number').nonnegative('Retries cannot be negative')).optional(),
		shouldBatchInMulticall: z.boolean().optional(),
		transactionType: z.string().trim().min(1, 'Transaction Type cannot be empty').optional(),
		isAuthenticatedTx: z.boolean(typeErrors(undefined, 'Is Authenticated Transaction must be true or false')).optional(),
		derivationPath: z.string().trim().min(1, 'Derivation Path cannot be empty').regex(/^\S+$/, 'Derivation Path cannot contain spaces').optional(),
		authorizationList: z.array(authorizationSchema, typeErrors(undefined, 'Authorization List must be a JSON array of authorizations')).min(1, 'Authorization List is empty: leave it out, or give at least one authorization').optional(),
	})
	.strict()
	.superRefine((request, context) => {
		const eip1559 = [request.maxFeePerGas, request.maxPriorityFeePerGas].filter((v) => v !== undefined).length;
		if (eip1559 === 1) {
			context.addIssue({ code: 'custom', message: 'Max Fee Per Gas and Max Priority Fee Per Gas must be given together, or neither' });
		}
		if (eip1559 > 0 && request.gasPrice !== undefined) {
			context.addIssue({ code: 'custom', message: 'Gas Price (legacy) cannot be combined with Max Fee Per Gas / Max Priority Fee Per Gas (EIP-1559): choose one' });
		}
	});
export type SubmitTxRequest = z.infer<typeof submitTxRequestSchema>;

export type ParsedSubmitTx = { ok: true; request: SubmitTxRequest } | { ok: false; message: string };

/** Checks a submit request before anything is sent; the message names the field and what is wrong. */
export function parseSubmitTxRequest(input: Record<string, unknown>): ParsedSubmitTx {
	const parsed = submitTxRequestSchema.safeParse(input, READABLE_ISSUES);
	if (parsed.success) return { ok: true, request: parsed.data };
	const issue = parsed.error.issues[0];
	if (issue?.code === 'unrecognized_keys') return { ok: false, message: `Unknown field(s)${where(issue.path)}: ${issue.keys.join(', ')}` };
	return { ok: false, message: `${issue?.message ?? 'Invalid transaction'}${issue && issue.path[0] === 'authorizationList' ? where(issue.path) : ''}` };
}

/** " (authorizationList[0])" for an issue inside the list, so the user knows which entry. */
function where(path: PropertyKey[]): string {
	if (path[0] !== 'authorizationList' || typeof path[1] !== 'number') return '';
	return ` (authorizationList[${path[1]}])`;
}

// ---- submit-tx-sync ---------------------------------------------------------------------------

/** The server holds POST /api/submit-tx-sync open at most this long (relay-tx-sync page: 1000–120000 ms). */
export const SYNC_TIMEOUT_MIN_MS = 1_000;
export const SYNC_TIMEOUT_MAX_MS = 120_000;

export interface SubmitTxSyncOptions {
	timeoutMs: number;
	includeReceipt?: boolean;
	includeRevertInfo?: boolean;
}

/** The submit-tx-sync body: the checked submit-tx request under `tx`, and the wait settings. */
export function submitTxSyncBody(request: SubmitTxRequest, options: SubmitTxSyncOptions): Record<string, unknown> {
	if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < SYNC_TIMEOUT_MIN_MS || options.timeoutMs > SYNC_TIMEOUT_MAX_MS) {
		throw new RangeError(`The server-side wait must be between ${SYNC_TIMEOUT_MIN_MS / 1000} and ${SYNC_TIMEOUT_MAX_MS / 1000} seconds`);
	}
	return {
		tx: request,
		timeoutMs: options.timeoutMs,
		...(options.includeReceipt ? { includeReceipt: true } : {}),
		...(options.includeRevertInfo ? { includeRevertInfo: true } : {}),
	};
}
