import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { EmulatorServer } from '../shared/EmulatorServer';
import type { ListeningServer, RestRateLimit, UpgradeRoute } from '../shared/EmulatorServer';
import { laterIsoTimestamp, randomHash, rawDataToText, sendText } from '../shared/serverKit';
import type { Reply } from '../shared/serverKit';

/**
 * Local emulator of the Tachyon (rath.fi) relayer: REST (submit-tx, tx status, register-websocket)
 * and the `x-ws-token` WebSocket, for tests and demos. It follows /work/shared/api/tachyon-websocket-source.txt
 * and Part A of tachyon-and-allfeat.md; where they disagree or are silent it makes one fixed choice,
 * and the WebSocket speaks one of the three documented frame shapes, chosen per emulator:
 * - 'bare': `{message:"WebSocket connected!"}`, bare transaction objects, `{echo}` (current service doc);
 * - 'notification': `{type:"system"}`, `{type:"notification", data}`, echoes as `{type:"raw", data}` (SDK docs);
 * - 'legacy': no greeting, `{event:"transaction.status_changed", timestamp, data:<REST object>}`, `{echo}`.
 * Where the docs disagree it serves both variants, each switchable so tests can pin one:
 * - registration with `Authorization: Bearer <JWT>` (newest page) and with the API key in `api-key`
 *   or `apikey` (SDK, older page), `registerWith`;
 * - client messages echoed (newest page) or ignored (nothing older promises an echo), `echo`;
 *   protocol pings are answered either way (RFC 6455), unless `setAnswerPings(false)`.
 * POST /api/submit-tx-sync holds the request until the transaction is final or `timeoutMs` passed.
 * Transactions move NOT_PICKED_UP → PENDING → (NEEDS_TO_BE_RETRIED → PENDING)* → EXECUTED | FAILED,
 * by `advance()` or on a clock (`stepMs`), and fault-injection hooks break the service on purpose.
 */

export type TachyonStatus = 'NOT_PICKED_UP' | 'PENDING' | 'NEEDS_TO_BE_RETRIED' | 'EXECUTED' | 'FAILED';
export type TachyonFrameShape = 'bare' | 'notification' | 'legacy';

export interface TachyonAccount {
	apiKey: string;
	dashboardJwt: string;
	/** Already registered WebSocket key; absent: registration creates one. */
	wsKey?: string;
}

export interface TachyonEmulatorOptions {
	/** Default 0 = random free port; the emulator always binds 127.0.0.1. */
	port?: number;
	accounts?: TachyonAccount[];
	/** Default 'bare', the shape of the current service document. */
	frameShape?: TachyonFrameShape;
	/** > 0: every transaction advances one status every stepMs; 0 (default): only `advance()` moves them. */
	stepMs?: number;
	/** Echo client messages (default true, the newest page); false: ignore them, as a server that does not echo. */
	echo?: boolean;
	/** What POST /api/user/register-websocket accepts: 'both' (default), only the 'jwt', or only the 'apiKey'. */
	registerWith?: RegisterAuth;
	/**
	 * Per-key REST limit (undocumented; the account config only names a `rateLimit`); the key is the
	 * `api-key` header, else `apikey`, else the bearer of register-websocket. Default: none. See `setRestRateLimit`.
	 */
	restRateLimit?: RestRateLimit;
}

export type RegisterAuth = 'both' | 'jwt' | 'apiKey';

export interface SubmitOptions {
	chainId?: number;
	to?: string;
	callData?: string;
	value?: string;
	label?: string | null;
	/** Executions that fail and are retried before the last attempt. */
	willRetry?: number;
	/** The last attempt fails (FAILED) instead of executing. */
	willFail?: boolean;
	/** Explicit statuses after NOT_PICKED_UP; overrides willRetry / willFail. */
	plan?: TachyonStatus[];
}

/** The REST transaction status object (A.6). */
export interface EmulatedTransaction {
	id: string;
	userId: string;
	to: string;
	callData: string;
	value: string;
	chainId: number;
	gasPrice: string | null;
	maxFeePerGas: string | null;
	maxPriorityFeePerGas: string | null;
	gasLimit: string | null;
	label: string | null;
	status: TachyonStatus;
	executionTxHash: string | null;
	timestamp: string;
	latency: number | null;
	costUSD: number | null;
	retries: number;
	isAccountCharged: boolean;
	extraData: null;
	error: string | null;
	transactionType: string;
}

