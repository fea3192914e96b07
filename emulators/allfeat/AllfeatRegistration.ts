import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { Reply } from '../shared/serverKit';

/**
 * The organization registration API of the Allfeat ATS emulator (../shared/api/allfeat-registration.md):
 * init → presigned upload → prepare (the quote) → confirm, and the same for new versions of a work.
 * It keeps its own virtual clock (upload URLs expire after 10 min, quotes after 5 min, idempotent
 * answers after 24 h) so tests move time instead of waiting. Every documented error code can be
 * injected; where the docs say nothing the emulator makes one choice, marked "Emulator choice".
 */

export const REGISTER_SCOPE = 'works:register';
export const UPDATE_SCOPE = 'works:update';

/** The HTTP status of every code of the documented envelope (reference/errors.mdx). */
export const REGISTRATION_ERROR_STATUS: Record<string, number> = {
	'api_key.invalid_format': 401,
	'api_key.not_found': 401,
	'api_key.revoked': 401,
	'api_key.org_mismatch': 403,
	'api_key.scope_denied': 403,
	'api_key.org_inactive': 403,
	'common.forbidden': 403,
	'work.access_forbidden': 403,
	'registration.upload_session_not_found': 404,
	'registration.prepared_not_found': 404,
	'registration.audio_too_large': 413,
	'registration.title_required': 422,
	'registration.filename_required': 422,
	'registration.creators_required': 422,
	'registration.audio_empty': 422,
	'registration.dry_run_failed': 422,
	'common.validation_failed': 422,
	'common.quota_exceeded': 429,
	'api_key.limit_reached': 429,
	'common.service_unavailable': 503,
};

export type RegistrationRoute = 'init' | 'upload' | 'prepare' | 'confirm';

export interface InjectedError {
	code: string;
	details?: Record<string, unknown>;
	/** Default: the documented status of the code. */
	status?: number;
	retryAfterSeconds?: number;
	/** How many requests of the route get it (default 1). */
	times?: number;
	/**
	 * `confirm` only: the confirm is carried out (debited, transaction created) and only its answer is
	 * this error, as when a gateway times out after the service acted.
	 */
	afterConfirming?: boolean;
}

export interface RegistrationOptions {
	/** Default: a fixed UUID. */
	organizationId?: string;
	/** Scopes per key; a key not listed has both `works:register` and `works:update`. */
	keyScopes?: Record<string, string[]>;
	/** The organization's credit balance (default 1 000 000). */
	credits?: number;
	/** Testnet confirms allowed until the quota resets (default: unlimited). */
	testnetQuota?: number;
	/** Default 500 MB (networks.mdx). */
	maxAudioBytes?: number;
}

export interface EmulatedCreator {
	full_name: string;
	email: string;
	roles: Record<string, boolean>;
	ipi?: string;
	isni?: string;
}

export interface RegistrationJob {
	id: string;
	kind: 'register' | 'add_version';
	workId: string;
	network: 'testnet' | 'mainnet';
	title?: string;
	filename?: string;
	creators: EmulatedCreator[];
	externalUserRef?: string;
	/** Null: a version keeping the registered file (no upload). */
	upload: { token: string; expiresAt: number; used: boolean } | null;
	/** What the upload received: size and SHA-256 (the bytes themselves are not kept). */
	audio: { sizeBytes: number; sha256: string; contentType: string | undefined } | null;
	quote: (Record<string, unknown> & { expiresAtMs: number }) | null;
	transactionId: string | null;
}

export interface RegistrationStats {
	inits: number;
	/** init / init-upload answers served from the idempotency cache. */
	idempotentReplays: number;
	uploadsAccepted: number;
	uploadsRefused: number;
	/** Upload requests that carried an Authorization header (the URL is the credential). */
	uploadsWithAuthorization: number;
	prepares: number;
	confirmsAccepted: number;
	confirmsRefused: number;
}

export interface Debit {
	jobId: string;
	transactionId: string;
	credits: number;
	network: string;
}

/** What the emulator hands the registration API: the virtual clock, the URL and the transactions. */
export interface RegistrationHost {
	baseUrl: string;
	now(): number;
	createTransaction(options: { transactionType: 'register' | 'add_version'; externalUserRef?: string; network: string }): { id: string };
}

