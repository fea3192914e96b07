import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { EmulatorServer } from '../shared/EmulatorServer';
import type { ListeningServer, RestRateLimit, UpgradeRoute } from '../shared/EmulatorServer';
import { isFrozen, laterIsoTimestamp, parseRequestUrl, randomHash, rawDataToText, sendText } from '../shared/serverKit';
import type { Reply } from '../shared/serverKit';

/**
 * Local emulator of the Kurier (zkVerify relayer) REST + WebSocket API, for tests, the benchmark
 * and the demo. It follows /work/shared/api/kurier.md (§1, §3, §5, §8); where the real service is
 * undocumented it makes one fixed, deterministic choice. Jobs only move when `advance()` is called,
 * or on a timer when `stepMs > 0`, and fault-injection hooks let tests break the service on purpose.
 */

export const KURIER_STATUS_SEQUENCE_NO_CHAIN = [
	'Queued',
	'Valid',
	'Submitted',
	'IncludedInBlock',
	'Finalized',
] as const;
/** Observed flows skip `Finalized` when a chainId is given (kurier.md §5). */
export const KURIER_STATUS_SEQUENCE_WITH_CHAIN = [
	'Queued',
	'Valid',
	'Submitted',
	'IncludedInBlock',
	'AggregationPending',
	'Aggregated',
] as const;
/**
 * The documented order with `Finalized` before aggregation (kurier.md §5, statusIds 4, 5, 6): the flow
 * for `subscriptionEndsAtFinalized`, where the socket goes quiet for the job after `Finalized`.
 */
export const KURIER_STATUS_SEQUENCE_WITH_CHAIN_AND_FINALIZED = [
	'Queued',
	'Valid',
	'Submitted',
	'IncludedInBlock',
	'Finalized',
	'AggregationPending',
	'Aggregated',
] as const;
/** A proof that failed optimistic verification still shows `Valid` once, then fails (emulator choice). */
const STATUS_SEQUENCE_FAILING = ['Queued', 'Valid', 'Failed'] as const;

/** Only Finalized = 4, AggregationPending = 5 and Aggregated = 6 are documented; the rest is our choice. */
export const KURIER_STATUS_IDS = {
	Queued: 0,
	Valid: 1,
	Submitted: 2,
	IncludedInBlock: 3,
	Finalized: 4,
	AggregationPending: 5,
	Aggregated: 6,
	AggregationPublished: 7,
	Failed: 8,
} as const;
export type KurierStatus = keyof typeof KURIER_STATUS_IDS;

export interface KurierEmulatorOptions {
	/** Default 0 = random free port; the emulator always binds 127.0.0.1. */
	port?: number;
	/** Valid API keys; default `['kurier-test-key']`. */
	apiKeys?: string[];
	/** > 0: every job advances one status every stepMs; 0 (default): only `advance()` moves jobs. */
	stepMs?: number;
	/** Default 10, the documented per-key limit. */
	maxConnectionsPerKey?: number;
	/**
	 * Kurier's blog: "When a job reaches a final state (Finalized, Aggregated, or Failed), the
	 * subscription is automatically cleaned up". true: a chain job goes through `Finalized` and then
	 * no socket (per-job or subscribe-all) hears of it again; REST still knows. Default false.
	 */
	subscriptionEndsAtFinalized?: boolean;
	/** Close code when the key's connection limit is reached: 1013 (default) or 1008 ("policy violation"). */
	connectionLimitCloseCode?: 1008 | 1013;
	/** Whether job status (REST and frames) carries `submissionMode`; no source shows it. Default false. */
	reportSubmissionMode?: boolean;
	/** `GET /jobs` (workshop knowledge base only): `off` (404, default), `on`, or `unauthorized` (401 for every key). */
	jobListing?: JobListingMode;
	/** What `GET /status` lists; default the live testnet list (kurier.md §3.4). */
	supportedProofs?: readonly string[];
	/**
	 * Per-key REST limit (kurier.md §3.8: limits are per API key, numbers unpublished); the key is the
	 * one in the path or the `apiKey` query. Default: none. See `setRestRateLimit`.
	 */
	restRateLimit?: RestRateLimit;
}

export type JobListingMode = 'off' | 'on' | 'unauthorized';

/** The REST job-status shape (kurier.md §3.3). */
export interface EmulatedJob {
	jobId: string;
	status: string;
	statusId: number;
	proofType: string;
	chainId: number | null;
	createdAt: string;
	updatedAt: string;
	/** Only with `reportSubmissionMode` (REST and frames). */
	submissionMode?: string;
	txHash: string | null;
	blockHash: string | null;
	txExplorerUrl?: string | null;
	blockExplorerUrl?: string | null;
	aggregationId?: number | null;
	statement?: string | null;
	aggregationDetails?: object | null;
	errorDetails?: object | null;
}

export interface KurierEmulatorStats {
	connectionsAccepted: number;
	connectionsRefused: number;
	subscribeMessages: number;
	restRequests: number;
	pingsReceived: number;
	/** `GET /jobs` requests that got past the rate limit, answered with jobs or refused. */
	jobListRequests: number;
	/** `GET /job-status` requests of a valid key that got past the rate limit, found or not. */
	jobStatusReads: number;
	/** REST requests answered 429 by `restRateLimit`. */
	rateLimited: number;
}