export interface TachyonEmulatorStats {
	connectionsAccepted: number;
	/** Unauthorized sockets plus upgrades refused by `setRefuseUpgrades`. */
	connectionsRefused: number;
	restRequests: number;
	/** GET /api/tx calls of a valid key that got past the rate limit, found or not. */
	transactionReads: number;
	/** REST requests answered 429 by `restRateLimit`. */
	rateLimited: number;
	registrations: number;
	registrationsByJwt: number;
	registrationsByApiKey: number;
	/** POST /api/submit-tx-sync calls. */
	syncSubmissions: number;
	/** Client messages received over the WebSocket (each echoed while pings are answered). */
	clientMessages: number;
	protocolPings: number;
}

const DEFAULT_ACCOUNT: TachyonAccount = { apiKey: 'tachyon-test-key', dashboardJwt: 'tachyon-test-jwt', wsKey: 'ws_tachyon_test_key' };
const WS_PATH = '/ws';
const SUPPORTED_CHAIN_IDS = new Set([1, 10, 56, 137, 8453, 42161, 84532, 11155111, 10100000, 88888888]);
const ESTIMATED_COST_USD = 0.84;
const GAS_PRICE_WEI = '1000000000';
const NATIVE_TOKEN_USED_WEI = '1000000000000000';
const FAILURE_REASON = 'execution reverted';
const MAX_BODY_BYTES = 1024 * 1024;

interface AccountRecord {
	userId: string;
	apiKey: string;
	dashboardJwt: string;
	wsKey: string | null;
}

interface TransactionRecord {
	tx: EmulatedTransaction;
	owner: AccountRecord;
	submittedAt: string;
	updatedAt: string;
	/** Statuses still to come. */
	remaining: TachyonStatus[];
	autoStepTimer?: NodeJS.Timeout;
}

interface ClientConnection {
	socket: WebSocket;
	account: AccountRecord;
	wsKey: string;
}

export class TachyonEmulator extends EmulatorServer<ClientConnection> {
	readonly baseUrl: string;
	readonly wsUrl: string;
	readonly frameShape: TachyonFrameShape;
	readonly stats: TachyonEmulatorStats = {
		connectionsAccepted: 0,
		connectionsRefused: 0,
		restRequests: 0,
		transactionReads: 0,
		rateLimited: 0,
		registrations: 0,
		registrationsByJwt: 0,
		registrationsByApiKey: 0,
		syncSubmissions: 0,
		clientMessages: 0,
		protocolPings: 0,
	};

	protected override readonly upgradeRefusalContentType = 'application/json';

	private readonly accounts: AccountRecord[];
	private readonly transactions = new Map<string, TransactionRecord>();
	private readonly revokedWsKeys = new Set<string>();
	private answerPings = true;
	private echo: boolean;
	private restSubmitPlan: Pick<SubmitOptions, 'willRetry' | 'willFail'> = {};
	private readonly registerWith: RegisterAuth;
	// submit-tx-sync requests waiting for their transaction to be final, by transaction id.
	private readonly syncWaiters = new Map<string, Set<() => void>>();
	/** Every accepted submit-tx body (the `tx` of a submit-tx-sync), as received: for tests to check what was sent. */
	readonly submittedBodies: Array<Record<string, unknown>> = [];

	static async start(options: TachyonEmulatorOptions = {}): Promise<TachyonEmulator> {
		return new TachyonEmulator(await EmulatorServer.listen(options.port), options);
	}

