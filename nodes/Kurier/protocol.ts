import { z } from 'zod/v4';

import type { NormalizedItem } from '../shared/NormalizedItem';
import { PhaseTable, detailsWithout, numberOrNull, stringOrNull, toIsoTimestamp } from '../shared/NormalizedItem';
import { parseTypedFrame } from '../shared/frames';
import type { FrameSchemas, ParsedFrame } from '../shared/frames';

/**
 * Kurier (zkVerify relayer) wire protocol: message schemas, the status table and the normalizer.
 * No n8n types here. Sources: ../shared/api/kurier.md (labels [C] confirmed, [I] inferred).
 * Every schema passes unknown fields through, so a richer server never breaks the trigger. Schemas are
 * zod 4 (`zod/v4`, shipped inside the zod 3.25 package), which parses several times faster than zod 3.
 */

export const KURIER_ENVIRONMENTS = {
	mainnet: 'https://api.kurier.xyz/api/v1',
	testnet: 'https://api-testnet.kurier.xyz/api/v1',
} as const;

export type KurierEnvironment = keyof typeof KURIER_ENVIRONMENTS | 'custom';

/** Documented proof types [C]; `tee` is in the OpenAPI enum but not live. */
export const KURIER_PROOF_TYPES = ['groth16', 'ultraplonk', 'ultrahonk', 'risc0', 'sp1', 'plonky2', 'fflonk', 'ezkl', 'tee'] as const;

/**
 * What the live `GET /status` listed (kurier.md §3.4, 2026-05-28): no `tee` on either network,
 * `ezkl` on testnet only. The proof-type list falls back to this when `/status` cannot be read.
 */
export const KURIER_FALLBACK_PROOF_TYPES = ['groth16', 'ultraplonk', 'ultrahonk', 'risc0', 'sp1', 'plonky2', 'fflonk', 'ezkl'] as const;

/** A short hint per proof type for the editor's list (proof options and what the files hold). */
export const KURIER_PROOF_TYPE_HINTS: Record<string, string> = {
	groth16: 'snarkjs/circom. Proof Options {"library":"snarkjs","curve":"bn128"}',
	ultraplonk: 'Noir (bb ≤ 0.76). Proof Options {"numberOfPublicInputs":<n>}; proof and VK as base64',
	ultrahonk: 'Noir UltraHonk. Proof Options {"variant":"Plain"|"ZK","version":"V0_84"|"V3_0"|"Legacy"} where your bb needs them; public inputs one per line',
	risc0: 'RISC Zero. Proof Options {"version":"V2_1"}; proof.json gives proof and pub_inputs',
	sp1: 'SP1. proof.json gives proof and pub_inputs',
	plonky2: 'Proof Options {"hashFunction":"Poseidon"|"Keccak"}',
	fflonk: 'snarkjs fflonk',
	ezkl: 'EZKL (testnet only)',
	tee: 'Intel TDX (not accepted by the live service)',
};

export const serviceStatusSchema = z.looseObject({ supportedProofs: z.array(z.string().min(1)).min(1) });

// ---- status table -------------------------------------------------------------------------

export const KURIER_PHASES = new PhaseTable({
	pending: ['Queued', 'Valid', 'Submitted', 'IncludedInBlock', 'AggregationPending'],
	retrying: [],
	succeeded: ['Finalized', 'Aggregated', 'AggregationPublished'],
	failed: ['Failed'],
});

/**
 * How many REST checks (5 minutes each at the default interval) a job normally stays at a status:
 * the REST check reads an open job only once it has been quiet longer (nodes/shared/quietIds.ts).
 * A job passes Queued, Valid and Submitted in seconds; IncludedInBlock lasts until finality (a few
 * blocks, about a minute); a job headed for aggregation waits at Finalized and AggregationPending
 * until its aggregation is built and published, which can take an hour.
 */
const KURIER_QUIET_CHECKS: Readonly<Record<string, number>> = { IncludedInBlock: 2, Finalized: 6, AggregationPending: 12 };

export function kurierQuietChecks(status: string): number {
	return KURIER_QUIET_CHECKS[status] ?? 1;
}

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

export type KurierSubmissionMode = 'attestation' | 'direct';

/**
 * `Finalized` ends a job only when no destination chain was asked for: with a `chainId` the job goes
 * on to aggregation (kurier.md §5), so it is succeeded-so-far but not final. A `direct` submission
 * gets no aggregation (workshop knowledge base, kurier.direct.yaml), so there `Finalized` is final.
 */
export function isKurierFinal(status: string, chainId: number | null, submissionMode?: string | null): boolean {
	if (status === 'Finalized') return chainId === null || submissionMode === 'direct';
	return KURIER_PHASES.isFinalPhase(KURIER_PHASES.phaseOf(status));
}

/**
 * Statuses after which the WebSocket may say no more: Kurier's blog says a subscription is cleaned up
 * at Finalized, so a job that goes on to aggregation is followed over REST from there.
 */