const DEFAULT_API_KEY = 'kurier-test-key';
const DEFAULT_MAX_CONNECTIONS_PER_KEY = 10;
const API_PREFIX = '/api/v1/';
const WS_PATH = '/api/v1/ws';
/** The live testnet `/status` list (kurier.md §3.4): mainnet has no `ezkl`, neither has `tee`. */
const SUPPORTED_PROOF_TYPES = [
	'groth16',
	'plonky2',
	'risc0',
	'fflonk',
	'ultraplonk',
	'sp1',
	'ultrahonk',
	'ezkl',
] as const;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EXPLORER_BASE_URL = 'https://zkverify-testnet.subscan.io';
/** Oversized bodies get 413 instead of being buffered without bound. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** ws closes the connection (1009) on larger frames; client messages are tiny. */
const MAX_WS_PAYLOAD_BYTES = 1024 * 1024;
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 5;
/** zkVerify produces a block about every 6 s; used to make `/status` look alive. */
const BLOCK_TIME_MS = 6_000;
const FIRST_BLOCK_NUMBER = 1_000_000;
const FIRST_AGGREGATION_ID = 10_000;
const VERSION_INFO = {
	apiVersion: 'v0.1.0',
	serviceVersion: 'emulator',
	environment: 'emulator',
	status: 'ok',
} as const;

interface JobRecord {
	job: EmulatedJob;
	ownerKey: string;
	sequence: readonly KurierStatus[];
	/** Index of `job.status` in `sequence`. */
	position: number;
	/** Creation order: breaks ties between jobs created (or updated) in the same millisecond. */
	serial: number;
	autoStepTimer?: NodeJS.Timeout;
	submissionMode: 'attestation' | 'direct';
	/** No socket hears of this job any more (`subscriptionEndsAtFinalized`). */
	silenced: boolean;
}

interface ClientConnection {
	socket: WebSocket;
	apiKey: string;
	subscribedJobs: Set<string>;
	subscribedAll: boolean;
}

interface ClientMessage {
	type: string;
	jobId?: unknown;
}


interface JobInit {
	proofType?: string;
	chainId?: number | null;
	willFail?: boolean;
	submissionMode?: 'attestation' | 'direct';
}

type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

interface SubmitProofRequest {
	proofType: string;
	vkRegistered: boolean;
	proof: unknown;
	vk: unknown;
	chainId: number | null;
	submissionMode: 'attestation' | 'direct';
}
export class KurierEmulator extends EmulatorServer<ClientConnection> {
	readonly restBaseUrl: string;
	readonly wsUrl: string;
	readonly stats: KurierEmulatorStats = {
		connectionsAccepted: 0,
		connectionsRefused: 0,
		subscribeMessages: 0,
		restRequests: 0,
		pingsReceived: 0,
		jobListRequests: 0,
		jobStatusReads: 0,
		rateLimited: 0,
	};

	private readonly apiKeys: ReadonlySet<string>;
	private readonly maxConnectionsPerKey: number;
	private readonly startedAt = Date.now();
	private readonly jobs = new Map<string, JobRecord>();
	/** vkHashes registered per API key. */
	private readonly registeredVks = new Map<string, Set<string>>();
	private nextAggregationId = FIRST_AGGREGATION_ID;
	/** The body of the last accepted submit-proof request, as sent (for tests of payload shapes). */
	lastSubmission: unknown = null;
	private answerPings = true;
	private rateLimit = { remaining: 0, retryAfterSeconds: 0 };
	private afterNextUnsubscribeAll: (() => void) | null = null;
	private confirmSubscribes = true;
	private subscriptionEndsAtFinalized: boolean;
	private readonly connectionLimitCloseCode: 1008 | 1013;
	private reportSubmissionMode: boolean;
	private jobListing: JobListingMode;
	private supportedProofs: readonly string[] | 'error';
	private nextJobSerial = 0;
	/** Job ids REST has shown since `startCoverage()`; null until then, so nothing is recorded for free. */
	private coveredIds: Set<string> | null = null;

	static async start(options: KurierEmulatorOptions = {}): Promise<KurierEmulator> {
		return new KurierEmulator(await EmulatorServer.listen(options.port), options);
	}

	private constructor(listening: ListeningServer, options: KurierEmulatorOptions) {
		// autoPong off: pings must go unanswered when a test asks for it, so we pong ourselves.
		super(listening, {
			stepMs: options.stepMs,
			webSocket: { autoPong: false, maxPayload: MAX_WS_PAYLOAD_BYTES },
			restRateLimit: options.restRateLimit,
		});
		this.restBaseUrl = `http://127.0.0.1:${listening.port}/api/v1`;
		this.wsUrl = `ws://127.0.0.1:${listening.port}${WS_PATH}`;
		this.apiKeys = new Set(options.apiKeys ?? [DEFAULT_API_KEY]);
		this.maxConnectionsPerKey = options.maxConnectionsPerKey ?? DEFAULT_MAX_CONNECTIONS_PER_KEY;
		this.subscriptionEndsAtFinalized = options.subscriptionEndsAtFinalized ?? false;
		this.connectionLimitCloseCode = options.connectionLimitCloseCode ?? 1013;
		this.reportSubmissionMode = options.reportSubmissionMode ?? false;
		this.jobListing = options.jobListing ?? 'off';
		this.supportedProofs = options.supportedProofs ?? SUPPORTED_PROOF_TYPES;
	}

	// ----- jobs -----------------------------------------------------------------------------------

	/** Creates a Queued job owned by `apiKey` and announces it to that key's subscribe-all sockets. */
	createJob(apiKey: string, init: JobInit = {}): EmulatedJob {
		if (!this.apiKeys.has(apiKey)) throw new Error('KurierEmulator.createJob: unknown API key');
		const record = this.addJob(apiKey, init, new Date().toISOString());
		this.broadcastStatus(record);
		record.autoStepTimer = this.startAutoSteps(() => this.advance(record.job.jobId));
		return this.publicJob(record);
	}