	private constructor(listening: ListeningServer, options: TachyonEmulatorOptions) {
		// autoPong off: pings must go unanswered when a test asks for it, so we pong ourselves.
		super(listening, {
			stepMs: options.stepMs,
			webSocket: { autoPong: false, maxPayload: MAX_BODY_BYTES },
			restRateLimit: options.restRateLimit,
		});
		this.baseUrl = `http://127.0.0.1:${listening.port}`;
		this.wsUrl = `ws://127.0.0.1:${listening.port}${WS_PATH}`;
		this.frameShape = options.frameShape ?? 'bare';
		this.echo = options.echo ?? true;
		this.registerWith = options.registerWith ?? 'both';
		this.accounts = (options.accounts ?? [DEFAULT_ACCOUNT]).map((account) => ({
			userId: objectId(),
			apiKey: account.apiKey,
			dashboardJwt: account.dashboardJwt,
			wsKey: account.wsKey ?? null,
		}));
	}

	// ----- transactions ---------------------------------------------------------------------------

	/** Creates a NOT_PICKED_UP transaction for the account of `apiKey` and notifies its sockets. */
	submit(apiKey: string, options: SubmitOptions = {}): EmulatedTransaction {
		const owner = this.accounts.find((account) => account.apiKey === apiKey);
		if (!owner) throw new Error('TachyonEmulator.submit: unknown API key');
		const now = new Date().toISOString();
		const record: TransactionRecord = {
			owner,
			submittedAt: now,
			updatedAt: now,
			remaining: options.plan ? [...options.plan] : statusPlan(options.willRetry ?? 0, options.willFail === true),
			tx: {
				id: objectId(),
				userId: owner.userId,
				to: options.to ?? '0x3dbE34f2C21b3B2980d4dc53f3c7E51e39663F49',
				callData: options.callData ?? '0x',
				value: options.value ?? '0',
				chainId: options.chainId ?? 8453,
				gasPrice: null,
				maxFeePerGas: null,
				maxPriorityFeePerGas: null,
				gasLimit: null,
				label: options.label ?? null,
				status: 'NOT_PICKED_UP',
				executionTxHash: null,
				timestamp: now,
				latency: null,
				costUSD: null,
				retries: 0,
				isAccountCharged: false,
				extraData: null,
				error: null,
				transactionType: 'flash',
			},
		};
		this.transactions.set(record.tx.id, record);
		this.broadcast(record);
		record.autoStepTimer = this.startAutoSteps(() => this.advance(record.tx.id));
		return structuredClone(record.tx);
	}

	/** Moves the transaction to its next planned status and notifies; a final one is left alone. */
	/** One status on. `silent`: the notification is lost on the way (REST knows, no socket hears). */
	advance(txId: string, options: { silent?: boolean } = {}): EmulatedTransaction {
		const record = this.requireTransaction(txId);
		const next = record.remaining.shift();
		if (next === undefined) {
			this.stopAutoSteps(record.autoStepTimer);
			return structuredClone(record.tx);
		}
		this.applyStatus(record, next);
		if (!options.silent) this.broadcast(record);
		if (record.remaining.length === 0) this.stopAutoSteps(record.autoStepTimer);
		return structuredClone(record.tx);
	}

	advanceToEnd(txId: string): EmulatedTransaction {
		const record = this.requireTransaction(txId);
		while (record.remaining.length > 0) this.advance(txId);
		return structuredClone(record.tx);
	}

	/** A snapshot in the REST shape. */
	getTransaction(txId: string): EmulatedTransaction | undefined {
		const record = this.transactions.get(txId);
		return record ? structuredClone(record.tx) : undefined;
	}

	/** The exact text this emulator sends for the transaction's current state (to replay it verbatim). */
	frameOf(txId: string): string {
		return JSON.stringify(this.updateFrame(this.requireTransaction(txId)));
	}

	/** The account's WebSocket key, as registration would return it (creating it if needed). */
	wsKeyOf(apiKey: string): string {
		const account = this.accounts.find((a) => a.apiKey === apiKey);
		if (!account) throw new Error('TachyonEmulator.wsKeyOf: unknown API key');
		return this.ensureWsKey(account);
	}

	// ----- fault injection ------------------------------------------------------------------------

	/** Clean close of every socket, with a code `ws` may send. */
	closeAllConnections(code: number, reason?: string): void {
		this.closeOpenSockets(code, reason);
	}

	/** false: echoes of client messages and protocol pongs both stop (a dead service). */
	setAnswerPings(answer: boolean): void {
		this.answerPings = answer;
	}

