import { ServiceApiError, isRecord, requestJson, serviceErrorFrom } from '../shared/http';
import type { JsonResponse } from '../shared/http';
import type { Redactor } from '../shared/redact';
import { READABLE_ISSUES } from '../shared/validation';
import { restBudgetFor } from '../shared/restBudget';
import type { RestBudget } from '../shared/restBudget';
import { createRedactor } from '../shared/redact';
import type { AllfeatTransaction } from './protocol';
import {
	ALLFEAT_ATS_HOST,
	ALLFEAT_DEFAULT_BASE_URL,
	ALLFEAT_ORGANIZATIONS_HOST,
	transactionNotFoundMessage,
	transactionSchema,
} from './protocol';
import { CredentialError, chosenBaseUrl, httpBaseUrl, knownRestRate } from '../shared/credentialFields';
import { AllfeatRegistrationClient } from './AllfeatRegistrationClient';

/** What an `allfeatAtsApi` credential resolves to. */
export interface AllfeatConnection {
	/** Service root without `/v1`, e.g. `https://organizations.api.allfeat.org`. */
	baseUrl: string;
	/**
	 * Optional B2B key (`Authorization: Bearer`), for routes that need one. Tracking needs none and
	 * gets none: a service that checks any bearer it is given would refuse a revoked or widget key.
	 */
	apiKey: string | null;
	/** Base64 secret of the key's webhook (`webhook_secret_base64`), for the webhook trigger. */
	webhookSecret: string | null;
	/** The organization of the key, in the registration routes' paths (`/v1/organizations/{org}/…`). */
	organizationId: string | null;
	/** The host's REST rate limit where known (credential); absent or 0: learnt (see restBudget.ts). */
	restRequestsPerSecond?: number;
}

export interface AllfeatCredentialFields {
	/** A documented host URL, `custom`, or (credentials saved before the choice existed) any URL. */
	baseUrl?: unknown;
	/** The URL used when `baseUrl` is `custom`. */
	customBaseUrl?: unknown;
	apiKey?: unknown;
	webhookSecret?: unknown;
	restRequestsPerSecond?: unknown;
	organizationId?: unknown;
}

/** The service answered 404 for the transaction: it does not know this id. */
export class TransactionNotFoundError extends ServiceApiError {
	constructor(
		readonly transactionId: string,
		serviceCode: string | null,
	) {
		super(`${transactionNotFoundMessage(transactionId)} (HTTP 404${serviceCode ? `, ${serviceCode}` : ''})`, 404, serviceCode);
		this.name = 'TransactionNotFoundError';
	}
}

const BASE_URL_HINT = `Choose ${ALLFEAT_ORGANIZATIONS_HOST} or ${ALLFEAT_ATS_HOST}, or Custom with your own URL, e.g. http://127.0.0.1:4020.`;

/**
 * The credential's host: one of the documented hosts, or `custom` + `customBaseUrl`. A credential
 * saved when `baseUrl` was a free-text field holds the URL itself there, and keeps working.
 */
export function resolveAllfeatConnection(fields: AllfeatCredentialFields): AllfeatConnection {
	const rawBaseUrl = chosenBaseUrl(fields, 'Allfeat ATS', ALLFEAT_DEFAULT_BASE_URL);
	// Users paste the API root in either form; the paths below add `/v1` themselves.
	const baseUrl = httpBaseUrl(rawBaseUrl, 'Allfeat ATS', BASE_URL_HINT, /\/v1$/i);
	return { baseUrl, apiKey: secretOrNull(fields.apiKey), webhookSecret: secretOrNull(fields.webhookSecret), organizationId: secretOrNull(fields.organizationId), restRequestsPerSecond: knownRestRate(fields.restRequestsPerSecond) };
}