export function needsRestFollowUp(status: string, chainId: number | null, submissionMode?: string | null): boolean {
	if (isKurierFinal(status, chainId, submissionMode)) return false;
	return status === 'Finalized' || status === 'AggregationPending';
}

/** The job's own `submissionMode` field where the service gives one, else what the caller knows. */
export function submissionModeOf(job: { submissionMode?: unknown }, known?: KurierSubmissionMode): string | null {
	return typeof job.submissionMode === 'string' && job.submissionMode ? job.submissionMode : (known ?? null);
}

// ---- REST ---------------------------------------------------------------------------------

/**
 * What the stream and the normalized item read of a job, all validated. The job's other fields
 * (`statusId`, `proofType`, `statement`, `aggregationId`, `aggregationDetails`, `event`,
 * `blockExplorerUrl`…) are read by nothing: they pass through unvalidated into the item's
 * `details`, as the service sent them.
 */
const jobFields = {
	jobId: z.string().min(1),
	status: z.string().min(1),
	chainId: z.number().nullish(),
	createdAt: z.string().nullish(),
	updatedAt: z.string().nullish(),
	txHash: z.string().nullish(),
	blockHash: z.string().nullish(),
	txExplorerUrl: z.string().nullish(),
	errorDetails: z.unknown().optional(),
	submissionMode: z.string().nullish(),
};

/** A job read over REST: checked, and returned with every field, unknown ones included. */
export const jobStatusSchema = z.looseObject(jobFields);
export type KurierJobStatus = z.infer<typeof jobStatusSchema>;

export const submitProofResponseSchema = z.looseObject({
	jobId: z.string().min(1),
	optimisticVerify: z.string(),
	error: z.string().nullish(),
});
export type SubmitProofResponse = z.infer<typeof submitProofResponseSchema>;

export const registerVkResponseSchema = z.looseObject({ vkHash: z.string().min(1) });

/** `REGISTER_VK_FAILED` with `meta.vkHash`: the key is already registered, which the tutorials treat as success [C]. */
export const vkAlreadyRegisteredSchema = z.looseObject({
	code: z.literal('REGISTER_VK_FAILED'),
	meta: z.looseObject({ vkHash: z.string().min(1) }),
});

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

// Frame schemas check and do not copy: parseServerFrame hands on the frame as it arrived (see
// parseTypedFrame), so fields they do not name pass through, unvalidated, to the item's `details`.
const connectedFrame = z.object({ type: z.literal('connected'), connectionId: z.string().optional(), message: z.string().optional() });
const pongFrame = z.object({ type: z.literal('pong'), timestamp: z.union([z.number(), z.string()]).optional() });
const subscriptionFrame = z.object({ type: z.enum(['subscribed', 'unsubscribed', 'subscribed-all', 'unsubscribed-all']), jobId: z.string().optional() });
const jobStatusUpdateFrame = z.object({ type: z.literal('job-status-update'), data: z.object(jobFields) });
const errorFrame = z.object({
	type: z.literal('error'),
	message: z.string().optional(),
	code: z.string().optional(),
	retryAfterSeconds: z.number().nonnegative().optional(),
	jobId: z.string().optional(),
});

export const serverFrameSchema = z.discriminatedUnion('type', [connectedFrame, pongFrame, subscriptionFrame, jobStatusUpdateFrame, errorFrame]);
/** A checked frame as it arrived: a job update's `data` also holds the job's unvalidated fields (see jobFields). */
export type KurierServerFrame = Exclude<z.infer<typeof serverFrameSchema>, { type: 'job-status-update' }> | { type: 'job-status-update'; data: KurierJobStatus };

const SERVER_FRAMES: FrameSchemas = {
	connected: connectedFrame,
	pong: pongFrame,
	subscribed: subscriptionFrame,
	unsubscribed: subscriptionFrame,
	'subscribed-all': subscriptionFrame,
	'unsubscribed-all': subscriptionFrame,
	'job-status-update': jobStatusUpdateFrame,
	error: errorFrame,
};

/** Validates a JSON frame from the server; unknown or malformed frames are reported, never thrown. */
export function parseServerFrame(raw: unknown): ParsedFrame<KurierServerFrame> {
	return parseTypedFrame<KurierServerFrame>(SERVER_FRAMES, raw);
}

// ---- normalizer ---------------------------------------------------------------------------

// Fields promoted to the item's top level; every other field of the job goes into `details`.
const PROMOTED_FIELDS = new Set(['jobId', 'status', 'chainId', 'txHash', 'blockHash', 'txExplorerUrl']);

/**
 * `knownSubmissionMode`: what the caller knows of how the job was submitted, when the job does not say.
 * `knownChainId`: the chain id the caller remembers for the job, for an update frame that omits it
 * (the job's own `chainId` wins).
 */