const DEFAULT_ORGANIZATION_ID = '4b0c8a4e-1f7a-4d61-9a55-3c2f0e9d7b11';
const UPLOAD_TTL_MS = 10 * 60_000;
const QUOTE_TTL_MS = 5 * 60_000;
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
const MAX_IDEMPOTENCY_KEY = 255;
const MAX_JSON_BODY = 1024 * 1024;
const MB = 1024 * 1024;

const ORG_PATH = /^\/v1\/organizations\/([^/]+)\/works\/(init|prepare|confirm)$/;
const VERSION_PATH = /^\/v1\/organizations\/([^/]+)\/works\/([^/]+)\/versions\/(init|init-upload|prepare|confirm)$/;
const UPLOAD_PATH = /^\/uploads\/([0-9a-f]+)$/;

export class AllfeatRegistration {
	readonly organizationId: string;
	readonly stats: RegistrationStats = {
		inits: 0,
		idempotentReplays: 0,
		uploadsAccepted: 0,
		uploadsRefused: 0,
		uploadsWithAuthorization: 0,
		prepares: 0,
		confirmsAccepted: 0,
		confirmsRefused: 0,
	};
	readonly debits: Debit[] = [];
	/** Idempotency-Key header of every init / init-upload request, in order (undefined: none sent). */
	readonly idempotencyKeysSeen: Array<string | undefined> = [];
	credits: number;

	private readonly jobs = new Map<string, RegistrationJob>();
	private readonly uploads = new Map<string, string>();
	private readonly works = new Map<string, { organizationId: string }>();
	private readonly idempotent = new Map<string, { atMs: number; reply: Reply }>();
	private readonly injected = new Map<RegistrationRoute, InjectedError[]>();
	private readonly keyScopes: Record<string, string[]>;
	private readonly maxAudioBytes: number;
	private testnetQuota: number;
	private testnetConfirms = 0;
	private organizationActive = true;
	private nextQuoteInvalid: string | null = null;

	constructor(
		private readonly host: RegistrationHost,
		private readonly isKnownKey: (key: string) => 'ok' | 'revoked' | 'unknown',
		options: RegistrationOptions = {},
	) {
		this.organizationId = options.organizationId ?? DEFAULT_ORGANIZATION_ID;
		this.keyScopes = options.keyScopes ?? {};
		this.credits = options.credits ?? 1_000_000;
		this.testnetQuota = options.testnetQuota ?? Number.POSITIVE_INFINITY;
		this.maxAudioBytes = options.maxAudioBytes ?? 500 * MB;
	}

	// ----- test controls --------------------------------------------------------------------------

	/** The next request(s) of `route` answer this error (after the key is accepted). */
	injectError(route: RegistrationRoute, error: InjectedError): void {
		const queue = this.injected.get(route) ?? [];
		queue.push({ ...error });
		this.injected.set(route, queue);
	}

	/** The next quote has `is_valid: false` with this reason. */
	invalidateNextQuote(reason: string): void {
		this.nextQuoteInvalid = reason;
	}

	setOrganizationActive(active: boolean): void {
		this.organizationActive = active;
	}

	setTestnetQuota(confirms: number): void {
		this.testnetQuota = confirms;
		this.testnetConfirms = 0;
	}

	/** A work that exists, owned by `organizationId` (default: this organization). */
	addWork(organizationId = this.organizationId): string {
		const workId = randomUUID();
		this.works.set(workId, { organizationId });
		return workId;
	}

	getJob(jobId: string): RegistrationJob | undefined {
		const job = this.jobs.get(jobId);
		return job ? structuredClone(job) : undefined;
	}

	allJobs(): RegistrationJob[] {
		return [...this.jobs.values()].map((job) => structuredClone(job));
	}

	/** When the testnet quota resets. Emulator choice: at the next UTC midnight of the virtual clock. */
	quotaResetsAt(): string {
		const now = new Date(this.host.now());
		return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
	}

	// ----- routing --------------------------------------------------------------------------------

