import type { ZodType } from 'zod/v4';

import { ServiceApiError, isRecord, requestJson, serviceErrorFrom } from '../shared/http';
import type { JsonResponse } from '../shared/http';
import { CredentialError, httpBaseUrl, knownRestRate } from '../shared/credentialFields';
import type { Redactor } from '../shared/redact';
import { READABLE_ISSUES } from '../shared/validation';
import { restBudgetFor } from '../shared/restBudget';
import type { RestBudget } from '../shared/restBudget';
import { createRedactor } from '../shared/redact';
import type { KurierEnvironment, KurierJobStatus, RegisterVkRequest, SubmitProofRequest, SubmitProofResponse } from './protocol';
import {
	KURIER_ENVIRONMENTS,
	jobStatusSchema,
	parseJobsPage,
	serviceStatusSchema,
	registerVkResponseSchema,
	submitProofResponseSchema,
	vkAlreadyRegisteredSchema,
} from './protocol';

/** What a `kurierApi` credential resolves to. */
export interface KurierConnection {
	restBaseUrl: string;
	apiKey: string;
	/** The key's REST rate limit where known (credential); absent or 0: learnt (see restBudget.ts). */
	restRequestsPerSecond?: number;
}

export interface KurierCredentialFields {
	environment?: unknown;
	baseUrl?: unknown;
	apiKey?: unknown;
	restRequestsPerSecond?: unknown;
}

export function resolveKurierConnection(fields: KurierCredentialFields): KurierConnection {
	const apiKey = typeof fields.apiKey === 'string' ? fields.apiKey.trim() : '';
	if (!apiKey) throw new CredentialError('The Kurier credential has no API key. Add the key from kurier.xyz to the credential.');
	const restRequestsPerSecond = knownRestRate(fields.restRequestsPerSecond);
	const environment = (typeof fields.environment === 'string' ? fields.environment : 'mainnet') as KurierEnvironment;
	if (environment === 'custom') {
		const baseUrl = typeof fields.baseUrl === 'string' ? fields.baseUrl : '';
		return { restBaseUrl: httpBaseUrl(baseUrl, 'Kurier', 'Use the REST base, for example http://127.0.0.1:4010/api/v1.'), apiKey, restRequestsPerSecond };
	}
	const restBaseUrl = KURIER_ENVIRONMENTS[environment as keyof typeof KURIER_ENVIRONMENTS];
	if (!restBaseUrl) throw new CredentialError(`Unknown Kurier environment "${environment}": choose mainnet, testnet or custom.`);
	return { restBaseUrl, apiKey, restRequestsPerSecond };
}

// A well-formed job id that no job has: a valid key answers 404 (or 400), a refused key 401.
const CREDENTIAL_PROBE_JOB_ID = '00000000-0000-4000-8000-000000000000';

/** Kurier's REST API. The API key is a path segment, so every message it builds is redacted. */
export class KurierApiClient {
	readonly redact: Redactor;

	constructor(
		private readonly connection: KurierConnection,
		private readonly timeoutMs = 30_000,
	) {
		this.redact = createRedactor([connection.apiKey]);
	}

	/** The pace of this key's reconciles and sweeps, shared by every trigger of the key in this process. */
	get restBudget(): RestBudget {
		return restBudgetFor('kurier', `${this.connection.restBaseUrl} ${this.connection.apiKey}`, this.connection.restRequestsPerSecond);
	}

	/** `<REST base as ws/wss>/ws?apiKey=…` as documented. */
	get webSocketUrl(): string {
		const base = this.connection.restBaseUrl.replace(/^http/i, 'ws');
		return `${base}/ws?apiKey=${encodeURIComponent(this.connection.apiKey)}`;
	}

	async submitProof(request: SubmitProofRequest): Promise<SubmitProofResponse> {
		const response = await this.call('POST', 'submit-proof', 'Submitting the proof', request);
		return this.expect(response, submitProofResponseSchema, 'Submitting the proof');
	}

	/** Registers a VK; a VK that is already registered is a success carrying its hash. */
	async registerVk(request: RegisterVkRequest): Promise<{ vkHash: string; alreadyRegistered: boolean }> {
		const response = await this.call('POST', 'register-vk', 'Registering the verification key', request);
		const already = vkAlreadyRegisteredSchema.safeParse(response.body);
		if (already.success) return { vkHash: already.data.meta.vkHash, alreadyRegistered: true };
		const { vkHash } = this.expect(response, registerVkResponseSchema, 'Registering the verification key');
		return { vkHash, alreadyRegistered: false };
	}