	/** Transactions submitted over REST from now on follow this plan (e.g. `{ willFail: true }`); null: the default. */
	setRestSubmitPlan(plan: Pick<SubmitOptions, 'willRetry' | 'willFail'> | null): void {
		this.restSubmitPlan = plan ?? {};
	}

	/** false: client messages are no longer echoed, protocol pings still answered (a server that does not echo). */
	setEcho(echo: boolean): void {
		this.echo = echo;
	}

	/** The key stops working: its open sockets get the unauthorized message and are closed, as new ones will be. */
	revokeWsKey(wsKey: string): void {
		this.revokedWsKeys.add(wsKey);
		for (const client of [...this.clients]) {
			if (client.wsKey === wsKey) this.refuseSocket(client.socket);
		}
	}

	/** Authorised connections still OPEN (a socket whose close handshake has begun no longer counts). */
	openConnectionCount(wsKey?: string): number {
		return this.countOpenClients((client) => wsKey === undefined || client.wsKey === wsKey);
	}

	// ----- transaction internals ------------------------------------------------------------------

	private requireTransaction(txId: string): TransactionRecord {
		const record = this.transactions.get(txId);
		if (!record) throw new Error(`TachyonEmulator: unknown transaction ${txId}`);
		return record;
	}

	/** Retries count up when a retry is scheduled (NEEDS_TO_BE_RETRIED), the research's reading of A.5. */
	private applyStatus(record: TransactionRecord, status: TachyonStatus): void {
		const { tx } = record;
		tx.status = status;
		record.updatedAt = laterIsoTimestamp(record.updatedAt);
		if (status === 'NEEDS_TO_BE_RETRIED') {
			tx.retries += 1;
			tx.error = FAILURE_REASON;
		}
		if (status === 'PENDING') tx.error = null;
		if (status === 'EXECUTED') {
			tx.executionTxHash = randomHash();
			tx.costUSD = ESTIMATED_COST_USD;
			tx.gasPrice = GAS_PRICE_WEI;
			tx.isAccountCharged = true;
		}
		if (status === 'FAILED') tx.error = FAILURE_REASON;
		if (status === 'EXECUTED' || status === 'FAILED') {
			tx.latency = Date.parse(record.updatedAt) - Date.parse(record.submittedAt);
			this.releaseSyncWaiters(tx.id);
		}
	}

	private releaseSyncWaiters(txId: string): void {
		const waiters = this.syncWaiters.get(txId);
		this.syncWaiters.delete(txId);
		for (const release of waiters ?? []) release();
	}

	private broadcast(record: TransactionRecord): void {
		const text = JSON.stringify(this.updateFrame(record));
		for (const client of this.clients) if (client.account === record.owner) sendText(client.socket, text);
	}

	private updateFrame(record: TransactionRecord): object {
		switch (this.frameShape) {
			case 'notification':
				return { type: 'notification', data: notificationPayload(record) };
			case 'legacy':
				return { event: 'transaction.status_changed', timestamp: record.updatedAt, data: structuredClone(record.tx) };
			default:
				return notificationPayload(record);
		}
	}

	// ----- REST -----------------------------------------------------------------------------------

	protected async route(req: IncomingMessage): Promise<Reply> {
		const url = new URL(req.url ?? '/', 'http://127.0.0.1');
		switch (`${req.method} ${url.pathname}`) {
			case 'POST /api/submit-tx': {
				const account = this.byApiKey(req);
				if (!account) return unauthorizedApiKey();
				return this.submitTx(account, await readJsonBody(req));
			}
			case 'POST /api/submit-tx-sync': {
				const account = this.byApiKey(req);
				if (!account) return unauthorizedApiKey();
				return await this.submitTxSync(account, await readJsonBody(req));
			}
			case 'GET /api/tx': {
				const account = this.byApiKey(req);
				if (!account) return unauthorizedApiKey();
				this.stats.transactionReads += 1;
				return this.readTx(account, url.searchParams.get('id'));
			}
			case 'POST /api/user/register-websocket':
				return this.registerWebsocket(req);
			default:
				return failure(404, 'ROUTE_NOT_FOUND', `Route ${req.method} ${url.pathname} not found`, 'NOT_FOUND');
		}
	}