	/**
	 * For benchmarks: `count` jobs of `apiKey` at once, announced on no socket, each already at
	 * `status` (default Queued) of its sequence, as if it had stepped there (`Failed` gives the failing
	 * sequence). Jobs not final get an auto-step timer only when `stepMs` is on. Returns their ids in
	 * creation order.
	 */
	createJobs(apiKey: string, count: number, options: { status?: KurierStatus; chainId?: number | null } = {}): string[] {
		if (!this.apiKeys.has(apiKey)) throw new Error('KurierEmulator.createJobs: unknown API key');
		if (!Number.isInteger(count) || count < 0) throw new RangeError(`KurierEmulator.createJobs: count must be a whole number >= 0, got ${count}`);
		const status = options.status ?? 'Queued';
		const init: JobInit = { chainId: options.chainId ?? null, willFail: status === 'Failed' };
		const target = statusSequence(init.chainId ?? null, init.willFail === true, 'attestation', this.subscriptionEndsAtFinalized).indexOf(status);
		if (target < 0) throw new Error(`KurierEmulator.createJobs: ${status} is not in the sequence of a job with chainId ${String(init.chainId)}`);
		// One timestamp for the batch: Date and ISO formatting per job would dominate at 10,000 jobs.
		const now = new Date().toISOString();
		const ids: string[] = [];
		for (let i = 0; i < count; i += 1) {
			const record = this.addJob(apiKey, init, now);
			while (record.position < target) this.step(record, true);
			if (!isFinal(record)) record.autoStepTimer = this.startAutoSteps(() => this.advance(record.job.jobId));
			ids.push(record.job.jobId);
		}
		return ids;
	}

	private addJob(apiKey: string, init: JobInit, now: string): JobRecord {
		const chainId = init.chainId ?? null;
		const submissionMode = init.submissionMode ?? 'attestation';
		const record: JobRecord = {
			ownerKey: apiKey,
			sequence: statusSequence(chainId, init.willFail === true, submissionMode, this.subscriptionEndsAtFinalized),
			position: 0,
			serial: this.nextJobSerial++,
			submissionMode,
			silenced: false,
			job: {
				jobId: randomUUID(),
				status: 'Queued',
				statusId: KURIER_STATUS_IDS.Queued,
				proofType: init.proofType ?? 'groth16',
				chainId,
				createdAt: now,
				updatedAt: now,
				txHash: null,
				blockHash: null,
				txExplorerUrl: null,
				blockExplorerUrl: null,
				aggregationId: null,
				statement: null,
				aggregationDetails: null,
				errorDetails: null,
			},
		};
		this.jobs.set(record.job.jobId, record);
		return record;
	}

	/**
	 * Moves the job one status forward and broadcasts it; a job already final is left alone.
	 * `silent`: the frame is lost on the way (REST has the new status, no socket hears it).
	 */
	advance(jobId: string, options: { silent?: boolean } = {}): EmulatedJob {
		const record = this.requireJob(jobId);
		this.step(record, options.silent === true);
		return this.publicJob(record);
	}

	/** `advance` for each job, without building a snapshot of each (for benchmarks moving thousands). */
	advanceMany(jobIds: string[], options: { silent?: boolean } = {}): void {
		const records = jobIds.map((jobId) => this.requireJob(jobId));
		for (const record of records) this.step(record, options.silent === true);
	}

	advanceToEnd(jobId: string): EmulatedJob {
		const record = this.requireJob(jobId);
		while (!isFinal(record)) this.advance(jobId);
		return structuredClone(record.job);
	}

	/** A snapshot: later status changes do not alter the returned object. */
	getJob(jobId: string): EmulatedJob | undefined {
		const record = this.jobs.get(jobId);
		return record ? this.publicJob(record) : undefined;
	}

	/** What REST and frames show of a job (a snapshot). */
	private publicJob(record: JobRecord): EmulatedJob {
		const job = structuredClone(record.job);
		if (this.reportSubmissionMode) job.submissionMode = record.submissionMode;
		return job;
	}

	/**
	 * (Re)starts, empty, the record of which job ids REST has told a client about: those in a 200
	 * job-status answer or a `GET /jobs` page, recorded when the answer is made (before any REST delay).
	 */
	startCoverage(): void {
		this.coveredIds = new Set();
	}

	/** The live set (it keeps growing); empty when `startCoverage()` was never called. */
	coveredJobIds(): ReadonlySet<string> {
		return this.coveredIds ?? new Set();
	}

	/** The blog's "subscription is automatically cleaned up" at Finalized, for a job that is not done. */
	private silence(record: JobRecord): void {
		record.silenced = true;
		for (const client of this.clients) client.subscribedJobs.delete(record.job.jobId);
	}

	// ----- fault injection ------------------------------------------------------------------------

	/** Clean close of every socket, with a code `ws` may send. */
	closeAllConnections(code: number, reason?: string): void {
		this.closeOpenSockets(code, reason);
	}

	/** false: JSON `{"type":"ping"}` and protocol ping frames both go unanswered. */
	setAnswerPings(answer: boolean): void {
		this.answerPings = answer;
	}

	/** The next `count` subscribe / subscribe-all / unsubscribe messages get a RATE_LIMITED error instead. */
	rateLimitNextSubscribes(count: number, retryAfterSeconds: number): void {
		this.rateLimit = { remaining: count, retryAfterSeconds };
	}

