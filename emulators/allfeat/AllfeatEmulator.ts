import type { IncomingMessage } from 'node:http';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { EmulatorServer } from '../shared/EmulatorServer';
import type { ListeningServer, RestRateLimit, UpgradeRoute } from '../shared/EmulatorServer';
import { isFrozen, laterIsoTimestamp, randomHash, sendText } from '../shared/serverKit';
import type { Reply } from '../shared/serverKit';
import { AllfeatRegistration } from './AllfeatRegistration';
import type { RegistrationOptions } from './AllfeatRegistration';

/**
 * Local emulator of the Allfeat ATS tracking API (REST `GET /v1/transactions/{id}`, the read-only
 * WebSocket `/v1/ws/transactions/{id}`) and of its signed webhook sender, for tests. It follows
 * /work/shared/api/allfeat-ats-tracking-source.txt and Part B of tachyon-and-allfeat.md; where the
 * real service is undocumented it makes one fixed choice (marked "Emulator choice"). Transactions
 * move one step per `advance()`, or on a clock when `stepMs > 0`; fault-injection hooks break the
 * service on purpose. The organization registration API (init → upload → prepare → confirm, whose
 * confirm creates transactions here) is `registration` (AllfeatRegistration.ts).
 */

/** The documented steps (tracking.mdx). */
export const ALLFEAT_STEP_SEQUENCE = ['validating', 'preparing_transaction', 'signing', 'submitting', 'confirming', 'completed'] as const;
/** Documented progress values; `transferring_tokens` (widget only) gets the widget's 20 %. */
const PROGRESS: Record<string, number> = {
	validating: 5,
	transferring_tokens: 20,
	preparing_transaction: 20,
	signing: 40,
	submitting: 60,
	confirming: 80,
	completed: 100,
	failed: 100,
};
const DESCRIPTIONS: Record<string, string> = {
	validating: 'Validating input',
	transferring_tokens: 'Transferring tokens',
	preparing_transaction: 'Building the meta-transaction',
	signing: 'Signing with the organization wallet',
	submitting: 'Submitting to blockchain',
	confirming: 'Waiting for block confirmation',
	completed: 'Registered on chain',
	failed: 'Transaction failed',
};

export type UnknownIdOnWebSocket = 'error-frame' | 'not-found-frame' | 'http-404';

export interface AllfeatEmulatorOptions {
	/** Default 0 = random free port; the emulator always binds 127.0.0.1. */
	port?: number;
	/** > 0: every transaction advances one step every stepMs; 0 (default): only `advance()` moves them. */
	stepMs?: number;
	/** Keys accepted in `Authorization: Bearer` (see `bearerOnTracking`). Tracking itself needs none. */
	apiKeys?: string[];
	/**
	 * What the tracking routes (REST and the WebSocket upgrade) do with a bearer they are given
	 * (undocumented: the docs only say they need none). `checked` (default): a service that checks
	 * any bearer it gets; one not in `apiKeys`, or revoked, is refused with 401 (`api_key.not_found`,
	 * `api_key.revoked`), while no header at all is fine. `ignored`: the header is not looked at.
	 */
	bearerOnTracking?: 'checked' | 'ignored';
	/** How the socket answers an unknown id (undocumented, open question 13). Default: an `error` frame, then close. */
	unknownIdOnWebSocket?: UnknownIdOnWebSocket;
	/**
	 * Deliver the signed `work_*` webhook to this URL when a transaction becomes final; `times`
	 * (default 1) delivers it that many times, one after the other, each signed afresh (webhooks.mdx:
	 * "We may deliver the same event more than once").
	 */
	webhook?: { url: string; secretBase64: string; times?: number };
	/** Terminal `update` frames carry the widget's `details` (default) or only the documented fields (false). */
	terminalFrameDetails?: boolean;
	/** The organization registration API (init / upload / prepare / confirm): organization, scopes, credits, quota. */
	registration?: RegistrationOptions;
	/**
	 * Per-key REST limit (rate-limits.mdx gives no numbers here), tracking and registration alike; the
	 * key is the `Authorization: Bearer` one. Tracking needs no key: requests without one share a single
	 * bucket, as loopback clients limited by address would. Default: none. See `setRestRateLimit`.
	 */
	restRateLimit?: RestRateLimit;
}