	/** The reply for a registration route, or null when the path is not one. */
	async route(req: IncomingMessage, url: URL): Promise<Reply | null> {
		const upload = UPLOAD_PATH.exec(url.pathname);
		if (upload) return req.method === 'PUT' ? await this.upload(req, upload[1]) : drained(req, envelope(405, 'common.method_not_allowed', 'Use PUT'));
		const work = ORG_PATH.exec(url.pathname);
		const version = work ? null : VERSION_PATH.exec(url.pathname);
		if (!work && !version) return null;
		if (req.method !== 'POST') return drained(req, envelope(405, 'common.method_not_allowed', 'Use POST'));
		const organizationId = decodeURIComponent((work ?? version)![1]);
		const action = work ? work[2] : version![3];
		const scope = work ? REGISTER_SCOPE : UPDATE_SCOPE;
		const auth = this.authorize(req.headers.authorization, organizationId, scope);
		if ('reply' in auth) return drained(req, auth.reply);
		const body = await readJson(req);
		if (body === undefined) return envelope(400, 'common.bad_request', 'Body is not valid JSON');
		const route: RegistrationRoute = action.startsWith('init') ? 'init' : (action as RegistrationRoute);
		const injected = this.takeInjected(route);
		if (injected && !injected.afterConfirming) return injectedReply(injected);
		if (version) {
			const workId = decodeURIComponent(version[2]);
			const owner = this.works.get(workId);
			if (!owner) return envelope(404, 'common.not_found', 'Work not found');
			if (owner.organizationId !== organizationId) return envelope(403, 'work.access_forbidden', 'This work belongs to another organization');
			if (action === 'init' || action === 'init-upload') {
				return this.idempotently(auth.key, req.headers['idempotency-key'], () => this.initVersion(workId, body, action === 'init-upload'));
			}
			return action === 'prepare' ? this.prepare(body, workId) : this.confirm(body, injected, workId);
		}
		if (action === 'init') return this.idempotently(auth.key, req.headers['idempotency-key'], () => this.initWork(body));
		return action === 'prepare' ? this.prepare(body) : this.confirm(body, injected);
	}

	/** Key form, key, organization (first), organization state, scope (api/authentication.mdx, scopes.mdx). */
	private authorize(header: string | undefined, organizationId: string, scope: string): { key: string } | { reply: Reply } {
		const key = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
		if (!key || !/^afo_sk_[A-Za-z0-9_]+$/.test(key)) return { reply: envelope(401, 'api_key.invalid_format', 'The Authorization header must be "Bearer afo_sk_live_…"') };
		const known = this.isKnownKey(key);
		if (known === 'unknown') return { reply: envelope(401, 'api_key.not_found', 'API key not found') };
		if (known === 'revoked') return { reply: envelope(401, 'api_key.revoked', 'API key revoked') };
		if (organizationId !== this.organizationId) return { reply: envelope(403, 'api_key.org_mismatch', 'This API key does not belong to this organization') };
		if (!this.organizationActive) return { reply: envelope(403, 'api_key.org_inactive', 'The organization is not active') };
		const scopes = this.keyScopes[key] ?? [REGISTER_SCOPE, UPDATE_SCOPE];
		if (!scopes.includes(scope)) return { reply: envelope(403, 'api_key.scope_denied', `This API key lacks the ${scope} scope`, { required: scope }) };
		return { key };
	}

	private takeInjected(route: RegistrationRoute): InjectedError | undefined {
		const queue = this.injected.get(route);
		const next = queue?.[0];
		if (!next) return undefined;
		next.times = (next.times ?? 1) - 1;
		if (next.times <= 0) queue.shift();
		return next;
	}

	/** First answer per (key, Idempotency-Key) is kept 24 h (virtual) and repeated. Emulator choice: errors are not kept. */
	private idempotently(apiKey: string, header: string | string[] | undefined, run: () => Reply): Reply {
		const idempotencyKey = Array.isArray(header) ? header[0] : header;
		this.idempotencyKeysSeen.push(idempotencyKey);
		if (idempotencyKey === undefined) return run();
		if (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
			return envelope(422, 'common.validation_failed', 'Invalid Idempotency-Key', { fields: { 'Idempotency-Key': `1 to ${MAX_IDEMPOTENCY_KEY} characters` } });
		}
		const cacheKey = `${apiKey}\n${idempotencyKey}`;
		const cached = this.idempotent.get(cacheKey);
		if (cached && this.host.now() - cached.atMs < IDEMPOTENCY_TTL_MS) {
			this.stats.idempotentReplays += 1;
			return structuredClone(cached.reply);
		}
		const reply = run();
		if (reply.status >= 200 && reply.status < 300) this.idempotent.set(cacheKey, { atMs: this.host.now(), reply: structuredClone(reply) });
		return reply;
	}