	/** false: a subscribe to one job takes effect without its `subscribed` answer (as a slow or silent server). */
	setConfirmSubscribes(confirm: boolean): void {
		this.confirmSubscribes = confirm;
	}

	/**
	 * Runs `callback` once, right after the next unsubscribe-all took effect and before any later
	 * message of that client is read: for what happens while a connection has no subscription.
	 */
	onNextUnsubscribeAll(callback: () => void): void {
		this.afterNextUnsubscribeAll = callback;
	}

	setSubscriptionEndsAtFinalized(on: boolean): void {
		this.subscriptionEndsAtFinalized = on;
	}

	setReportSubmissionMode(on: boolean): void {
		this.reportSubmissionMode = on;
	}

	setJobListing(mode: JobListingMode): void {
		this.jobListing = mode;
	}

	/** What `GET /status` lists, or `error` for a 500 answer. */
	setSupportedProofs(list: readonly string[] | 'error'): void {
		this.supportedProofs = list;
	}

	/**
	 * Ends every open connection as the 24 h lifetime would (kurier-websocket-source.txt names the
	 * limit, no source how it is enforced): by default close 1008 "Connection lifetime exceeded";
	 * `errorFrame` sends `{type:"error",code:"CONNECTION_LIFETIME_EXCEEDED"}` first and closes with
	 * `reason` (empty by default then).
	 */
	expireConnections(options: { code?: number; reason?: string; errorFrame?: boolean } = {}): void {
		const errorFrame = options.errorFrame === true;
		const reason = options.reason ?? (errorFrame ? '' : 'Connection lifetime exceeded');
		for (const client of this.clients) {
			if (client.socket.readyState !== client.socket.OPEN || isFrozen(client.socket)) continue;
			if (errorFrame) sendError(client.socket, 'CONNECTION_LIFETIME_EXCEEDED', 'Maximum connection lifetime of 24 hours reached');
			client.socket.close(options.code ?? 1008, reason);
		}
	}

	/** The key stops working: new connections are refused; open ones closed 1008 "Unauthorized" (`closeOpen` false: left open). */
	revokeKey(apiKey: string, closeOpen = true): void {
		(this.apiKeys as Set<string>).delete(apiKey);
		if (!closeOpen) return;
		for (const client of this.clients) if (client.apiKey === apiKey) client.socket.close(1008, 'Unauthorized');
	}

	/** What each open connection of `apiKey` is subscribed to (all jobs, and which jobs), e.g. to check unsubscribes. */
	subscriptionsOf(apiKey: string): Array<{ all: boolean; jobIds: string[] }> {
		return [...this.clients]
			.filter((client) => client.apiKey === apiKey && client.socket.readyState === client.socket.OPEN)
			.map((client) => ({ all: client.subscribedAll, jobIds: [...client.subscribedJobs].sort() }));
	}

	/** Authorised connections still OPEN (a socket whose close handshake has begun no longer counts). */
	openConnectionCount(apiKey?: string): number {
		return this.countOpenClients((client) => apiKey === undefined || client.apiKey === apiKey);
	}

	// ----- job internals --------------------------------------------------------------------------

	private requireJob(jobId: string): JobRecord {
		const record = this.jobs.get(jobId);
		if (!record) throw new Error(`KurierEmulator: unknown job ${jobId}`);
		return record;
	}

	/** The job, if it exists and belongs to `apiKey`; another key's job looks exactly like a missing one. */
	private ownedJob(apiKey: string, jobId: string): JobRecord | undefined {
		const record = this.jobs.get(jobId);
		return record?.ownerKey === apiKey ? record : undefined;
	}

	/** One status on; updatedAt moves with it (in `applyStatus`), so `updatedAfter` listings see every step. */
	private step(record: JobRecord, silent: boolean): void {
		if (isFinal(record)) return;
		record.position += 1;
		this.applyStatus(record.job, record.sequence[record.position]);
		if (!silent) this.broadcastStatus(record);
		if (isFinal(record)) this.finishJob(record);
		else if (this.subscriptionEndsAtFinalized && record.job.status === 'Finalized') this.silence(record);
	}

	private applyStatus(job: EmulatedJob, status: KurierStatus): void {
		job.status = status;
		job.statusId = KURIER_STATUS_IDS[status];
		job.updatedAt = laterIsoTimestamp(job.updatedAt);
		if (status === 'IncludedInBlock') Object.assign(job, inclusionFields());
		if (status === 'Aggregated') Object.assign(job, this.aggregationFields());
		if (status === 'Failed') job.errorDetails = { message: 'Proof verification failed on zkVerify' };
	}

	private aggregationFields(): Partial<EmulatedJob> {
		const statement = randomHash();
		const receipt = randomHash();
		return {
			aggregationId: this.nextAggregationId++,
			statement,
			aggregationDetails: {
				receipt,
				receiptBlockHash: randomHash(),
				root: receipt,
				leaf: statement,
				leafIndex: 0,
				numberOfLeaves: 1,
				merkleProof: [],
			},
		};
	}

	/** Final status reached: stop the timer and drop per-job subscriptions ("automatically cleaned up"). */
	private finishJob(record: JobRecord): void {
		this.stopAutoSteps(record.autoStepTimer);
		for (const client of this.clients) client.subscribedJobs.delete(record.job.jobId);
	}

