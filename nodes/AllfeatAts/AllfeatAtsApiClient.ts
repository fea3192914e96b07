import { ServiceApiError, isRecord, requestJson, serviceErrorFrom } from '../shared/http';
import type { JsonResponse } from '../shared/http';
import type { Redactor } from '../shared/redact';
import { createRedactor } from '../shared/redact';
import type { AllfeatTransaction } from './protocol';
import { ALLFEAT_DEFAULT_BASE_URL, transactionNotFoundMessage, transactionSchema } from './protocol';
import { httpBaseUrl } from '../shared/credentialFields';

/** What an `allfeatAtsApi` credential resolves to. */
export interface AllfeatConnection {
	/** Service root without `/v1`, e.g. `https://ats.api.allfeat.org`. */
	baseUrl: string;
	/** Optional B2B key, sent as `Authorization: Bearer` on REST (tracking itself needs none). */
	apiKey: string | null;
	/** Base64 secret of the key's webhook (`webhook_secret_base64`), for the webhook trigger. */
	webhookSecret: string | null;
}

export interface AllfeatCredentialFields {
	baseUrl?: unknown;
	apiKey?: unknown;
	webhookSecret?: unknown;
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

export function resolveAllfeatConnection(fields: AllfeatCredentialFields): AllfeatConnection {
	const rawBaseUrl = typeof fields.baseUrl === 'string' && fields.baseUrl.trim() ? fields.baseUrl.trim() : ALLFEAT_DEFAULT_BASE_URL;
	// Users paste the API root in either form; the paths below add `/v1` themselves.
	const baseUrl = httpBaseUrl(rawBaseUrl, 'Allfeat ATS', `Use ${ALLFEAT_DEFAULT_BASE_URL} or your own, e.g. http://127.0.0.1:4020.`, /\/v1$/i);
	return { baseUrl, apiKey: secretOrNull(fields.apiKey), webhookSecret: secretOrNull(fields.webhookSecret) };
}

function secretOrNull(value: unknown): string | null {
	return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/** 401/403: the service refused the API key; no retry can change that. */
export function isRefusedKey(error: unknown): error is ServiceApiError {
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
			throw response.status === 404 ? new TransactionNotFoundError(transactionId, error.serviceCode) : error;
		}
		const parsed = transactionSchema.safeParse(response.body);
		if (parsed.success) return parsed.data;
		const issue = parsed.error.issues[0];
		const shape = isRecord(response.body) ? `fields ${Object.keys(response.body).join(', ') || 'none'}` : typeof response.body;
		throw new ServiceApiError(
			this.redact(`${what}: the service answered with an unexpected body (${shape}; ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'})`),
			response.status,
			null,
		);
	}

	/**
	 * For the credential test. Tracking needs no auth and every authenticated route is scoped to an
	 * organization id the credential does not hold (and mutates), so no endpoint can tell a right key
	 * from a wrong one. What can be checked: the base URL answers like the ATS API (a JSON 404 for an
	 * unknown transaction) and the key, sent along, is not refused.
	 */
	async checkService(): Promise<{ ok: boolean; message: string }> {
		const what = 'Checking the Allfeat ATS API';
		const response = await this.get(this.transactionUrl(PROBE_TRANSACTION_ID), what);
		if (response.status === 401 || response.status === 403) {
			return { ok: false, message: `Allfeat ATS refused the API key: ${serviceErrorFrom(response, what, this.redact).message}` };
		}
		if (response.status >= 500) return { ok: false, message: serviceErrorFrom(response, what, this.redact).message };
		if (!isRecord(response.body)) {
			return {
				ok: false,
				message: `${this.connection.baseUrl} answered HTTP ${response.status} without a JSON body. Is it the Allfeat ATS API (e.g. ${ALLFEAT_DEFAULT_BASE_URL})?`,
			};
		}
		const keyNote = this.connection.apiKey ? ' Tracking needs no API key, so the key itself can only be checked by a call that uses it.' : '';
		return { ok: true, message: `Allfeat ATS answered at ${this.connection.baseUrl}.${keyNote}` };
	}

	private async get(url: string, what: string, signal?: AbortSignal): Promise<JsonResponse> {
		const headers: Record<string, string> = this.connection.apiKey ? { authorization: `Bearer ${this.connection.apiKey}` } : {};
		return await requestJson({ method: 'GET', url, headers, timeoutMs: this.timeoutMs, signal }, this.redact).catch((error: Error) => {
			error.message = `${what}: ${error.message}`;
			throw error;
		});
	}
}