	async getJobStatus(jobId: string, signal?: AbortSignal): Promise<KurierJobStatus> {
		const response = await this.call('GET', `job-status/{key}/${encodeURIComponent(jobId)}`, `Reading the status of job ${jobId}`, undefined, signal);
		return this.expect(response, jobStatusSchema, `Reading the status of job ${jobId}`);
	}

	/** `GET /status` (no key): the proof types the service accepts now. */
	async getSupportedProofTypes(signal?: AbortSignal): Promise<string[]> {
		const response = await requestJson({ method: 'GET', url: `${this.connection.restBaseUrl}/status`, timeoutMs: this.timeoutMs, signal }, this.redact);
		return this.expect(response, serviceStatusSchema, 'Reading the service status').supportedProofs;
	}

	/**
	 * One page of `GET /jobs?apiKey=…` (only a workshop knowledge base names this listing, with the
	 * filters `createdAfter`, `status`, `page`, `pageSize`; the key travels as on the WebSocket).
	 * `unavailable` when the service does not offer it to this key (404, 401, 403, 405, 501, or an
	 * answer that is not a job list), so the caller can go on without it.
	 */
	async listJobs(
		query: { createdAfter?: string; updatedAfter?: string; status?: string; sortBy?: 'createdAt' | 'updatedAt'; sortOrder?: 'asc' | 'desc'; page: number; pageSize: number },
		signal?: AbortSignal,
	): Promise<{ jobs: KurierJobStatus[]; hasMore: boolean } | 'unavailable'> {
		const params = new URLSearchParams();
		for (const name of ['createdAfter', 'updatedAfter', 'status', 'sortBy', 'sortOrder'] as const) {
			const value = query[name];
			if (value) params.set(name, value);
		}
		params.set('page', String(query.page));
		params.set('pageSize', String(query.pageSize));
		const response = await this.call('GET', `jobs?apiKey={key}&${params.toString()}`, 'Listing the jobs', undefined, signal);
		if ([401, 403, 404, 405, 501].includes(response.status)) return 'unavailable';
		if (response.status < 200 || response.status >= 300) throw serviceErrorFrom(response, 'Listing the jobs', this.redact);
		return parseJobsPage(response.body, query.page, query.pageSize) ?? 'unavailable';
	}

	/** For the credential test: tells a refused key from an accepted one. */
	async verifyApiKey(): Promise<{ valid: boolean; message: string }> {
		const response = await this.call('GET', `job-status/{key}/${CREDENTIAL_PROBE_JOB_ID}`, 'Checking the API key');
		if (response.status === 401 || response.status === 403) {
			return { valid: false, message: serviceErrorFrom(response, 'Checking the API key', this.redact).message };
		}
		if (response.status >= 500) {
			return { valid: false, message: serviceErrorFrom(response, 'Checking the API key', this.redact).message };
		}
		return { valid: true, message: 'Kurier accepted the API key' };
	}

	/** `path` puts the key where `{key}` stands, or appends it (`/submit-proof/{apiKey}`). */
	private async call(method: 'GET' | 'POST', path: string, what: string, body?: unknown, signal?: AbortSignal): Promise<JsonResponse> {
		const key = encodeURIComponent(this.connection.apiKey);
		const withKey = path.includes('{key}') ? path.replace('{key}', key) : `${path}/${key}`;
		return await requestJson(
			{ method, url: `${this.connection.restBaseUrl}/${withKey}`, body, timeoutMs: this.timeoutMs, signal },
			this.redact,
		).catch((error: Error) => {
			error.message = `${what}: ${error.message}`;
			throw error;
		});
	}

	private expect<T>(response: JsonResponse, schema: ZodType<T>, what: string): T {
		if (response.status < 200 || response.status >= 300) throw serviceErrorFrom(response, what, this.redact);
		const parsed = schema.safeParse(response.body, READABLE_ISSUES);
		if (parsed.success) return parsed.data;
		const issue = parsed.error.issues[0];
		const shape = isRecord(response.body) ? `fields ${Object.keys(response.body).join(', ') || 'none'}` : typeof response.body;
		throw new ServiceApiError(
			this.redact(`${what}: Kurier answered with an unexpected body (${shape}; ${issue?.path.map(String).join('.') || 'body'}: ${issue?.message ?? 'invalid'})`),
			response.status,
			null,
		);
	}
}