export interface CreateTransactionOptions {
	transactionType?: 'register' | 'add_version';
	/** The widget's extra step, right after `validating`. */
	withTokenTransfer?: boolean;
	/** The transaction goes to `failed` instead of this step. */
	failAt?: string;
	externalUserRef?: string;
	/** Named in the webhook payload (default testnet). */
	network?: string;
}

export interface EmulatedStep {
	step: string;
	progress: number;
	description: string;
	timestamp: string;
}

/** The REST resource (tracking.mdx), plus the terminal `result` of the widget's type. */
export interface EmulatedTransaction {
	id: string;
	transaction_type: string;
	current_step: string;
	progress: number;
	description: string;
	is_complete: boolean;
	result: Record<string, unknown> | null;
	steps: EmulatedStep[];
	created_at: string;
	updated_at: string;
}

export interface WebhookDelivery {
	status: number;
	body: string;
}

export interface SignOptions {
	/** Unix seconds; default now. */
	timestamp?: number;
	/** Replaces the whole `X-Allfeat-Signature` header (null: no header). */
	signatureHeader?: string | null;
	contentType?: string;
}

export interface AllfeatEmulatorStats {
	connectionsAccepted: number;
	connectionsRefused: number;
	restRequests: number;
	webhooksDelivered: number;
	/** Tracking requests (REST and WebSocket upgrades) that carried an `Authorization` header. */
	trackingRequestsWithAuthorization: number;
	/** GET /v1/transactions/{id} that got past the bearer check, injected failures and the rate limit, found or not. */
	transactionReads: number;
	/** REST requests answered 429 by `restRateLimit`. */
	rateLimited: number;
}

interface TransactionRecord {
	transaction: EmulatedTransaction;
	sequence: string[];
	position: number;
	externalUserRef?: string;
	network: string;
	autoStepTimer?: NodeJS.Timeout;
}

/** A socket following one transaction. */
interface TransactionFollower {
	socket: WebSocket;
	transactionId: string;
}

const TRANSACTION_PATH = /^\/v1\/transactions\/([^/]+)$/;
const SOCKET_PATH = /^\/v1\/ws\/transactions\/([^/]+)$/;
const EXPLORER_BASE_URL = 'https://explorer.allfeat.org/tx';
const FIRST_BLOCK_NUMBER = 1_234_000;
const FIRST_ATS_ID = 1_000;
const API_KEY_ID = 'b6a1d2e3-5f40-4a8b-9c7d-0e1f2a3b4c5d';
const WEBHOOK_TIMEOUT_MS = 5_000;

export class AllfeatEmulator extends EmulatorServer<TransactionFollower> {
	/** The credential's base URL (without `/v1`). */
	readonly baseUrl: string;
	readonly stats: AllfeatEmulatorStats = {
		connectionsAccepted: 0,
		connectionsRefused: 0,
		restRequests: 0,
		webhooksDelivered: 0,
		trackingRequestsWithAuthorization: 0,
		transactionReads: 0,
		rateLimited: 0,
	};
	readonly webhookDeliveries: WebhookDelivery[] = [];
	/** init → upload → prepare → confirm; `confirm` creates the transactions tracked here. */
	readonly registration: AllfeatRegistration;

	private readonly apiKeys: ReadonlySet<string>;
	private readonly revokedKeys = new Set<string>();
	private readonly bearerOnTracking: 'checked' | 'ignored';
	private readonly unknownIdOnWebSocket: UnknownIdOnWebSocket;
	private readonly webhook: AllfeatEmulatorOptions['webhook'];
	private readonly terminalFrameDetails: boolean;
	private readonly transactions = new Map<string, TransactionRecord>();
	private readonly inFlightWebhooks = new Set<Promise<unknown>>();
	private nextBlockNumber = FIRST_BLOCK_NUMBER;
	private nextAtsId = FIRST_ATS_ID;
	private restFailures: { remaining: number; status: number; retryAfterSeconds?: number } = { remaining: 0, status: 503 };
	private clockOffsetMs = 0;

	static async start(options: AllfeatEmulatorOptions = {}): Promise<AllfeatEmulator> {
		return new AllfeatEmulator(await EmulatorServer.listen(options.port), options);
	}

