import { z } from 'zod';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { PhaseTable, detailsWithout, numberOrNull, stringOrNull, toIsoTimestamp } from '../shared/NormalizedItem';
import { parseTypedFrame } from '../shared/frames';
import type { ParsedFrame } from '../shared/frames';

/**
 * Kurier (zkVerify relayer) wire protocol: message schemas, the status table and the normalizer.
 * No n8n types here. Sources: ../shared/api/kurier.md (labels [C] confirmed, [I] inferred).
 * Every schema passes unknown fields through, so a richer server never breaks the trigger.
 */

export const KURIER_ENVIRONMENTS = {
	mainnet: 'https://api.kurier.xyz/api/v1',
	testnet: 'https://api-testnet.kurier.xyz/api/v1',
} as const;

export type KurierEnvironment = keyof typeof KURIER_ENVIRONMENTS | 'custom';

/** Documented proof types [C]; `tee` is in the OpenAPI enum but not live. */
export const KURIER_PROOF_TYPES = ['groth16', 'ultraplonk', 'ultrahonk', 'risc0', 'sp1', 'plonky2', 'fflonk', 'ezkl', 'tee'] as const;

// ---- status table -------------------------------------------------------------------------

export const KURIER_PHASES = new PhaseTable({
	pending: ['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'AggregationPending'],
	retrying: [],
	succeeded: ['Finalized', 'Aggregated', 'AggregationPublished'],
	failed: ['Failed'],
});

/**
 * A Kurier job only moves forward, so a status ranked below one already seen is a late frame.
 * `Failed` can follow any status. Unknown statuses get no rank and are never refused for order.
 */
const STATUS_RANK: Record<string, number> = {
	Queued: 0,
	Valid: 1,
	Submitted: 2,
	IncludedInBlock: 3,
	Finalized: 4,
	AggregationPending: 5,
	Aggregated: 6,
	AggregationPublished: 7,
	Failed: 8,
};

export function kurierStatusRank(status: string): number | undefined {
	return STATUS_RANK[status];
}

/**
 * `Finalized` ends a job only when no destination chain was asked for: with a `chainId` the job goes
 * on to aggregation (kurier.md §5), so it is succeeded-so-far but not final.
 */
export function isKurierFinal(status: string, chainId: number | null): boolean {
	if (status === 'Finalized') return chainId === null;
	return KURIER_PHASES.isFinalPhase(KURIER_PHASES.phaseOf(status));
}

// ---- REST ---------------------------------------------------------------------------------

export const jobStatusSchema = z
	.object({
		jobId: z.string().min(1),
		status: z.string().min(1),
		statusId: z.number().nullish(),
		proofType: z.string().nullish(),
		chainId: z.number().nullish(),
		createdAt: z.string().nullish(),
		updatedAt: z.string().nullish(),
		txHash: z.string().nullish(),
		blockHash: z.string().nullish(),
		txExplorerUrl: z.string().nullish(),
		blockExplorerUrl: z.string().nullish(),
		aggregationId: z.number().nullish(),
		statement: z.string().nullish(),
		aggregationDetails: z.record(z.unknown()).nullish(),
		errorDetails: z.unknown().optional(),
		event: z.string().nullish(),
	})
	.passthrough();
export type KurierJobStatus = z.infer<typeof jobStatusSchema>;

export const submitProofResponseSchema = z
	.object({
		jobId: z.string().min(1),
		optimisticVerify: z.string(),
		error: z.string().nullish(),
	})
	.passthrough();
export type SubmitProofResponse = z.infer<typeof submitProofResponseSchema>;

export const registerVkResponseSchema = z.object({ vkHash: z.string().min(1) }).passthrough();

/** `REGISTER_VK_FAILED` with `meta.vkHash`: the key is already registered, which the tutorials treat as success [C]. */
export const vkAlreadyRegisteredSchema = z
	.object({
		code: z.literal('REGISTER_VK_FAILED'),
		meta: z.object({ vkHash: z.string().min(1) }).passthrough(),
	})
	.passthrough();

export interface SubmitProofRequest {
	proofType: string;
	vkRegistered: boolean;
	proofOptions?: Record<string, unknown>;
	chainId?: number;
	submissionMode?: string;
	proofData: { proof: unknown; publicSignals?: unknown; vk: unknown };
}

export interface RegisterVkRequest {
	proofType: string;
	proofOptions?: Record<string, unknown>;
	vk: unknown;
}

// ---- WebSocket: client → server -----------------------------------------------------------

export const clientFrameSchema = z.discriminatedUnion('type', [
	z.object({ type: z.literal('ping') }),
	z.object({ type: z.literal('subscribe'), jobId: z.string().min(1) }),
	z.object({ type: z.literal('unsubscribe'), jobId: z.string().min(1) }),
	z.object({ type: z.literal('subscribe-all') }),
	z.object({ type: z.literal('unsubscribe-all') }),
]);
export type KurierClientFrame = z.infer<typeof clientFrameSchema>;

export const clientFrames = {
	ping: (): KurierClientFrame => ({ type: 'ping' }),
	subscribe: (jobId: string): KurierClientFrame => ({ type: 'subscribe', jobId }),
	unsubscribe: (jobId: string): KurierClientFrame => ({ type: 'unsubscribe', jobId }),
	subscribeAll: (): KurierClientFrame => ({ type: 'subscribe-all' }),
	unsubscribeAll: (): KurierClientFrame => ({ type: 'unsubscribe-all' }),
};

// ---- WebSocket: server → client -----------------------------------------------------------

const connectedFrame = z.object({ type: z.literal('connected'), connectionId: z.string().optional(), message: z.string().optional() }).passthrough();
const pongFrame = z.object({ type: z.literal('pong'), timestamp: z.union([z.number(), z.string()]).optional() }).passthrough();
const subscriptionFrame = z
	.object({ type: z.enum(['subscribed', 'unsubscribed', 'subscribed-all', 'unsubscribed-all']), jobId: z.string().optional() })
	.passthrough();
const jobStatusUpdateFrame = z.object({ type: z.literal('job-status-update'), data: jobStatusSchema }).passthrough();
const errorFrame = z
	.object({
		type: z.literal('error'),
		message: z.string().optional(),
		code: z.string().optional(),
		retryAfterSeconds: z.number().nonnegative().optional(),
		jobId: z.string().optional(),
	})
	.passthrough();

export const serverFrameSchema = z.discriminatedUnion('type', [connectedFrame, pongFrame, subscriptionFrame, jobStatusUpdateFrame, errorFrame]);
export type KurierServerFrame = z.infer<typeof serverFrameSchema>;

/** Validates a JSON frame from the server; unknown or malformed frames are reported, never thrown. */
export function parseServerFrame(raw: unknown): ParsedFrame<KurierServerFrame> {
	return parseTypedFrame(serverFrameSchema, raw);
}

// ---- normalizer ---------------------------------------------------------------------------

// Fields promoted to the item's top level; every other field of the job goes into `details`.
const PROMOTED_FIELDS = new Set(['jobId', 'status', 'chainId', 'txHash', 'blockHash', 'txExplorerUrl']);

export function normalizeKurierJob(job: KurierJobStatus, receivedAt: string): NormalizedItem {
	const chainId = numberOrNull(job.chainId);
	const phase = KURIER_PHASES.phaseOf(job.status);
	const details = detailsWithout(job, PROMOTED_FIELDS);
	return {
		source: 'kurier',
		id: job.jobId,
		status: job.status,
		phase,
		isFinal: isKurierFinal(job.status, chainId),
		progress: null,
		txHash: stringOrNull(job.txHash),
		blockHash: stringOrNull(job.blockHash),
		blockNumber: null,
		chainId,
		explorerUrl: stringOrNull(job.txExplorerUrl),
		error: phase === 'failed' ? failureReason(job) : null,
		occurredAt: toIsoTimestamp(job.updatedAt, receivedAt),
		receivedAt,
		details,
	};
}

function failureReason(job: KurierJobStatus): string {
	const details = job.errorDetails;
	if (typeof details === 'string' && details) return details;
	if (typeof details === 'object' && details !== null) {
		const message = (details as { message?: unknown }).message;
		if (typeof message === 'string' && message) return message;
		return JSON.stringify(details);
	}
	return `Kurier job ${job.status}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Kurier job ids are UUIDs [O]; the service answers "Invalid jobId format" for anything else. */
export function isKurierJobId(value: string): boolean {
	return UUID.test(value);
}