	/** The credential the request presents: the `api-key` (or `apikey`) header, else register-websocket's bearer. */
	protected restRateLimitKey(req: IncomingMessage): string {
		const apiKey = req.headers['api-key'] ?? req.headers.apikey;
		if (typeof apiKey === 'string') return apiKey;
		return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
	}

	/** Emulator choice in the A.2 envelope: the A.3 catalogue as read has no rate-limit code. */
	protected rateLimitedReply(retryAfterSeconds: number): Reply {
		return failure(429, 'RATE_LIMIT_EXCEEDED', `Too many requests for this API key; retry in ${retryAfterSeconds} s`, 'RATE_LIMIT');
	}

	private byApiKey(req: IncomingMessage): AccountRecord | undefined {
		const key = req.headers['api-key'];
		return this.accounts.find((account) => account.apiKey === key);
	}

	private submitTx(account: AccountRecord, body: unknown): Reply {
		if (body === INVALID_JSON) return failure(400, 'VALIDATION_001', 'Body is not valid JSON', 'VALIDATION');
		const created = this.createFromRequest(account, body);
		if ('problem' in created) return failure(400, created.problem.code, created.problem.message, 'VALIDATION');
		return success({ txId: created.txId, estimatedCostUSD: ESTIMATED_COST_USD });
	}