export function normalizeKurierJob(job: KurierJobStatus, receivedAt: string, knownSubmissionMode?: KurierSubmissionMode, knownChainId?: number | null): NormalizedItem {
	const chainId = job.chainId === undefined && knownChainId !== undefined ? knownChainId : numberOrNull(job.chainId);
	const phase = KURIER_PHASES.phaseOf(job.status);
	const details = detailsWithout(job, PROMOTED_FIELDS);
	return {
		source: 'kurier',
		id: job.jobId,
		status: job.status,
		phase,
		isFinal: isKurierFinal(job.status, chainId, submissionModeOf(job, knownSubmissionMode)),
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

// ---- GET /jobs (workshop knowledge base only) -----------------------------------------------

/**
 * One page of `GET /jobs`. Only the workshop knowledge base (kurier.md S11) names this listing and
 * not its response, so every likely shape is read: a bare array, or an object holding the array in
 * `jobs`, `data`, `items` or `results`; a job may name its id `id` instead of `jobId`. Entries that
 * are not jobs are skipped. `hasMore` is the service's word where it gives one (`hasMore`,
 * `totalPages`, `total`), else "a full page came back".
 */
export function parseJobsPage(body: unknown, page: number, pageSize: number): { jobs: KurierJobStatus[]; hasMore: boolean } | null {
	const record = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
	const list = Array.isArray(body) ? body : [record?.jobs, record?.data, record?.items, record?.results].find(Array.isArray);
	if (!Array.isArray(list)) return null;
	const jobs: KurierJobStatus[] = [];
	for (const entry of list as unknown[]) {
		const withId = typeof entry === 'object' && entry !== null && !('jobId' in entry) && 'id' in entry ? { ...entry, jobId: (entry as { id: unknown }).id } : entry;
		const parsed = jobStatusSchema.safeParse(withId);
		if (parsed.success) jobs.push(parsed.data);
	}
	let hasMore = list.length >= pageSize;
	if (typeof record?.hasMore === 'boolean') hasMore = record.hasMore;
	else if (typeof record?.totalPages === 'number') hasMore = page < record.totalPages;
	else if (typeof record?.total === 'number') hasMore = page * pageSize < record.total;
	return { jobs, hasMore };
}

// ---- close codes ----------------------------------------------------------------------------

const KEY_REFUSAL_WORDS = /unauthori[sz]ed|forbidden|invalid (api )?key|api key|disabled|revoked|auth/i;
const TRANSIENT_WORDS = /limit|too many|lifetime|expired|max(imum)? (connection|duration|age)|24 ?h|duration|idle|timeout|try again|retry|restart|shutting down|going away/i;
/** The private close codes that mean "not authorised" wherever they are used. */
const KEY_REFUSAL_CLOSE_CODES = [4001, 4003, 4401, 4403];
// Not "maximum connections" (a limit, not a lifetime).
const LIFETIME_WORDS = /lifetime|max(imum)? (connection )?(duration|age)|24 ?h/i;

/**
 * Whether Kurier closed a connection because it reached its maximum lifetime (24 h, kurier.md):
 * said in the close reason or in the error frame just before it (CONNECTION_LIFETIME_EXCEEDED).
 * Not a fault: the connection is replaced at once (see ReconnectingSocketOptions.isPlannedClose).
 */
export function isKurierLifetimeClose(code: number, reason: string, lastError: { code?: string; message?: string } | null): boolean {
	if (KEY_REFUSAL_CLOSE_CODES.includes(code)) return false;
	return [reason, `${lastError?.code ?? ''} ${lastError?.message ?? ''}`].some((said) => LIFETIME_WORDS.test(said.replace(/_/g, ' ')));
}

/**
 * Whether a WebSocket close means "this API key is refused" (stop for good) rather than something a
 * reconnect outlasts. Kurier documents 1008 for a missing or invalid key; its announcement also
 * limits connections per key and their lifetime without naming a code, and 1008 ("policy
 * violation") fits those too. So a 1008 is read with its close reason and the error frame that came
 * before it: words of a limit or lifetime → reconnect; words of a refused key → final. A 1008 that
 * says neither is final only when the connection never got its `connected` frame (the key is checked
 * at connect); after a working connection it is retried, and the reconnect gives the verdict.
 */
export function isKurierKeyRefusal(code: number, reason: string, lastError: { code?: string; message?: string } | null, wasConnected: boolean): boolean {
	if (KEY_REFUSAL_CLOSE_CODES.includes(code)) return true;
	if (code !== 1008) return false;
	// The close reason speaks first; the error frame before it second.
	for (const said of [reason, `${lastError?.code ?? ''} ${lastError?.message ?? ''}`]) {
		if (TRANSIENT_WORDS.test(said)) return false;
		if (KEY_REFUSAL_WORDS.test(said)) return true;
	}
	return !wasConnected;
}

/** An error frame's code and message, read without the full schema (the shared socket looks at every frame). */
export function errorFrameFields(raw: unknown): { code?: string; message?: string } | null {
	if (typeof raw !== 'object' || raw === null || (raw as { type?: unknown }).type !== 'error') return null;
	const { code, message } = raw as { code?: unknown; message?: unknown };
	return { code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : undefined };
}