	private constructor(listening: ListeningServer, options: AllfeatEmulatorOptions) {
		super(listening, { stepMs: options.stepMs, webSocket: { maxPayload: 64 * 1024 }, restRateLimit: options.restRateLimit });
		this.baseUrl = `http://127.0.0.1:${listening.port}`;
		this.apiKeys = new Set(options.apiKeys ?? []);
		this.bearerOnTracking = options.bearerOnTracking ?? 'checked';
		this.unknownIdOnWebSocket = options.unknownIdOnWebSocket ?? 'error-frame';
		this.webhook = options.webhook;
		this.terminalFrameDetails = options.terminalFrameDetails ?? true;
		this.registration = new AllfeatRegistration(
			{
				baseUrl: this.baseUrl,
				now: () => this.now(),
				createTransaction: ({ transactionType, externalUserRef, network }) =>
					this.createTransaction({ transactionType, externalUserRef, network, failAt: this.confirmedTransactionsFailAt ?? undefined }),
			},
			(key) => (this.revokedKeys.has(key) ? 'revoked' : this.apiKeys.has(key) ? 'ok' : 'unknown'),
			options.registration,
		);
	}

	// ----- virtual clock --------------------------------------------------------------------------

	/** The registration API's clock (upload URL, quote and idempotency lifetimes), in ms. */
	now(): number {
		return Date.now() + this.clockOffsetMs;
	}

	/** Moves the virtual clock on, so lifetimes run out without waiting. */
	advanceClock(ms: number): void {
		this.clockOffsetMs += ms;
	}

	// ----- transactions ---------------------------------------------------------------------------

	/** Non-null: the next transactions `confirm` creates end in `failed` instead of this step. */
	confirmedTransactionsFailAt: string | null = null;

	/** Sees every new transaction (e.g. one a `confirm` created), to move it on in a test. */
	onTransactionCreated: ((transaction: EmulatedTransaction) => void) | undefined;

	/** A new transaction at `validating`, as `confirm` leaves it. */
	createTransaction(options: CreateTransactionOptions = {}): EmulatedTransaction {
		const now = new Date().toISOString();
		const sequence: string[] = [...ALLFEAT_STEP_SEQUENCE];
		if (options.withTokenTransfer) sequence.splice(1, 0, 'transferring_tokens');
		if (options.failAt) {
			const failIndex = sequence.indexOf(options.failAt);
			if (failIndex < 1) throw new Error(`AllfeatEmulator: cannot fail at "${options.failAt}"; choose a step after validating`);
			sequence.splice(failIndex, sequence.length, 'failed');
		}
		const first = stepRecord(sequence[0], now);
		const record: TransactionRecord = {
			sequence,
			position: 0,
			externalUserRef: options.externalUserRef,
			network: options.network ?? 'testnet',
			transaction: {
				id: randomUUID(),
				transaction_type: options.transactionType ?? 'register',
				current_step: first.step,
				progress: first.progress,
				description: first.description,
				is_complete: false,
				result: null,
				steps: [first],
				created_at: now,
				updated_at: now,
			},
		};
		this.transactions.set(record.transaction.id, record);
		record.autoStepTimer = this.startAutoSteps(() => this.advance(record.transaction.id));
		this.onTransactionCreated?.(structuredClone(record.transaction));
		return structuredClone(record.transaction);
	}

	/** Moves one step forward and sends the `update` frame; at the final step the server closes the sockets. */
	/** One step on. `silent`: its frame is lost on the way (REST has the step, no socket hears it). */
	advance(transactionId: string, options: { silent?: boolean } = {}): EmulatedTransaction {
		const record = this.moveForward(transactionId);
		if (record && !options.silent) this.broadcastStep(record);
		return this.getTransaction(transactionId) as EmulatedTransaction;
	}

	/** Fault injection: the step happens but its frame is lost (REST history still has it). */
	advanceSilently(transactionId: string): EmulatedTransaction {
		const record = this.moveForward(transactionId);
		if (record && record.transaction.is_complete) this.closeSocketsOf(transactionId, 1000, 'Transaction complete');
		return this.getTransaction(transactionId) as EmulatedTransaction;
	}

	advanceToEnd(transactionId: string): EmulatedTransaction {
		while (!this.requireRecord(transactionId).transaction.is_complete) this.advance(transactionId);
		return this.getTransaction(transactionId) as EmulatedTransaction;
	}

	/** A snapshot: later steps do not alter the returned object. */
	getTransaction(transactionId: string): EmulatedTransaction | undefined {
		const record = this.transactions.get(transactionId);
		return record ? structuredClone(record.transaction) : undefined;
	}