	private broadcastStatus(record: JobRecord): void {
		const { job } = record;
		const frame = JSON.stringify({
			type: 'job-status-update',
			data: { ...this.publicJob(record), event: toEventName(job.status) },
		});
		if (record.silenced) return;
		for (const client of this.clients) {
			const interested = client.subscribedAll || client.subscribedJobs.has(job.jobId);
			if (client.apiKey === record.ownerKey && interested) sendText(client.socket, frame);
		}
	}

	// ----- REST -----------------------------------------------------------------------------------

	protected route(req: IncomingMessage): Promise<Reply> | Reply {
		const segments = apiPathSegments(req.url);
		if (!segments) return routeNotFound();
		const [name, ...params] = segments;
		switch (`${req.method} ${name}/${params.length}`) {
			case 'GET status/0':
				return this.serviceStatus();
			case 'GET version/0':
				return ok(VERSION_INFO);
			case 'POST register-vk/1':
				return this.authorized(params[0], (apiKey) =>
					withJsonBody(req, (body) => this.registerVk(apiKey, body)),
				);
			case 'POST submit-proof/1':
				return this.authorized(params[0], (apiKey) =>
					withJsonBody(req, (body) => this.submitProof(apiKey, body)),
				);
			case 'GET job-status/2':
				return this.authorized(params[0], (apiKey) => {
					this.stats.jobStatusReads += 1;
					return this.jobStatus(apiKey, params[1]);
				});
			case 'GET jobs/0':
				return this.listJobs(parseRequestUrl(req.url)?.searchParams ?? new URLSearchParams());
			default:
				return routeNotFound();
		}
	}

	/** The key of the path (`/{route}/{apiKey}/…`) or, for `GET /jobs`, of the `apiKey` query. */
	protected restRateLimitKey(req: IncomingMessage): string {
		const [name, pathKey] = apiPathSegments(req.url) ?? [];
		if (name === 'register-vk' || name === 'submit-proof' || name === 'job-status') return pathKey ?? '';
		return parseRequestUrl(req.url)?.searchParams.get('apiKey') ?? '';
	}

	/** As @fastify/rate-limit answers: `error` is "Too Many Requests" (kurier.md §3.8). */
	protected rateLimitedReply(retryAfterSeconds: number): Reply {
		const message = `Rate limit exceeded, retry in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}`;
		return { status: 429, body: fastifyError(429, 'FST_ERR_RATE_LIMIT', message) };
	}

	private authorized(
		apiKey: string,
		handler: (apiKey: string) => Reply | Promise<Reply>,
	): Reply | Promise<Reply> {
		if (this.apiKeys.has(apiKey)) return handler(apiKey);
		return {
			status: 401,
			body: fastifyError(401, 'UNAUTHORIZED', 'Unauthorized or disabled API key'),
		};
	}

	/**
	 * `GET /jobs?apiKey=…` with `status`, `createdAfter`, `createdBefore`, `updatedAfter`, `sortBy`
	 * (`createdAt` | `updatedAt`), `sortOrder` (`asc` | `desc`), `page`, `pageSize` ≤ 100 (the workshop
	 * knowledge base names the filters, not the auth or the body; this is one guess). Jobs with the
	 * same timestamp keep their creation order (reversed with `desc`): the order is total, so pages of
	 * an unchanged listing never overlap.
	 */
	private listJobs(query: URLSearchParams): Reply {
		this.stats.jobListRequests += 1;
		if (this.jobListing === 'off') return routeNotFound();
		const apiKey = query.get('apiKey') ?? '';
		if (this.jobListing === 'unauthorized' || !this.apiKeys.has(apiKey)) {
			return { status: 401, body: fastifyError(401, 'UNAUTHORIZED', 'Unauthorized or disabled API key') };
		}
		const sortBy = query.get('sortBy') ?? 'createdAt';
		if (sortBy !== 'createdAt' && sortBy !== 'updatedAt') return validationError('querystring/sortBy must be equal to one of the allowed values: createdAt, updatedAt');
		const sortOrder = query.get('sortOrder') ?? 'asc';
		if (sortOrder !== 'asc' && sortOrder !== 'desc') return validationError('querystring/sortOrder must be equal to one of the allowed values: asc, desc');
		const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
		const pageSize = Math.min(100, Math.max(1, Number(query.get('pageSize') ?? 20) || 20));
		const createdAfter = Date.parse(query.get('createdAfter') ?? '');
		const createdBefore = Date.parse(query.get('createdBefore') ?? '');
		const updatedAfter = Date.parse(query.get('updatedAfter') ?? '');
		const status = query.get('status');
		// An absent or unparsable bound is NaN, which no comparison below matches: no filter.
		const matching: Array<{ record: JobRecord; sortTime: number }> = [];
		for (const record of this.jobs.values()) {
			const { job } = record;
			if (record.ownerKey !== apiKey || (status && job.status !== status)) continue;
			const created = Date.parse(job.createdAt);
			const updated = Date.parse(job.updatedAt);
			if (created <= createdAfter || created >= createdBefore || updated <= updatedAfter) continue;
			matching.push({ record, sortTime: sortBy === 'createdAt' ? created : updated });
		}
		const direction = sortOrder === 'asc' ? 1 : -1;
		matching.sort((a, b) => direction * (a.sortTime - b.sortTime || a.record.serial - b.record.serial));
		// Snapshots only for the page: a listing over 10,000 jobs must not clone them all.
		const jobs = matching.slice((page - 1) * pageSize, page * pageSize).map(({ record }) => this.publicJob(record));
		if (this.coveredIds) for (const job of jobs) this.coveredIds.add(job.jobId);
		return ok({ jobs, page, pageSize, total: matching.length });
	}