	// ----- init -----------------------------------------------------------------------------------

	private initWork(body: Record<string, unknown>): Reply {
		const invalid =
			requiredText(body.title, 'registration.title_required', 'title is required') ??
			requiredText(body.filename, 'registration.filename_required', 'filename is required') ??
			this.validateCommon(body);
		if (invalid) return invalid;
		const workId = randomUUID();
		this.works.set(workId, { organizationId: this.organizationId });
		const job = this.newJob('register', workId, body, true);
		return { status: 200, body: this.initAnswer(job) };
	}

	private initVersion(workId: string, body: Record<string, unknown>, withUpload: boolean): Reply {
		const invalid = (withUpload ? requiredText(body.filename, 'registration.filename_required', 'filename is required') : null) ?? this.validateCommon(body);
		if (invalid) return invalid;
		const job = this.newJob('add_version', workId, body, withUpload);
		return { status: 200, body: withUpload ? this.initAnswer(job) : { job_id: job.id } };
	}

	private newJob(kind: RegistrationJob['kind'], workId: string, body: Record<string, unknown>, withUpload: boolean): RegistrationJob {
		this.stats.inits += 1;
		const job: RegistrationJob = {
			id: randomUUID(),
			kind,
			workId,
			network: body.network as RegistrationJob['network'],
			title: typeof body.title === 'string' ? body.title : undefined,
			filename: typeof body.filename === 'string' ? body.filename : undefined,
			creators: body.creators as EmulatedCreator[],
			externalUserRef: typeof body.external_user_ref === 'string' ? body.external_user_ref : undefined,
			upload: withUpload ? { token: randomBytes(24).toString('hex'), expiresAt: this.host.now() + UPLOAD_TTL_MS, used: false } : null,
			audio: null,
			quote: null,
			transactionId: null,
		};
		this.jobs.set(job.id, job);
		if (job.upload) this.uploads.set(job.upload.token, job.id);
		return job;
	}

	private initAnswer(job: RegistrationJob): Record<string, unknown> {
		const upload = job.upload!;
		// Looks presigned: the query carries the expiry and a signature; the token alone is checked.
		const query = `X-Amz-Expires=${UPLOAD_TTL_MS / 1000}&X-Amz-Signature=${randomBytes(16).toString('hex')}`;
		return { job_id: job.id, upload_url: `${this.host.baseUrl}/uploads/${upload.token}?${query}`, upload_expires_at: new Date(upload.expiresAt).toISOString() };
	}