	/**
	 * submit-tx-sync (relay-tx-sync page): `{tx, timeoutMs (1000–120000, default 30000), includeReceipt,
	 * includeRevertInfo}`; answers the transaction status object once it is final or the wait is over.
	 */
	private async submitTxSync(account: AccountRecord, body: unknown): Promise<Reply> {
		if (body === INVALID_JSON) return failure(400, 'VALIDATION_001', 'Body is not valid JSON', 'VALIDATION');
		if (typeof body !== 'object' || body === null || Array.isArray(body)) return failure(400, 'VALIDATION_004', 'Body must be a JSON object', 'VALIDATION');
		const { tx, timeoutMs = 30_000, includeReceipt, includeRevertInfo, ...rest } = body as Record<string, unknown>;
		if (Object.keys(rest).length > 0) return failure(400, 'VALIDATION_004', `Unknown field(s): ${Object.keys(rest).join(', ')}`, 'VALIDATION');
		if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1000 || timeoutMs > 120_000) {
			return failure(400, 'VALIDATION_001', '"timeoutMs" must be a whole number between 1000 and 120000', 'VALIDATION');
		}
		for (const [name, flag] of [['includeReceipt', includeReceipt], ['includeRevertInfo', includeRevertInfo]] as const) {
			if (flag !== undefined && typeof flag !== 'boolean') return failure(400, 'VALIDATION_001', `"${name}" must be a boolean`, 'VALIDATION');
		}
		const created = this.createFromRequest(account, tx);
		if ('problem' in created) return failure(400, created.problem.code, created.problem.message, 'VALIDATION');
		this.stats.syncSubmissions += 1;
		const record = this.requireTransaction(created.txId);
		await this.untilFinal(record, timeoutMs);
		const answer: Record<string, unknown> = { ...structuredClone(record.tx) };
		if (includeReceipt === true && record.tx.status === 'EXECUTED') {
			answer.receipt = { transactionHash: record.tx.executionTxHash, status: 'success', blockNumber: 1 + Math.floor(Date.parse(record.updatedAt) / 2000), gasUsed: '21000' };
		}
		if (includeRevertInfo === true && record.tx.status === 'FAILED') answer.revertInfo = { reason: FAILURE_REASON, data: '0x08c379a0' };
		return success(answer);
	}

	/** Resolves when the transaction is final, the wait is over, or the emulator closes. */
	private async untilFinal(record: TransactionRecord, timeoutMs: number): Promise<void> {
		if (record.tx.status === 'EXECUTED' || record.tx.status === 'FAILED') return;
		await new Promise<void>((resolve) => {
			const waiters = this.syncWaiters.get(record.tx.id) ?? new Set<() => void>();
			this.syncWaiters.set(record.tx.id, waiters);
			const release = () => {
				clearTimeout(timer);
				waiters.delete(release);
				resolve();
			};
			const timer = setTimeout(release, timeoutMs);
			waiters.add(release);
		});
	}

	/** Releases every held submit-tx-sync request, so that the HTTP server can close. */
	protected override async settleBeforeClose(): Promise<void> {
		for (const txId of [...this.syncWaiters.keys()]) this.releaseSyncWaiters(txId);
	}

	/** Checks a submit-tx body and creates its transaction; the problem when it is refused. */
	private createFromRequest(account: AccountRecord, body: unknown): { txId: string } | { problem: { code: string; message: string } } {
		const problem = submitProblem(body);
		if (problem) return { problem };
		const request = body as Record<string, unknown>;
		this.submittedBodies.push(structuredClone(request));
		const tx = this.submit(account.apiKey, {
			...this.restSubmitPlan,
			chainId: request.chainId as number,
			to: request.to as string,
			callData: request.callData as string,
			value: typeof request.value === 'string' ? request.value : '0',
			label: typeof request.label === 'string' ? request.label : null,
		});
		const record = this.requireTransaction(tx.id);
		record.tx.gasLimit = typeof request.gasLimit === 'string' ? request.gasLimit : null;
		record.tx.maxFeePerGas = typeof request.maxFeePerGas === 'string' ? request.maxFeePerGas : null;
		record.tx.maxPriorityFeePerGas = typeof request.maxPriorityFeePerGas === 'string' ? request.maxPriorityFeePerGas : null;
		record.tx.gasPrice = typeof request.gasPrice === 'string' ? request.gasPrice : null;
		if (typeof request.transactionType === 'string') record.tx.transactionType = request.transactionType;
		return { txId: tx.id };
	}

	private readTx(account: AccountRecord, txId: string | null): Reply {
		if (!txId) return failure(400, 'VALIDATION_001', 'Query parameter "id" is required', 'VALIDATION');
		const record = this.transactions.get(txId);
		// Another account's transaction looks exactly like a missing one.
		if (!record || record.owner !== account) return failure(404, 'TX_NOT_FOUND', 'Transaction not found', 'NOT_FOUND');
		return success(structuredClone(record.tx));
	}

	/**
	 * Bearer JWT (newest page) or the API key as `api-key` / `apikey` (SDK, older page), as
	 * `registerWith` allows. A JWT that is sent decides: a wrong one is refused even beside a right key.
	 */
	private registerWebsocket(req: IncomingMessage): Reply {
		const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
		const apiKeyHeader = req.headers['api-key'] ?? req.headers.apikey;
		let account: AccountRecord | undefined;
		if (bearer && this.registerWith !== 'apiKey') {
			account = this.accounts.find((a) => a.dashboardJwt === bearer[1]);
			if (!account) return failure(401, 'AUTH_004', 'Malformed or invalid JWT', 'AUTH');
			this.stats.registrationsByJwt += 1;
		} else if (typeof apiKeyHeader === 'string' && this.registerWith !== 'jwt') {
			account = this.accounts.find((a) => a.apiKey === apiKeyHeader);
			if (!account) return unauthorizedApiKey();
			this.stats.registrationsByApiKey += 1;
		} else {
			const expected = this.registerWith === 'jwt' ? 'a dashboard JWT (Authorization: Bearer)' : this.registerWith === 'apiKey' ? 'an API key (api-key header)' : 'a dashboard JWT or an API key';
			return failure(401, 'AUTH_001', `Unauthorized: registering a WebSocket needs ${expected}`, 'AUTH');
		}
		this.stats.registrations += 1;
		return success({ wsUrl: this.wsUrl, apiKey: this.ensureWsKey(account) });
	}

	/** "Creates or returns" (A.7): the first registration creates the key, later ones return it. */
	private ensureWsKey(account: AccountRecord): string {
		account.wsKey ??= `ws_${randomBytes(16).toString('hex')}`;
		return account.wsKey;
	}

	protected internalErrorReply(error: unknown): Reply {
		return failure(500, 'INTERNAL_ERROR', error instanceof Error ? error.message : 'Internal error', 'SERVER_ERROR');
	}

	// ----- WebSocket ------------------------------------------------------------------------------

	protected routeUpgrade(req: IncomingMessage, url: URL): UpgradeRoute | null {
		if (url.pathname !== WS_PATH) return null;
		const token = req.headers['x-ws-token'];
		return (socket) => this.onSocketOpen(socket, typeof token === 'string' ? token : null);
	}

	protected upgradeRefusalBody(status: number): object {
		return { success: false, error: { code: 'UPGRADE_REFUSED', message: STATUS_CODES[status] ?? 'Refused' } };
	}

	/** The upgrade always succeeds (101); a bad or missing key gets the unauthorized message, then a close. */
	private onSocketOpen(socket: WebSocket, wsKey: string | null): void {
		const account = wsKey === null || this.revokedWsKeys.has(wsKey) ? undefined : this.accounts.find((a) => a.wsKey === wsKey);
		if (!account) {
			this.refuseSocket(socket);
			return;
		}
		this.acceptClient({ socket, account, wsKey: account.wsKey as string });
		socket.on('ping', (data) => this.onProtocolPing(socket, data));
		socket.on('message', (data, isBinary) => this.onClientMessage(socket, data, isBinary));
		const greeting = this.greetingFrame();
		if (greeting) sendText(socket, JSON.stringify(greeting));
	}

	/** The close carries no code (the client sees 1005): only the message says why. */
	private refuseSocket(socket: WebSocket): void {
		this.stats.connectionsRefused += 1;
		sendText(socket, JSON.stringify(this.unauthorizedFrame()));
		socket.close();
	}

	private greetingFrame(): object | null {
		switch (this.frameShape) {
			case 'notification':
				return { type: 'system', data: { message: 'Connection established successfully' } };
			case 'legacy':
				return null;
			default:
				return { message: 'WebSocket connected!' };
		}
	}

	/** The docs only say "an unauthorized message": each shape words it differently, to keep clients honest. */
	private unauthorizedFrame(): object {
		switch (this.frameShape) {
			case 'notification':
				return { type: 'system', data: { message: 'Unauthorized: missing or invalid x-ws-token' } };
			case 'legacy':
				return { error: 'Unauthorized' };
			default:
				return { message: 'Unauthorized' };
		}
	}

	private onProtocolPing(socket: WebSocket, data: Buffer): void {
		this.stats.protocolPings += 1;
		if (this.answerPings) socket.pong(data);
	}

	/** Every client message is echoed back (service doc), whatever it says. */
	private onClientMessage(socket: WebSocket, data: RawData, isBinary: boolean): void {
		this.stats.clientMessages += 1;
		if (!this.answerPings || !this.echo) return;
		const text = isBinary ? '[binary]' : rawDataToText(data);
		sendText(socket, JSON.stringify(this.frameShape === 'notification' ? { type: 'raw', data: text } : { echo: text }));
	}
}