function secretOrNull(value: unknown): string | null {
	return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/**
 * 401/403 on a tracking route. No key is sent there, so this is a host that wants credentials the
 * docs do not ask for (a proxy, or not an ATS host): no retry can change that.
 */
export function isRefusedAccess(error: unknown): error is ServiceApiError {
	return error instanceof ServiceApiError && (error.httpStatus === 401 || error.httpStatus === 403);
}

// A well-formed id no transaction has: the service answers 404 with its JSON error envelope.
const PROBE_TRANSACTION_ID = '00000000-0000-4000-8000-000000000000';

/** Allfeat ATS tracking over REST, and the per-transaction WebSocket URL. */
export class AllfeatAtsApiClient {
	readonly redact: Redactor;

	constructor(
		private readonly connection: AllfeatConnection,
		private readonly timeoutMs = 30_000,
	) {
		this.redact = createRedactor([connection.apiKey, connection.webhookSecret]);
	}

	/**
	 * The registration routes' client: they need the key and the organization id, so a credential
	 * without either is a CredentialError naming what to fill in.
	 */
	registration(): AllfeatRegistrationClient {
		const { apiKey, organizationId, baseUrl } = this.connection;
		const missing = [apiKey ? null : 'API Key', organizationId ? null : 'Organization ID'].filter((name): name is string => name !== null);
		if (missing.length > 0) {
			throw new CredentialError(
				`Registering works needs the credential's ${missing.join(' and ')} (tracking needs neither). Create an organization key with the works:register scope (works:update for versions) in the Allfeat dashboard, and copy the organization's id from there.`,
			);
		}
		return new AllfeatRegistrationClient(baseUrl, apiKey!, organizationId!, this.redact, this.timeoutMs);
	}

	/** The organization id of the credential (registration routes), or null. */
	get organizationId(): string | null {
		return this.connection.organizationId;
	}

	/** A path the service answered (e.g. `status_url`) as a URL on the credential's host. */
	absoluteUrl(path: string): string {
		return /^[a-z]+:\/\//i.test(path) ? path : `${this.connection.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
	}

	/** The pace of the reconciles and checks of this host (tracking has no key), shared in this process. */
	get restBudget(): RestBudget {
		return restBudgetFor('allfeat-ats', this.connection.baseUrl, this.connection.restRequestsPerSecond);
	}

	/** `ws(s)://<host>/v1/ws/transactions/{id}`; no auth, the UUID is the capability. */
	transactionSocketUrl(transactionId: string): string {
		return `${this.connection.baseUrl.replace(/^http/i, 'ws')}/v1/ws/transactions/${encodeURIComponent(transactionId)}`;
	}

	private transactionUrl(transactionId: string): string {
		return `${this.connection.baseUrl}/v1/transactions/${encodeURIComponent(transactionId)}`;
	}

	/** The transaction with its full step history. A 404 is a TransactionNotFoundError. */
	async getTransaction(transactionId: string, signal?: AbortSignal): Promise<AllfeatTransaction> {
		const what = `Reading Allfeat ATS transaction ${transactionId}`;
		const response = await this.get(this.transactionUrl(transactionId), what, signal);
		if (response.status < 200 || response.status >= 300) {
			const error = serviceErrorFrom(response, what, this.redact);
			if (response.status === 404) throw new TransactionNotFoundError(transactionId, error.serviceCode);
			if (response.status === 401 || response.status === 403) {
				throw new ServiceApiError(`${error.message}. No credentials are sent on this route (Allfeat documents it as open): check the credential's host`, error.httpStatus, error.serviceCode);
			}
			throw error;
		}
		const parsed = transactionSchema.safeParse(response.body, READABLE_ISSUES);
		if (parsed.success) return parsed.data;
		const issue = parsed.error.issues[0];
		const shape = isRecord(response.body) ? `fields ${Object.keys(response.body).join(', ') || 'none'}` : typeof response.body;
		throw new ServiceApiError(
			this.redact(`${what}: the service answered with an unexpected body (${shape}; ${issue?.path.map(String).join('.') || 'body'}: ${issue?.message ?? 'invalid'})`),
			response.status,
			null,
		);
	}

	/**
	 * For the credential test: the host serves tracking, i.e. answers an unknown transaction like the
	 * ATS API (a JSON 404), without credentials, as the nodes will call it. The key is not sent (no
	 * tracking route takes it) and no read-only route can check it: every authenticated route is
	 * scoped to an organization id the credential does not hold, and mutates.
	 */
	async checkService(): Promise<{ ok: boolean; message: string }> {
		const what = 'Checking the Allfeat ATS API';
		const response = await this.get(this.transactionUrl(PROBE_TRANSACTION_ID), what);
		if (response.status === 401 || response.status === 403) {
			return {
				ok: false,
				message: `${this.connection.baseUrl} asks for credentials on the tracking route, which Allfeat documents as open: is it an Allfeat ATS host? ${serviceErrorFrom(response, what, this.redact).message}`,
			};
		}
		if (response.status >= 500) return { ok: false, message: serviceErrorFrom(response, what, this.redact).message };
		if (!isRecord(response.body)) {
			return {
				ok: false,
				message: `${this.connection.baseUrl} answered HTTP ${response.status} without a JSON body. Is it the Allfeat ATS API (e.g. ${ALLFEAT_DEFAULT_BASE_URL})?`,
			};
		}
		return { ok: true, message: `Allfeat ATS answered at ${this.connection.baseUrl} (tracking, no credentials needed).` };
	}

	/** Tracking routes only: no Authorization header, whatever the credential holds (the UUID is the capability). */
	private async get(url: string, what: string, signal?: AbortSignal): Promise<JsonResponse> {
		return await requestJson({ method: 'GET', url, headers: {}, timeoutMs: this.timeoutMs, signal }, this.redact).catch((error: Error) => {
			error.message = `${what}: ${error.message}`;
			throw error;
		});
	}
}