	// ----- fault injection ------------------------------------------------------------------------

	/** Sends `text` to the sockets following one transaction (e.g. a frame repeated verbatim). */
	sendRawTo(transactionId: string, text: string): void {
		for (const socket of this.socketsOf(transactionId)) sendText(socket, text);
	}

	/** A proxy without WebSocket support sends no Retry-After, so this takes only the status. */
	override setRefuseUpgrades(status: number | null): void {
		super.setRefuseUpgrades(status);
	}

	/** The next `count` REST requests fail with `status` and the unified error envelope (with `Retry-After` when given). */
	failNextRestRequests(count: number, status = 503, retryAfterSeconds?: number): void {
		this.restFailures = { remaining: count, status, retryAfterSeconds };
	}

	/** Clean close of every socket, with a code `ws` may send (e.g. 1001 for a server going away). */
	closeAllConnections(code: number, reason?: string): void {
		this.closeOpenSockets(code, reason);
	}

	/** Revokes a key (key-lifecycle.mdx: immediate); with `bearerOnTracking: 'checked'` it is then refused with 401 `api_key.revoked`. */
	revokeApiKey(key: string): void {
		this.revokedKeys.add(key);
	}

	/** Sockets still OPEN, for one transaction or all. */
	openConnectionCount(transactionId?: string): number {
		return this.countOpenClients((follower) => transactionId === undefined || follower.transactionId === transactionId);
	}

	// ----- webhooks -------------------------------------------------------------------------------

	/** The `work_registered` / `work_updated` / `work_failed` payload of a final transaction (webhooks.mdx). */
	webhookPayload(transactionId: string): Record<string, unknown> {
		const record = this.requireRecord(transactionId);
		const { transaction } = record;
		if (!transaction.is_complete || !transaction.result) throw new Error(`AllfeatEmulator: transaction ${transactionId} is not final`);
		const common = {
			transaction_id: transaction.id,
			organization_id: this.registration.organizationId,
			api_key_id: API_KEY_ID,
			...(record.externalUserRef ? { external_user_ref: record.externalUserRef } : {}),
		};
		if (transaction.current_step === 'failed') {
			return { event: 'work_failed', ...common, reason: transaction.result.error, failed_at: transaction.updated_at };
		}
		const { tx_hash, block_number, block_hash, ats_id, access_code, explorer_url } = transaction.result;
		return {
			event: transaction.transaction_type === 'add_version' ? 'work_updated' : 'work_registered',
			...common,
			network: record.network,
			ats_id,
			tx_hash,
			block_number,
			block_hash,
			access_code,
			explorer_url,
			finalized_at: transaction.updated_at,
		};
	}