// ----- helpers ------------------------------------------------------------------------------------


function statusPlan(retries: number, willFail: boolean): TachyonStatus[] {
	const plan: TachyonStatus[] = ['PENDING'];
	for (let i = 0; i < retries; i++) plan.push('NEEDS_TO_BE_RETRIED', 'PENDING');
	plan.push(willFail ? 'FAILED' : 'EXECUTED');
	return plan;
}

/** The WebSocket notification (service doc's field table); `error` added for failed states (emulator choice). */
function notificationPayload(record: TransactionRecord): object {
	const { tx } = record;
	return {
		txId: tx.id,
		chainId: tx.chainId,
		status: tx.status,
		costUSD: tx.costUSD,
		totalNativeTokenUsed: tx.status === 'EXECUTED' ? NATIVE_TOKEN_USED_WEI : null,
		gasPrice: tx.gasPrice,
		txHash: tx.executionTxHash,
		submittedAt: record.submittedAt,
		updatedAt: record.updatedAt,
		retries: tx.retries,
		...(tx.error ? { error: tx.error } : {}),
	};
}

/** 24 hex digits, like Tachyon's (Mongo ObjectId-looking) ids. */
function objectId(): string {
	return randomBytes(12).toString('hex');
}


const DIGITS = /^\d+$/;