	private serviceStatus(): Reply {
		if (this.supportedProofs === 'error') return { status: 500, body: fastifyError(500, 'INTERNAL_ERROR', 'Chain status unavailable') };
		const now = Date.now();
		return ok({
			chainStatus: {
				latestBlockNumber: FIRST_BLOCK_NUMBER + Math.floor((now - this.startedAt) / BLOCK_TIME_MS),
				latestBlockTimestamp: Math.floor(now / 1000),
			},
			supportedProofs: [...this.supportedProofs],
			averageOptimisticVerificationTimeSeconds: 1.2,
		});
	}

	private registerVk(apiKey: string, body: unknown): Reply {
		const request = validateRegisterVkBody(body);
		if (!request.ok) return validationError(request.message);
		const vkHash = hashVk(request.value.vk);
		const registered = this.registeredVksOf(apiKey);
		if (registered.has(vkHash)) {
			// Exactly the body zkVerify committed (kurier.md §3.1): no statusCode, hash in `meta`.
			return {
				status: 400,
				body: {
					error: 'Bad Request',
					code: 'REGISTER_VK_FAILED',
					message: 'Verification Key Registration Failed: Verification key is already registered',
					meta: { vkHash },
				},
			};
		}
		registered.add(vkHash);
		return ok({ vkHash });
	}

	private submitProof(apiKey: string, body: unknown): Reply {
		const request = validateSubmitProofBody(body);
		if (!request.ok) return validationError(request.message);
		const { proofType, vkRegistered, proof, vk, chainId, submissionMode } = request.value;
		this.lastSubmission = structuredClone(body);
		if (vkRegistered && !(typeof vk === 'string' && this.registeredVksOf(apiKey).has(vk))) {
			return {
				status: 400,
				body: fastifyError(
					400,
					'VK_NOT_REGISTERED',
					'vkRegistered is true but proofData.vk is not a vkHash registered with this API key',
				),
			};
		}
		// The emulator's stand-in for a proof that does not verify.
		const willFail = JSON.stringify(proof).includes('invalid');
		const job = this.createJob(apiKey, { proofType, chainId, willFail, submissionMode });
		return ok({ jobId: job.jobId, optimisticVerify: willFail ? 'failed' : 'success' });
	}

	private jobStatus(apiKey: string, jobId: string): Reply {
		if (!UUID_PATTERN.test(jobId)) {
			return { status: 400, body: fastifyError(400, 'BAD_REQUEST', 'Invalid jobId format') };
		}
		const record = this.ownedJob(apiKey, jobId);
		if (!record) return { status: 404, body: fastifyError(404, 'JOB_NOT_FOUND', 'Job not found') };
		this.coveredIds?.add(jobId);
		// Snapshot now: with a REST delay the job may move on before the reply is written.
		return ok(this.publicJob(record));
	}

	private registeredVksOf(apiKey: string): Set<string> {
		let hashes = this.registeredVks.get(apiKey);
		if (!hashes) {
			hashes = new Set();
			this.registeredVks.set(apiKey, hashes);
		}
		return hashes;
	}

	// ----- WebSocket ------------------------------------------------------------------------------

	protected internalErrorReply(error: unknown): Reply {
		const message = error instanceof Error ? error.message : 'Internal error';
		return { status: 500, body: fastifyError(500, 'INTERNAL_ERROR', message) };
	}

	protected routeUpgrade(_req: IncomingMessage, url: URL): UpgradeRoute | null {
		if (url.pathname !== WS_PATH) return null;
		const apiKey = url.searchParams.get('apiKey');
		return (socket) => this.onSocketOpen(socket, apiKey);
	}

	protected upgradeRefusalBody(status: number): object {
		return fastifyError(status, 'UPGRADE_REFUSED', 'WebSocket upgrade refused');
	}

	private onSocketOpen(socket: WebSocket, apiKey: string | null): void {
		if (apiKey === null || !this.apiKeys.has(apiKey)) {
			this.stats.connectionsRefused += 1;
			socket.close(1008, 'Unauthorized');
			return;
		}
		if (this.openConnectionCount(apiKey) >= this.maxConnectionsPerKey) {
			this.stats.connectionsRefused += 1;
			sendJson(socket, {
				type: 'error',
				code: 'CONNECTION_LIMIT',
				message: 'Too many connections for this API key',
				retryAfterSeconds: CONNECTION_LIMIT_RETRY_AFTER_SECONDS,
			});
			if (this.connectionLimitCloseCode === 1008) socket.close(1008, 'Connection limit exceeded');
			else socket.close(1013, 'Try Again Later');
			return;
		}
		const client: ClientConnection = { socket, apiKey, subscribedJobs: new Set(), subscribedAll: false };
		this.acceptClient(client);
		socket.on('ping', (data) => this.onProtocolPing(socket, data));
		socket.on('message', (data, isBinary) => this.onClientMessage(client, data, isBinary));
		sendJson(socket, { type: 'connected', connectionId: randomUUID(), message: 'Connected successfully' });
	}

	private onProtocolPing(socket: WebSocket, data: Buffer): void {
		this.stats.pingsReceived += 1;
		if (this.answerPings) socket.pong(data);
	}