	/** network, creators and the optional fields; 422 with `details.fields` naming each bad field. */
	private validateCommon(body: Record<string, unknown>): Reply | null {
		const fields: Record<string, string> = {};
		if (body.network !== 'testnet' && body.network !== 'mainnet') fields.network = 'must be "testnet" or "mainnet"';
		if (!Array.isArray(body.creators) || body.creators.length === 0) {
			if (Object.keys(fields).length === 0) return envelope(422, 'registration.creators_required', 'At least one creator is required');
		} else {
			body.creators.forEach((creator: unknown, index) => {
				const c = (typeof creator === 'object' && creator !== null ? creator : {}) as Record<string, unknown>;
				if (typeof c.full_name !== 'string' || c.full_name.trim() === '') fields[`creators[${index}].full_name`] = 'is required';
				if (typeof c.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.email)) fields[`creators[${index}].email`] = 'must be an email address';
				const roles = (typeof c.roles === 'object' && c.roles !== null ? c.roles : {}) as Record<string, unknown>;
				if (!['author', 'composer', 'arranger', 'adapter'].some((role) => roles[role] === true)) fields[`creators[${index}].roles`] = 'needs at least one role';
			});
		}
		if (typeof body.external_user_ref === 'string' && Buffer.byteLength(body.external_user_ref) > 255) fields.external_user_ref = 'at most 255 bytes';
		return Object.keys(fields).length > 0 ? envelope(422, 'common.validation_failed', 'Validation failed', { fields }) : null;
	}

	// ----- upload ---------------------------------------------------------------------------------

	/**
	 * The presigned PUT. Emulator choices (the docs only say "single use, about 10 minutes"): an
	 * unknown, used or expired URL is 403 (as object stores answer a bad signature); a body without
	 * Content-Length is 411; an Authorization header is 400. The bytes are hashed, not kept.
	 */
	private async upload(req: IncomingMessage, token: string): Promise<Reply> {
		if (req.headers.authorization !== undefined) this.stats.uploadsWithAuthorization += 1;
		const refuse = (reply: Reply) => {
			this.stats.uploadsRefused += 1;
			return drained(req, reply);
		};
		const jobId = this.uploads.get(token);
		const job = jobId ? this.jobs.get(jobId) : undefined;
		if (!job?.upload) return refuse(envelope(403, 'upload.invalid_url', 'Unknown upload URL'));
		if (job.upload.used) return refuse(envelope(403, 'upload.already_used', 'This upload URL was already used'));
		if (this.host.now() > job.upload.expiresAt) return refuse(envelope(403, 'upload.expired', 'This upload URL has expired'));
		if (req.headers.authorization !== undefined) return refuse(envelope(400, 'upload.authorization_not_allowed', 'The upload URL is the credential: send no Authorization header'));
		const injected = this.takeInjected('upload');
		if (injected) return refuse(injectedReply(injected));
		const declared = req.headers['content-length'];
		if (declared === undefined) return refuse(envelope(411, 'upload.length_required', 'Content-Length is required'));
		if (Number(declared) > this.maxAudioBytes) {
			return refuse(envelope(413, 'registration.audio_too_large', 'Audio file too large', { size_bytes: Number(declared), max_bytes: this.maxAudioBytes }));
		}
		const hash = createHash('sha256');
		let size = 0;
		await new Promise<void>((resolve, reject) => {
			req.on('data', (chunk: Buffer) => {
				size += chunk.length;
				hash.update(chunk);
			});
			req.on('end', resolve);
			req.on('error', reject);
		});
		if (size === 0) return refuse(envelope(422, 'registration.audio_empty', 'The audio file is empty'));
		job.upload.used = true;
		job.audio = { sizeBytes: size, sha256: hash.digest('hex'), contentType: req.headers['content-type'] };
		this.stats.uploadsAccepted += 1;
		return { status: 200, body: { ok: true } };
	}

	// ----- prepare (the quote) --------------------------------------------------------------------

	/**
	 * Emulator choice: a job whose upload never arrived, or that was already confirmed, is
	 * `registration.upload_session_not_found`; preparing again replaces the quote.
	 */
	private prepare(body: Record<string, unknown>, versionOf?: string): Reply {
		this.stats.prepares += 1;
		const job = this.jobFor(body.job_id, versionOf);
		if (!job || job.transactionId !== null || (job.upload !== null && job.audio === null)) {
			return envelope(404, 'registration.upload_session_not_found', 'No upload session for this job');
		}
		const sizeBytes = job.audio?.sizeBytes ?? 0;
		const mainnet = job.network === 'mainnet';
		// networks.mdx: testnet charges the storage fee only, and files up to 10 MB register for 0 credits.
		const storage = job.audio === null ? 0 : mainnet ? Math.max(1, Math.ceil(sizeBytes / MB)) : sizeBytes <= 10 * MB ? 0 : Math.ceil(sizeBytes / MB);
		const network = mainnet ? 2 : 0;
		const service = mainnet ? 5 : 0;
		const deposit = mainnet ? 10 : 0;
		const versionDeposit = job.kind === 'add_version' ? (mainnet ? 5 : 0) : undefined;
		const reason = this.nextQuoteInvalid;
		this.nextQuoteInvalid = null;
		const expiresAtMs = this.host.now() + QUOTE_TTL_MS;
		const quote = {
			job_id: job.id,
			work_id: job.workId,
			commitment: `0x${createHash('sha256').update(`${job.id}:${job.audio?.sha256 ?? 'kept'}`).digest('hex')}`,
			network_fee_credits: network,
			total_deposit_credits: deposit,
			service_fee_credits: service,
			storage_fee_credits: storage,
			...(versionDeposit === undefined ? {} : { version_deposit_credits: versionDeposit }),
			total_price_credits: network + deposit + service + storage + (versionDeposit ?? 0),
			is_valid: reason === null,
			...(reason === null ? {} : { reason }),
			expires_at: new Date(expiresAtMs).toISOString(),
		};
		job.quote = reason === null ? { ...quote, expiresAtMs } : null;
		return { status: 200, body: quote };
	}

	// ----- confirm --------------------------------------------------------------------------------

	private confirm(body: Record<string, unknown>, injected: InjectedError | undefined, versionOf?: string): Reply {
		const job = this.jobFor(body.job_id, versionOf);
		const refused = (reply: Reply) => {
			this.stats.confirmsRefused += 1;
			return reply;
		};
		if (!job || !job.quote || job.transactionId !== null || this.host.now() > job.quote.expiresAtMs) {
			return refused(envelope(404, 'registration.prepared_not_found', 'No prepared registration for this job (already confirmed, or the quote expired)'));
		}
		if (job.network === 'testnet' && this.testnetConfirms >= this.testnetQuota) {
			return refused(envelope(429, 'common.quota_exceeded', 'Testnet quota exceeded', { resets_at: this.quotaResetsAt() }));
		}
		const price = Number(job.quote.total_price_credits);
		if (price > this.credits) return refused(envelope(403, 'common.forbidden', 'Insufficient credits', { required: price, available: this.credits }));
		this.credits -= price;
		if (job.network === 'testnet') this.testnetConfirms += 1;
		const transaction = this.host.createTransaction({ transactionType: job.kind, externalUserRef: job.externalUserRef, network: job.network });
		job.transactionId = transaction.id;
		job.quote = null;
		this.debits.push({ jobId: job.id, transactionId: transaction.id, credits: price, network: job.network });
		this.stats.confirmsAccepted += 1;
		if (injected) return injectedReply(injected);
		return { status: 202, body: { transaction_id: transaction.id, ws_url: `/v1/ws/transactions/${transaction.id}`, status_url: `/v1/transactions/${transaction.id}` } };
	}

	private jobFor(jobId: unknown, versionOf?: string): RegistrationJob | undefined {
		const job = typeof jobId === 'string' ? this.jobs.get(jobId) : undefined;
		if (!job) return undefined;
		if (versionOf !== undefined ? job.kind !== 'add_version' || job.workId !== versionOf : job.kind !== 'register') return undefined;
		return job;
	}
}