	/** POSTs a body signed like Allfeat does; `body` as given (a string is sent verbatim). */
	async deliverWebhook(url: string, body: object | string, secretBase64: string, options: SignOptions = {}): Promise<WebhookDelivery> {
		const rawBody = typeof body === 'string' ? body : JSON.stringify(body);
		const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
		const signature =
			options.signatureHeader === undefined ? `t=${timestamp},v1=${signAllfeatWebhook(secretBase64, timestamp, rawBody)}` : options.signatureHeader;
		const headers: Record<string, string> = {
			'content-type': options.contentType ?? 'application/json',
			'x-allfeat-timestamp': String(timestamp),
			...(signature === null ? {} : { 'x-allfeat-signature': signature }),
		};
		const response = await fetch(url, { method: 'POST', headers, body: rawBody, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
		const delivery = { status: response.status, body: await response.text() };
		this.stats.webhooksDelivered += 1;
		this.webhookDeliveries.push(delivery);
		return delivery;
	}

	/** `close()` waits for webhooks in flight, so a test sees every delivery it caused. */
	protected override async settleBeforeClose(): Promise<void> {
		await Promise.allSettled([...this.inFlightWebhooks]);
	}

	// ----- transaction internals ------------------------------------------------------------------

	private requireRecord(transactionId: string): TransactionRecord {
		const record = this.transactions.get(transactionId);
		if (!record) throw new Error(`AllfeatEmulator: unknown transaction ${transactionId}`);
		return record;
	}

	/** The record after one step forward, or undefined when it was already final. */
	private moveForward(transactionId: string): TransactionRecord | undefined {
		const record = this.requireRecord(transactionId);
		const { transaction } = record;
		if (transaction.is_complete) return undefined;
		record.position += 1;
		const step = stepRecord(record.sequence[record.position], laterIsoTimestamp(transaction.updated_at));
		transaction.steps.push(step);
		Object.assign(transaction, { current_step: step.step, progress: step.progress, description: step.description, updated_at: step.timestamp });
		if (step.step === 'completed' || step.step === 'failed') this.finish(record);
		return record;
	}

	private finish(record: TransactionRecord): void {
		this.stopAutoSteps(record.autoStepTimer);
		const { transaction } = record;
		transaction.is_complete = true;
		transaction.result = transaction.current_step === 'failed' ? { success: false, error: 'Insufficient balance' } : this.successResult();
		const webhook = this.webhook;
		if (webhook) {
			const payload = this.webhookPayload(transaction.id);
			this.trackWebhook(
				(async () => {
					for (let attempt = 0; attempt < (webhook.times ?? 1); attempt += 1) await this.deliverWebhook(webhook.url, payload, webhook.secretBase64);
				})(),
			);
		}
	}

	private successResult(): Record<string, unknown> {
		const txHash = randomHash();
		return {
			success: true,
			tx_hash: txHash,
			block_number: this.nextBlockNumber++,
			block_hash: randomHash(),
			ats_id: this.nextAtsId++,
			work_id: randomUUID(),
			explorer_url: `${EXPLORER_BASE_URL}/${txHash}`,
			access_code: `atc_${randomBytes(8).toString('hex')}`,
		};
	}

	private trackWebhook(delivery: Promise<unknown>): void {
		const tracked = delivery.catch(() => undefined).finally(() => this.inFlightWebhooks.delete(tracked));
		this.inFlightWebhooks.add(tracked);
	}

	/** One `update` frame per step; terminal frames carry the widget's `details` unless turned off. */
	private broadcastStep(record: TransactionRecord): void {
		const { transaction } = record;
		const step = transaction.steps[transaction.steps.length - 1];
		const details = transaction.is_complete && this.terminalFrameDetails ? { details: transaction.result } : {};
		const frame = JSON.stringify({ type: 'update', ...step, ...details });
		for (const socket of this.socketsOf(transaction.id)) sendText(socket, frame);
		if (transaction.is_complete) this.closeSocketsOf(transaction.id, 1000, 'Transaction complete');
	}

	private closeSocketsOf(transactionId: string, code: number, reason: string): void {
		for (const socket of this.socketsOf(transactionId)) {
			if (socket.readyState === WebSocket.OPEN && !isFrozen(socket)) socket.close(code, reason);
		}
	}

	private *socketsOf(transactionId: string): Iterable<WebSocket> {
		for (const follower of this.clients) if (follower.transactionId === transactionId) yield follower.socket;
	}

	// ----- REST -----------------------------------------------------------------------------------

	protected async route(req: IncomingMessage): Promise<Reply> {
		const url = new URL(req.url ?? '/', 'http://127.0.0.1');
		const registration = await this.registration.route(req, url);
		if (registration) return registration;
		// The request body (if any) is not needed; drain it so the connection can be reused.
		req.resume();
		const match = TRANSACTION_PATH.exec(url.pathname);
		if (req.method !== 'GET' || !match) return errorReply(404, 'common.not_found', 'Route not found');
		const refusal = this.refuseKey(req.headers.authorization);
		if (refusal) return refusal;
		if (this.restFailures.remaining > 0) {
			this.restFailures.remaining -= 1;
			const { status, retryAfterSeconds } = this.restFailures;
			const headers = retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) };
			if (status === 401 || status === 403) {
				return errorReply(status, status === 401 ? 'common.unauthorized' : 'common.forbidden', status === 401 ? 'Unauthorized' : 'Forbidden');
			}
			if (status === 429) return { ...errorReply(status, 'common.rate_limited', 'Too many requests'), headers };
			return { ...errorReply(status, 'common.service_unavailable', 'Service temporarily unavailable'), headers };
		}
		this.stats.transactionReads += 1;
		const record = this.transactions.get(decodeURIComponent(match[1]));
		if (!record) return errorReply(404, 'common.not_found', 'Transaction not found');
		return { status: 200, body: record.transaction };
	}

	/** The bearer as sent (valid or not); '' for a request without one. */
	protected restRateLimitKey(req: IncomingMessage): string {
		return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
	}