/** The documented submit-tx rules (A.4), with the A.3 error codes. */
function submitProblem(body: unknown): { code: string; message: string } | null {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) return { code: 'VALIDATION_004', message: 'Body must be a JSON object' };
	const request = body as Record<string, unknown>;
	for (const field of ['chainId', 'to', 'callData']) {
		if (request[field] === undefined || request[field] === null) return { code: 'VALIDATION_004', message: `"${field}" is required` };
	}
	if (!Number.isInteger(request.chainId) || !SUPPORTED_CHAIN_IDS.has(request.chainId as number)) {
		return { code: 'VALIDATION_003', message: `Invalid or unsupported chain ID: ${String(request.chainId)}` };
	}
	if (typeof request.to !== 'string' || request.to.length === 0) return { code: 'VALIDATION_002', message: 'Invalid address format' };
	if (typeof request.callData !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(request.callData)) return { code: 'VALIDATION_001', message: 'callData must be hex' };
	for (const field of ['value', 'gasLimit', 'maxFeePerGas', 'maxPriorityFeePerGas', 'gasPrice']) {
		if (request[field] !== undefined && !(typeof request[field] === 'string' && DIGITS.test(request[field]))) {
			return { code: 'VALIDATION_001', message: `"${field}" must be a string of digits` };
		}
	}
	if (request.isAuthenticatedTx !== undefined && typeof request.isAuthenticatedTx !== 'boolean') return { code: 'VALIDATION_001', message: '"isAuthenticatedTx" must be a boolean' };
	if (request.derivationPath !== undefined && (typeof request.derivationPath !== 'string' || request.derivationPath.length === 0)) {
		return { code: 'VALIDATION_001', message: '"derivationPath" must be a non-empty string' };
	}
	if (request.authorizationList !== undefined) {
		const problem = authorizationListProblem(request.authorizationList);
		if (problem) return { code: 'VALIDATION_004', message: problem };
	}
	const eip1559 = [request.maxFeePerGas, request.maxPriorityFeePerGas].filter((v) => v !== undefined).length;
	if (eip1559 === 1) return { code: 'VALIDATION_001', message: 'maxFeePerGas and maxPriorityFeePerGas must be sent together' };
	if (eip1559 === 2 && request.gasPrice !== undefined) return { code: 'VALIDATION_001', message: 'gasPrice cannot be combined with maxFeePerGas/maxPriorityFeePerGas' };
	return null;
}

/** EIP-7702 tuples as the feature page lists them: chainId, address, nonce, r, s, yParity. */
function authorizationListProblem(list: unknown): string | null {
	if (!Array.isArray(list) || list.length === 0) return '"authorizationList" must be a non-empty array';
	for (const [index, entry] of list.entries()) {
		const tuple = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
		const ok =
			Number.isInteger(tuple.chainId) &&
			typeof tuple.address === 'string' &&
			/^0x[0-9a-fA-F]{40}$/.test(tuple.address) &&
			Number.isInteger(tuple.nonce) &&
			typeof tuple.r === 'string' &&
			typeof tuple.s === 'string' &&
			(tuple.yParity === 0 || tuple.yParity === 1);
		if (!ok) return `"authorizationList[${index}]" must have chainId, address, nonce, r, s and yParity`;
	}
	return null;
}

const INVALID_JSON = Symbol('invalid JSON');

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req) {
		size += (chunk as Buffer).length;
		if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
	}
	const text = Buffer.concat(chunks).toString('utf8');
	if (text.trim() === '') return undefined;
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return INVALID_JSON;
	}
}

function success(data: unknown): Reply {
	return { status: 200, body: { success: true, data, timestamp: new Date().toISOString() } };
}

/** Tachyon's error envelope (A.2). */
function failure(status: number, code: string, message: string, category: string): Reply {
	return {
		status,
		body: { success: false, error: { code, message, category, details: null, traceId: `trace_${randomBytes(6).toString('hex')}` }, timestamp: new Date().toISOString() },
	};
}

function unauthorizedApiKey(): Reply {
	return failure(401, 'AUTH_002', 'Invalid API key', 'AUTH');
}