// ----- helpers ------------------------------------------------------------------------------------

function requiredText(value: unknown, code: string, message: string): Reply | null {
	return typeof value === 'string' && value.trim() !== '' ? null : envelope(422, code, message);
}

function injectedReply(error: InjectedError): Reply {
	const status = error.status ?? REGISTRATION_ERROR_STATUS[error.code] ?? 400;
	const reply = envelope(status, error.code, `Injected ${error.code}`, error.details ?? {});
	return error.retryAfterSeconds === undefined ? reply : { ...reply, headers: { 'retry-after': String(error.retryAfterSeconds) } };
}

/** A reply sent before the body was read: the body is drained first so the connection can be reused. */
async function drained(req: IncomingMessage, reply: Reply): Promise<Reply> {
	req.resume();
	if (!req.readableEnded) await new Promise<void>((resolve) => req.once('end', resolve).once('error', () => resolve()));
	return reply;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
	const chunks: Buffer[] = [];
	let size = 0;
	await new Promise<void>((resolve, reject) => {
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size <= MAX_JSON_BODY) chunks.push(chunk);
		});
		req.on('end', resolve);
		req.on('error', reject);
	});
	try {
		const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
		return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
	} catch {
		return undefined;
	}
}

/** The unified error envelope (reference/errors.mdx). */
export function envelope(status: number, code: string, message: string, details: Record<string, unknown> = {}): Reply {
	return { status, body: { error: { code, message, details, request_id: `req_${randomBytes(6).toString('hex')}` } } };
}