	private onClientMessage(client: ClientConnection, data: RawData, isBinary: boolean): void {
		const parsed = parseClientMessage(data, isBinary);
		if (!parsed.ok) {
			sendError(client.socket, 'INVALID_MESSAGE', parsed.message);
			return;
		}
		const { type, jobId } = parsed.value;
		switch (type) {
			case 'ping':
				this.onJsonPing(client.socket);
				break;
			case 'subscribe':
				this.stats.subscribeMessages += 1;
				if (!this.rejectIfRateLimited(client.socket, jobId)) this.subscribe(client, jobId);
				break;
			case 'unsubscribe':
				if (!this.rejectIfRateLimited(client.socket, jobId)) this.unsubscribe(client, jobId);
				break;
			case 'subscribe-all':
				this.stats.subscribeMessages += 1;
				if (!this.rejectIfRateLimited(client.socket)) {
					client.subscribedAll = true;
					sendJson(client.socket, { type: 'subscribed-all' });
				}
				break;
			case 'unsubscribe-all':
				client.subscribedAll = false;
				client.subscribedJobs.clear();
				sendJson(client.socket, { type: 'unsubscribed-all' });
				this.afterNextUnsubscribeAll?.();
				this.afterNextUnsubscribeAll = null;
				break;
			default:
				sendError(client.socket, 'INVALID_MESSAGE', `Unknown message type: ${type}`);
		}
	}

	private onJsonPing(socket: WebSocket): void {
		this.stats.pingsReceived += 1;
		if (this.answerPings) sendJson(socket, { type: 'pong', timestamp: Date.now() });
	}

	/** Consumes one injected rate-limit slot, if any, and tells the client when to retry. */
	private rejectIfRateLimited(socket: WebSocket, jobId?: unknown): boolean {
		if (this.rateLimit.remaining <= 0) return false;
		this.rateLimit.remaining -= 1;
		sendJson(socket, {
			type: 'error',
			code: 'RATE_LIMITED',
			message: 'Too many subscription requests',
			retryAfterSeconds: this.rateLimit.retryAfterSeconds,
			...jobIdField(jobId),
		});
		return true;
	}

	/** Acknowledges only; the current status is not sent (unknown for the real service, clients use REST). */
	private subscribe(client: ClientConnection, jobId: unknown): void {
		if (!isUuid(jobId)) {
			sendError(client.socket, 'INVALID_JOB_ID', 'Invalid jobId format', jobId);
			return;
		}
		const record = this.ownedJob(client.apiKey, jobId);
		if (!record) {
			sendError(client.socket, 'JOB_NOT_FOUND', 'Job not found', jobId);
			return;
		}
		// A final job will never change again, so there is nothing to keep a subscription for.
		if (!isFinal(record) && !record.silenced) client.subscribedJobs.add(jobId);
		if (this.confirmSubscribes) sendJson(client.socket, { type: 'subscribed', jobId });
	}

	private unsubscribe(client: ClientConnection, jobId: unknown): void {
		if (!isUuid(jobId)) {
			sendError(client.socket, 'INVALID_JOB_ID', 'Invalid jobId format', jobId);
			return;
		}
		client.subscribedJobs.delete(jobId);
		sendJson(client.socket, { type: 'unsubscribed', jobId });
	}
}

// ----- helpers ------------------------------------------------------------------------------------


function statusSequence(chainId: number | null, willFail: boolean, submissionMode: 'attestation' | 'direct', finalizedFirst: boolean): readonly KurierStatus[] {
	if (willFail) return STATUS_SEQUENCE_FAILING;
	// Direct submissions get no aggregation (workshop knowledge base, kurier.direct.yaml).
	if (chainId === null || submissionMode === 'direct') return KURIER_STATUS_SEQUENCE_NO_CHAIN;
	return finalizedFirst ? KURIER_STATUS_SEQUENCE_WITH_CHAIN_AND_FINALIZED : KURIER_STATUS_SEQUENCE_WITH_CHAIN;
}

function isFinal(record: JobRecord): boolean {
	return record.position === record.sequence.length - 1;
}



function inclusionFields(): Partial<EmulatedJob> {
	const txHash = randomHash();
	const blockHash = randomHash();
	return {
		txHash,
		blockHash,
		txExplorerUrl: `${EXPLORER_BASE_URL}/extrinsic/${txHash}`,
		blockExplorerUrl: `${EXPLORER_BASE_URL}/block/${blockHash}`,
	};
}