	/** The unified envelope with the code `failNextRestRequests` uses for 429 (the docs name none for rate limits). */
	protected rateLimitedReply(): Reply {
		return errorReply(429, 'common.rate_limited', 'Too many requests');
	}

	/** A tracking request's bearer, per `bearerOnTracking`; null when it may go on. */
	private refuseKey(authorization: string | undefined): Reply | null {
		if (authorization === undefined) return null;
		this.stats.trackingRequestsWithAuthorization += 1;
		if (this.bearerOnTracking === 'ignored') return null;
		const key = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
		if (key === undefined) return errorReply(401, 'api_key.invalid_format', 'Malformed Authorization header');
		if (this.revokedKeys.has(key)) return errorReply(401, 'api_key.revoked', 'API key revoked');
		return this.apiKeys.has(key) ? null : errorReply(401, 'api_key.not_found', 'Unknown API key');
	}

	/** Emulator choice: a route that throws gets the unified envelope with status 500. */
	protected internalErrorReply(error: unknown): Reply {
		return errorReply(500, 'common.internal_error', error instanceof Error ? error.message : 'Internal error');
	}

	// ----- WebSocket ------------------------------------------------------------------------------

	protected routeUpgrade(req: IncomingMessage, url: URL): UpgradeRoute | null {
		const match = SOCKET_PATH.exec(url.pathname);
		if (!match) return null;
		const refusal = this.refuseKey(req.headers.authorization);
		if (refusal) return { refuseStatus: refusal.status };
		const transactionId = decodeURIComponent(match[1]);
		const known = this.transactions.has(transactionId);
		if (!known && this.unknownIdOnWebSocket === 'http-404') return { refuseStatus: 404 };
		return (socket) => (known ? this.acceptSocket(socket, transactionId) : this.refuseUnknownId(socket, transactionId));
	}

	protected upgradeRefusalBody(status: number): object {
		const code = status === 401 ? 'api_key.not_found' : 'common.not_found';
		return { error: { code, message: 'WebSocket upgrade refused', details: {}, request_id: requestId() } };
	}

	/** Emulator choice for an unknown id: one error (or `not_found`) frame, then a normal close. */
	private refuseUnknownId(socket: WebSocket, transactionId: string): void {
		this.stats.connectionsRefused += 1;
		const frame =
			this.unknownIdOnWebSocket === 'not-found-frame'
				? { type: 'not_found', transaction_id: transactionId, message: 'Transaction not found' }
				: { type: 'error', error: { code: 'common.not_found', message: 'Transaction not found', details: {}, request_id: requestId() } };
		sendText(socket, JSON.stringify(frame));
		socket.close(1000, 'Transaction not found');
	}

	/**
	 * `connected` first. Emulator choice: the current step is not replayed (clients read the REST
	 * history), and a transaction that is already final is closed right after `connected`.
	 */
	private acceptSocket(socket: WebSocket, transactionId: string): void {
		this.acceptClient({ socket, transactionId });
		sendText(socket, JSON.stringify({ type: 'connected', transaction_id: transactionId }));
		if (this.requireRecord(transactionId).transaction.is_complete) socket.close(1000, 'Transaction complete');
	}
}

// ----- helpers ------------------------------------------------------------------------------------

/** The signature Allfeat sends: hex HMAC-SHA256 of `"<t>.<body>"` keyed with the base64-decoded secret. */
export function signAllfeatWebhook(secretBase64: string, timestamp: number | string, rawBody: string | Buffer): string {
	return createHmac('sha256', Buffer.from(secretBase64, 'base64'))
		.update(Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(rawBody)]))
		.digest('hex');
}

/** A fresh 32-byte secret, base64, as `webhook_secret_base64` is handed out. */
export function newWebhookSecret(): string {
	return randomBytes(32).toString('base64');
}


function stepRecord(step: string, timestamp: string): EmulatedStep {
	return { step, progress: PROGRESS[step] ?? 0, description: DESCRIPTIONS[step] ?? step, timestamp };
}



function requestId(): string {
	return `req_${randomBytes(6).toString('hex')}`;
}

/** The unified error envelope (reference/errors.mdx). */
function errorReply(status: number, code: string, message: string): Reply {
	return { status, body: { error: { code, message, details: {}, request_id: requestId() } } };
}