/** 'IncludedInBlock' → 'included-in-block', the assumed form of `event` (only 'finalized' is documented). */
function toEventName(status: string): string {
	return status.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

function hashVk(vk: unknown): string {
	return `0x${createHash('sha256').update(JSON.stringify(vk)).digest('hex')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUuid(value: unknown): value is string {
	return typeof value === 'string' && UUID_PATTERN.test(value);
}


// ----- HTTP helpers -------------------------------------------------------------------------------

/** Decoded path segments after `/api/v1/`, or null for a path outside the API. */
function apiPathSegments(rawUrl: string | undefined): string[] | null {
	const url = parseRequestUrl(rawUrl);
	if (!url?.pathname.startsWith(API_PREFIX)) return null;
	return url.pathname.slice(API_PREFIX.length).split('/').map(decodeSegment);
}

function decodeSegment(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
}

/** Reads the body (at most MAX_BODY_BYTES kept) and hands the parsed JSON to `handler`. */
async function withJsonBody(req: IncomingMessage, handler: (body: unknown) => Reply): Promise<Reply> {
	const { text, tooLarge } = await readBody(req);
	if (tooLarge) {
		return {
			status: 413,
			body: fastifyError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large'),
		};
	}
	if (text.trim() === '') return handler(undefined);
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		return {
			status: 400,
			body: fastifyError(400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'Body is not valid JSON'),
		};
	}
	return handler(body);
}

function readBody(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			// Keep draining an oversized body so the 413 can still be delivered on this connection.
			if (size <= MAX_BODY_BYTES) chunks.push(chunk);
		});
		req.on('end', () =>
			resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge: size > MAX_BODY_BYTES }),
		);
		req.on('error', reject);
	});
}


function ok(body: unknown): Reply {
	return { status: 200, body };
}

function fastifyError(statusCode: number, code: string, message: string): object {
	return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function validationError(message: string): Reply {
	return { status: 400, body: fastifyError(400, 'VALIDATION_ERROR', message) };
}

function routeNotFound(): Reply {
	return { status: 404, body: fastifyError(404, 'ROUTE_NOT_FOUND', 'Route not found') };
}

// ----- request validation (messages in the style of Fastify's ajv errors) --------------------------

function invalid(message: string): { ok: false; message: string } {
	return { ok: false, message };
}

/** The first listed property that is absent or null, if any. */
function missingProperty(object: Record<string, unknown>, keys: string[]): string | undefined {
	return keys.find((key) => object[key] === undefined || object[key] === null);
}

/**
 * The shapes the official tutorial sends: UltraHonk `publicSignals` an array (one entry per line of
 * the public inputs file), RISC Zero / SP1 `proof` the hex string `proof.proof` of proof.json.
 */
function validateProofShape(proofType: string, proofData: Record<string, unknown>): { ok: false; message: string } | null {
	if (proofType === 'ultrahonk' && proofData.publicSignals !== undefined && !Array.isArray(proofData.publicSignals)) {
		return invalid('body/proofData/publicSignals must be array');
	}
	if ((proofType === 'risc0' || proofType === 'sp1') && typeof proofData.proof !== 'string') {
		return invalid('body/proofData/proof must be string');
	}
	return null;
}

function validateProofType(value: unknown): Validated<string> {
	if (typeof value !== 'string') return invalid('body/proofType must be string');
	if (!(SUPPORTED_PROOF_TYPES as readonly string[]).includes(value)) {
		return invalid(
			`body/proofType must be equal to one of the allowed values: ${SUPPORTED_PROOF_TYPES.join(', ')}`,
		);
	}
	return { ok: true, value };
}

function validateRegisterVkBody(body: unknown): Validated<{ vk: unknown }> {
	if (!isRecord(body)) return invalid('body must be object');
	const missing = missingProperty(body, ['proofType', 'vk']);
	if (missing) return invalid(`body must have required property '${missing}'`);
	const proofType = validateProofType(body.proofType);
	if (!proofType.ok) return proofType;
	if (body.proofOptions !== undefined && !isRecord(body.proofOptions)) {
		return invalid('body/proofOptions must be object');
	}
	return { ok: true, value: { vk: body.vk } };
}

function validateSubmitProofBody(body: unknown): Validated<SubmitProofRequest> {
	if (!isRecord(body)) return invalid('body must be object');
	const missing = missingProperty(body, ['proofType', 'vkRegistered', 'proofData']);
	if (missing) return invalid(`body must have required property '${missing}'`);
	const proofType = validateProofType(body.proofType);
	if (!proofType.ok) return proofType;
	const { vkRegistered, proofData, proofOptions, chainId, submissionMode } = body;
	if (typeof vkRegistered !== 'boolean') return invalid('body/vkRegistered must be boolean');
	if (!isRecord(proofData)) return invalid('body/proofData must be object');
	const missingProofField = missingProperty(proofData, ['proof', 'vk']);
	if (missingProofField) return invalid(`body/proofData must have required property '${missingProofField}'`);
	if (proofOptions !== undefined && !isRecord(proofOptions)) return invalid('body/proofOptions must be object');
	const chainIdOk = chainId === undefined || chainId === null || Number.isInteger(chainId);
	if (!chainIdOk) return invalid('body/chainId must be integer');
	const shape = validateProofShape(proofType.value, proofData);
	if (shape) return shape;
	if (submissionMode !== undefined && submissionMode !== 'attestation' && submissionMode !== 'direct') {
		return invalid('body/submissionMode must be equal to one of the allowed values: attestation, direct');
	}
	if (submissionMode === 'direct' && typeof chainId !== 'number') return invalid('body/chainId is required with submissionMode direct');
	return {
		ok: true,
		value: {
			proofType: proofType.value,
			vkRegistered,
			proof: proofData.proof,
			vk: proofData.vk,
			chainId: typeof chainId === 'number' ? chainId : null,
			submissionMode: submissionMode === 'direct' ? 'direct' : 'attestation',
		},
	};
}

// ----- WebSocket helpers --------------------------------------------------------------------------


function sendJson(socket: WebSocket, message: object): void {
	sendText(socket, JSON.stringify(message));
}

function sendError(socket: WebSocket, code: string, message: string, jobId?: unknown): void {
	sendJson(socket, { type: 'error', code, message, ...jobIdField(jobId) });
}

/** Echo the jobId only when it is a string, so the client can match the error to its request. */
function jobIdField(jobId: unknown): { jobId?: string } {
	return typeof jobId === 'string' ? { jobId } : {};
}

function parseClientMessage(data: RawData, isBinary: boolean): Validated<ClientMessage> {
	if (isBinary) return invalid('Binary frames are not supported; send JSON text');
	let value: unknown;
	try {
		value = JSON.parse(rawDataToText(data));
	} catch {
		return invalid('Message is not valid JSON');
	}
	if (!isRecord(value) || typeof value.type !== 'string') {
		return invalid('Message must be a JSON object with a string "type" field');
	}
	return { ok: true, value: { type: value.type, jobId: value.jobId } };
}

